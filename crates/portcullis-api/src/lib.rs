//! HTTP API of Portcullis: login with password and TOTP, token revocation, health and
//! readiness probes, Prometheus metrics and the OpenAPI document that describes them.
//!
//! Every route that issues or revokes a credential appends its audit record before it
//! answers; when the audit log cannot be written the request fails with 503 and the
//! credential is not handed out.

mod error;
mod error_body;
mod health;
mod login;
mod openapi;
mod openapi_scim;
mod password;
pub mod scim;
mod requests;
mod server;

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;
use portcullis_audit::AuditLog;
use portcullis_store::accounts::Accounts;

pub use error::ApiError;
pub use error_body::MAX_BODY_BYTES;
pub use openapi::openapi_document;
pub use server::{router, serve, ServeError};

/// What the handlers share.
pub struct ApiState {
    /// Account flows over the state store.
    pub accounts: Arc<Accounts>,
    /// The audit log every credential event goes to.
    pub audit: AuditLog,
    /// Renders the process's metrics for `/metrics`; `None` serves an empty page.
    pub metrics: Option<PrometheusHandle>,
    /// Just-in-time access requests under `/v1/requests`; `None` answers them with 400.
    pub access: Option<Arc<portcullis_access::AccessService>>,
    /// SCIM 2.0 provisioning under `/scim/v2`, when `[scim] enabled` is set.
    pub scim: Option<Arc<scim::ScimService>>,
}
