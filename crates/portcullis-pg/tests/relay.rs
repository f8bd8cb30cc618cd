//! Relay fidelity against a real PostgreSQL: simple and extended protocol,
//! pipelining, errors, COPY, notices, notifications and large values.

mod common;

use bytes::{Bytes, BytesMut};
use common::{error_of, start_gateway, tags};
use futures::{SinkExt, StreamExt};
use portcullis_pg::codec::{
    Bind, CopyData, Describe, Execute, Format, FrontendMessage, FunctionCall, Parse, Query, Target,
};
use portcullis_pg::{Completion, SessionEvent, StatementText, Verdict};

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

fn bind(buf: &mut BytesMut, portal: &str, statement: &str, parameters: &[&str]) {
    let parameters = parameters
        .iter()
        .map(|p| Some(Bytes::copy_from_slice(p.as_bytes())))
        .collect();
    Bind {
        portal,
        statement,
        parameter_formats: Vec::new(),
        parameters,
        result_formats: Vec::new(),
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

#[tokio::test]
async fn simple_query_through_tokio_postgres() {
    let gateway = start_gateway(|_| {}).await;
    let client = gateway.alice().await;
    let rows = client
        .query("SELECT $1::int + 1 AS n", &[&41i32])
        .await
        .expect("query");
    assert_eq!(rows[0].get::<_, i32>("n"), 42);
    let app: String = client
        .query_one("SHOW application_name", &[])
        .await
        .expect("show")
        .get(0);
    assert!(
        app.starts_with("portcullis:alice:"),
        "application_name {app}"
    );
    assert!(app.ends_with(":tests"), "application_name {app}");
}

#[tokio::test]
async fn query_then_extended_in_one_write() {
    let gateway = start_gateway(|_| {}).await;
    let mut raw = gateway.raw_session().await;
    let mut buf = query("SELECT 1; SELECT 2");
    parse(&mut buf, "", "SELECT $1::text");
    bind(&mut buf, "", "", &["hello"]);
    Describe {
        target: Target::Portal,
        name: "",
    }
    .encode(&mut buf)
    .expect("encode");
    execute(&mut buf, "");
    sync(&mut buf);
    raw.send(&buf).await;

    let first = raw.until_ready().await;
    assert_eq!(tags(&first), "TDCTDCZ");
    let second = raw.until_ready().await;
    assert_eq!(tags(&second), "12TDCZ");
    let events = gateway.authority.events();
    let prepared = events.iter().any(|event| {
        matches!(event,
        SessionEvent::Statement { text: StatementText::Prepared { text, parameters, .. }, .. }
            if text == "SELECT $1::text" && parameters.len() == 1)
    });
    assert!(
        prepared,
        "Execute recorded with its statement text and parameters"
    );
}

#[tokio::test]
async fn parse_describe_flush_then_bind_execute_sync() {
    let gateway = start_gateway(|_| {}).await;
    let mut raw = gateway.raw_session().await;
    let mut buf = BytesMut::new();
    parse(&mut buf, "s1", "SELECT $1::int * 2");
    Describe {
        target: Target::Statement,
        name: "s1",
    }
    .encode(&mut buf)
    .expect("encode");
    FrontendMessage::Flush.encode(&mut buf).expect("encode");
    raw.send(&buf).await;
    let mut got = String::new();
    for _ in 0..3 {
        got.push(raw.recv().await.expect("frame").tag() as char);
    }
    assert_eq!(got, "1tT");

    let mut buf = BytesMut::new();
    bind(&mut buf, "p1", "s1", &["21"]);
    execute(&mut buf, "p1");
    sync(&mut buf);
    raw.send(&buf).await;
    let frames = raw.until_ready().await;
    assert_eq!(tags(&frames), "2DCZ");
}

#[tokio::test]
async fn pipeline_error_skips_to_sync() {
    let gateway = start_gateway(|_| {}).await;
    let mut raw = gateway.raw_session().await;
    let mut buf = BytesMut::new();
    parse(&mut buf, "", "SELECT 1/g FROM generate_series(0, 0) g");
    bind(&mut buf, "", "", &[]);
    execute(&mut buf, "");
    parse(&mut buf, "", "CREATE TABLE must_not_exist (id int)");
    bind(&mut buf, "", "", &[]);
    execute(&mut buf, "");
    sync(&mut buf);
    raw.send(&buf).await;
    let frames = raw.until_ready().await;
    assert_eq!(tags(&frames), "12EZ");
    assert_eq!(error_of(&frames[2]).0, "22012");

    raw.send(&query("SELECT to_regclass('must_not_exist') IS NULL"))
        .await;
    let frames = raw.until_ready().await;
    assert_eq!(tags(&frames), "TDCZ");
    assert_eq!(
        frames[1].body().as_ref().last(),
        Some(&b't'),
        "the table was not created"
    );
}

#[tokio::test]
async fn denied_statement_recovers_like_an_error() {
    let gateway = start_gateway(|_| {}).await;
    let mut raw = gateway.raw_session().await;

    raw.send(&query("SELECT 1; SELECT * FROM portcullis_forbidden"))
        .await;
    let frames = raw.until_ready().await;
    assert_eq!(
        tags(&frames),
        "EZ",
        "a denied query runs none of its statements"
    );
    assert_eq!(error_of(&frames[0]).0, "42501");

    let mut buf = BytesMut::new();
    parse(&mut buf, "", "SELECT 1");
    bind(&mut buf, "", "", &[]);
    execute(&mut buf, "");
    parse(&mut buf, "bad", "SELECT * FROM portcullis_forbidden");
    bind(&mut buf, "", "bad", &[]);
    execute(&mut buf, "");
    sync(&mut buf);
    raw.send(&buf).await;
    let frames = raw.until_ready().await;
    assert_eq!(
        tags(&frames),
        "12DCEZ",
        "one error, the rest skipped, one ReadyForQuery"
    );
    let (code, message) = error_of(&frames[4]);
    assert_eq!(code, "42501");
    assert!(
        message.contains("portcullis_forbidden is not permitted"),
        "{message}"
    );

    raw.send(&query("SELECT 3")).await;
    assert_eq!(tags(&raw.until_ready().await), "TDCZ");
    let denied = gateway
        .authority
        .events()
        .iter()
        .filter(|event| {
            matches!(
                event,
                SessionEvent::Statement {
                    verdict: Verdict::Deny { .. },
                    ..
                }
            )
        })
        .count();
    assert_eq!(denied, 2);
}

#[tokio::test]
async fn denial_inside_transaction_aborts_it() {
    let gateway = start_gateway(|_| {}).await;
    let mut raw = gateway.raw_session().await;
    raw.send(&query("BEGIN")).await;
    raw.until_ready().await;
    raw.send(&query("SELECT * FROM portcullis_forbidden")).await;
    let frames = raw.until_ready().await;
    assert_eq!(tags(&frames), "EZ");
    assert_eq!(
        frames[1].body().as_ref(),
        b"E",
        "transaction is failed, as after any error"
    );
    raw.send(&query("ROLLBACK")).await;
    let frames = raw.until_ready().await;
    assert_eq!(
        frames.last().map(|f| f.body().as_ref().to_vec()),
        Some(b"I".to_vec())
    );
}

#[tokio::test]
async fn copy_over_extended_protocol() {
    let gateway = start_gateway(|_| {}).await;
    let client = gateway.alice().await;
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS copy_target (id int, name text); TRUNCATE copy_target",
        )
        .await
        .expect("create");

    let mut raw = gateway.raw_session().await;
    let mut buf = BytesMut::new();
    parse(&mut buf, "", "COPY copy_target FROM STDIN (FORMAT csv)");
    bind(&mut buf, "", "", &[]);
    execute(&mut buf, "");
    raw.send(&buf).await;
    let mut seen = String::new();
    while !seen.ends_with('G') {
        seen.push(raw.recv().await.expect("frame").tag() as char);
    }
    assert_eq!(seen, "12G");
    let mut buf = BytesMut::new();
    CopyData {
        data: Bytes::from_static(b"1,one\n2,two\n"),
    }
    .encode(&mut buf)
    .expect("encode");
    FrontendMessage::CopyDone.encode(&mut buf).expect("encode");
    sync(&mut buf);
    raw.send(&buf).await;
    assert_eq!(tags(&raw.until_ready().await), "CZ");

    let out = client
        .copy_out("COPY copy_target TO STDOUT (FORMAT csv)")
        .await
        .expect("copy out");
    let chunks: Vec<Bytes> = out.map(|chunk| chunk.expect("chunk")).collect().await;
    assert_eq!(chunks.concat(), b"1,one\n2,two\n");

    let sink = client
        .copy_in("COPY copy_target FROM STDIN")
        .await
        .expect("copy in");
    futures::pin_mut!(sink);
    sink.send(Bytes::from_static(b"3\tthree\n"))
        .await
        .expect("send");
    assert_eq!(sink.finish().await.expect("finish"), 1);

    let out = client
        .copy_out("COPY copy_target TO STDOUT (FORMAT binary)")
        .await
        .expect("binary copy out");
    let chunks: Vec<Bytes> = out.map(|chunk| chunk.expect("chunk")).collect().await;
    assert!(
        chunks.concat().starts_with(b"PGCOPY\n\xff\r\n\0"),
        "binary COPY header"
    );
}

#[tokio::test]
async fn empty_and_comment_only_queries() {
    let gateway = start_gateway(|_| {}).await;
    let mut raw = gateway.raw_session().await;
    for sql in [";", "-- only a comment", "", "/* block */ ;"] {
        raw.send(&query(sql)).await;
        assert_eq!(tags(&raw.until_ready().await), "IZ", "query {sql:?}");
    }
}

#[tokio::test]
async fn notice_mid_result_passes_through() {
    let gateway = start_gateway(|_| {}).await;
    let client = gateway.alice().await;
    client
        .batch_execute(
            "CREATE OR REPLACE FUNCTION noisy(i int) RETURNS int LANGUAGE plpgsql AS \
             $$ BEGIN RAISE NOTICE 'row %', i; RETURN i; END $$",
        )
        .await
        .expect("function");
    let mut raw = gateway.raw_session().await;
    raw.send(&query("SELECT noisy(g) FROM generate_series(1, 3) g"))
        .await;
    let frames = raw.until_ready().await;
    assert_eq!(tags(&frames), "TNDNDNDCZ");
}

#[tokio::test]
async fn large_field_streams_with_bounded_memory() {
    let gateway = start_gateway(|_| {}).await;
    let mut raw = gateway.raw_session().await;
    const SIZE: usize = 100 * 1024 * 1024;
    raw.send(&query(&format!("SELECT repeat('x', {SIZE})")))
        .await;
    let frames = raw.until_ready().await;
    if let Some(error) = frames.iter().find(|f| f.tag() == b'E') {
        panic!("error {:?}", error_of(error));
    }
    assert_eq!(tags(&frames), "TDCZ");
    assert!(frames[1].body().len() > SIZE);
    let peak = portcullis_pg::relay_peak_buffered_bytes();
    assert!(
        peak < 4 * 1024 * 1024,
        "relay buffered {peak} bytes at once"
    );
}

#[tokio::test]
async fn listen_notify_between_sessions() {
    let gateway = start_gateway(|_| {}).await;
    let mut listener = gateway.raw_session().await;
    listener.send(&query("LISTEN portcullis_channel")).await;
    listener.until_ready().await;
    let notifier = gateway.alice().await;
    notifier
        .batch_execute("NOTIFY portcullis_channel, 'hello'")
        .await
        .expect("notify");
    let frame = tokio::time::timeout(std::time::Duration::from_secs(5), listener.recv())
        .await
        .expect("notification in time")
        .expect("frame");
    assert_eq!(frame.tag(), b'A');
}

#[tokio::test]
async fn function_call_refused_session_continues() {
    let gateway = start_gateway(|_| {}).await;
    let mut raw = gateway.raw_session().await;
    let mut buf = BytesMut::new();
    FunctionCall {
        function_oid: 1299,
        argument_formats: Vec::new(),
        arguments: Vec::new(),
        result_format: Format::Text,
    }
    .encode(&mut buf)
    .expect("encode");
    raw.send(&buf).await;
    let frames = raw.until_ready().await;
    assert_eq!(tags(&frames), "EZ");
    assert_eq!(error_of(&frames[0]).0, "0A000");
    raw.send(&query("SELECT 1")).await;
    assert_eq!(tags(&raw.until_ready().await), "TDCZ");
}

#[tokio::test]
async fn completions_recorded_per_statement() {
    let gateway = start_gateway(|_| {}).await;
    let client = gateway.alice().await;
    client
        .batch_execute("SELECT 1; SELECT 1/0")
        .await
        .expect_err("division by zero");
    let events = gateway.authority.events();
    let completions: Vec<&Completion> = events
        .iter()
        .filter_map(|event| match event {
            SessionEvent::StatementCompleted { completion, .. } => Some(completion),
            _ => None,
        })
        .collect();
    assert!(completions.contains(&&Completion::Command {
        tag: "SELECT 1".into(),
        rows: Some(1)
    }));
    assert!(completions.contains(&&Completion::Error {
        sqlstate: "22012".into()
    }));
}
