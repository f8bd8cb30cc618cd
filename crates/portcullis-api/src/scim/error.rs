//! SCIM error responses (RFC 7644, section 3.12).

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use portcullis_store::StoreError;
use serde_json::json;

pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const SCIM_CONTENT_TYPE: &str = "application/scim+json";

/// An error returned as SCIM error JSON.
#[derive(Debug)]
pub struct ScimError {
    pub status: StatusCode,
    /// `scimType` of RFC 7644 table 9, for 400 and 409 responses.
    pub scim_type: Option<&'static str>,
    pub detail: String,
}

impl ScimError {
    pub fn bad_request(scim_type: &'static str, detail: impl Into<String>) -> ScimError {
        ScimError {
            status: StatusCode::BAD_REQUEST,
            scim_type: Some(scim_type),
            detail: detail.into(),
        }
    }

    pub fn not_found(resource: &str, id: &str) -> ScimError {
        ScimError {
            status: StatusCode::NOT_FOUND,
            scim_type: None,
            detail: format!("{resource} {id} not found"),
        }
    }

    pub fn uniqueness(detail: impl Into<String>) -> ScimError {
        ScimError {
            status: StatusCode::CONFLICT,
            scim_type: Some("uniqueness"),
            detail: detail.into(),
        }
    }

    pub fn unauthorized() -> ScimError {
        ScimError {
            status: StatusCode::UNAUTHORIZED,
            scim_type: None,
            detail: "missing or invalid SCIM bearer token".to_string(),
        }
    }

    pub fn audit_unavailable() -> ScimError {
        ScimError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            scim_type: None,
            detail: "the audit log cannot be written, so the change was not made; check the gateway's log and disk".to_string(),
        }
    }

    pub fn internal() -> ScimError {
        ScimError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            scim_type: None,
            detail: "internal error; the gateway's log has details".to_string(),
        }
    }
}

impl From<StoreError> for ScimError {
    fn from(error: StoreError) -> ScimError {
        match error {
            StoreError::Duplicate { entity, name } => ScimError::uniqueness(format!("{entity} {name:?} already exists")),
            StoreError::NotFound { entity, id } => ScimError::not_found(entity, &id),
            other => {
                tracing::error!(error = %other, "SCIM request failed in the state store");
                ScimError::internal()
            }
        }
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.as_u16().to_string(),
            "detail": self.detail,
        });
        if let Some(scim_type) = self.scim_type {
            body["scimType"] = scim_type.into();
        }
        (self.status, [(header::CONTENT_TYPE, SCIM_CONTENT_TYPE)], body.to_string()).into_response()
    }
}
