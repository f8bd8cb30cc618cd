//! One escalation alert, as raised and as sent to every sink.

use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value};
use time::OffsetDateTime;
use uuid::Uuid;

/// Kind of event. The name (`as_str`) is stable because receivers filter on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    RoleGranted,
    AdminRoleGranted,
    AccessRequestApproved,
    BreakGlassUsed,
    PolicySetChanged,
    RepeatedLoginFailures,
    RepeatedDenials,
    AuditVerificationFailed,
}

impl AlertKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::RoleGranted => "role_granted",
            AlertKind::AdminRoleGranted => "admin_role_granted",
            AlertKind::AccessRequestApproved => "access_request_approved",
            AlertKind::BreakGlassUsed => "break_glass_used",
            AlertKind::PolicySetChanged => "policy_set_changed",
            AlertKind::RepeatedLoginFailures => "repeated_login_failures",
            AlertKind::RepeatedDenials => "repeated_denials",
            AlertKind::AuditVerificationFailed => "audit_verification_failed",
        }
    }
}

impl fmt::Display for AlertKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How urgent an alert is. Maps to syslog severities `warning` (4) and `critical` (2),
/// and `notice` (5) for `Info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }

    /// Returns the RFC 5424 severity code.
    pub fn syslog_code(self) -> u8 {
        match self {
            Severity::Info => 5,
            Severity::Warning => 4,
            Severity::Critical => 2,
        }
    }
}

/// An escalation alert. `details` travels in clear text to every sink, so it must hold
/// names, ids, counts and reasons only: never ePHI, statement text, tokens or secrets.
#[derive(Debug, Clone, Serialize)]
pub struct Alert {
    /// Unique ID; receivers use it to drop the duplicates that retries can produce.
    pub id: Uuid,
    pub kind: AlertKind,
    pub severity: Severity,
    /// The user name or client address the alert is about.
    pub subject: String,
    pub details: Map<String, Value>,
    #[serde(with = "time::serde::rfc3339")]
    pub raised_at: OffsetDateTime,
}

impl Alert {
    pub fn new(kind: AlertKind, severity: Severity, subject: impl Into<String>) -> Alert {
        Alert {
            id: Uuid::new_v4(),
            kind,
            severity,
            subject: subject.into(),
            details: Map::new(),
            // Whole microseconds: RFC 5424 timestamps allow at most six fractional digits.
            raised_at: portcullis_core::clock::truncate_to_micros(OffsetDateTime::now_utc()),
        }
    }

    /// Adds one detail. The value must not contain ePHI or secrets.
    pub fn detail(mut self, key: impl Into<String>, value: impl Into<Value>) -> Alert {
        self.details.insert(key.into(), value.into());
        self
    }

    /// Returns the one-line summary used as the log message and the syslog MSG.
    pub fn summary(&self) -> String {
        format!("{} alert ({}): {}", self.kind, self.severity.as_str(), self.subject)
    }
}
