//! Opening the log directory: lock, anchor, tail check and torn-tail truncation.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use ed25519_dalek::SigningKey;
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use crate::anchor::{read_anchor, write_anchor, Anchor};
use crate::error::AuditError;
use crate::fsutil::{sync_dir, sync_parent_dir};
use crate::log::AuditConfig;
use crate::payload::PayloadKey;
use crate::tail::{scan_tail, TornTail};
use crate::verify_error::VerifyError;
use crate::writer::{FileSink, Writer};

/// A writer ready to continue the chain, and the torn tail that was truncated, if any.
pub(crate) struct Opened {
    pub writer: Writer,
    pub truncated: Option<TornTail>,
}

/// Opens or creates the log, checks its tail against the anchor and truncates a torn final
/// line. Any other inconsistency returns `AuditError::Inconsistent` before anything is
/// written to the log or the anchor.
pub(crate) fn open_writer(
    config: &AuditConfig,
    signing_key: SigningKey,
    payload_key: PayloadKey,
) -> Result<Opened, AuditError> {
    let log_path = config.log_path();
    let anchor_path = config.anchor_path();
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&config.dir)
        .map_err(|source| io_error("create the audit directory", &config.dir, source))?;

    let file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .mode(0o600)
        .open(&log_path)
        .map_err(|source| io_error("open", &log_path, source))?;
    let file = lock(file, &log_path)?;
    // The log file or the directory may have just been created; make their entries durable
    // before any record is acknowledged.
    sync_dir(&config.dir)
        .and_then(|()| sync_parent_dir(&config.dir))
        .map_err(|source| io_error("sync the audit directory", &config.dir, source))?;
    let len = file
        .metadata()
        .map_err(|source| io_error("read the size of", &log_path, source))?
        .len();

    let verifying_key = signing_key.verifying_key();
    let inconsistent = |source: VerifyError| match source {
        VerifyError::Io { path, source } => io_error("read", &path, source),
        source => AuditError::Inconsistent {
            path: log_path.clone(),
            source,
        },
    };
    let anchor = match read_anchor(&anchor_path, &verifying_key).map_err(inconsistent)? {
        Some(anchor) => anchor,
        None if len == 0 => {
            write_anchor(&anchor_path, Anchor::GENESIS, &signing_key)
                .map_err(|source| io_error("write", &anchor_path, source))?;
            Anchor::GENESIS
        }
        None => {
            return Err(inconsistent(VerifyError::AnchorMissing {
                path: anchor_path.clone(),
            }))
        }
    };

    let scan = scan_tail(&file, &log_path, anchor, &verifying_key).map_err(inconsistent)?;
    if let Some(torn) = scan.torn {
        truncate(&file, &log_path, torn)?;
    }
    if let Some(checkpoint) = scan.newer_checkpoint {
        write_anchor(&anchor_path, checkpoint, &signing_key)
            .map_err(|source| io_error("write", &anchor_path, source))?;
    }
    tracing::info!(
        log = %log_path.display(),
        next_seq = scan.head.next_seq,
        anchor_seq = scan.newer_checkpoint.unwrap_or(anchor).seq,
        "audit log opened"
    );

    let writer = Writer::new(
        Box::new(FileSink(file)),
        log_path,
        anchor_path,
        signing_key,
        payload_key,
        config.checkpoint_every,
        scan.head,
    );
    Ok(Opened {
        writer,
        truncated: scan.torn,
    })
}

/// Takes an exclusive `flock`, which also fails for a second open in the same process, so
/// two writers never interleave lines in one file.
fn lock(file: File, path: &Path) -> Result<Flock<File>, AuditError> {
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(locked) => Ok(locked),
        Err((_, Errno::EWOULDBLOCK)) => Err(AuditError::Locked {
            path: path.to_path_buf(),
        }),
        Err((_, errno)) => Err(io_error("lock", path, io::Error::from(errno))),
    }
}

fn truncate(file: &File, path: &Path, torn: TornTail) -> Result<(), AuditError> {
    tracing::warn!(
        log = %path.display(),
        offset = torn.offset,
        bytes = torn.bytes,
        "truncating an incomplete final line left by a crash; it was never acknowledged"
    );
    file.set_len(torn.offset)
        .and_then(|()| file.sync_all())
        .map_err(|source| io_error("truncate the torn final line of", path, source))
}

fn io_error(action: &'static str, path: &Path, source: io::Error) -> AuditError {
    AuditError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}
