//! Full verification of a log file and its anchor, for `portcullis audit verify`.

use std::fs::File;
use std::io::{self, BufReader};
use std::path::Path;

use ed25519_dalek::VerifyingKey;
use serde::Deserialize;

use crate::anchor::{read_anchor, Anchor};
use crate::chain::ChainChecker;
use crate::fsutil::{line_body, read_line_bounded, LineRead};
use crate::record::{Record, MAX_RECORD_BYTES};
use crate::verify_error::{Position, VerifyError};

/// Summary of a log that verified intact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub records: u64,
    pub last_seq: u64,
    pub checkpoints: u64,
    /// Sequence number that the signed anchor covers (0 for a log without a checkpoint yet).
    pub anchor_seq: u64,
    /// Records after the anchor. No signature covers them yet, so removing them from the
    /// end of the file would not be detected.
    pub unanchored_records: u64,
    /// Length of an incomplete final line (no newline), if any. The writer may be in the
    /// middle of writing it, or a crash left it; it was never acknowledged, and the next
    /// `AuditLog::open` truncates it.
    pub incomplete_final_line_bytes: Option<u64>,
}

/// Verifies the whole chain, every checkpoint signature and the anchor.
///
/// Returns the first inconsistency in file order. Findings about the anchor file itself
/// (missing, unreadable, bad signature) come after every record was checked, so a bad
/// record is named even when the anchor is also bad.
///
/// Safe to run while a gateway appends to the log: the anchor is read before the log, and
/// an incomplete final line is reported in `VerifyReport::incomplete_final_line_bytes`
/// instead of failing.
pub fn verify(log_path: &Path, anchor_path: &Path, key: &VerifyingKey) -> Result<VerifyReport, VerifyError> {
    let anchor = read_anchor(anchor_path, key);
    let trusted_anchor = anchor.as_ref().ok().copied().flatten();

    let mut checker = ChainChecker::from_genesis(key);
    let mut incomplete_final_line_bytes = None;
    match File::open(log_path) {
        Ok(file) => incomplete_final_line_bytes = check_lines(file, log_path, &mut checker, trusted_anchor)?,
        // A missing log is an empty log; the anchor decides whether records are missing.
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(VerifyError::Io {
                path: log_path.to_path_buf(),
                source,
            })
        }
    }

    let anchor = anchor?.ok_or_else(|| VerifyError::AnchorMissing {
        path: anchor_path.to_path_buf(),
    })?;
    let last_seq = checker.last_seq();
    if last_seq < anchor.seq {
        return Err(VerifyError::Truncated {
            seq: last_seq + 1,
            anchor_seq: anchor.seq,
        });
    }
    Ok(VerifyReport {
        records: checker.records,
        last_seq,
        checkpoints: checker.checkpoints,
        anchor_seq: anchor.seq,
        unanchored_records: last_seq - anchor.seq,
        incomplete_final_line_bytes,
    })
}

/// Checks every complete line. Returns the length of an incomplete final line, if any.
fn check_lines(
    file: File,
    log_path: &Path,
    checker: &mut ChainChecker<'_>,
    anchor: Option<Anchor>,
) -> Result<Option<u64>, VerifyError> {
    let mut reader = BufReader::new(file);
    let mut buf = Vec::new();
    let mut line = 0u64;
    loop {
        line += 1;
        let at = Position::Line(line);
        let read = read_line_bounded(&mut reader, &mut buf, MAX_RECORD_BYTES).map_err(|source| VerifyError::Io {
            path: log_path.to_path_buf(),
            source,
        })?;
        match read {
            LineRead::Eof => return Ok(None),
            LineRead::Complete => {}
            LineRead::Incomplete => return Ok(Some(buf.len() as u64)),
            LineRead::TooLong => return Err(VerifyError::LineTooLong { at, max: MAX_RECORD_BYTES }),
        }

        let body = line_body(&buf);
        let record = Record::from_line(body).map_err(|error| VerifyError::Unparsable {
            at,
            reason: error.to_string(),
        })?;
        checker
            .check(&record, body, at)
            .map_err(|error| explain_sequence_error(error, log_path, line))?;
        if let Some(anchor) = anchor {
            if record.seq == anchor.seq && record.hash != anchor.hash {
                return Err(VerifyError::AnchorMismatch { seq: record.seq });
            }
        }
    }
}

/// Replaces a bare `OutOfSequence` with what happened: a duplicate (the sequence number
/// went back), a reorder (the expected record appears later) or a deletion.
fn explain_sequence_error(error: VerifyError, log_path: &Path, line: u64) -> VerifyError {
    let VerifyError::OutOfSequence { seq, found, .. } = error else {
        return error;
    };
    if found < seq {
        return VerifyError::Duplicate {
            seq: found,
            line,
            expected: seq,
        };
    }
    match find_line_of_seq(log_path, line, seq) {
        Some(found_at_line) => VerifyError::OutOfOrder {
            seq,
            line,
            found,
            found_at_line,
        },
        None => VerifyError::Missing { seq, found },
    }
}

/// Returns the number of the first line after `after_line` that contains record `seq`.
/// Lines that do not parse are skipped and the search stops at an over-long or incomplete
/// line, because this only refines a finding already made.
fn find_line_of_seq(log_path: &Path, after_line: u64, seq: u64) -> Option<u64> {
    #[derive(Deserialize)]
    struct SeqOnly {
        seq: u64,
    }

    let mut reader = BufReader::new(File::open(log_path).ok()?);
    let mut buf = Vec::new();
    let mut line = 0u64;
    while read_line_bounded(&mut reader, &mut buf, MAX_RECORD_BYTES).ok()? == LineRead::Complete {
        line += 1;
        if line > after_line && serde_json::from_slice::<SeqOnly>(&buf).is_ok_and(|parsed| parsed.seq == seq) {
            return Some(line);
        }
    }
    None
}
