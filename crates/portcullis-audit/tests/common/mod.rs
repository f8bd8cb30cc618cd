//! Helpers shared by the integration tests: a log in a temporary directory, and line-level
//! access to its file for tampering.

#![allow(dead_code)]

use std::fs;
use std::path::PathBuf;

use portcullis_audit::{
    generate_signing_key, verify, AuditConfig, AuditEvent, AuditLog, Outcome, PayloadKey, Record, SigningKey,
    VerifyError, VerifyReport,
};
use serde_json::json;
use tempfile::TempDir;
use uuid::Uuid;

pub const MASTER_KEY: [u8; 32] = [0x5a; 32];

pub struct TestLog {
    pub dir: TempDir,
    pub config: AuditConfig,
    pub signing_key: SigningKey,
}

impl TestLog {
    pub fn new(checkpoint_every: u64) -> TestLog {
        let dir = tempfile::tempdir().expect("create temporary directory");
        let mut config = AuditConfig::new(dir.path().join("audit"));
        config.checkpoint_every = checkpoint_every;
        TestLog {
            dir,
            config,
            signing_key: generate_signing_key(),
        }
    }

    pub fn payload_key(&self) -> PayloadKey {
        PayloadKey::derive(&MASTER_KEY)
    }

    pub async fn open(&self) -> AuditLog {
        AuditLog::open(self.config.clone(), self.signing_key.clone(), self.payload_key())
            .await
            .expect("open audit log")
    }

    pub fn verify(&self) -> Result<VerifyReport, VerifyError> {
        verify(
            &self.config.log_path(),
            &self.config.anchor_path(),
            &self.signing_key.verifying_key(),
        )
    }

    pub fn lines(&self) -> Vec<String> {
        fs::read_to_string(self.config.log_path())
            .expect("read audit log")
            .lines()
            .map(str::to_owned)
            .collect()
    }

    pub fn write_lines(&self, lines: &[String]) {
        let mut text = lines.join("\n");
        text.push('\n');
        fs::write(self.config.log_path(), text).expect("write audit log");
    }

    pub fn records(&self) -> Vec<Record> {
        self.lines()
            .iter()
            .map(|line| Record::from_line(line.as_bytes()).expect("parse record"))
            .collect()
    }

    /// Returns the index in `lines()` of the record with this sequence number.
    pub fn index_of(&self, seq: u64) -> usize {
        self.records()
            .iter()
            .position(|record| record.seq == seq)
            .unwrap_or_else(|| panic!("record {seq} not in the log"))
    }

    pub fn anchor_path(&self) -> PathBuf {
        self.config.anchor_path()
    }

    /// Builds the sample log of the tamper tests: 40 events with payloads and checkpoints
    /// every 10 records, so records 11, 22, 33 and 44 are checkpoints and the anchor is 44.
    pub async fn write_sample(&self) {
        let log = self.open().await;
        for index in 0..40u64 {
            log.append(sample_event(index)).await.expect("append sample event");
        }
        log.shutdown().await.expect("shut down audit log");
    }
}

pub fn sample_event(index: u64) -> AuditEvent {
    AuditEvent::new("statement", format!("statement {index}"), Outcome::Success)
        .actor(Uuid::from_u128(u128::from(index % 3) + 1))
        .target("ehr-primary")
        .client_addr("192.0.2.10:5432")
        .meta("statement_kind", "select")
        .meta("rows", index)
        .payload(json!({"statement": format!("SELECT name FROM patients WHERE id = {index}")}))
}

/// Serializes a record as the writer would, without the newline.
pub fn record_line(record: &Record) -> String {
    let line = record.to_line().expect("serialize record");
    String::from_utf8(line).expect("UTF-8 line").trim_end().to_owned()
}

/// Asserts that every checkpoint covers exactly the records since the previous checkpoint:
/// `first_seq` is one after the previous checkpoint and `last_seq` one before its own.
pub fn assert_checkpoints_contiguous(records: &[Record]) {
    let mut previous_checkpoint = 0;
    for record in records {
        if record.event_type != portcullis_audit::event_types::AUDIT_CHECKPOINT {
            continue;
        }
        assert_eq!(
            record.metadata["first_seq"],
            previous_checkpoint + 1,
            "first_seq of checkpoint {}",
            record.seq
        );
        assert_eq!(record.metadata["last_seq"], record.seq - 1, "last_seq of checkpoint {}", record.seq);
        previous_checkpoint = record.seq;
    }
}
