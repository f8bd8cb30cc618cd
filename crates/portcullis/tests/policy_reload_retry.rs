//! A running gateway that rejected the recorded policy set (its directory
//! changed after `policy reload` validated it) puts the set in force once the
//! validated files are back, without another recorded change.

mod common;
#[path = "support/ehr.rs"]
mod ehr;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ehr::Ehr;
use serde_json::Value;

const FORBID_STAFF: &str = r#"
@id("test.no-staff-for-clinicians")
forbid (
    principal in Portcullis::Role::"clinician",
    action == Portcullis::Action::"select",
    resource == Portcullis::Table::"ehr/public.staff"
);
"#;

const STAFF_QUERY: &str = "SELECT count(*) FROM staff";

fn policy_file(ehr: &Ehr, name: &str) -> PathBuf {
    Path::new(&ehr.workdir.dir).join("policies").join(name)
}

fn reload_failures(ehr: &Ehr) -> Vec<Value> {
    ehr.workdir
        .audit_records()
        .into_iter()
        .filter(|record| record["type"] == "policy.reloaded" && record["outcome"] == "failure")
        .collect()
}

/// Waits until `query` run by `persona` on a new session gives `allowed`.
async fn wait_for_decision(ehr: &Ehr, persona: &str, query: &str, allowed: bool, limit: Duration) {
    let started = Instant::now();
    loop {
        let client = ehr.connect_gateway(persona).await;
        if client.simple_query(query).await.is_ok() == allowed {
            return;
        }
        assert!(
            started.elapsed() < limit,
            "{persona}: {query} is not {} within {limit:?}",
            if allowed { "allowed" } else { "denied" }
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn reload_recovers_after_restored_files() {
    let ehr = Ehr::start().await;
    let forbid = policy_file(&ehr, "reload_test.cedar");

    // `policy reload` validates the tighter set, then the file disappears
    // before the instance loads the directory.
    std::fs::write(&forbid, FORBID_STAFF).expect("write the new policy");
    let output = ehr.workdir.run(&["--output", "json", "policy", "check"]).success();
    let tighter = output.json()["policy_sha256"].as_str().expect("policy check prints the hash").to_owned();
    std::fs::remove_file(&forbid).expect("remove the new policy");
    let config = portcullis_core::config::Config::load(&ehr.workdir.config).expect("load the configuration");
    let store = portcullis_store::open_store(&config.store_url()).await.expect("open the state store");
    store.set_meta("policy_sha256", &tighter).await.expect("record the validated hash");
    store.close().await;

    let started = Instant::now();
    while reload_failures(&ehr).is_empty() {
        assert!(started.elapsed() < Duration::from_secs(15), "no failed reload audited within 15 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let alice = ehr.connect_gateway("alice").await;
    alice.simple_query(STAFF_QUERY).await.expect("the old set stays in force");

    // Restoring the file and running reload again records nothing new, yet the
    // instance puts the tighter set in force.
    std::fs::write(&forbid, FORBID_STAFF).expect("restore the new policy");
    let output = ehr.workdir.run(&["--output", "json", "policy", "reload"]).success();
    assert_eq!(output.json()["reloaded"], false, "the hash is already recorded: {output}");
    wait_for_decision(&ehr, "alice", STAFF_QUERY, false, Duration::from_secs(15)).await;

    let applied = ehr.workdir.audit_records().into_iter().any(|record| {
        record["type"] == "policy.reloaded"
            && record["outcome"] == "success"
            && record["meta"]["policy_sha256"] == tighter.as_str()
    });
    assert!(applied, "serve audits the set it now enforces");
    assert_eq!(reload_failures(&ehr).len(), 1, "the repeated mismatch is audited once");
}
