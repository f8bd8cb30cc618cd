//! Errors of opening, appending to and reading the audit log.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use crate::verify_error::VerifyError;

/// Errors of `AuditLog`. Every error of `append` means the record is not known to be durable,
/// so the caller must deny the action it describes.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("invalid audit configuration: {reason}")]
    InvalidConfig { reason: String },
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("audit log {path} failed verification at open and was not opened: {source}; run `portcullis audit verify` for a full report and restore the log and anchor from a backup")]
    Inconsistent {
        path: PathBuf,
        #[source]
        source: VerifyError,
    },
    #[error("invalid event type {event_type:?}: use lowercase ASCII letters, digits, '.', '_' and '-', for example \"auth.login.succeeded\"")]
    InvalidEventType { event_type: String },
    #[error("event type {event_type:?} is reserved for records that the audit log writes itself; choose a type that does not start with \"audit.\"")]
    ReservedEventType { event_type: String },
    #[error("audit record would be {size} bytes, over the maximum of {max} bytes; shorten the payload or the metadata")]
    RecordTooLarge { size: usize, max: usize },
    #[error("audit record could not be encoded: {reason}")]
    Encoding { reason: String },
    #[error("audit record could not be written to {path}: {source}; the log now rejects every append until the gateway is restarted")]
    WriteFailed {
        path: PathBuf,
        #[source]
        source: Arc<io::Error>,
    },
    #[error("audit anchor {path} could not be written: {source}; the log now rejects every append until the gateway is restarted")]
    AnchorWriteFailed {
        path: PathBuf,
        #[source]
        source: Arc<io::Error>,
    },
    #[error("audit log {path} rejects appends after an earlier failure ({reason}); fix the storage, then restart the gateway")]
    LogFailed { path: PathBuf, reason: String },
    #[error("audit log is shut down; no more records can be appended")]
    Closed,
    #[error("audit writer task stopped unexpectedly: {reason}")]
    WriterStopped { reason: String },
}

/// Errors of `read_records`.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read audit log {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("audit log {path} line {line}: not a valid audit record: {reason}; run `portcullis audit verify`")]
    Unparsable {
        path: PathBuf,
        line: u64,
        reason: String,
    },
    #[error("audit log {path} line {line}: longer than the maximum of {max} bytes; run `portcullis audit verify`")]
    LineTooLong { path: PathBuf, line: u64, max: usize },
}
