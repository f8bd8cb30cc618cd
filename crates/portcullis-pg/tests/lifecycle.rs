//! Session lifecycle: cancel, idle logoff, token expiry, termination from
//! outside, and a lost upstream connection.

mod common;

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use common::{error_of, start_gateway, tags, Raw, RawStream, TOKEN};
use portcullis_pg::codec::{CancelRequest, Query, StartupPacket};
use portcullis_pg::{EndReason, SessionEvent};
use time::OffsetDateTime;
use tokio::net::TcpStream;

fn query(sql: &str) -> BytesMut {
    let mut buf = BytesMut::new();
    Query { query: sql }.encode(&mut buf).expect("encode");
    buf
}

/// Waits for the FATAL error that ends a session and returns its SQLSTATE and message.
async fn session_fatal(raw: &mut Raw, within: Duration) -> (String, String) {
    let frame = tokio::time::timeout(within, raw.recv())
        .await
        .expect("ended in time")
        .expect("FATAL frame");
    let error = error_of(&frame);
    assert!(
        raw.recv().await.is_none(),
        "connection closed after the FATAL error"
    );
    error
}

#[tokio::test]
async fn cancel_long_query_within_a_second() {
    let gateway = start_gateway(|_| {}).await;
    let client = gateway.alice().await;
    let token = client.cancel_token();
    let connector = tokio_postgres_rustls::MakeRustlsConnect::new(
        (*common::client_tls(&gateway.tls.cert, &[])).clone(),
    );
    let started = Instant::now();
    let sleeper =
        tokio::spawn(async move { client.simple_query("SELECT pg_sleep(30)").await.map(|_| ()) });
    tokio::time::sleep(Duration::from_millis(300)).await;
    token.cancel_query(connector).await.expect("send cancel");

    let result = tokio::time::timeout(Duration::from_secs(5), sleeper)
        .await
        .expect("query ended")
        .expect("task");
    let error = result.expect_err("canceled");
    assert_eq!(
        error.as_db_error().expect("server error").code().code(),
        "57014"
    );
    assert!(
        started.elapsed() < Duration::from_millis(1300),
        "took {:?}",
        started.elapsed()
    );
    let forwarded = gateway.authority.events().iter().any(|event| {
        matches!(
            event,
            SessionEvent::CancelRequested {
                session: Some(_),
                forwarded: true,
                ..
            }
        )
    });
    assert!(forwarded, "cancel recorded");
}

#[tokio::test]
async fn cancel_with_wrong_key_does_nothing() {
    let gateway = start_gateway(|_| {}).await;
    let mut raw = gateway.raw_tls().await;
    let frames = raw.login("alice", TOKEN, "app").await;
    let key = frames
        .iter()
        .find(|f| f.tag() == b'K')
        .expect("BackendKeyData");
    let process_id = i32::from_be_bytes(key.body()[..4].try_into().expect("pid"));
    let mut wrong = key.body()[4..].to_vec();
    wrong[0] ^= 0xff;

    raw.send(&query("SELECT pg_sleep(1.5)")).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    for (pid, secret) in [
        (process_id, wrong),
        (process_id.wrapping_add(1), key.body()[4..].to_vec()),
    ] {
        let mut buf = BytesMut::new();
        StartupPacket::CancelRequest(CancelRequest {
            process_id: pid,
            secret_key: Bytes::from(secret),
        })
        .encode(&mut buf)
        .expect("encode");
        let tcp = TcpStream::connect(gateway.addr).await.expect("connect");
        let mut cancel = Raw::new(RawStream::Plain(tcp));
        cancel.send(&buf).await;
        assert!(cancel.recv().await.is_none(), "no reply to a CancelRequest");
    }
    let frames = raw.until_ready().await;
    assert_eq!(tags(&frames), "TDCZ", "the query ran to completion");
    let unmatched = gateway
        .authority
        .events()
        .iter()
        .filter(|event| {
            matches!(
                event,
                SessionEvent::CancelRequested {
                    session: None,
                    forwarded: false,
                    ..
                }
            )
        })
        .count();
    assert_eq!(unmatched, 2);
}

#[tokio::test]
async fn idle_session_logged_off() {
    let gateway = start_gateway(|_| {}).await;
    let mut raw = gateway.raw_tls().await;
    raw.login("alice", TOKEN, "app_idle").await;

    // A query longer than the idle timeout is not idleness.
    raw.send(&query("SELECT pg_sleep(2)")).await;
    assert_eq!(tags(&raw.until_ready().await), "TDCZ");

    let started = Instant::now();
    let (code, message) = session_fatal(&mut raw, Duration::from_secs(5)).await;
    assert_eq!(code, "57P05");
    assert!(
        message.starts_with("session idle for longer than"),
        "{message}"
    );
    assert!(started.elapsed() >= Duration::from_millis(1400));

    let mut raw = gateway.raw_tls().await;
    raw.login("alice", TOKEN, "app_idle").await;
    raw.send(&query("BEGIN")).await;
    raw.until_ready().await;
    assert_eq!(
        session_fatal(&mut raw, Duration::from_secs(5)).await.0,
        "25P03"
    );

    // A COPY FROM STDIN that waits for data that never comes is idle too.
    let mut raw = gateway.raw_tls().await;
    raw.login("alice", TOKEN, "app_idle").await;
    raw.send(&query("CREATE TEMP TABLE t (x int); COPY t FROM STDIN"))
        .await;
    let mut seen = String::new();
    while !seen.ends_with('G') {
        seen.push(raw.recv().await.expect("frame").tag() as char);
    }
    assert_eq!(
        session_fatal(&mut raw, Duration::from_secs(5)).await.0,
        "57P05"
    );

    let idle_ends = gateway
        .authority
        .events()
        .iter()
        .filter(|event| {
            matches!(
                event,
                SessionEvent::SessionEnded {
                    reason: EndReason::IdleTimeout,
                    ..
                }
            )
        })
        .count();
    assert_eq!(idle_ends, 3);
}

#[tokio::test]
async fn token_expiry_ends_session() {
    let gateway = start_gateway(|_| {}).await;
    let expires = OffsetDateTime::now_utc() + time::Duration::seconds(2);
    gateway
        .authority
        .add_token("alice", "short-lived", "tok-short-lived", Some(expires));
    let mut raw = gateway.raw_tls().await;
    let frames = raw.login("alice", "tok-short-lived", "app").await;
    assert_eq!(frames.last().map(|f| f.tag()), Some(b'Z'));
    raw.send(&query("SELECT pg_sleep(5)")).await;
    let ended = loop {
        let frame = tokio::time::timeout(Duration::from_secs(4), raw.recv())
            .await
            .expect("ended in time");
        match frame {
            Some(frame) if frame.tag() == b'E' => break error_of(&frame),
            Some(_) => {}
            None => panic!("closed without an error"),
        }
    };
    assert_eq!(ended.0, "28000");
    assert!(ended.1.contains("token expired"), "{}", ended.1);
    assert!(raw.recv().await.is_none());

    // The query that was running upstream was canceled, not left to finish.
    let admin = gateway.alice().await;
    let running: i64 = admin
        .query_one("SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(5)' AND state = 'active'", &[])
        .await
        .expect("pg_stat_activity")
        .get(0);
    assert_eq!(running, 0);
}

#[tokio::test]
async fn terminate_from_registry_within_a_second() {
    let gateway = start_gateway(|_| {}).await;
    let mut raw = gateway.raw_session().await;
    let other = gateway
        .connect("bob", "tok-bob-secret", "app")
        .await
        .expect("bob");
    assert_eq!(gateway.registry.sessions().len(), 2);

    let started = Instant::now();
    assert_eq!(
        gateway
            .registry
            .terminate_user("id-alice", "access revoked"),
        1
    );
    let (code, message) = session_fatal(&mut raw, Duration::from_secs(1)).await;
    assert_eq!(code, "57P01");
    assert!(message.contains("access revoked"), "{message}");
    assert!(started.elapsed() < Duration::from_secs(1));

    let one: i32 = other
        .query_one("SELECT 1", &[])
        .await
        .expect("bob unaffected")
        .get(0);
    assert_eq!(one, 1);
    let session = gateway.registry.sessions()[0].session;
    assert!(gateway.registry.terminate(session, "done"));
    assert!(other.query_one("SELECT 1", &[]).await.is_err());
}

#[tokio::test]
async fn lost_upstream_reported() {
    let gateway = start_gateway(|_| {}).await;
    let mut raw = gateway.raw_session().await;
    raw.send(&query("SELECT pg_backend_pid()")).await;
    let frames = raw.until_ready().await;
    let pid = String::from_utf8_lossy(&frames[1].body()[6..]).to_string();

    let admin = gateway.alice().await;
    admin
        .simple_query(&format!("SELECT pg_terminate_backend({pid})"))
        .await
        .expect("terminate");
    let frame = tokio::time::timeout(Duration::from_secs(5), raw.recv())
        .await
        .expect("in time")
        .expect("frame");
    let (code, _) = error_of(&frame);
    assert_eq!(code, "57P01", "the server's own FATAL passes through");
    assert!(raw.recv().await.is_none());
    let lost = gateway.authority.events().iter().any(|event| {
        matches!(
            event,
            SessionEvent::SessionEnded {
                reason: EndReason::UpstreamLost,
                ..
            }
        )
    });
    assert!(lost);
}

#[tokio::test]
async fn audit_outage_denies_statements() {
    let gateway = start_gateway(|_| {}).await;
    let mut raw = gateway.raw_session().await;
    *gateway.authority.audit_down.lock().unwrap() = true;
    raw.send(&query("SELECT 1")).await;
    let frames = raw.until_ready().await;
    assert_eq!(tags(&frames), "EZ");
    assert_eq!(error_of(&frames[0]).0, "58000");
    *gateway.authority.audit_down.lock().unwrap() = false;
    raw.send(&query("SELECT 1")).await;
    assert_eq!(tags(&raw.until_ready().await), "TDCZ");
}
