//! `POST /v1/login` and `POST /v1/logout`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use portcullis_audit::{event_types, AuditEvent, Outcome};
use portcullis_store::accounts::{IssuedToken, LoginError, TokenError};
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use utoipa::ToSchema;

use crate::{ApiError, ApiState};

/// Credentials for a login.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Portcullis user name.
    pub user: String,
    /// The user's password.
    pub password: String,
    /// Current 6-digit TOTP code.
    pub totp: String,
    /// Requested token lifetime in seconds; the configured default when absent, and
    /// never more than the configured maximum.
    pub lifetime_seconds: Option<u64>,
}

/// A new access token.
#[derive(Serialize, ToSchema)]
pub struct LoginResponse {
    /// The token. Native database clients present it as their password. It is shown
    /// once; the gateway stores only its hash.
    pub token: String,
    /// Identifier of the token, for audit searches.
    pub token_id: String,
    /// Unique ID of the user.
    pub user_id: String,
    /// User name.
    pub user: String,
    /// Expiry, RFC 3339 UTC.
    pub expires_at: String,
    /// Whether the user still has to replace the generated one-time password.
    pub password_change_required: bool,
}

/// Logs in with password and TOTP code and returns an access token.
#[utoipa::path(
    post,
    path = "/v1/login",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Token issued", body = LoginResponse),
        (status = 401, description = "Wrong credentials, or the account cannot sign in", body = crate::error::ErrorBody),
        (status = 429, description = "Locked out after too many failures", body = crate::error::ErrorBody),
        (status = 503, description = "The audit log cannot be written", body = crate::error::ErrorBody),
    ),
    tag = "tokens"
)]
pub async fn login(
    State(state): State<Arc<ApiState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Json(request): Json<LoginRequest>,
) -> Result<Json<LoginResponse>, ApiError> {
    let lifetime = request.lifetime_seconds.map(Duration::from_secs);
    let result = state
        .accounts
        .login(&request.user, &request.password, &request.totp, peer.ip(), lifetime)
        .await;
    match result {
        Ok(issued) => issue(&state, issued, peer).await,
        Err(error) => Err(reject(&state, error, &request.user, peer).await),
    }
}

/// Records the issued token, then hands it out. When the record cannot be written the
/// token is revoked again and never leaves the gateway.
async fn issue(
    state: &ApiState,
    issued: IssuedToken,
    peer: SocketAddr,
) -> Result<Json<LoginResponse>, ApiError> {
    let expires_at = issued
        .record
        .expires_at
        .format(&Rfc3339)
        .map_err(|_| ApiError::Internal)?;
    let event = AuditEvent::new(event_types::TOKEN_ISSUED, issued.user.name.to_string(), Outcome::Success)
        .actor(issued.user.id.0)
        .client_addr(peer.ip())
        .meta("token_id", issued.record.id.to_string())
        .meta("expires_at", expires_at.clone())
        .meta("via", "api");
    if let Err(error) = state.audit.append(event).await {
        tracing::error!(%error, user_id = %issued.user.id, "audit append failed; revoking the token just issued");
        let now = time::OffsetDateTime::now_utc();
        if let Err(error) = state.accounts.store().revoke_token(issued.record.id, now).await {
            tracing::error!(%error, token_id = %issued.record.id, "revoking an unrecorded token failed");
        }
        metrics::counter!("portcullis_logins_total", "outcome" => "audit_unavailable").increment(1);
        return Err(ApiError::AuditUnavailable);
    }
    metrics::counter!("portcullis_logins_total", "outcome" => "success").increment(1);
    Ok(Json(LoginResponse {
        token: issued.token.expose().to_string(),
        token_id: issued.record.id.to_string(),
        user_id: issued.user.id.to_string(),
        user: issued.user.name.to_string(),
        expires_at,
        password_change_required: issued.password_change_required,
    }))
}

/// Records a failed login and turns it into the generic client error.
pub(crate) async fn reject(state: &ApiState, error: LoginError, user_name: &str, peer: SocketAddr) -> ApiError {
    let (event_type, outcome_label) = match &error {
        LoginError::AddressLocked { .. } | LoginError::UserLocked { .. } => {
            (event_types::AUTH_LOCKOUT, "locked_out")
        }
        LoginError::WrongTotp { .. } | LoginError::TotpReplayed { .. } | LoginError::MfaNotEnrolled { .. } => {
            (event_types::AUTH_MFA_FAILED, "mfa_failed")
        }
        _ => (event_types::AUTH_LOGIN_FAILED, "failed"),
    };
    let mut event = AuditEvent::new(event_type, error.to_string(), Outcome::Failure)
        .client_addr(peer.ip())
        .meta("via", "api");
    if let Some(user) = failed_user(&error) {
        // The name matched an account, so it is a user name and not a password typed
        // into the wrong field. Alerts on repeated failures name the user by it.
        event = event.actor(user).meta("user", user_name);
    }
    if let Err(audit_error) = state.audit.append(event).await {
        tracing::error!(error = %audit_error, "audit append of a failed login failed");
    }
    metrics::counter!("portcullis_logins_total", "outcome" => outcome_label).increment(1);

    let message = error.client_message();
    match error {
        LoginError::AddressLocked { .. } | LoginError::UserLocked { .. } => ApiError::TooManyAttempts(message),
        LoginError::InvalidLifetime { .. } => ApiError::BadRequest(message),
        LoginError::TotpSecretUnreadable { .. }
        | LoginError::PasswordHash { .. }
        | LoginError::Task(_)
        | LoginError::Store(_) => {
            tracing::error!(%error, "login failed inside the gateway");
            ApiError::Internal
        }
        _ => ApiError::Unauthorized(message),
    }
}

fn failed_user(error: &LoginError) -> Option<uuid::Uuid> {
    match error {
        LoginError::WrongPassword { user }
        | LoginError::NoPassword { user }
        | LoginError::Disabled { user }
        | LoginError::MfaNotEnrolled { user }
        | LoginError::WrongTotp { user }
        | LoginError::TotpReplayed { user, .. }
        | LoginError::TotpSecretUnreadable { user, .. }
        | LoginError::PasswordHash { user, .. } => Some(user.0),
        _ => None,
    }
}

/// Revokes the bearer token of the request.
#[utoipa::path(
    post,
    path = "/v1/logout",
    responses(
        (status = 204, description = "Token revoked"),
        (status = 401, description = "Missing, invalid, expired or revoked token", body = crate::error::ErrorBody),
        (status = 503, description = "The audit log cannot be written", body = crate::error::ErrorBody),
    ),
    security(("bearer" = [])),
    tag = "tokens"
)]
pub async fn logout(
    State(state): State<Arc<ApiState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let token = bearer_token(&headers)?;
    let authenticated = state
        .accounts
        .authenticate_token(token)
        .await
        .map_err(|error| token_rejected(&error))?;
    let user = authenticated.user();
    let event = AuditEvent::new(event_types::TOKEN_REVOKED, user.name.to_string(), Outcome::Success)
        .actor(user.id.0)
        .client_addr(peer.ip())
        .meta("token_id", authenticated.token().id.to_string())
        .meta("via", "api");
    state.audit.append(event).await.map_err(|error| {
        tracing::error!(%error, "audit append failed; the token stays valid");
        ApiError::AuditUnavailable
    })?;
    state
        .accounts
        .logout(token)
        .await
        .map_err(|error| token_rejected(&error))?;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) fn bearer_token(headers: &HeaderMap) -> Result<&str, ApiError> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|token| !token.is_empty())
        .ok_or_else(|| ApiError::Unauthorized("missing `Authorization: Bearer TOKEN` header".to_string()))
}

fn token_rejected(error: &TokenError) -> ApiError {
    match error {
        TokenError::Store(_) | TokenError::UserMissing(_) => {
            tracing::error!(%error, "token check failed inside the gateway");
            ApiError::Internal
        }
        _ => ApiError::Unauthorized(error.client_message().to_string()),
    }
}
