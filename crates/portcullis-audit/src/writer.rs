//! The blocking half of the writer: turns a batch of events into records, writes them with
//! one `write` and one `fdatasync`, and signs checkpoints. Only the writer task calls it,
//! through `spawn_blocking`, so there is exactly one writer per log.

use std::fs::File;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::Arc;

use ed25519_dalek::{Signer, SigningKey};
use nix::fcntl::Flock;
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::anchor::{write_anchor, Anchor};
use crate::encoding::checkpoint_message;
use crate::error::AuditError;
use crate::event::event_types::AUDIT_CHECKPOINT;
use crate::event::{AuditEvent, Outcome};
use crate::payload::{encrypt, PayloadKey};
use crate::record::{Hash, Record, FORMAT_VERSION, MAX_RECORD_BYTES};

/// Destination of the encoded records. A trait so that a unit test can inject write errors.
pub(crate) trait LogSink: Send + 'static {
    fn append(&mut self, bytes: &[u8]) -> io::Result<()>;
    fn sync(&mut self) -> io::Result<()>;
}

/// The log file opened with `O_APPEND` and held under an exclusive `flock`.
pub(crate) struct FileSink(pub Flock<File>);

impl LogSink for FileSink {
    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.0.write_all(bytes)
    }

    fn sync(&mut self) -> io::Result<()> {
        self.0.sync_data()
    }
}

/// Next position of the chain: sequence number, hash of the last record, and the number of
/// records since the last checkpoint.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChainHead {
    pub next_seq: u64,
    pub prev_hash: Hash,
    pub since_checkpoint: u64,
}

pub(crate) struct Writer {
    sink: Box<dyn LogSink>,
    log_path: PathBuf,
    anchor_path: PathBuf,
    signing_key: SigningKey,
    payload_key: PayloadKey,
    checkpoint_every: u64,
    head: ChainHead,
    failure: Option<String>,
}

/// Outcome of one commit: one result per event, in order, and whether a checkpoint (and so
/// the anchor) was written.
pub(crate) struct Committed {
    pub results: Vec<Result<u64, AuditError>>,
    pub checkpointed: bool,
}

impl Writer {
    pub fn new(
        sink: Box<dyn LogSink>,
        log_path: PathBuf,
        anchor_path: PathBuf,
        signing_key: SigningKey,
        payload_key: PayloadKey,
        checkpoint_every: u64,
        head: ChainHead,
    ) -> Self {
        Writer {
            sink,
            log_path,
            anchor_path,
            signing_key,
            payload_key,
            checkpoint_every,
            head,
            failure: None,
        }
    }

    /// Returns the reason of the write failure that stopped this writer, if any.
    pub fn failure(&self) -> Option<&str> {
        self.failure.as_deref()
    }

    /// Returns the error that every append gets once the writer has failed.
    pub fn failure_error(&self) -> Option<AuditError> {
        self.failure.as_deref().map(|reason| self.failed_error(reason))
    }

    pub fn has_records_since_checkpoint(&self) -> bool {
        self.head.since_checkpoint > 0
    }

    /// Encodes the events, adds checkpoints where due (every `checkpoint_every` records, and
    /// at the end when `force_checkpoint` is set), then writes and syncs the batch and, after
    /// a checkpoint, the anchor. A result is `Ok(seq)` only once its record is durable.
    pub fn commit(&mut self, events: Vec<AuditEvent>, force_checkpoint: bool) -> Committed {
        if let Some(reason) = self.failure.clone() {
            let results = events.iter().map(|_| Err(self.failed_error(&reason))).collect();
            return Committed {
                results,
                checkpointed: false,
            };
        }

        let encoded = self.encode_batch(events, force_checkpoint);
        if let Some(error) = encoded.checkpoint_error {
            return self.fail_batch(encoded.results, Failure::Checkpoint(error));
        }
        if encoded.buffer.is_empty() {
            return Committed {
                results: encoded.results,
                checkpointed: false,
            };
        }

        if let Err(error) = self.write_and_sync(&encoded.buffer) {
            return self.fail_batch(encoded.results, Failure::Log(Arc::new(error)));
        }
        if let Some(anchor) = encoded.newest_checkpoint {
            if let Err(error) = write_anchor(&self.anchor_path, anchor, &self.signing_key) {
                return self.fail_batch(encoded.results, Failure::Anchor(Arc::new(error)));
            }
        }
        Committed {
            results: encoded.results,
            checkpointed: encoded.newest_checkpoint.is_some(),
        }
    }

    /// Encodes the events and the checkpoints that fall due among them into one buffer.
    /// Stops at a checkpoint that cannot be encoded, which the caller treats as a failure.
    fn encode_batch(&mut self, events: Vec<AuditEvent>, force_checkpoint: bool) -> EncodedBatch {
        let mut batch = EncodedBatch {
            buffer: Vec::new(),
            results: Vec::with_capacity(events.len()),
            newest_checkpoint: None,
            checkpoint_error: None,
        };
        for event in events {
            let result = self.encode_event(event, &mut batch.buffer);
            batch.results.push(result);
            if self.head.since_checkpoint >= self.checkpoint_every {
                self.add_checkpoint(&mut batch);
                if batch.checkpoint_error.is_some() {
                    return batch;
                }
            }
        }
        if force_checkpoint && self.head.since_checkpoint > 0 {
            self.add_checkpoint(&mut batch);
        }
        batch
    }

    fn add_checkpoint(&mut self, batch: &mut EncodedBatch) {
        match self.encode_checkpoint(&mut batch.buffer) {
            Ok(anchor) => batch.newest_checkpoint = Some(anchor),
            Err(error) => batch.checkpoint_error = Some(error),
        }
    }

    fn write_and_sync(&mut self, buffer: &[u8]) -> io::Result<()> {
        self.sink.append(buffer)?;
        self.sink.sync()
    }

    /// Marks the writer failed and turns every result of the batch into an error, because
    /// none of them is known to be durable and anchored.
    fn fail_batch(&mut self, results: Vec<Result<u64, AuditError>>, failure: Failure) -> Committed {
        let reason = failure.to_string();
        tracing::error!(log = %self.log_path.display(), %reason, "audit log stopped accepting records");
        let results = results
            .into_iter()
            .map(|result| result.and_then(|_| Err(self.batch_error(&failure, &reason))))
            .collect();
        self.failure = Some(reason);
        Committed {
            results,
            checkpointed: false,
        }
    }

    fn batch_error(&self, failure: &Failure, reason: &str) -> AuditError {
        match failure {
            Failure::Log(source) => AuditError::WriteFailed {
                path: self.log_path.clone(),
                source: Arc::clone(source),
            },
            Failure::Anchor(source) => AuditError::AnchorWriteFailed {
                path: self.anchor_path.clone(),
                source: Arc::clone(source),
            },
            Failure::Checkpoint(_) => self.failed_error(reason),
        }
    }

    fn failed_error(&self, reason: &str) -> AuditError {
        AuditError::LogFailed {
            path: self.log_path.clone(),
            reason: reason.to_owned(),
        }
    }

    /// Appends the event's line to `buffer` and advances the head. A record that cannot be
    /// encoded or is too large is rejected without using a sequence number.
    fn encode_event(&mut self, event: AuditEvent, buffer: &mut Vec<u8>) -> Result<u64, AuditError> {
        let seq = self.head.next_seq;
        let payload = match &event.payload {
            Some(value) => Some(encrypt(&self.payload_key, seq, value).map_err(|error| AuditError::Encoding {
                reason: error.to_string(),
            })?),
            None => None,
        };
        let mut record = Record {
            version: FORMAT_VERSION,
            seq,
            timestamp: now_micros(),
            event_type: event.event_type,
            actor: event.actor,
            subject: event.subject,
            outcome: event.outcome,
            session: event.session,
            target: event.target,
            client_addr: event.client_addr,
            metadata: event.metadata,
            payload,
            prev_hash: self.head.prev_hash,
            hash: [0; 32],
            signature: None,
        };
        record.hash = record.compute_hash();
        self.push_record(&record, buffer)?;
        Ok(seq)
    }

    /// Appends a signed checkpoint covering the records since the previous checkpoint.
    fn encode_checkpoint(&mut self, buffer: &mut Vec<u8>) -> Result<Anchor, AuditError> {
        let seq = self.head.next_seq;
        let mut metadata = Map::new();
        metadata.insert("first_seq".into(), Value::from(seq - self.head.since_checkpoint));
        metadata.insert("last_seq".into(), Value::from(seq - 1));
        let mut record = Record {
            version: FORMAT_VERSION,
            seq,
            timestamp: now_micros(),
            event_type: AUDIT_CHECKPOINT.to_owned(),
            actor: None,
            subject: "audit log".to_owned(),
            outcome: Outcome::Success,
            session: None,
            target: None,
            client_addr: None,
            metadata,
            payload: None,
            prev_hash: self.head.prev_hash,
            hash: [0; 32],
            signature: None,
        };
        record.hash = record.compute_hash();
        record.signature = Some(self.signing_key.sign(&checkpoint_message(&record.hash)).to_bytes());
        self.push_record(&record, buffer)?;
        self.head.since_checkpoint = 0;
        Ok(Anchor { seq, hash: record.hash })
    }

    fn push_record(&mut self, record: &Record, buffer: &mut Vec<u8>) -> Result<(), AuditError> {
        let line = record.to_line().map_err(|error| AuditError::Encoding {
            reason: error.to_string(),
        })?;
        if line.len() > MAX_RECORD_BYTES {
            return Err(AuditError::RecordTooLarge {
                size: line.len(),
                max: MAX_RECORD_BYTES,
            });
        }
        buffer.extend_from_slice(&line);
        self.head.next_seq += 1;
        self.head.prev_hash = record.hash;
        self.head.since_checkpoint += 1;
        Ok(())
    }
}

struct EncodedBatch {
    buffer: Vec<u8>,
    results: Vec<Result<u64, AuditError>>,
    newest_checkpoint: Option<Anchor>,
    checkpoint_error: Option<AuditError>,
}

/// Cause of a writer failure.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error("write to the log failed: {0}")]
    Log(Arc<io::Error>),
    #[error("write to the anchor failed: {0}")]
    Anchor(Arc<io::Error>),
    #[error("checkpoint could not be encoded: {0}")]
    Checkpoint(AuditError),
}

/// Returns the current UTC time cut to microseconds, the precision stored on disk.
fn now_micros() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(now.microsecond() * 1_000).unwrap_or(now)
}
