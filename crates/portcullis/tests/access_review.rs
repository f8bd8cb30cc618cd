//! `portcullis access review`: roles flagged from the store's grant times and the audit
//! log's statement records, in table, CSV and JSON output.

mod common;

use std::time::Duration;

use portcullis_audit::{event_types, AuditConfig, AuditEvent, AuditLog, Outcome, PayloadKey};
use portcullis_core::{MasterKey, RoleGrant, RoleName, UserName};
use serde_json::{json, Value};
use time::OffsetDateTime;

use common::Workdir;

const DAY: Duration = Duration::from_secs(86_400);

/// Grants `role` to `user` through the store, with a grant time `age` in the past.
async fn grant_with_age(workdir: &Workdir, role: &str, user: &str, age: Duration) {
    let url = format!("sqlite://{}", workdir.dir.join("state/portcullis.db").display());
    let store = portcullis_store::open_store(&url).await.unwrap();
    let user = store.get_user_by_name(&UserName::new(user).unwrap()).await.unwrap().unwrap();
    let admin = store.get_user_by_name(&UserName::new("admin").unwrap()).await.unwrap().unwrap();
    let role = store.get_role_by_name(&RoleName::new(role).unwrap()).await.unwrap().unwrap();
    let grant = RoleGrant {
        user_id: user.id,
        role_id: role.id,
        granted_by: admin.id,
        granted_at: OffsetDateTime::now_utc() - age,
    };
    assert!(store.grant_role(&grant).await.unwrap());
    store.close().await;
}

/// Appends an allowed statement record of `user_id` that used `roles`.
async fn append_statement(workdir: &Workdir, user_id: &str, roles: &[&str]) {
    let signing_key = portcullis_audit::load_signing_key(&workdir.dir.join("keys/audit-signing.pem")).unwrap();
    let master_text = std::fs::read_to_string(workdir.dir.join("keys/master.key")).unwrap();
    let master = MasterKey::from_base64(master_text.trim()).unwrap();
    let log = AuditLog::open(
        AuditConfig::new(workdir.audit_dir()),
        signing_key,
        PayloadKey::derive(master.expose_bytes()),
    )
    .await
    .unwrap();
    log.append(
        AuditEvent::new(event_types::STATEMENT, "statement 1", Outcome::Success)
            .actor(user_id.parse().unwrap())
            .target("ehr")
            .meta("decision", "allow")
            .meta("roles_used", json!(roles)),
    )
    .await
    .unwrap();
    log.shutdown().await.unwrap();
}

fn row<'a>(rows: &'a [Value], user: &str, role: &str) -> &'a Value {
    rows.iter()
        .find(|row| row["user"] == user && row["role"] == role)
        .unwrap_or_else(|| panic!("no review row for {user}/{role} in {rows:?}"))
}

/// alice holds `clinician` (granted 40 days ago, used now) and `billing` (granted 40
/// days ago, never used).
async fn prepare() -> Workdir {
    let workdir = Workdir::init();
    let alice = workdir.add_user("alice", &[]);
    workdir.run(&["role", "add", "clinician"]).success();
    workdir.run(&["role", "add", "billing"]).success();
    grant_with_age(&workdir, "clinician", "alice", 40 * DAY).await;
    grant_with_age(&workdir, "billing", "alice", 40 * DAY).await;
    append_statement(&workdir, &alice.user_id, &["clinician"]).await;
    workdir
}

#[tokio::test]
async fn review_flags_unused_role_json() {
    let workdir = prepare().await;

    let output = workdir.run(&["access", "review", "--output", "json"]).success();
    let rows = output.json().as_array().unwrap().clone();

    let billing = row(&rows, "alice", "billing");
    assert_eq!(billing["revoke_candidate"], true);
    assert_eq!(billing["last_used"], Value::Null);
    assert_eq!(billing["source"], "standing");
    let clinician = row(&rows, "alice", "clinician");
    assert_eq!(clinician["revoke_candidate"], false);
    assert!(clinician["last_used"].is_string(), "{clinician}");
    // init granted admin just now, so it is within the window even though unused.
    let admin = row(&rows, "admin", "admin");
    assert_eq!(admin["revoke_candidate"], false);
    assert_eq!(rows.len(), 3);
}

#[tokio::test]
async fn review_window_is_configurable() {
    let workdir = prepare().await;

    let output = workdir
        .run(&["access", "review", "--unused-days", "50", "--output", "json"])
        .success();
    let rows = output.json().as_array().unwrap().clone();

    assert_eq!(row(&rows, "alice", "billing")["revoke_candidate"], false);
}

#[tokio::test]
async fn review_csv_shape() {
    let workdir = prepare().await;

    let output = workdir.run(&["access", "review", "--output", "csv"]).success();
    let lines: Vec<&str> = output.stdout.split("\r\n").filter(|line| !line.is_empty()).collect();

    assert_eq!(lines[0], "user,role,source,granted_at,last_used,revoke_candidate");
    assert_eq!(lines.len(), 4, "{}", output.stdout);
    let billing: Vec<&str> = lines.iter().find(|line| line.starts_with("alice,billing,")).unwrap().split(',').collect();
    assert_eq!(billing.len(), 6);
    assert_eq!(billing[2], "standing");
    assert_eq!(billing[4], "");
    assert_eq!(billing[5], "true");
    let clinician: Vec<&str> = lines.iter().find(|line| line.starts_with("alice,clinician,")).unwrap().split(',').collect();
    assert_ne!(clinician[4], "");
    assert_eq!(clinician[5], "false");
}

#[tokio::test]
async fn review_table_lists_roles() {
    let workdir = prepare().await;

    let output = workdir.run(&["access", "review"]).success();

    assert!(output.stdout.starts_with("USER"), "{}", output.stdout);
    let billing = output.stdout.lines().find(|line| line.contains("billing")).unwrap();
    assert!(billing.contains("never"), "{billing}");
    assert!(billing.trim_end().ends_with("true"), "{billing}");
}

#[test]
fn csv_output_rejected_elsewhere() {
    let workdir = Workdir::init();

    let output = workdir.run(&["user", "list", "--output", "csv"]).failure();

    assert!(output.stderr.contains("access review"), "{}", output.stderr);
}
