//! Alerts on repeated failed logins and denied statements, found by observing the audit
//! events a gateway appends (see `AuditLog::set_observer`).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use portcullis_audit::{event_types, AuditEvent, Outcome};
use portcullis_core::config::AlertsConfig;
use uuid::Uuid;

use crate::alert::{Alert, AlertKind, Severity};
use crate::alerts::Alerts;
use crate::repeat::RepeatDetector;

/// User names remembered at most, for naming users in alerts.
const MAX_NAMES: usize = 10_000;

/// Watches audit events for repeated failures and raises an alert when a user or an
/// address crosses a threshold of `[alerts]`.
pub struct EscalationWatch {
    alerts: Alerts,
    state: Mutex<WatchState>,
}

struct WatchState {
    failed_logins: RepeatDetector,
    denials: RepeatDetector,
    /// User names by ID, learned from records that carry both (session starts, tokens).
    names: HashMap<Uuid, String>,
}

/// Meaning of an event to the watch.
enum Observed {
    FailedLogin { user: Option<String>, address: Option<IpAddr> },
    Denial { user: String },
}

impl EscalationWatch {
    pub fn new(alerts: Alerts, config: &AlertsConfig) -> Arc<EscalationWatch> {
        Arc::new(EscalationWatch {
            alerts,
            state: Mutex::new(WatchState {
                failed_logins: RepeatDetector::new(config.failed_login_threshold, config.window),
                denials: RepeatDetector::new(config.denial_threshold, config.window),
                names: HashMap::new(),
            }),
        })
    }

    /// Returns the observer to pass to `AuditLog::set_observer`.
    pub fn observer(self: &Arc<Self>) -> portcullis_audit::AppendObserver {
        let watch = Arc::clone(self);
        Arc::new(move |event: &AuditEvent| watch.observe(event))
    }

    /// Counts `event` and raises the alerts it triggers on a spawned task, so the caller
    /// never waits for the alert's own audit record.
    pub fn observe(&self, event: &AuditEvent) {
        let alerts = {
            let Ok(mut state) = self.state.lock() else { return };
            state.learn_name(event);
            match state.classify(event) {
                Some(observed) => state.count(observed, Instant::now()),
                None => Vec::new(),
            }
        };
        for alert in alerts {
            let sink = self.alerts.clone();
            tokio::spawn(async move {
                if let Err(error) = sink.raise(alert).await {
                    tracing::error!(%error, "raising a repeated-failure alert failed");
                }
            });
        }
    }
}

impl WatchState {
    fn learn_name(&mut self, event: &AuditEvent) {
        let named = matches!(
            event.event_type(),
            event_types::SESSION_STARTED | event_types::TOKEN_ISSUED | event_types::AUTH_LOGIN_SUCCEEDED
        );
        let Some(actor) = event.actor_id().filter(|_| named) else { return };
        if self.names.len() >= MAX_NAMES {
            self.names.clear();
        }
        self.names.insert(actor, event.subject_text().to_string());
    }

    fn user_label(&self, actor: Uuid) -> String {
        self.names.get(&actor).cloned().unwrap_or_else(|| actor.to_string())
    }

    fn classify(&self, event: &AuditEvent) -> Option<Observed> {
        match event.event_type() {
            // The API's records carry the user name in `meta.user` when it matched an
            // account, and the front end's records carry the name the client sent.
            event_types::AUTH_LOGIN_FAILED | event_types::AUTH_MFA_FAILED | event_types::AUTH_LOCKOUT => {
                let named = event.metadata_value("user").and_then(|user| user.as_str()).map(str::to_owned);
                Some(Observed::FailedLogin {
                    user: named.or_else(|| event.actor_id().map(|actor| self.user_label(actor))),
                    address: event.client_address().and_then(parse_ip),
                })
            }
            event_types::SESSION_AUTH_FAILED => Some(Observed::FailedLogin {
                user: Some(event.subject_text().to_string()).filter(|name| !name.is_empty()),
                address: event.client_address().and_then(parse_ip),
            }),
            event_types::STATEMENT if event.event_outcome() == Outcome::Denied => {
                let user = event.actor_id()?;
                Some(Observed::Denial {
                    user: self.user_label(user),
                })
            }
            _ => None,
        }
    }

    fn count(&mut self, observed: Observed, now: Instant) -> Vec<Alert> {
        let mut alerts = Vec::new();
        match observed {
            Observed::FailedLogin { user, address } => {
                if let Some(user) = user {
                    if let Some(count) = self.failed_logins.record(&format!("user:{user}"), now) {
                        alerts.push(repeated_logins(&user, "user", count));
                    }
                }
                if let Some(address) = address {
                    let address = address.to_string();
                    if let Some(count) = self.failed_logins.record(&format!("address:{address}"), now) {
                        alerts.push(repeated_logins(&address, "address", count));
                    }
                }
            }
            Observed::Denial { user } => {
                if let Some(count) = self.denials.record(&user, now) {
                    alerts.push(
                        Alert::new(AlertKind::RepeatedDenials, Severity::Warning, user)
                            .detail("denials", count as u64),
                    );
                }
            }
        }
        alerts
    }
}

fn repeated_logins(subject: &str, subject_kind: &str, count: usize) -> Alert {
    Alert::new(AlertKind::RepeatedLoginFailures, Severity::Warning, subject)
        .detail("subject_kind", subject_kind)
        .detail("failures", count as u64)
}

/// Reads `203.0.113.7` or `203.0.113.7:52144` (or the IPv6 forms) as an address.
fn parse_ip(text: &str) -> Option<IpAddr> {
    text.parse::<IpAddr>()
        .ok()
        .or_else(|| text.parse::<SocketAddr>().ok().map(|address| address.ip()))
}
