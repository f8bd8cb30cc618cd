//! Record-by-record chain checks shared by `verify` and by the tail check at open.

use ed25519_dalek::{Signature, VerifyingKey};

use crate::encoding::checkpoint_message;
use crate::event::event_types::AUDIT_CHECKPOINT;
use crate::record::{Hash, Record, FORMAT_VERSION, GENESIS_HASH};
use crate::verify_error::{Position, VerifyError};

/// Checks records in file order: sequence numbers, own hashes, links to the previous
/// record, checkpoint signatures and the canonical form of each line.
pub(crate) struct ChainChecker<'k> {
    key: &'k VerifyingKey,
    expected_seq: Option<u64>,
    prev_hash: Option<Hash>,
    pub records: u64,
    pub checkpoints: u64,
    /// Sequence number and hash of the newest checkpoint checked so far.
    pub last_checkpoint: Option<(u64, Hash)>,
}

impl<'k> ChainChecker<'k> {
    /// Starts at record 1, whose previous hash must be all zeros.
    pub fn from_genesis(key: &'k VerifyingKey) -> Self {
        ChainChecker {
            key,
            expected_seq: Some(1),
            prev_hash: Some(GENESIS_HASH),
            records: 0,
            checkpoints: 0,
            last_checkpoint: None,
        }
    }

    /// Starts at whatever record comes first, trusting its sequence number and previous
    /// hash. The caller checks that record against the anchor instead.
    pub fn from_any(key: &'k VerifyingKey) -> Self {
        ChainChecker {
            expected_seq: None,
            prev_hash: None,
            ..Self::from_genesis(key)
        }
    }

    /// Starts after a record that was already checked: the next record must have sequence
    /// number `next_seq` and link to `prev_hash`.
    pub fn continuing(key: &'k VerifyingKey, next_seq: u64, prev_hash: Hash) -> Self {
        ChainChecker {
            expected_seq: Some(next_seq),
            prev_hash: Some(prev_hash),
            ..Self::from_genesis(key)
        }
    }

    /// Returns the sequence number of the last record checked, or 0 before the first.
    pub fn last_seq(&self) -> u64 {
        self.expected_seq.map_or(0, |next| next - 1)
    }

    /// Returns the hash of the last record checked.
    pub fn last_hash(&self) -> Option<Hash> {
        self.prev_hash
    }

    /// Checks the next record. `raw_line` is the stored line without its newline.
    pub fn check(&mut self, record: &Record, raw_line: &[u8], at: Position) -> Result<(), VerifyError> {
        let seq = record.seq;
        if record.version != FORMAT_VERSION {
            return Err(VerifyError::UnsupportedVersion {
                seq,
                version: record.version,
            });
        }
        if let Some(expected) = self.expected_seq {
            if seq != expected {
                return Err(VerifyError::OutOfSequence {
                    seq: expected,
                    found: seq,
                    at,
                });
            }
        }
        if record.compute_hash() != record.hash {
            return Err(VerifyError::HashMismatch { seq });
        }
        if let Some(prev_hash) = self.prev_hash {
            if record.prev_hash != prev_hash {
                return Err(VerifyError::ChainBroken { seq });
            }
        }
        self.check_signature(record)?;
        if !is_canonical(record, raw_line) {
            return Err(VerifyError::NonCanonical { seq });
        }

        self.records += 1;
        self.expected_seq = Some(seq.saturating_add(1));
        self.prev_hash = Some(record.hash);
        Ok(())
    }

    fn check_signature(&mut self, record: &Record) -> Result<(), VerifyError> {
        let seq = record.seq;
        if record.event_type != AUDIT_CHECKPOINT {
            return match record.signature {
                Some(_) => Err(VerifyError::UnexpectedSignature { seq }),
                None => Ok(()),
            };
        }
        let signature = record
            .signature
            .ok_or(VerifyError::CheckpointSignatureMissing { seq })?;
        self.key
            .verify_strict(&checkpoint_message(&record.hash), &Signature::from_bytes(&signature))
            .map_err(|_| VerifyError::CheckpointSignatureInvalid { seq })?;
        self.checkpoints += 1;
        self.last_checkpoint = Some((seq, record.hash));
        Ok(())
    }
}

/// Returns whether the stored line is exactly what the writer would produce for the parsed
/// record, so that edits the hash does not cover (spacing, key order, escapes) are found.
fn is_canonical(record: &Record, raw_line: &[u8]) -> bool {
    match record.to_line() {
        Ok(line) => line.strip_suffix(b"\n") == Some(raw_line),
        Err(_) => false,
    }
}
