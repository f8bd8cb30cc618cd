//! `Alerts`: the handle that raises alerts, records them and hands them to the sinks.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use portcullis_audit::{event_types, AuditEvent, AuditLog, Outcome};
use portcullis_core::config::{syslog_facility_code, Config, SyslogConfig, WebhookConfig};
use tokio::sync::Notify;

use crate::alert::{Alert, Severity};
use crate::error::AlertError;
use crate::sink::{RetryPolicy, Sink, SinkCounters, SinkQueue};
use crate::syslog::{local_hostname, SyslogSink};
use crate::webhook::WebhookSink;

/// Retry settings of the syslog sink, which has no options of its own for them.
const SYSLOG_RETRY: RetryPolicy = RetryPolicy {
    max_attempts: 10,
    initial_backoff: Duration::from_secs(1),
    max_backoff: Duration::from_secs(60),
};

/// Delivery counts of one sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkStats {
    /// `log`, `syslog` or `webhook[N]` (N counts from 0 in configuration order).
    pub sink: String,
    pub pending: usize,
    pub delivered: u64,
    pub undelivered: u64,
}

/// A cheap, cloneable handle. Clones share the sinks and their queues.
#[derive(Clone)]
pub struct Alerts {
    inner: Arc<Inner>,
}

struct Inner {
    audit: Option<AuditLog>,
    log: Option<Arc<SinkCounters>>,
    queues: Vec<SinkQueue>,
    idle: Arc<Notify>,
}

impl Alerts {
    /// Starts the sinks of `config.alerts`. Alerts are appended to `audit` when it is
    /// given; pass `None` only where no audit log can be opened (verifying a copy of a log).
    /// Must run inside a Tokio runtime.
    pub fn start(config: &Config, audit: Option<AuditLog>) -> Result<Alerts, AlertError> {
        let alerts = &config.alerts;
        let idle = Arc::new(Notify::new());
        let instance = config.gateway.instance_name.clone();
        let mut queues = Vec::new();
        for (index, webhook) in alerts.webhook.iter().enumerate() {
            let (sink, retry) = webhook_sink(config, index, webhook, &instance)?;
            queues.push(SinkQueue::spawn(format!("webhook[{index}]"), sink, retry, alerts.queue_capacity, Arc::clone(&idle)));
        }
        if let Some(syslog) = &alerts.syslog {
            let sink = syslog_sink(syslog, &instance)?;
            queues.push(SinkQueue::spawn("syslog".to_string(), sink, SYSLOG_RETRY, alerts.queue_capacity, Arc::clone(&idle)));
        }
        let log = alerts.log.then(|| SinkCounters::new("log".to_string()));
        Ok(Alerts {
            inner: Arc::new(Inner { audit, log, queues, idle }),
        })
    }

    /// Appends the alert's audit record, writes it to the log, and queues it for every
    /// other sink without waiting for delivery.
    ///
    /// When the audit record cannot be written the alert still goes to the sinks, because
    /// an alert about a broken audit log must still reach someone, and the error is
    /// returned so the caller can fail closed.
    pub async fn raise(&self, alert: Alert) -> Result<(), AlertError> {
        let recorded = match &self.inner.audit {
            Some(audit) => audit.append(audit_event(&alert)).await.map(|_| ()),
            None => Ok(()),
        };
        if let Some(counters) = &self.inner.log {
            write_log(&alert);
            counters.count_delivered();
        }
        for queue in &self.inner.queues {
            queue.enqueue(alert.clone());
        }
        recorded.map_err(|source| AlertError::Audit {
            kind: alert.kind.as_str(),
            source,
        })
    }

    /// Waits until every queued alert is delivered or given up, or until `timeout`.
    /// Returns the number of alerts still pending at the timeout, which are then counted
    /// as undelivered.
    ///
    /// Short-lived commands call this before exit so that their alerts leave the process.
    // NOTE: an alert counted here as undelivered that a sink delivers later (while the
    // process keeps running) is counted as delivered too; call this only before exit.
    pub async fn flush(&self, timeout: Duration) -> usize {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.inner.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.pending() == 0 {
                return 0;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                break;
            }
        }
        let mut abandoned = 0;
        for queue in &self.inner.queues {
            let pending = queue.counters.pending.load(Ordering::SeqCst);
            if pending > 0 {
                queue.counters.count_undelivered(pending as u64);
                tracing::error!(sink = %queue.counters.name, pending, "alerts not delivered before the flush timed out");
                abandoned += pending;
            }
        }
        abandoned
    }

    /// Returns the delivery counts of every sink.
    pub fn stats(&self) -> Vec<SinkStats> {
        let log = self.inner.log.iter();
        let queued = self.inner.queues.iter().map(|queue| &queue.counters);
        log.chain(queued)
            .map(|counters| SinkStats {
                sink: counters.name.clone(),
                pending: counters.pending.load(Ordering::SeqCst),
                delivered: counters.delivered.load(Ordering::Relaxed),
                undelivered: counters.undelivered.load(Ordering::Relaxed),
            })
            .collect()
    }

    fn pending(&self) -> usize {
        self.inner
            .queues
            .iter()
            .map(|queue| queue.counters.pending.load(Ordering::SeqCst))
            .sum()
    }
}

fn audit_event(alert: &Alert) -> AuditEvent {
    let mut event = AuditEvent::new(event_types::ALERT_RAISED, alert.summary(), Outcome::Success)
        .meta("alert_id", alert.id.to_string())
        .meta("kind", alert.kind.as_str())
        .meta("severity", alert.severity.as_str())
        .meta("subject", alert.subject.clone());
    if !alert.details.is_empty() {
        event = event.meta("details", serde_json::Value::Object(alert.details.clone()));
    }
    event
}

fn write_log(alert: &Alert) {
    let details = serde_json::Value::Object(alert.details.clone());
    let summary = alert.summary();
    match alert.severity {
        Severity::Critical => {
            tracing::error!(alert_id = %alert.id, kind = %alert.kind, subject = %alert.subject, %details, "{summary}")
        }
        Severity::Warning => {
            tracing::warn!(alert_id = %alert.id, kind = %alert.kind, subject = %alert.subject, %details, "{summary}")
        }
        Severity::Info => {
            tracing::info!(alert_id = %alert.id, kind = %alert.kind, subject = %alert.subject, %details, "{summary}")
        }
    }
}

fn webhook_sink(config: &Config, index: usize, webhook: &WebhookConfig, instance: &str) -> Result<(Sink, RetryPolicy), AlertError> {
    let secret = read_secret(config, index, webhook)?;
    let sink = WebhookSink::new(webhook.url.clone(), secret, webhook.timeout, instance.to_string()).map_err(|error| {
        AlertError::HttpClient {
            key: format!("alerts.webhook[{index}]"),
            reason: error.to_string(),
        }
    })?;
    let retry = RetryPolicy {
        max_attempts: webhook.max_attempts,
        initial_backoff: webhook.initial_backoff,
        max_backoff: webhook.max_backoff,
    };
    Ok((Sink::Webhook(sink), retry))
}

fn read_secret(config: &Config, index: usize, webhook: &WebhookConfig) -> Result<Vec<u8>, AlertError> {
    let (key, secret) = if let Some(variable) = &webhook.secret_env {
        let key = format!("alerts.webhook[{index}].secret_env ({variable})");
        let secret = std::env::var(variable).map_err(|error| AlertError::Secret {
            key: key.clone(),
            reason: error.to_string(),
        })?;
        (key, secret)
    } else {
        let path = config.resolve(webhook.secret_file.as_deref().unwrap_or(std::path::Path::new("")));
        let key = format!("alerts.webhook[{index}].secret_file ({})", path.display());
        let secret = std::fs::read_to_string(&path).map_err(|error| AlertError::Secret {
            key: key.clone(),
            reason: error.to_string(),
        })?;
        (key, secret)
    };
    let secret = secret.trim();
    if secret.len() < 16 {
        return Err(AlertError::Secret {
            key,
            reason: "the secret is shorter than 16 characters".to_string(),
        });
    }
    Ok(secret.as_bytes().to_vec())
}

fn syslog_sink(syslog: &SyslogConfig, instance: &str) -> Result<Sink, AlertError> {
    let facility = syslog_facility_code(&syslog.facility).ok_or_else(|| AlertError::Syslog {
        key: "facility",
        reason: format!("unknown facility \"{}\"", syslog.facility),
    })?;
    Ok(Sink::Syslog(SyslogSink {
        address: syslog.address.clone(),
        transport: syslog.transport,
        facility,
        hostname: local_hostname(),
        app_name: syslog.app_name.clone(),
        instance: instance.to_string(),
        stream: None,
    }))
}
