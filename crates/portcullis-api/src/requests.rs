//! Just-in-time access requests: `POST/GET /v1/requests`, `GET /v1/requests/{id}` and
//! `POST /v1/requests/{id}/approve|deny|revoke`, acting as the bearer token's user.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use portcullis_access::{AccessError, AccessService, Actor, ErrorKind, NewRequest, RequestView};
use portcullis_core::AccessRequestId;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::error::ErrorBody;
use crate::login::bearer_token;
use crate::{ApiError, ApiState};

/// Body of `POST /v1/requests`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRequestBody {
    /// Role to request; it needs an `[access.roles.NAME]` section in the configuration.
    pub role: String,
    /// Target to limit the grant to; omitted for every target.
    pub target: Option<String>,
    /// How long the grant lasts once approved, in seconds.
    pub duration_seconds: u64,
    /// Reason the access is needed.
    pub reason: String,
}

/// An error of the access flows, returned with the HTTP status of its kind.
pub struct AccessApiError(ApiOrAccess);

enum ApiOrAccess {
    Api(ApiError),
    Access(AccessError),
}

impl From<ApiError> for AccessApiError {
    fn from(error: ApiError) -> Self {
        AccessApiError(ApiOrAccess::Api(error))
    }
}

impl From<AccessError> for AccessApiError {
    fn from(error: AccessError) -> Self {
        AccessApiError(ApiOrAccess::Access(error))
    }
}

impl IntoResponse for AccessApiError {
    fn into_response(self) -> Response {
        let error = match self.0 {
            ApiOrAccess::Api(error) => return error.into_response(),
            ApiOrAccess::Access(error) => error,
        };
        let status = match error.kind() {
            ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
            ErrorKind::Forbidden => StatusCode::FORBIDDEN,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::Invalid => StatusCode::BAD_REQUEST,
            ErrorKind::Unavailable => {
                tracing::error!(%error, "an access request operation failed inside the gateway");
                StatusCode::SERVICE_UNAVAILABLE
            }
        };
        let body = ErrorBody {
            error: error.client_message(),
        };
        (status, Json(body)).into_response()
    }
}

type Reply = Result<Json<Value>, AccessApiError>;

fn service(state: &ApiState) -> Result<&AccessService, AccessApiError> {
    state
        .access
        .as_deref()
        .ok_or_else(|| ApiError::BadRequest("access requests are not enabled on this gateway".to_string()).into())
}

async fn actor(state: &ApiState, headers: &HeaderMap) -> Result<Actor, AccessApiError> {
    let token = bearer_token(headers)?;
    Ok(service(state)?.actor(token).await?)
}

fn parse_id(text: &str) -> Result<AccessRequestId, AccessApiError> {
    text.parse()
        .map_err(|_| ApiError::BadRequest(format!("`{text}` is not a request id")).into())
}

fn json(view: &RequestView) -> Reply {
    serde_json::to_value(view)
        .map(Json)
        .map_err(|_| ApiError::Internal.into())
}

/// Creates a request as the token's user.
#[utoipa::path(
    post,
    path = "/v1/requests",
    request_body = CreateRequestBody,
    responses(
        (status = 200, description = "The pending request, with decisions and grant"),
        (status = 400, description = "Role not requestable, duration too long, or no reason", body = ErrorBody),
        (status = 401, description = "Missing, invalid, expired or revoked token", body = ErrorBody),
        (status = 503, description = "The store or the audit log failed", body = ErrorBody),
    ),
    security(("bearer" = [])),
    tag = "requests"
)]
pub async fn create(State(state): State<Arc<ApiState>>, headers: HeaderMap, Json(body): Json<CreateRequestBody>) -> Reply {
    let actor = actor(&state, &headers).await?;
    let service = service(&state)?;
    let new = NewRequest {
        role: body.role,
        target: body.target,
        duration: std::time::Duration::from_secs(body.duration_seconds),
        reason: body.reason,
    };
    let request = service.create_request(&actor, new).await?;
    json(&service.show_request(&actor, request.id).await?)
}

/// Lists the requests the token's user made or may decide, newest first.
#[utoipa::path(
    get,
    path = "/v1/requests",
    responses(
        (status = 200, description = "Array of requests"),
        (status = 401, description = "Missing, invalid, expired or revoked token", body = ErrorBody),
    ),
    security(("bearer" = [])),
    tag = "requests"
)]
pub async fn list(State(state): State<Arc<ApiState>>, headers: HeaderMap) -> Reply {
    let actor = actor(&state, &headers).await?;
    let views = service(&state)?.list_requests(&actor).await?;
    serde_json::to_value(views)
        .map(Json)
        .map_err(|_| ApiError::Internal.into())
}

/// Shows one request.
#[utoipa::path(
    get,
    path = "/v1/requests/{id}",
    params(("id" = String, Path, description = "Request id")),
    responses(
        (status = 200, description = "The request, with decisions and grant"),
        (status = 404, description = "No such request, or not visible to this user", body = ErrorBody),
    ),
    security(("bearer" = [])),
    tag = "requests"
)]
pub async fn show(State(state): State<Arc<ApiState>>, headers: HeaderMap, Path(id): Path<String>) -> Reply {
    let actor = actor(&state, &headers).await?;
    json(&service(&state)?.show_request(&actor, parse_id(&id)?).await?)
}

/// Approves a request (approvers of the role, with a recent MFA login).
#[utoipa::path(
    post,
    path = "/v1/requests/{id}/approve",
    params(("id" = String, Path, description = "Request id")),
    responses(
        (status = 200, description = "The request after the approval"),
        (status = 403, description = "Own request, not an approver, or MFA too old", body = ErrorBody),
        (status = 409, description = "The request is not pending, or already decided by this user", body = ErrorBody),
    ),
    security(("bearer" = [])),
    tag = "requests"
)]
pub async fn approve(State(state): State<Arc<ApiState>>, headers: HeaderMap, Path(id): Path<String>) -> Reply {
    let actor = actor(&state, &headers).await?;
    json(&service(&state)?.approve(&actor, parse_id(&id)?).await?)
}

/// Denies a request.
#[utoipa::path(
    post,
    path = "/v1/requests/{id}/deny",
    params(("id" = String, Path, description = "Request id")),
    responses(
        (status = 200, description = "The denied request"),
        (status = 403, description = "Own request, not an approver, or MFA too old", body = ErrorBody),
        (status = 409, description = "The request is not pending", body = ErrorBody),
    ),
    security(("bearer" = [])),
    tag = "requests"
)]
pub async fn deny(State(state): State<Arc<ApiState>>, headers: HeaderMap, Path(id): Path<String>) -> Reply {
    let actor = actor(&state, &headers).await?;
    json(&service(&state)?.deny(&actor, parse_id(&id)?).await?)
}

/// Withdraws a pending request or revokes the grant of an approved one; the
/// sessions that depend on the grant end within a second.
#[utoipa::path(
    post,
    path = "/v1/requests/{id}/revoke",
    params(("id" = String, Path, description = "Request id")),
    responses(
        (status = 200, description = "The revoked request"),
        (status = 403, description = "Neither the requester nor an approver", body = ErrorBody),
        (status = 409, description = "The request is denied or expired", body = ErrorBody),
    ),
    security(("bearer" = [])),
    tag = "requests"
)]
pub async fn revoke(State(state): State<Arc<ApiState>>, headers: HeaderMap, Path(id): Path<String>) -> Reply {
    let actor = actor(&state, &headers).await?;
    json(&service(&state)?.revoke(&actor, parse_id(&id)?).await?)
}
