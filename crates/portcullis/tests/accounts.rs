//! `portcullis user` and `portcullis role` as an administrator runs them: the rules on
//! names and service accounts, and role changes with JSON output and audit records.

mod common;

use common::Workdir;
use serde_json::Value;

/// Names in `user list --output json`, sorted.
fn user_names(work: &Workdir) -> Vec<String> {
    let mut names: Vec<String> = work
        .run(&["user", "list", "--output", "json"])
        .success()
        .json_lines()
        .iter()
        .map(|user| user["name"].as_str().unwrap_or_default().to_string())
        .collect();
    names.sort();
    names
}

/// Returns the `role list --output json` line of `role`.
fn role_row(work: &Workdir, role: &str) -> Value {
    let rows = work.run(&["role", "list", "--output", "json"]).success().json_lines();
    rows.into_iter()
        .find(|row| row["role"] == role)
        .unwrap_or_else(|| panic!("role {role} missing from role list"))
}

/// `(type, subject)` of the audit records whose type starts with `prefix`, from
/// `audit search --event PREFIX --output json`.
fn audit_events(work: &Workdir, prefix: &str) -> Vec<(String, String)> {
    work.run(&["audit", "search", "--event", prefix, "--output", "json"])
        .success()
        .json_lines()
        .iter()
        .map(|record| {
            (
                record["type"].as_str().unwrap_or_default().to_string(),
                record["subject"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[test]
fn duplicate_user_name_rejected() {
    let work = Workdir::init();
    work.add_user("alice", &[]);

    let again = work.run(&["user", "add", "alice"]).failure();
    assert!(again.stderr.contains("already exists"), "duplicate user:\n{again}");
    assert!(!again.stdout.contains("otpauth://"), "a rejected user add printed credentials:\n{again}");
    let clash_with_admin = work.run(&["user", "add", "admin"]).failure();
    assert!(clash_with_admin.stderr.contains("already exists"), "duplicate of the admin:\n{clash_with_admin}");

    assert_eq!(user_names(&work), ["admin", "alice"]);
}

#[test]
fn invalid_user_name_rejected() {
    let work = Workdir::init();

    for name in ["Alice", "1alice", "al ice", ""] {
        work.run(&["user", "add", name]).failure();
    }
    assert_eq!(user_names(&work), ["admin"]);
}

#[test]
fn service_account_requires_human_owner() {
    let work = Workdir::init();

    let no_owner = work.run(&["user", "add", "etl-bot", "--service"]).failure();
    assert!(no_owner.stderr.contains("--owner"), "service account without owner:\n{no_owner}");
    let owner_without_service = work.run(&["user", "add", "alice", "--owner", "admin"]).failure();
    assert!(
        owner_without_service.stderr.contains("--service"),
        "owner without --service:\n{owner_without_service}"
    );
    let unknown_owner = work.run(&["user", "add", "etl-bot", "--service", "--owner", "nobody"]).failure();
    assert!(unknown_owner.stderr.contains("nobody"), "unknown owner:\n{unknown_owner}");

    let bot = work.add_user("etl-bot", &["--service", "--owner", "admin"]);
    let bot_user = work.run(&["user", "show", "etl-bot", "--output", "json"]).success().json();
    assert_eq!(bot_user["kind"], "service", "etl-bot: {bot_user}");
    assert_eq!(bot_user["owner"], work.admin.user_id.as_str(), "etl-bot: {bot_user}");
    assert!(!bot.password.is_empty());

    let owned_by_bot = work
        .run(&["user", "add", "report-bot", "--service", "--owner", "etl-bot"])
        .failure();
    assert!(
        owned_by_bot.stderr.contains("service account"),
        "service account owned by a service account:\n{owned_by_bot}"
    );

    assert_eq!(user_names(&work), ["admin", "etl-bot"]);
}

#[test]
fn roles_add_grant_revoke_list() {
    let work = Workdir::init();
    work.add_user("alice", &[]);

    work.run(&["role", "add", "analysts", "--description", "Reads de-identified data"])
        .success();
    let row = role_row(&work, "analysts");
    assert_eq!(row["description"], "Reads de-identified data");
    assert_eq!(row["members"], serde_json::json!([]));
    assert_eq!(role_row(&work, "admin")["members"], serde_json::json!(["admin"]), "init grants admin");
    let duplicate = work.run(&["role", "add", "analysts"]).failure();
    assert!(duplicate.stderr.contains("already exists"), "duplicate role:\n{duplicate}");

    work.run(&["role", "grant", "analysts", "alice", "--by", "admin"]).success();
    assert_eq!(role_row(&work, "analysts")["members"], serde_json::json!(["alice"]));
    let alice_user = work.run(&["user", "show", "alice", "--output", "json"]).success().json();
    assert_eq!(alice_user["roles"], serde_json::json!(["analysts"]), "alice: {alice_user}");
    let second_grant = work.run(&["role", "grant", "analysts", "alice", "--by", "admin"]).success();
    assert!(second_grant.stdout.contains("already holds"), "second grant:\n{second_grant}");

    for (args, wrong) in [
        (["role", "grant", "analysts", "nobody", "--by", "admin"], "nobody"),
        (["role", "grant", "auditors", "alice", "--by", "admin"], "auditors"),
        (["role", "grant", "analysts", "alice", "--by", "mallory"], "mallory"),
    ] {
        let output = work.run(&args).failure();
        assert!(output.stderr.contains(wrong), "message does not name {wrong}:\n{output}");
    }

    work.run(&["role", "revoke", "analysts", "alice"]).success();
    assert_eq!(role_row(&work, "analysts")["members"], serde_json::json!([]));
    let alice_user = work.run(&["user", "show", "alice", "--output", "json"]).success().json();
    assert_eq!(alice_user["roles"], serde_json::json!([]), "alice: {alice_user}");

    let events = audit_events(&work, "role.");
    let expected = [
        ("role.granted", "admin to admin"),
        ("role.created", "analysts"),
        ("role.granted", "analysts to alice"),
        ("role.revoked", "analysts from alice"),
    ];
    for (event_type, subject) in expected {
        assert!(
            events.iter().any(|(found_type, found_subject)| found_type == event_type && found_subject == subject),
            "no {event_type} record for {subject:?} in {events:?}"
        );
    }
    let grant = work
        .run(&["audit", "search", "--event", "role.granted", "--output", "json"])
        .success()
        .json_lines()
        .into_iter()
        .find(|record| record["subject"] == "analysts to alice")
        .expect("role.granted record");
    assert_eq!(grant["actor"], work.admin.user_id.as_str(), "--by names the recorded actor");
}

#[test]
fn failed_revoke_records_no_success() {
    // A revoke that changes nothing must not leave a `role.revoked` record with outcome
    // success, because auditors read the log as the list of changes made.
    let work = Workdir::init();
    work.add_user("alice", &[]);
    work.run(&["role", "add", "analysts"]).success();

    let output = work.run(&["role", "revoke", "analysts", "alice"]).failure();
    assert!(output.stderr.contains("does not hold"), "revoke of a role not held:\n{output}");

    let claimed: Vec<Value> = work
        .audit_records()
        .into_iter()
        .filter(|record| record["type"] == "role.revoked" && record["outcome"] == "success")
        .collect();
    assert!(claimed.is_empty(), "a failed revoke is recorded as a successful one: {claimed:?}");
}
