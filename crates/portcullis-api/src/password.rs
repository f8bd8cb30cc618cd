//! `POST /v1/password`: a user replaces their own password, such as the one-time
//! password an administrator handed out, with the current password and a TOTP code.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::Json;
use portcullis_audit::{event_types, AuditEvent, Outcome};
use portcullis_core::SecretString;
use portcullis_store::accounts::PasswordChangeError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::login::reject;
use crate::{ApiError, ApiState};

/// Body of `POST /v1/password`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChangeRequest {
    /// Portcullis user name.
    pub user: String,
    /// The password in use, such as the one-time password.
    pub current_password: String,
    /// Current 6-digit TOTP code; each code works once.
    pub totp: String,
    /// The new password, 12 to 1024 characters.
    pub new_password: String,
}

/// The result of a password change.
#[derive(Serialize, ToSchema)]
pub struct PasswordChangeResponse {
    /// User name.
    pub user: String,
    /// Always `false` after a change.
    pub password_change_required: bool,
}

/// Replaces the caller's password. Tokens issued before stay valid.
#[utoipa::path(
    post,
    path = "/v1/password",
    request_body = PasswordChangeRequest,
    responses(
        (status = 200, description = "Password replaced", body = PasswordChangeResponse),
        (status = 400, description = "New password too short, too long or unchanged", body = crate::error::ErrorBody),
        (status = 401, description = "Wrong credentials, or the account cannot sign in", body = crate::error::ErrorBody),
        (status = 429, description = "Too many failed attempts; locked out for a while", body = crate::error::ErrorBody),
        (status = 503, description = "The audit log cannot be written", body = crate::error::ErrorBody),
    ),
    tag = "tokens"
)]
pub async fn change_password(
    State(state): State<Arc<ApiState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Json(request): Json<PasswordChangeRequest>,
) -> Result<Json<PasswordChangeResponse>, ApiError> {
    let new_password = SecretString::new(request.new_password);
    let checked = state
        .accounts
        .check_password_change(&request.user, &request.current_password, &request.totp, &new_password, peer.ip())
        .await;
    let user = match checked {
        Ok(user) => user,
        Err(PasswordChangeError::Login(error)) => return Err(reject(&state, error, &request.user, peer).await),
        Err(error) => return Err(ApiError::BadRequest(error.client_message())),
    };

    // The change is recorded before it is made, so an unrecorded change never happens.
    let event = AuditEvent::new(event_types::AUTH_PASSWORD_CHANGED, user.name.to_string(), Outcome::Success)
        .actor(user.id.0)
        .client_addr(peer.ip())
        .meta("via", "api");
    if let Err(error) = state.audit.append(event).await {
        tracing::error!(%error, user_id = %user.id, "audit append failed; the password stays unchanged");
        return Err(ApiError::AuditUnavailable);
    }
    if let Err(error) = state.accounts.replace_password(&user, new_password).await {
        tracing::error!(%error, user_id = %user.id, "storing a changed password failed");
        let failed = AuditEvent::new(event_types::AUTH_PASSWORD_CHANGED, user.name.to_string(), Outcome::Failure)
            .actor(user.id.0)
            .meta("error", "storing the new password failed");
        if let Err(audit_error) = state.audit.append(failed).await {
            tracing::error!(error = %audit_error, user_id = %user.id, "recording the failed password change failed");
        }
        return Err(ApiError::Internal);
    }
    Ok(Json(PasswordChangeResponse {
        user: user.name.to_string(),
        password_change_required: false,
    }))
}
