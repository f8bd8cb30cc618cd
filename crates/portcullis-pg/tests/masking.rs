//! Masks and row caps applied by the relay, against a real PostgreSQL:
//! simple and extended protocol, binary results, pipelining, COPY TO
//! STDOUT, and results the gateway withholds.
//!
//! Expected values come from `portcullis_mask::mask_value` applied to the
//! same query run without a restriction, so these tests check the relay,
//! not the masking methods themselves.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use common::{error_of, start_gateway, tags, Raw, TestGateway};
use futures::StreamExt;
use portcullis_mask::{mask_value, oid, Format as MaskFormat, REDACTED};
use portcullis_pg::codec::{
    decode_backend, BackendMessage, Bind, Describe, Execute, Format, Frame, FrontendMessage, Parse,
    Query, Target,
};
use portcullis_pg::{
    CheckOutcome, ColumnMask, Completion, CopyFormat, CopyOptions, ListenerConfig, MaskKey, MaskMethod,
    Restrictions, SessionEvent, SessionId, StatementCheck, StatementRequest, StatementRestriction,
    Verdict,
};
use tokio_postgres::types::{FromSql, Type};
use tokio_postgres::SimpleQueryMessage;

/// Columns of the test table, in order, with their masks.
const COLUMNS: &str = "name, mrn, dob, seen_at, balance, id, zip, ssn, note";
const TYPES: [u32; 9] = [
    oid::TEXT,
    oid::INT4,
    oid::DATE,
    oid::TIMESTAMPTZ,
    oid::NUMERIC,
    oid::UUID,
    oid::TEXT,
    oid::TEXT,
    oid::TEXT,
];
const METHODS: [MaskMethod; 9] = [
    MaskMethod::Redact,
    MaskMethod::Token,
    MaskMethod::Year,
    MaskMethod::Year,
    MaskMethod::Token,
    MaskMethod::Token,
    MaskMethod::Zip3,
    MaskMethod::Partial { keep_last: 4 },
    MaskMethod::Null,
];

fn key() -> MaskKey {
    MaskKey::from_bytes([7; 32])
}

/// Restricts statements whose text contains a rule's marker (the first
/// matching rule wins) and allows every other statement.
struct PlanCheck {
    rules: Vec<(&'static str, Arc<Restrictions>)>,
}

impl StatementCheck for PlanCheck {
    fn check(&self, _session: SessionId, statement: &StatementRequest<'_>) -> CheckOutcome {
        let text = match statement {
            StatementRequest::Query { text }
            | StatementRequest::Parse { text }
            | StatementRequest::Execute { text, .. } => text,
        };
        self.rules
            .iter()
            .find(|(marker, _)| text.contains(marker))
            .map_or(Verdict::Allow, |(_, restrictions)| {
                Verdict::Restrict(Arc::clone(restrictions))
            })
            .into()
    }
}

async fn gateway_with(
    rules: Vec<(&'static str, Restrictions)>,
    adjust: impl FnOnce(&mut ListenerConfig),
) -> TestGateway {
    let gateway = start_gateway(adjust).await;
    let check = PlanCheck {
        rules: rules
            .into_iter()
            .map(|(marker, restrictions)| (marker, Arc::new(restrictions)))
            .collect(),
    };
    *gateway.authority.statement_check.lock().unwrap() = Some(Arc::new(check));
    gateway
}

fn mask(method: MaskMethod) -> Option<ColumnMask> {
    Some(ColumnMask::new(method, Some(key())))
}

fn patient_masks() -> Vec<Option<ColumnMask>> {
    METHODS.into_iter().map(mask).collect()
}

fn restrict(columns: Vec<Option<ColumnMask>>) -> StatementRestriction {
    StatementRestriction {
        columns,
        open_ended: false,
        max_rows: None,
        copy: None,
    }
}

fn capped(columns: Vec<Option<ColumnMask>>, max_rows: u64) -> StatementRestriction {
    StatementRestriction {
        max_rows: Some(max_rows),
        ..restrict(columns)
    }
}

fn one(statement: StatementRestriction) -> Restrictions {
    Restrictions {
        statements: vec![statement],
    }
}

/// Creates `table` with two patients and a row of NULLs.
async fn create_patients(client: &tokio_postgres::Client, table: &str) {
    client
        .batch_execute(&format!(
            "DROP TABLE IF EXISTS {table};
             CREATE TABLE {table} (name text, mrn int4, dob date, seen_at timestamptz,
                 balance numeric, id uuid, zip text, ssn text, note text);
             INSERT INTO {table} VALUES
               ('Alice Smith', 1001, '1984-03-15', '2024-06-01 10:30:00+00', 1234.50,
                '6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b', '02139', '900-12-3456', 'allergic'),
               ('Bob Jones', 1002, '1990-12-31', '2023-01-02 23:59:59+00', 0.01,
                'a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d', '10001', '123-45-6789', 'none'),
               (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);"
        ))
        .await
        .expect("create the test table");
}

/// Returns the patients query, which `marker` makes the test check restrict.
fn select_patients(table: &str, marker: &str) -> String {
    format!("SELECT {COLUMNS} FROM {table} ORDER BY mrn NULLS LAST /* {marker} */")
}

/// Text values of every row of the first result of a simple query.
async fn simple_rows(client: &tokio_postgres::Client, sql: &str) -> Vec<Vec<Option<String>>> {
    results(client, sql)
        .await
        .into_iter()
        .next()
        .unwrap_or_default()
}

/// Text values of the rows of each result of a simple query.
async fn results(client: &tokio_postgres::Client, sql: &str) -> Vec<Vec<Vec<Option<String>>>> {
    let mut results = Vec::new();
    let mut rows = Vec::new();
    for message in client.simple_query(sql).await.expect("simple query") {
        match message {
            SimpleQueryMessage::Row(row) => rows.push(
                (0..row.len())
                    .map(|i| row.get(i).map(str::to_owned))
                    .collect(),
            ),
            SimpleQueryMessage::CommandComplete(_) => results.push(std::mem::take(&mut rows)),
            _ => {}
        }
    }
    results
}

/// Masks one row with `methods` as the relay should, in `format`.
fn expected_row(
    row: &[Option<Vec<u8>>],
    methods: &[MaskMethod],
    types: &[u32],
    format: MaskFormat,
) -> Vec<Option<Vec<u8>>> {
    row.iter()
        .zip(methods)
        .zip(types)
        .map(|((value, method), type_oid)| {
            let mut out = BytesMut::new();
            let masked = mask_value(
                *method,
                Some(&key()),
                *type_oid,
                format,
                value.as_deref(),
                &mut out,
            )
            .expect("mask value");
            masked.map(|_| out.to_vec())
        })
        .collect()
}

fn expected_text(row: &[Option<String>]) -> Vec<Option<String>> {
    let bytes: Vec<Option<Vec<u8>>> = row
        .iter()
        .map(|value| value.as_ref().map(|v| v.as_bytes().to_vec()))
        .collect();
    expected_row(&bytes, &METHODS, &TYPES, MaskFormat::Text)
        .into_iter()
        .map(|value| value.map(|v| String::from_utf8(v).expect("UTF-8")))
        .collect()
}

/// A result value of any type, as the raw bytes of its binary format.
struct RawValue(Vec<u8>);

impl<'a> FromSql<'a> for RawValue {
    fn from_sql(
        _ty: &Type,
        raw: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(RawValue(raw.to_vec()))
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }
}

fn raw_values(row: &tokio_postgres::Row) -> Vec<Option<Vec<u8>>> {
    (0..row.len())
        .map(|i| row.get::<_, Option<RawValue>>(i).map(|value| value.0))
        .collect()
}

fn query(sql: &str) -> BytesMut {
    let mut buf = BytesMut::new();
    Query { query: sql }.encode(&mut buf).expect("encode");
    buf
}

fn parse(buf: &mut BytesMut, name: &str, sql: &str) {
    Parse {
        name,
        query: sql,
        parameter_types: Vec::new(),
    }
    .encode(buf)
    .expect("encode");
}

fn bind(buf: &mut BytesMut, portal: &str, statement: &str, result_formats: Vec<Format>) {
    Bind {
        portal,
        statement,
        parameter_formats: Vec::new(),
        parameters: Vec::new(),
        result_formats,
    }
    .encode(buf)
    .expect("encode");
}

fn execute(buf: &mut BytesMut, portal: &str) {
    Execute {
        portal,
        max_rows: 0,
    }
    .encode(buf)
    .expect("encode");
}

fn sync(buf: &mut BytesMut) {
    FrontendMessage::Sync.encode(buf).expect("encode");
}

/// Values of the DataRow frames among `frames`, as text.
fn data_rows(frames: &[Frame]) -> Vec<Vec<Option<String>>> {
    frames
        .iter()
        .filter(|frame| frame.tag() == b'D')
        .map(|frame| match decode_backend(frame).expect("decode") {
            BackendMessage::DataRow(row) => row
                .columns
                .iter()
                .map(|value| {
                    value
                        .as_ref()
                        .map(|v| String::from_utf8(v.to_vec()).expect("UTF-8"))
                })
                .collect(),
            other => panic!("expected DataRow, got {other:?}"),
        })
        .collect()
}

/// Values of the DataRow frames among `frames`, as raw bytes.
fn data_row_bytes(frames: &[Frame]) -> Vec<Vec<Option<Vec<u8>>>> {
    frames
        .iter()
        .filter(|frame| frame.tag() == b'D')
        .map(|frame| match decode_backend(frame).expect("decode") {
            BackendMessage::DataRow(row) => row
                .columns
                .iter()
                .map(|value| value.as_ref().map(|v| v.to_vec()))
                .collect(),
            other => panic!("expected DataRow, got {other:?}"),
        })
        .collect()
}

/// Returns the status byte of the ReadyForQuery that ends `frames`.
fn ready_status(frames: &[Frame]) -> u8 {
    let last = frames.last().expect("frames");
    assert_eq!(last.tag(), b'Z', "ends with ReadyForQuery");
    last.body()[0]
}

#[tokio::test]
async fn simple_query_masks_text_values() {
    let gateway = gateway_with(vec![("masked", one(restrict(patient_masks())))], |_| {}).await;
    let client = gateway.alice().await;
    create_patients(&client, "mask_simple").await;

    let reference = simple_rows(&client, &select_patients("mask_simple", "plain")).await;
    let masked = simple_rows(&client, &select_patients("mask_simple", "masked")).await;
    let expected: Vec<_> = reference.iter().map(|row| expected_text(row)).collect();
    assert_eq!(masked, expected);

    let alice = &masked[0];
    assert_eq!(alice[0].as_deref(), Some(REDACTED), "redact");
    let token: i32 = alice[1]
        .as_deref()
        .expect("mrn")
        .parse()
        .expect("integer token");
    assert_ne!(token, 1001, "token");
    assert_eq!(alice[2].as_deref(), Some("1984-01-01"), "year of a date");
    let seen_at = alice[3].as_deref().expect("seen_at");
    assert!(
        seen_at.starts_with("2024-01-01 12:00:00"),
        "year of a timestamptz: {seen_at}"
    );
    assert_eq!(alice[6].as_deref(), Some("021"), "zip3");
    assert_eq!(alice[7].as_deref(), Some("****3456"), "partial");
    assert_eq!(alice[8], None, "null");
    assert!(masked[2].iter().all(Option::is_none), "NULL stays NULL");
}

#[tokio::test]
async fn binary_results_decode_in_client() {
    let gateway = gateway_with(vec![("masked", one(restrict(patient_masks())))], |_| {}).await;
    let client = gateway.alice().await;
    create_patients(&client, "mask_binary").await;

    // tokio-postgres requests binary results in typed queries.
    let reference: Vec<_> = client
        .query(&select_patients("mask_binary", "plain"), &[])
        .await
        .expect("reference query")
        .iter()
        .map(raw_values)
        .collect();
    let rows = client
        .query(&select_patients("mask_binary", "masked"), &[])
        .await
        .expect("masked query");
    let masked: Vec<_> = rows.iter().map(raw_values).collect();
    let expected: Vec<_> = reference
        .iter()
        .map(|row| expected_row(row, &METHODS, &TYPES, MaskFormat::Binary))
        .collect();
    assert_eq!(masked, expected);

    let alice = &rows[0];
    assert_eq!(alice.get::<_, String>("name"), REDACTED);
    let mrn: i32 = alice.get("mrn");
    assert!(mrn >= 0 && mrn != 1001, "integer token {mrn}");
    assert_eq!(alice.get::<_, String>("zip"), "021");
    assert_eq!(alice.get::<_, String>("ssn"), "****3456");
    assert_eq!(alice.get::<_, Option<String>>("note"), None);

    let dob = alice.get::<_, RawValue>("dob").0;
    let days = postgres_protocol::types::date_from_sql(&dob).expect("date");
    assert_eq!(days, -5844, "1984-01-01 is 5844 days before 2000-01-01");
    let seen_at = alice.get::<_, RawValue>("seen_at").0;
    let micros = postgres_protocol::types::timestamp_from_sql(&seen_at).expect("timestamptz");
    assert_eq!(
        micros,
        (8766 * 86_400 + 12 * 3600) * 1_000_000,
        "2024-01-01 12:00 UTC"
    );
    let id = alice.get::<_, RawValue>("id").0;
    let uuid = postgres_protocol::types::uuid_from_sql(&id).expect("uuid");
    assert_eq!(uuid[6] >> 4, 8, "version-8 UUID");

    // The text and binary tokens of one value come from the same MAC.
    let text = simple_rows(&client, &select_patients("mask_binary", "masked")).await;
    assert_eq!(text[0][1].as_deref(), Some(mrn.to_string().as_str()));
}

#[tokio::test]
async fn execute_without_describe_masks_rows() {
    let gateway = gateway_with(vec![("masked", one(restrict(patient_masks())))], |_| {}).await;
    let client = gateway.alice().await;
    create_patients(&client, "mask_nodescribe").await;
    let reference = simple_rows(&client, &select_patients("mask_nodescribe", "plain")).await;
    let expected: Vec<_> = reference.iter().map(|row| expected_text(row)).collect();
    let sql = select_patients("mask_nodescribe", "masked");

    let mut raw = gateway.raw_session().await;
    let mut buf = BytesMut::new();
    parse(&mut buf, "", &sql);
    bind(&mut buf, "", "", Vec::new());
    execute(&mut buf, "");
    sync(&mut buf);
    raw.send(&buf).await;
    let frames = raw.until_ready().await;
    assert_eq!(
        tags(&frames),
        "12DDDCZ",
        "no RowDescription reaches the client"
    );
    assert_eq!(data_rows(&frames), expected);

    // Binary result format, still without Describe.
    let binary_reference: Vec<_> = client
        .query(&select_patients("mask_nodescribe", "plain"), &[])
        .await
        .expect("reference query")
        .iter()
        .map(raw_values)
        .collect();
    let mut buf = BytesMut::new();
    parse(&mut buf, "s", &sql);
    bind(&mut buf, "p", "s", vec![Format::Binary]);
    execute(&mut buf, "p");
    sync(&mut buf);
    raw.send(&buf).await;
    let frames = raw.until_ready().await;
    assert_eq!(tags(&frames), "12DDDCZ");
    let expected_binary: Vec<_> = binary_reference
        .iter()
        .map(|row| expected_row(row, &METHODS, &TYPES, MaskFormat::Binary))
        .collect();
    assert_eq!(data_row_bytes(&frames), expected_binary);

    // A portal the client describes gets no second Describe.
    let mut buf = BytesMut::new();
    bind(&mut buf, "", "s", Vec::new());
    Describe {
        target: Target::Portal,
        name: "",
    }
    .encode(&mut buf)
    .expect("encode");
    execute(&mut buf, "");
    sync(&mut buf);
    raw.send(&buf).await;
    let frames = raw.until_ready().await;
    assert_eq!(tags(&frames), "2TDDDCZ");
    assert_eq!(data_rows(&frames), expected);
}

#[tokio::test]
async fn pipelined_statements_different_plans() {
    let name_only = restrict(vec![mask(MaskMethod::Redact), None]);
    let ssn_only = restrict(vec![None, mask(MaskMethod::Partial { keep_last: 4 })]);
    let gateway = gateway_with(
        vec![("plan_a", one(name_only)), ("plan_b", one(ssn_only))],
        |_| {},
    )
    .await;
    let client = gateway.alice().await;
    create_patients(&client, "mask_pipeline").await;
    let plan_a = "SELECT name, ssn FROM mask_pipeline ORDER BY mrn NULLS LAST /* plan_a */";
    let plan_b = "SELECT name, ssn FROM mask_pipeline ORDER BY mrn NULLS LAST /* plan_b */";

    let mut raw = gateway.raw_session().await;
    let mut buf = BytesMut::new();
    parse(&mut buf, "a", plan_a);
    parse(&mut buf, "b", plan_b);
    bind(&mut buf, "pa", "a", Vec::new());
    bind(&mut buf, "pb", "b", Vec::new());
    execute(&mut buf, "pa");
    execute(&mut buf, "pb");
    sync(&mut buf);
    buf.extend_from_slice(&query("SELECT 1"));
    raw.send(&buf).await;

    let frames = raw.until_ready().await;
    assert_eq!(tags(&frames), "1122DDDCDDDCZ");
    let some = |value: &str| Some(value.to_owned());
    let rows = data_rows(&frames);
    assert_eq!(rows[0], vec![some(REDACTED), some("900-12-3456")]);
    assert_eq!(rows[1], vec![some(REDACTED), some("123-45-6789")]);
    assert_eq!(rows[3], vec![some("Alice Smith"), some("****3456")]);
    assert_eq!(rows[4], vec![some("Bob Jones"), some("****6789")]);
    assert_eq!(
        tags(&raw.until_ready().await),
        "TDCZ",
        "the query behind them"
    );

    // tokio-postgres pipelines concurrent queries on one connection.
    let (a, b) = futures::join!(client.query(plan_a, &[]), client.query(plan_b, &[]));
    let (a, b) = (a.expect("plan a"), b.expect("plan b"));
    assert_eq!(a[0].get::<_, String>(0), REDACTED);
    assert_eq!(a[0].get::<_, String>(1), "900-12-3456");
    assert_eq!(b[0].get::<_, String>(0), "Alice Smith");
    assert_eq!(b[0].get::<_, String>(1), "****3456");
}

#[tokio::test]
async fn multi_statement_query_restricts_second() {
    let second_only = Restrictions {
        statements: vec![
            StatementRestriction::default(),
            restrict(vec![mask(MaskMethod::Redact), mask(MaskMethod::Zip3)]),
        ],
    };
    let gateway = gateway_with(vec![("multi", second_only)], |_| {}).await;
    let client = gateway.alice().await;
    create_patients(&client, "mask_two_results").await;

    let sql = "SELECT name, zip FROM mask_two_results ORDER BY mrn NULLS LAST; \
               SELECT name, zip FROM mask_two_results ORDER BY mrn NULLS LAST /* multi */";
    let results = results(&client, sql).await;
    assert_eq!(results.len(), 2);
    let some = |value: &str| Some(value.to_owned());
    assert_eq!(results[0][0], vec![some("Alice Smith"), some("02139")]);
    assert_eq!(results[1][0], vec![some(REDACTED), some("021")]);
    assert_eq!(results[1][1], vec![some(REDACTED), some("100")]);
    assert_eq!(results[1][2], vec![None, None]);
}

#[tokio::test]
async fn row_cap_errors_and_session_continues() {
    let gateway = gateway_with(
        vec![
            (
                "capped_masked",
                one(capped(vec![mask(MaskMethod::Redact)], 2)),
            ),
            (
                "capped_first",
                Restrictions {
                    statements: vec![capped(vec![None], 5), StatementRestriction::default()],
                },
            ),
            ("capped", one(capped(vec![None], 5))),
        ],
        |_| {},
    )
    .await;
    let client = gateway.alice().await;
    client
        .batch_execute("DROP TABLE IF EXISTS mask_cap_log; CREATE TABLE mask_cap_log (n int)")
        .await
        .expect("create");
    let mut raw = gateway.raw_session().await;

    // Each row takes 10 ms, so without the cancel the query would run for
    // about 17 minutes. Rows of 2 kB fill the server's 8 kB send buffer fast.
    let started = Instant::now();
    raw.send(&query(
        "SELECT repeat('x', 2000) || g FROM generate_series(1, 100000) g \
         WHERE (SELECT g > 0 FROM pg_sleep(0.01)) /* capped */",
    ))
    .await;
    let frames = raw.until_ready().await;
    assert_eq!(tags(&frames), "TDDDDDEZ");
    let (code, message) = error_of(&frames[6]);
    assert_eq!(code, "54000");
    assert_eq!(
        message,
        "result exceeds the maximum of 5 rows allowed for your role; add a LIMIT or narrow the query"
    );
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "the cancel stopped the query"
    );
    raw.send(&query("SELECT 1")).await;
    assert_eq!(tags(&raw.until_ready().await), "TDCZ", "session usable");

    // Nothing of a later statement of the query reaches the client, even
    // when the cancel comes too late to stop it.
    raw.send(&query(
        "SELECT g FROM generate_series(1, 10) g /* capped_first */; SELECT 'after'",
    ))
    .await;
    let frames = raw.until_ready().await;
    assert_eq!(tags(&frames), "TDDDDDEZ");

    // Exactly the cap is allowed.
    raw.send(&query("SELECT g FROM generate_series(1, 5) g /* capped */"))
        .await;
    assert_eq!(tags(&raw.until_ready().await), "TDDDDDCZ");

    // Masked rows count too; inside a transaction block the error aborts it.
    raw.send(&query("BEGIN")).await;
    raw.until_ready().await;
    raw.send(&query(
        "SELECT 'secret' || g FROM generate_series(1, 10) g /* capped_masked */",
    ))
    .await;
    let frames = raw.until_ready().await;
    assert_eq!(tags(&frames), "TDDEZ");
    assert_eq!(data_rows(&frames)[0], vec![Some(REDACTED.to_owned())]);
    assert_eq!(ready_status(&frames), b'E', "transaction aborted");
    raw.send(&query("ROLLBACK")).await;
    assert_eq!(ready_status(&raw.until_ready().await), b'I');

    // Extended protocol: statements pipelined behind the capped Execute are
    // skipped up to Sync, as after any error.
    let mut buf = BytesMut::new();
    parse(
        &mut buf,
        "",
        "SELECT g FROM generate_series(1, 100) g /* capped */",
    );
    bind(&mut buf, "", "", Vec::new());
    execute(&mut buf, "");
    parse(&mut buf, "", "INSERT INTO mask_cap_log VALUES (1)");
    bind(&mut buf, "", "", Vec::new());
    execute(&mut buf, "");
    sync(&mut buf);
    raw.send(&buf).await;
    let frames = raw.until_ready().await;
    assert_eq!(tags(&frames), "12DDDDDEZ");
    assert_eq!(error_of(&frames[7]).0, "54000");
    assert_eq!(ready_status(&frames), b'I');
    let logged: i64 = client
        .query_one("SELECT count(*) FROM mask_cap_log", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(logged, 0, "the INSERT after the capped Execute did not run");

    let mut buf = BytesMut::new();
    parse(&mut buf, "", "SELECT 2");
    bind(&mut buf, "", "", Vec::new());
    execute(&mut buf, "");
    sync(&mut buf);
    raw.send(&buf).await;
    assert_eq!(tags(&raw.until_ready().await), "12DCZ", "session usable");

    let events = gateway.authority.events();
    let withheld = events
        .iter()
        .filter(|event| {
            matches!(event, SessionEvent::StatementCompleted {
                completion: Completion::Error { sqlstate }, ..
            } if sqlstate == "54000")
        })
        .count();
    assert_eq!(withheld, 4, "each withheld result is recorded");
}

#[tokio::test]
async fn row_cap_applies_across_portal_suspensions() {
    let gateway = gateway_with(vec![("capped", one(capped(vec![None], 3)))], |_| {}).await;
    let mut raw = gateway.raw_session().await;
    let mut buf = BytesMut::new();
    parse(
        &mut buf,
        "",
        "SELECT g FROM generate_series(1, 10) g /* capped */",
    );
    bind(&mut buf, "p", "", Vec::new());
    for _ in 0..2 {
        Execute {
            portal: "p",
            max_rows: 2,
        }
        .encode(&mut buf)
        .expect("encode");
    }
    sync(&mut buf);
    raw.send(&buf).await;
    let frames = raw.until_ready().await;
    assert_eq!(tags(&frames), "12DDsDEZ");
    assert_eq!(error_of(&frames[6]).0, "54000");
}

/// Options of a text-format COPY of the patients query.
fn copy_restriction(format: CopyFormat) -> StatementRestriction {
    StatementRestriction {
        copy: Some(CopyOptions {
            format,
            column_types: TYPES.to_vec(),
        }),
        ..restrict(patient_masks())
    }
}

fn copy_sql(table: &str, options: &str, marker: &str) -> String {
    format!(
        "COPY (SELECT {COLUMNS} FROM {table} ORDER BY mrn NULLS LAST) TO STDOUT {options} /* {marker} */"
    )
}

async fn copy_out(client: &tokio_postgres::Client, sql: &str) -> Vec<u8> {
    let stream = client.copy_out(sql).await.expect("copy out");
    let chunks: Vec<Bytes> = stream.map(|chunk| chunk.expect("chunk")).collect().await;
    chunks.concat()
}

#[tokio::test]
async fn copy_to_stdout_masked() {
    let csv = CopyFormat::Csv {
        delimiter: b',',
        quote: b'"',
        escape: b'"',
        null: Vec::new(),
        header: true,
    };
    let gateway = gateway_with(
        vec![
            ("copy_text", one(copy_restriction(CopyFormat::text()))),
            ("copy_csv", one(copy_restriction(csv))),
            ("copy_binary", one(copy_restriction(CopyFormat::Binary))),
        ],
        |_| {},
    )
    .await;
    let client = gateway.alice().await;
    create_patients(&client, "mask_copy").await;
    let reference = simple_rows(&client, &select_patients("mask_copy", "plain")).await;
    let expected: Vec<_> = reference.iter().map(|row| expected_text(row)).collect();
    let line = |row: &Vec<Option<String>>, delimiter: &str, null: &str| {
        let fields: Vec<&str> = row.iter().map(|v| v.as_deref().unwrap_or(null)).collect();
        format!("{}\n", fields.join(delimiter))
    };

    let text: String = expected.iter().map(|row| line(row, "\t", "\\N")).collect();
    let copied = copy_out(&client, &copy_sql("mask_copy", "", "copy_text")).await;
    assert_eq!(String::from_utf8(copied).expect("UTF-8"), text);

    let header = format!("{}\n", COLUMNS.replace(", ", ","));
    let csv_rows: String = expected.iter().map(|row| line(row, ",", "")).collect();
    let copied = copy_out(
        &client,
        &copy_sql("mask_copy", "(FORMAT csv, HEADER)", "copy_csv"),
    )
    .await;
    assert_eq!(
        String::from_utf8(copied).expect("UTF-8"),
        format!("{header}{csv_rows}")
    );

    // The simple protocol, on a raw connection.
    let mut raw = gateway.raw_session().await;
    raw.send(&query(&copy_sql("mask_copy", "", "copy_text")))
        .await;
    let frames = raw.until_ready().await;
    assert_eq!(tags(&frames), "HdddcCZ");
    let data: Vec<u8> = frames
        .iter()
        .filter(|frame| frame.tag() == b'd')
        .flat_map(|frame| frame.body().to_vec())
        .collect();
    assert_eq!(String::from_utf8(data).expect("UTF-8"), text);

    // Binary: each tuple's fields are the binary masks of the reference values.
    let binary_reference: Vec<_> = client
        .query(&select_patients("mask_copy", "plain"), &[])
        .await
        .expect("reference query")
        .iter()
        .map(raw_values)
        .collect();
    let copied = copy_out(
        &client,
        &copy_sql("mask_copy", "(FORMAT binary)", "copy_binary"),
    )
    .await;
    let tuples = binary_copy_tuples(&copied);
    let expected_binary: Vec<_> = binary_reference
        .iter()
        .map(|row| expected_row(row, &METHODS, &TYPES, MaskFormat::Binary))
        .collect();
    assert_eq!(tuples, expected_binary);
}

/// Splits a binary COPY stream into the field values of its tuples.
fn binary_copy_tuples(data: &[u8]) -> Vec<Vec<Option<Vec<u8>>>> {
    assert!(
        data.starts_with(b"PGCOPY\n\xff\r\n\0"),
        "binary COPY signature"
    );
    let be32 = |at: usize| i32::from_be_bytes(data[at..at + 4].try_into().expect("4 bytes"));
    let mut at = 19 + be32(15) as usize;
    let mut tuples = Vec::new();
    loop {
        let count = i16::from_be_bytes([data[at], data[at + 1]]);
        at += 2;
        if count == -1 {
            assert_eq!(at, data.len(), "trailer ends the stream");
            return tuples;
        }
        let mut fields = Vec::new();
        for _ in 0..count {
            let length = be32(at);
            at += 4;
            if length < 0 {
                fields.push(None);
            } else {
                fields.push(Some(data[at..at + length as usize].to_vec()));
                at += length as usize;
            }
        }
        tuples.push(fields);
    }
}

#[tokio::test]
async fn column_count_mismatch_fails_closed() {
    let two_columns = restrict(vec![mask(MaskMethod::Redact), None]);
    let open_ended = StatementRestriction {
        open_ended: true,
        ..restrict(vec![mask(MaskMethod::Redact)])
    };
    let wrong_type = restrict(vec![mask(MaskMethod::Year)]);
    let gateway = gateway_with(
        vec![
            ("mismatch", one(two_columns)),
            ("open_ended", one(open_ended)),
            ("wrong_type", one(wrong_type)),
            (
                "no_entry",
                Restrictions {
                    statements: Vec::new(),
                },
            ),
        ],
        |_| {},
    )
    .await;
    let client = gateway.alice().await;
    create_patients(&client, "mask_shape").await;
    let mut raw = gateway.raw_session().await;

    raw.send(&query(
        "SELECT name, ssn, zip FROM mask_shape /* mismatch */",
    ))
    .await;
    let frames = raw.until_ready().await;
    assert_eq!(tags(&frames), "EZ", "no RowDescription or rows");
    let (code, message) = error_of(&frames[0]);
    assert_eq!(code, "42501");
    assert!(
        message.starts_with("result shape does not match the policy decision"),
        "{message}"
    );
    assert!(message.contains("3 columns"), "{message}");
    raw.send(&query("SELECT 1")).await;
    assert_eq!(tags(&raw.until_ready().await), "TDCZ", "session usable");

    raw.send(&query("SELECT name FROM mask_shape /* wrong_type */"))
        .await;
    let frames = raw.until_ready().await;
    assert_eq!(tags(&frames), "EZ");
    let (code, message) = error_of(&frames[0]);
    assert_eq!(code, "42501");
    assert!(message.contains("cannot be applied"), "{message}");

    raw.send(&query("SELECT 1 /* no_entry */")).await;
    assert_eq!(tags(&raw.until_ready().await), "EZ");

    // Extra columns of an open-ended plan pass through.
    let rows = simple_rows(
        &client,
        "SELECT name, zip FROM mask_shape ORDER BY mrn NULLS LAST /* open_ended */",
    )
    .await;
    assert_eq!(
        rows[0],
        vec![Some(REDACTED.to_owned()), Some("02139".to_owned())]
    );

    // Extended protocol through a driver: the same error, then the session goes on.
    let error = client
        .query("SELECT name, ssn, zip FROM mask_shape /* mismatch */", &[])
        .await
        .expect_err("withheld");
    assert_eq!(
        error.as_db_error().map(|db| db.code().code()),
        Some("42501")
    );
    let one: i32 = client
        .query_one("SELECT 1", &[])
        .await
        .expect("next query")
        .get(0);
    assert_eq!(one, 1);
}

/// Reads up to ReadyForQuery, counting DataRows without keeping them.
async fn count_until_ready(raw: &mut Raw) -> (usize, Vec<Frame>) {
    let mut rows = 0;
    let mut others = Vec::new();
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(60), raw.recv())
            .await
            .expect("response in time")
            .expect("frame");
        match frame.tag() {
            b'D' => rows += 1,
            b'Z' => {
                others.push(frame);
                return (rows, others);
            }
            _ => others.push(frame),
        }
    }
}

#[tokio::test]
async fn masked_rows_stream_with_bounded_memory() {
    let gateway = gateway_with(
        vec![
            (
                "stream",
                one(restrict(vec![mask(MaskMethod::Redact), None])),
            ),
            ("large", one(restrict(vec![mask(MaskMethod::Redact)]))),
        ],
        |_| {},
    )
    .await;
    let mut raw = gateway.raw_session().await;

    // About 200 MB of masked rows stream through one row at a time.
    raw.send(&query(
        "SELECT 'secret' || g, repeat('y', 1000) FROM generate_series(1, 200000) g /* stream */",
    ))
    .await;
    let (rows, others) = count_until_ready(&mut raw).await;
    assert_eq!(rows, 200_000);
    assert_eq!(tags(&others), "TCZ");
    let peak = portcullis_pg::relay_peak_buffered_bytes();
    assert!(
        peak < 4 * 1024 * 1024,
        "relay buffered {peak} bytes at once"
    );

    // A masked row is buffered whole, so one over max_message_bytes is withheld.
    const SIZE: usize = 100 * 1024 * 1024;
    let large = format!("SELECT repeat('x', {SIZE}) /* large */");
    raw.send(&query(&large)).await;
    let frames = raw.until_ready().await;
    assert_eq!(tags(&frames), "TEZ");
    let (code, message) = error_of(&frames[1]);
    assert_eq!(code, "54000");
    assert!(message.contains("max_message_bytes"), "{message}");
    raw.send(&query("SELECT 1")).await;
    assert_eq!(tags(&raw.until_ready().await), "TDCZ", "session usable");
    let peak = portcullis_pg::relay_peak_buffered_bytes();
    assert!(
        peak < 4 * 1024 * 1024,
        "dropping buffered {peak} bytes at once"
    );

    // With a larger limit the 100 MB value is masked; the relay holds that one row.
    let roomy = gateway_with(
        vec![("large", one(restrict(vec![mask(MaskMethod::Redact)])))],
        |config| config.limits.max_message_size = 128 * 1024 * 1024,
    )
    .await;
    let mut raw = roomy.raw_session().await;
    raw.send(&query(&large)).await;
    let frames = raw.until_ready().await;
    assert_eq!(tags(&frames), "TDCZ");
    assert_eq!(data_rows(&frames)[0], vec![Some(REDACTED.to_owned())]);
    let peak = portcullis_pg::relay_peak_buffered_bytes();
    assert!(
        peak < SIZE + 8 * 1024 * 1024,
        "relay buffered {peak} bytes for one {SIZE}-byte row"
    );
}
