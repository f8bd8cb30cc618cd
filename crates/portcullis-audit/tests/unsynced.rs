//! Appends that do not wait for their sync: written in order, with the next waiting
//! append or after a short linger, and never dropped at shutdown.

mod common;

use std::time::Duration;

use common::{sample_event, TestLog};

fn subjects(test_log: &TestLog) -> Vec<String> {
    test_log
        .records()
        .into_iter()
        .filter(|record| record.event_type != portcullis_audit::event_types::AUDIT_CHECKPOINT)
        .map(|record| record.subject)
        .collect()
}

#[tokio::test]
async fn unsynced_append_precedes_waiting_append() {
    let test_log = TestLog::new(1000);
    let log = test_log.open().await;
    log.append_unsynced(sample_event(1)).await.unwrap();
    log.append_unsynced(sample_event(2)).await.unwrap();
    let seq = log.append(sample_event(3)).await.unwrap();
    assert_eq!(seq, 3, "the unsynced records take the first two sequence numbers");
    assert_eq!(
        subjects(&test_log),
        ["statement 1", "statement 2", "statement 3"],
        "all three are on disk once the waiting append returns"
    );
    log.shutdown().await.unwrap();
    test_log.verify().unwrap();
}

#[tokio::test]
async fn unsynced_append_alone_after_linger() {
    let test_log = TestLog::new(1000);
    let log = test_log.open().await;
    log.append_unsynced(sample_event(7)).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while subjects(&test_log).is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "the held record was never written");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(subjects(&test_log), ["statement 7"]);
    log.shutdown().await.unwrap();
}

#[tokio::test]
async fn shutdown_writes_pending_appends() {
    let test_log = TestLog::new(1000);
    let log = test_log.open().await;
    log.append_unsynced(sample_event(4)).await.unwrap();
    log.shutdown().await.unwrap();
    assert_eq!(subjects(&test_log), ["statement 4"]);
    test_log.verify().unwrap();
}
