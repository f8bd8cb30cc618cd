//! The demo is the first thing a new user runs, so CI runs it too: it must reach its
//! end with exit status 0 and say that everything it started is stopped. The narrative
//! must show each decision of the access lifecycle: dave's just-in-time grant ending his
//! session, frank's break-glass alert and review, and erin closing the review.

use std::process::Command;

/// Returns the narrative lines of step `[number/...]`, from its title to the blank line.
fn step(stdout: &str, number: usize) -> String {
    let title = format!("[{number}/");
    stdout
        .lines()
        .skip_while(|line| !line.starts_with(&title))
        .take_while(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Returns the seconds in "the session ended N s after the grant expired".
fn session_end_delay(text: &str) -> f64 {
    let rest = text.split("the session ended ").nth(1).expect("the narrative reports when the session ended");
    rest.split(' ').next().and_then(|seconds| seconds.parse().ok()).expect("seconds after the grant expired")
}

#[test]
fn demo_runs_to_success() {
    let output = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .arg("demo")
        .output()
        .expect("run portcullis demo");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "demo failed\nstdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("audit log verification FAILED: record"), "tamper detection missing:\n{stdout}");
    assert!(stdout.contains("critical alert audit_verification_failed reached the webhook receiver"), "{stdout}");
    assert!(stdout.contains("everything it started is stopped"), "{stdout}");

    let steps: Vec<String> = (1..=19).map(|number| step(&stdout, number)).collect();
    let find = |title: &str| -> &String {
        steps
            .iter()
            .find(|text| text.lines().next().is_some_and(|line| line.ends_with(title)))
            .unwrap_or_else(|| panic!("no step {title:?} in:\n{stdout}"))
    };

    let refused = find("dave tries to connect without a just-in-time grant");
    assert!(refused.contains("no access to target \"ehr\" for user \"dave\""), "{refused}");

    let requested = find("dave requests the dba role for a few seconds");
    assert!(requested.contains("recorded the request, pending approval"), "{requested}");

    let approved = find("erin approves dave's request");
    assert!(approved.contains("role dba on ehr for dave"), "{approved}");
    assert!(approved.contains("alert access_request_approved reached the webhook receiver"), "{approved}");

    let outlived = find("dave changes the schema, and his session outlives the grant");
    assert!(outlived.contains("CREATE TABLE"), "the schema change ran: {outlived}");
    assert!(outlived.contains("FATAL:  session terminated by the gateway: access grant"), "{outlived}");
    assert!(outlived.contains("for role dba expired at"), "the FATAL message says why: {outlived}");
    let delay = session_end_delay(outlived);
    assert!(delay < 1.0, "the session ended {delay} s after the grant expired, not within a second");

    let reconnect = find("dave reconnects after the grant expired");
    assert!(reconnect.contains("gateway: refused"), "{reconnect}");
    assert!(reconnect.contains("no access to target \"ehr\" for user \"dave\""), "{reconnect}");

    let without = find("frank tries to read a patient's record without emergency access");
    assert!(without.contains("no access to target \"ehr\" for user \"frank\""), "{without}");

    let glass = find("frank breaks the glass");
    assert!(glass.contains("role emergency on ehr until"), "{glass}");
    assert!(glass.contains("critical alert break_glass_used reached the webhook receiver"), "{glass}");
    assert!(glass.contains("HMAC-SHA256 signature is valid"), "{glass}");
    assert!(glass.contains("post-incident review"), "{glass}");

    let read = find("frank reads the patient's record under break-glass");
    assert!(read.contains("gateway: allowed"), "{read}");
    assert!(!read.contains("****"), "break-glass reads are unmasked: {read}");

    let report = find("erin lists the open break-glass reviews");
    assert!(report.contains("REVIEW"), "the report is a table: {report}");
    assert!(report.contains("frank"), "the open review is frank's: {report}");

    let closed = find("erin closes the review with her findings");
    assert!(closed.contains("closed by erin"), "{closed}");
    assert!(closed.contains("no open reviews"), "{closed}");
}
