//! Alert delivery to real sinks on loopback: a webhook receiver that checks the signature,
//! one that fails before it succeeds, a sink that is down, and a UDP syslog receiver.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use portcullis_alert::{webhook, Alert, AlertKind, Alerts, Severity};
use portcullis_audit::{read_records, AuditConfig, AuditLog, PayloadKey, RecordFilter};
use portcullis_core::config::Config;

const SECRET: &str = "0123456789abcdef-test-secret";

/// One request as the receiver got it.
#[derive(Debug, Clone)]
struct Received {
    headers: HeaderMap,
    body: Bytes,
}

/// A webhook receiver on 127.0.0.1 that answers the first `failures` requests with 503.
struct Receiver {
    address: SocketAddr,
    requests: Arc<Mutex<Vec<Received>>>,
    attempts: Arc<AtomicUsize>,
}

async fn start_receiver(failures: usize) -> Receiver {
    let requests = Arc::new(Mutex::new(Vec::new()));
    let attempts = Arc::new(AtomicUsize::new(0));
    let handler = {
        let requests = Arc::clone(&requests);
        let attempts = Arc::clone(&attempts);
        move |headers: HeaderMap, body: Bytes| {
            let requests = Arc::clone(&requests);
            let attempts = Arc::clone(&attempts);
            async move {
                let attempt = attempts.fetch_add(1, Ordering::SeqCst) + 1;
                if attempt <= failures {
                    return StatusCode::SERVICE_UNAVAILABLE;
                }
                requests.lock().unwrap().push(Received { headers, body });
                StatusCode::NO_CONTENT
            }
        }
    };
    let app = Router::new().route("/hook", post(handler));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Receiver {
        address,
        requests,
        attempts,
    }
}

/// A configuration with one webhook, its secret in a file under `dir`.
fn webhook_config(dir: &std::path::Path, url: &str, extra: &str) -> Config {
    let secret_file = dir.join("webhook.secret");
    std::fs::write(&secret_file, format!("{SECRET}\n")).unwrap();
    let text = format!(
        "[alerts]\nlog = false\n\n[[alerts.webhook]]\nurl = \"{url}\"\nsecret_file = \"{}\"\ninitial_backoff = \"50ms\"\n{extra}\n",
        secret_file.display()
    );
    Config::parse(&text).unwrap()
}

async fn open_audit(dir: &std::path::Path) -> AuditLog {
    let key = portcullis_audit::generate_signing_key();
    AuditLog::open(AuditConfig::new(dir.join("audit")), key, PayloadKey::derive(&[7u8; 32]))
        .await
        .unwrap()
}

fn sample_alert() -> Alert {
    Alert::new(AlertKind::AdminRoleGranted, Severity::Critical, "alice")
        .detail("role", "admin")
        .detail("granted_by", "root")
}

async fn wait_for_requests(receiver: &Receiver, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while receiver.requests.lock().unwrap().len() < count {
        assert!(Instant::now() < deadline, "the receiver got no request within 10 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn webhook_signature_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = start_receiver(0).await;
    let config = webhook_config(dir.path(), &format!("http://{}/hook", receiver.address), "");
    let audit = open_audit(dir.path()).await;
    let alerts = Alerts::start(&config, Some(audit.clone())).unwrap();

    let alert = sample_alert();
    let alert_id = alert.id;
    alerts.raise(alert).await.unwrap();
    assert_eq!(alerts.flush(Duration::from_secs(5)).await, 0);
    wait_for_requests(&receiver, 1).await;

    let received = receiver.requests.lock().unwrap()[0].clone();
    let timestamp: u64 = received.headers[webhook::TIMESTAMP_HEADER].to_str().unwrap().parse().unwrap();
    let signature = received.headers[webhook::SIGNATURE_HEADER].to_str().unwrap();
    assert_eq!(signature, webhook::signature(SECRET.as_bytes(), timestamp, &received.body));
    assert_ne!(signature, webhook::signature(b"another secret of 16+", timestamp, &received.body));
    assert_ne!(signature, webhook::signature(SECRET.as_bytes(), timestamp + 1, &received.body));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    assert!(now.abs_diff(timestamp) < 60, "timestamp {timestamp} is not the current time");
    assert_eq!(received.headers[webhook::ALERT_ID_HEADER].to_str().unwrap(), alert_id.to_string());

    let body: serde_json::Value = serde_json::from_slice(&received.body).unwrap();
    assert_eq!(body["kind"], "admin_role_granted");
    assert_eq!(body["severity"], "critical");
    assert_eq!(body["subject"], "alice");
    assert_eq!(body["details"]["role"], "admin");
    assert_eq!(body["id"], alert_id.to_string());

    let stats = alerts.stats();
    assert_eq!(stats.len(), 1);
    assert_eq!(stats[0].sink, "webhook[0]");
    assert_eq!(stats[0].delivered, 1);
    assert_eq!(stats[0].undelivered, 0);

    audit.shutdown().await.unwrap();
    let records: Vec<_> = read_records(&dir.path().join("audit/audit.log"), RecordFilter::default(), None)
        .unwrap()
        .map(|record| record.unwrap().record)
        .filter(|record| record.event_type == "alert.raised")
        .collect();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].metadata["kind"], "admin_role_granted");
    assert_eq!(records[0].metadata["alert_id"], alert_id.to_string());
}

#[tokio::test]
async fn webhook_retries_after_failures() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = start_receiver(2).await;
    let config = webhook_config(dir.path(), &format!("http://{}/hook", receiver.address), "");
    let alerts = Alerts::start(&config, None).unwrap();

    alerts.raise(sample_alert()).await.unwrap();
    assert_eq!(alerts.flush(Duration::from_secs(5)).await, 0);

    assert_eq!(receiver.attempts.load(Ordering::SeqCst), 3);
    assert_eq!(receiver.requests.lock().unwrap().len(), 1);
    let stats = &alerts.stats()[0];
    assert_eq!(stats.delivered, 1);
    assert_eq!(stats.undelivered, 0);
}

#[tokio::test]
async fn webhook_gives_up_after_max_attempts() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = start_receiver(usize::MAX).await;
    let config = webhook_config(dir.path(), &format!("http://{}/hook", receiver.address), "max_attempts = 3");
    let alerts = Alerts::start(&config, None).unwrap();

    alerts.raise(sample_alert()).await.unwrap();
    assert_eq!(alerts.flush(Duration::from_secs(5)).await, 0);

    assert_eq!(receiver.attempts.load(Ordering::SeqCst), 3);
    let stats = &alerts.stats()[0];
    assert_eq!(stats.delivered, 0);
    assert_eq!(stats.undelivered, 1);
}

#[tokio::test]
async fn dead_sink_does_not_block() {
    let dir = tempfile::tempdir().unwrap();
    // A port that was free a moment ago: connections to it are refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = webhook_config(dir.path(), &format!("http://127.0.0.1:{port}/hook"), "");
    let audit = open_audit(dir.path()).await;
    let alerts = Alerts::start(&config, Some(audit.clone())).unwrap();

    let started = Instant::now();
    for _ in 0..3 {
        alerts.raise(sample_alert()).await.unwrap();
    }
    assert!(started.elapsed() < Duration::from_secs(1), "raise waited {:?} for a dead sink", started.elapsed());

    let started = Instant::now();
    let abandoned = alerts.flush(Duration::from_millis(300)).await;
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(300), "flush returned after {waited:?}, before its timeout");
    assert!(waited < Duration::from_secs(2), "flush waited {waited:?}, past its timeout");
    assert_eq!(abandoned, 3);
    let stats = &alerts.stats()[0];
    assert_eq!(stats.delivered, 0);
    assert_eq!(stats.undelivered, 3);
    audit.shutdown().await.unwrap();
}

#[tokio::test]
async fn full_queue_drops_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut config = webhook_config(dir.path(), &format!("http://127.0.0.1:{port}/hook"), "");
    config.alerts.queue_capacity = 1;
    let alerts = Alerts::start(&config, None).unwrap();

    for _ in 0..5 {
        alerts.raise(sample_alert()).await.unwrap();
    }
    // One alert is being retried, at most one waits in the queue, the rest were dropped.
    let stats = &alerts.stats()[0];
    assert!(stats.undelivered >= 3, "only {} alerts were counted as dropped", stats.undelivered);
    assert!(stats.pending <= 2);
}

#[tokio::test]
async fn missing_secret_is_rejected() {
    let text = "[[alerts.webhook]]\nurl = \"http://127.0.0.1:9/hook\"\nsecret_env = \"PORTCULLIS_TEST_UNSET_SECRET\"\n";
    let config = Config::parse(text).unwrap();
    let error = Alerts::start(&config, None).err().expect("a missing secret must fail");
    let message = error.to_string();
    assert!(message.contains("PORTCULLIS_TEST_UNSET_SECRET"), "{message}");
}

#[test]
fn webhook_url_must_be_https_or_loopback() {
    let text = "[[alerts.webhook]]\nurl = \"http://alerts.example.com/hook\"\nsecret_env = \"X\"\n";
    let error = Config::parse(text).unwrap_err().to_string();
    assert!(error.contains("alerts.webhook[0].url"), "{error}");
}

#[tokio::test]
async fn syslog_udp_message_is_rfc5424() {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let address = socket.local_addr().unwrap();
    let text = format!(
        "[gateway]\ninstance_name = \"gw-1\"\n[alerts]\nlog = false\n[alerts.syslog]\naddress = \"{address}\"\napp_name = \"portcullis\"\nfacility = \"authpriv\"\n"
    );
    let config = Config::parse(&text).unwrap();
    let alerts = Alerts::start(&config, None).unwrap();
    let alert = sample_alert().detail("note", "quote \" bracket ] backslash \\");
    let alert_id = alert.id;
    alerts.raise(alert).await.unwrap();

    let mut buffer = vec![0u8; 4096];
    let (length, _) = tokio::time::timeout(Duration::from_secs(5), socket.recv_from(&mut buffer))
        .await
        .expect("no syslog datagram within 5 s")
        .unwrap();
    let message = std::str::from_utf8(&buffer[..length]).unwrap();
    let parsed = rfc5424::parse(message).unwrap_or_else(|error| panic!("not RFC 5424 ({error}): {message}"));

    assert_eq!(parsed.priority, 10 * 8 + 2, "authpriv.crit");
    assert_eq!(parsed.version, 1);
    assert_eq!(parsed.app_name, "portcullis");
    assert_eq!(parsed.procid, std::process::id().to_string());
    assert_eq!(parsed.msgid, "admin_role_granted");
    assert_eq!(parsed.sd_id, "portcullis@32473");
    let param = |name: &str| {
        parsed
            .params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
            .unwrap_or_else(|| panic!("no SD-PARAM {name}"))
    };
    assert_eq!(param("kind"), "admin_role_granted");
    assert_eq!(param("severity"), "critical");
    assert_eq!(param("subject"), "alice");
    assert_eq!(param("id"), alert_id.to_string());
    assert_eq!(param("instance"), "gw-1");
    assert_eq!(param("role"), "admin");
    assert_eq!(param("note"), "quote \" bracket ] backslash \\");
    assert!(parsed.msg.starts_with('\u{feff}'), "MSG lacks the UTF-8 BOM");
    assert!(parsed.msg.contains("alice"));
    assert_eq!(alerts.flush(Duration::from_secs(1)).await, 0);
    assert_eq!(alerts.stats()[0].delivered, 1);
}

/// A strict parser of the RFC 5424 grammar (section 6) for one SD-ELEMENT.
mod rfc5424 {
    pub struct Message {
        pub priority: u8,
        pub version: u8,
        pub app_name: String,
        pub procid: String,
        pub msgid: String,
        pub sd_id: String,
        pub params: Vec<(String, String)>,
        pub msg: String,
    }

    pub fn parse(text: &str) -> Result<Message, String> {
        let rest = text.strip_prefix('<').ok_or("no PRI")?;
        let (priority, rest) = rest.split_once('>').ok_or("PRI not closed")?;
        if priority.is_empty() || priority.len() > 3 || !priority.bytes().all(|byte| byte.is_ascii_digit()) {
            return Err(format!("invalid PRI {priority}"));
        }
        let priority: u8 = priority.parse().map_err(|_| "PRI above 191")?;
        if priority > 191 {
            return Err("PRI above 191".into());
        }
        let mut fields = rest.splitn(7, ' ');
        let version: u8 = fields.next().ok_or("no VERSION")?.parse().map_err(|_| "invalid VERSION")?;
        let timestamp = fields.next().ok_or("no TIMESTAMP")?;
        time::OffsetDateTime::parse(timestamp, &time::format_description::well_known::Rfc3339)
            .map_err(|error| format!("invalid TIMESTAMP {timestamp}: {error}"))?;
        if timestamp.contains('.') && timestamp.split('.').nth(1).unwrap().trim_end_matches(|c: char| !c.is_ascii_digit()).len() > 6 {
            return Err("TIME-SECFRAC longer than 6 digits".into());
        }
        let hostname = header(fields.next(), "HOSTNAME", 255)?;
        let app_name = header(fields.next(), "APP-NAME", 48)?;
        let procid = header(fields.next(), "PROCID", 128)?;
        let msgid = header(fields.next(), "MSGID", 32)?;
        let _ = hostname;
        let rest = fields.next().ok_or("no STRUCTURED-DATA")?;
        let (sd_id, params, rest) = parse_element(rest)?;
        let msg = rest.strip_prefix(' ').ok_or("no space before MSG")?.to_string();
        Ok(Message {
            priority,
            version,
            app_name,
            procid,
            msgid,
            sd_id,
            params,
            msg,
        })
    }

    fn header(field: Option<&str>, name: &str, max: usize) -> Result<String, String> {
        let field = field.ok_or(format!("no {name}"))?;
        let valid = !field.is_empty() && field.len() <= max && field.bytes().all(|byte| (33..=126).contains(&byte));
        if !valid {
            return Err(format!("invalid {name} {field:?}"));
        }
        Ok(field.to_string())
    }

    fn is_sd_name(name: &str) -> bool {
        !name.is_empty()
            && name.len() <= 32
            && name.bytes().all(|byte| (33..=126).contains(&byte) && !matches!(byte, b'=' | b']' | b'"' | b' '))
    }

    fn parse_element(text: &str) -> Result<(String, Vec<(String, String)>, &str), String> {
        let mut rest = text.strip_prefix('[').ok_or("STRUCTURED-DATA does not start with [")?;
        let end = rest.find([' ', ']']).ok_or("SD-ID not ended")?;
        let sd_id = rest[..end].to_string();
        if !is_sd_name(&sd_id) || !sd_id.contains('@') {
            return Err(format!("invalid private SD-ID {sd_id}"));
        }
        rest = &rest[end..];
        let mut params = Vec::new();
        while let Some(after_space) = rest.strip_prefix(' ') {
            let (name, after_name) = after_space.split_once("=\"").ok_or("SD-PARAM without =\"")?;
            if !is_sd_name(name) {
                return Err(format!("invalid PARAM-NAME {name}"));
            }
            let mut value = String::new();
            let mut characters = after_name.char_indices();
            let consumed = loop {
                let (index, character) = characters.next().ok_or("PARAM-VALUE not closed")?;
                match character {
                    '\\' => {
                        let (_, escaped) = characters.next().ok_or("dangling backslash")?;
                        if !matches!(escaped, '"' | '\\' | ']') {
                            value.push('\\');
                        }
                        value.push(escaped);
                    }
                    '"' => break index + 1,
                    ']' => return Err("unescaped ] in PARAM-VALUE".into()),
                    other => value.push(other),
                }
            };
            params.push((name.to_string(), value));
            rest = &after_name[consumed..];
        }
        let rest = rest.strip_prefix(']').ok_or("SD-ELEMENT not closed")?;
        Ok((sd_id, params, rest))
    }
}
