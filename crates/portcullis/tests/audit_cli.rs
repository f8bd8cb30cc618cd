//! `portcullis audit verify|search|tail` on the log that real commands wrote: intact across
//! restarts, and each kind of tampering named by the first bad record's sequence number.

mod common;

use std::fs;
use std::path::Path;

use common::{audit_lines, audit_records, copy_dir, Workdir};
use reqwest::StatusCode;
use serde_json::Value;

/// Writes records the way an operator's first day would: `init`, `user add`, and one
/// `serve` with a good login, a wrong password and a logout.
async fn record_first_day(work: &Workdir) {
    work.add_user("carol", &[]);
    let gateway = work.serve().await;
    let body = gateway.login_ok(&work.admin).await;
    let (status, _) = gateway.login("admin", "not-the-password", "000000", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = gateway.logout(body["token"].as_str().expect("token")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    gateway.stop_cleanly().await;
}

/// Runs `audit verify --output json` (on `dir` when given) and returns the exit code and
/// the JSON it printed.
fn verify_json(work: &Workdir, dir: Option<&Path>) -> (Option<i32>, Value) {
    let mut command = work.command(&["audit", "verify", "--output", "json"]);
    if let Some(dir) = dir {
        command.arg("--dir").arg(dir);
    }
    let output = common::run(&mut command);
    (output.status.code(), output.json())
}

/// Sequence number of the first record matching `predicate`.
fn seq_of(records: &[Value], predicate: impl Fn(&Value) -> bool) -> u64 {
    records
        .iter()
        .find(|record| predicate(record))
        .and_then(|record| record["seq"].as_u64())
        .expect("a record matches")
}

fn write_lines(dir: &Path, lines: &[String]) {
    let mut text = lines.join("\n");
    text.push('\n');
    fs::write(dir.join("audit.log"), text).expect("write the tampered log");
}

#[tokio::test]
async fn verify_intact_across_restarts() {
    let work = Workdir::init();
    record_first_day(&work).await;

    let (code, report) = verify_json(&work, None);
    assert_eq!(code, Some(0), "verify after the first day: {report}");
    assert_eq!(report["intact"], true);
    let records_before = report["records"].as_u64().expect("records");

    for restart in 1..=2 {
        let gateway = work.serve().await;
        // Verification may run while the gateway appends.
        let (code, report) = verify_json(&work, None);
        assert_eq!(code, Some(0), "verify while serve runs (restart {restart}): {report}");
        gateway.stop_cleanly().await;

        let text = work.run(&["audit", "verify"]).success();
        assert!(text.stdout.contains("audit log intact"), "verify after restart {restart}:\n{text}");
    }

    let (code, report) = verify_json(&work, None);
    assert_eq!(code, Some(0), "{report}");
    assert!(report["records"].as_u64().expect("records") > records_before, "restarts added no records: {report}");
    assert_eq!(report["unanchored_records"], 0, "a clean stop leaves every record under a checkpoint: {report}");
    assert_eq!(report["anchor_seq"], report["last_seq"], "{report}");

    let records = work.audit_records();
    let seqs: Vec<u64> = records.iter().map(|record| record["seq"].as_u64().expect("seq")).collect();
    let expected: Vec<u64> = (1..=seqs.len() as u64).collect();
    assert_eq!(seqs, expected, "sequence numbers are not 1..N");
    let count = |event_type: &str| records.iter().filter(|record| record["type"] == event_type).count();
    assert_eq!(count("gateway.started"), 3);
    assert_eq!(count("gateway.stopped"), 3);
    assert!(count("audit.checkpoint") >= 5, "one checkpoint per clean shutdown at least");
}

#[tokio::test]
async fn verify_names_first_bad_record() {
    let work = Workdir::init();
    record_first_day(&work).await;

    let audit_dir = work.audit_dir();
    let lines = audit_lines(&audit_dir);
    let records = audit_records(&audit_dir);
    let anchor: Value = serde_json::from_str(&fs::read_to_string(audit_dir.join("audit.anchor")).expect("read anchor"))
        .expect("anchor is JSON");
    let anchor_seq = anchor["seq"].as_u64().expect("anchor seq");
    assert_eq!(anchor_seq, lines.len() as u64, "the final checkpoint of serve is anchored");

    let carol_created = seq_of(&records, |record| record["type"] == "user.created" && record["subject"] == "carol");
    let issued = seq_of(&records, |record| record["type"] == "token.issued");
    let first_checkpoint = seq_of(&records, |record| record["type"] == "audit.checkpoint");
    let earlier_checkpoint = records
        .iter()
        .filter(|record| record["type"] == "audit.checkpoint")
        .filter_map(|record| record["seq"].as_u64())
        .filter(|&seq| seq < anchor_seq)
        .max()
        .expect("a checkpoint before the anchored one");
    let index = |seq: u64| usize::try_from(seq - 1).expect("index");

    // (name of the case, the tampered lines, the sequence number verify must name)
    let mut cases: Vec<(&str, Vec<String>, u64)> = Vec::new();

    let mut edited = lines.clone();
    let line = &mut edited[index(carol_created)];
    assert!(line.contains("\"subject\":\"carol\""), "record {carol_created}: {line}");
    *line = line.replacen("\"subject\":\"carol\"", "\"subject\":\"karol\"", 1);
    cases.push(("one byte of a subject changed", edited, carol_created));

    let mut deleted = lines.clone();
    deleted.remove(index(issued));
    cases.push(("one line deleted", deleted, issued));

    let mut swapped = lines.clone();
    swapped.swap(index(issued), index(issued) + 1);
    cases.push(("two lines swapped", swapped, issued));

    let mut forged = lines.clone();
    let line = &mut forged[index(first_checkpoint)];
    let signature_start = line.find("\"sig\":\"").expect("checkpoint has a signature") + "\"sig\":\"".len();
    let replacement = if line.as_bytes()[signature_start] == b'A' { "B" } else { "A" };
    line.replace_range(signature_start..signature_start + 1, replacement);
    cases.push(("checkpoint signature forged", forged, first_checkpoint));

    let anchored_checkpoint_removed = lines[..index(anchor_seq)].to_vec();
    cases.push(("anchored checkpoint cut off", anchored_checkpoint_removed, anchor_seq));

    let tail_after_checkpoint_removed = lines[..=index(earlier_checkpoint)].to_vec();
    cases.push(("tail after a checkpoint cut off", tail_after_checkpoint_removed, earlier_checkpoint + 1));

    // The copy procedure alone leaves a log that verifies.
    let control = work.scratch().join("audit-copy-control");
    copy_dir(&audit_dir, &control);
    let (code, report) = verify_json(&work, Some(&control));
    assert_eq!(code, Some(0), "untouched copy: {report}");

    for (number, (case, tampered, expected_seq)) in cases.into_iter().enumerate() {
        let copy = work.scratch().join(format!("audit-copy-{number}"));
        copy_dir(&audit_dir, &copy);
        write_lines(&copy, &tampered);

        let (code, report) = verify_json(&work, Some(&copy));
        assert_eq!(code, Some(1), "{case}: exit code of verify: {report}");
        assert_eq!(report["intact"], false, "{case}: {report}");
        assert_eq!(report["first_bad_seq"], expected_seq, "{case}: {report}");

        let text = common::run(work.command(&["audit", "verify", "--dir"]).arg(&copy));
        assert_eq!(text.status.code(), Some(1), "{case}:\n{text}");
        assert!(
            text.stderr.contains(&format!("record {expected_seq}:")),
            "{case}: the message does not name record {expected_seq}:\n{text}"
        );
    }

    // Tampering with copies left the real log intact.
    let (code, report) = verify_json(&work, None);
    assert_eq!(code, Some(0), "{report}");
}

#[tokio::test]
async fn search_and_tail_return_records() {
    let work = Workdir::init();
    let gateway = work.serve().await;
    let admin = &work.admin;
    let code = admin.authenticator.next_code().await;
    let (status, _) = gateway.login(&admin.name, &admin.password, &code, None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = gateway.login(&admin.name, &admin.password, &code, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "replayed code");
    let (status, _) = gateway.login(&admin.name, "not-the-password", "000000", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "wrong password");
    gateway.stop_cleanly().await;

    let auth = work.run(&["audit", "search", "--event", "auth.", "--output", "json"]).success().json_lines();
    let mut types: Vec<&str> = auth.iter().map(|record| record["type"].as_str().unwrap_or_default()).collect();
    types.sort_unstable();
    assert_eq!(types, ["auth.login.failed", "auth.mfa.failed"], "auth.* records: {auth:?}");
    for record in &auth {
        assert_eq!(record["outcome"], "failure", "{record}");
        assert_eq!(record["client"], "127.0.0.1", "{record}");
        assert_eq!(record["actor"], admin.user_id.as_str(), "{record}");
    }

    let issued = work.run(&["audit", "search", "--event", "token.", "--output", "json"]).success().json_lines();
    assert_eq!(issued.len(), 1, "token.* records: {issued:?}");
    assert_eq!(issued[0]["type"], "token.issued");
    assert!(issued[0]["meta"]["token_id"].is_string(), "{}", issued[0]);

    let by_user = work
        .run(&["audit", "search", "--user", "admin", "--outcome", "failure", "--output", "json"])
        .success()
        .json_lines();
    assert_eq!(by_user.len(), 2, "failures of admin: {by_user:?}");
    let future = work
        .run(&["audit", "search", "--since", "2999-01-01T00:00:00Z", "--output", "json"])
        .success();
    assert!(future.stdout.trim().is_empty(), "records from the future:\n{future}");
    let bad_time = work.run(&["audit", "search", "--since", "yesterday"]).failure();
    assert!(bad_time.stderr.contains("RFC 3339"), "invalid --since:\n{bad_time}");

    let all = work.audit_records();
    let last_seq = all.last().and_then(|record| record["seq"].as_u64()).expect("last seq");
    let tail = work.run(&["audit", "tail", "-n", "3", "--decrypt", "--output", "json"]).success().json_lines();
    let tail_seqs: Vec<u64> = tail.iter().filter_map(|record| record["seq"].as_u64()).collect();
    assert_eq!(tail_seqs, [last_seq - 2, last_seq - 1, last_seq], "tail -n 3");
    let table = work.run(&["audit", "tail", "-n", "5", "--decrypt"]).success();
    assert!(table.stdout.starts_with("SEQ"), "tail table:\n{table}");
    assert_eq!(table.stdout.lines().count(), 6, "header and 5 records:\n{table}");
}

#[tokio::test]
async fn search_client_filter_respects_limit() {
    // The first records (from init) have no client address, so a limit that is applied
    // before the --client filter returns nothing.
    let work = Workdir::init();
    let gateway = work.serve().await;
    let (status, _) = gateway.login("admin", "not-the-password", "000000", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    gateway.stop_cleanly().await;

    let found = work
        .run(&["audit", "search", "--client", "127.0.0.1", "--limit", "1", "--output", "json"])
        .success()
        .json_lines();
    assert_eq!(found.len(), 1, "records from 127.0.0.1 with --limit 1: {found:?}");
    assert_eq!(found[0]["client"], "127.0.0.1", "{}", found[0]);
}
