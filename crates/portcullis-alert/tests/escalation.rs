//! Repeated failed logins and denials, appended to a real audit log, raise alerts that
//! are recorded in the same log.

use std::time::{Duration, Instant};

use portcullis_alert::{Alerts, EscalationWatch};
use portcullis_audit::{event_types, read_records, AuditConfig, AuditEvent, AuditLog, Outcome, PayloadKey, Record, RecordFilter};
use portcullis_core::config::Config;
use uuid::Uuid;

async fn watched_log(dir: &std::path::Path, config_text: &str) -> AuditLog {
    let key = portcullis_audit::generate_signing_key();
    let audit = AuditLog::open(AuditConfig::new(dir.join("audit")), key, PayloadKey::derive(&[7u8; 32]))
        .await
        .unwrap();
    let config = Config::parse(config_text).unwrap();
    let alerts = Alerts::start(&config, Some(audit.clone())).unwrap();
    let watch = EscalationWatch::new(alerts, &config.alerts);
    assert!(audit.set_observer(watch.observer()));
    audit
}

fn alert_records(dir: &std::path::Path) -> Vec<Record> {
    read_records(&dir.join("audit/audit.log"), RecordFilter::default(), None)
        .unwrap()
        .map(|record| record.unwrap().record)
        .filter(|record| record.event_type == event_types::ALERT_RAISED)
        .collect()
}

/// Waits until `count` alert records are in the log, then returns them.
async fn wait_for_alerts(dir: &std::path::Path, count: usize) -> Vec<Record> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let records = alert_records(dir);
        if records.len() >= count || Instant::now() > deadline {
            return records;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn failed_logins_over_threshold_alert() {
    let dir = tempfile::tempdir().unwrap();
    let audit = watched_log(dir.path(), "[alerts]\nfailed_login_threshold = 3\nwindow = \"1m\"\n").await;

    for attempt in 0..2 {
        audit
            .append(
                AuditEvent::new(event_types::SESSION_AUTH_FAILED, "mallory", Outcome::Failure)
                    .client_addr(format!("127.0.0.1:{}", 40000 + attempt)),
            )
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(alert_records(dir.path()).is_empty(), "an alert below the threshold");

    audit
        .append(AuditEvent::new(event_types::SESSION_AUTH_FAILED, "mallory", Outcome::Failure).client_addr("127.0.0.1:40002"))
        .await
        .unwrap();
    let records = wait_for_alerts(dir.path(), 2).await;

    assert_eq!(records.len(), 2, "one alert for the user and one for the address");
    let subjects: Vec<&str> = records.iter().map(|record| record.metadata["subject"].as_str().unwrap()).collect();
    assert!(subjects.contains(&"mallory"), "{subjects:?}");
    assert!(subjects.contains(&"127.0.0.1"), "{subjects:?}");
    for record in &records {
        assert_eq!(record.metadata["kind"], "repeated_login_failures");
    }
    audit.shutdown().await.unwrap();
}

#[tokio::test]
async fn denials_over_threshold_alert() {
    let dir = tempfile::tempdir().unwrap();
    let audit = watched_log(dir.path(), "[alerts]\ndenial_threshold = 3\n").await;
    let user = Uuid::new_v4();
    audit
        .append(AuditEvent::new(event_types::SESSION_STARTED, "bob", Outcome::Success).actor(user))
        .await
        .unwrap();

    for _ in 0..2 {
        let allowed = AuditEvent::new(event_types::STATEMENT, "statement", Outcome::Success).actor(user);
        audit.append(allowed).await.unwrap();
        let denied = AuditEvent::new(event_types::STATEMENT, "statement", Outcome::Denied).actor(user);
        audit.append(denied).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(alert_records(dir.path()).is_empty(), "allowed statements were counted");

    let denied = AuditEvent::new(event_types::STATEMENT, "statement", Outcome::Denied).actor(user);
    audit.append(denied).await.unwrap();
    let records = wait_for_alerts(dir.path(), 1).await;

    assert_eq!(records.len(), 1);
    assert_eq!(records[0].metadata["kind"], "repeated_denials");
    assert_eq!(records[0].metadata["subject"], "bob");
    assert_eq!(records[0].metadata["details"]["denials"], 3);
    audit.shutdown().await.unwrap();
}
