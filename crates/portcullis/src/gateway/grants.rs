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
    /// Ids of the grants that added a role; the session depends on each of them.
    pub grant_ids: Vec<String>,
    /// Policy context flags.
    pub via: AccessVia,
}

impl SessionGrants {
    /// Selects the grants that apply on `target` and adds the roles the user does not
    /// already hold as standing roles.
    pub fn for_target(grants: &[AccessGrant], target: &str, standing: &[String]) -> SessionGrants {
        let mut session = SessionGrants::default();
        for grant in grants.iter().filter(|grant| grant.covers_target(target)) {
            let role = grant.role.to_string();
            if standing.contains(&role) {
                continue;
            }
            match grant.source {
                GrantSource::Jit => session.via.jit = true,
                GrantSource::BreakGlass => session.via.break_glass = true,
            }
            session.grant_ids.push(grant.id.to_string());
            if !session.roles.contains(&role) {
                session.roles.push(role);
            }
        }
        session
    }
}
