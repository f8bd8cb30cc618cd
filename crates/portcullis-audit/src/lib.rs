//! Tamper-evident, write-ahead audit log of Portcullis.
//!
//! Every security-relevant event becomes one append-only record. Each record stores the
//! SHA-256 of the previous record (a hash chain), and every N records or T seconds a
//! checkpoint record signed with Ed25519 seals the chain so far. A signed anchor file beside
//! the log names the newest checkpoint, so that removing records up to it is detectable.
//! Payloads that may contain ePHI are encrypted with AES-256-GCM.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use portcullis_audit::{event_types, AuditConfig, AuditEvent, AuditLog, Outcome, PayloadKey};
//!
//! let signing_key = portcullis_audit::load_signing_key("keys/audit-signing.pem".as_ref())?;
//! let payload_key = PayloadKey::derive(&[0u8; 32]); // the gateway's 32-byte master key
//! let log = AuditLog::open(AuditConfig::new("/var/lib/portcullis/audit"), signing_key, payload_key).await?;
//! let seq = log
//!     .append(
//!         AuditEvent::new(event_types::STATEMENT, "SELECT on patients", Outcome::Success)
//!             .target("ehr-primary")
//!             .meta("statement_kind", "select")
//!             .payload(serde_json::json!({"statement": "SELECT name FROM patients"})),
//!     )
//!     .await?; // durable now; only now may the statement go upstream
//! log.shutdown().await?;
//! # let _ = seq; Ok(()) }
//! ```
//!
//! # Files
//!
//! One directory per gateway instance, holding `audit.log` (JSON Lines, one record per line,
//! mode 0600) and `audit.anchor` (one JSON object).
//!
//! Several writers may append to one log at once: `portcullis serve` and admin commands
//! such as `portcullis user add`, run as separate processes, and several `AuditLog::open`
//! handles in one process. Each `AuditLog::open` starts a writer of its own. The writers
//! take turns through an exclusive `flock` on `audit.log`, held for one batch at a time (see
//! "Durability and order"), and `audit.anchor` is only replaced while that lock is held.
//! `flock` coordinates the processes of one host, so do not share an audit directory
//! between hosts. The log file is opened with `O_APPEND`, so a write lands at the end of
//! the file even if a program that ignores the lock wrote last. Replacing `audit.log` by
//! renaming another file over it is detected (see below), but a batch that a writer had
//! already started on the old file still goes to the old file.
//!
//! # Record format
//!
//! Each line is a JSON object with these fields, in this order, with no whitespace:
//!
//! | field | content |
//! |---|---|
//! | `v` | format version, `1` |
//! | `seq` | sequence number, 1 for the first record, then +1 |
//! | `ts` | UTC time of writing, RFC 3339 with 6 fractional digits: `2025-01-31T08:15:02.123456Z` |
//! | `type` | event type, for example `auth.login.succeeded`; `audit.*` is reserved |
//! | `actor` | unique ID (UUID) of the acting user or service, omitted when none |
//! | `subject` | what the event is about, free text |
//! | `outcome` | `success`, `failure`, `denied` or `error` |
//! | `session`, `target`, `client` | session UUID, target name, client address; omitted when none |
//! | `meta` | clear-text, searchable JSON object; must not contain ePHI |
//! | `payload` | omitted, or `{"nonce": base64 (12 bytes), "ciphertext": base64}` |
//! | `prev` | hex SHA-256 of the previous record (64 zeros for record 1) |
//! | `hash` | hex SHA-256 of this record's canonical encoding |
//! | `sig` | base64 Ed25519 signature; on `audit.checkpoint` records only |
//!
//! # Canonical encoding
//!
//! `hash` is SHA-256 over the following bytes, where `u64` is 8 bytes big-endian,
//! `str(x)` is `u64(byte length of x)` followed by the UTF-8 bytes of x, and `opt(x)` is the
//! single byte `0x00` when x is absent, else `0x01` followed by x:
//!
//! ```text
//! "portcullis-audit/record/v1" 0x00
//! v as 4 bytes big-endian || u64(seq) || str(ts) || str(type)
//! opt(str(actor's 16 UUID bytes)) || str(subject) || str(outcome)
//! opt(str(session's 16 UUID bytes)) || opt(str(target)) || opt(str(client))
//! str(meta as JSON: keys sorted by UTF-8 bytes at every depth, no whitespace)
//! opt(12 nonce bytes || str(ciphertext))
//! prev (32 bytes)
//! ```
//!
//! `ts` is hashed in the six-digit form above. Verification also re-serializes each parsed
//! record and requires the stored line to be byte-identical, so edits that the hash does
//! not see (spacing, key order, escapes) are found too.
//!
//! # Signatures and the anchor
//!
//! A checkpoint record has `type` `audit.checkpoint` and `meta`
//! `{"first_seq": …, "last_seq": …}` naming the records it seals. It is hashed like any
//! record. Its `sig` signs `"portcullis-audit/checkpoint/v1" 0x00 || hash` and is not part of
//! the hash. Because the hash covers `prev`, the signature covers every earlier record.
//!
//! `audit.anchor` is `{"v":1,"seq":S,"hash":"<hex>","sig":"<base64>"}`, where `sig` signs
//! `"portcullis-audit/anchor/v1" 0x00 || u64(S) || hash`. It is replaced atomically
//! (temporary file, `fsync`, `rename`, `fsync` of the directory) after each checkpoint,
//! which includes the final checkpoint at shutdown. A new log gets the anchor `S = 0` with
//! the all-zero hash before its first record.
//!
//! # Payload encryption
//!
//! The payload's JSON text is encrypted with AES-256-GCM under a key derived by
//! HKDF-SHA256 from a 32-byte master key with the `info` label
//! `portcullis-audit payload key v1`, with a random 96-bit nonce per record and associated
//! data `"portcullis-audit/payload/v1" 0x00 || u64(seq)`. See [`PayloadKey`].
//!
//! # Durability and order
//!
//! Each `AuditLog` has one writer task. `append` queues the event on a bounded channel; the
//! writer takes everything queued (up to 1024 events) and commits it as one batch:
//!
//! 1. It takes the exclusive `flock` on `audit.log`, waiting while another writer holds it,
//!    and checks that the path still names the file it has open (same device and inode).
//!    When the path names another file, it locks that file instead, checks it from the
//!    anchor as `AuditLog::open` does, and requires that it still contains, unchanged, the
//!    last record this writer wrote or checked.
//! 2. When the file is longer than at the end of this writer's last batch, it checks the
//!    records that other writers appended since (sequence numbers, hashes, links and
//!    checkpoint signatures) and continues the chain after them, with the count of records
//!    since the newest checkpoint. A torn final line, left by a writer that died in the
//!    middle of a write, is truncated and recorded by an `audit.recovered` record at the
//!    start of the batch, as at open. When the newest of those records' checkpoints is
//!    newer than the anchor, because its writer died before replacing the anchor, the
//!    anchor is brought up to it.
//! 3. It writes the batch, with the checkpoints that fall due, with one `write` and one
//!    `fdatasync`, replaces the anchor if the batch contains a checkpoint, and releases the
//!    lock.
//!
//! Then it replies to each caller. So `append` returns `Ok(seq)` only after the record is on
//! disk, and the records of all writers form one chain in one total order.
//!
//! The log fails closed. After a failed write or sync, or when the file is shorter than
//! this writer left it, was removed, holds records that do not continue the chain, or was
//! replaced by a file that fails the checks of step 1, the handle rejects every later
//! append until the log is reopened, because the state of the file is then unknown. A writer that dies releases the lock, because the kernel closes its
//! files. A writer process that is stopped (`SIGSTOP`) while it holds the lock stalls every
//! other writer until it continues or dies.
//!
//! `checkpoint_every` counts the records of all writers since the newest checkpoint in the
//! file. While a writer runs, it seals each of its own records with a checkpoint within
//! `checkpoint_interval` (plus the wait for the lock), and a checkpoint seals the records of
//! every writer before it. `shutdown` writes a final checkpoint that seals the records of
//! every writer, so each short-lived admin command leaves a small checkpoint behind.
//! Without it, the command's records would wait unsigned for another writer's next
//! checkpoint.
//!
//! # Opening and recovery
//!
//! `AuditLog::open` takes the lock, then checks the anchor's signature and the records from
//! the anchor's checkpoint to the end of the file (chain, hashes, signatures), not the
//! older records; run [`verify`] for those. An incomplete final line (no newline, or not
//! parseable) is a write that was never acknowledged: it is truncated and an
//! `audit.recovered` record, written before the lock is released, states how many bytes
//! were removed. Any other inconsistency fails the open.
//!
//! # What verification detects, and what it cannot
//!
//! [`verify`] names the first bad record for an altered record, a deleted, duplicated or
//! inserted record, reordered records, a forged or missing checkpoint signature, and a
//! removed tail up to the anchor's checkpoint. It may run while the gateway appends.
//!
//! Limits:
//! - Records written after the newest anchor are covered by no signature: an attacker who
//!   can write the file can remove them from the end, or rewrite them, undetected. The
//!   window is at most `checkpoint_every` records, or `checkpoint_interval` of time while
//!   the writer that appended the records runs.
//! - The hash chain has no secret, so an attacker who alters a record and recomputes every
//!   later hash is detected at the next checkpoint signature or at the anchor, not at the
//!   altered record.
//! - A complete, older pair of log and anchor copied back over the current one (a rollback)
//!   verifies. Detecting that needs the newest checkpoint hash kept outside this host.
//! - Whoever holds the signing key can forge checkpoints and anchors; keep the signing key
//!   readable only by the gateway and give auditors the verifying key.

mod anchor;
mod chain;
mod encoding;
mod error;
mod event;
mod fsutil;
mod keys;
mod log;
mod open;
mod payload;
mod read;
mod record;
mod shared_file;
mod tail;
mod verify;
mod verify_error;
mod writer;

#[cfg(test)]
mod failure_tests;

pub use error::{AuditError, ReadError};
pub use event::{event_types, AuditEvent, Outcome};
pub use keys::{
    generate_signing_key, load_signing_key, load_verifying_key, write_signing_key, write_verifying_key, KeyError,
};
pub use log::{
    AppendObserver, AuditConfig, AuditLog, ANCHOR_FILE_NAME, DEFAULT_CHECKPOINT_EVERY, DEFAULT_CHECKPOINT_INTERVAL,
    DEFAULT_QUEUE_CAPACITY, LOG_FILE_NAME,
};
pub use payload::{decrypt, PayloadError, PayloadKey};
pub use read::{read_records, PayloadView, ReadRecord, RecordFilter, RecordReader};
pub use record::{EncryptedPayload, Hash, Record, FORMAT_VERSION, GENESIS_HASH, MAX_RECORD_BYTES};
pub use verify::{verify, VerifyReport};
pub use verify_error::{Position, VerifyError};

pub use ed25519_dalek::{SigningKey, VerifyingKey};
