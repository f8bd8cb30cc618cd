//! Escalation alerts of Portcullis: a role granted, break-glass used, repeated failed
//! logins or denials, an audit log that fails verification, and the like.
//!
//! [`Alerts::raise`] appends an `alert.raised` audit record, writes the alert to the log,
//! and queues it for each configured network sink (`[alerts]` in the configuration):
//!
//! - HTTP webhooks: a JSON POST signed with HMAC-SHA256 (see [`webhook`]).
//! - Syslog: one RFC 5424 message over UDP or TCP, with the alert's fields as structured
//!   data (see [`syslog`]).
//!
//! Each network sink has a bounded queue and one delivery task that retries with
//! exponential backoff, so a sink that is down never blocks the caller: `raise` waits only
//! for the audit record. Alerts that are dropped because a queue is full, that exhaust
//! their retries, or that are still pending when [`Alerts::flush`] times out are counted in
//! `portcullis_alerts_undelivered_total{sink}`; delivered ones in
//! `portcullis_alerts_delivered_total{sink}`.
//!
//! [`EscalationWatch`] observes the audit events a gateway appends and raises alerts on
//! repeated failed logins (per user and per address) and repeated denied statements.

mod alert;
mod alerts;
mod error;
mod escalation;
mod repeat;
mod sink;
pub mod syslog;
pub mod webhook;

pub use alert::{Alert, AlertKind, Severity};
pub use alerts::{Alerts, SinkStats};
pub use error::{AlertError, DeliveryError};
pub use escalation::EscalationWatch;
pub use repeat::RepeatDetector;
