//! Write and sync failures, injected below the writer: the log must fail closed.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

use crate::keys::generate_signing_key;
use crate::log::{AuditConfig, AuditLog};
use crate::payload::PayloadKey;
use crate::record::GENESIS_HASH;
use crate::writer::{ChainHead, LogSink, Writer};
use crate::{AuditError, AuditEvent, Outcome};

/// Accepts writes, but every sync fails like `fdatasync` after a lost disk.
struct SyncFailsSink;

impl LogSink for SyncFailsSink {
    fn append(&mut self, _bytes: &[u8]) -> io::Result<()> {
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        Err(io::Error::from_raw_os_error(nix::libc::EIO))
    }
}

/// Writes to a device file, which no other writer shares, so it needs no lock.
struct DeviceSink(File);

impl LogSink for DeviceSink {
    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.0.write_all(bytes)
    }

    fn sync(&mut self) -> io::Result<()> {
        self.0.sync_data()
    }
}

fn start_with_sink(dir: &Path, sink: Box<dyn LogSink>) -> AuditLog {
    let config = AuditConfig::new(dir);
    let writer = Writer::new(
        sink,
        config.log_path(),
        config.anchor_path(),
        generate_signing_key(),
        PayloadKey::derive(&[3u8; 32]),
        config.checkpoint_every,
        ChainHead {
            next_seq: 1,
            prev_hash: GENESIS_HASH,
            since_checkpoint: 0,
        },
    );
    AuditLog::start(writer, &config, config.log_path())
}

fn event() -> AuditEvent {
    AuditEvent::new("user.created", "alice", Outcome::Success)
}

#[tokio::test]
async fn dev_full_write_fails_every_append() {
    let dir = tempfile::tempdir().unwrap();
    // Writing to /dev/full fails with ENOSPC, as on a full file system.
    let device = OpenOptions::new().append(true).open("/dev/full").unwrap();
    let log = start_with_sink(dir.path(), Box::new(DeviceSink(device)));

    let first = log.append(event()).await;
    assert!(matches!(first, Err(AuditError::WriteFailed { .. })), "first append: {first:?}");
    let message = first.unwrap_err().to_string();
    assert!(message.contains("No space left on device"), "message: {message}");

    let second = log.append(event()).await;
    assert!(matches!(second, Err(AuditError::LogFailed { .. })), "second append: {second:?}");
    let shutdown = log.shutdown().await;
    assert!(matches!(shutdown, Err(AuditError::LogFailed { .. })), "shutdown: {shutdown:?}");
}

#[tokio::test]
async fn sync_failure_fails_batch_and_later_appends() {
    let dir = tempfile::tempdir().unwrap();
    let log = start_with_sink(dir.path(), Box::new(SyncFailsSink));

    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let log = log.clone();
            tokio::spawn(async move { log.append(event()).await })
        })
        .collect();
    for task in tasks {
        let result = task.await.unwrap();
        assert!(
            matches!(result, Err(AuditError::WriteFailed { .. } | AuditError::LogFailed { .. })),
            "concurrent append: {result:?}"
        );
    }
    let later = log.append(event()).await;
    assert!(matches!(later, Err(AuditError::LogFailed { .. })), "later append: {later:?}");
}
