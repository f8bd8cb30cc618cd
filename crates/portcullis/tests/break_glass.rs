//! Break-glass with the HTTP API disabled. A responder self-grants the emergency role
//! with password and TOTP through the CLI alone and opens a psql session with the
//! token it prints. A critical alert reaches a signed webhook, every statement is
//! audited and marked as break-glass, and the review stays open in `access report`
//! until an approver closes it.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use portcullis_alert::webhook;

use common::{free_port, run, run_with_stdin, Workdir};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use portcullis_cluster::Cluster;
use serde_json::Value;

const UPSTREAM_ROLE: &str = "glass_gateway";
const UPSTREAM_PASSWORD: &str = "glass-upstream-password";
const WEBHOOK_SECRET: &str = "break-glass-webhook-secret-0123";

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
                store.lock().expect("receiver lock").push((headers, body));
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the receiver");
    let url = format!("http://{}/hook", listener.local_addr().expect("receiver address"));
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve the receiver") });
    (url, received)
}

fn configure_webhook(workdir: &Workdir, url: &str) {
    let secret_file = workdir.dir.join("webhook.secret");
    std::fs::write(&secret_file, WEBHOOK_SECRET).expect("write the webhook secret");
    let mut text = std::fs::read_to_string(&workdir.config).expect("read the configuration");
    text.push_str(&format!("\n[[alerts.webhook]]\nurl = \"{url}\"\nsecret_file = \"{}\"\n", secret_file.display()));
    std::fs::write(&workdir.config, text).expect("write the configuration");
}

/// `portcullis serve` started without waiting for `/healthz`, since the API is off.
struct ServeWithoutApi {
    child: Child,
}

impl ServeWithoutApi {
    fn start(workdir: &Workdir, pg_port: u16) -> ServeWithoutApi {
        let child = workdir
            .command(&["serve"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start portcullis serve");
        let serve = ServeWithoutApi { child };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", pg_port)).is_err() {
            assert!(Instant::now() < deadline, "serve did not open the PostgreSQL listener");
            std::thread::sleep(Duration::from_millis(100));
        }
        serve
    }

    fn stop(mut self) {
        kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM).expect("SIGTERM serve");
        let status = self.child.wait().expect("wait for serve");
        assert!(status.success(), "serve exited with {status}");
    }
}

fn psql(workdir: &Workdir, pg_port: u16, user: &str, token: &str, sql: &str) -> common::CliOutput {
    let connection = format!(
        "host=localhost port={pg_port} dbname=app user={user} sslmode=verify-full sslrootcert={}",
        workdir.dir.join("tls/ca.crt").display()
    );
    run(Command::new("psql")
        .args(["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1"])
        .arg(connection)
        .args(["-c", sql])
        .env("PGPASSWORD", token))
}

fn setup(cluster: &Cluster) -> (Workdir, u16) {
    cluster
        .psql("postgres", &format!("CREATE ROLE {UPSTREAM_ROLE} LOGIN PASSWORD '{UPSTREAM_PASSWORD}'"))
        .expect("create role");
    cluster.psql("postgres", &format!("CREATE DATABASE app OWNER {UPSTREAM_ROLE}")).expect("create database");

    let workdir = Workdir::init();
    let pg_port = free_port();
    workdir.set_option("postgres", "enabled", "true");
    workdir.set_option("postgres", "listen", &format!("\"127.0.0.1:{pg_port}\""));
    let password_file = workdir.dir.join("keys/app.password");
    std::fs::write(&password_file, UPSTREAM_PASSWORD).expect("write password");
    std::fs::set_permissions(&password_file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    for (key, value) in [
        ("host", "\"127.0.0.1\"".to_string()),
        ("port", cluster.port().to_string()),
        ("database", "\"app\"".to_string()),
        ("user", format!("\"{UPSTREAM_ROLE}\"")),
        ("password_file", "\"keys/app.password\"".to_string()),
        ("tls", "\"disable\"".to_string()),
        ("allowed_roles", "[\"emergency\"]".to_string()),
    ] {
        workdir.set_option("targets.app", key, &value);
    }
    workdir.set_option("break_glass", "role", "\"emergency\"");
    workdir.set_option("break_glass", "entitlement", "\"responders\"");
    workdir.set_option("break_glass", "reviewers", "\"approvers\"");
    for role in ["emergency", "responders", "approvers"] {
        workdir.run(&["role", "add", role]).success();
    }
    (workdir, pg_port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn break_glass_without_api_opens_review() {
    let cluster = Cluster::start().expect("start cluster");
    let (workdir, pg_port) = setup(&cluster);
    let rita = workdir.add_user("rita", &[]);
    let erin = workdir.add_user("erin", &[]);
    let otto = workdir.add_user("otto", &[]);
    workdir.run(&["role", "grant", "responders", "rita", "--by", "admin"]).success();
    workdir.run(&["role", "grant", "approvers", "erin", "--by", "admin"]).success();

    let (url, received) = start_receiver().await;
    configure_webhook(&workdir, &url);
    workdir.set_option("api", "enabled", "false");
    let serve = ServeWithoutApi::start(&workdir, pg_port);
    let api = std::net::TcpStream::connect(("127.0.0.1", workdir.api_port));
    assert!(api.is_err(), "the HTTP API must be off for this test");

    // The command blocks this worker; the receiver runs on the runtime's other one.
    let break_glass = |user: &str, code: &str, password: &str| {
        tokio::task::block_in_place(|| run_with_stdin(
            &mut workdir.command(&[
                "break-glass", "--user", user, "--reason", "EHR outage, patient in resuscitation", "--password-stdin",
                "--totp", code, "--output", "json",
            ]),
            &format!("{password}\n"),
        ))
    };
    let refused = break_glass("otto", &otto.authenticator.next_code().await, &otto.password).failure();
    assert!(refused.stderr.contains("does not hold role responders"), "{refused}");
    let missing_reason = run(&mut workdir.command(&["break-glass", "--user", "rita"])).failure();
    assert!(missing_reason.stderr.contains("--reason is required"), "{missing_reason}");

    let granted = break_glass("rita", &rita.authenticator.next_code().await, &rita.password).success();
    let body: Value = granted.json();
    let token = body["token"].as_str().expect("token").to_string();
    let review_id = body["review_id"].as_str().expect("review id").to_string();
    assert_eq!(body["grant"]["role"], "emergency");
    assert_eq!(body["grant"]["source"], "break_glass");

    // The command flushed its alerts before exit, so the webhook already has this one.
    let alerts = received.lock().expect("receiver lock").clone();
    let delivered = alerts
        .iter()
        .find(|(_, body)| String::from_utf8_lossy(body).contains("break_glass_used"))
        .expect("the webhook received the break-glass alert");
    let timestamp: u64 = delivered.0[webhook::TIMESTAMP_HEADER].to_str().expect("header").parse().expect("timestamp");
    let signature = delivered.0[webhook::SIGNATURE_HEADER].to_str().expect("header");
    assert_eq!(signature, webhook::signature(WEBHOOK_SECRET.as_bytes(), timestamp, &delivered.1));
    let alert: Value = serde_json::from_slice(&delivered.1).expect("alert JSON");
    assert_eq!(alert["severity"], "critical");
    assert_eq!(alert["subject"], "rita");
    assert_eq!(alert["details"]["review_id"], review_id.as_str());

    let session = psql(&workdir, pg_port, "rita", &token, "SELECT 40 + 2").success();
    assert_eq!(session.stdout.trim(), "42");
    serve.stop();

    let records = workdir.audit_records();
    let alert = records
        .iter()
        .find(|record| record["type"] == "alert.raised" && record.to_string().contains("break_glass_used"));
    assert!(alert.is_some(), "a break-glass alert is recorded");
    assert!(alert.unwrap().to_string().contains("critical"), "the alert is critical: {alert:?}");
    let started = records
        .iter()
        .find(|record| record["type"] == "session.started" && record["subject"] == "rita")
        .expect("session start recorded");
    assert_eq!(started["meta"]["break_glass"], true, "{started}");
    let statements: Vec<&Value> = records.iter().filter(|record| record["type"] == "statement").collect();
    assert!(!statements.is_empty(), "the statement is audited");
    for statement in statements {
        assert_eq!(statement["meta"]["break_glass"], true, "{statement}");
        assert!(statement["payload"].is_object() || statement["payload"].is_string(), "the statement text is kept: {statement}");
    }

    let report = workdir.run(&["access", "report", "--output", "json"]).success();
    let open = report.json();
    assert_eq!(open.as_array().map(Vec::len), Some(1), "{report}");
    assert_eq!(open[0]["review"]["id"], review_id.as_str());
    assert_eq!(open[0]["user"], "rita");

    // The post-incident review happens once the API is back.
    workdir.set_option("api", "enabled", "true");
    let gateway = workdir.serve().await;
    let erin_token = gateway.login_ok(&erin).await["token"].as_str().expect("token").to_string();
    let own = run(workdir
        .command(&["break-glass", "review", &review_id, "--notes", "all fine"])
        .env("PORTCULLIS_TOKEN", &token))
    .failure();
    assert!(own.stderr.contains("cannot review it"), "{own}");
    run(workdir
        .command(&["break-glass", "review", &review_id, "--notes", "outage confirmed by the EHR vendor"])
        .env("PORTCULLIS_TOKEN", &erin_token))
    .success();
    let report = workdir.run(&["access", "report", "--output", "json"]).success();
    assert_eq!(report.json().as_array().map(Vec::len), Some(0), "{report}");
    gateway.stop_cleanly().await;
}
