//! The SCIM 2.0 endpoints in the OpenAPI document. Their bodies follow the SCIM
//! schemas of RFC 7643 (served at `/scim/v2/Schemas`), not Rust types, so the
//! operations are described here instead of on the handlers.

use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Required, ResponseBuilder};
use utoipa::Modify;

/// Name of the security scheme: the SCIM bearer token of `[scim]`.
const SCHEME: &str = "scim_bearer";

/// One SCIM operation: method, path under `/scim/v2`, summary and success status.
struct Endpoint {
    method: HttpMethod,
    path: &'static str,
    summary: &'static str,
    success: &'static str,
}

const ENDPOINTS: &[Endpoint] = &[
    Endpoint { method: HttpMethod::Get, path: "/Users", summary: "List users, with optional filter, startIndex and count", success: "200" },
    Endpoint { method: HttpMethod::Post, path: "/Users", summary: "Create a user", success: "201" },
    Endpoint { method: HttpMethod::Get, path: "/Users/{id}", summary: "Show a user", success: "200" },
    Endpoint { method: HttpMethod::Put, path: "/Users/{id}", summary: "Replace a user", success: "200" },
    Endpoint { method: HttpMethod::Patch, path: "/Users/{id}", summary: "Change a user's attributes, such as active", success: "200" },
    Endpoint { method: HttpMethod::Delete, path: "/Users/{id}", summary: "Disable a user and revoke their tokens", success: "204" },
    Endpoint { method: HttpMethod::Get, path: "/Groups", summary: "List groups", success: "200" },
    Endpoint { method: HttpMethod::Post, path: "/Groups", summary: "Create a group", success: "201" },
    Endpoint { method: HttpMethod::Get, path: "/Groups/{id}", summary: "Show a group", success: "200" },
    Endpoint { method: HttpMethod::Put, path: "/Groups/{id}", summary: "Replace a group and its members", success: "200" },
    Endpoint { method: HttpMethod::Patch, path: "/Groups/{id}", summary: "Add or remove group members", success: "200" },
    Endpoint { method: HttpMethod::Delete, path: "/Groups/{id}", summary: "Delete a group", success: "204" },
    Endpoint { method: HttpMethod::Get, path: "/ServiceProviderConfig", summary: "Supported SCIM features", success: "200" },
    Endpoint { method: HttpMethod::Get, path: "/ResourceTypes", summary: "Resource types", success: "200" },
    Endpoint { method: HttpMethod::Get, path: "/Schemas", summary: "Resource schemas", success: "200" },
];

/// Adds the `/scim/v2` operations and their bearer scheme to the document.
pub struct ScimPaths;

impl Modify for ScimPaths {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            SCHEME,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The SCIM token of [scim] token_env or token_file; served only when scim.enabled"))
                    .build(),
            ),
        );
        for endpoint in ENDPOINTS {
            let path = format!("/scim/v2{}", endpoint.path);
            openapi.paths.add_path_operation(path, vec![endpoint.method.clone()], operation(endpoint));
        }
    }
}

fn operation(endpoint: &Endpoint) -> utoipa::openapi::path::Operation {
    let scim_error = |description: &str| ResponseBuilder::new().description(format!("{description}; SCIM error JSON")).build();
    let mut builder = OperationBuilder::new()
        .summary(Some(endpoint.summary))
        .tag("scim")
        .security(SecurityRequirement::new(SCHEME, Vec::<String>::new()))
        .response(endpoint.success, ResponseBuilder::new().description("Success; SCIM JSON (application/scim+json)").build())
        .response("400", scim_error("Invalid body, filter or parameter"))
        .response("401", scim_error("Missing or wrong SCIM token"));
    if endpoint.path.contains("{id}") {
        let id = ParameterBuilder::new()
            .name("id")
            .parameter_in(ParameterIn::Path)
            .required(Required::True)
            .schema(Some(ObjectBuilder::new().schema_type(Type::String).build()));
        builder = builder.parameter(id).response("404", scim_error("No resource with this id"));
    }
    builder.build()
}
