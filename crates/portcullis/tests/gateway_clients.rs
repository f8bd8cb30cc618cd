//! Masked results in real drivers that transfer values in binary format (asyncpg, and
//! pgjdbc with `binaryTransfer=true`), and a denial in the middle of an extended-protocol
//! pipeline (psycopg pipeline mode), through the gateway on the demo EHR database.
//!
//! The drivers run the probe queries of the mask_probe role (tests/fixtures/
//! mask_probe.cedar), which cover every mask method on every column type of the demo
//! schema, decode each value into the driver's own type and print it in PostgreSQL's
//! text form. Each printed value must equal the direct value with the probe's mask
//! applied (see support/masks.rs).
//!
//! A missing client fails its test with the command that installs it:
//! `scripts/install-deps.sh --test` for Java and the pgjdbc jar,
//! `tests/conformance/setup.sh` for asyncpg and psycopg.

mod common;

#[path = "support/ehr.rs"]
mod ehr;

#[path = "support/masks.rs"]
mod masks;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use tokio_postgres::types::Type;
use tokio_postgres::SimpleQueryMessage;

use masks::{compare_rows, Observed, Rows};

/// Debian's libpostgresql-jdbc-java installs the driver here.
const PGJDBC_JAR: &str = "/usr/share/java/postgresql.jar";

/// Probe queries of the role mask_probe: name, SQL, and the mask of each result column.
/// Without ORDER BY, because the ordering columns are masked; the direct query reads
/// the same rows in the same order from a sequential scan.
#[rustfmt::skip]
const PROBES: [(&str, &str, &[&str]); 5] = [
    ("patients", "SELECT id, ssn, address, phone, mrn, first_name, external_id, dob, zip, email FROM patients WHERE id <= 300",
        &["-", "partial:4", "redact", "redact", "token", "token", "token", "year", "zip3", "null"]),
    ("encounters", "SELECT id, patient_id, attending_staff_id, admitted_at, discharged_at, acuity FROM encounters WHERE id <= 300",
        &["-", "null", "token", "year", "null", "null"]),
    ("lab_results", "SELECT id, value, unit, resulted_at FROM lab_results WHERE id <= 300", &["-", "token", "-", "year"]),
    ("clinical_notes", "SELECT id, author_staff_id, written_at FROM clinical_notes WHERE id <= 300", &["-", "null", "year"]),
    ("claims", "SELECT id, encounter_id, cpt_code, amount, payer FROM claims LIMIT 300",
        &["token", "null", "redact", "null", "partial:4"]),
];

/// A probe the gateway denies; the driver must report 42501 and keep the session.
const DENIED_PROBE: (&str, &str) = ("denied", "SELECT id FROM claims WHERE amount > 100");

/// Column types each driver must have decoded under each mask method.
const TYPE_COVERAGE: [(&str, &[&str]); 11] = [
    ("text", &["partial:4", "redact", "token", "null"]),
    ("varchar", &["partial:4", "redact", "token"]),
    ("bpchar", &["redact", "zip3"]),
    ("date", &["year"]),
    ("timestamp", &["year"]),
    ("timestamptz", &["year", "null"]),
    ("numeric", &["token", "null"]),
    ("int4", &["token", "null"]),
    ("int8", &["token"]),
    ("int2", &["null"]),
    ("uuid", &["token"]),
];

fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients")
}

/// Python of the virtual environment that tests/conformance/setup.sh fills.
fn venv_python() -> PathBuf {
    let dir = std::env::var_os("PORTCULLIS_CONFORMANCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repository_root().join("target/conformance"));
    let python = dir.join("venv/bin/python");
    assert!(python.exists(), "{} not found; install asyncpg and psycopg with `tests/conformance/setup.sh`", python.display());
    python
}

/// Runs a client with `input` on stdin; returns its stdout, failing on a non-zero exit.
fn run_client(mut command: Command, input: &str) -> String {
    let description = format!("{command:?}");
    let mut child = command
        .env("TZ", "UTC")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("starting {description} failed: {error}"));
    child.stdin.take().expect("piped stdin").write_all(input.as_bytes()).expect("write the probes");
    let output = child.wait_with_output().expect("wait for the client");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{description} failed with {}\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn probe_input() -> String {
    PROBES
        .iter()
        .map(|(name, sql, _)| (*name, *sql))
        .chain([DENIED_PROBE])
        .map(|(name, sql)| format!("{name}\t{sql}\n"))
        .collect()
}

/// What a driver printed: rows by probe name, and errors (SQLSTATE and message).
#[derive(Default)]
struct DriverOutput {
    rows: BTreeMap<String, Rows>,
    errors: BTreeMap<String, (String, String)>,
}

fn parse_output(stdout: &str) -> DriverOutput {
    let mut output = DriverOutput::default();
    for line in stdout.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        match fields.as_slice() {
            ["ROW", name, values @ ..] => output.rows.entry((*name).to_owned()).or_default().push(
                values
                    .iter()
                    .map(|value| (*value != "\\N").then(|| value.as_bytes().to_vec()))
                    .collect(),
            ),
            ["ERROR", name, code, message] => {
                output.errors.insert((*name).to_owned(), ((*code).to_owned(), (*message).to_owned()));
            }
            _ => panic!("unexpected client output line {line:?}"),
        }
    }
    output
}

/// Checks a driver's output against the direct results with the probes' masks applied.
async fn check_driver(environment: &ehr::Ehr, driver: &str, output: &DriverOutput) {
    let direct = environment.connect_direct("quinn").await;
    let mut observed = Observed::default();
    let mut failures = Vec::new();
    for (name, sql, plan) in PROBES {
        let statement = direct.prepare(sql).await.expect("prepare the probe directly");
        let columns: Vec<(String, Type)> = statement
            .columns()
            .iter()
            .map(|column| (column.name().to_owned(), column.type_().clone()))
            .collect();
        let expected: Rows = direct
            .simple_query(sql)
            .await
            .expect("run the probe directly")
            .iter()
            .filter_map(|message| match message {
                SimpleQueryMessage::Row(row) => {
                    Some((0..row.len()).map(|index| row.get(index).map(|text| text.as_bytes().to_vec())).collect())
                }
                _ => None,
            })
            .collect();
        assert!(!expected.is_empty(), "probe {name} returned no rows directly");
        let Some(rows) = output.rows.get(name) else {
            failures.push(format!("{name}: no rows; error {:?}", output.errors.get(name)));
            continue;
        };
        for problem in compare_rows(&mut observed, plan, &columns, false, &expected, rows) {
            failures.push(format!("{name}: {problem}"));
        }
    }
    assert!(failures.is_empty(), "{driver} decoded masked values wrongly:\n{}", failures.join("\n"));

    let denial = output.errors.get(DENIED_PROBE.0);
    assert!(
        denial.is_some_and(|(code, message)| code == "42501" && message.contains("cannot be used in WHERE")),
        "{driver}: the denied probe gave {denial:?}"
    );
    for (ty, methods) in TYPE_COVERAGE {
        for method in methods {
            assert!(
                observed.methods.contains(&(method.to_string(), ty.to_owned(), "text")),
                "{driver}: no probe checked {method} on {ty}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_drivers_decode_masks() {
    let environment = ehr::Ehr::start().await;

    let mut asyncpg = Command::new(venv_python());
    asyncpg.arg(clients_dir().join("masks_asyncpg.py")).envs(environment.gateway_variables("quinn"));
    let stdout = run_client(asyncpg, &probe_input());
    check_driver(&environment, "asyncpg", &parse_output(&stdout)).await;

    assert!(Path::new(PGJDBC_JAR).exists(), "{PGJDBC_JAR} not found; install it with `scripts/install-deps.sh --test`");
    let variables: BTreeMap<_, _> = environment.gateway_variables("quinn").into_iter().collect();
    let mut jdbc = Command::new("java");
    jdbc.arg("-cp")
        .arg(PGJDBC_JAR)
        .arg(clients_dir().join("MasksJdbc.java"))
        .args(["localhost", &variables["PGPORT"], ehr::TARGET, "quinn", &variables["PGPASSWORD"]])
        .arg(environment.ca_cert());
    let stdout = run_client(jdbc, &probe_input());
    check_driver(&environment, "pgjdbc", &parse_output(&stdout)).await;
}

/// An allowed read, a denied read and an allowed INSERT whose note body names the
/// variant, so the test can see whether the INSERT ran.
const PIPELINE: [&str; 3] = [
    "SELECT mrn FROM patients ORDER BY id LIMIT 2",
    "SELECT id FROM patients ORDER BY ssn LIMIT 1",
    "INSERT INTO clinical_notes (encounter_id, author_staff_id, note_type, body, written_at) \
     SELECT e.id, e.attending_staff_id, 'progress', 'pipeline {marker}', now() FROM encounters e ORDER BY e.id LIMIT 1",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipeline_denial_skips_to_sync() {
    let environment = ehr::Ehr::start().await;
    let mut psycopg = Command::new(venv_python());
    psycopg
        .arg(clients_dir().join("pipeline_psycopg.py"))
        .args(PIPELINE)
        .envs(environment.gateway_variables("alice"));
    let stdout = run_client(psycopg, "");
    let lines: Vec<&str> = stdout.lines().collect();
    let denial = "FATAL_ERROR 42501 permission denied by the gateway";

    // One Sync: PostgreSQL skips every message after the error up to the Sync, so the
    // INSERT never runs and libpq reports it as aborted.
    assert_eq!(lines.first(), Some(&"one-sync TUPLES_OK 2"), "output:\n{stdout}");
    assert!(lines.get(1).is_some_and(|line| line.starts_with(&format!("one-sync {denial}"))), "output:\n{stdout}");
    assert_eq!(lines.get(2), Some(&"one-sync PIPELINE_ABORTED 0"), "output:\n{stdout}");
    assert_eq!(lines.get(3), Some(&"one-sync PIPELINE_SYNC"), "output:\n{stdout}");
    // A Sync after each statement: only the denied one fails.
    assert_eq!(lines.get(4), Some(&"sync-each TUPLES_OK 2"), "output:\n{stdout}");
    assert_eq!(lines.get(5), Some(&"sync-each PIPELINE_SYNC"), "output:\n{stdout}");
    assert!(lines.get(6).is_some_and(|line| line.starts_with(&format!("sync-each {denial}"))), "output:\n{stdout}");
    assert_eq!(lines.get(7), Some(&"sync-each PIPELINE_SYNC"), "output:\n{stdout}");
    assert_eq!(lines.get(8), Some(&"sync-each COMMAND_OK 0"), "output:\n{stdout}");
    assert_eq!(lines.get(9), Some(&"sync-each PIPELINE_SYNC"), "output:\n{stdout}");
    assert_eq!(lines.get(10), Some(&"after 42"), "the session is unusable after the pipelines:\n{stdout}");
    assert_eq!(lines.len(), 11, "unexpected results:\n{stdout}");

    let direct = environment.connect_direct("alice").await;
    for (variant, expected) in [("one-sync", 0_i64), ("sync-each", 1)] {
        let row = direct
            .query_one("SELECT count(*) FROM clinical_notes WHERE body = $1", &[&format!("pipeline {variant}")])
            .await
            .expect("count the pipeline's notes directly");
        assert_eq!(row.get::<_, i64>(0), expected, "notes written by the {variant} pipeline");
    }
}

/// A statement prepared with SQL PREPARE and run with protocol Bind and Execute has no
/// Parse the gateway checked, so its rows would pass unmasked: the gateway denies that
/// use, while SQL EXECUTE of the same statement stays masked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_prepared_statement_not_bound() {
    let environment = ehr::Ehr::start().await;
    let mut psycopg = Command::new(venv_python());
    psycopg
        .arg(clients_dir().join("sql_prepared_psycopg.py"))
        .arg("SELECT id, ssn FROM patients ORDER BY id LIMIT 2")
        .envs(environment.gateway_variables("alice"));
    let stdout = run_client(psycopg, "");
    let lines: Vec<&str> = stdout.lines().collect();

    assert_eq!(lines.first(), Some(&"prepare COMMAND_OK"), "output:\n{stdout}");
    let bound = lines.get(1).copied().unwrap_or_default();
    assert!(bound.starts_with("bound FATAL_ERROR 42501"), "protocol execution of a SQL-prepared statement: {bound}");
    assert!(bound.contains("did not see the Parse and Bind"), "the message says why: {bound}");
    let executed = lines.get(2).copied().unwrap_or_default();
    assert!(executed.starts_with("sql-execute TUPLES_OK 2 "), "SQL EXECUTE still works: {executed}");
    let ssn = executed.rsplit(' ').next().unwrap_or_default();
    assert!(ssn.starts_with('*'), "SQL EXECUTE returns the SSN masked: {executed}");
    assert_eq!(lines.get(3), Some(&"after 42"), "the session is usable:\n{stdout}");
}

/// A second Parse of a name in use fails on the server, which keeps the first
/// statement, so the gateway must keep the first statement's masks too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_parse_keeps_masks() {
    let environment = ehr::Ehr::start().await;
    let mut psycopg = Command::new(venv_python());
    psycopg
        .arg(clients_dir().join("reused_name_psycopg.py"))
        .arg("SELECT first_name, last_name, ssn FROM patients ORDER BY id LIMIT 3")
        .arg("SELECT first_name, last_name, city FROM patients ORDER BY id LIMIT 3")
        .envs(environment.gateway_variables("alice"));
    let stdout = run_client(psycopg, "");
    let lines: Vec<&str> = stdout.lines().collect();

    assert_eq!(lines.first(), Some(&"first COMMAND_OK"), "output:\n{stdout}");
    assert_eq!(lines.get(1), Some(&"second FATAL_ERROR 42P05"), "output:\n{stdout}");
    let executed = lines.get(2).copied().unwrap_or_default();
    assert!(executed.starts_with("executed TUPLES_OK 3 "), "output:\n{stdout}");
    let ssn = executed.rsplit(' ').next().unwrap_or_default();
    assert!(ssn.starts_with('*'), "the first statement's SSN mask still applies: {executed}");
}

/// A protocol statement name that SQL DEALLOCATE freed and SQL PREPARE reused stays
/// untrusted, even after a DEALLOCATE that was parsed but never run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_reused_statement_name_denied() {
    let environment = ehr::Ehr::start().await;
    let mut psycopg = Command::new(venv_python());
    psycopg
        .arg(clients_dir().join("sql_name_reuse_psycopg.py"))
        .arg("SELECT first_name, city FROM patients ORDER BY id LIMIT 2")
        .arg("SELECT first_name, ssn FROM patients ORDER BY id LIMIT 2")
        .envs(environment.gateway_variables("alice"));
    let stdout = run_client(psycopg, "");
    let lines: Vec<&str> = stdout.lines().collect();

    assert_eq!(lines.first(), Some(&"parse COMMAND_OK"), "output:\n{stdout}");
    assert_eq!(lines.get(1), Some(&"deallocate COMMAND_OK"), "output:\n{stdout}");
    assert_eq!(lines.get(2), Some(&"prepare COMMAND_OK"), "output:\n{stdout}");
    assert_eq!(lines.get(3), Some(&"parse-only COMMAND_OK"), "output:\n{stdout}");
    assert_eq!(lines.get(4), Some(&"executed FATAL_ERROR 42501"), "the reused name must be denied:\n{stdout}");
}
