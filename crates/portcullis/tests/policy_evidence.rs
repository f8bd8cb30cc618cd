//! Decisions as evidence: each statement's audit record names the deciding
//! policies, the masked columns, the roles used and the policy set's hash, and
//! `portcullis policy reload` changes the decisions of a running gateway.

mod common;
#[path = "support/ehr.rs"]
mod ehr;

use std::path::Path;
use std::time::{Duration, Instant};

use ehr::Ehr;
use serde_json::{json, Value};

/// Returns the statement records of the audit log, oldest first.
fn statement_records(ehr: &Ehr) -> Vec<Value> {
    ehr.workdir
        .audit_records()
        .into_iter()
        .filter(|record| record["type"] == "statement")
        .collect()
}

fn last_statement(ehr: &Ehr) -> Value {
    statement_records(ehr).pop().expect("a statement record")
}

fn policy_check_hash(ehr: &Ehr) -> String {
    let output = ehr.workdir.run(&["--output", "json", "policy", "check"]).success();
    output.json()["policy_sha256"].as_str().expect("policy check prints the hash").to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn statement_records_hold_evidence() {
    let ehr = Ehr::start().await;
    let hash = policy_check_hash(&ehr);
    let alice = ehr.connect_gateway("alice").await;

    alice
        .simple_query("SELECT mrn, ssn FROM patients ORDER BY id LIMIT 1")
        .await
        .expect("alice may read SSNs masked");
    let record = last_statement(&ehr);
    let meta = &record["meta"];
    assert_eq!(meta["decision"], "allow_restricted", "{record}");
    assert_eq!(meta["policy_hash"], hash.as_str(), "{record}");
    assert_eq!(meta["roles_used"], json!(["clinician"]), "{record}");
    assert_eq!(
        meta["masked_columns"],
        json!([{"column": "public.patients.ssn", "method": "partial:4"}]),
        "{record}"
    );
    let ids = meta["policy_ids"].as_array().expect("policy_ids is an array");
    for id in ["clinician.select", "clinician.read", "clinician.ssn-last-four"] {
        assert!(ids.contains(&json!(id)), "{id} missing from {record}");
    }

    // The extended protocol records at Execute, with the evidence of the Parse.
    let rows = alice
        .query("SELECT ssn FROM patients ORDER BY id LIMIT 1", &[])
        .await
        .expect("prepared SELECT of masked SSNs");
    assert_eq!(rows.len(), 1);
    let record = last_statement(&ehr);
    assert_eq!(record["meta"]["masked_columns"][0]["column"], "public.patients.ssn", "{record}");
    assert_eq!(record["meta"]["roles_used"], json!(["clinician"]), "{record}");
    assert_eq!(record["meta"]["policy_hash"], hash.as_str(), "{record}");

    let denied = alice.simple_query("SELECT body FROM clinical_notes LIMIT 1").await;
    assert!(denied.is_err(), "alice may not read clinical_notes");
    let record = last_statement(&ehr);
    let meta = &record["meta"];
    assert_eq!(meta["decision"], "deny", "{record}");
    assert!(meta["reason"].as_str().is_some_and(|reason| reason.contains("clinical_notes")), "{record}");
    assert_eq!(meta["policy_hash"], hash.as_str(), "{record}");
    assert_eq!(meta["roles_used"], json!([]), "{record}");

    let bob = ehr.connect_gateway("bob").await;
    bob.simple_query("SELECT count(*) FROM claims").await.expect("bob reads claims");
    let record = last_statement(&ehr);
    assert_ne!(record["meta"]["decision"], "deny", "{record}");
    assert_eq!(record["meta"]["roles_used"], json!(["billing"]), "{record}");
    assert_eq!(record["meta"]["masked_columns"], json!([]), "{record}");
}

/// Denies clinicians the staff table, which the demo policies permit.
const FORBID_STAFF: &str = r#"
@id("test.no-staff-for-clinicians")
forbid (
    principal in Portcullis::Role::"clinician",
    action == Portcullis::Action::"select",
    resource == Portcullis::Table::"ehr/public.staff"
);
"#;

const STAFF_QUERY: &str = "SELECT count(*) FROM staff";

/// Waits until `query` run by `persona` on a new session gives `allowed`.
async fn wait_for_decision(ehr: &Ehr, persona: &str, query: &str, allowed: bool) {
    let started = Instant::now();
    loop {
        let client = ehr.connect_gateway(persona).await;
        if client.simple_query(query).await.is_ok() == allowed {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "{persona}: {query} is not {} within 15 s",
            if allowed { "allowed" } else { "denied" }
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn policy_file(ehr: &Ehr, name: &str) -> std::path::PathBuf {
    Path::new(&ehr.workdir.dir).join("policies").join(name)
}

#[tokio::test(flavor = "multi_thread")]
async fn reload_changes_running_decisions() {
    let ehr = Ehr::start().await;
    let old_hash = policy_check_hash(&ehr);
    let open = ehr.connect_gateway("alice").await;
    open.simple_query(STAFF_QUERY).await.expect("the demo policies permit staff to clinicians");

    std::fs::write(policy_file(&ehr, "reload_test.cedar"), FORBID_STAFF).expect("write the new policy");
    let output = ehr.workdir.run(&["--output", "json", "policy", "reload"]).success();
    let report = output.json();
    let new_hash = report["policy_sha256"].as_str().expect("reload prints the new hash").to_owned();
    assert_ne!(new_hash, old_hash);
    assert_eq!(report["previous_sha256"], old_hash.as_str(), "{report}");

    wait_for_decision(&ehr, "alice", STAFF_QUERY, false).await;
    let error = open.simple_query(STAFF_QUERY).await.expect_err("the open session gets the new set");
    let error = error.as_db_error().expect("a database error");
    assert_eq!(error.code().code(), "42501", "{error}");
    assert!(error.message().contains("permission denied by the gateway"), "{error}");
    open.simple_query("SELECT count(*) FROM patients")
        .await
        .expect("the open session still works for permitted statements");
    let record = last_statement(&ehr);
    assert_eq!(record["meta"]["policy_hash"], new_hash.as_str(), "{record}");

    let records = ehr.workdir.audit_records();
    let changed: Vec<&Value> = records.iter().filter(|record| record["type"] == "policy.set_changed").collect();
    assert_eq!(changed.len(), 1, "one policy.set_changed record");
    assert_eq!(changed[0]["meta"]["previous_sha256"], old_hash.as_str());
    assert_eq!(changed[0]["meta"]["policy_sha256"], new_hash.as_str());
    let applied = records.iter().any(|record| {
        record["type"] == "policy.reloaded"
            && record["outcome"] == "success"
            && record["meta"]["trigger"] == "policy reload"
            && record["meta"]["policy_sha256"] == new_hash.as_str()
    });
    assert!(applied, "serve audits the hash it now enforces");

    // A broken set is rejected, and the set in force stays.
    std::fs::write(policy_file(&ehr, "broken.cedar"), "@id(\"broken\")\npermit (principal, action ==, resource);\n")
        .expect("write a broken policy");
    let output = ehr.workdir.run(&["policy", "reload"]).failure();
    assert!(output.stderr.contains("broken.cedar"), "the error names the file: {output}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let client = ehr.connect_gateway("alice").await;
    assert!(client.simple_query(STAFF_QUERY).await.is_err(), "the reloaded forbid still applies");
    client.simple_query("SELECT count(*) FROM patients").await.expect("permitted statements still run");
    let changes = ehr.workdir.audit_records().into_iter().filter(|record| record["type"] == "policy.set_changed").count();
    assert_eq!(changes, 1, "a rejected set records no change");
}

/// A gateway whose policy directory does not hash to the recorded set (the
/// files changed after `policy reload` validated them) keeps its set in force
/// and audits the failure.
#[tokio::test(flavor = "multi_thread")]
async fn reload_rejects_unvalidated_directory() {
    let ehr = Ehr::start().await;
    let hash = policy_check_hash(&ehr);
    let config = portcullis_core::config::Config::load(&ehr.workdir.config).expect("load the configuration");
    let store = portcullis_store::open_store(&config.store_url()).await.expect("open the state store");
    let unvalidated = "0".repeat(64);
    store.set_meta("policy_sha256", &unvalidated).await.expect("record an unvalidated hash");
    store.close().await;

    let started = Instant::now();
    let failure = loop {
        let found = ehr.workdir.audit_records().into_iter().find(|record| {
            record["type"] == "policy.reloaded" && record["outcome"] == "failure"
        });
        if let Some(record) = found {
            break record;
        }
        assert!(started.elapsed() < Duration::from_secs(15), "no failed reload audited within 15 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(failure["meta"]["policy_sha256"], hash.as_str(), "the old set stays in force: {failure}");
    assert_eq!(failure["meta"]["trigger"], "policy reload", "{failure}");
    let error = failure["meta"]["error"].as_str().expect("the failure names its error");
    assert!(error.contains(&unvalidated), "the error names the recorded hash: {error}");
    assert!(error.contains(&hash), "the error names the directory's hash: {error}");

    let alice = ehr.connect_gateway("alice").await;
    alice.simple_query(STAFF_QUERY).await.expect("decisions of the old set stand");
    alice.simple_query("SELECT mrn FROM patients LIMIT 1").await.expect("the session works");
    let record = last_statement(&ehr);
    assert_eq!(record["meta"]["policy_hash"], hash.as_str(), "{record}");
}
