//! `COPY … TO STDOUT` through the gateway: the policy's masks apply to COPY
//! data in text, CSV and binary format, and a COPY whose data the gateway
//! cannot mask is denied with SQLSTATE 42501.

mod common;
#[path = "support/ehr.rs"]
mod ehr;

use std::process::Command;

use ehr::Ehr;
use futures::{pin_mut, TryStreamExt};

/// Runs one psql command as `persona` through the gateway and returns
/// (success, stdout, stderr).
fn psql(ehr: &Ehr, persona: &str, command: &str) -> (bool, String, String) {
    let output = Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", command])
        .envs(ehr.gateway_variables(persona))
        .output()
        .expect("run psql");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Returns the SSNs (`None` for NULL) that `persona` reads unmasked in direct
/// access, in `id` order.
async fn direct_ssns(ehr: &Ehr, persona: &str) -> Vec<Option<String>> {
    let direct = ehr.connect_direct(persona).await;
    direct
        .query("SELECT ssn FROM patients ORDER BY id", &[])
        .await
        .expect("read SSNs directly")
        .iter()
        .map(|row| row.get::<_, Option<String>>(0))
        .collect()
}

/// Checks one masked field against the clear SSN; `null` is the format's NULL.
fn assert_partial(masked: &str, clear: &Option<String>, null: &str) {
    let Some(clear) = clear else {
        assert_eq!(masked, null, "NULL stays NULL");
        return;
    };
    assert_ne!(masked, clear, "an SSN reached the client unmasked");
    assert!(masked.ends_with(&clear[clear.len() - 4..]), "{masked:?} keeps the last 4 of the SSN");
}

fn assert_no_ssn(output: &str, ssns: &[Option<String>]) {
    for ssn in ssns.iter().flatten() {
        assert!(!output.contains(ssn.as_str()), "an SSN appears unmasked in the COPY output");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn copy_to_stdout_masked() {
    let ehr = Ehr::start().await;
    let ssns = direct_ssns(&ehr, "alice").await;
    assert!(ssns.iter().flatten().count() >= 3, "alice sees patients with SSNs");
    let query = "SELECT mrn, ssn FROM patients ORDER BY id LIMIT 3";

    // Text format, simple protocol.
    let (ok, stdout, stderr) = psql(&ehr, "alice", &format!("COPY ({query}) TO STDOUT"));
    assert!(ok, "COPY text: {stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    for (line, clear) in lines.iter().zip(&ssns) {
        let ssn = line.split('\t').nth(1).expect("two columns");
        assert_partial(ssn, clear, "\\N");
    }

    // CSV with a header, through psql's \copy.
    let (ok, stdout, stderr) = psql(&ehr, "alice", &format!("\\copy ({query}) TO STDOUT WITH (FORMAT csv, HEADER)"));
    assert!(ok, "\\copy csv: {stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.first().copied(), Some("mrn,ssn"), "{stdout}");
    assert_eq!(lines.len(), 4, "{stdout}");
    for (line, clear) in lines[1..].iter().zip(&ssns) {
        let ssn = line.split(',').nth(1).expect("two columns");
        assert_partial(ssn, clear, "");
    }

    // A whole table.
    let (ok, stdout, stderr) = psql(&ehr, "alice", "COPY patients TO STDOUT");
    assert!(ok, "COPY patients: {stderr}");
    assert!(stdout.lines().count() >= ssns.len(), "every visible patient is copied");
    assert_no_ssn(&stdout, &ssns);

    // Binary format, extended protocol.
    let client = ehr.connect_gateway("alice").await;
    let stream = client
        .copy_out(&format!("COPY ({query}) TO STDOUT (FORMAT binary)"))
        .await
        .expect("binary COPY of masked columns");
    pin_mut!(stream);
    let mut data = Vec::new();
    while let Some(chunk) = stream.try_next().await.expect("COPY data") {
        data.extend_from_slice(&chunk);
    }
    assert!(data.starts_with(b"PGCOPY\n\xff\r\n\0"), "binary COPY header");
    assert_no_ssn(&String::from_utf8_lossy(&data), &ssns);
    let first = ssns.iter().take(3).flatten().next().expect("an SSN among the first three patients");
    assert!(
        String::from_utf8_lossy(&data).contains(&first[first.len() - 4..]),
        "the binary data keeps the last 4 of the SSN"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unmaskable_copy_denied() {
    let ehr = Ehr::start().await;
    let client = ehr.connect_gateway("alice").await;

    let denied = client
        .simple_query("COPY (SELECT ssn FROM patients LIMIT 1) TO STDOUT (FORMAT text, ENCODING 'LATIN1')")
        .await
        .expect_err("a COPY option the gateway cannot mask under is denied");
    let error = denied.as_db_error().expect("a database error");
    assert_eq!(error.code().code(), "42501", "{error}");
    assert!(error.message().contains("encoding"), "the denial names the option: {error}");

    let denied = client
        .simple_query("COPY (SELECT ssn FROM patients LIMIT 1) TO STDOUT (DELIMITER '::')")
        .await
        .expect_err("a multi-character delimiter is denied");
    assert_eq!(denied.as_db_error().expect("a database error").code().code(), "42501");

    // The session stays usable, and a COPY without masked columns passes unchanged.
    let (ok, stdout, stderr) = psql(&ehr, "alice", "COPY (SELECT mrn FROM patients ORDER BY id LIMIT 2) TO STDOUT");
    assert!(ok, "COPY without masks: {stderr}");
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    client.simple_query("SELECT 1").await.expect("the session is still usable");
}
