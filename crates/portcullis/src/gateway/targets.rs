//! Targets kept in the state store, resolved for a session with their password
//! unsealed.

use std::sync::Arc;

use portcullis_core::target::{Target, TargetTls};
use portcullis_core::{MasterKey, SystemClock, TargetName};
use portcullis_pg::{AuthorityError, Denial, UpstreamTarget, UpstreamTls};
use portcullis_store::targets::Targets;
use portcullis_store::Store;
use zeroize::Zeroizing;

/// Looks up a stored target and unseals its password.
pub async fn resolve_store_target(
    store: Arc<dyn Store>,
    master_key: &MasterKey,
    name: &str,
) -> Result<UpstreamTarget, Denial> {
    let name = TargetName::new(name).map_err(|_| Denial::UnknownTarget)?;
    let targets = Targets::new(store, Arc::new(SystemClock), master_key);
    let credentials = targets
        .credentials(&name)
        .await
        .map_err(|error| Denial::Unavailable(AuthorityError(format!("reading target {name}: {error}"))))?
        .ok_or(Denial::UnknownTarget)?;
    let password = Zeroizing::new(credentials.password.expose().to_string());
    Ok(upstream_target(&credentials.target, password))
}

fn upstream_target(target: &Target, password: Zeroizing<String>) -> UpstreamTarget {
    UpstreamTarget {
        name: target.name.to_string(),
        host: target.host.clone(),
        port: target.port,
        database: target.database.clone(),
        user: target.user.clone(),
        password,
        tls: match &target.tls {
            TargetTls::Disable => UpstreamTls::Disable,
            TargetTls::Require => UpstreamTls::Require,
            TargetTls::VerifyFull { ca_file } => UpstreamTls::VerifyFull { ca_file: ca_file.clone() },
        },
        idle_timeout: target.idle_timeout,
    }
}
