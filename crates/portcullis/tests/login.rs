//! Logins through a running gateway, with TOTP codes computed from the enrollment URI as an
//! authenticator app would: tokens, replayed codes, lockout, logout, expiry, and
//! disabling a user while the gateway runs.

mod common;

use std::time::Duration;

use common::{run_with_stdin, Workdir, INVALID_CREDENTIALS};
use reqwest::StatusCode;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Client message for a token that cannot be used.
const TOKEN_REJECTED: &str = "invalid, expired or revoked token; sign in again with `portcullis login`";

/// Asserts the token format: `pct_` and at least 43 base64url characters.
#[track_caller]
fn assert_token_format(token: &str) {
    let encoded = token.strip_prefix("pct_").unwrap_or_else(|| panic!("token {token:?} lacks the pct_ prefix"));
    assert!(encoded.len() >= 43, "token {token:?} has fewer than 43 characters after the prefix");
    assert!(
        encoded.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "token {token:?} is not base64url"
    );
}

/// Seconds from now until the `expires_at` of a login response.
#[track_caller]
fn seconds_until_expiry(body: &Value) -> i64 {
    let text = body["expires_at"].as_str().unwrap_or_else(|| panic!("no expires_at in {body}"));
    let expires_at = OffsetDateTime::parse(text, &Rfc3339).unwrap_or_else(|error| panic!("expires_at {text:?}: {error}"));
    (expires_at - OffsetDateTime::now_utc()).whole_seconds()
}

/// Types of the audit records whose `meta.token_id` is `token_id`.
fn token_events(work: &Workdir, token_id: &str) -> Vec<String> {
    work.audit_records()
        .iter()
        .filter(|record| record["meta"]["token_id"] == token_id)
        .map(|record| record["type"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn login_issues_token_and_rejects_replay() {
    let work = Workdir::init();
    let gateway = work.serve().await;
    let admin = &work.admin;

    let code = admin.authenticator.next_code().await;
    let (status, body) = gateway.login(&admin.name, &admin.password, &code, None).await;
    assert_eq!(status, StatusCode::OK, "first login: {body}");
    let token = body["token"].as_str().expect("token in the login response").to_string();
    assert_token_format(&token);
    assert_eq!(body["user"], "admin");
    assert_eq!(body["user_id"], admin.user_id.as_str());
    assert_eq!(body["password_change_required"], true, "the init password is a one-time password");
    let lifetime = seconds_until_expiry(&body);
    assert!((8 * 3600 - 60..=8 * 3600).contains(&lifetime), "default lifetime is {lifetime} s, expected 8 h");
    let token_id = body["token_id"].as_str().expect("token_id").to_string();
    assert_eq!(token_events(&work, &token_id), ["token.issued"]);

    // The same code again is a replay, even with the right password.
    let (status, body) = gateway.login(&admin.name, &admin.password, &code, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "replayed code: {body}");
    assert_eq!(body["error"], INVALID_CREDENTIALS);
    let replay_recorded = work.audit_records().iter().any(|record| {
        record["type"] == "auth.mfa.failed" && record["subject"].as_str().is_some_and(|subject| subject.contains("already used"))
    });
    assert!(replay_recorded, "no auth.mfa.failed record names the reused code");

    // A wrong password and an unknown user get the same message as the replay.
    let fresh = admin.authenticator.next_code().await;
    let (status, body) = gateway.login(&admin.name, "not-the-password", &fresh, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "wrong password: {body}");
    assert_eq!(body["error"], INVALID_CREDENTIALS);
    let (status, body) = gateway.login("nobody", &admin.password, &fresh, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "unknown user: {body}");
    assert_eq!(body["error"], INVALID_CREDENTIALS);

    // Logout revokes the token, so a second logout with it fails.
    let (status, body) = gateway.logout(&token).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "logout: {body}");
    assert_eq!(token_events(&work, &token_id), ["token.issued", "token.revoked"]);
    let (status, body) = gateway.logout(&token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "second logout: {body}");
    assert!(body.contains(TOKEN_REJECTED), "second logout body: {body}");

    // Neither the token nor the password is written to the audit log or the gateway's log.
    let audit_text = std::fs::read_to_string(work.audit_dir().join("audit.log")).expect("read the audit log");
    for (name, secret) in [("token", token.as_str()), ("password", admin.password.as_str())] {
        assert!(!audit_text.contains(secret), "the audit log contains the {name}");
        assert!(!gateway.log().contains(secret), "the gateway's log contains the {name}");
    }
    gateway.stop_cleanly().await;
}

#[tokio::test]
async fn cli_login_and_logout() {
    let work = Workdir::init();
    let gateway = work.serve().await;
    let admin = &work.admin;

    // Password from PORTCULLIS_PASSWORD, table output: the token alone on stdout.
    let code = admin.authenticator.next_code().await;
    let login = common::run(
        work.command(&["login", "--user", "admin", "--totp", &code])
            .env("PORTCULLIS_PASSWORD", &admin.password),
    )
    .success();
    let token = login.stdout.trim().to_string();
    assert_token_format(&token);
    assert!(login.stderr.contains("one-time password"), "no hint to replace the one-time password:\n{login}");

    // Password from standard input, JSON output.
    let code = admin.authenticator.next_code().await;
    let login_json = run_with_stdin(
        &mut work.command(&["login", "--user", "admin", "--password-stdin", "--totp", &code, "--output", "json"]),
        &format!("{}\n", admin.password),
    )
    .success();
    let second_token = login_json.json()["token"].as_str().expect("token in JSON").to_string();
    assert_token_format(&second_token);
    assert_ne!(token, second_token);

    // A wrong password fails with the generic message and prints no token.
    let code = admin.authenticator.next_code().await;
    let wrong = common::run(
        work.command(&["login", "--user", "admin", "--totp", &code])
            .env("PORTCULLIS_PASSWORD", "not-the-password"),
    )
    .failure();
    assert!(wrong.stderr.contains(INVALID_CREDENTIALS), "wrong password:\n{wrong}");
    assert!(!wrong.stdout.contains("pct_"), "a failed login printed a token:\n{wrong}");

    common::run(work.command(&["logout"]).env("PORTCULLIS_TOKEN", &token)).success();
    let again = common::run(work.command(&["logout"]).env("PORTCULLIS_TOKEN", &token)).failure();
    assert!(again.stderr.contains("401"), "second logout:\n{again}");
    run_with_stdin(&mut work.command(&["logout", "--token-stdin"]), &format!("{second_token}\n")).success();

    gateway.stop_cleanly().await;
}

#[tokio::test]
async fn lockout_after_five_failures_expires() {
    let work = Workdir::init();
    work.set_option("auth", "lockout", "\"2s\"");
    work.set_option("auth", "failure_window", "\"1m\"");
    let gateway = work.serve().await;
    let admin = &work.admin;

    // The password is checked before the code, so these attempts use up no code.
    for attempt in 1..=5 {
        let (status, body) = gateway.login(&admin.name, "not-the-password", "000000", None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "failure {attempt}: {body}");
        assert_eq!(body["error"], INVALID_CREDENTIALS, "failure {attempt}");
    }

    // Locked: even the right password and code are refused, with 429.
    let code = admin.authenticator.next_code().await;
    let (status, body) = gateway.login(&admin.name, &admin.password, &code, None).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "login while locked out: {body}");
    let message = body["error"].as_str().unwrap_or_default();
    assert!(message.contains("too many failed sign-in attempts"), "lockout message: {message}");
    let lockouts = work.audit_records().iter().filter(|record| record["type"] == "auth.lockout").count();
    assert_eq!(lockouts, 1, "auth.lockout records");

    // The lockout ends after auth.lockout.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    gateway.login_ok(admin).await;

    gateway.stop_cleanly().await;
}

#[tokio::test]
async fn token_expires_after_lifetime() {
    let work = Workdir::init();
    let gateway = work.serve().await;
    let admin = &work.admin;

    let code = admin.authenticator.next_code().await;
    let (status, short_api) = gateway.login(&admin.name, &admin.password, &code, Some(1)).await;
    assert_eq!(status, StatusCode::OK, "login with lifetime_seconds=1: {short_api}");
    assert!(seconds_until_expiry(&short_api) <= 1, "expires_at of a 1 s token: {short_api}");

    let code = admin.authenticator.next_code().await;
    let short_cli = common::run(
        work.command(&["login", "--user", "admin", "--totp", &code, "--lifetime", "2s", "--output", "json"])
            .env("PORTCULLIS_PASSWORD", &admin.password),
    )
    .success()
    .json();
    assert!(seconds_until_expiry(&short_cli) <= 2, "expires_at of a 2 s token: {short_cli}");

    let control = gateway.login_ok(admin).await;

    tokio::time::sleep(Duration::from_secs(3)).await;
    for (label, body) in [("lifetime_seconds=1", &short_api), ("--lifetime 2s", &short_cli)] {
        let token = body["token"].as_str().expect("token");
        let (status, text) = gateway.logout(token).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "logout with the expired {label} token: {text}");
        assert!(text.contains(TOKEN_REJECTED), "logout with the expired {label} token: {text}");
    }
    let expired = common::run(
        work.command(&["logout"])
            .env("PORTCULLIS_TOKEN", short_cli["token"].as_str().expect("token")),
    )
    .failure();
    assert!(expired.stderr.contains("401"), "CLI logout with an expired token:\n{expired}");

    // A token of the default lifetime, issued at the same time, still works.
    let (status, text) = gateway.logout(control["token"].as_str().expect("token")).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "logout with an unexpired token: {text}");

    gateway.stop_cleanly().await;
}

#[tokio::test]
async fn disable_revokes_tokens_and_enable_restores() {
    let work = Workdir::init();
    let carol = work.add_user("carol", &[]);
    let gateway = work.serve().await;
    let admin = &work.admin;

    let first = gateway.login_ok(&carol).await;
    let second = gateway.login_ok(&carol).await;
    let admin_token = gateway.login_ok(admin).await;

    // NOTE: `user disable` is a second process that appends to the audit log while `serve`
    // has it open. A lock error here means the audit log does not accept appends from
    // several processes.
    let disable = work.run(&["user", "disable", "carol"]);
    assert!(
        disable.status.success(),
        "`user disable` failed while serve runs (audit log shared by two processes?):\n{disable}"
    );
    assert!(disable.stdout.contains("2 token(s) revoked"), "disable output:\n{disable}");

    for (label, body) in [("first", &first), ("second", &second)] {
        let (status, text) = gateway.logout(body["token"].as_str().expect("token")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "carol's {label} token after disable: {text}");
    }
    let code = carol.authenticator.next_code().await;
    let (status, body) = gateway.login(&carol.name, &carol.password, &code, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "login of a disabled user: {body}");
    assert_eq!(body["error"], INVALID_CREDENTIALS, "a disabled user gets the generic message");

    let users = work.run(&["user", "list", "--output", "json"]).success().json_lines();
    let carol_row = users.iter().find(|user| user["name"] == "carol").expect("carol in user list");
    assert_eq!(carol_row["disabled"], true, "carol in user list: {carol_row}");

    work.run(&["user", "enable", "carol"]).success();
    gateway.login_ok(&carol).await;

    // Disabling carol left the admin's token alone.
    let (status, text) = gateway.logout(admin_token["token"].as_str().expect("token")).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "admin token after disabling carol: {text}");

    let types: Vec<String> = work
        .audit_records()
        .iter()
        .filter(|record| record["subject"] == "carol")
        .map(|record| record["type"].as_str().unwrap_or_default().to_string())
        .collect();
    for expected in ["user.created", "user.disabled", "user.enabled"] {
        assert!(types.iter().any(|found| found == expected), "no {expected} record for carol in {types:?}");
    }
    gateway.stop_cleanly().await;

    // Records appended by `serve` and by the `user` commands form one intact chain.
    let verify = work.run(&["audit", "verify"]);
    assert_eq!(verify.status.code(), Some(0), "verify after appends from several processes:\n{verify}");
}
