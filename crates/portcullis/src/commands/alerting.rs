//! Escalation alerts raised by short-lived commands, which must deliver them before exit.

use std::time::Duration;

use anyhow::{Context as _, Result};
use portcullis_alert::{Alert, Alerts};
use portcullis_audit::AuditLog;

use crate::context::Context;

/// How long a command waits for its alerts to reach the sinks before it exits.
pub const ALERT_FLUSH_TIMEOUT: Duration = Duration::from_secs(15);

/// Starts the sinks of `[alerts]`, recording alerts in `audit` (or nowhere when `None`).
pub fn start(config: &portcullis_core::config::Config, audit: Option<&AuditLog>) -> Result<Alerts> {
    Alerts::start(config, audit.cloned()).context("starting the alert sinks ([alerts])")
}

/// Waits up to `ALERT_FLUSH_TIMEOUT` for queued alerts and warns about those left.
pub async fn flush(alerts: &Alerts) {
    let undelivered = alerts.flush(ALERT_FLUSH_TIMEOUT).await;
    if undelivered > 0 {
        eprintln!("warning: {undelivered} alert(s) could not be delivered; see the audit log for their records");
    }
}

/// Raises one alert and waits for its delivery, for a command that raises only this one.
pub async fn raise_and_flush(context: &Context, audit: &AuditLog, alert: Alert) -> Result<()> {
    let alerts = start(&context.config, Some(audit))?;
    let raised = alerts.raise(alert).await;
    flush(&alerts).await;
    raised.context("raising the alert")
}
