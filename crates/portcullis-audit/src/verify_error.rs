//! Findings of chain verification. Each names the first bad record.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Position of a line in the log file. Full verification counts lines from 1. The check at
/// open reads the file backwards and gives byte offsets instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    Line(u64),
    ByteOffset(u64),
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Position::Line(line) => write!(f, "line {line}"),
            Position::ByteOffset(offset) => write!(f, "byte offset {offset}"),
        }
    }
}

/// The first inconsistency found in an audit log or its anchor file.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{at}: longer than the maximum of {max} bytes: the log is corrupt")]
    LineTooLong { at: Position, max: usize },
    #[error("{at}: not a valid audit record: {reason}")]
    Unparsable { at: Position, reason: String },
    #[error("{at}: incomplete final line of {bytes} bytes: the writer stopped in the middle of a record that was never acknowledged; opening the log truncates it")]
    TornTail { at: Position, bytes: u64 },
    #[error("record {seq}: unsupported format version {version}; this build reads version 1")]
    UnsupportedVersion { seq: u64, version: u32 },
    #[error("record {seq}: expected at {at} but found record {found}: records were deleted, inserted or reordered")]
    OutOfSequence { seq: u64, found: u64, at: Position },
    #[error("record {seq}: missing: the log jumps to record {found} where record {seq} was expected: records were deleted")]
    Missing { seq: u64, found: u64 },
    #[error("record {seq}: out of order: line {line} contains record {found}, and record {seq} is at line {found_at_line}: records were reordered")]
    OutOfOrder {
        seq: u64,
        line: u64,
        found: u64,
        found_at_line: u64,
    },
    #[error("record {seq}: appears again at line {line}, where record {expected} was expected: a record was inserted or copied")]
    Duplicate { seq: u64, line: u64, expected: u64 },
    #[error("record {seq}: hash mismatch: the record was altered after it was written")]
    HashMismatch { seq: u64 },
    #[error("record {seq}: its previous-record hash does not match record {}: that record was altered and re-hashed, or a record was inserted before record {seq}", .seq.saturating_sub(1))]
    ChainBroken { seq: u64 },
    #[error("record {seq}: checkpoint record without a signature: the checkpoint was forged or edited")]
    CheckpointSignatureMissing { seq: u64 },
    #[error("record {seq}: checkpoint signature invalid: the checkpoint was forged, the records before it were rewritten, or the verifying key is not the log's")]
    CheckpointSignatureInvalid { seq: u64 },
    #[error("record {seq}: signature on a record that is not a checkpoint: the record was edited")]
    UnexpectedSignature { seq: u64 },
    #[error("record {seq}: the stored line is not in canonical form (whitespace, field order or text encoding differ from what the writer produces): the line was edited")]
    NonCanonical { seq: u64 },
    #[error("anchor file {path} is missing: it was deleted or not copied with the log; without it a removed tail cannot be detected")]
    AnchorMissing { path: PathBuf },
    #[error("anchor file {path} is not valid: {reason}")]
    AnchorInvalid { path: PathBuf, reason: String },
    #[error("anchor file {path}: signature invalid: the anchor was forged or edited, or the verifying key is not the log's")]
    AnchorSignatureInvalid { path: PathBuf },
    #[error("record {seq}: hash does not match the signed anchor: the record was rewritten after the anchor was signed")]
    AnchorMismatch { seq: u64 },
    #[error("record {seq}: missing: the signed anchor covers records up to {anchor_seq}, but the log ends after record {}: the tail of the log was removed", .seq.saturating_sub(1))]
    Truncated { seq: u64, anchor_seq: u64 },
}

impl VerifyError {
    /// Returns the sequence number of the first bad record, or `None` when the finding is
    /// about the file as a whole or a line whose sequence number is unreadable.
    pub fn seq(&self) -> Option<u64> {
        match self {
            VerifyError::UnsupportedVersion { seq, .. }
            | VerifyError::OutOfSequence { seq, .. }
            | VerifyError::Missing { seq, .. }
            | VerifyError::OutOfOrder { seq, .. }
            | VerifyError::Duplicate { seq, .. }
            | VerifyError::HashMismatch { seq }
            | VerifyError::ChainBroken { seq }
            | VerifyError::CheckpointSignatureMissing { seq }
            | VerifyError::CheckpointSignatureInvalid { seq }
            | VerifyError::UnexpectedSignature { seq }
            | VerifyError::NonCanonical { seq }
            | VerifyError::AnchorMismatch { seq }
            | VerifyError::Truncated { seq, .. } => Some(*seq),
            VerifyError::Io { .. }
            | VerifyError::LineTooLong { .. }
            | VerifyError::Unparsable { .. }
            | VerifyError::TornTail { .. }
            | VerifyError::AnchorMissing { .. }
            | VerifyError::AnchorInvalid { .. }
            | VerifyError::AnchorSignatureInvalid { .. } => None,
        }
    }

    /// Returns the position of the offending line, when the finding is about one line.
    pub fn position(&self) -> Option<Position> {
        match self {
            VerifyError::LineTooLong { at, .. }
            | VerifyError::Unparsable { at, .. }
            | VerifyError::TornTail { at, .. }
            | VerifyError::OutOfSequence { at, .. } => Some(*at),
            VerifyError::OutOfOrder { line, .. } | VerifyError::Duplicate { line, .. } => Some(Position::Line(*line)),
            _ => None,
        }
    }
}
