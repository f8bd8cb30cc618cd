//! Payload encryption on disk, and reading with filters.

mod common;

use std::fs::{self, OpenOptions};
use std::io::Write;

use common::{TestLog, MASTER_KEY};
use portcullis_audit::{
    read_records, AuditEvent, Outcome, PayloadKey, PayloadView, ReadError, ReadRecord, RecordFilter,
};
use serde_json::json;
use uuid::Uuid;

fn read_all(test_log: &TestLog, filter: RecordFilter, key: Option<&PayloadKey>) -> Vec<ReadRecord> {
    read_records(&test_log.config.log_path(), filter, key)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle.as_bytes())
}

#[tokio::test]
async fn payload_encrypted_on_disk_and_decryptable() {
    let test_log = TestLog::new(1000);
    let log = test_log.open().await;
    let statement = "SELECT diagnosis FROM patients WHERE mrn = 'MRN-4471'";
    let payload = json!({"statement": statement, "params": ["Jane Q. Public"]});
    let seq = log
        .append(AuditEvent::new("statement", "select on patients", Outcome::Success).payload(payload.clone()))
        .await
        .unwrap();
    log.shutdown().await.unwrap();

    let bytes = fs::read(test_log.config.log_path()).unwrap();
    assert!(!contains(&bytes, "MRN-4471"), "statement text is on disk in clear text");
    assert!(!contains(&bytes, "Jane Q. Public"), "bind parameter is on disk in clear text");
    assert!(!contains(&bytes, "diagnosis"), "statement text is on disk in clear text");

    let key = test_log.payload_key();
    let with_key = read_all(&test_log, RecordFilter::default(), Some(&key));
    let record = with_key.iter().find(|read| read.record.seq == seq).unwrap();
    assert_eq!(record.payload, PayloadView::Decrypted(payload.clone()));
    assert_eq!(record.to_json()["payload"], payload);

    let without_key = read_all(&test_log, RecordFilter::default(), None);
    let record = without_key.iter().find(|read| read.record.seq == seq).unwrap();
    assert_eq!(record.payload, PayloadView::Encrypted);
    assert_eq!(record.to_json()["payload"], "<encrypted>");
    assert_eq!(record.payload.to_string(), "<encrypted>");

    let wrong_key = PayloadKey::derive(&[0x11; 32]);
    let with_wrong_key = read_all(&test_log, RecordFilter::default(), Some(&wrong_key));
    let record = with_wrong_key.iter().find(|read| read.record.seq == seq).unwrap();
    assert_eq!(record.payload, PayloadView::Undecryptable);
}

#[tokio::test]
async fn payload_key_derivation_is_stable() {
    let test_log = TestLog::new(1000);
    test_log.write_sample().await;
    let rederived = PayloadKey::derive(&MASTER_KEY);
    let records = read_all(&test_log, RecordFilter::default(), Some(&rederived));
    let decrypted = records
        .iter()
        .filter(|read| matches!(read.payload, PayloadView::Decrypted(_)))
        .count();
    assert_eq!(decrypted, 40);
}

#[tokio::test]
async fn filters_select_matching_records() {
    let test_log = TestLog::new(10);
    test_log.write_sample().await;
    let all = read_all(&test_log, RecordFilter::default(), None);
    assert_eq!(all.len(), 44);

    let by_actor = RecordFilter {
        actor: Some(Uuid::from_u128(1)),
        ..RecordFilter::default()
    };
    assert_eq!(read_all(&test_log, by_actor, None).len(), 14, "events 0, 3, ..., 39");

    let by_type = RecordFilter {
        event_type_prefix: Some("audit.".to_owned()),
        ..RecordFilter::default()
    };
    let checkpoint_seqs: Vec<u64> = read_all(&test_log, by_type, None).iter().map(|read| read.record.seq).collect();
    assert_eq!(checkpoint_seqs, vec![11, 22, 33, 44]);

    let by_outcome = RecordFilter {
        outcome: Some(Outcome::Denied),
        ..RecordFilter::default()
    };
    assert!(read_all(&test_log, by_outcome, None).is_empty());

    let by_target = RecordFilter {
        target: Some("ehr-primary".to_owned()),
        ..RecordFilter::default()
    };
    assert_eq!(read_all(&test_log, by_target, None).len(), 40);

    let from_seq = RecordFilter {
        from_seq: Some(40),
        ..RecordFilter::default()
    };
    assert_eq!(read_all(&test_log, from_seq, None).len(), 5);
}

#[tokio::test]
async fn time_range_is_inclusive_exclusive() {
    let test_log = TestLog::new(10);
    test_log.write_sample().await;
    let records = test_log.records();
    let since = records[19].timestamp;
    let until = records[29].timestamp;
    let filter = RecordFilter {
        since: Some(since),
        until: Some(until),
        ..RecordFilter::default()
    };
    let found: Vec<u64> = read_all(&test_log, filter, None).iter().map(|read| read.record.seq).collect();
    let expected: Vec<u64> = records
        .iter()
        .filter(|record| record.timestamp >= since && record.timestamp < until)
        .map(|record| record.seq)
        .collect();
    assert_eq!(found, expected);
    assert!(found.contains(&20));
    assert!(!found.contains(&30));
}

#[tokio::test]
async fn reader_stops_at_incomplete_line_and_reports_garbage() {
    let test_log = TestLog::new(10);
    test_log.write_sample().await;
    let path = test_log.config.log_path();
    OpenOptions::new().append(true).open(&path).unwrap().write_all(b"{\"v\":1,").unwrap();
    assert_eq!(read_all(&test_log, RecordFilter::default(), None).len(), 44);

    let mut lines = test_log.lines();
    lines.truncate(44);
    lines.insert(2, "garbage".to_owned());
    test_log.write_lines(&lines);
    let results: Vec<_> = read_records(&path, RecordFilter::default(), None).unwrap().collect();
    assert_eq!(results.len(), 3);
    assert!(matches!(results[2], Err(ReadError::Unparsable { line: 3, .. })), "{:?}", results[2]);
}
