//! Tampering with a stored log: verification must name the exact record.
//!
//! The sample log has events at 1-10, 12-21, 23-32 and 34-43, checkpoints at 11, 22, 33 and
//! 44, and its anchor at 44.

mod common;

use base64::Engine as _;
use common::{record_line, TestLog};
use portcullis_audit::{generate_signing_key, Outcome, Record, SigningKey, VerifyError};
use serde_json::Value;

async fn sample() -> TestLog {
    let test_log = TestLog::new(10);
    test_log.write_sample().await;
    test_log
}

fn edit_record(test_log: &TestLog, seq: u64, edit: impl FnOnce(&mut Value)) {
    let mut lines = test_log.lines();
    let index = test_log.index_of(seq);
    let mut value: Value = serde_json::from_str(&lines[index]).unwrap();
    edit(&mut value);
    lines[index] = serde_json::to_string(&value).unwrap();
    test_log.write_lines(&lines);
}

fn base64_field(value: &Value, pointer: &str) -> Vec<u8> {
    let text = value.pointer(pointer).and_then(Value::as_str).unwrap();
    base64::engine::general_purpose::STANDARD.decode(text).unwrap()
}

fn set_base64_field(value: &mut Value, pointer: &str, bytes: &[u8]) {
    *value.pointer_mut(pointer).unwrap() = Value::from(base64::engine::general_purpose::STANDARD.encode(bytes));
}

fn expect_error(test_log: &TestLog) -> VerifyError {
    match test_log.verify() {
        Ok(report) => panic!("tampered log verified: {report:?}"),
        Err(error) => error,
    }
}

#[tokio::test]
async fn untouched_sample_verifies() {
    let test_log = sample().await;
    let report = test_log.verify().unwrap();
    assert_eq!(report.records, 44);
    assert_eq!(report.last_seq, 44);
    assert_eq!(report.checkpoints, 4);
    assert_eq!(report.anchor_seq, 44);
    assert_eq!(report.unanchored_records, 0);
    assert_eq!(report.incomplete_final_line_bytes, None);
}

#[tokio::test]
async fn payload_byte_changed_named() {
    let test_log = sample().await;
    edit_record(&test_log, 17, |value| {
        let mut ciphertext = base64_field(value, "/payload/ciphertext");
        ciphertext[3] ^= 0x01;
        set_base64_field(value, "/payload/ciphertext", &ciphertext);
    });
    let error = expect_error(&test_log);
    assert!(matches!(error, VerifyError::HashMismatch { seq: 17 }), "{error:?}");
    assert_eq!(
        error.to_string(),
        "record 17: hash mismatch: the record was altered after it was written"
    );
}

/// Changes one character of the stored base64 ciphertext in place, leaving every other
/// byte of the file as the writer wrote it.
#[tokio::test]
async fn payload_byte_changed_in_place_named() {
    let test_log = sample().await;
    let mut lines = test_log.lines();
    let index = test_log.index_of(17);
    let start = lines[index].find("\"ciphertext\":\"").unwrap() + "\"ciphertext\":\"".len();
    let mut bytes = lines[index].clone().into_bytes();
    bytes[start + 4] = if bytes[start + 4] == b'A' { b'B' } else { b'A' };
    lines[index] = String::from_utf8(bytes).unwrap();
    test_log.write_lines(&lines);

    let error = expect_error(&test_log);
    assert!(matches!(error, VerifyError::HashMismatch { seq: 17 }), "{error:?}");
}

#[tokio::test]
async fn metadata_edit_named() {
    let test_log = sample().await;
    edit_record(&test_log, 17, |value| value["meta"]["rows"] = Value::from(0));
    let error = expect_error(&test_log);
    assert!(matches!(error, VerifyError::HashMismatch { seq: 17 }), "{error:?}");
}

#[tokio::test]
async fn outcome_edit_named() {
    let test_log = sample().await;
    edit_record(&test_log, 5, |value| value["outcome"] = Value::from("denied"));
    let error = expect_error(&test_log);
    assert!(matches!(error, VerifyError::HashMismatch { seq: 5 }), "{error:?}");
}

#[tokio::test]
async fn deleted_record_named() {
    let test_log = sample().await;
    let mut lines = test_log.lines();
    lines.remove(test_log.index_of(17));
    test_log.write_lines(&lines);
    let error = expect_error(&test_log);
    assert!(matches!(error, VerifyError::Missing { seq: 17, found: 18 }), "{error:?}");
    assert_eq!(error.seq(), Some(17));
}

#[tokio::test]
async fn deleted_first_record_named() {
    let test_log = sample().await;
    let mut lines = test_log.lines();
    lines.remove(0);
    test_log.write_lines(&lines);
    let error = expect_error(&test_log);
    assert!(matches!(error, VerifyError::Missing { seq: 1, found: 2 }), "{error:?}");
}

#[tokio::test]
async fn swapped_records_named() {
    let test_log = sample().await;
    let mut lines = test_log.lines();
    let index = test_log.index_of(17);
    lines.swap(index, index + 1);
    test_log.write_lines(&lines);
    let error = expect_error(&test_log);
    assert!(
        matches!(
            error,
            VerifyError::OutOfOrder {
                seq: 17,
                found: 18,
                line: 17,
                found_at_line: 18
            }
        ),
        "{error:?}"
    );
}

/// A forger who reimplements the encoding inserts a record with a correct hash and link. The
/// original record with the same sequence number follows it and gives the insertion away.
#[tokio::test]
async fn forged_insert_with_valid_hash_named() {
    let test_log = sample().await;
    let records = test_log.records();
    let previous = &records[test_log.index_of(16)];
    let mut forged = records[test_log.index_of(17)].clone();
    forged.subject = "forged statement".to_owned();
    forged.outcome = Outcome::Denied;
    forged.prev_hash = previous.hash;
    forged.hash = forged.compute_hash();

    let mut lines = test_log.lines();
    lines.insert(test_log.index_of(17), record_line(&forged));
    test_log.write_lines(&lines);
    let error = expect_error(&test_log);
    assert!(
        matches!(
            error,
            VerifyError::Duplicate {
                seq: 17,
                line: 18,
                expected: 18
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn forged_insert_with_stale_hash_named() {
    let test_log = sample().await;
    let mut forged: Record = test_log.records()[test_log.index_of(17)].clone();
    forged.subject = "forged statement".to_owned();

    let mut lines = test_log.lines();
    lines.insert(test_log.index_of(17), record_line(&forged));
    test_log.write_lines(&lines);
    let error = expect_error(&test_log);
    assert!(matches!(error, VerifyError::HashMismatch { seq: 17 }), "{error:?}");
}

/// Altering a record and recomputing only its own hash breaks the next record's link.
#[tokio::test]
async fn altered_and_rehashed_record_breaks_next_link() {
    let test_log = sample().await;
    let mut records = test_log.records();
    let index = test_log.index_of(17);
    records[index].subject = "altered".to_owned();
    records[index].hash = records[index].compute_hash();
    let mut lines = test_log.lines();
    lines[index] = record_line(&records[index]);
    test_log.write_lines(&lines);

    let error = expect_error(&test_log);
    assert!(matches!(error, VerifyError::ChainBroken { seq: 18 }), "{error:?}");
    assert!(error.to_string().contains("does not match record 17"), "{error}");
}

/// Rewriting the whole chain after an alteration hides it from the hash chain, but not
/// from the next checkpoint signature.
#[tokio::test]
async fn rewritten_chain_caught_at_next_checkpoint() {
    let test_log = sample().await;
    let mut records = test_log.records();
    let start = test_log.index_of(17);
    records[start].subject = "altered".to_owned();
    for index in start..records.len() {
        records[index].prev_hash = records[index - 1].hash;
        records[index].hash = records[index].compute_hash();
    }
    let lines: Vec<String> = records.iter().map(record_line).collect();
    test_log.write_lines(&lines);

    let error = expect_error(&test_log);
    assert!(matches!(error, VerifyError::CheckpointSignatureInvalid { seq: 22 }), "{error:?}");
}

#[tokio::test]
async fn tail_dropped_after_checkpoint_named() {
    let test_log = sample().await;
    let mut lines = test_log.lines();
    lines.truncate(test_log.index_of(30) + 1);
    test_log.write_lines(&lines);

    let error = expect_error(&test_log);
    assert!(
        matches!(
            error,
            VerifyError::Truncated {
                seq: 31,
                anchor_seq: 44
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("the log ends after record 30"), "{error}");
}

#[tokio::test]
async fn whole_log_emptied_named() {
    let test_log = sample().await;
    std::fs::write(test_log.config.log_path(), b"").unwrap();
    let error = expect_error(&test_log);
    assert!(matches!(error, VerifyError::Truncated { seq: 1, .. }), "{error:?}");
}

#[tokio::test]
async fn flipped_checkpoint_signature_named() {
    let test_log = sample().await;
    edit_record(&test_log, 22, |value| {
        let mut signature = base64_field(value, "/sig");
        signature[10] ^= 0x80;
        set_base64_field(value, "/sig", &signature);
    });
    let error = expect_error(&test_log);
    assert!(matches!(error, VerifyError::CheckpointSignatureInvalid { seq: 22 }), "{error:?}");
}

#[tokio::test]
async fn checkpoint_signed_by_other_key_named() {
    let test_log = sample().await;
    let records = test_log.records();
    let checkpoint = &records[test_log.index_of(33)];
    let forger: SigningKey = generate_signing_key();
    let mut message = b"portcullis-audit/checkpoint/v1\0".to_vec();
    message.extend_from_slice(&checkpoint.hash);
    let forged = ed25519_dalek::Signer::sign(&forger, &message).to_bytes();
    edit_record(&test_log, 33, |value| set_base64_field(value, "/sig", &forged));

    let error = expect_error(&test_log);
    assert!(matches!(error, VerifyError::CheckpointSignatureInvalid { seq: 33 }), "{error:?}");
}

#[tokio::test]
async fn removed_checkpoint_signature_named() {
    let test_log = sample().await;
    edit_record(&test_log, 11, |value| {
        value.as_object_mut().unwrap().remove("sig");
    });
    let error = expect_error(&test_log);
    assert!(matches!(error, VerifyError::CheckpointSignatureMissing { seq: 11 }), "{error:?}");
}

#[tokio::test]
async fn whitespace_edit_named() {
    let test_log = sample().await;
    let mut lines = test_log.lines();
    let index = test_log.index_of(17);
    lines[index] = lines[index].replacen(",\"subject\"", ", \"subject\"", 1);
    test_log.write_lines(&lines);
    let error = expect_error(&test_log);
    assert!(matches!(error, VerifyError::NonCanonical { seq: 17 }), "{error:?}");
}

#[tokio::test]
async fn garbage_line_named_by_line_number() {
    let test_log = sample().await;
    let mut lines = test_log.lines();
    lines[16] = "{not json".to_owned();
    test_log.write_lines(&lines);
    let error = expect_error(&test_log);
    assert!(error.to_string().starts_with("line 17: not a valid audit record"), "{error}");
    assert_eq!(error.seq(), None);
}

#[tokio::test]
async fn anchor_edit_detected() {
    let test_log = sample().await;
    let path = test_log.anchor_path();
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("\"seq\":44", "\"seq\":43")).unwrap();
    let error = expect_error(&test_log);
    assert!(matches!(error, VerifyError::AnchorSignatureInvalid { .. }), "{error:?}");
}

#[tokio::test]
async fn anchor_deletion_detected() {
    let test_log = sample().await;
    std::fs::remove_file(test_log.anchor_path()).unwrap();
    let error = expect_error(&test_log);
    assert!(matches!(error, VerifyError::AnchorMissing { .. }), "{error:?}");
}

/// A bad record is named even when the anchor file is also gone.
#[tokio::test]
async fn bad_record_reported_before_anchor() {
    let test_log = sample().await;
    std::fs::remove_file(test_log.anchor_path()).unwrap();
    edit_record(&test_log, 3, |value| value["subject"] = Value::from("x"));
    let error = expect_error(&test_log);
    assert!(matches!(error, VerifyError::HashMismatch { seq: 3 }), "{error:?}");
}

#[tokio::test]
async fn wrong_verifying_key_rejected() {
    let test_log = sample().await;
    let other = generate_signing_key().verifying_key();
    let error = portcullis_audit::verify(&test_log.config.log_path(), &test_log.anchor_path(), &other).unwrap_err();
    assert!(matches!(error, VerifyError::CheckpointSignatureInvalid { seq: 11 }), "{error:?}");
}
