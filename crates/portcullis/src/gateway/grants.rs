//! Temporary access grants at session start: the roles they add, the policy context
//! flags they set, and the grant ids the revocation watcher follows.

use portcullis_core::access::{AccessGrant, GrantSource};

/// Sources of a session's roles beyond the user's standing roles.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AccessVia {
    /// A just-in-time grant contributed a role.
    pub jit: bool,
    /// A break-glass grant contributed a role.
    pub break_glass: bool,
}

/// The grants in force for one session.
#[derive(Debug, Clone, Default)]
pub struct SessionGrants {
    /// Roles the grants add, without the ones the user already holds.
    pub roles: Vec<String>,
    /// Ids of the grants that apply on the target. The session depends on each of them.
    pub grant_ids: Vec<String>,
    /// Policy context flags.
    pub via: AccessVia,
}

impl SessionGrants {
    /// Selects the grants that apply on `target` and adds the roles the user does not
    /// already hold as standing roles.
    ///
    /// A grant for a role the user also holds as a standing role still sets its flag
    /// and makes the session depend on it. Otherwise a standing member of the
    /// emergency role who breaks the glass would get neither the policies that
    /// require `via_break_glass` nor the break-glass marks on the audit records.
    pub fn for_target(grants: &[AccessGrant], target: &str, standing: &[String]) -> SessionGrants {
        let mut session = SessionGrants::default();
        for grant in grants.iter().filter(|grant| grant.covers_target(target)) {
            let role = grant.role.to_string();
            match grant.source {
                GrantSource::Jit => session.via.jit = true,
                GrantSource::BreakGlass => session.via.break_glass = true,
            }
            session.grant_ids.push(grant.id.to_string());
            if !standing.contains(&role) && !session.roles.contains(&role) {
                session.roles.push(role);
            }
        }
        session
    }
}

#[cfg(test)]
mod tests {
    use portcullis_core::{GrantId, RoleId, RoleName, UserId};
    use time::OffsetDateTime;

    use super::*;

    fn grant(role: &str, source: GrantSource) -> AccessGrant {
        let now = OffsetDateTime::now_utc();
        AccessGrant {
            id: GrantId::new_random(),
            user_id: UserId::new_random(),
            role_id: RoleId::new_random(),
            role: RoleName::new(role).unwrap(),
            target: None,
            source,
            reason: "test".to_string(),
            starts_at: now,
            ends_at: now + time::Duration::hours(1),
            revoked_at: None,
            revoked_by: None,
            request_id: None,
        }
    }

    #[test]
    fn break_glass_on_standing_role_sets_flag() {
        let grants = [grant("emergency", GrantSource::BreakGlass)];
        let session = SessionGrants::for_target(&grants, "ehr", &["emergency".to_string()]);

        assert!(session.via.break_glass, "the break-glass flag is set");
        assert_eq!(session.grant_ids.len(), 1, "the session depends on the grant");
        assert!(session.roles.is_empty(), "the standing role is not added twice");
    }

    #[test]
    fn jit_grant_adds_missing_role() {
        let grants = [grant("dba", GrantSource::Jit)];
        let session = SessionGrants::for_target(&grants, "ehr", &[]);

        assert!(session.via.jit);
        assert!(!session.via.break_glass);
        assert_eq!(session.roles, ["dba"]);
    }
}
