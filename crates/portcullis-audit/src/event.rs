//! Audit events as callers build them, before the writer assigns a sequence number.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::error::AuditError;

/// Event types that the gateway's crates append. The type stays an open string, so a crate
/// may append a type that is not listed here.
pub mod event_types {
    pub const AUTH_LOGIN_SUCCEEDED: &str = "auth.login.succeeded";
    pub const AUTH_LOGIN_FAILED: &str = "auth.login.failed";
    /// A login failed at the second factor (wrong or replayed TOTP code, no enrollment).
    pub const AUTH_MFA_FAILED: &str = "auth.mfa.failed";
    /// A login was refused because the user name or source address is locked out.
    pub const AUTH_LOCKOUT: &str = "auth.lockout";
    /// A user replaced their own password.
    pub const AUTH_PASSWORD_CHANGED: &str = "auth.password_changed";
    pub const TOKEN_ISSUED: &str = "token.issued";
    pub const TOKEN_REVOKED: &str = "token.revoked";
    pub const USER_CREATED: &str = "user.created";
    pub const USER_UPDATED: &str = "user.updated";
    pub const USER_DISABLED: &str = "user.disabled";
    pub const USER_DELETED: &str = "user.deleted";
    pub const USER_ENABLED: &str = "user.enabled";
    pub const USER_MFA_RESET: &str = "user.mfa_reset";
    pub const ROLE_CREATED: &str = "role.created";
    pub const ROLE_GRANTED: &str = "role.granted";
    pub const ROLE_REVOKED: &str = "role.revoked";
    pub const GATEWAY_INITIALIZED: &str = "gateway.initialized";
    pub const GATEWAY_STARTED: &str = "gateway.started";
    pub const GATEWAY_STOPPED: &str = "gateway.stopped";
    pub const TARGET_ADDED: &str = "target.added";
    pub const TARGET_REMOVED: &str = "target.removed";
    pub const SESSION_AUTH_FAILED: &str = "session.auth_failed";
    pub const CANCEL_REQUESTED: &str = "session.cancel_requested";
    pub const CONFIG_LOADED: &str = "config.loaded";
    /// A gateway instance loaded a policy set (at start, on request or on
    /// SIGHUP), or failed to and kept the set in force. `meta` contains
    /// `policy_sha256`, the hash the instance now enforces.
    pub const POLICY_RELOADED: &str = "policy.reloaded";
    /// `portcullis policy reload` validated a new policy set and recorded it
    /// for every instance. `meta` contains `previous_sha256` and `policy_sha256`.
    pub const POLICY_SET_CHANGED: &str = "policy.set_changed";
    pub const SESSION_STARTED: &str = "session.started";
    pub const SESSION_ENDED: &str = "session.ended";
    /// The decision on one statement, appended before the statement goes upstream.
    pub const STATEMENT: &str = "statement";
    /// The completion of a statement (command tag or SQLSTATE), linked by session and metadata.
    pub const STATEMENT_COMPLETED: &str = "statement.completed";
    /// An escalation alert (role granted, break-glass, repeated failures, ...), appended
    /// before the alert is sent to its sinks. `meta` contains `kind`, `severity` and `alert_id`.
    pub const ALERT_RAISED: &str = "alert.raised";

    /// A user asked for a role for a limited time.
    pub const ACCESS_REQUESTED: &str = "access.requested";
    /// An approver approved a request that still needs more approvals.
    pub const ACCESS_APPROVAL_RECORDED: &str = "access.approval_recorded";
    /// A request reached its approvals and its grant was created.
    pub const ACCESS_APPROVED: &str = "access.approved";
    /// An approver denied a request.
    pub const ACCESS_DENIED: &str = "access.denied";
    /// A request expired before anyone decided on it.
    pub const ACCESS_REQUEST_EXPIRED: &str = "access.request_expired";
    /// The requester withdrew a pending request.
    pub const ACCESS_REQUEST_WITHDRAWN: &str = "access.request_withdrawn";
    /// A temporary grant (just-in-time or break-glass) was revoked before its end.
    pub const ACCESS_GRANT_REVOKED: &str = "access.grant_revoked";
    /// A user self-granted the emergency role.
    pub const BREAK_GLASS_USED: &str = "break_glass.used";
    /// An approver closed a break-glass post-incident review.
    pub const BREAK_GLASS_REVIEWED: &str = "break_glass.reviewed";

    /// Prefix of the types that only the audit log itself writes. `AuditLog::append` rejects it.
    pub const RESERVED_PREFIX: &str = "audit.";
    /// Signed checkpoint record, written every N records or T seconds and at shutdown.
    pub const AUDIT_CHECKPOINT: &str = "audit.checkpoint";
    /// Record written at open after a torn final line was truncated.
    pub const AUDIT_RECOVERED: &str = "audit.recovered";
}

/// Result of the action that an event describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Success,
    Failure,
    /// A policy or check rejected the action.
    Denied,
    /// The action could not be evaluated or completed because of an internal error.
    Error,
}

impl Outcome {
    /// Returns the lowercase name that the on-disk format and the hash encoding use.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Denied => "denied",
            Outcome::Error => "error",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One security-relevant event, built by the caller and passed to `AuditLog::append`.
///
/// `metadata` is stored in clear text and is searchable, so it must not contain ePHI.
/// Anything that may contain ePHI (statement text, bind parameters) goes into `payload`,
/// which is encrypted before it reaches the disk.
#[derive(Clone)]
pub struct AuditEvent {
    pub(crate) event_type: String,
    pub(crate) actor: Option<Uuid>,
    pub(crate) subject: String,
    pub(crate) outcome: Outcome,
    pub(crate) session: Option<Uuid>,
    pub(crate) target: Option<String>,
    pub(crate) client_addr: Option<String>,
    pub(crate) metadata: Map<String, Value>,
    pub(crate) payload: Option<Value>,
}

impl AuditEvent {
    /// Creates an event with no actor, session, target, client address, metadata or payload.
    pub fn new(event_type: impl Into<String>, subject: impl Into<String>, outcome: Outcome) -> Self {
        AuditEvent {
            event_type: event_type.into(),
            actor: None,
            subject: subject.into(),
            outcome,
            session: None,
            target: None,
            client_addr: None,
            metadata: Map::new(),
            payload: None,
        }
    }

    /// Sets the unique ID of the user or service account that performed the action.
    pub fn actor(mut self, actor_id: Uuid) -> Self {
        self.actor = Some(actor_id);
        self
    }

    pub fn session(mut self, session_id: Uuid) -> Self {
        self.session = Some(session_id);
        self
    }

    /// Sets the name of the target system (for example a configured database target).
    pub fn target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }

    /// Sets the client's network address, for example `203.0.113.7:52144`.
    pub fn client_addr(mut self, client_addr: impl fmt::Display) -> Self {
        self.client_addr = Some(client_addr.to_string());
        self
    }

    /// Adds one clear-text metadata entry. Metadata must not contain ePHI.
    pub fn meta(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// Sets the payload, which may contain ePHI and is stored encrypted with AES-256-GCM.
    pub fn payload(mut self, payload: Value) -> Self {
        self.payload = Some(payload);
        self
    }

    pub fn event_type(&self) -> &str {
        &self.event_type
    }

    pub fn actor_id(&self) -> Option<Uuid> {
        self.actor
    }

    pub fn subject_text(&self) -> &str {
        &self.subject
    }

    pub fn event_outcome(&self) -> Outcome {
        self.outcome
    }

    pub fn client_address(&self) -> Option<&str> {
        self.client_addr.as_deref()
    }

    /// Returns one clear-text metadata entry.
    pub fn metadata_value(&self, key: &str) -> Option<&Value> {
        self.metadata.get(key)
    }

    /// Checks the event type, so that a malformed or reserved type is rejected before it is
    /// queued.
    pub(crate) fn validate(&self) -> Result<(), AuditError> {
        let valid_chars = self.event_type.bytes().all(|byte| {
            byte.is_ascii_lowercase() || byte.is_ascii_digit() || matches!(byte, b'.' | b'_' | b'-')
        });
        if self.event_type.is_empty() || !valid_chars {
            return Err(AuditError::InvalidEventType {
                event_type: self.event_type.clone(),
            });
        }
        if self.event_type.starts_with(event_types::RESERVED_PREFIX) {
            return Err(AuditError::ReservedEventType {
                event_type: self.event_type.clone(),
            });
        }
        Ok(())
    }
}

/// Shows every field except the payload, which may contain ePHI.
impl fmt::Debug for AuditEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditEvent")
            .field("event_type", &self.event_type)
            .field("actor", &self.actor)
            .field("subject", &self.subject)
            .field("outcome", &self.outcome)
            .field("session", &self.session)
            .field("target", &self.target)
            .field("client_addr", &self.client_addr)
            .field("metadata", &self.metadata)
            .field("payload", &self.payload.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}
