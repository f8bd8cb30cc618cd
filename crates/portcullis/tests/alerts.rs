//! Escalation alerts raised by commands reach real sinks on loopback before the command
//! exits: a role grant to a signed webhook, a failed audit verification to syslog.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use portcullis_alert::webhook;

use common::Workdir;

const SECRET: &str = "alert-test-secret-0123456789";

type Received = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

/// Starts a webhook receiver on 127.0.0.1 and returns its URL and what it received.
async fn start_receiver() -> (String, Received) {
    let received: Received = Arc::default();
    let store = Arc::clone(&received);
    let app = Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: Bytes| {
            let store = Arc::clone(&store);
            async move {
                store.lock().unwrap().push((headers, body));
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, received)
}

fn configure_webhook(workdir: &Workdir, url: &str) {
    let secret_file = workdir.dir.join("webhook.secret");
    std::fs::write(&secret_file, SECRET).unwrap();
    let mut text = std::fs::read_to_string(&workdir.config).unwrap();
    text.push_str(&format!(
        "\n[[alerts.webhook]]\nurl = \"{url}\"\nsecret_file = \"{}\"\n",
        secret_file.display()
    ));
    std::fs::write(&workdir.config, text).unwrap();
}

/// Runs a command on a blocking thread, so the receiver keeps running on this runtime.
async fn run_blocking(workdir: &Arc<Workdir>, args: &'static [&'static str]) -> common::CliOutput {
    let workdir = Arc::clone(workdir);
    tokio::task::spawn_blocking(move || workdir.run(args)).await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn role_grant_alerts_webhook() {
    let workdir = Arc::new(Workdir::init());
    workdir.add_user("alice", &[]);
    workdir.run(&["role", "add", "clinician"]).success();
    let (url, received) = start_receiver().await;
    configure_webhook(&workdir, &url);

    run_blocking(&workdir, &["role", "grant", "clinician", "alice", "--by", "admin"]).await.success();
    run_blocking(&workdir, &["role", "grant", "admin", "alice", "--by", "admin"]).await.success();

    // The command flushed before exit, so both alerts are already here.
    let received = received.lock().unwrap().clone();
    assert_eq!(received.len(), 2);
    let mut kinds = Vec::new();
    for (headers, body) in &received {
        let timestamp: u64 = headers[webhook::TIMESTAMP_HEADER].to_str().unwrap().parse().unwrap();
        let signature = headers[webhook::SIGNATURE_HEADER].to_str().unwrap();
        assert_eq!(signature, webhook::signature(SECRET.as_bytes(), timestamp, body));
        let alert: serde_json::Value = serde_json::from_slice(body).unwrap();
        assert_eq!(alert["subject"], "alice");
        assert_eq!(alert["details"]["granted_by"], "admin");
        kinds.push((alert["kind"].as_str().unwrap().to_string(), alert["severity"].as_str().unwrap().to_string()));
    }
    assert_eq!(kinds[0], ("role_granted".to_string(), "warning".to_string()));
    assert_eq!(kinds[1], ("admin_role_granted".to_string(), "critical".to_string()));

    let alert_records: Vec<_> = workdir
        .audit_records()
        .into_iter()
        .filter(|record| record["type"] == "alert.raised")
        .collect();
    assert_eq!(alert_records.len(), 2);
    assert_eq!(alert_records[1]["meta"]["kind"], "admin_role_granted");
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_verify_alerts_syslog() {
    let workdir = Arc::new(Workdir::init());
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut text = std::fs::read_to_string(&workdir.config).unwrap();
    text.push_str(&format!("\n[alerts.syslog]\naddress = \"{}\"\n", socket.local_addr().unwrap()));
    std::fs::write(&workdir.config, text).unwrap();

    run_blocking(&workdir, &["audit", "verify"]).await.success();
    let mut buffer = vec![0u8; 4096];
    let quiet = tokio::time::timeout(Duration::from_millis(300), socket.recv_from(&mut buffer)).await;
    assert!(quiet.is_err(), "an intact log raised an alert");

    let log_path = workdir.audit_dir().join("audit.log");
    let tampered = std::fs::read_to_string(&log_path).unwrap().replacen("\"subject\":\"admin\"", "\"subject\":\"admjn\"", 1);
    std::fs::write(&log_path, tampered).unwrap();
    run_blocking(&workdir, &["audit", "verify"]).await.failure();

    let (length, _) = tokio::time::timeout(Duration::from_secs(5), socket.recv_from(&mut buffer))
        .await
        .expect("no syslog message within 5 s")
        .unwrap();
    let message = String::from_utf8_lossy(&buffer[..length]).to_string();
    // authpriv (10) * 8 + critical (2)
    assert!(message.starts_with("<82>1 "), "{message}");
    assert!(message.contains(" audit_verification_failed [portcullis@32473 "), "{message}");
    assert!(message.contains("first_bad_seq=\""), "{message}");
}

#[tokio::test(flavor = "multi_thread")]
async fn repeated_failed_logins_alert_from_serve() {
    let workdir = Workdir::init();
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    workdir.set_option("alerts", "failed_login_threshold", "3");
    let mut text = std::fs::read_to_string(&workdir.config).unwrap();
    text.push_str(&format!("\n[alerts.syslog]\naddress = \"{}\"\n", socket.local_addr().unwrap()));
    std::fs::write(&workdir.config, text).unwrap();
    let gateway = workdir.serve().await;

    for _ in 0..3 {
        let (status, _) = gateway.login("admin", "wrong password", "000000", None).await;
        assert_eq!(status, reqwest::StatusCode::UNAUTHORIZED);
    }

    // One alert for the user and one for the address, in either order.
    let mut messages = Vec::new();
    let mut buffer = vec![0u8; 4096];
    for _ in 0..2 {
        let (length, _) = tokio::time::timeout(Duration::from_secs(5), socket.recv_from(&mut buffer))
            .await
            .unwrap_or_else(|_| panic!("no syslog message within 5 s:\n{}", gateway.log()))
            .unwrap();
        messages.push(String::from_utf8_lossy(&buffer[..length]).to_string());
    }
    gateway.stop_cleanly().await;
    for message in &messages {
        assert!(message.contains(" repeated_login_failures ["), "{message}");
    }
    assert!(messages.iter().any(|message| message.contains("subject=\"127.0.0.1\"")), "{messages:?}");
    assert!(messages.iter().any(|message| message.contains("subject=\"admin\"")), "{messages:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_alerts_on_inconsistent_log() {
    let workdir = Arc::new(Workdir::init());
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut text = std::fs::read_to_string(&workdir.config).unwrap();
    text.push_str(&format!("\n[alerts.syslog]\naddress = \"{}\"\n", socket.local_addr().unwrap()));
    std::fs::write(&workdir.config, text).unwrap();
    // Alter the newest record, which the open checks against the anchor.
    let log_path = workdir.audit_dir().join("audit.log");
    let mut lines: Vec<String> = std::fs::read_to_string(&log_path).unwrap().lines().map(str::to_owned).collect();
    let last = lines.last_mut().unwrap();
    *last = last.replacen("\"outcome\":\"success\"", "\"outcome\":\"failure\"", 1);
    std::fs::write(&log_path, lines.join("\n") + "\n").unwrap();

    let serve = {
        let workdir = Arc::clone(&workdir);
        tokio::task::spawn_blocking(move || common::run_with_timeout(&mut workdir.command(&["serve"]), Duration::from_secs(30)))
            .await
            .unwrap()
    };
    assert!(!serve.status.success(), "serve started on an altered log:\n{}", serve.all_text());

    let mut buffer = vec![0u8; 4096];
    let (length, _) = tokio::time::timeout(Duration::from_secs(5), socket.recv_from(&mut buffer))
        .await
        .expect("no syslog message within 5 s")
        .unwrap();
    let message = String::from_utf8_lossy(&buffer[..length]).to_string();
    assert!(message.starts_with("<82>1 "), "{message}");
    assert!(message.contains(" audit_verification_failed ["), "{message}");
}
