//! The operational endpoints of a running gateway: health, readiness, Prometheus metrics
//! and the OpenAPI document.

mod common;

use common::Workdir;
use reqwest::StatusCode;
use serde_json::Value;

#[tokio::test]
async fn probes_metrics_and_openapi() {
    let work = Workdir::init();
    let gateway = work.serve().await;

    let (status, body) = gateway.get("/healthz").await;
    assert_eq!(status, StatusCode::OK, "/healthz: {body}");
    let (status, body) = gateway.get("/readyz").await;
    assert_eq!(status, StatusCode::OK, "/readyz: {body}");
    assert_eq!(body.trim(), "ready");

    // Counters appear once they have counted something: one failed and one good login.
    let (status, _) = gateway.login("admin", "not-the-password", "000000", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    gateway.login_ok(&work.admin).await;
    let (status, metrics) = gateway.get("/metrics").await;
    assert_eq!(status, StatusCode::OK, "/metrics: {metrics}");
    let sample = |outcome: &str| {
        metrics
            .lines()
            .find(|line| line.starts_with("portcullis_logins_total") && line.contains(&format!("outcome=\"{outcome}\"")))
            .map(|line| line.rsplit(' ').next().unwrap_or_default().to_string())
    };
    assert_eq!(sample("success").as_deref(), Some("1"), "portcullis_logins_total success in:\n{metrics}");
    assert_eq!(sample("failed").as_deref(), Some("1"), "portcullis_logins_total failed in:\n{metrics}");

    let (status, text) = gateway.get("/openapi.json").await;
    assert_eq!(status, StatusCode::OK, "/openapi.json: {text}");
    let document: Value = serde_json::from_str(&text).expect("/openapi.json is JSON");
    assert!(document["openapi"].as_str().is_some_and(|version| version.starts_with('3')), "openapi version");
    for (path, method) in [("/v1/login", "post"), ("/v1/logout", "post"), ("/healthz", "get"), ("/readyz", "get")] {
        assert!(document["paths"][path][method].is_object(), "{method} {path} missing from the OpenAPI document");
    }

    gateway.stop_cleanly().await;
}

#[tokio::test]
async fn plain_http_is_refused() {
    // The API serves HTTPS only (api.tls = true after init), so a plain HTTP request gets
    // no response that a client could take for success.
    let work = Workdir::init();
    let gateway = work.serve().await;

    let client = reqwest::Client::new();
    let result = client.get(format!("http://127.0.0.1:{}/healthz", work.api_port)).send().await;
    if let Ok(response) = result {
        assert_ne!(response.status(), StatusCode::OK, "plain HTTP got 200");
    }

    gateway.stop_cleanly().await;
}
