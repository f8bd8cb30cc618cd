//! Many tasks appending at once keep one gap-free order.

mod common;

use std::collections::{BTreeSet, HashMap};

use common::{assert_checkpoints_contiguous, TestLog};
use portcullis_audit::{event_types, AuditEvent, AuditLog, Outcome};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appends_get_contiguous_seqs() {
    const TASKS: u64 = 32;
    const APPENDS: u64 = 200;
    let test_log = TestLog::new(1000);
    let log = test_log.open().await;

    let mut handles = Vec::new();
    for task in 0..TASKS {
        let log = log.clone();
        handles.push(tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            for index in 0..APPENDS {
                let subject = format!("task {task} append {index}");
                let event = AuditEvent::new("session.started", subject.clone(), Outcome::Success);
                acknowledged.push((log.append(event).await.unwrap(), subject));
            }
            acknowledged
        }));
    }
    let mut subject_by_seq = HashMap::new();
    for handle in handles {
        for (seq, subject) in handle.await.unwrap() {
            assert!(subject_by_seq.insert(seq, subject).is_none(), "seq {seq} was given twice");
        }
    }
    log.shutdown().await.unwrap();

    let report = test_log.verify().unwrap();
    let records = test_log.records();
    let checkpoints: BTreeSet<u64> = records
        .iter()
        .filter(|record| record.event_type == event_types::AUDIT_CHECKPOINT)
        .map(|record| record.seq)
        .collect();
    assert_eq!(subject_by_seq.len() as u64, TASKS * APPENDS);
    assert_eq!(report.last_seq, TASKS * APPENDS + checkpoints.len() as u64);
    assert_eq!(checkpoints.len(), 7, "6 every 1000 records and 1 at shutdown");
    for record in &records {
        if !checkpoints.contains(&record.seq) {
            assert_eq!(subject_by_seq.get(&record.seq), Some(&record.subject), "record {}", record.seq);
        }
    }
}

/// Appends `appends` events from each of `tasks` tasks and returns every acknowledged
/// sequence number with the subject of its event.
async fn append_from_tasks(log: &AuditLog, label: &str, tasks: u64, appends: u64) -> Vec<(u64, String)> {
    let mut handles = Vec::new();
    for task in 0..tasks {
        let log = log.clone();
        let label = label.to_owned();
        handles.push(tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            for index in 0..appends {
                let subject = format!("handle {label} task {task} append {index}");
                let event = AuditEvent::new("session.started", subject.clone(), Outcome::Success);
                acknowledged.push((log.append(event).await.unwrap(), subject));
            }
            acknowledged
        }));
    }
    let mut acknowledged = Vec::new();
    for handle in handles {
        acknowledged.extend(handle.await.unwrap());
    }
    acknowledged
}

/// Two handles from two `AuditLog::open` calls are separate writers on one file; their
/// batches interleave under the lock and still form one chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_handles_append_concurrently() {
    const TASKS: u64 = 16;
    const APPENDS: u64 = 60;
    let mut test_log = TestLog::new(50);
    test_log.config.checkpoint_interval = std::time::Duration::from_millis(100);
    let first = test_log.open().await;
    let second = test_log.open().await;

    let (first_acks, second_acks) = tokio::join!(
        append_from_tasks(&first, "first", TASKS, APPENDS),
        append_from_tasks(&second, "second", TASKS, APPENDS),
    );
    let mut subject_by_seq = HashMap::new();
    for (seq, subject) in first_acks.into_iter().chain(second_acks) {
        assert!(subject_by_seq.insert(seq, subject).is_none(), "seq {seq} was given twice");
    }
    first.shutdown().await.unwrap();
    second.shutdown().await.unwrap();

    let report = test_log.verify().unwrap();
    assert_eq!(report.unanchored_records, 0);
    let records = test_log.records();
    let seqs: Vec<u64> = records.iter().map(|record| record.seq).collect();
    let contiguous: Vec<u64> = (1..=report.last_seq).collect();
    assert_eq!(seqs, contiguous);
    assert_eq!(subject_by_seq.len() as u64, 2 * TASKS * APPENDS);
    for (seq, subject) in &subject_by_seq {
        let record = &records[(seq - 1) as usize];
        assert_eq!(&record.subject, subject, "record {seq}");
    }
    let unacknowledged: Vec<&str> = records
        .iter()
        .filter(|record| !subject_by_seq.contains_key(&record.seq))
        .map(|record| record.event_type.as_str())
        .collect();
    assert!(
        unacknowledged.iter().all(|event_type| *event_type == event_types::AUDIT_CHECKPOINT),
        "records that no append acknowledged: {unacknowledged:?}"
    );
    assert_checkpoints_contiguous(&records);
}

/// `verify` reads a log that a writer is appending to without false findings.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn verify_during_appends_succeeds() {
    let mut test_log = TestLog::new(25);
    test_log.config.checkpoint_interval = std::time::Duration::from_millis(50);
    let log = test_log.open().await;
    let appenders: Vec<_> = (0..8)
        .map(|task| {
            let log = log.clone();
            tokio::spawn(async move {
                for index in 0..100 {
                    let event = AuditEvent::new("statement", format!("task {task} append {index}"), Outcome::Success)
                        .payload(serde_json::json!({"statement": "x".repeat(500)}));
                    log.append(event).await.unwrap();
                }
            })
        })
        .collect();

    let log_path = test_log.config.log_path();
    let anchor_path = test_log.config.anchor_path();
    let verifying_key = test_log.signing_key.verifying_key();
    let checks = tokio::task::spawn_blocking(move || {
        let mut checks = 0;
        for _ in 0..10 {
            if let Err(error) = portcullis_audit::verify(&log_path, &anchor_path, &verifying_key) {
                panic!("verify during appends: {error}");
            }
            checks += 1;
        }
        checks
    });
    for appender in appenders {
        appender.await.unwrap();
    }
    assert_eq!(checks.await.unwrap(), 10);
    log.shutdown().await.unwrap();
    test_log.verify().unwrap();
}
