//! Checks on what users type into access requests: the reason is bounded and
//! free of control characters, and the target must exist, whether the request
//! comes from the CLI or the HTTP API.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{run, Account, Gateway, Workdir};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Makes `oncall` requestable and adds the configuration target `app`, whose
/// upstream is never contacted here.
fn configure(workdir: &Workdir) {
    workdir.set_option("access.roles.oncall", "approvers", "\"approvers\"");
    workdir.set_option("access.roles.oncall", "approvals", "1");
    workdir.set_option("access.roles.oncall", "max_duration", "\"1h\"");
    let password_file = workdir.dir.join("keys/app.password");
    std::fs::write(&password_file, "unused-upstream-password").expect("write password");
    std::fs::set_permissions(&password_file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    for (key, value) in [
        ("host", "\"127.0.0.1\""),
        ("port", "5432"),
        ("database", "\"app\""),
        ("user", "\"app_gateway\""),
        ("password_file", "\"keys/app.password\""),
        ("tls", "\"disable\""),
        ("allowed_roles", "[\"oncall\"]"),
    ] {
        workdir.set_option("targets.app", key, value);
    }
}

async fn start() -> (Workdir, Gateway, String) {
    let workdir = Workdir::init();
    configure(&workdir);
    let gateway = workdir.serve().await;
    workdir.run(&["role", "add", "oncall"]).success();
    workdir.run(&["role", "add", "approvers"]).success();
    let dave: Account = workdir.add_user("dave", &[]);
    let login = gateway.login_ok(&dave).await;
    let token = login["token"].as_str().expect("token in the login response").to_string();
    (workdir, gateway, token)
}

fn create(workdir: &Workdir, token: &str, target: &str, reason: &str) -> common::CliOutput {
    let args = ["request", "create", "--role", "oncall", "--target", target, "--for", "30m", "--reason", reason, "--output", "json"];
    run(workdir.command(&args).env("PORTCULLIS_TOKEN", token))
}

async fn post_request(workdir: &Workdir, token: &str, body: Value) -> (StatusCode, Value) {
    let response = workdir
        .api_client()
        .post(format!("https://localhost:{}/v1/requests", workdir.api_port))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("POST /v1/requests");
    let status = response.status();
    let text = response.text().await.expect("response body");
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{status}: not JSON: {text}"));
    (status, body)
}

fn requests_audited(workdir: &Workdir) -> usize {
    workdir.audit_records().iter().filter(|record| record["type"] == "access.requested").count()
}

#[tokio::test(flavor = "multi_thread")]
async fn cli_rejects_bad_reason_and_target() {
    let (workdir, gateway, token) = start().await;

    let escape = create(&workdir, &token, "app", "x\u{1b}[31mapproved by erin").failure();
    assert!(escape.stderr.contains("control character U+001B"), "{escape}");
    let newline = create(&workdir, &token, "app", "pager\napproved by erin").failure();
    assert!(newline.stderr.contains("control character U+000A"), "{newline}");

    let long = create(&workdir, &token, "app", &"x".repeat(1001)).failure();
    assert!(long.stderr.contains("1001 characters long, over the limit of 1000"), "{long}");

    let unknown = create(&workdir, &token, "nosuch", "pager incident 4711").failure();
    assert!(unknown.stderr.contains("target nosuch does not exist"), "{unknown}");
    assert!(unknown.stderr.contains("portcullis target list"), "{unknown}");
    assert_eq!(requests_audited(&workdir), 0, "no rejected request was recorded");

    let created = create(&workdir, &token, "app", &"x".repeat(1000)).success();
    assert_eq!(created.json()["state"], "pending", "{created}");
    gateway.stop_cleanly().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn api_rejects_bad_reason_and_target() {
    let (workdir, gateway, token) = start().await;
    let body = |target: &str, reason: &str| json!({"role": "oncall", "target": target, "duration_seconds": 60, "reason": reason});

    let (status, error) = post_request(&workdir, &token, body("app", "x\u{0}y\n\u{1b}[31mred")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert!(error["error"].as_str().unwrap_or_default().contains("control character U+0000"), "{error}");

    let (status, error) = post_request(&workdir, &token, body("app", &"x".repeat(1_000_000))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert!(error["error"].as_str().unwrap_or_default().contains("over the limit of 1000"), "{error}");

    let (status, error) = post_request(&workdir, &token, body("nosuch", "pager incident 4711")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert!(error["error"].as_str().unwrap_or_default().contains("target nosuch does not exist"), "{error}");
    assert_eq!(requests_audited(&workdir), 0, "no rejected request was recorded");

    let (status, created) = post_request(&workdir, &token, body("app", "pager incident 4711")).await;
    assert!(status.is_success(), "{status}: {created}");
    gateway.stop_cleanly().await;
}
