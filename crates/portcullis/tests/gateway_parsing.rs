//! The gateway must read each statement as the server does. These tests drive
//! the real gateway with the demo policies through the ways a client could make
//! the two differ. `standard_conforming_strings` decides where a string literal
//! ends, and `search_path` decides which table an unqualified name means. They
//! also cover DISTINCT and set operations on masked columns, writing functions
//! under the `read_only` guardrail, and statement text in the clear audit fields.

mod common;
#[path = "support/ehr.rs"]
mod ehr;

use std::process::Command;

use common::{run, CliOutput};
use ehr::Ehr;
use tokio_postgres::{Client, SimpleQueryMessage};

/// Runs `sql` with psql through the gateway as `persona`, with `PGOPTIONS` set
/// to `options`.
fn psql_with_options(ehr: &Ehr, persona: &str, options: &str, sql: &str) -> CliOutput {
    let mut command = Command::new("psql");
    command
        .args(["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .envs(ehr.gateway_variables(persona))
        .env("PGOPTIONS", options);
    run(&mut command)
}

/// Returns the rows of a simple query as text, with NULL as an empty string.
async fn rows(client: &Client, sql: &str) -> Result<Vec<Vec<String>>, tokio_postgres::Error> {
    let messages = client.simple_query(sql).await?;
    let rows = messages
        .iter()
        .filter_map(|message| match message {
            SimpleQueryMessage::Row(row) => {
                let values = (0..row.len())
                    .map(|index| row.get(index).unwrap_or_default().to_owned())
                    .collect();
                Some(values)
            }
            _ => None,
        })
        .collect();
    Ok(rows)
}

/// Asserts a 42501 denial whose message contains `expected`.
fn assert_denied(result: Result<Vec<Vec<String>>, tokio_postgres::Error>, sql: &str, expected: &str) {
    let error = match result {
        Ok(rows) => panic!("{sql}: expected a denial, got {rows:?}"),
        Err(error) => error,
    };
    let db_error = error
        .as_db_error()
        .unwrap_or_else(|| panic!("{sql}: expected a database error, got {error}"));
    assert_eq!(db_error.code().code(), "42501", "{sql}: {db_error}");
    assert!(db_error.message().contains(expected), "{sql}: {}", db_error.message());
}

/// Returns the clear SSNs of the first two patients alice sees, read directly
/// as the upstream role.
async fn clear_ssns(ehr: &Ehr) -> Vec<String> {
    let direct = ehr.connect_direct("alice").await;
    let rows = direct
        .query("SELECT ssn FROM public.patients ORDER BY id LIMIT 2", &[])
        .await
        .expect("read SSNs directly");
    let ssns: Vec<String> = rows.iter().filter_map(|row| row.get::<_, Option<String>>(0)).collect();
    assert!(!ssns.is_empty(), "the first patients have SSNs");
    ssns
}

fn assert_no_clear_ssn(output: &str, ssns: &[String]) {
    for ssn in ssns {
        assert!(!output.contains(ssn.as_str()), "clear SSN {ssn} in {output:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn standard_conforming_strings_stays_on() {
    // A role default of off must not reach the client's sessions.
    let ehr = Ehr::start_with_setup("ALTER ROLE portcullis_gateway SET standard_conforming_strings = off").await;
    let ssns = clear_ssns(&ehr).await;
    let direct = ehr.connect_direct("alice").await;
    let direct_setting = rows(&direct, "SHOW standard_conforming_strings").await.expect("show directly");
    assert_eq!(direct_setting, vec![vec!["off".to_owned()]], "the setup turns it off for the role");

    let carol = ehr.connect_gateway("carol").await;
    let setting = rows(&carol, "SHOW standard_conforming_strings").await.expect("show through the gateway");
    assert_eq!(setting, vec![vec!["on".to_owned()]]);

    // With the setting on, the server reads two string literals, as the gateway does.
    let two_literals = r"SELECT 'a\' AS x, ' , ssn FROM patients --' AS y";
    let result = rows(&carol, two_literals).await.expect("two literals");
    assert_eq!(result, vec![vec![r"a\".to_owned(), " , ssn FROM patients --".to_owned()]]);

    // carol's guardrails deny multi-statement messages, so the transaction is sent in steps.
    rows(&carol, "BEGIN").await.expect("begin");
    for sql in [
        "SET standard_conforming_strings = off",
        "SET SESSION standard_conforming_strings TO false",
        "SET LOCAL standard_conforming_strings = off",
    ] {
        assert_denied(rows(&carol, sql).await, sql, "parameter \"standard_conforming_strings\"");
    }
    rows(&carol, "ROLLBACK").await.expect("rollback");
    let sql = "SELECT set_config('standard_conforming_strings', 'off', false)";
    assert_denied(rows(&carol, sql).await, sql, "set_config");
    rows(&carol, "RESET standard_conforming_strings").await.expect("RESET is allowed");
    let setting = rows(&carol, "SHOW standard_conforming_strings").await.expect("show after RESET");
    assert_eq!(setting, vec![vec!["on".to_owned()]], "RESET returns to the gateway's value");

    // The startup packet's options cannot turn it off either.
    let exploit = r"SELECT 'a\' AS x, ' , ssn FROM patients LIMIT 2 --' AS y";
    for options in ["-c standard_conforming_strings=off", "--standard-conforming-strings=off"] {
        let output = psql_with_options(&ehr, "carol", options, exploit).failure();
        assert!(output.stderr.contains("standard_conforming_strings"), "{output}");
        assert_no_clear_ssn(&output.stdout, &ssns);
        assert_no_clear_ssn(&output.stderr, &ssns);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn search_path_changes_denied() {
    // research.patients contains clear SSNs, and the upstream role searches research first.
    let setup = "\
        CREATE SCHEMA research; \
        CREATE TABLE research.patients (LIKE public.patients); \
        INSERT INTO research.patients SELECT * FROM public.patients; \
        GRANT USAGE ON SCHEMA research TO portcullis_gateway; \
        GRANT SELECT ON research.patients TO portcullis_gateway; \
        ALTER ROLE portcullis_gateway SET search_path = research, public;";
    let ehr = Ehr::start_with_setup(setup).await;
    let ssns = clear_ssns(&ehr).await;
    let alice = ehr.connect_gateway("alice").await;

    // The gateway resolves `patients` with the role's search path, as the server does.
    let sql = "SELECT ssn FROM patients LIMIT 2";
    assert_denied(rows(&alice, sql).await, sql, "research.patients");
    let masked = rows(&alice, "SELECT ssn FROM public.patients ORDER BY id LIMIT 2")
        .await
        .expect("qualified names still work");
    assert_eq!(masked.len(), 2);
    assert_no_clear_ssn(&format!("{masked:?}"), &ssns);

    for sql in [
        "SET search_path = public",
        "SET SCHEMA 'public'",
        "RESET search_path",
        "BEGIN; SET LOCAL search_path = public; ROLLBACK",
    ] {
        assert_denied(rows(&alice, sql).await, sql, "ALTER ROLE ... SET search_path");
    }
    rows(&alice, "ROLLBACK").await.expect("end any open transaction");
    let sql = "SELECT set_config('search_path', 'public', false)";
    assert_denied(rows(&alice, sql).await, sql, "set_config");

    // PREPARE under one path and EXECUTE under another is impossible without a SET.
    let sql = "PREPARE p AS SELECT ssn FROM patients LIMIT 1";
    assert_denied(rows(&alice, sql).await, sql, "research.patients");

    for options in ["-c search_path=public", "--search_path=public", "-csearch_path=public,research"] {
        let output = psql_with_options(&ehr, "alice", options, "SELECT ssn FROM patients LIMIT 2").failure();
        assert!(output.stderr.contains("search_path"), "{output}");
        assert_no_clear_ssn(&output.stdout, &ssns);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn masked_values_not_compared() {
    let ehr = Ehr::start().await;
    let ssns = clear_ssns(&ehr).await;
    let carol = ehr.connect_gateway("carol").await;
    let alice = ehr.connect_gateway("alice").await;

    // DISTINCT and set operations without ALL compare exact values.
    for (client, sql, column) in [
        (&carol, "SELECT DISTINCT dob, mrn FROM patients LIMIT 8", "public.patients."),
        (&alice, "SELECT count(*) FROM (SELECT DISTINCT ssn FROM patients) s", "public.patients.ssn"),
        (&carol, "SELECT dob FROM patients WHERE id = 1 EXCEPT SELECT dob FROM patients WHERE id = 2", "public.patients.dob"),
        (&alice, "SELECT ssn FROM patients INTERSECT SELECT ssn FROM patients", "public.patients.ssn"),
        (&alice, "SELECT ssn FROM patients UNION SELECT ssn FROM patients", "public.patients.ssn"),
    ] {
        assert_denied(rows(client, sql).await, sql, column);
    }
    let all = rows(&alice, "SELECT ssn FROM patients UNION ALL SELECT ssn FROM patients")
        .await
        .expect("UNION ALL keeps every row, so it may return masked values");
    assert!(!all.is_empty(), "alice sees patients");
    assert_no_clear_ssn(&format!("{all:?}"), &ssns);

    // Writing functions need a permit, and carol's read_only guardrail denies them.
    for sql in [
        "SELECT nextval('patients_id_seq')",
        "SELECT setval('patients_id_seq', 1)",
        "SELECT pg_notify('channel', 'payload')",
    ] {
        assert_denied(rows(&carol, sql).await, sql, "(writes)");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn parse_error_text_not_in_clear_audit() {
    let ehr = Ehr::start().await;
    let alice = ehr.connect_gateway("alice").await;
    let sql = "SELECT * FROM patients WHERE ssn = '930-43-3384' 'Zeb-Secret'";
    let error = alice.simple_query(sql).await.expect_err("a syntax error");
    let db_error = error.as_db_error().expect("a database error");
    assert!(db_error.message().contains("syntax error"), "{db_error}");

    let records = ehr.workdir.audit_records();
    let record = records
        .iter()
        .rev()
        .find(|record| record["type"] == "statement")
        .expect("a statement record");
    assert_eq!(record["meta"]["decision"], "deny", "{record}");
    let reason = record["meta"]["reason"].as_str().expect("a clear reason");
    assert!(reason.contains("could not be parsed"), "{reason}");
    assert!(reason.contains("syntax error"), "{reason}");
    let clear = serde_json::to_string(&record["meta"]).expect("serialize meta");
    assert!(!clear.contains("Zeb-Secret"), "{clear}");
    assert!(!clear.contains("930-43"), "{clear}");
}

#[tokio::test(flavor = "multi_thread")]
async fn system_user_read_as_upstream_does() {
    let ehr = Ehr::start().await;
    let ssns = clear_ssns(&ehr).await;
    let direct = ehr.connect_direct("alice").await;
    let version = rows(&direct, "SHOW server_version_num").await.expect("read the server version");
    let version: u32 = version[0][0].parse().expect("a numeric server_version_num");

    // PostgreSQL 15 and older read bare system_user as the subquery's column,
    // while the gateway's PostgreSQL 18 parser reads a function call.
    let sql = "select system_user from (select ssn as system_user from patients) s limit 3";
    for persona in ["alice", "bob", "carol"] {
        let client = ehr.connect_gateway(persona).await;
        let result = rows(&client, sql).await;
        if version < 160_000 {
            assert_denied(result, sql, "\"system_user\" in double quotes");
        } else {
            let values = result.expect("on PostgreSQL 16 and newer system_user is a function");
            assert_no_clear_ssn(&format!("{values:?}"), &ssns);
        }
        let after = rows(&client, "SELECT 1").await.expect("the session stays usable");
        assert_eq!(after, vec![vec!["1".to_owned()]], "{persona}");
    }
    if version < 160_000 {
        let records = ehr.workdir.audit_records();
        let record = records
            .iter()
            .rev()
            .find(|record| record["type"] == "statement" && record["meta"]["decision"] == "deny")
            .expect("a denied statement record");
        let reason = record["meta"]["reason"].as_str().expect("a clear reason");
        assert!(reason.contains("system_user"), "{reason}");
    }

    // A quoted name is a column on every version, and alice sees it masked.
    let alice = ehr.connect_gateway("alice").await;
    let quoted = "select \"system_user\" from (select ssn as \"system_user\" from patients) s limit 3";
    let values = rows(&alice, quoted).await.expect("a quoted column is allowed");
    assert_eq!(values.len(), 3, "{values:?}");
    assert_no_clear_ssn(&format!("{values:?}"), &ssns);
}

/// Row-level security applies through the notes view too: the view is read with the
/// gateway role's privileges, so alice sees only her department's notes there.
#[tokio::test(flavor = "multi_thread")]
async fn notes_view_keeps_department_scope() {
    let ehr = Ehr::start().await;
    let gateway = ehr.connect_gateway("alice").await;
    let through_view: i64 = gateway
        .query_one("SELECT count(*) FROM clinical_notes_general", &[])
        .await
        .expect("count notes through the view")
        .get(0);

    let direct = ehr.connect_direct("alice").await;
    let in_department: i64 = direct
        .query_one(
            "SELECT count(*) FROM clinical_notes n JOIN encounters e ON e.id = n.encounter_id \
             WHERE n.note_type NOT IN ('psychotherapy', 'substance_use')",
            &[],
        )
        .await
        .expect("count the department's notes directly")
        .get(0);
    let all: i64 = ehr
        .cluster
        .psql("ehr", "SELECT count(*) FROM clinical_notes WHERE note_type NOT IN ('psychotherapy', 'substance_use')")
        .expect("count every note as superuser")
        .trim()
        .parse()
        .expect("numeric count");

    assert!(in_department > 0, "alice's department has notes");
    assert!(in_department < all, "other departments have notes too");
    assert_eq!(through_view, in_department, "the view returns only alice's department's notes");
}
