//! The log file that every writer on the host shares: an exclusive `flock` around each
//! batch, and the check of what other writers appended since this writer's last batch.

use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use ed25519_dalek::VerifyingKey;
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use crate::anchor::{read_anchor, Anchor};
use crate::tail::{find_record_hash, scan_appended, scan_tail, TornTail};
use crate::verify_error::VerifyError;
use crate::writer::{ChainHead, LogSink};

/// Findings of `LogSink::begin_batch` that the batch must record or repair.
#[derive(Debug, Default)]
pub(crate) struct BatchStart {
    /// A torn final line, left by a writer that stopped in the middle of a write, that was
    /// truncated. The batch records it with an `audit.recovered` record.
    pub truncated: Option<TornTail>,
    /// The newest checkpoint in the file, when the anchor names an older one because the
    /// checkpoint's writer stopped between syncing it and replacing the anchor.
    pub unanchored_checkpoint: Option<Anchor>,
}

/// Reasons why a writer cannot continue the chain that it finds in the file.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RefreshError {
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("the log file {path} was removed while open")]
    Removed { path: PathBuf },
    #[error("the log is {len} bytes, shorter than the {known_len} bytes that this writer last wrote or checked: records were removed by another program")]
    Shrunk { len: u64, known_len: u64 },
    #[error("records that another writer appended do not continue the chain: {0}")]
    Appended(#[source] VerifyError),
    #[error("the log file was replaced, and the new file failed the checks against the anchor: {0}")]
    Replaced(#[source] VerifyError),
    #[error("the log file was replaced, and the new file no longer contains record {seq} as this writer last wrote or checked it: acknowledged records are missing")]
    LostRecord { seq: u64 },
    #[error("the anchor could not be read: {0}")]
    Anchor(#[source] VerifyError),
}

/// One writer's handle on the log file that it shares with the other writers on the host.
pub(crate) struct SharedLogFile {
    path: PathBuf,
    anchor_path: PathBuf,
    verifying_key: VerifyingKey,
    /// Opened with `O_APPEND`, so each write lands at the end of the file as it is then.
    file: File,
    /// The exclusive lock, held through a duplicate of `file`'s descriptor from `lock_current`
    /// until `end_batch`. Dropping it releases the lock.
    guard: Option<Flock<File>>,
    /// Length of the file after this writer's last batch or check. This writer wrote or
    /// checked every byte before it.
    known_len: u64,
}

impl SharedLogFile {
    /// Opens the log file, creating it with mode 0600 when missing, and takes the exclusive
    /// lock, waiting while another writer holds it.
    pub fn open_locked(path: PathBuf, anchor_path: PathBuf, verifying_key: VerifyingKey) -> io::Result<Self> {
        let file = open_log_file(&path, true)?;
        let mut shared = SharedLogFile {
            path,
            anchor_path,
            verifying_key,
            file,
            guard: None,
            known_len: 0,
        };
        shared.lock_current()?;
        Ok(shared)
    }

    pub fn file(&self) -> &File {
        &self.file
    }

    /// Records that the checks at open covered the file up to `len`.
    pub fn set_known_len(&mut self, len: u64) {
        self.known_len = len;
    }

    /// Truncates a torn final line. Only call it while holding the lock, after the lines
    /// before the torn one were checked.
    pub fn truncate(&mut self, torn: TornTail) -> io::Result<()> {
        tracing::warn!(
            log = %self.path.display(),
            offset = torn.offset,
            bytes = torn.bytes,
            "truncating an incomplete final line left by a crash; it was never acknowledged"
        );
        self.file.set_len(torn.offset)?;
        self.file.sync_all()?;
        self.known_len = torn.offset;
        Ok(())
    }

    /// Takes the exclusive lock on the file that the log path names now. Returns `true` when
    /// that is another file than the one this writer had open, because the log was
    /// replaced: a lock on the old file would not exclude writers that opened the new one.
    fn lock_current(&mut self) -> io::Result<bool> {
        let mut replaced = false;
        loop {
            let guard = lock_exclusive(&self.file)?;
            let locked = guard.metadata()?;
            let current = fs::metadata(&self.path)?;
            if same_file(&locked, &current) {
                self.guard = Some(guard);
                return Ok(replaced);
            }
            drop(guard);
            self.file = open_log_file(&self.path, false)?;
            replaced = true;
        }
    }

    /// Advances `head` past the records that other writers appended since `known_len`,
    /// after checking that they continue the chain, and truncates a torn final line.
    fn refresh(&mut self, head: &mut ChainHead) -> Result<BatchStart, RefreshError> {
        let len = self.file.metadata().map_err(|source| self.io_error("read the size of", source))?.len();
        if len == self.known_len {
            return Ok(BatchStart::default());
        }
        if len < self.known_len {
            return Err(RefreshError::Shrunk {
                len,
                known_len: self.known_len,
            });
        }

        let scan = scan_appended(&self.file, &self.path, self.known_len, *head, &self.verifying_key)
            .map_err(RefreshError::Appended)?;
        self.known_len = len;
        if let Some(torn) = scan.torn {
            self.truncate(torn)
                .map_err(|source| self.io_error("truncate the torn final line of", source))?;
        }
        *head = scan.head;
        let unanchored_checkpoint = match scan.newest_checkpoint {
            Some(checkpoint) => self.unanchored(checkpoint)?,
            None => None,
        };
        Ok(BatchStart {
            truncated: scan.torn,
            unanchored_checkpoint,
        })
    }

    /// Returns `checkpoint` when the anchor file names an older checkpoint or is missing.
    fn unanchored(&self, checkpoint: Anchor) -> Result<Option<Anchor>, RefreshError> {
        let anchor = read_anchor(&self.anchor_path, &self.verifying_key).map_err(RefreshError::Anchor)?;
        match anchor {
            Some(anchor) if anchor.seq >= checkpoint.seq => Ok(None),
            _ => Ok(Some(checkpoint)),
        }
    }

    /// Checks a file that replaced the log as `AuditLog::open` would, and requires that it
    /// still contains the last record that this writer wrote or checked, unchanged. Then
    /// continues the chain at its end.
    fn reload_replaced(&mut self, head: &mut ChainHead) -> Result<BatchStart, RefreshError> {
        tracing::warn!(
            log = %self.path.display(),
            "the audit log file was replaced by another file; checking the new file before appending to it"
        );
        let anchor = read_anchor(&self.anchor_path, &self.verifying_key)
            .map_err(RefreshError::Replaced)?
            .ok_or_else(|| {
                RefreshError::Replaced(VerifyError::AnchorMissing {
                    path: self.anchor_path.clone(),
                })
            })?;
        let scan = scan_tail(&self.file, &self.path, anchor, &self.verifying_key).map_err(RefreshError::Replaced)?;
        let len = self.file.metadata().map_err(|source| self.io_error("read the size of", source))?.len();
        let complete_end = scan.torn.map_or(len, |torn| torn.offset);

        let last_seq = head.next_seq - 1;
        if last_seq > 0 {
            let stored = find_record_hash(&self.file, &self.path, complete_end, last_seq).map_err(RefreshError::Replaced)?;
            if stored != Some(head.prev_hash) {
                return Err(RefreshError::LostRecord { seq: last_seq });
            }
        }

        self.known_len = len;
        if let Some(torn) = scan.torn {
            self.truncate(torn)
                .map_err(|source| self.io_error("truncate the torn final line of", source))?;
        }
        *head = scan.head;
        Ok(BatchStart {
            truncated: scan.torn,
            unanchored_checkpoint: scan.newer_checkpoint,
        })
    }

    fn io_error(&self, action: &'static str, source: io::Error) -> RefreshError {
        RefreshError::Io {
            action,
            path: self.path.clone(),
            source,
        }
    }
}

impl LogSink for SharedLogFile {
    fn begin_batch(&mut self, head: &mut ChainHead) -> Result<BatchStart, RefreshError> {
        let replaced = match self.lock_current() {
            Ok(replaced) => replaced,
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                return Err(RefreshError::Removed {
                    path: self.path.clone(),
                })
            }
            Err(source) => return Err(self.io_error("lock", source)),
        };
        if replaced {
            self.reload_replaced(head)
        } else {
            self.refresh(head)
        }
    }

    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        (&self.file).write_all(bytes)?;
        // usize always fits in u64 on supported targets.
        self.known_len += bytes.len() as u64;
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }

    fn end_batch(&mut self) {
        self.guard = None;
    }
}

fn open_log_file(path: &Path, create: bool) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .append(true)
        .create(create)
        .mode(0o600)
        .open(path)
}

/// Takes an exclusive `flock` on the open file description of `file`, waiting while another
/// description of the same file holds it. `flock` locks belong to the open file description,
/// so two `AuditLog` handles in one process, each with its own `open`, exclude each other.
/// NOTE: the wait has no time limit, so a writer process stopped (`SIGSTOP`) while it holds
/// the lock stalls this writer, and the appends queued behind it, until it continues or dies.
fn lock_exclusive(file: &File) -> io::Result<Flock<File>> {
    loop {
        match Flock::lock(file.try_clone()?, FlockArg::LockExclusive) {
            Ok(guard) => return Ok(guard),
            Err((_, Errno::EINTR)) => continue,
            Err((_, errno)) => return Err(io::Error::from(errno)),
        }
    }
}

fn same_file(first: &Metadata, second: &Metadata) -> bool {
    first.dev() == second.dev() && first.ino() == second.ino()
}
