//! The PostgreSQL front end as `serve` runs it: listener settings from `[postgres]`,
//! the store-backed authority, and the audit mapping of session events.

mod authority;
mod catalog;
mod copy_plan;
mod events;
pub mod grants;
mod policy;
pub mod policy_reload;
pub mod policy_runtime;
pub mod revocation;
pub mod sample;
pub mod targets;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use portcullis_audit::AuditLog;
use portcullis_core::config::{ClientAuthMethod, Config, PlaintextPolicy as ConfigPlaintext};
use portcullis_core::MasterKey;
use portcullis_pg::{AuthMethod, Limits, ListenerConfig, PgGateway, PlaintextPolicy, SessionRegistry};
use portcullis_store::accounts::Accounts;
use portcullis_store::Store;

pub use authority::GatewayAuthority;

/// A bound PostgreSQL listener, ready to serve.
pub struct PostgresFrontEnd {
    pub gateway: PgGateway,
    pub listener: tokio::net::TcpListener,
    pub address: SocketAddr,
    pub registry: Arc<SessionRegistry>,
}

/// Everything the authority needs from `serve`.
pub struct FrontEndParts {
    pub config: Arc<Config>,
    pub store: Arc<dyn Store>,
    pub accounts: Arc<Accounts>,
    pub audit: AuditLog,
    pub master_key: MasterKey,
    pub tls: Arc<rustls::ServerConfig>,
    pub policy: Option<Arc<policy_runtime::PolicyRuntime>>,
}

/// Binds `[postgres].listen` and builds the gateway.
pub async fn bind(parts: FrontEndParts) -> Result<PostgresFrontEnd> {
    let postgres = &parts.config.postgres;
    let mut listener_config = ListenerConfig::new(parts.tls.clone());
    listener_config.plaintext = match postgres.plaintext {
        ConfigPlaintext::Reject => PlaintextPolicy::Reject,
        ConfigPlaintext::AllowLoopback => PlaintextPolicy::AllowLoopback,
    };
    listener_config.auth_method = match postgres.auth_method {
        ClientAuthMethod::Scram => AuthMethod::Scram,
        ClientAuthMethod::Password => AuthMethod::Password,
    };
    listener_config.limits = Limits {
        max_message_size: postgres.max_message_bytes as usize,
        startup_timeout: postgres.startup_timeout,
        max_connections: postgres.max_connections as usize,
        max_connections_per_user: postgres.max_connections_per_user as usize,
        upstream_connect_timeout: postgres.upstream_connect_timeout,
        idle_timeout: postgres.idle_timeout,
        ..Limits::default()
    };

    let authority = Arc::new(GatewayAuthority {
        config: parts.config.clone(),
        store: parts.store,
        accounts: parts.accounts,
        audit: parts.audit,
        master_key: parts.master_key,
        owners: Default::default(),
        policy: parts.policy,
    });
    let gateway = PgGateway::new(listener_config, authority).context("configuring the PostgreSQL listener")?;
    let listener = tokio::net::TcpListener::bind(postgres.listen)
        .await
        .with_context(|| format!("cannot listen on {} for PostgreSQL clients; choose a free address in postgres.listen", postgres.listen))?;
    let address = listener.local_addr()?;
    let registry = gateway.registry();
    Ok(PostgresFrontEnd {
        gateway,
        listener,
        address,
        registry,
    })
}

/// Looks up a target in the configuration, then in the state store, with its
/// password.
pub async fn upstream_target(
    config: &Config,
    store: Arc<dyn Store>,
    master_key: &MasterKey,
    name: &str,
) -> Result<portcullis_pg::UpstreamTarget> {
    let found = match config.targets.get(name) {
        Some(target) => authority::config_target(config, name, target),
        None => targets::resolve_store_target(store, master_key, name).await,
    };
    found.map_err(|denial| match denial {
        portcullis_pg::Denial::UnknownTarget => anyhow::anyhow!(
            "no target named {name} in the configuration or the state store; `portcullis target list` shows them"
        ),
        other => anyhow::anyhow!("target {name}: {other}"),
    })
}

/// Loads the policy engine when `[policy] dir` is set, reading every configured
/// target's tables first.
pub async fn load_policy(config: &Config, master_key: &MasterKey) -> Result<Option<Arc<policy_runtime::PolicyRuntime>>> {
    let Some(dir) = &config.policy.dir else {
        return Ok(None);
    };
    let dir = config.resolve(dir);
    let mut targets = Vec::new();
    let mut column_types = std::collections::HashMap::new();
    for (name, target) in &config.targets {
        let upstream = authority::config_target(config, name, target)
            .map_err(|denial| anyhow::anyhow!("target {name}: {denial}"))?;
        let (tables, types) = catalog::read_target_tables(&upstream).await?;
        targets.push(tables);
        column_types.insert(name.clone(), Arc::new(types));
    }
    let runtime = policy_runtime::PolicyRuntime::load(&dir, targets, master_key)?.with_column_types(column_types);
    tracing::info!(dir = %dir.display(), policy_hash = %runtime.engine.policy_hash(), "policies loaded");
    Ok(Some(Arc::new(runtime)))
}
