//! The gateway's [`Authority`]: the state store decides who may connect, the audit
//! log records every session event, and targets come from the configuration or the
//! store.

use std::sync::Arc;

use async_trait::async_trait;
use portcullis_audit::AuditLog;
use portcullis_core::config::{Config, TargetConfig, UpstreamTlsMode};
use portcullis_core::{MasterKey, UserName};
use portcullis_pg::{
    AllowAll, AuditUnavailable, Authority, AuthorityError, AuthorizeRequest, Denial, ScramVerifiers,
    SessionEvent, SessionGrant, SessionIdentity, TokenId, TokenVerifier, UpstreamTarget, UpstreamTls,
};
use portcullis_store::accounts::{Accounts, TokenError};
use portcullis_store::Store;
use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::events::SessionOwners;
use super::grants::SessionGrants;
use super::policy_runtime::PolicyRuntime;
use super::targets::resolve_store_target;

/// Decides sessions from the state store and records them in the audit log.
pub struct GatewayAuthority {
    pub config: Arc<Config>,
    pub store: Arc<dyn Store>,
    pub accounts: Arc<Accounts>,
    pub audit: AuditLog,
    pub master_key: MasterKey,
    pub owners: SessionOwners,
    /// Per-statement policy, when `[policy] dir` is set.
    pub policy: Option<Arc<PolicyRuntime>>,
}

#[async_trait]
impl Authority for GatewayAuthority {
    async fn scram_verifiers(&self, user: &str) -> Result<Option<ScramVerifiers>, AuthorityError> {
        let Ok(name) = UserName::new(user) else {
            return Ok(None);
        };
        let verifiers = self
            .store
            .scram_verifiers(&name, OffsetDateTime::now_utc())
            .await
            .map_err(|error| AuthorityError(format!("reading SCRAM verifiers: {error}")))?;
        Ok(verifiers.map(|user| ScramVerifiers {
            salt: user.salt.to_vec(),
            iterations: user.iterations,
            tokens: user
                .tokens
                .into_iter()
                .map(|token| TokenVerifier {
                    token_id: TokenId::new(token.token_id.to_string()),
                    stored_key: token.keys.stored_key,
                    server_key: token.keys.server_key,
                })
                .collect(),
        }))
    }

    async fn check_token(&self, user: &str, token: &str) -> Result<Option<TokenId>, AuthorityError> {
        match self.accounts.authenticate_token_for(user, token).await {
            Ok(authenticated) => Ok(Some(TokenId::new(authenticated.token().id.to_string()))),
            Err(error @ (TokenError::Store(_) | TokenError::UserMissing(_))) => Err(AuthorityError(error.to_string())),
            Err(_) => Ok(None),
        }
    }

    async fn authorize(&self, request: AuthorizeRequest) -> Result<SessionGrant, Denial> {
        let name = UserName::new(&request.user).map_err(|_| Denial::TokenInvalid)?;
        let now = OffsetDateTime::now_utc();
        let unavailable = |error: portcullis_store::StoreError| Denial::Unavailable(AuthorityError(error.to_string()));

        let user = self
            .store
            .get_user_by_name(&name)
            .await
            .map_err(unavailable)?
            .ok_or(Denial::TokenInvalid)?;
        if user.disabled {
            return Err(Denial::UserDisabled);
        }
        // The token must still be live: it may have been revoked since the handshake.
        let verifiers = self
            .store
            .scram_verifiers(&name, now)
            .await
            .map_err(unavailable)?
            .ok_or(Denial::TokenInvalid)?;
        let token = verifiers
            .tokens
            .iter()
            .find(|token| token.token_id.to_string() == request.token.as_str())
            .ok_or(Denial::TokenInvalid)?;

        let target = self.resolve_target(&request.target).await?;
        let (role_names, grants) = self.session_roles(&user, &request.target, now).await?;
        let statement_check: Arc<dyn portcullis_pg::StatementCheck> = match &self.policy {
            Some(policy) => {
                let principal = portcullis_policy::Principal {
                    user: user.name.to_string(),
                    department: user.department.clone().unwrap_or_default(),
                    job_role: user.job_role.clone().unwrap_or_default(),
                    roles: role_names.clone(),
                };
                policy.session_check(principal, &request, &target.user, token.mfa_at, grants.via)?
            }
            None => {
                if !self.may_connect(&request.target, &role_names) {
                    return Err(Denial::NotPermitted(format!(
                        "user {} holds none of the roles allowed on target {} and has no access grant in force for one; \
                         request one with `portcullis request create --role ROLE --target {}`",
                        user.name, request.target, request.target
                    )));
                }
                Arc::new(AllowAll)
            }
        };

        let mut upstream_settings = vec![("portcullis.user_id".to_string(), user.id.to_string())];
        upstream_settings.push(("portcullis.user".to_string(), user.name.to_string()));
        upstream_settings.push(("portcullis.department".to_string(), user.department.clone().unwrap_or_default()));
        Ok(SessionGrant {
            identity: SessionIdentity {
                user_id: user.id.to_string(),
                user_name: user.name.to_string(),
                token: request.token,
                token_expires_at: Some(token.expires_at),
                access_grants: grants.grant_ids,
                break_glass: grants.via.break_glass,
            },
            target,
            upstream_settings,
            statement_check,
        })
    }

    async fn record(&self, event: SessionEvent) -> Result<(), AuditUnavailable> {
        let event = self.owners.to_audit_event(event);
        self.audit
            .append(event)
            .await
            .map(|_| ())
            .map_err(|error| AuditUnavailable(error.to_string()))
    }

    async fn record_unsynced(&self, event: SessionEvent) -> Result<(), AuditUnavailable> {
        let event = self.owners.to_audit_event(event);
        self.audit
            .append_unsynced(event)
            .await
            .map_err(|error| AuditUnavailable(error.to_string()))
    }
}

impl GatewayAuthority {
    /// Returns the user's standing roles plus the roles of the access grants in force
    /// on `target`, with those grants.
    async fn session_roles(
        &self,
        user: &portcullis_core::User,
        target: &str,
        now: OffsetDateTime,
    ) -> Result<(Vec<String>, SessionGrants), Denial> {
        let unavailable = |error: portcullis_store::StoreError| Denial::Unavailable(AuthorityError(error.to_string()));
        let memberships = self.store.list_user_roles(user.id).await.map_err(unavailable)?;
        let mut roles: Vec<String> = memberships.iter().map(|membership| membership.role.name.to_string()).collect();
        let active = self.store.list_active_grants(user.id, now).await.map_err(unavailable)?;
        let grants = SessionGrants::for_target(&active, target, &roles);
        roles.extend(grants.roles.iter().cloned());
        Ok((roles, grants))
    }

    async fn resolve_target(&self, name: &str) -> Result<UpstreamTarget, Denial> {
        if let Some(target) = self.config.targets.get(name) {
            return config_target(&self.config, name, target);
        }
        resolve_store_target(self.store.clone(), &self.master_key, name).await
    }

    fn may_connect(&self, target: &str, roles: &[String]) -> bool {
        match self.config.targets.get(target) {
            Some(config) => config.allowed_roles.iter().any(|allowed| roles.contains(allowed)),
            // Targets added with `portcullis target add` are open to the roles named
            // `connect:<target>`-style grants once policies exist; until then only admins.
            None => roles.iter().any(|role| role == crate::commands::init::ADMIN_ROLE),
        }
    }
}

pub(super) fn config_target(config: &Config, name: &str, target: &TargetConfig) -> Result<UpstreamTarget, Denial> {
    let password = target_password(config, target)
        .map_err(|message| Denial::Unavailable(AuthorityError(format!("target {name}: {message}"))))?;
    let tls = match target.tls {
        UpstreamTlsMode::Disable => UpstreamTls::Disable,
        UpstreamTlsMode::Require => UpstreamTls::Require,
        UpstreamTlsMode::VerifyFull => UpstreamTls::VerifyFull {
            ca_file: config.resolve(target.ca_file.as_deref().unwrap_or_else(|| std::path::Path::new(""))),
        },
    };
    Ok(UpstreamTarget {
        name: name.to_string(),
        host: target.host.clone(),
        port: target.port,
        database: target.database.clone(),
        user: target.user.clone(),
        password,
        tls,
        idle_timeout: target.idle_timeout,
    })
}

/// Reads a configured target's password from its environment variable or file.
fn target_password(config: &Config, target: &TargetConfig) -> Result<Zeroizing<String>, String> {
    if let Some(variable) = &target.password_env {
        return std::env::var(variable)
            .map(Zeroizing::new)
            .map_err(|_| format!("environment variable {variable} (password_env) is not set"));
    }
    if let Some(path) = &target.password_file {
        let path = config.resolve(path);
        return std::fs::read_to_string(&path)
            .map(|text| Zeroizing::new(text.trim_end_matches(['\r', '\n']).to_string()))
            .map_err(|error| format!("cannot read password_file {}: {error}", path.display()));
    }
    Ok(Zeroizing::new(String::new()))
}
