//! Privilege-creep review: when each role a user holds was last exercised, according to
//! the audit log, and which roles went unused long enough to be revoked.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use portcullis_audit::{event_types, Outcome, Record};
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

/// Prefixes of the event types that only an administrator can cause. A successful record
/// of one of them, with the administrator as actor, exercises the administrator's admin
/// roles.
const ADMIN_EVENT_PREFIXES: &[&str] = &["role.", "user.", "target.", "policy.", "request.", "grant.", "review."];

/// Source of a user's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldingSource {
    /// A standing role membership (`portcullis role grant`).
    Standing,
    /// A time-limited grant from an approved request.
    JustInTime,
    /// A self-granted emergency role.
    BreakGlass,
}

impl HoldingSource {
    pub fn as_str(self) -> &'static str {
        match self {
            HoldingSource::Standing => "standing",
            HoldingSource::JustInTime => "just_in_time",
            HoldingSource::BreakGlass => "break_glass",
        }
    }
}

/// One role that one user holds.
#[derive(Debug, Clone)]
pub struct Holding {
    pub user_id: Uuid,
    pub user: String,
    pub role: String,
    pub source: HoldingSource,
    pub granted_at: OffsetDateTime,
}

/// Decisions on other users' access. Each exercises the approver role of the
/// requested role (`meta.role`). A revocation counts only when the actor is not
/// the requester, because withdrawing one's own request needs no role.
const APPROVER_EVENTS: &[&str] = &[
    event_types::ACCESS_APPROVAL_RECORDED,
    event_types::ACCESS_APPROVED,
    event_types::ACCESS_DENIED,
    event_types::ACCESS_GRANT_REVOKED,
    event_types::ACCESS_REQUEST_WITHDRAWN,
];

/// The roles whose use shows only in administrative records, from the configuration.
#[derive(Debug, Default)]
pub struct PrivilegedRoles {
    /// `alerts.admin_roles`: exercised by role, user, target and policy changes.
    pub admin: Vec<String>,
    /// Approver role of each requestable role (`access.roles.NAME.approvers`).
    pub approvers: HashMap<String, String>,
    /// `break_glass.reviewers`: exercised by closing a break-glass review.
    pub reviewers: String,
}

impl PrivilegedRoles {
    /// Returns the roles that `record`, a successful record with `actor`, exercises
    /// besides the `roles_used` of a statement.
    fn exercised_by(&self, record: &Record, actor: Uuid) -> Vec<&str> {
        let event_type = record.event_type.as_str();
        if APPROVER_EVENTS.contains(&event_type) {
            let requester = record.metadata.get("requester_id").and_then(|id| id.as_str());
            if requester == Some(actor.to_string().as_str()) {
                return Vec::new();
            }
            let requested = record.metadata.get("role").and_then(|role| role.as_str());
            // NOTE: the approver role comes from the configuration in force now,
            // which may differ from the one at the time of the decision.
            return requested
                .and_then(|role| self.approvers.get(role))
                .map(|approvers| vec![approvers.as_str()])
                .unwrap_or_default();
        }
        if event_type == event_types::BREAK_GLASS_REVIEWED && !self.reviewers.is_empty() {
            return vec![self.reviewers.as_str()];
        }
        if ADMIN_EVENT_PREFIXES.iter().any(|prefix| event_type.starts_with(prefix)) {
            return self.admin.iter().map(String::as_str).collect();
        }
        Vec::new()
    }
}

/// The newest time each (user, role) pair was exercised.
#[derive(Debug, Default)]
pub struct Usage {
    last_used: HashMap<(Uuid, String), OffsetDateTime>,
}

impl Usage {
    /// Takes what `record` shows about role use: the `roles_used` of an allowed
    /// statement, or an administrative action or access decision by its actor.
    pub fn observe(&mut self, record: &Record, privileged: &PrivilegedRoles) {
        let Some(actor) = record.actor else { return };
        if record.outcome != Outcome::Success {
            return;
        }
        if record.event_type == event_types::STATEMENT {
            let roles = record.metadata.get("roles_used").and_then(|roles| roles.as_array());
            for role in roles.into_iter().flatten().filter_map(|role| role.as_str()) {
                self.mark(actor, role, record.timestamp);
            }
            return;
        }
        for role in privileged.exercised_by(record, actor) {
            self.mark(actor, role, record.timestamp);
        }
    }

    fn mark(&mut self, user: Uuid, role: &str, at: OffsetDateTime) {
        let entry = self.last_used.entry((user, role.to_string())).or_insert(at);
        if at > *entry {
            *entry = at;
        }
    }

    fn last_used(&self, user: Uuid, role: &str) -> Option<OffsetDateTime> {
        self.last_used.get(&(user, role.to_string())).copied()
    }
}

/// One line of the review.
#[derive(Debug, Clone, Serialize)]
pub struct ReviewRow {
    pub user: String,
    pub role: String,
    pub source: HoldingSource,
    #[serde(with = "time::serde::rfc3339")]
    pub granted_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used: Option<OffsetDateTime>,
    /// Whether the role went unused for the review window: a candidate for revocation.
    pub revoke_candidate: bool,
}

/// Builds one row per holding, sorted by user and role. A holding is a revocation
/// candidate when its last use is older than `unused_for`, or when it was never used and
/// was granted longer than `unused_for` ago.
pub fn review(holdings: &[Holding], usage: &Usage, now: OffsetDateTime, unused_for: Duration) -> Vec<ReviewRow> {
    let cutoff = now - unused_for;
    let mut seen = HashSet::new();
    let mut rows: Vec<ReviewRow> = holdings
        .iter()
        .filter(|holding| seen.insert((holding.user_id, holding.role.clone(), holding.source)))
        .map(|holding| {
            let last_used = usage.last_used(holding.user_id, &holding.role);
            let reference = last_used.unwrap_or(holding.granted_at);
            ReviewRow {
                user: holding.user.clone(),
                role: holding.role.clone(),
                source: holding.source,
                granted_at: holding.granted_at,
                last_used,
                revoke_candidate: reference < cutoff,
            }
        })
        .collect();
    rows.sort_by(|a, b| (&a.user, &a.role).cmp(&(&b.user, &b.role)));
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Map, Value};
    use time::macros::datetime;

    const DAY: Duration = Duration::from_secs(86_400);

    fn record(event_type: &str, actor: Uuid, at: OffsetDateTime, outcome: Outcome, metadata: Value) -> Record {
        let metadata: Map<String, Value> = serde_json::from_value(metadata).unwrap();
        Record {
            version: 1,
            seq: 1,
            timestamp: at,
            event_type: event_type.to_string(),
            actor: Some(actor),
            subject: String::new(),
            outcome,
            session: None,
            target: None,
            client_addr: None,
            metadata,
            payload: None,
            prev_hash: [0; 32],
            hash: [0; 32],
            signature: None,
        }
    }

    fn holding(user_id: Uuid, role: &str, granted_at: OffsetDateTime) -> Holding {
        Holding {
            user_id,
            user: "alice".to_string(),
            role: role.to_string(),
            source: HoldingSource::Standing,
            granted_at,
        }
    }

    #[test]
    fn unused_role_is_flagged_used_role_is_not() {
        let now = datetime!(2026-06-30 12:00 UTC);
        let alice = Uuid::new_v4();
        let granted = datetime!(2026-01-01 00:00 UTC);
        let mut usage = Usage::default();
        let old = record("statement", alice, now - 45 * DAY, Outcome::Success, json!({"roles_used": ["billing"]}));
        let recent = record("statement", alice, now - 2 * DAY, Outcome::Success, json!({"roles_used": ["clinician"]}));
        usage.observe(&old, &PrivilegedRoles::default());
        usage.observe(&recent, &PrivilegedRoles::default());
        let holdings = [holding(alice, "billing", granted), holding(alice, "clinician", granted)];

        let rows = review(&holdings, &usage, now, 30 * DAY);

        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].role, "billing");
        assert_eq!(rows[0].last_used, Some(now - 45 * DAY));
        assert!(rows[0].revoke_candidate);
        assert_eq!(rows[1].role, "clinician");
        assert_eq!(rows[1].last_used, Some(now - 2 * DAY));
        assert!(!rows[1].revoke_candidate);
    }

    #[test]
    fn never_used_role_flagged_after_window() {
        let now = datetime!(2026-06-30 12:00 UTC);
        let alice = Uuid::new_v4();
        let holdings = [
            holding(alice, "old-grant", now - 31 * DAY),
            holding(alice, "new-grant", now - 29 * DAY),
        ];

        let rows = review(&holdings, &Usage::default(), now, 30 * DAY);

        assert_eq!(rows[0].role, "new-grant");
        assert!(!rows[0].revoke_candidate);
        assert_eq!(rows[1].role, "old-grant");
        assert!(rows[1].revoke_candidate);
        assert_eq!(rows[1].last_used, None);
    }

    #[test]
    fn denied_statement_is_not_use() {
        let now = datetime!(2026-06-30 12:00 UTC);
        let alice = Uuid::new_v4();
        let mut usage = Usage::default();
        let denied = record("statement", alice, now - DAY, Outcome::Denied, json!({"roles_used": ["billing"]}));
        usage.observe(&denied, &PrivilegedRoles::default());

        let rows = review(&[holding(alice, "billing", now - 90 * DAY)], &usage, now, 30 * DAY);

        assert_eq!(rows[0].last_used, None);
        assert!(rows[0].revoke_candidate);
    }

    #[test]
    fn admin_action_exercises_admin_role() {
        let now = datetime!(2026-06-30 12:00 UTC);
        let admin = Uuid::new_v4();
        let mut usage = Usage::default();
        let grant = record("role.granted", admin, now - 3 * DAY, Outcome::Success, json!({}));
        let login = record("auth.login.succeeded", admin, now - DAY, Outcome::Success, json!({}));
        let privileged = PrivilegedRoles {
            admin: vec!["admin".to_string()],
            ..PrivilegedRoles::default()
        };
        usage.observe(&grant, &privileged);
        usage.observe(&login, &privileged);

        let rows = review(&[holding(admin, "admin", now - 90 * DAY)], &usage, now, 30 * DAY);

        assert_eq!(rows[0].last_used, Some(now - 3 * DAY));
        assert!(!rows[0].revoke_candidate);
    }

    #[test]
    fn access_decisions_exercise_approver_roles() {
        let now = datetime!(2026-06-30 12:00 UTC);
        let (lead, reviewer, requester) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let privileged = PrivilegedRoles {
            admin: vec!["admin".to_string()],
            approvers: HashMap::from([("oncall-dba".to_string(), "dba-leads".to_string())]),
            reviewers: "security".to_string(),
        };
        let decision = |event_type: &str, actor: Uuid, days: u32| {
            let metadata = json!({"role": "oncall-dba", "requester_id": requester.to_string()});
            record(event_type, actor, now - days * DAY, Outcome::Success, metadata)
        };
        let mut usage = Usage::default();
        usage.observe(&decision("access.approved", lead, 9), &privileged);
        usage.observe(&decision("access.grant_revoked", lead, 4), &privileged);
        usage.observe(&decision("access.grant_revoked", requester, 1), &privileged);
        usage.observe(&record("break_glass.reviewed", reviewer, now - 2 * DAY, Outcome::Success, json!({})), &privileged);
        let holdings = [
            holding(lead, "dba-leads", now - 90 * DAY),
            holding(lead, "admin", now - 90 * DAY),
            holding(reviewer, "security", now - 90 * DAY),
            holding(requester, "dba-leads", now - 90 * DAY),
        ];

        let rows = review(&holdings, &usage, now, 30 * DAY);

        assert_eq!(usage.last_used(lead, "dba-leads"), Some(now - 4 * DAY));
        assert_eq!(usage.last_used(lead, "admin"), None, "a decision does not exercise the admin roles");
        assert_eq!(usage.last_used(reviewer, "security"), Some(now - 2 * DAY));
        assert_eq!(usage.last_used(requester, "dba-leads"), None, "revoking one's own request needs no role");
        assert_eq!(rows.iter().filter(|row| row.revoke_candidate).count(), 2, "{rows:?}");
    }

    #[test]
    fn newest_use_wins_in_any_order() {
        let now = datetime!(2026-06-30 12:00 UTC);
        let alice = Uuid::new_v4();
        let mut usage = Usage::default();
        for days in [10, 40, 5, 60] {
            let at = now - days * DAY;
            usage.observe(&record("statement", alice, at, Outcome::Success, json!({"roles_used": ["r"]})), &PrivilegedRoles::default());
        }

        let rows = review(&[holding(alice, "r", now - 90 * DAY)], &usage, now, 30 * DAY);

        assert_eq!(rows[0].last_used, Some(now - 5 * DAY));
    }
}
