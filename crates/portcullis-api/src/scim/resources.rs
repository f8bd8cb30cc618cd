//! SCIM JSON: responses, list pages and the discovery endpoints.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::error::SCIM_CONTENT_TYPE;
use super::filter::MAX_RESULTS;

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const ENTERPRISE_USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// Builds a SCIM JSON response.
pub fn scim_json(status: StatusCode, body: Value) -> Response {
    (status, [(header::CONTENT_TYPE, SCIM_CONTENT_TYPE)], body.to_string()).into_response()
}

/// Builds a ListResponse with the page of `resources` from 1-based `start`, `count` long.
pub fn list_page(resources: Vec<Value>, start: usize, count: usize) -> Response {
    let total = resources.len();
    let page: Vec<Value> = resources.into_iter().skip(start - 1).take(count).collect();
    scim_json(
        StatusCode::OK,
        json!({
            "schemas": [LIST_SCHEMA],
            "totalResults": total,
            "startIndex": start,
            "itemsPerPage": page.len(),
            "Resources": page,
        }),
    )
}

pub async fn service_provider_config() -> Response {
    scim_json(
        StatusCode::OK,
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
            "patch": {"supported": true},
            "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
            "filter": {"supported": true, "maxResults": MAX_RESULTS},
            "changePassword": {"supported": false},
            "sort": {"supported": false},
            "etag": {"supported": false},
            "authenticationSchemes": [{
                "type": "oauthbearertoken",
                "name": "Bearer token",
                "description": "The token configured by scim.token_env or scim.token_file",
                "primary": true
            }],
            "meta": {"resourceType": "ServiceProviderConfig", "location": "/scim/v2/ServiceProviderConfig"}
        }),
    )
}

pub async fn resource_types() -> Response {
    let user = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": "User", "name": "User", "endpoint": "/Users", "schema": USER_SCHEMA,
        "schemaExtensions": [{"schema": ENTERPRISE_USER_SCHEMA, "required": false}],
        "meta": {"resourceType": "ResourceType", "location": "/scim/v2/ResourceTypes/User"}
    });
    let group = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": "Group", "name": "Group", "endpoint": "/Groups", "schema": GROUP_SCHEMA,
        "meta": {"resourceType": "ResourceType", "location": "/scim/v2/ResourceTypes/Group"}
    });
    list_page(vec![user, group], 1, MAX_RESULTS)
}

fn attribute(name: &str, kind: &str, required: bool, uniqueness: &str) -> Value {
    json!({
        "name": name, "type": kind, "multiValued": false, "required": required,
        "caseExact": false, "mutability": "readWrite", "returned": "default", "uniqueness": uniqueness
    })
}

pub async fn schemas() -> Response {
    let user = json!({
        "id": USER_SCHEMA, "name": "User", "description": "Portcullis user",
        "attributes": [
            attribute("userName", "string", true, "server"),
            attribute("displayName", "string", false, "none"),
            attribute("active", "boolean", false, "none"),
            attribute("title", "string", false, "none"),
            attribute("externalId", "string", false, "none"),
        ],
        "meta": {"resourceType": "Schema", "location": format!("/scim/v2/Schemas/{USER_SCHEMA}")}
    });
    let enterprise = json!({
        "id": ENTERPRISE_USER_SCHEMA, "name": "EnterpriseUser", "description": "Department attribute used by policies",
        "attributes": [attribute("department", "string", false, "none")],
        "meta": {"resourceType": "Schema", "location": format!("/scim/v2/Schemas/{ENTERPRISE_USER_SCHEMA}")}
    });
    let mut members = attribute("members", "complex", false, "none");
    members["multiValued"] = true.into();
    let group = json!({
        "id": GROUP_SCHEMA, "name": "Group", "description": "Group; scim.groups maps it to a role",
        "attributes": [attribute("displayName", "string", true, "server"), members],
        "meta": {"resourceType": "Schema", "location": format!("/scim/v2/Schemas/{GROUP_SCHEMA}")}
    });
    list_page(vec![user, enterprise, group], 1, MAX_RESULTS)
}
