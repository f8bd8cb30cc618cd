//! Temporary access: just-in-time requests, their approvals, the grants they produce,
//! and break-glass grants with their post-incident reviews.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ids::{AccessRequestId, GrantId, ReviewId, RoleId, UserId};
use crate::names::RoleName;

/// How a temporary grant came about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantSource {
    /// An approved just-in-time request.
    Jit,
    /// A self-granted emergency role.
    BreakGlass,
}

impl GrantSource {
    /// Returns the stored and printed name.
    pub fn as_str(self) -> &'static str {
        match self {
            GrantSource::Jit => "jit",
            GrantSource::BreakGlass => "break_glass",
        }
    }
}

impl FromStr for GrantSource {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "jit" => Ok(GrantSource::Jit),
            "break_glass" => Ok(GrantSource::BreakGlass),
            other => Err(format!("unknown grant source `{other}`")),
        }
    }
}

/// A role held temporarily, on one target or on all of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessGrant {
    /// Identifier.
    pub id: GrantId,
    /// The user the role is granted to.
    pub user_id: UserId,
    /// The granted role.
    pub role_id: RoleId,
    /// Name of the granted role.
    pub role: RoleName,
    /// Target the grant is limited to, or `None` for every target.
    pub target: Option<String>,
    /// Just-in-time or break-glass.
    pub source: GrantSource,
    /// Reason the user gave.
    pub reason: String,
    /// Start of validity.
    #[serde(with = "time::serde::rfc3339")]
    pub starts_at: OffsetDateTime,
    /// End of validity; the grant ends by itself at this time.
    #[serde(with = "time::serde::rfc3339")]
    pub ends_at: OffsetDateTime,
    /// Time of an early revocation.
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
    /// The user who revoked the grant early.
    pub revoked_by: Option<UserId>,
    /// The request a just-in-time grant was approved from.
    pub request_id: Option<AccessRequestId>,
}

/// Whether a grant is in force at some instant, and if not, why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantState {
    /// Not started yet.
    Pending,
    /// In force.
    Active,
    /// Ended by itself at this time.
    Expired(OffsetDateTime),
    /// Revoked at this time.
    Revoked(OffsetDateTime),
}

impl AccessGrant {
    /// Returns the grant's state at `now`. Revocation takes precedence over expiry.
    pub fn state(&self, now: OffsetDateTime) -> GrantState {
        if let Some(at) = self.revoked_at {
            return GrantState::Revoked(at);
        }
        if now >= self.ends_at {
            return GrantState::Expired(self.ends_at);
        }
        if now < self.starts_at {
            return GrantState::Pending;
        }
        GrantState::Active
    }

    /// Returns whether the grant applies to sessions on `target`.
    pub fn covers_target(&self, target: &str) -> bool {
        self.target.as_deref().is_none_or(|only| only == target)
    }
}

/// Life cycle of a just-in-time request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestState {
    /// Waiting for approvals.
    Pending,
    /// Approved; a grant exists.
    Approved,
    /// An approver denied it.
    Denied,
    /// Nobody decided before the request's expiry.
    Expired,
    /// Withdrawn while pending, or its grant was revoked.
    Revoked,
}

impl RequestState {
    /// Returns the stored and printed name.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestState::Pending => "pending",
            RequestState::Approved => "approved",
            RequestState::Denied => "denied",
            RequestState::Expired => "expired",
            RequestState::Revoked => "revoked",
        }
    }
}

impl fmt::Display for RequestState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RequestState {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "pending" => Ok(RequestState::Pending),
            "approved" => Ok(RequestState::Approved),
            "denied" => Ok(RequestState::Denied),
            "expired" => Ok(RequestState::Expired),
            "revoked" => Ok(RequestState::Revoked),
            other => Err(format!("unknown request state `{other}`")),
        }
    }
}

/// A user's request for a role for a limited time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRequest {
    /// Identifier.
    pub id: AccessRequestId,
    /// The user asking for the role.
    pub requester_id: UserId,
    /// The requested role.
    pub role_id: RoleId,
    /// Name of the requested role.
    pub role: RoleName,
    /// Target to limit the grant to, or `None` for every target.
    pub target: Option<String>,
    /// How long the grant lasts once approved.
    #[serde(with = "seconds")]
    pub duration: Duration,
    /// Reason the user gave.
    pub reason: String,
    /// Current state.
    pub state: RequestState,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// A request still pending at this time expires.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// An approver's decision on a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Counts towards the approvals the role needs.
    Approve,
    /// Ends the request at once.
    Deny,
}

impl Decision {
    /// Returns the stored and printed name.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approve => "approve",
            Decision::Deny => "deny",
        }
    }
}

impl FromStr for Decision {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "approve" => Ok(Decision::Approve),
            "deny" => Ok(Decision::Deny),
            other => Err(format!("unknown decision `{other}`")),
        }
    }
}

/// One approver's recorded decision on a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestDecision {
    /// The request.
    pub request_id: AccessRequestId,
    /// The approver.
    pub approver_id: UserId,
    /// Approve or deny.
    pub decision: Decision,
    /// Time of the decision.
    #[serde(with = "time::serde::rfc3339")]
    pub decided_at: OffsetDateTime,
}

/// The post-incident review a break-glass grant opens. It stays open until an approver
/// other than the grant's user records notes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakGlassReview {
    /// Identifier.
    pub id: ReviewId,
    /// The break-glass grant under review.
    pub grant_id: GrantId,
    /// Time the review was opened (the time of the grant).
    #[serde(with = "time::serde::rfc3339")]
    pub opened_at: OffsetDateTime,
    /// The reviewer, once closed.
    pub reviewed_by: Option<UserId>,
    /// Time of closing.
    #[serde(with = "time::serde::rfc3339::option")]
    pub reviewed_at: Option<OffsetDateTime>,
    /// The reviewer's findings.
    pub notes: Option<String>,
}

/// Durations as whole seconds in JSON.
mod seconds {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(value.as_secs())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        u64::deserialize(deserializer).map(Duration::from_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn grant() -> AccessGrant {
        AccessGrant {
            id: GrantId::new_random(),
            user_id: UserId::new_random(),
            role_id: RoleId::new_random(),
            role: RoleName::new("oncall").expect("role name"),
            target: Some("clinic".to_owned()),
            source: GrantSource::Jit,
            reason: "incident".to_owned(),
            starts_at: datetime!(2030-01-01 10:00 UTC),
            ends_at: datetime!(2030-01-01 11:00 UTC),
            revoked_at: None,
            revoked_by: None,
            request_id: Some(AccessRequestId::new_random()),
        }
    }

    #[test]
    fn grant_state_follows_clock() {
        let grant = grant();
        assert_eq!(grant.state(datetime!(2030-01-01 09:59 UTC)), GrantState::Pending);
        assert_eq!(grant.state(datetime!(2030-01-01 10:30 UTC)), GrantState::Active);
        assert_eq!(
            grant.state(datetime!(2030-01-01 11:00 UTC)),
            GrantState::Expired(grant.ends_at)
        );
    }

    #[test]
    fn revocation_precedes_expiry() {
        let revoked_at = datetime!(2030-01-01 10:15 UTC);
        let grant = AccessGrant {
            revoked_at: Some(revoked_at),
            ..grant()
        };
        assert_eq!(grant.state(datetime!(2030-01-01 12:00 UTC)), GrantState::Revoked(revoked_at));
    }

    #[test]
    fn target_limit() {
        let grant = grant();
        assert!(grant.covers_target("clinic"));
        assert!(!grant.covers_target("billing"));
        let everywhere = AccessGrant { target: None, ..grant };
        assert!(everywhere.covers_target("billing"));
    }
}
