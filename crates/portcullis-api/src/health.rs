//! `/healthz`, `/readyz` and `/metrics`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;

use crate::ApiState;

/// Liveness: the process answers HTTP.
#[utoipa::path(get, path = "/healthz", responses((status = 200, description = "Alive", body = String)), tag = "operations")]
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// Readiness: the state store answers and the audit log accepts records.
#[utoipa::path(
    get,
    path = "/readyz",
    responses(
        (status = 200, description = "Ready", body = String),
        (status = 503, description = "Store or audit log unavailable", body = String),
    ),
    tag = "operations"
)]
pub async fn readyz(State(state): State<Arc<ApiState>>) -> (StatusCode, String) {
    if let Err(error) = state.accounts.store().get_meta("schema_version").await {
        tracing::warn!(%error, "readiness check: the state store is unavailable");
        return (StatusCode::SERVICE_UNAVAILABLE, "state store unavailable\n".to_string());
    }
    if state.audit.is_failed() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "audit log cannot be written; restart the gateway after fixing the disk\n".to_string(),
        );
    }
    (StatusCode::OK, "ready\n".to_string())
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(get, path = "/metrics", responses((status = 200, description = "Metrics", body = String)), tag = "operations")]
pub async fn metrics(State(state): State<Arc<ApiState>>) -> impl IntoResponse {
    let body = state.metrics.as_ref().map(|handle| handle.render()).unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}
