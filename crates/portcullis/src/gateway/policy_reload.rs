//! Policy set changes while `serve` runs.
//!
//! `portcullis policy reload` validates the policy directory, records the new
//! set's SHA-256 in the store's `meta` table under [`POLICY_HASH_KEY`] and
//! audits the change ([`record_policy_set_changed`]). Every `serve` instance
//! that shares the store polls that value about once a second. When the
//! recorded hash is not the hash of the set in force, the instance loads its
//! own policy directory. It puts that set in force only if it hashes to the
//! recorded value, so no instance enforces a set that `policy reload` did not
//! validate. A failed attempt is retried every [`RETRY_INTERVAL`] while the
//! two hashes differ, so restoring the files is enough to recover, and the
//! same failure is logged and audited once. SIGHUP loads the directory as it
//! is, without that comparison; if that set is not the recorded one, the next
//! poll reports the mismatch.
//!
//! A new set applies to new sessions and to open sessions from their next
//! statement on (the engine swaps its snapshot, and each session notices with
//! one atomic load). A set that fails to load is rejected: the instance keeps
//! the set in force, logs the error and audits the failure.

use std::sync::Arc;
use std::time::{Duration, Instant};

use portcullis_audit::{event_types, AuditEvent, AuditLog, Outcome};
use portcullis_policy::{LoadError, PolicySnapshot};
use portcullis_store::Store;
use tokio::signal::unix::{signal, Signal, SignalKind};

use super::policy_runtime::PolicyRuntime;

/// Key of the `meta` value that contains the SHA-256 of the policy set that
/// `portcullis policy reload` last validated.
pub const POLICY_HASH_KEY: &str = "policy_sha256";

/// How often `serve` reads [`POLICY_HASH_KEY`].
const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// How long an instance waits before it loads the policy directory again
/// after it failed to put the recorded set in force.
const RETRY_INTERVAL: Duration = Duration::from_secs(5);

/// Store read failures logged in a row before the watcher logs only every
/// hundredth one.
const LOGGED_STORE_FAILURES: u64 = 3;

/// Cause of loading the policy directory.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Trigger {
    /// `policy reload` recorded this hash in the store.
    Requested { hash: String },
    /// The process received SIGHUP.
    Hangup,
}

impl Trigger {
    fn name(&self) -> &'static str {
        match self {
            Trigger::Requested { .. } => "policy reload",
            Trigger::Hangup => "SIGHUP",
        }
    }
}

/// A policy set that an instance did not put in force.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The directory does not load.
    #[error("the policy directory {dir} is invalid, so the policy set in force stays: {source}")]
    Invalid {
        dir: String,
        #[source]
        source: LoadError,
    },
    /// The directory changed after `policy reload` validated it.
    #[error(
        "the policy directory {dir} hashes to {found}, but `portcullis policy reload` validated {expected}, \
         so the policy set in force stays; the instance loads the directory again every 5 s, so restore the \
         validated files or run `portcullis policy reload` again once the files are final"
    )]
    HashMismatch { dir: String, expected: String, found: String },
    /// The audit log did not record the change, so it is not made.
    #[error("the audit log did not record the policy change, so the policy set in force stays: {0}")]
    AuditUnavailable(String),
}

/// Records that `portcullis policy reload` put a new policy set in force for
/// every instance.
pub async fn record_policy_set_changed(
    audit: &AuditLog,
    previous_hash: Option<&str>,
    hash: &str,
    operator: &str,
) -> anyhow::Result<()> {
    let event = AuditEvent::new(event_types::POLICY_SET_CHANGED, "policy set changed", Outcome::Success)
        .meta("previous_sha256", previous_hash.map(str::to_owned))
        .meta("policy_sha256", hash.to_owned())
        .meta("operator", operator.to_owned());
    audit.append(event).await?;
    Ok(())
}

/// Puts policy sets in force when `policy reload` records them or SIGHUP
/// arrives, until the task is aborted.
pub async fn watch_policy_set(runtime: Arc<PolicyRuntime>, store: Arc<dyn Store>, audit: AuditLog, instance: String) {
    let mut hangup = match signal(SignalKind::hangup()) {
        Ok(stream) => Some(stream),
        Err(error) => {
            tracing::error!(%error, "cannot listen for SIGHUP; policy reloads come only from `portcullis policy reload`");
            None
        }
    };
    record_initial_hash(&runtime, store.as_ref()).await;
    let mut retry = Retry::default();
    let mut failures: u64 = 0;
    let mut interval = tokio::time::interval(POLL_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let trigger = tokio::select! {
            _ = interval.tick() => match store.get_meta(POLICY_HASH_KEY).await {
                Ok(value) => {
                    failures = 0;
                    let Some(hash) = value else { continue };
                    if hash == runtime.engine.policy_hash() {
                        retry = Retry::default();
                        continue;
                    }
                    if !retry.is_due(&hash) {
                        continue;
                    }
                    Trigger::Requested { hash }
                }
                Err(error) => {
                    failures += 1;
                    if failures <= LOGGED_STORE_FAILURES || failures % 100 == 0 {
                        tracing::error!(%error, failures, "reading the requested policy set from the store failed; retrying");
                    }
                    continue;
                }
            },
            Some(()) = hangup_received(&mut hangup) => Trigger::Hangup,
        };
        let Err(error) = apply(&runtime, &audit, &instance, &trigger).await else { continue };
        let first_report = match &trigger {
            Trigger::Requested { hash } => retry.record_failure(hash, &error),
            Trigger::Hangup => true,
        };
        if first_report {
            report_failure(&runtime, &audit, &instance, &trigger, &error).await;
        } else {
            tracing::debug!(%error, "policy reload retry failed again");
        }
    }
}

/// Attempts to put one recorded hash in force that failed before.
#[derive(Debug, Default)]
struct Retry {
    /// The recorded hash of the last failed attempt.
    hash: Option<String>,
    /// The error of the last failed attempt, to report each distinct error once.
    error: String,
    next_attempt: Option<Instant>,
}

impl Retry {
    /// Returns whether the instance should load its directory for `hash` now:
    /// at once for a hash it has not tried, then every [`RETRY_INTERVAL`].
    fn is_due(&self, hash: &str) -> bool {
        if self.hash.as_deref() != Some(hash) {
            return true;
        }
        self.next_attempt.is_none_or(|at| Instant::now() >= at)
    }

    /// Notes a failed attempt and returns whether its error is new for this hash.
    fn record_failure(&mut self, hash: &str, error: &ReloadError) -> bool {
        let error = error.to_string();
        let is_new = self.hash.as_deref() != Some(hash) || self.error != error;
        self.hash = Some(hash.to_owned());
        self.error = error;
        self.next_attempt = Some(Instant::now() + RETRY_INTERVAL);
        is_new
    }
}

/// Records the set in force when the store contains no hash, so the first
/// `policy reload` has a previous hash.
async fn record_initial_hash(runtime: &PolicyRuntime, store: &dyn Store) {
    match store.get_meta(POLICY_HASH_KEY).await {
        Ok(Some(_)) => {}
        Ok(None) => {
            let hash = runtime.engine.policy_hash();
            if let Err(error) = store.set_meta(POLICY_HASH_KEY, &hash).await {
                tracing::error!(%error, "recording the policy set in force in the store failed");
            }
        }
        Err(error) => {
            tracing::error!(%error, "reading the requested policy set from the store failed; retrying");
        }
    }
}

async fn hangup_received(hangup: &mut Option<Signal>) -> Option<()> {
    match hangup {
        Some(stream) => stream.recv().await,
        None => std::future::pending().await,
    }
}

/// Loads the policy directory and puts it in force.
async fn apply(runtime: &PolicyRuntime, audit: &AuditLog, instance: &str, trigger: &Trigger) -> Result<(), ReloadError> {
    let snapshot = load_checked(runtime, trigger)?;
    put_in_force(runtime, audit, instance, trigger, snapshot).await
}

/// Logs and audits why a policy set was not put in force.
async fn report_failure(runtime: &PolicyRuntime, audit: &AuditLog, instance: &str, trigger: &Trigger, error: &ReloadError) {
    let previous = runtime.engine.policy_hash();
    tracing::error!(%error, trigger = trigger.name(), policy_sha256 = %previous, "policy reload failed");
    let event = AuditEvent::new(event_types::POLICY_RELOADED, "policy reload failed", Outcome::Failure)
        .meta("policy_sha256", previous)
        .meta("trigger", trigger.name())
        .meta("instance", instance.to_owned())
        .meta("error", error.to_string());
    if let Err(audit_error) = audit.append(event).await {
        tracing::error!(error = %audit_error, "recording the failed policy reload in the audit log failed");
    }
}

fn load_checked(runtime: &PolicyRuntime, trigger: &Trigger) -> Result<PolicySnapshot, ReloadError> {
    let dir = runtime.dir().display().to_string();
    let snapshot = runtime
        .load_snapshot()
        .map_err(|source| ReloadError::Invalid { dir: dir.clone(), source })?;
    if let Trigger::Requested { hash } = trigger {
        if snapshot.policy_hash() != hash {
            return Err(ReloadError::HashMismatch {
                dir,
                expected: hash.clone(),
                found: snapshot.policy_hash().to_owned(),
            });
        }
    }
    Ok(snapshot)
}

/// Audits the new set, then swaps it in: the record is durable before any
/// statement is decided with the new set.
async fn put_in_force(
    runtime: &PolicyRuntime,
    audit: &AuditLog,
    instance: &str,
    trigger: &Trigger,
    snapshot: PolicySnapshot,
) -> Result<(), ReloadError> {
    let previous = runtime.engine.policy_hash();
    let hash = snapshot.policy_hash().to_owned();
    let event = AuditEvent::new(event_types::POLICY_RELOADED, "policy set loaded", Outcome::Success)
        .meta("policy_sha256", hash.clone())
        .meta("previous_sha256", previous.clone())
        .meta("trigger", trigger.name())
        .meta("instance", instance.to_owned());
    audit
        .append(event)
        .await
        .map_err(|error| ReloadError::AuditUnavailable(error.to_string()))?;
    let report = runtime.engine.replace(snapshot);
    tracing::info!(
        policy_sha256 = %report.hash,
        previous_sha256 = %report.previous_hash,
        generation = report.generation,
        trigger = trigger.name(),
        "policy set reloaded"
    );
    Ok(())
}
