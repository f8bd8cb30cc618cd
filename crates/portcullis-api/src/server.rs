//! The router and the HTTP(S) listener.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::{Json, Router};
use axum_server::tls_rustls::RustlsConfig;
use axum_server::Handle;

use crate::error_body::{json_errors, MAX_BODY_BYTES};
use crate::{health, login, openapi_document, password, requests, ApiState};

/// Errors starting the listener.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr} for the HTTP API: {source}; choose a free address in api.listen")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("the HTTP API stopped: {0}")]
    Io(#[from] std::io::Error),
}

/// Builds the API's router. Every error response is JSON (see `error_body`).
pub fn router(state: Arc<ApiState>) -> Router {
    let mut router = Router::new();
    if let Some(scim) = &state.scim {
        router = router.nest_service("/scim/v2", crate::scim::router(scim.clone()));
    }
    router
        .route("/v1/login", post(login::login))
        .route("/v1/logout", post(login::logout))
        .route("/v1/password", post(password::change_password))
        .route("/v1/requests", post(requests::create).get(requests::list))
        .route("/v1/requests/{id}", get(requests::show))
        .route("/v1/requests/{id}/approve", post(requests::approve))
        .route("/v1/requests/{id}/deny", post(requests::deny))
        .route("/v1/requests/{id}/revoke", post(requests::revoke))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route("/openapi.json", get(|| async { Json(openapi_document()) }))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(json_errors))
        .with_state(state)
}

/// Serves the API on `listener` until `handle` is told to shut down. With `tls`, every
/// connection is HTTPS with that configuration.
pub async fn serve(
    listener: std::net::TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    state: Arc<ApiState>,
    handle: Handle,
) -> Result<(), ServeError> {
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    listener.set_nonblocking(true)?;
    match tls {
        Some(config) => {
            let mut config = (*config).clone();
            config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
            axum_server::from_tcp_rustls(listener, RustlsConfig::from_config(Arc::new(config)))
                .handle(handle)
                .serve(app)
                .await?;
        }
        None => {
            axum_server::from_tcp(listener).handle(handle).serve(app).await?;
        }
    }
    Ok(())
}
