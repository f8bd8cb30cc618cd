//! `AuditLog`: the handle that tasks append through, and the writer task behind it.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use ed25519_dalek::SigningKey;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{sleep_until, Instant};

use crate::error::AuditError;
use crate::event::AuditEvent;
use crate::open::open_writer;
use crate::payload::PayloadKey;
use crate::writer::{Committed, Writer};

pub const LOG_FILE_NAME: &str = "audit.log";
pub const ANCHOR_FILE_NAME: &str = "audit.anchor";
pub const DEFAULT_CHECKPOINT_EVERY: u64 = 1000;
pub const DEFAULT_CHECKPOINT_INTERVAL: Duration = Duration::from_secs(60);
pub const DEFAULT_QUEUE_CAPACITY: usize = 4096;

/// Maximum number of events that one group commit writes with a single `fdatasync`.
const MAX_BATCH: usize = 1024;

/// How long records appended with [`AuditLog::append_unsynced`] wait for an append that
/// waits for its sync, so that both share one `fdatasync`.
const UNSYNCED_LINGER: Duration = Duration::from_millis(2);

/// Settings of one gateway instance's audit log.
#[derive(Debug, Clone)]
pub struct AuditConfig {
    /// Directory of `audit.log` and `audit.anchor`; created with mode 0700 when missing.
    pub dir: PathBuf,
    /// Records between two signed checkpoints.
    pub checkpoint_every: u64,
    /// Maximum time from a record to the checkpoint that seals it, when fewer than
    /// `checkpoint_every` records arrive.
    pub checkpoint_interval: Duration,
    /// Appends that may wait for the writer before `append` itself waits (backpressure).
    pub queue_capacity: usize,
}

impl AuditConfig {
    /// Creates a configuration with the default checkpoint settings (1000 records, 60 s).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        AuditConfig {
            dir: dir.into(),
            checkpoint_every: DEFAULT_CHECKPOINT_EVERY,
            checkpoint_interval: DEFAULT_CHECKPOINT_INTERVAL,
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
        }
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.join(LOG_FILE_NAME)
    }

    pub fn anchor_path(&self) -> PathBuf {
        self.dir.join(ANCHOR_FILE_NAME)
    }

    fn validate(&self) -> Result<(), AuditError> {
        let reason = if self.checkpoint_every == 0 {
            "checkpoint_every must be at least 1 record"
        } else if self.checkpoint_interval.is_zero() {
            "checkpoint_interval must be longer than zero"
        } else if self.queue_capacity == 0 {
            "queue_capacity must be at least 1"
        } else {
            return Ok(());
        };
        Err(AuditError::InvalidConfig {
            reason: reason.to_owned(),
        })
    }
}

enum Command {
    Append {
        event: AuditEvent,
        /// `None` for an append whose caller does not wait for the sync.
        reply: Option<AppendReply>,
    },
    Shutdown {
        reply: oneshot::Sender<Result<(), AuditError>>,
    },
    /// Internal: the linger of pending unsynced appends ran out.
    Flush,
}

/// A cheap, cloneable handle to one audit log. All clones feed one writer task. Each
/// `AuditLog::open`, in this process or another, starts a writer of its own, and the
/// exclusive lock that each writer takes per batch puts every record into a single total
/// order.
#[derive(Clone)]
pub struct AuditLog {
    inner: Arc<Inner>,
}

struct Inner {
    sender: mpsc::Sender<Command>,
    /// Set by the writer task when a commit fails, so later appends fail without queuing.
    failure: Arc<OnceLock<String>>,
    log_path: PathBuf,
    observer: OnceLock<AppendObserver>,
}

/// A function that sees every event appended through one log handle and its clones, for
/// example to raise an alert on repeated failures. It runs on the appending task, before
/// the record is durable, so it must return at once and must not append to the same log
/// itself (spawn a task for that).
pub type AppendObserver = Arc<dyn Fn(&AuditEvent) + Send + Sync>;

impl AuditLog {
    /// Opens the log in `config.dir`, creating it when missing, and starts the writer task.
    ///
    /// Waits while another writer holds the log's lock, then checks the records from the
    /// anchor's checkpoint to the end of the file, truncates an incomplete final line and
    /// appends an `audit.recovered` record that states how many bytes were removed. Any
    /// other inconsistency fails with `AuditError::Inconsistent` before anything is written
    /// to the log or the anchor. Other handles may have the same log open, in this process
    /// or another. Must run inside a Tokio runtime.
    pub async fn open(config: AuditConfig, signing_key: SigningKey, payload_key: PayloadKey) -> Result<AuditLog, AuditError> {
        config.validate()?;
        let log_path = config.log_path();
        let open_config = config.clone();
        let writer = tokio::task::spawn_blocking(move || open_writer(&open_config, signing_key, payload_key))
            .await
            .map_err(|error| AuditError::WriterStopped {
                reason: format!("opening the log panicked or was cancelled: {error}"),
            })??;
        Ok(AuditLog::start(writer, &config, log_path))
    }

    /// Starts the writer task for an opened writer.
    pub(crate) fn start(writer: Writer, config: &AuditConfig, log_path: PathBuf) -> AuditLog {
        let (sender, receiver) = mpsc::channel(config.queue_capacity);
        let failure = Arc::new(OnceLock::new());
        tokio::spawn(run_writer(writer, receiver, Arc::clone(&failure), config.checkpoint_interval));
        AuditLog {
            inner: Arc::new(Inner {
                sender,
                failure,
                log_path,
                observer: OnceLock::new(),
            }),
        }
    }

    /// Appends the event and returns its sequence number once the record is synced to disk.
    ///
    /// On any error the record is not known to be durable, so the caller must deny the
    /// action. The reverse does not hold: after a failed sync, or when the caller's future
    /// is dropped while waiting, the record may still be in the log.
    pub async fn append(&self, event: AuditEvent) -> Result<u64, AuditError> {
        event.validate()?;
        if let Some(reason) = self.inner.failure.get() {
            return Err(AuditError::LogFailed {
                path: self.inner.log_path.clone(),
                reason: reason.clone(),
            });
        }
        self.notify_observer(&event);
        let (reply, response) = oneshot::channel();
        self.inner
            .sender
            .send(Command::Append {
                event,
                reply: Some(reply),
            })
            .await
            .map_err(|_| AuditError::Closed)?;
        response.await.map_err(|_| AuditError::WriterStopped {
            reason: "the writer task ended before it answered".to_owned(),
        })?
    }

    /// Queues the event behind every earlier append and returns without waiting for the
    /// sync.
    ///
    /// The record is written with the next batch that a waiting [`append`](Self::append)
    /// commits, or after a short linger when none arrives, so it costs no `fdatasync` of
    /// its own. Its sequence number is unknown to the caller, and a write failure shows only
    /// as the log's failure: every later `append` fails. Use it for records of actions that
    /// already happened, such as a statement's completion. An action that must be recorded
    /// before it happens needs `append`.
    pub async fn append_unsynced(&self, event: AuditEvent) -> Result<(), AuditError> {
        event.validate()?;
        if let Some(reason) = self.inner.failure.get() {
            return Err(AuditError::LogFailed {
                path: self.inner.log_path.clone(),
                reason: reason.clone(),
            });
        }
        self.notify_observer(&event);
        self.inner
            .sender
            .send(Command::Append { event, reply: None })
            .await
            .map_err(|_| AuditError::Closed)
    }

    /// Writes the records queued before this call, a final checkpoint, and the anchor, then
    /// closes the file. Later appends, on any clone, fail with `AuditError::Closed`, and so
    /// does a second `shutdown`.
    ///
    /// The final checkpoint seals every record that no checkpoint covers yet, including
    /// those of other writers, so a short-lived process that appends a few records leaves a
    /// small checkpoint behind. This keeps its records from staying unsigned until another
    /// writer's next checkpoint.
    pub async fn shutdown(&self) -> Result<(), AuditError> {
        let (reply, response) = oneshot::channel();
        self.inner
            .sender
            .send(Command::Shutdown { reply })
            .await
            .map_err(|_| AuditError::Closed)?;
        response.await.map_err(|_| AuditError::WriterStopped {
            reason: "the writer task ended before it answered".to_owned(),
        })?
    }

    /// Sets the observer of every later append through this handle and its clones.
    /// Returns `false`, and keeps the first one, when an observer is already set.
    pub fn set_observer(&self, observer: AppendObserver) -> bool {
        self.inner.observer.set(observer).is_ok()
    }

    fn notify_observer(&self, event: &AuditEvent) {
        if let Some(observer) = self.inner.observer.get() {
            observer(event);
        }
    }

    pub fn log_path(&self) -> &std::path::Path {
        &self.inner.log_path
    }

    /// Returns whether a failure stopped this handle's writer, so every append fails until
    /// the log is reopened. The failure is a failed write or sync, or a log file that
    /// changed in a way that no writer produces (see "Durability and order" in the crate
    /// documentation).
    pub fn is_failed(&self) -> bool {
        self.inner.failure.get().is_some()
    }
}

/// The writer task: waits for appends or a due checkpoint, commits each batch on the
/// blocking pool, and replies to every caller after the batch is synced.
async fn run_writer(
    writer: Writer,
    mut receiver: mpsc::Receiver<Command>,
    failure: Arc<OnceLock<String>>,
    checkpoint_interval: Duration,
) {
    let mut writer = writer;
    let mut deadline = Instant::now() + checkpoint_interval;
    // Unsynced appends not yet committed, and when they are committed without company.
    let mut pending = Batch::default();
    let mut linger = Instant::now();
    loop {
        let due = writer.has_records_since_checkpoint() && writer.failure().is_none();
        let holding = !pending.events.is_empty();
        let first = tokio::select! {
            command = receiver.recv() => command,
            () = sleep_until(linger), if holding => Some(Command::Flush),
            () = sleep_until(deadline), if due => {
                match commit(writer, Vec::new(), true, &failure).await {
                    Some((returned, _)) => writer = returned,
                    None => return reject_all(receiver, &failure).await,
                }
                publish_failure(&writer, &failure);
                deadline = Instant::now() + checkpoint_interval;
                continue;
            }
        };

        // All handles were dropped without `shutdown`: finish the log as `shutdown` would.
        let Some(first) = first else {
            let _ = finish(writer, pending.events, pending.replies, &failure).await;
            return;
        };
        let batch = drain_batch(first, &mut receiver);
        let waits = batch.shutdown.is_some() || batch.replies.iter().any(Option::is_some);
        let was_holding = !pending.events.is_empty();
        pending.absorb(batch);
        if !waits && !pending.flush && pending.events.len() < MAX_BATCH {
            if !was_holding {
                linger = Instant::now() + UNSYNCED_LINGER;
            }
            continue;
        }
        let Batch {
            events,
            replies,
            shutdown,
            ..
        } = std::mem::take(&mut pending);
        if let Some(shutdown_reply) = shutdown {
            let result = finish(writer, events, replies, &failure).await;
            receiver.close();
            while let Ok(command) = receiver.try_recv() {
                reply_closed(command);
            }
            let _ = shutdown_reply.send(result);
            return;
        }

        let Some((returned, committed)) = commit(writer, events, false, &failure).await else {
            fail_replies(replies, &failure);
            return reject_all(receiver, &failure).await;
        };
        writer = returned;
        // The interval runs from the first record that no checkpoint covers yet.
        if committed.checkpointed || !committed.window_was_open {
            deadline = Instant::now() + checkpoint_interval;
        }
        publish_failure(&writer, &failure);
        send_replies(replies, committed.results, &failure);
    }
}

type AppendReply = oneshot::Sender<Result<u64, AuditError>>;
type ShutdownReply = oneshot::Sender<Result<(), AuditError>>;

/// Appends taken from the queue in one go, and a shutdown request that ended the batch.
#[derive(Default)]
struct Batch {
    events: Vec<AuditEvent>,
    /// One entry per event: `None` for an unsynced append.
    replies: Vec<Option<AppendReply>>,
    shutdown: Option<ShutdownReply>,
    /// The linger of pending unsynced appends ran out: commit them now.
    flush: bool,
}

impl Batch {
    fn absorb(&mut self, batch: Batch) {
        self.events.extend(batch.events);
        self.replies.extend(batch.replies);
        self.shutdown = batch.shutdown;
        self.flush |= batch.flush;
    }
}

/// Takes the first command and every command already queued, up to `MAX_BATCH`, stopping at
/// a shutdown so that appends queued after it are not written.
fn drain_batch(first: Command, receiver: &mut mpsc::Receiver<Command>) -> Batch {
    let mut batch = Batch::default();
    let mut next = Some(first);
    while let Some(command) = next.take() {
        match command {
            Command::Append { event, reply } => {
                batch.events.push(event);
                batch.replies.push(reply);
            }
            Command::Flush => batch.flush = true,
            Command::Shutdown { reply } => {
                batch.shutdown = Some(reply);
                return batch;
            }
        }
        if batch.events.len() < MAX_BATCH {
            next = receiver.try_recv().ok();
        }
    }
    batch
}

/// Commits the last appends with a forced checkpoint and drops the writer, which closes the
/// file.
async fn finish(
    writer: Writer,
    events: Vec<AuditEvent>,
    replies: Vec<Option<AppendReply>>,
    failure: &OnceLock<String>,
) -> Result<(), AuditError> {
    let Some((writer, committed)) = commit(writer, events, true, failure).await else {
        fail_replies(replies, failure);
        return Err(failed(failure));
    };
    publish_failure(&writer, failure);
    send_replies(replies, committed.results, failure);
    let result = match writer.failure_error() {
        Some(error) => Err(error),
        None => Ok(()),
    };
    drop(writer);
    tracing::info!("audit log closed");
    result
}

/// Runs `Writer::commit` on the blocking pool. Returns `None` when it panicked, after
/// recording that as the log's failure.
async fn commit(
    mut writer: Writer,
    events: Vec<AuditEvent>,
    force_checkpoint: bool,
    failure: &OnceLock<String>,
) -> Option<(Writer, Committed)> {
    let joined = tokio::task::spawn_blocking(move || {
        let committed = writer.commit(events, force_checkpoint);
        (writer, committed)
    })
    .await;
    match joined {
        Ok(done) => Some(done),
        Err(error) => {
            tracing::error!(%error, "audit writer commit panicked; the log rejects every append from now on");
            let _ = failure.set(format!("the writer task panicked during a commit: {error}"));
            None
        }
    }
}

fn publish_failure(writer: &Writer, failure: &OnceLock<String>) {
    if let Some(reason) = writer.failure() {
        let _ = failure.set(reason.to_owned());
    }
}

fn send_replies(replies: Vec<Option<AppendReply>>, results: Vec<Result<u64, AuditError>>, failure: &OnceLock<String>) {
    let mut results = results.into_iter();
    for reply in replies {
        let result = results.next().unwrap_or_else(|| Err(failed(failure)));
        // A caller that stopped waiting has dropped its receiver. Its record is written anyway.
        if let Some(reply) = reply {
            let _ = reply.send(result);
        }
    }
}

fn fail_replies(replies: Vec<Option<AppendReply>>, failure: &OnceLock<String>) {
    for reply in replies.into_iter().flatten() {
        let _ = reply.send(Err(failed(failure)));
    }
}

fn failed(failure: &OnceLock<String>) -> AuditError {
    AuditError::WriterStopped {
        reason: failure.get().cloned().unwrap_or_else(|| "unknown failure".to_owned()),
    }
}

/// Replies with an error to every later command after the writer was lost.
async fn reject_all(mut receiver: mpsc::Receiver<Command>, failure: &OnceLock<String>) {
    while let Some(command) = receiver.recv().await {
        match command {
            Command::Append { reply: Some(reply), .. } => {
                let _ = reply.send(Err(failed(failure)));
            }
            Command::Shutdown { reply } => {
                let _ = reply.send(Err(failed(failure)));
            }
            Command::Append { reply: None, .. } | Command::Flush => {}
        }
    }
}

fn reply_closed(command: Command) {
    match command {
        Command::Append { reply: Some(reply), .. } => {
            let _ = reply.send(Err(AuditError::Closed));
        }
        Command::Shutdown { reply } => {
            let _ = reply.send(Err(AuditError::Closed));
        }
        Command::Append { reply: None, .. } | Command::Flush => {}
    }
}
