//! The decision corpus of portcullis-policy, run through a real gateway against the demo
//! EHR database with one real client connection per persona.
//!
//! Every case of crates/portcullis-policy/tests/corpus/cases.rs runs here, plus the
//! cases of `GATEWAY_CASES`, which give every mask method on every column type of the
//! demo schema. For each case:
//!
//! - a denial must arrive as SQLSTATE 42501 with the expected text, and the persona's
//!   connection must stay usable for the next case;
//! - an allowed single read runs twice through the gateway, in the simple protocol
//!   (text format) and in the extended protocol (tokio-postgres requests binary), and
//!   twice directly upstream as the gateway's role with the persona's department. Each
//!   gateway value must equal the direct value with the case's mask applied:
//!   `partial:4` keeps at most the last four characters and at most half, `redact`,
//!   `year` and `zip3` (with `000` for the restricted prefixes) have one possible
//!   output, `null` gives NULL, and `token` must map equal inputs to equal tokens and
//!   different inputs to different tokens;
//! - an allowed COPY TO STDOUT is compared field by field in the same way, and an
//!   allowed COPY FROM STDIN must fail in PostgreSQL as it does directly (row-level
//!   security rejects it);
//! - a read above the researcher's `max_rows` guardrail must end with SQLSTATE 54000;
//! - any other allowed statement must not be denied by the gateway (an error from
//!   PostgreSQL itself, such as SAVEPOINT outside a transaction, is accepted);
//! - every session must still run `SELECT 1` after every case.
//!
//! dave cannot connect without a just-in-time grant, frank not without break-glass and
//! mallory not at all, so their cases without a grant are satisfied by the refused
//! connection. Then dave requests `dba` and erin approves, and frank breaks the glass
//! for `emergency`. The cases of `dave+jit` and `frank+glass` run in sessions opened
//! on those grants, which set `context.via_jit` and `context.via_break_glass`.

mod common;

#[path = "support/ehr.rs"]
mod ehr;

#[path = "support/masks.rs"]
mod masks;

#[allow(dead_code)]
#[path = "../../portcullis-policy/tests/corpus/cases.rs"]
mod cases;

use std::collections::HashMap;
use std::time::Instant;

use futures::{pin_mut, TryStreamExt};
use tokio_postgres::types::Type;
use tokio_postgres::{Client, SimpleQueryMessage};

use cases::{Allow, Deny, Expect, CASES, PATIENTS_FOR_CAROL};
use masks::{compare_rows, format_name, Observed, Raw, Rows};

/// Cases that need the gateway: the mask_probe role of tests/fixtures/mask_probe.cedar
/// reads every column type of the demo schema under every mask method.
#[rustfmt::skip]
const GATEWAY_CASES: &[(&str, &str, &str, Expect)] = &[
    ("probe patients", "quinn", "SELECT id, ssn, address, phone, mrn, first_name, external_id, dob, zip, email FROM patients",
        Allow(&["-", "partial:4", "redact", "redact", "token", "token", "token", "year", "zip3", "null"])),
    ("probe encounters", "quinn", "SELECT id, patient_id, attending_staff_id, admitted_at, discharged_at, acuity FROM encounters",
        Allow(&["-", "null", "token", "year", "null", "null"])),
    ("probe lab results", "quinn", "SELECT id, value, unit, resulted_at FROM lab_results", Allow(&["-", "token", "-", "year"])),
    ("probe notes", "quinn", "SELECT id, author_staff_id, written_at FROM clinical_notes", Allow(&["-", "null", "year"])),
    ("probe claims", "quinn", "SELECT id, encounter_id, cpt_code, amount, payer FROM claims",
        Allow(&["token", "null", "redact", "null", "partial:4"])),
    ("probe select star", "quinn", "SELECT * FROM lab_results", Allow(&["-", "-", "-", "token", "-", "year"])),
    ("probe select star with denied column", "quinn", "SELECT * FROM claims", Deny("reading column public.claims.status")),
    ("probe token equality survives", "quinn", "SELECT a.mrn, b.mrn FROM patients a JOIN patients b ON b.id = a.id WHERE a.id < 20",
        Allow(&["token", "token"])),
    ("probe filter on null mask", "quinn", "SELECT id FROM claims WHERE amount > 100", Deny("cannot be used in WHERE")),
    ("probe order by token", "quinn", "SELECT id FROM lab_results ORDER BY value", Deny("cannot be used in ORDER BY")),
    ("probe denied column", "quinn", "SELECT status FROM claims", Deny("reading column public.claims.status")),
    // The researcher's guardrail caps results at 1000 rows; these stay under it.
    ("researcher star under row cap", "carol", "SELECT * FROM patients ORDER BY id LIMIT 1000", Allow(PATIENTS_FOR_CAROL)),
    ("researcher labs under row cap", "carol", "SELECT loinc_code, value, unit, resulted_at FROM lab_results ORDER BY id LIMIT 1000",
        Allow(&["-", "-", "-", "year"])),
    ("probe copy", "quinn", "COPY (SELECT id, ssn, dob, zip, email FROM patients WHERE id < 100) TO STDOUT",
        Allow(&["-", "partial:4", "year", "zip3", "null"])),
];

/// Personas who cannot connect without a grant: dave has no standing role and the
/// demo policies let `dba` connect only on a just-in-time grant (dba.connect-jit),
/// frank's standing role `on_call` is in no connect policy, nor is mallory's. Their
/// cases without a grant must be denials, which the refused connection satisfies.
const NOT_CONNECTING: [&str; 3] = ["dave", "frank", "mallory"];

/// Case personas that run on a grant, by the user they connect as.
const GRANTED: [(&str, &str); 2] = [("dave+jit", "dave"), ("frank+glass", "frank")];

/// The `max_rows` guardrail of the researcher role in the demo guardrails.toml. A
/// larger result ends with SQLSTATE 54000 instead of its rows.
const RESEARCHER_MAX_ROWS: usize = 1000;

/// Allowed reads whose result is not compared with the direct one, only checked not to
/// be denied: the cross join of patients and pg_class is about 300,000 rows.
const NOT_COMPARED: [&str; 1] = ["mask before unlisted star"];

/// What a statement returned.
#[derive(Debug)]
enum Outcome {
    Rows(Rows),
    /// Denied by the gateway: SQLSTATE 42501 with the gateway's message.
    Denied(String),
    /// Failed in PostgreSQL: SQLSTATE and message.
    Failed(String, String),
}

fn outcome_of_error(error: &tokio_postgres::Error) -> Outcome {
    let Some(db) = error.as_db_error() else {
        return Outcome::Failed("client".to_owned(), error.to_string());
    };
    if db.code().code() == "42501" && db.message().starts_with("permission denied by the gateway") {
        Outcome::Denied(db.message().to_owned())
    } else {
        Outcome::Failed(db.code().code().to_owned(), db.message().to_owned())
    }
}

async fn run_text(client: &Client, sql: &str) -> Outcome {
    match client.simple_query(sql).await {
        Ok(messages) => Outcome::Rows(
            messages
                .iter()
                .filter_map(|message| match message {
                    SimpleQueryMessage::Row(row) => Some(
                        (0..row.len())
                            .map(|index| row.get(index).map(|text| text.as_bytes().to_vec()))
                            .collect(),
                    ),
                    _ => None,
                })
                .collect(),
        ),
        Err(error) => outcome_of_error(&error),
    }
}

async fn run_binary(client: &Client, sql: &str) -> Outcome {
    match client.query(sql, &[]).await {
        Ok(rows) => Outcome::Rows(
            rows.iter()
                .map(|row| (0..row.len()).map(|index| row.get::<_, Raw>(index).0).collect())
                .collect(),
        ),
        Err(error) => outcome_of_error(&error),
    }
}

/// Runs COPY … TO STDOUT and splits the output, in text or CSV format, into fields.
/// The demo data has no separators, quotes or backslashes in the columns the cases copy.
async fn run_copy_out(client: &Client, sql: &str) -> Outcome {
    let stream = match client.copy_out(sql).await {
        Ok(stream) => stream,
        Err(error) => return outcome_of_error(&error),
    };
    pin_mut!(stream);
    let mut data = Vec::new();
    loop {
        match stream.try_next().await {
            Ok(Some(chunk)) => data.extend_from_slice(&chunk),
            Ok(None) => break,
            Err(error) => return outcome_of_error(&error),
        }
    }
    let text = String::from_utf8(data).expect("COPY output is UTF-8");
    let (separator, null) = if sql.to_ascii_uppercase().contains("FORMAT CSV") { (',', "") } else { ('\t', "\\N") };
    let rows = text
        .lines()
        .map(|line| {
            line.split(separator)
                .map(|field| (field != null).then(|| field.as_bytes().to_vec()))
                .collect()
        })
        .collect();
    Outcome::Rows(rows)
}

/// How a case runs and what the test compares.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Shape {
    /// One read-only statement: compared with the direct result in text and binary.
    Read,
    CopyOut,
    /// COPY FROM STDIN: sent in the simple protocol, compared with the direct outcome.
    CopyIn,
    /// Anything else: the gateway must not deny it.
    Other,
}

fn shape(sql: &str) -> Shape {
    let upper = sql.to_ascii_uppercase();
    let multi = sql.trim_end_matches(';').contains(';');
    let writes = ["INSERT ", "UPDATE ", "DELETE ", "MERGE ", " FOR UPDATE"]
        .iter()
        .any(|word| upper.contains(word));
    // Functions whose value differs between two runs.
    let volatile = ["NOW()", "VERSION()", "PG_SLEEP", "CTID"].iter().any(|word| upper.contains(word));
    if upper.starts_with("COPY") && upper.contains("TO STDOUT") {
        Shape::CopyOut
    } else if upper.starts_with("COPY") && upper.contains("FROM STDIN") {
        Shape::CopyIn
    } else if !multi && !writes && !volatile && ["SELECT", "WITH", "TABLE", "VALUES"].iter().any(|kw| upper.starts_with(kw)) {
        Shape::Read
    } else {
        Shape::Other
    }
}

/// Statements after which the session needs ROLLBACK and DEALLOCATE ALL, so that the
/// next case starts outside a transaction and without prepared statements.
fn needs_cleanup(sql: &str) -> bool {
    let upper = sql.to_ascii_uppercase();
    ["BEGIN", "PREPARE ", "DECLARE ", "SAVEPOINT", "SET TRANSACTION"]
        .iter()
        .any(|word| upper.contains(word))
}

/// Sessions by case persona (`dave+jit` is dave on his grant).
struct Connections {
    gateway: HashMap<&'static str, Client>,
    direct: HashMap<&'static str, Client>,
    /// Password for each gateway session: the login token, or the break-glass token.
    tokens: HashMap<&'static str, String>,
}

/// Returns the user a case persona connects as.
fn user_of(persona: &str) -> &str {
    persona.split_once('+').map_or(persona, |(user, _)| user)
}

/// Runs one case; returns a description of each mismatch.
async fn run_case(connections: &Connections, observed: &mut Observed, name: &str, persona: &str, sql: &str, expect: &Expect) -> Vec<String> {
    let gateway = &connections.gateway[persona];
    let direct = &connections.direct[persona];
    let shape = if NOT_COMPARED.contains(&name) { Shape::Other } else { shape(sql) };
    let max_rows = (persona == "carol").then_some(RESEARCHER_MAX_ROWS);
    let outcome = match shape {
        Shape::CopyOut => run_copy_out(gateway, sql).await,
        Shape::Read | Shape::CopyIn | Shape::Other => run_text(gateway, sql).await,
    };
    let mut problems = Vec::new();
    match (expect, &outcome) {
        (Deny(text), Outcome::Denied(message)) => {
            if !message.contains(text) {
                problems.push(format!("denial {message:?} lacks {text:?}"));
            }
        }
        (Deny(text), other) => problems.push(format!("expected a denial containing {text:?}, got {}", describe(other))),
        (Allow(_), Outcome::Denied(message)) => problems.push(format!("expected allow, denied: {message}")),
        (Allow(plan), _) => match shape {
            Shape::Read => problems.extend(compare_read(observed, gateway, direct, sql, plan, max_rows, outcome).await),
            Shape::CopyOut => problems.extend(compare_copy(observed, direct, sql, plan, max_rows, outcome).await),
            Shape::CopyIn => {
                // Every table a case copies into has row-level security, so PostgreSQL
                // rejects the COPY before it requests data, through the gateway as directly.
                let straight = run_text(direct, sql).await;
                match (&outcome, &straight) {
                    (Outcome::Failed(code, _), Outcome::Failed(direct_code, _)) if code == direct_code => {}
                    (through, straight) => problems.push(format!("gateway: {}, directly: {}", describe(through), describe(straight))),
                }
            }
            Shape::Other => {}
        },
    }
    if needs_cleanup(sql) {
        for cleanup in ["ROLLBACK", "DEALLOCATE ALL"] {
            if let Err(error) = gateway.simple_query(cleanup).await {
                problems.push(format!("{cleanup} after the case failed: {error}"));
            }
        }
    }
    problems
}

fn describe(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Rows(rows) => format!("{} rows", rows.len()),
        Outcome::Denied(message) => format!("denial {message:?}"),
        Outcome::Failed(code, message) => format!("PostgreSQL error {code}: {message}"),
    }
}

/// Compares an allowed read with the direct result in text, then in binary format.
async fn compare_read(
    observed: &mut Observed,
    gateway: &Client,
    direct: &Client,
    sql: &str,
    plan: &[&str],
    max_rows: Option<usize>,
    text_outcome: Outcome,
) -> Vec<String> {
    let columns: Vec<(String, Type)> = match direct.prepare(sql).await {
        Ok(statement) => statement
            .columns()
            .iter()
            .map(|column| (column.name().to_owned(), column.type_().clone()))
            .collect(),
        Err(error) => {
            // PostgreSQL rejects the statement itself; the gateway must pass that on.
            return match (&text_outcome, outcome_of_error(&error)) {
                (Outcome::Failed(code, _), Outcome::Failed(direct_code, _)) if *code == direct_code => Vec::new(),
                (gateway_outcome, direct_outcome) => vec![format!(
                    "gateway: {}, directly: {}",
                    describe(gateway_outcome),
                    describe(&direct_outcome)
                )],
            };
        }
    };
    if !plan.is_empty() && plan.len() != columns.len() {
        return vec![format!("{} result columns, but the plan has {}", columns.len(), plan.len())];
    }
    let mut problems = Vec::new();
    for binary in [false, true] {
        let gateway_outcome = if binary { run_binary(gateway, sql).await } else { text_outcome_clone(&text_outcome) };
        let direct_outcome = if binary { run_binary(direct, sql).await } else { run_text(direct, sql).await };
        let format = format_name(binary);
        match (&gateway_outcome, &direct_outcome) {
            (Outcome::Rows(through), Outcome::Rows(straight)) => {
                for problem in compare_rows(observed, plan, &columns, binary, straight, through) {
                    problems.push(format!("{format}: {problem}"));
                }
            }
            (Outcome::Failed(code, _), Outcome::Failed(direct_code, _)) if code == direct_code => {}
            (Outcome::Failed(code, _), Outcome::Rows(straight))
                if code == "54000" && max_rows.is_some_and(|max| straight.len() > max) => {}
            (through, straight) => problems.push(format!("{format}: gateway: {}, directly: {}", describe(through), describe(straight))),
        }
    }
    problems
}

fn text_outcome_clone(outcome: &Outcome) -> Outcome {
    match outcome {
        Outcome::Rows(rows) => Outcome::Rows(rows.clone()),
        Outcome::Denied(message) => Outcome::Denied(message.clone()),
        Outcome::Failed(code, message) => Outcome::Failed(code.clone(), message.clone()),
    }
}

/// Compares an allowed COPY TO STDOUT with the same COPY run directly. Text-format
/// COPY output has the text format of each type, and the COPY's query gives the types.
async fn compare_copy(
    observed: &mut Observed,
    direct: &Client,
    sql: &str,
    plan: &[&str],
    max_rows: Option<usize>,
    outcome: Outcome,
) -> Vec<String> {
    let direct_outcome = run_copy_out(direct, sql).await;
    if let (Outcome::Failed(code, _), Outcome::Rows(straight)) = (&outcome, &direct_outcome) {
        if code == "54000" && max_rows.is_some_and(|max| straight.len() > max) {
            return Vec::new();
        }
    }
    let (Outcome::Rows(through), Outcome::Rows(straight)) = (&outcome, &direct_outcome) else {
        return vec![format!("gateway: {}, directly: {}", describe(&outcome), describe(&direct_outcome))];
    };
    let Some(query) = copy_query(sql) else {
        return vec![format!("cannot find the query of {sql:?}")];
    };
    let columns: Vec<(String, Type)> = match direct.prepare(&query).await {
        Ok(statement) => statement
            .columns()
            .iter()
            .map(|column| (column.name().to_owned(), column.type_().clone()))
            .collect(),
        Err(error) => return vec![format!("preparing the COPY query directly failed: {error}")],
    };
    compare_rows(observed, plan, &columns, false, straight, through)
}

/// Returns the query whose result a COPY TO STDOUT writes: `COPY (query) TO STDOUT [WITH …]`,
/// or `COPY table [(columns)] TO STDOUT [WITH …]` as a SELECT.
fn copy_query(sql: &str) -> Option<String> {
    let body = sql.strip_prefix("COPY ")?;
    let end = body.find(" TO STDOUT")?;
    let source = body[..end].trim();
    if let Some(query) = source.strip_prefix('(').and_then(|rest| rest.strip_suffix(')')) {
        return Some(query.to_owned());
    }
    match source.split_once(" (") {
        Some((table, columns)) => Some(format!("SELECT {} FROM {table}", columns.strip_suffix(')')?)),
        None => Some(format!("SELECT * FROM {source}")),
    }
}

/// Connects to the gateway as `user` for the case persona `persona`, with its token
/// in `connections` or else the user's login token.
async fn connect_granted(environment: &ehr::Ehr, connections: &Connections, persona: &str, user: &str) -> Client {
    let connected = match connections.tokens.get(persona) {
        Some(token) => environment.try_connect_gateway_with(user, token).await,
        None => environment.try_connect_gateway(user).await,
    };
    connected.unwrap_or_else(|error| panic!("connecting to the gateway as {persona} failed: {error:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corpus_through_gateway() {
    let started = Instant::now();
    let environment = ehr::Ehr::start().await;
    let mut connections = Connections {
        gateway: HashMap::new(),
        direct: HashMap::new(),
        tokens: HashMap::new(),
    };
    for (persona, ..) in ehr::PERSONAS {
        if NOT_CONNECTING.contains(&persona) {
            let refused = environment.try_connect_gateway(persona).await;
            let code = refused.as_ref().err().and_then(|error| error.code()).map(|code| code.code().to_owned());
            // Class 28 (invalid authorization): 28000 names the target, 28P01 does not.
            assert!(
                code.as_deref().is_some_and(|code| code.starts_with("28")),
                "{persona} connected or failed otherwise: {refused:?}"
            );
            continue;
        }
        connections.gateway.insert(persona, environment.connect_gateway(persona).await);
        connections.direct.insert(persona, environment.connect_direct(persona).await);
    }

    // The refusals above came first: from here on, dave's and frank's sessions run on
    // their grants.
    environment.approve_just_in_time("dave");
    let glass_token = environment.break_glass("frank").await;
    connections.tokens.insert("frank+glass", glass_token);
    for (persona, user) in GRANTED {
        let client = connect_granted(&environment, &connections, persona, user).await;
        connections.gateway.insert(persona, client);
        connections.direct.insert(persona, environment.connect_direct(user).await);
    }

    let mut observed = Observed::default();
    let mut failures = Vec::new();
    let mut ran = 0;
    for (name, persona, sql, expect) in CASES.iter().chain(GATEWAY_CASES) {
        ran += 1;
        if NOT_CONNECTING.contains(persona) {
            if let Allow(_) = expect {
                failures.push(format!("{name} ({persona}: {sql}): expected allow, but {persona} cannot connect"));
            }
            continue;
        }
        for problem in run_case(&connections, &mut observed, name, persona, sql, expect).await {
            failures.push(format!("{name} ({persona}: {sql}): {problem}"));
        }
        // The session must survive every case; reconnect so the next cases still run.
        if let Err(error) = connections.gateway[persona].simple_query("SELECT 1").await {
            failures.push(format!("{name} ({persona}: {sql}): the session is unusable after the case: {error}"));
            let client = connect_granted(&environment, &connections, persona, user_of(persona)).await;
            connections.gateway.insert(persona, client);
        }
    }

    assert!(ran >= 150, "only {ran} cases ran through the gateway");
    assert!(
        failures.is_empty(),
        "{} of {ran} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Every session survived its denials.
    for (persona, client) in &connections.gateway {
        let rows = client.simple_query("SELECT 1").await;
        assert!(rows.is_ok(), "{persona}'s session is unusable after the corpus: {rows:?}");
    }
    for method in ["partial:4", "redact", "token", "year", "zip3", "null"] {
        for format in ["text", "binary"] {
            assert!(
                observed.methods.iter().any(|(m, _, f)| m == method && *f == format),
                "no case checked {method} in {format} format; seen: {:?}",
                observed.methods
            );
        }
    }
    for (ty, methods) in [
        ("text", &["partial:4", "redact", "token", "null"][..]),
        ("varchar", &["partial:4", "redact", "token"][..]),
        ("bpchar", &["redact", "zip3"][..]),
        ("date", &["year"][..]),
        ("timestamp", &["year"][..]),
        ("timestamptz", &["year", "null"][..]),
        ("numeric", &["token", "null"][..]),
        ("int4", &["token", "null"][..]),
        ("int8", &["token"][..]),
        ("int2", &["null"][..]),
        ("uuid", &["token"][..]),
    ] {
        for method in methods {
            for format in ["text", "binary"] {
                assert!(
                    observed.methods.contains(&(method.to_string(), ty.to_owned(), format)),
                    "no case checked {method} on {ty} in {format} format"
                );
            }
        }
    }
    assert!(observed.suppressed_zips > 0, "no ZIP code with a restricted prefix became 000");
    eprintln!("{ran} cases in {:.0} s, environment included", started.elapsed().as_secs_f64());
}
