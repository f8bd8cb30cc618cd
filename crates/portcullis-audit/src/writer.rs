//! The blocking half of the writer: turns a batch of events into records, writes them with
//! one `write` and one `fdatasync` under the log's exclusive lock, and signs checkpoints.
//! Only the writer task of one `AuditLog` calls it, through `spawn_blocking`. Other
//! `AuditLog`s, in this process or another, have writers of their own, and the lock
//! orders their batches.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use ed25519_dalek::{Signer, SigningKey};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::anchor::{write_anchor, Anchor};
use crate::encoding::checkpoint_message;
use crate::error::AuditError;
use crate::event::event_types::{AUDIT_CHECKPOINT, AUDIT_RECOVERED};
use crate::event::{AuditEvent, Outcome};
use crate::payload::{encrypt, PayloadKey};
use crate::record::{Hash, Record, FORMAT_VERSION, MAX_RECORD_BYTES};
use crate::shared_file::{BatchStart, RefreshError};
use crate::tail::TornTail;

/// Destination of the encoded records: `SharedLogFile`, or in unit tests a sink that
/// injects write errors.
pub(crate) trait LogSink: Send + 'static {
    /// Takes the exclusive lock for one batch and advances `head` past the records that
    /// other writers appended since this writer's last batch. A sink that no other writer
    /// shares keeps this default, which changes nothing.
    fn begin_batch(&mut self, _head: &mut ChainHead) -> Result<BatchStart, RefreshError> {
        Ok(BatchStart::default())
    }

    fn append(&mut self, bytes: &[u8]) -> io::Result<()>;

    fn sync(&mut self) -> io::Result<()>;

    /// Releases the lock that `begin_batch` took.
    fn end_batch(&mut self) {}
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
    /// A torn final line that was truncated and that the next batch records with an
    /// `audit.recovered` record.
    pending_recovery: Option<TornTail>,
}

/// Outcome of one commit: one result per event, in order, and whether this writer wrote a
/// checkpoint (and so the anchor).
pub(crate) struct Committed {
    pub results: Vec<Result<u64, AuditError>>,
    pub checkpointed: bool,
    /// Whether records of any writer were already waiting for a checkpoint when the batch
    /// started. When none were, the checkpoint interval starts with this batch.
    pub window_was_open: bool,
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
            pending_recovery: None,
        }
    }

    /// Returns the reason of the failure that stopped this writer, if any.
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

    /// Commits one batch. Takes the lock and continues the chain after the records that
    /// other writers appended. Encodes the events and adds checkpoints where due (every
    /// `checkpoint_every` records, and at the end when `force_checkpoint` is set). Then
    /// writes and syncs the batch, replaces the anchor after a checkpoint, and releases the
    /// lock. A result is `Ok(seq)` only once its record is durable.
    pub fn commit(&mut self, events: Vec<AuditEvent>, force_checkpoint: bool) -> Committed {
        if let Some(reason) = self.failure.clone() {
            let results = events.iter().map(|_| Err(self.failed_error(&reason))).collect();
            return Committed {
                results,
                checkpointed: false,
                window_was_open: false,
            };
        }

        let started = match self.sink.begin_batch(&mut self.head) {
            Ok(started) => started,
            Err(error) => {
                self.sink.end_batch();
                let failure = Failure::Refresh(error);
                let reason = self.fail(&failure);
                let results = events.iter().map(|_| Err(self.batch_error(&failure, &reason))).collect();
                return Committed {
                    results,
                    checkpointed: false,
                    window_was_open: false,
                };
            }
        };
        if started.truncated.is_some() {
            self.pending_recovery = started.truncated;
        }
        let committed = self.commit_locked(events, force_checkpoint, started.unanchored_checkpoint);
        self.sink.end_batch();
        committed
    }

    /// Finishes `AuditLog::open` while the lock taken for its checks is still held: writes
    /// the `audit.recovered` record for the torn tail that the checks truncated, if any, so
    /// that it directly follows the truncation point. Then releases the lock.
    pub fn finish_open(&mut self, truncated: Option<TornTail>) -> Result<(), AuditError> {
        self.pending_recovery = truncated;
        self.commit_locked(Vec::new(), false, None);
        self.sink.end_batch();
        match self.failure_error() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// Runs the part of `commit` that needs the lock, after the head is up to date.
    /// `unanchored_checkpoint` is another writer's checkpoint that the anchor must name
    /// when this batch writes no checkpoint of its own.
    fn commit_locked(
        &mut self,
        events: Vec<AuditEvent>,
        force_checkpoint: bool,
        unanchored_checkpoint: Option<Anchor>,
    ) -> Committed {
        let window_was_open = self.head.since_checkpoint > 0;
        let encoded = self.encode_batch(events, force_checkpoint);
        if let Some(error) = encoded.internal_error {
            return self.fail_batch(encoded.results, Failure::InternalRecord(error));
        }

        if !encoded.buffer.is_empty() {
            if let Err(error) = self.write_and_sync(&encoded.buffer) {
                return self.fail_batch(encoded.results, Failure::Log(Arc::new(error)));
            }
        }
        if let Some(anchor) = encoded.newest_checkpoint.or(unanchored_checkpoint) {
            if let Err(error) = write_anchor(&self.anchor_path, anchor, &self.signing_key) {
                return self.fail_batch(encoded.results, Failure::Anchor(Arc::new(error)));
            }
        }
        Committed {
            results: encoded.results,
            checkpointed: encoded.newest_checkpoint.is_some(),
            window_was_open,
        }
    }

    /// Encodes a pending `audit.recovered` record, the events and the checkpoints that fall
    /// due among them into one buffer. Stops at a record of the log's own that cannot be
    /// encoded, which the caller treats as a failure.
    fn encode_batch(&mut self, events: Vec<AuditEvent>, force_checkpoint: bool) -> EncodedBatch {
        let mut batch = EncodedBatch {
            buffer: Vec::new(),
            results: Vec::with_capacity(events.len()),
            newest_checkpoint: None,
            internal_error: None,
        };
        if let Some(torn) = self.pending_recovery.take() {
            if let Err(error) = self.encode_event(recovered_event(torn), &mut batch.buffer) {
                batch.internal_error = Some(error);
                return batch;
            }
            if self.head.since_checkpoint >= self.checkpoint_every {
                self.add_checkpoint(&mut batch);
                if batch.internal_error.is_some() {
                    return batch;
                }
            }
        }
        for event in events {
            let result = self.encode_event(event, &mut batch.buffer);
            batch.results.push(result);
            if self.head.since_checkpoint >= self.checkpoint_every {
                self.add_checkpoint(&mut batch);
                if batch.internal_error.is_some() {
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
            Err(error) => batch.internal_error = Some(error),
        }
    }

    fn write_and_sync(&mut self, buffer: &[u8]) -> io::Result<()> {
        self.sink.append(buffer)?;
        self.sink.sync()
    }

    /// Marks the writer failed and turns every result of the batch into an error, because
    /// none of them is known to be durable and anchored.
    fn fail_batch(&mut self, results: Vec<Result<u64, AuditError>>, failure: Failure) -> Committed {
        let reason = self.fail(&failure);
        let results = results
            .into_iter()
            .map(|result| result.and_then(|_| Err(self.batch_error(&failure, &reason))))
            .collect();
        Committed {
            results,
            checkpointed: false,
            window_was_open: false,
        }
    }

    /// Marks the writer failed and returns the reason that later appends report.
    fn fail(&mut self, failure: &Failure) -> String {
        let reason = failure.to_string();
        tracing::error!(log = %self.log_path.display(), %reason, "audit log stopped accepting records");
        self.failure = Some(reason.clone());
        reason
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
            Failure::InternalRecord(_) | Failure::Refresh(_) => self.failed_error(reason),
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
    /// Error of encoding a checkpoint or `audit.recovered` record.
    internal_error: Option<AuditError>,
}

/// Cause of a writer failure.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error("write to the log failed: {0}")]
    Log(Arc<io::Error>),
    #[error("write to the anchor failed: {0}")]
    Anchor(Arc<io::Error>),
    #[error("a checkpoint or audit.recovered record could not be encoded: {0}")]
    InternalRecord(AuditError),
    #[error("checking the log before a write failed: {0}")]
    Refresh(RefreshError),
}

/// Builds the `audit.recovered` event for a torn final line that was truncated.
fn recovered_event(torn: TornTail) -> AuditEvent {
    AuditEvent::new(AUDIT_RECOVERED, "audit log", Outcome::Success)
        .meta("truncated_bytes", torn.bytes)
        .meta("truncated_at_offset", torn.offset)
        .meta("reason", "incomplete final line left by a crash; it was never acknowledged")
}

/// Returns the current UTC time cut to microseconds, the precision stored on disk.
fn now_micros() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(now.microsecond() * 1_000).unwrap_or(now)
}
