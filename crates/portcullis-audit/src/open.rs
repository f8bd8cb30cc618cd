//! Opening the log directory: lock, anchor, tail check and torn-tail truncation.

use std::fs::DirBuilder;
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;

use ed25519_dalek::SigningKey;

use crate::anchor::{read_anchor, write_anchor, Anchor};
use crate::error::AuditError;
use crate::fsutil::{sync_dir, sync_parent_dir};
use crate::log::AuditConfig;
use crate::payload::PayloadKey;
use crate::shared_file::SharedLogFile;
use crate::tail::scan_tail;
use crate::verify_error::VerifyError;
use crate::writer::Writer;

/// Opens or creates the log, checks its tail against the anchor, truncates a torn final
/// line and records that with an `audit.recovered` record. All of this happens under the
/// log's exclusive lock, which is released before this returns. Any inconsistency other
/// than a torn final line returns `AuditError::Inconsistent` before anything is written to
/// the log or the anchor.
pub(crate) fn open_writer(
    config: &AuditConfig,
    signing_key: SigningKey,
    payload_key: PayloadKey,
) -> Result<Writer, AuditError> {
    let log_path = config.log_path();
    let anchor_path = config.anchor_path();
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&config.dir)
        .map_err(|source| io_error("create the audit directory", &config.dir, source))?;

    let verifying_key = signing_key.verifying_key();
    let mut shared = SharedLogFile::open_locked(log_path.clone(), anchor_path.clone(), verifying_key)
        .map_err(|source| io_error("open and lock", &log_path, source))?;
    // The log file or the directory may have just been created; make their entries durable
    // before any record is acknowledged.
    sync_dir(&config.dir)
        .and_then(|()| sync_parent_dir(&config.dir))
        .map_err(|source| io_error("sync the audit directory", &config.dir, source))?;
    let len = shared
        .file()
        .metadata()
        .map_err(|source| io_error("read the size of", &log_path, source))?
        .len();

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

    let scan = scan_tail(shared.file(), &log_path, anchor, &verifying_key).map_err(inconsistent)?;
    shared.set_known_len(len);
    if let Some(torn) = scan.torn {
        shared
            .truncate(torn)
            .map_err(|source| io_error("truncate the torn final line of", &log_path, source))?;
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

    let mut writer = Writer::new(
        Box::new(shared),
        log_path,
        anchor_path,
        signing_key,
        payload_key,
        config.checkpoint_every,
        scan.head,
    );
    writer.finish_open(scan.torn)?;
    Ok(writer)
}

fn io_error(action: &'static str, path: &Path, source: io::Error) -> AuditError {
    AuditError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}
