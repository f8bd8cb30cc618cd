//! The OpenAPI document, generated from the handlers' annotations.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::openapi_scim::ScimPaths;

#[derive(OpenApi)]
#[openapi(
    info(title = "Portcullis API", description = "Login with MFA, access tokens, health and metrics of the Portcullis gateway."),
    paths(
        crate::login::login,
        crate::login::logout,
        crate::password::change_password,
        crate::requests::create,
        crate::requests::list,
        crate::requests::show,
        crate::requests::approve,
        crate::requests::deny,
        crate::requests::revoke,
        crate::health::healthz,
        crate::health::readyz,
        crate::health::metrics,
    ),
    components(schemas(
        crate::login::LoginRequest,
        crate::login::LoginResponse,
        crate::password::PasswordChangeRequest,
        crate::password::PasswordChangeResponse,
        crate::requests::CreateRequestBody,
        crate::error::ErrorBody
    )),
    modifiers(&BearerScheme, &ScimPaths),
    tags(
        (name = "tokens", description = "Access tokens: what native database clients present as their password"),
        (name = "requests", description = "Just-in-time access requests and their approvals"),
        (name = "operations", description = "Probes and metrics"),
        (name = "scim", description = "SCIM 2.0 provisioning of users and groups, when scim.enabled is set"),
    )
)]
struct ApiDoc;

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Returns the OpenAPI 3.1 document of the API.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
