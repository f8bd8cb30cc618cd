//! `portcullis password` and `POST /v1/password`: a user replaces the one-time
//! password with their own after proving the current password and a TOTP code.

mod common;

use common::{run_with_stdin, Workdir};
use reqwest::StatusCode;
use serde_json::json;

const NEW_PASSWORD: &str = "correct horse battery staple";

#[tokio::test(flavor = "multi_thread")]
async fn password_change_replaces_one_time_password() {
    let workdir = Workdir::init();
    let gateway = workdir.serve().await;
    let dave = workdir.add_user("dave", &[]);
    let change = |stdin: String, code: &str| {
        run_with_stdin(&mut workdir.command(&["password", "--user", "dave", "--password-stdin", "--totp", code]), &stdin)
    };

    let code = dave.authenticator.next_code().await;
    let short = change(format!("{}\nshort\n", dave.password), &code).failure();
    assert!(short.stderr.contains("choose one of 12 to 1024 characters"), "{short}");
    let wrong = change(format!("not-the-password\n{NEW_PASSWORD}\n"), &code).failure();
    assert!(wrong.stderr.contains("sign-in failed"), "{wrong}");
    let same = change(format!("{0}\n{0}\n", dave.password), &code).failure();
    assert!(same.stderr.contains("is the current password"), "{same}");

    let changed = change(format!("{}\n{NEW_PASSWORD}\n", dave.password), &dave.authenticator.next_code().await).success();
    assert!(changed.stderr.contains("Password changed for dave"), "{changed}");
    let records = workdir.audit_records();
    let audited = records
        .iter()
        .filter(|record| record["type"] == "auth.password_changed" && record["outcome"] == "success")
        .count();
    assert_eq!(audited, 1, "one recorded change");
    assert!(!records.iter().any(|record| record.to_string().contains(NEW_PASSWORD)), "the password is not in the audit log");

    let code = dave.authenticator.next_code().await;
    let (status, _) = gateway.login("dave", &dave.password, &code, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the one-time password no longer works");
    let (status, body) = gateway.login("dave", NEW_PASSWORD, &code, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["password_change_required"], false, "{body}");

    // The API rejects a replayed TOTP code like login does.
    let response = gateway
        .client
        .post(format!("{}/v1/password", gateway.url))
        .json(&json!({"user": "dave", "current_password": NEW_PASSWORD, "totp": code, "new_password": "another long password"}))
        .send()
        .await
        .expect("POST /v1/password");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    gateway.stop_cleanly().await;
}
