//! SCIM 2.0 (RFC 7643, RFC 7644) under `/scim/v2`: an identity provider such as Okta or
//! Microsoft Entra ID creates, updates, deactivates and deletes users, and manages group
//! memberships that grant roles by configuration (`[scim] groups`).
//!
//! Every change is appended to the audit log before it is made. Deactivating or deleting
//! a user disables the account and revokes its tokens and grants, which ends its live
//! sessions through the gateway's revocation watcher. A deleted user stays in the store,
//! disabled, for the audit trail, and is no longer visible over SCIM.

pub(crate) mod error;
mod filter;
mod groups;
mod patch;
mod resources;
mod users;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use portcullis_alert::Alerts;
use portcullis_audit::{event_types, AuditEvent, AuditLog, Outcome};
use portcullis_core::config::Config;
use portcullis_core::{AccountKind, User, UserId, UserName};
use portcullis_store::accounts::Accounts;
use portcullis_store::{NewUser, Store};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub use error::ScimError;

/// Name of the disabled account recorded as granting the roles that group memberships
/// give, since the identity provider has no account of its own in Portcullis.
pub const SCIM_ACCOUNT: &str = "scim-provisioning";

/// Shortest SCIM bearer token accepted.
const MIN_TOKEN_LEN: usize = 32;

/// Starting the SCIM endpoints failed.
#[derive(Debug, thiserror::Error)]
pub enum ScimSetupError {
    #[error("cannot read the SCIM bearer token from {source_name}: {reason}; set it or fix scim.token_env / scim.token_file")]
    Token { source_name: String, reason: String },
    #[error("cannot set up the {SCIM_ACCOUNT} account: {0}")]
    Account(String),
}

/// State shared by the SCIM handlers.
pub struct ScimService {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) accounts: Arc<Accounts>,
    pub(crate) audit: AuditLog,
    pub(crate) alerts: Option<Alerts>,
    token_hash: [u8; 32],
    /// Role by group display name.
    pub(crate) group_roles: BTreeMap<String, String>,
    pub(crate) admin_roles: Vec<String>,
    /// The account recorded as granting group roles.
    pub(crate) actor: User,
}

impl ScimService {
    /// Reads the bearer token and finds or creates the `scim-provisioning` account.
    pub async fn start(
        config: &Config,
        accounts: Arc<Accounts>,
        audit: AuditLog,
        alerts: Option<Alerts>,
    ) -> Result<ScimService, ScimSetupError> {
        let token = read_token(config)?;
        let store = accounts.store().clone();
        let actor = provisioning_account(store.as_ref(), &audit).await?;
        for (group, role) in &config.scim.groups {
            let exists = match portcullis_core::RoleName::new(role) {
                Ok(name) => store.get_role_by_name(&name).await.ok().flatten().is_some(),
                Err(_) => false,
            };
            if !exists {
                tracing::warn!(group = %group, role = %role, "scim.groups names a role that does not exist; members of the group get no role until it is created");
            }
        }
        Ok(ScimService {
            store,
            accounts,
            audit,
            alerts,
            token_hash: Sha256::digest(token.as_bytes()).into(),
            group_roles: config.scim.groups.clone(),
            admin_roles: config.alerts.admin_roles.clone(),
            actor,
        })
    }

    /// Appends a record of a SCIM change; fails with 503 when the log cannot be written.
    pub(crate) async fn record(&self, event: AuditEvent) -> Result<(), ScimError> {
        let event = event.actor(self.actor.id.0).meta("via", "scim");
        self.audit.append(event).await.map(|_| ()).map_err(|error| {
            tracing::error!(%error, "audit append of a SCIM change failed; the change was not made");
            ScimError::audit_unavailable()
        })
    }

    fn token_matches(&self, presented: &str) -> bool {
        let hash: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        bool::from(hash.ct_eq(&self.token_hash))
    }
}

/// Builds the `/scim/v2` router; nest it with `nest_service("/scim/v2", ...)`.
pub fn router(service: Arc<ScimService>) -> Router {
    Router::new()
        .route("/Users", get(users::list).post(users::create))
        .route("/Users/{id}", get(users::show).put(users::replace).patch(users::patch).delete(users::delete))
        .route("/Groups", get(groups::list).post(groups::create))
        .route("/Groups/{id}", get(groups::show).put(groups::replace).patch(groups::patch).delete(groups::delete))
        .route("/ServiceProviderConfig", get(resources::service_provider_config))
        .route("/ResourceTypes", get(resources::resource_types))
        .route("/Schemas", get(resources::schemas))
        .layer(middleware::from_fn_with_state(service.clone(), authenticate))
        .with_state(service)
}

async fn authenticate(State(service): State<Arc<ScimService>>, request: Request, next: Next) -> Result<Response, ScimError> {
    let presented = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim);
    match presented {
        Some(token) if service.token_matches(token) => Ok(next.run(request).await),
        _ => {
            metrics::counter!("portcullis_scim_auth_failures_total").increment(1);
            tracing::warn!(path = %request.uri().path(), "SCIM request with a missing or wrong bearer token rejected");
            Err(ScimError::unauthorized())
        }
    }
}

fn read_token(config: &Config) -> Result<String, ScimSetupError> {
    let scim = &config.scim;
    let (source_name, text) = match (&scim.token_env, &scim.token_file) {
        (Some(variable), _) => (
            format!("the environment variable {variable} (scim.token_env)"),
            std::env::var(variable).map_err(|error| error.to_string()),
        ),
        (None, Some(path)) => {
            let path = config.resolve(path);
            (
                format!("{} (scim.token_file)", path.display()),
                std::fs::read_to_string(&path).map_err(|error| error.to_string()),
            )
        }
        (None, None) => ("scim.token_env".to_string(), Err("neither scim.token_env nor scim.token_file is set".to_string())),
    };
    let token = text.map_err(|reason| ScimSetupError::Token {
        source_name: source_name.clone(),
        reason,
    })?;
    let token = token.trim().to_string();
    if token.len() < MIN_TOKEN_LEN {
        return Err(ScimSetupError::Token {
            source_name,
            reason: format!("the token is shorter than {MIN_TOKEN_LEN} characters"),
        });
    }
    Ok(token)
}

/// Finds the `scim-provisioning` account, or creates it disabled and without
/// credentials, so it cannot sign in.
async fn provisioning_account(store: &dyn Store, audit: &AuditLog) -> Result<User, ScimSetupError> {
    let failed = |error: &dyn std::fmt::Display| ScimSetupError::Account(error.to_string());
    let name = UserName::new(SCIM_ACCOUNT).map_err(|error| failed(&error))?;
    if let Some(user) = store.get_user_by_name(&name).await.map_err(|error| failed(&error))? {
        return Ok(user);
    }
    let now = portcullis_core::clock::truncate_to_micros(time::OffsetDateTime::now_utc());
    let new = NewUser {
        id: UserId::new_random(),
        name,
        kind: AccountKind::Human,
        display_name: "SCIM provisioning (system account, cannot sign in)".to_string(),
        department: None,
        job_role: None,
        created_at: now,
        password_hash: None,
        password_change_required: false,
        totp_secret_sealed: None,
    };
    audit
        .append(
            AuditEvent::new(event_types::USER_CREATED, SCIM_ACCOUNT, Outcome::Success)
                .meta("user_id", new.id.to_string())
                .meta("via", "scim")
                .meta("reason", "system account that records SCIM group role grants"),
        )
        .await
        .map_err(|error| failed(&error))?;
    let user = store.create_user(&new).await.map_err(|error| failed(&error))?;
    store.set_user_disabled(user.id, true, now).await.map_err(|error| failed(&error))?;
    Ok(User { disabled: true, ..user })
}

/// Parses a path id as a UUID, or returns a 404 error for the resource.
pub(crate) fn parse_id(resource: &str, id: &str) -> Result<uuid::Uuid, ScimError> {
    uuid::Uuid::parse_str(id).map_err(|_| ScimError::not_found(resource, id))
}
