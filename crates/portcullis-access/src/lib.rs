//! Temporary access on top of the state store: just-in-time requests that approvers
//! decide, grants that end by themselves, and break-glass emergency grants with their
//! post-incident reviews.
//!
//! Every change is checked, then recorded in the audit log, then made in the store, so
//! a change the audit log cannot record is not made. The CLI and the HTTP API share
//! this layer; the acting user is identified by a gateway token ([`Actor`]).

mod break_glass;
mod error;
mod requests;
mod text;

use std::sync::Arc;

use portcullis_alert::Alerts;
use portcullis_audit::{AuditEvent, AuditLog};
use portcullis_core::config::{AccessConfig, BreakGlassConfig};
use portcullis_core::{Clock, TargetName, TokenRecord, User};
use portcullis_store::accounts::Accounts;
use portcullis_store::Store;

pub use break_glass::{BreakGlassGrant, BreakGlassInput, OpenReview};
pub use error::{AccessError, ErrorKind};
pub use requests::{NewRequest, RequestView};
pub use text::{checked_text, TextField, MAX_TEXT_CHARS};

/// The access flows; cheap to share behind an `Arc`.
pub struct AccessService {
    store: Arc<dyn Store>,
    accounts: Arc<Accounts>,
    audit: AuditLog,
    alerts: Alerts,
    clock: Arc<dyn Clock>,
    access: AccessConfig,
    break_glass: BreakGlassConfig,
    /// Targets defined in the configuration file; the store contains the others.
    config_targets: Vec<String>,
}

/// An authenticated user acting on requests, with the token they presented.
#[derive(Debug, Clone)]
pub struct Actor {
    /// The user.
    pub user: User,
    /// The token, whose `mfa_at` is the time of the user's last MFA check.
    pub token: TokenRecord,
}

impl AccessService {
    /// Creates the flows. `alerts` receives the escalation alerts of approvals and
    /// break-glass; short-lived callers must flush it before they exit.
    pub fn new(
        accounts: Arc<Accounts>,
        audit: AuditLog,
        alerts: Alerts,
        clock: Arc<dyn Clock>,
        access: AccessConfig,
        break_glass: BreakGlassConfig,
    ) -> AccessService {
        AccessService {
            store: Arc::clone(accounts.store()),
            accounts,
            audit,
            alerts,
            clock,
            access,
            break_glass,
            config_targets: Vec::new(),
        }
    }

    /// Sets the targets defined in the configuration file, which requests may
    /// name besides the targets in the store.
    pub fn with_config_targets(mut self, names: impl IntoIterator<Item = String>) -> AccessService {
        self.config_targets = names.into_iter().collect();
        self
    }

    /// Identifies the user presenting `token_text`.
    pub async fn actor(&self, token_text: &str) -> Result<Actor, AccessError> {
        let authenticated = self
            .accounts
            .authenticate_token(token_text)
            .await
            .map_err(AccessError::Token)?;
        Ok(Actor {
            user: authenticated.user().clone(),
            token: authenticated.token().clone(),
        })
    }

    /// Returns whether `user` is a standing member of the role named `role`. Temporary grants do
    /// not count, so a grant cannot be used to approve or review grants.
    async fn holds_role(&self, user: &User, role: &str) -> Result<bool, AccessError> {
        let memberships = self.store.list_user_roles(user.id).await?;
        Ok(memberships
            .iter()
            .any(|membership| membership.role.name.as_str() == role))
    }

    /// Rejects a target that neither the configuration file nor the store defines.
    async fn check_target(&self, target: Option<&str>) -> Result<(), AccessError> {
        let Some(target) = target else { return Ok(()) };
        if self.config_targets.iter().any(|name| name == target) {
            return Ok(());
        }
        let unknown = || AccessError::UnknownTarget { target: target.to_string() };
        let name = TargetName::new(target).map_err(|_| unknown())?;
        match self.store.get_target_by_name(&name).await? {
            Some(_) => Ok(()),
            None => Err(unknown()),
        }
    }

    async fn record(&self, event: AuditEvent) -> Result<(), AccessError> {
        self.audit.append(event).await?;
        Ok(())
    }
}
