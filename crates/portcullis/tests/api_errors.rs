//! Every error of the HTTP API is JSON: `{"error": ...}`, or SCIM error JSON
//! under `/scim/v2`, including the errors axum builds itself and an oversized
//! body, which gets 413. `/openapi.json` lists the SCIM endpoints.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{Gateway, Workdir};
use reqwest::{Method, StatusCode};
use serde_json::Value;

const SCIM_TOKEN: &str = "scim-test-token-0123456789abcdef0123456789";

async fn start() -> (Workdir, Gateway) {
    let workdir = Workdir::init();
    let token_file = workdir.dir.join("keys/scim.token");
    std::fs::write(&token_file, SCIM_TOKEN).expect("write the SCIM token");
    std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    workdir.set_option("scim", "enabled", "true");
    workdir.set_option("scim", "token_file", "\"keys/scim.token\"");
    let gateway = workdir.serve().await;
    (workdir, gateway)
}

/// Sends a request and returns the status, the content type and the body parsed as JSON.
async fn send(gateway: &Gateway, method: Method, path: &str, content_type: Option<&str>, body: Vec<u8>) -> (StatusCode, String, Value) {
    let mut request = gateway.client.request(method, format!("{}{path}", gateway.url)).body(body);
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    if path.starts_with("/scim/") {
        request = request.bearer_auth(SCIM_TOKEN);
    }
    let response = request.send().await.unwrap_or_else(|error| panic!("{path}: no response: {error}"));
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let text = response.text().await.expect("response body");
    let value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{path}: {status}: not JSON: {text:?}"));
    (status, content_type, value)
}

fn message(body: &Value) -> &str {
    body["error"].as_str().unwrap_or_else(|| panic!("no error message in {body}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn axum_rejections_are_json() {
    let (_workdir, gateway) = start().await;
    let json = Some("application/json");

    let (status, content_type, body) = send(&gateway, Method::POST, "/v1/login", json, b"{not json".to_vec()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(content_type.starts_with("application/json"), "{content_type}");
    assert!(message(&body).contains("JSON"), "{body}");

    let (status, _, body) = send(&gateway, Method::POST, "/v1/login", None, b"{}".to_vec()).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    assert!(message(&body).contains("application/json"), "{body}");

    let (status, _, body) = send(&gateway, Method::POST, "/v1/login", json, br#"{"user": "admin"}"#.to_vec()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(message(&body).contains("missing field"), "{body}");

    let (status, _, body) = send(&gateway, Method::GET, "/v1/nosuch", None, Vec::new()).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(message(&body).contains("/openapi.json"), "{body}");

    let (status, _, body) = send(&gateway, Method::DELETE, "/v1/login", None, Vec::new()).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
    assert!(!message(&body).is_empty(), "{body}");

    let (status, content_type, body) = send(&gateway, Method::GET, "/scim/v2/Users?startIndex=99999999999999999999", None, Vec::new()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(content_type.starts_with("application/scim+json"), "{content_type}");
    assert_eq!(body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error", "{body}");
    assert!(body["detail"].as_str().is_some_and(|detail| !detail.is_empty()), "{body}");
    gateway.stop_cleanly().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_body_gets_413() {
    let (_workdir, gateway) = start().await;
    let body = format!(r#"{{"user": "admin", "password": "{}", "totp": "000000"}}"#, "x".repeat(3 * 1024 * 1024));

    let (status, _, value) = send(&gateway, Method::POST, "/v1/login", Some("application/json"), body.into_bytes()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{value}");
    assert!(message(&value).contains("over the limit of 2097152 bytes"), "{value}");

    let scim_body = vec![b' '; 3 * 1024 * 1024];
    let (status, _, value) = send(&gateway, Method::POST, "/scim/v2/Users", Some("application/scim+json"), scim_body).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{value}");
    assert_eq!(value["status"], "413", "{value}");

    let health = gateway.get("/healthz").await;
    assert_eq!(health.0, StatusCode::OK, "the gateway still answers: {health:?}");
    gateway.stop_cleanly().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn openapi_lists_scim_endpoints() {
    let (_workdir, gateway) = start().await;
    let (status, _, document) = send(&gateway, Method::GET, "/openapi.json", None, Vec::new()).await;
    assert_eq!(status, StatusCode::OK);

    let paths = document["paths"].as_object().expect("paths");
    for (path, method) in [
        ("/scim/v2/Users", "post"),
        ("/scim/v2/Users/{id}", "patch"),
        ("/scim/v2/Groups/{id}", "delete"),
        ("/scim/v2/ServiceProviderConfig", "get"),
    ] {
        assert!(paths.get(path).is_some_and(|item| item.get(method).is_some()), "{method} {path} missing");
    }
    assert!(paths.contains_key("/v1/login"), "the other endpoints stay");
    gateway.stop_cleanly().await;
}
