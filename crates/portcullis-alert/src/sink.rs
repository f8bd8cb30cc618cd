//! Delivery queues: one bounded queue and one task per sink, with retry and backoff.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Notify};

use crate::alert::Alert;
use crate::error::DeliveryError;
use crate::syslog::SyslogSink;
use crate::webhook::WebhookSink;

pub(crate) const DELIVERED_METRIC: &str = "portcullis_alerts_delivered_total";
pub(crate) const UNDELIVERED_METRIC: &str = "portcullis_alerts_undelivered_total";
const FAILED_ATTEMPTS_METRIC: &str = "portcullis_alert_delivery_failures_total";

/// A sink that delivers over the network and therefore needs a queue.
pub(crate) enum Sink {
    Webhook(WebhookSink),
    Syslog(SyslogSink),
}

impl Sink {
    async fn deliver(&mut self, alert: &Alert) -> Result<(), DeliveryError> {
        match self {
            Sink::Webhook(webhook) => webhook.deliver(alert).await,
            Sink::Syslog(syslog) => syslog.deliver(alert).await,
        }
    }
}

/// How often and how patiently a sink retries one alert.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RetryPolicy {
    pub max_attempts: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
}

impl RetryPolicy {
    /// Returns the wait after failed attempt number `attempt` (1-based): the initial
    /// backoff, doubled per earlier failure, capped at `max_backoff`.
    fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        self.initial_backoff.saturating_mul(factor).min(self.max_backoff)
    }
}

/// Counts of one sink, shared by its queue, its task and `Alerts::stats`.
#[derive(Debug)]
pub(crate) struct SinkCounters {
    pub name: String,
    /// Alerts queued or being delivered.
    pub pending: AtomicUsize,
    pub delivered: AtomicU64,
    pub undelivered: AtomicU64,
}

impl SinkCounters {
    pub(crate) fn new(name: String) -> Arc<SinkCounters> {
        Arc::new(SinkCounters {
            name,
            pending: AtomicUsize::new(0),
            delivered: AtomicU64::new(0),
            undelivered: AtomicU64::new(0),
        })
    }

    pub(crate) fn count_delivered(&self) {
        self.delivered.fetch_add(1, Ordering::Relaxed);
        metrics::counter!(DELIVERED_METRIC, "sink" => self.name.clone()).increment(1);
    }

    pub(crate) fn count_undelivered(&self, alerts: u64) {
        self.undelivered.fetch_add(alerts, Ordering::Relaxed);
        metrics::counter!(UNDELIVERED_METRIC, "sink" => self.name.clone()).increment(alerts);
    }
}

/// The sending side of one sink's queue.
pub(crate) struct SinkQueue {
    pub counters: Arc<SinkCounters>,
    sender: mpsc::Sender<Alert>,
}

impl SinkQueue {
    /// Starts the delivery task of `sink`. `idle` is notified whenever an alert leaves the
    /// queue, delivered or not. Must run inside a Tokio runtime.
    pub(crate) fn spawn(name: String, sink: Sink, retry: RetryPolicy, capacity: usize, idle: Arc<Notify>) -> SinkQueue {
        let (sender, receiver) = mpsc::channel(capacity);
        let counters = SinkCounters::new(name);
        tokio::spawn(run_sink(sink, receiver, retry, Arc::clone(&counters), idle));
        SinkQueue { counters, sender }
    }

    /// Queues `alert` without waiting. A full queue drops it and counts it as undelivered,
    /// so a sink that is down never blocks the caller.
    pub(crate) fn enqueue(&self, alert: Alert) {
        self.counters.pending.fetch_add(1, Ordering::SeqCst);
        if let Err(error) = self.sender.try_send(alert) {
            self.counters.pending.fetch_sub(1, Ordering::SeqCst);
            self.counters.count_undelivered(1);
            let reason = match error {
                mpsc::error::TrySendError::Full(_) => "its queue is full (alerts.queue_capacity)",
                mpsc::error::TrySendError::Closed(_) => "its delivery task has stopped",
            };
            tracing::error!(sink = %self.counters.name, reason, "alert dropped: {reason}");
        }
    }
}

async fn run_sink(
    mut sink: Sink,
    mut receiver: mpsc::Receiver<Alert>,
    retry: RetryPolicy,
    counters: Arc<SinkCounters>,
    idle: Arc<Notify>,
) {
    while let Some(alert) = receiver.recv().await {
        match deliver_with_retry(&mut sink, &alert, retry, &counters.name).await {
            Ok(()) => counters.count_delivered(),
            Err(error) => {
                counters.count_undelivered(1);
                tracing::error!(
                    sink = %counters.name,
                    alert_id = %alert.id,
                    kind = %alert.kind,
                    error = %error.message,
                    "alert not delivered; giving up"
                );
            }
        }
        counters.pending.fetch_sub(1, Ordering::SeqCst);
        idle.notify_waiters();
    }
}

async fn deliver_with_retry(sink: &mut Sink, alert: &Alert, retry: RetryPolicy, name: &str) -> Result<(), DeliveryError> {
    let mut attempt = 1;
    loop {
        let error = match sink.deliver(alert).await {
            Ok(()) => return Ok(()),
            Err(error) => error,
        };
        metrics::counter!(FAILED_ATTEMPTS_METRIC, "sink" => name.to_string()).increment(1);
        if !error.retryable || attempt >= retry.max_attempts {
            return Err(error);
        }
        let wait = retry.backoff(attempt);
        tracing::warn!(
            sink = %name,
            alert_id = %alert.id,
            attempt,
            retry_in_ms = wait.as_millis() as u64,
            error = %error.message,
            "alert delivery failed; retrying"
        );
        tokio::time::sleep(wait).await;
        attempt += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_maximum() {
        let retry = RetryPolicy {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(500),
        };
        assert_eq!(retry.backoff(1), Duration::from_millis(100));
        assert_eq!(retry.backoff(2), Duration::from_millis(200));
        assert_eq!(retry.backoff(3), Duration::from_millis(400));
        assert_eq!(retry.backoff(4), Duration::from_millis(500));
        assert_eq!(retry.backoff(40), Duration::from_millis(500));
    }
}
