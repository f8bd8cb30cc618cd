//! Opening, reopening, crash recovery and the checks at open.

mod common;

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::time::Duration;

use common::{sample_event, TestLog};
use portcullis_audit::{
    event_types, read_records, AuditError, AuditEvent, AuditLog, Outcome, RecordFilter, VerifyError,
};

/// Appends `count` sample events, then drops the runtime before the handle, so the writer
/// task is cancelled without writing its final checkpoint, as in a crash after the last
/// acknowledged append.
fn append_then_crash(test_log: &TestLog, count: u64) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let log = runtime.block_on(async {
        let log = test_log.open().await;
        for index in 0..count {
            log.append(sample_event(index)).await.unwrap();
        }
        log
    });
    drop(runtime);
    drop(log);
}

fn open_error(test_log: &TestLog) -> AuditError {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let result = runtime.block_on(AuditLog::open(
        test_log.config.clone(),
        test_log.signing_key.clone(),
        test_log.payload_key(),
    ));
    match result {
        Ok(_) => panic!("open succeeded on an inconsistent log"),
        Err(error) => error,
    }
}

fn inconsistency(error: AuditError) -> VerifyError {
    match error {
        AuditError::Inconsistent { source, .. } => source,
        other => panic!("expected AuditError::Inconsistent, got {other:?}"),
    }
}

fn append_bytes(test_log: &TestLog, bytes: &[u8]) {
    let mut file = OpenOptions::new().append(true).open(test_log.config.log_path()).unwrap();
    file.write_all(bytes).unwrap();
}

fn seqs(test_log: &TestLog) -> Vec<u64> {
    test_log.records().iter().map(|record| record.seq).collect()
}

#[tokio::test]
async fn reopen_several_times_verifies() {
    let test_log = TestLog::new(4);
    let mut last_seq = 0;
    for round in 0..4u64 {
        let log = test_log.open().await;
        for index in 0..5 {
            let seq = log.append(sample_event(round * 5 + index)).await.unwrap();
            assert!(seq > last_seq, "sequence numbers must grow across reopens");
            last_seq = seq;
        }
        log.shutdown().await.unwrap();
        let report = test_log.verify().unwrap();
        assert_eq!(report.unanchored_records, 0, "round {round}");
    }
    let all: Vec<u64> = (1..=test_log.verify().unwrap().last_seq).collect();
    assert_eq!(seqs(&test_log), all);
}

#[test]
fn crash_leaves_verifiable_log_that_reopens() {
    let test_log = TestLog::new(10);
    append_then_crash(&test_log, 25);
    let report = test_log.verify().unwrap();
    assert_eq!(report.last_seq, 27);
    assert_eq!(report.anchor_seq, 22);
    assert_eq!(report.unanchored_records, 5);

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let log = test_log.open().await;
        assert_eq!(log.append(sample_event(99)).await.unwrap(), 28);
        log.shutdown().await.unwrap();
    });
    let report = test_log.verify().unwrap();
    assert_eq!(report.last_seq, 29, "event 28 and the final checkpoint 29");
    assert_eq!(report.anchor_seq, 29);
}

#[test]
fn open_rejects_altered_unanchored_record() {
    let test_log = TestLog::new(10);
    append_then_crash(&test_log, 25);
    let mut lines = test_log.lines();
    let index = test_log.index_of(25);
    lines[index] = lines[index].replace("statement 22", "statement 99");
    test_log.write_lines(&lines);

    let error = open_error(&test_log);
    assert!(error.to_string().contains("record 25: hash mismatch"), "{error}");
    let source = inconsistency(error);
    assert!(matches!(source, VerifyError::HashMismatch { seq: 25 }), "{source:?}");
}

#[test]
fn open_rejects_altered_anchored_checkpoint() {
    let test_log = TestLog::new(10);
    append_then_crash(&test_log, 25);
    let mut lines = test_log.lines();
    let index = test_log.index_of(22);
    lines[index] = lines[index].replace("\"last_seq\":21", "\"last_seq\":20");
    test_log.write_lines(&lines);

    let source = inconsistency(open_error(&test_log));
    assert!(matches!(source, VerifyError::HashMismatch { seq: 22 }), "{source:?}");
}

#[test]
fn open_rejects_dropped_tail() {
    let test_log = TestLog::new(10);
    append_then_crash(&test_log, 25);
    let mut lines = test_log.lines();
    lines.truncate(test_log.index_of(20) + 1);
    test_log.write_lines(&lines);

    let source = inconsistency(open_error(&test_log));
    assert!(
        matches!(
            source,
            VerifyError::Truncated {
                seq: 21,
                anchor_seq: 22
            }
        ),
        "{source:?}"
    );
}

#[test]
fn open_rejects_deleted_unanchored_record() {
    let test_log = TestLog::new(10);
    append_then_crash(&test_log, 25);
    let mut lines = test_log.lines();
    lines.remove(test_log.index_of(24));
    test_log.write_lines(&lines);

    let source = inconsistency(open_error(&test_log));
    assert_eq!(source.seq(), Some(24), "{source:?}");
}

#[test]
fn open_rejects_missing_anchor() {
    let test_log = TestLog::new(10);
    append_then_crash(&test_log, 3);
    fs::remove_file(test_log.anchor_path()).unwrap();
    let source = inconsistency(open_error(&test_log));
    assert!(matches!(source, VerifyError::AnchorMissing { .. }), "{source:?}");
}

#[test]
fn torn_line_without_newline_truncated() {
    let test_log = TestLog::new(10);
    append_then_crash(&test_log, 25);
    let fragment = br#"{"v":1,"seq":28,"ts":"2025-01-0"#;
    append_bytes(&test_log, fragment);
    let report = test_log.verify().unwrap();
    assert_eq!(report.incomplete_final_line_bytes, Some(fragment.len() as u64));

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let log = test_log.open().await;
        log.shutdown().await.unwrap();
    });
    assert_eq!(test_log.verify().unwrap().incomplete_final_line_bytes, None);
    let records = test_log.records();
    let recovered = &records[test_log.index_of(28)];
    assert_eq!(recovered.event_type, event_types::AUDIT_RECOVERED);
    assert_eq!(recovered.metadata["truncated_bytes"], fragment.len() as u64);
    test_log.verify().unwrap();
    let text = fs::read(test_log.config.log_path()).unwrap();
    assert!(!text.windows(fragment.len()).any(|window| window == fragment));
}

#[test]
fn torn_unparsable_last_line_truncated() {
    let test_log = TestLog::new(10);
    append_then_crash(&test_log, 4);
    append_bytes(&test_log, b"\0\0\0\0\0\0\0\n");

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let log = test_log.open().await;
        log.shutdown().await.unwrap();
    });
    let records = test_log.records();
    assert_eq!(records[4].event_type, event_types::AUDIT_RECOVERED);
    assert_eq!(records[4].metadata["truncated_bytes"], 8);
    test_log.verify().unwrap();
}

#[tokio::test]
async fn torn_first_write_recovers_to_empty_log() {
    let test_log = TestLog::new(10);
    test_log.open().await.shutdown().await.unwrap();
    append_bytes(&test_log, br#"{"v":1,"se"#);

    let log = test_log.open().await;
    assert_eq!(log.append(sample_event(0)).await.unwrap(), 2, "record 1 is audit.recovered");
    log.shutdown().await.unwrap();
    assert_eq!(test_log.records()[0].event_type, event_types::AUDIT_RECOVERED);
    test_log.verify().unwrap();
}

#[test]
fn stale_anchor_refreshed_at_open() {
    let test_log = TestLog::new(10);
    append_then_crash(&test_log, 10);
    let old_anchor = fs::read(test_log.anchor_path()).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let log = test_log.open().await;
        for index in 0..10 {
            log.append(sample_event(index)).await.unwrap();
        }
        log.shutdown().await.unwrap();
    });
    // As if the process died after syncing checkpoint 22 but before replacing the anchor.
    fs::write(test_log.anchor_path(), &old_anchor).unwrap();
    assert_eq!(test_log.verify().unwrap().anchor_seq, 11);

    runtime.block_on(async {
        let log = test_log.open().await;
        assert_eq!(test_log.verify().unwrap().anchor_seq, 22);
        log.shutdown().await.unwrap();
    });
}

#[tokio::test]
async fn open_with_other_signing_key_rejected() {
    let test_log = TestLog::new(10);
    test_log.open().await.shutdown().await.unwrap();
    let other_key = portcullis_audit::generate_signing_key();
    let error = AuditLog::open(test_log.config.clone(), other_key, test_log.payload_key())
        .await
        .err()
        .unwrap();
    let source = inconsistency(error);
    assert!(matches!(source, VerifyError::AnchorSignatureInvalid { .. }), "{source:?}");
}

/// A second open of a log that is open already succeeds, and both handles append to one
/// chain, each continuing after the other's records.
#[tokio::test]
async fn second_open_shares_the_log() {
    let test_log = TestLog::new(10);
    let first = test_log.open().await;
    let second = test_log.open().await;
    for index in 0..6 {
        let log = if index % 2 == 0 { &first } else { &second };
        assert_eq!(log.append(sample_event(index)).await.unwrap(), index + 1, "append {index}");
    }
    first.shutdown().await.unwrap();
    assert_eq!(second.append(sample_event(6)).await.unwrap(), 8, "after the checkpoint 7 of the first shutdown");
    second.shutdown().await.unwrap();

    let report = test_log.verify().unwrap();
    assert_eq!(report.last_seq, 9, "the second shutdown's checkpoint is 9");
    assert_eq!(report.checkpoints, 2);
    assert_eq!(report.anchor_seq, 9);
    let all: Vec<u64> = (1..=9).collect();
    assert_eq!(seqs(&test_log), all);
}

#[tokio::test]
async fn append_after_shutdown_is_closed() {
    let test_log = TestLog::new(10);
    let log = test_log.open().await;
    let clone = log.clone();
    log.shutdown().await.unwrap();
    let result = clone.append(sample_event(0)).await;
    assert!(matches!(result, Err(AuditError::Closed)), "{result:?}");
    assert!(matches!(log.shutdown().await, Err(AuditError::Closed)));
}

#[tokio::test]
async fn dropped_handles_finish_the_log() {
    let test_log = TestLog::new(10);
    let log = test_log.open().await;
    log.append(sample_event(0)).await.unwrap();
    drop(log);

    // The writer task finishes in the background; wait until the anchor names its final
    // checkpoint.
    let mut report = test_log.verify().unwrap();
    for _ in 0..100 {
        if report.anchor_seq == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        report = test_log.verify().unwrap();
    }
    assert_eq!(report.last_seq, 2, "event 1 and the final checkpoint 2");
    assert_eq!(report.anchor_seq, 2, "the writer task finished within 2 s");
    test_log.open().await.shutdown().await.unwrap();
}

#[tokio::test]
async fn reserved_and_invalid_types_rejected() {
    let test_log = TestLog::new(10);
    let log = test_log.open().await;
    let reserved = log
        .append(AuditEvent::new(event_types::AUDIT_CHECKPOINT, "x", Outcome::Success))
        .await;
    assert!(matches!(reserved, Err(AuditError::ReservedEventType { .. })), "{reserved:?}");
    let invalid = log.append(AuditEvent::new("Auth Login", "x", Outcome::Success)).await;
    assert!(matches!(invalid, Err(AuditError::InvalidEventType { .. })), "{invalid:?}");
    let empty = log.append(AuditEvent::new("", "x", Outcome::Success)).await;
    assert!(matches!(empty, Err(AuditError::InvalidEventType { .. })), "{empty:?}");
    assert_eq!(log.append(sample_event(0)).await.unwrap(), 1, "rejected events use no number");
    log.shutdown().await.unwrap();
}

#[tokio::test]
async fn checkpoint_interval_seals_idle_records() {
    let mut test_log = TestLog::new(1000);
    test_log.config.checkpoint_interval = Duration::from_millis(200);
    let log = test_log.open().await;
    for index in 0..3 {
        log.append(sample_event(index)).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(700)).await;

    let filter = RecordFilter {
        event_type_prefix: Some(event_types::AUDIT_CHECKPOINT.to_owned()),
        ..RecordFilter::default()
    };
    let checkpoints: Vec<u64> = read_records(&test_log.config.log_path(), filter, None)
        .unwrap()
        .map(|record| record.unwrap().record.seq)
        .collect();
    assert_eq!(checkpoints, vec![4], "one checkpoint; none while idle after it");
    assert_eq!(test_log.verify().unwrap().anchor_seq, 4);
    log.shutdown().await.unwrap();
}

#[tokio::test]
async fn invalid_config_rejected() {
    let mut test_log = TestLog::new(0);
    let error = AuditLog::open(test_log.config.clone(), test_log.signing_key.clone(), test_log.payload_key())
        .await
        .err()
        .unwrap();
    assert!(error.to_string().contains("checkpoint_every"), "{error}");
    test_log.config.checkpoint_every = 1;
    test_log.config.checkpoint_interval = Duration::ZERO;
    let error = AuditLog::open(test_log.config.clone(), test_log.signing_key.clone(), test_log.payload_key())
        .await
        .err()
        .unwrap();
    assert!(error.to_string().contains("checkpoint_interval"), "{error}");
}
