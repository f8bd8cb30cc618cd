//! Several writers on one log file: each batch continues after the records of the others,
//! repairs what a crashed writer left, and fails closed when the file changed in a way
//! that no writer produces.

mod common;

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::MetadataExt;

use common::{assert_checkpoints_contiguous, sample_event, TestLog};
use portcullis_audit::{event_types, AuditError, AuditLog};

fn append_bytes(test_log: &TestLog, bytes: &[u8]) {
    let mut file = OpenOptions::new().append(true).open(test_log.config.log_path()).unwrap();
    file.write_all(bytes).unwrap();
}

/// Writes `lines` to a new file and renames it over the log, so the log path names another
/// inode than the one the writers opened.
fn replace_log(test_log: &TestLog, lines: &[String]) {
    let path = test_log.config.log_path();
    let replacement = path.with_extension("replacement");
    let mut text = lines.join("\n");
    text.push('\n');
    fs::write(&replacement, text).unwrap();
    fs::rename(&replacement, &path).unwrap();
}

/// Appends one event and returns the reason of the `LogFailed` error that it must get.
async fn failed_append_reason(log: &AuditLog) -> String {
    match log.append(sample_event(99)).await {
        Err(AuditError::LogFailed { reason, .. }) => reason,
        other => panic!("expected AuditError::LogFailed, got {other:?}"),
    }
}

#[tokio::test]
async fn checkpoint_count_shared_between_writers() {
    let test_log = TestLog::new(10);
    let first = test_log.open().await;
    let second = test_log.open().await;
    for index in 0..6 {
        first.append(sample_event(index)).await.unwrap();
    }
    let mut second_seqs = Vec::new();
    for index in 6..12 {
        second_seqs.push(second.append(sample_event(index)).await.unwrap());
    }
    assert_eq!(second_seqs, vec![7, 8, 9, 10, 12, 13], "checkpoint 11 seals records 1 to 10 of both writers");
    assert_eq!(test_log.verify().unwrap().anchor_seq, 11);

    first.shutdown().await.unwrap();
    second.shutdown().await.unwrap();
    let report = test_log.verify().unwrap();
    assert_eq!(report.last_seq, 14, "the first shutdown seals 12 and 13 with checkpoint 14");
    assert_eq!(report.checkpoints, 2, "the second shutdown finds nothing left to seal");
    assert_eq!(report.anchor_seq, 14);
    assert_checkpoints_contiguous(&test_log.records());
}

/// A torn line after another writer's records, as a writer killed in the middle of a write
/// leaves it, is truncated by the next batch of any writer and recorded before its events.
#[tokio::test]
async fn torn_line_of_other_writer_recovered() {
    let test_log = TestLog::new(10);
    let first = test_log.open().await;
    let second = test_log.open().await;
    first.append(sample_event(0)).await.unwrap();
    first.append(sample_event(1)).await.unwrap();
    second.append(sample_event(2)).await.unwrap();
    second.append(sample_event(3)).await.unwrap();
    let torn_at = fs::metadata(test_log.config.log_path()).unwrap().len();
    let fragment = br#"{"v":1,"seq":5,"ts":"2025-01-0"#;
    append_bytes(&test_log, fragment);
    assert_eq!(test_log.verify().unwrap().incomplete_final_line_bytes, Some(fragment.len() as u64));

    assert_eq!(first.append(sample_event(4)).await.unwrap(), 6, "record 5 is audit.recovered");
    let records = test_log.records();
    let recovered = &records[4];
    assert_eq!(recovered.seq, 5);
    assert_eq!(recovered.event_type, event_types::AUDIT_RECOVERED);
    assert_eq!(recovered.metadata["truncated_bytes"], fragment.len() as u64);
    assert_eq!(recovered.metadata["truncated_at_offset"], torn_at);
    assert_eq!(second.append(sample_event(5)).await.unwrap(), 7);

    first.shutdown().await.unwrap();
    second.shutdown().await.unwrap();
    let report = test_log.verify().unwrap();
    assert_eq!(report.incomplete_final_line_bytes, None);
    assert_eq!(report.unanchored_records, 0);
    let text = fs::read(test_log.config.log_path()).unwrap();
    assert!(!text.windows(fragment.len()).any(|window| window == fragment));
}

/// A writer that stopped between syncing its checkpoint and replacing the anchor leaves an
/// older anchor. The next batch of another writer brings the anchor up to that checkpoint.
#[tokio::test]
async fn stale_anchor_of_other_writer_refreshed() {
    let test_log = TestLog::new(5);
    let first = test_log.open().await;
    let second = test_log.open().await;
    for index in 0..4 {
        first.append(sample_event(index)).await.unwrap();
    }
    let old_anchor = fs::read(test_log.anchor_path()).unwrap();
    first.append(sample_event(4)).await.unwrap();
    assert_eq!(test_log.verify().unwrap().anchor_seq, 6);
    fs::write(test_log.anchor_path(), &old_anchor).unwrap();
    assert_eq!(test_log.verify().unwrap().anchor_seq, 0);

    assert_eq!(second.append(sample_event(5)).await.unwrap(), 7);
    assert_eq!(test_log.verify().unwrap().anchor_seq, 6);
    first.shutdown().await.unwrap();
    second.shutdown().await.unwrap();
    test_log.verify().unwrap();
}

#[tokio::test]
async fn shrunk_log_fails_writer() {
    let test_log = TestLog::new(10);
    let log = test_log.open().await;
    for index in 0..3 {
        log.append(sample_event(index)).await.unwrap();
    }
    let mut lines = test_log.lines();
    lines.pop();
    test_log.write_lines(&lines);

    let reason = failed_append_reason(&log).await;
    assert!(reason.contains("records were removed"), "{reason}");
    assert!(log.is_failed());
    assert_eq!(test_log.lines().len(), 2, "nothing was written after the failure");
}

#[tokio::test]
async fn appended_duplicate_record_fails_writer() {
    let test_log = TestLog::new(10);
    let log = test_log.open().await;
    log.append(sample_event(0)).await.unwrap();
    log.append(sample_event(1)).await.unwrap();
    let first_line = format!("{}\n", test_log.lines()[0]);
    append_bytes(&test_log, first_line.as_bytes());

    let reason = failed_append_reason(&log).await;
    assert!(reason.contains("do not continue the chain"), "{reason}");
    assert!(log.is_failed());
}

#[tokio::test]
async fn replaced_log_with_same_records_continues() {
    let test_log = TestLog::new(10);
    let log = test_log.open().await;
    for index in 0..3 {
        log.append(sample_event(index)).await.unwrap();
    }
    let inode_before = fs::metadata(test_log.config.log_path()).unwrap().ino();
    replace_log(&test_log, &test_log.lines());
    assert_ne!(fs::metadata(test_log.config.log_path()).unwrap().ino(), inode_before);

    assert_eq!(log.append(sample_event(3)).await.unwrap(), 4);
    log.shutdown().await.unwrap();
    let report = test_log.verify().unwrap();
    assert_eq!(report.last_seq, 5, "event 4 and the final checkpoint 5");
    assert_eq!(report.anchor_seq, 5);
}

#[tokio::test]
async fn replaced_log_without_last_record_fails_writer() {
    let test_log = TestLog::new(10);
    let log = test_log.open().await;
    for index in 0..3 {
        log.append(sample_event(index)).await.unwrap();
    }
    let mut lines = test_log.lines();
    lines.pop();
    replace_log(&test_log, &lines);

    let reason = failed_append_reason(&log).await;
    assert!(reason.contains("no longer contains record 3"), "{reason}");
    assert!(log.is_failed());
    assert_eq!(test_log.lines().len(), 2, "nothing was written to the replacement");
}

#[tokio::test]
async fn removed_log_fails_writer() {
    let test_log = TestLog::new(10);
    let log = test_log.open().await;
    log.append(sample_event(0)).await.unwrap();
    fs::remove_file(test_log.config.log_path()).unwrap();

    let reason = failed_append_reason(&log).await;
    assert!(reason.contains("was removed while open"), "{reason}");
    assert!(log.is_failed());
    assert!(!test_log.config.log_path().exists(), "no new log file was created");
}
