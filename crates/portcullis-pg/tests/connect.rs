//! Connection start, authentication, startup parameters, limits and bad input.

mod common;

use std::time::{Duration, Instant};

use bytes::BytesMut;
use common::{error_of, psql, start_gateway, Raw, RawStream, TOKEN};
use portcullis_pg::codec::{ProtocolVersion, Query, StartupMessage, StartupPacket};
use portcullis_pg::{AuthMethod, PlaintextPolicy, SessionEvent};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn startup(parameters: &[(&str, &str)], version: ProtocolVersion) -> BytesMut {
    let mut buf = BytesMut::new();
    StartupMessage {
        version,
        parameters: parameters.to_vec(),
    }
    .encode(&mut buf)
    .expect("encode");
    buf
}

async fn fatal_of(raw: &mut Raw) -> (String, String) {
    let frame = tokio::time::timeout(Duration::from_secs(10), raw.recv())
        .await
        .expect("in time")
        .expect("frame");
    let error = error_of(&frame);
    assert!(
        raw.recv().await.is_none(),
        "connection closed after the FATAL error"
    );
    error
}

/// Checks that a fresh session still works, so an error hit only its own connection.
async fn other_session_works(gateway: &common::TestGateway) {
    let client = gateway.alice().await;
    let one: i32 = client
        .query_one("SELECT 1", &[])
        .await
        .expect("query")
        .get(0);
    assert_eq!(one, 1);
}

#[tokio::test]
async fn psql_with_channel_binding() {
    let gateway = start_gateway(|_| {}).await;
    let (ok, out, err) = tokio::task::spawn_blocking(move || {
        let result = psql(
            &gateway,
            "alice",
            TOKEN,
            "app",
            "sslmode=require channel_binding=require",
            "SELECT 40 + 2",
        );
        drop(gateway);
        result
    })
    .await
    .expect("psql");
    assert!(ok, "psql failed: {err}");
    assert_eq!(out.trim(), "42");
}

#[tokio::test]
async fn gssenc_then_ssl_request() {
    let gateway = start_gateway(|_| {}).await;
    let mut tcp = TcpStream::connect(gateway.addr).await.expect("connect");
    let mut buf = BytesMut::new();
    StartupPacket::GssEncRequest
        .encode(&mut buf)
        .expect("encode");
    tcp.write_all(&buf).await.expect("write");
    assert_eq!(tcp.read_u8().await.expect("answer"), b'N');
    buf.clear();
    StartupPacket::SslRequest.encode(&mut buf).expect("encode");
    tcp.write_all(&buf).await.expect("write");
    assert_eq!(tcp.read_u8().await.expect("answer"), b'S');
    let connector = tokio_rustls::TlsConnector::from(common::client_tls(&gateway.tls.cert, &[]));
    let tls = connector
        .connect(ServerName::try_from("localhost").expect("name"), tcp)
        .await
        .expect("tls");
    let mut raw = Raw::new(RawStream::Tls(Box::new(tls)));
    let frames = raw.login("alice", TOKEN, "app").await;
    assert_eq!(frames.last().map(|f| f.tag()), Some(b'Z'));
}

#[tokio::test]
async fn direct_tls_requires_alpn() {
    let gateway = start_gateway(|_| {}).await;
    let name = ServerName::try_from("localhost").expect("name");

    let with_alpn =
        tokio_rustls::TlsConnector::from(common::client_tls(&gateway.tls.cert, &[b"postgresql"]));
    let tcp = TcpStream::connect(gateway.addr).await.expect("connect");
    let tls = with_alpn.connect(name.clone(), tcp).await.expect("tls");
    let mut raw = Raw::new(RawStream::Tls(Box::new(tls)));
    let frames = raw.login("alice", TOKEN, "app").await;
    assert_eq!(frames.last().map(|f| f.tag()), Some(b'Z'));

    let without_alpn = tokio_rustls::TlsConnector::from(common::client_tls(&gateway.tls.cert, &[]));
    let tcp = TcpStream::connect(gateway.addr).await.expect("connect");
    let tls = without_alpn.connect(name, tcp).await.expect("tls");
    let mut raw = Raw::new(RawStream::Tls(Box::new(tls)));
    let (code, message) = fatal_of(&mut raw).await;
    assert_eq!(code, "08P01");
    assert!(message.contains("ALPN"), "{message}");
}

#[tokio::test]
async fn plaintext_refused_by_default() {
    let gateway = start_gateway(|_| {}).await;
    let tcp = TcpStream::connect(gateway.addr).await.expect("connect");
    let mut raw = Raw::new(RawStream::Plain(tcp));
    raw.send(&startup(
        &[("user", "alice"), ("database", "app")],
        ProtocolVersion::V3_0,
    ))
    .await;
    let (code, message) = fatal_of(&mut raw).await;
    assert_eq!(code, "28000");
    assert_eq!(message, "TLS is required; connect with sslmode=require");
}

#[tokio::test]
async fn plaintext_loopback_when_allowed() {
    let gateway = start_gateway(|config| config.plaintext = PlaintextPolicy::AllowLoopback).await;
    let config = format!(
        "host=127.0.0.1 port={} user=alice password={TOKEN} dbname=app",
        gateway.addr.port()
    );
    let (client, connection) = tokio_postgres::connect(&config, tokio_postgres::NoTls)
        .await
        .expect("plaintext SCRAM");
    tokio::spawn(connection);
    let one: i32 = client
        .query_one("SELECT 1", &[])
        .await
        .expect("query")
        .get(0);
    assert_eq!(one, 1);
}

#[tokio::test]
async fn auth_failures_look_identical() {
    let gateway = start_gateway(|_| {}).await;
    let cases = [("alice", "wrong-token", "app"), ("mallory", TOKEN, "app")];
    for (user, token, target) in cases {
        let error = gateway
            .connect(user, token, target)
            .await
            .expect_err("rejected");
        let db = error.as_db_error().expect("server error");
        assert_eq!(db.code().code(), "28P01", "{user}/{target}");
        assert_eq!(
            db.message(),
            format!("password authentication failed for user \"{user}\"")
        );
        assert_eq!(db.hint(), Some("Check the user name, the target name (the database name) and the token; get a new token with \"portcullis login\"."));
    }
    let failures = gateway
        .authority
        .events()
        .iter()
        .filter(|e| matches!(e, SessionEvent::AuthenticationFailed { .. }))
        .count();
    assert_eq!(failures, cases.len());
}

/// After a valid token, an unknown target and a missing grant get one message
/// that says the token was fine, so neither reveals which targets exist.
#[tokio::test]
async fn authorization_denials_look_identical() {
    let gateway = start_gateway(|_| {}).await;
    let cases = [
        ("alice", TOKEN, "no_such_target"),
        ("bob", "tok-bob-secret", "app_idle"),
    ];
    for (user, token, target) in cases {
        let error = gateway
            .connect(user, token, target)
            .await
            .expect_err("rejected");
        let db = error.as_db_error().expect("server error");
        assert_eq!(db.code().code(), "28000", "{user}/{target}");
        assert_eq!(
            db.message(),
            format!("no access to target \"{target}\" for user \"{user}\"")
        );
        let hint = db.hint().expect("hint");
        assert!(hint.contains("portcullis request list"), "{hint}");
    }
    let failures = gateway
        .authority
        .events()
        .iter()
        .filter(|e| matches!(e, SessionEvent::AuthenticationFailed { .. }))
        .count();
    assert_eq!(failures, cases.len());
}

#[tokio::test]
async fn identity_startup_parameters_refused() {
    let gateway = start_gateway(|_| {}).await;
    for (name, value) in [
        ("role", "postgres"),
        ("session_authorization", "postgres"),
        ("replication", "database"),
    ] {
        let mut raw = gateway.raw_tls().await;
        raw.send(&startup(
            &[("user", "alice"), ("database", "app"), (name, value)],
            ProtocolVersion::V3_0,
        ))
        .await;
        let (code, message) = fatal_of(&mut raw).await;
        assert_eq!(code, "28000", "{name}");
        assert!(message.contains("not"), "{message}");
    }
    let mut raw = gateway.raw_tls().await;
    raw.send(&startup(
        &[("user", "alice"), ("options", "-c role=postgres")],
        ProtocolVersion::V3_0,
    ))
    .await;
    assert_eq!(fatal_of(&mut raw).await.0, "28000");
}

#[tokio::test]
async fn newer_protocol_negotiated() {
    let gateway = start_gateway(|_| {}).await;
    let mut raw = gateway.raw_tls().await;
    let parameters = [
        ("user", "alice"),
        ("database", "app"),
        ("_pq_.future_option", "on"),
    ];
    raw.send(&startup(&parameters, ProtocolVersion::v3(5)))
        .await;
    let first = raw.recv().await.expect("frame");
    assert_eq!(first.tag(), b'v');
    assert_eq!(
        &first.body()[..4],
        &ProtocolVersion::V3_2.code().to_be_bytes()
    );
    drop(raw);

    let mut raw = gateway.raw_tls().await;
    let frames = raw
        .login_with_startup(
            &startup(
                &[("user", "alice"), ("database", "app")],
                ProtocolVersion::V3_2,
            ),
            TOKEN,
        )
        .await;
    let key = frames
        .iter()
        .find(|f| f.tag() == b'K')
        .expect("BackendKeyData");
    assert_eq!(
        key.body().len(),
        4 + 32,
        "protocol 3.2 cancel keys are 32 bytes"
    );
}

#[tokio::test]
async fn garbage_after_login_closes_only_that_session() {
    let gateway = start_gateway(|_| {}).await;
    let mut raw = gateway.raw_session().await;
    raw.send(b"\x01\x00\x00\x00\x08garbage!").await;
    let (code, _) = fatal_of(&mut raw).await;
    assert_eq!(code, "08P01");
    other_session_works(&gateway).await;
}

#[tokio::test]
async fn garbage_before_startup_rejected() {
    let gateway = start_gateway(|_| {}).await;
    let tcp = TcpStream::connect(gateway.addr).await.expect("connect");
    let mut raw = Raw::new(RawStream::Plain(tcp));
    raw.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(fatal_of(&mut raw).await.0, "08P01");
    other_session_works(&gateway).await;
}

#[tokio::test]
async fn truncated_message_rejected() {
    let gateway = start_gateway(|_| {}).await;
    let mut raw = gateway.raw_session().await;
    // A Query whose text lacks its NUL terminator.
    raw.send(b"Q\x00\x00\x00\x07SEL").await;
    let (code, message) = fatal_of(&mut raw).await;
    assert_eq!(code, "08P01");
    assert!(message.contains("NUL"), "{message}");

    // A message cut off by the end of the stream.
    let mut raw = gateway.raw_session().await;
    raw.send(b"Q\x00\x00\x00\x10SELECT").await;
    if let RawStream::Tls(tls) = &mut raw.stream {
        tls.shutdown().await.expect("shutdown");
    }
    let closed = tokio::time::timeout(Duration::from_secs(5), raw.recv())
        .await
        .expect("closed in time");
    assert!(closed.is_none());
    other_session_works(&gateway).await;
}

#[tokio::test]
async fn oversized_message_rejected() {
    let gateway = start_gateway(|config| config.limits.max_message_size = 1024 * 1024).await;
    let mut raw = gateway.raw_session().await;
    raw.send(b"Q\x10\x00\x00\x00").await;
    let (code, message) = fatal_of(&mut raw).await;
    assert_eq!(code, "54000");
    assert!(message.contains("max_message_bytes"), "{message}");
    let mut raw = gateway.raw_session().await;
    let mut buf = BytesMut::new();
    Query {
        query: &"x".repeat(2 * 1024 * 1024),
    }
    .encode(&mut buf)
    .expect("encode");
    raw.send(&buf).await;
    assert_eq!(fatal_of(&mut raw).await.0, "54000");
    other_session_works(&gateway).await;
}

#[tokio::test]
async fn slow_startup_times_out() {
    let gateway =
        start_gateway(|config| config.limits.startup_timeout = Duration::from_secs(1)).await;
    let started = Instant::now();
    let tcp = TcpStream::connect(gateway.addr).await.expect("connect");
    let mut raw = Raw::new(RawStream::Plain(tcp));
    raw.send(b"\x00\x00").await;
    let (code, message) = fatal_of(&mut raw).await;
    assert_eq!(code, "08P01");
    assert!(
        message.contains("startup did not complete within 1 seconds"),
        "{message}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    other_session_works(&gateway).await;
}

#[tokio::test]
async fn unreachable_target_names_it() {
    let gateway =
        start_gateway(|config| config.limits.upstream_connect_timeout = Duration::from_secs(2))
            .await;
    let error = gateway
        .connect("alice", TOKEN, "down")
        .await
        .expect_err("rejected");
    let db = error.as_db_error().expect("server error");
    assert_eq!(db.code().code(), "08001");
    assert!(
        db.message()
            .contains("could not connect to target \"down\""),
        "{}",
        db.message()
    );
}

#[tokio::test]
async fn per_user_connection_limit() {
    let gateway = start_gateway(|config| config.limits.max_connections_per_user = 1).await;
    let first = gateway.alice().await;
    let error = gateway
        .connect("alice", TOKEN, "app")
        .await
        .expect_err("second rejected");
    assert_eq!(
        error.as_db_error().expect("server error").code().code(),
        "53300"
    );
    let bob = gateway
        .connect("bob", "tok-bob-secret", "app")
        .await
        .expect("other users unaffected");
    drop(bob);
    drop(first);
}

#[tokio::test]
async fn total_connection_limit() {
    let gateway = start_gateway(|config| config.limits.max_connections = 1).await;
    let first = gateway.alice().await;
    let error = gateway
        .connect("bob", "tok-bob-secret", "app")
        .await
        .expect_err("rejected");
    let db = error.as_db_error().expect("server error");
    assert_eq!(db.code().code(), "53300");
    assert!(
        db.message().contains("max_connections = 1"),
        "{}",
        db.message()
    );
    drop(first);
}

#[tokio::test]
async fn cleartext_token_over_tls_when_configured() {
    let gateway = start_gateway(|config| config.auth_method = AuthMethod::Password).await;
    let client = gateway.alice().await;
    let one: i32 = client
        .query_one("SELECT 1", &[])
        .await
        .expect("query")
        .get(0);
    assert_eq!(one, 1);
    let error = gateway
        .connect("alice", "wrong-token", "app")
        .await
        .expect_err("rejected");
    assert_eq!(
        error.as_db_error().expect("server error").code().code(),
        "28P01"
    );
}
