//! Errors returned to API clients, each mapped to one status and a fixed body.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

/// Body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong and what to do next. Never names which credential was wrong.
    pub error: String,
}

/// An error answered to a client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Credentials were wrong or the account cannot sign in; the message is generic.
    #[error("{0}")]
    Unauthorized(String),
    /// Too many failures: the user or address is locked out for a while.
    #[error("{0}")]
    TooManyAttempts(String),
    /// The request body is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// The audit log cannot be written, so nothing that needs a record is done.
    #[error("the audit log cannot be written, so the request was refused; check the gateway's log and disk")]
    AuditUnavailable,
    /// The gateway failed; details are in its log.
    #[error("internal error; the gateway's log has details")]
    Internal,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::TooManyAttempts(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::AuditUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let body = ErrorBody {
            error: self.to_string(),
        };
        (status, Json(body)).into_response()
    }
}
