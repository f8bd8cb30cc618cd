//! Users, service accounts and roles.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ids::{RoleId, UserId};
use crate::names::{RoleName, UserName};

/// Whether an account belongs to a person or to a program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AccountKind {
    /// A person.
    Human,
    /// A program. Every service account names the person responsible for it, and the
    /// store only accepts an owner that exists, is human and is not disabled.
    Service {
        /// The responsible person.
        owner: UserId,
    },
}

impl AccountKind {
    /// Returns the owner of a service account, or `None` for a human.
    pub fn owner(&self) -> Option<UserId> {
        match self {
            AccountKind::Human => None,
            AccountKind::Service { owner } => Some(*owner),
        }
    }
}

/// Second-factor enrollment of an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum MfaState {
    /// No second factor, so the account cannot obtain a token.
    NotEnrolled,
    /// A TOTP secret is stored for the account.
    Totp {
        /// Time the current secret was created.
        #[serde(with = "time::serde::rfc3339")]
        enrolled_at: OffsetDateTime,
    },
}

impl MfaState {
    /// Returns whether a second factor is enrolled.
    pub fn is_enrolled(&self) -> bool {
        !matches!(self, MfaState::NotEnrolled)
    }
}

/// A user or service account as stored, without credentials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// Identifier.
    pub id: UserId,
    /// Unique login name.
    pub name: UserName,
    /// Person or program.
    #[serde(flatten)]
    pub kind: AccountKind,
    /// Name shown to people, such as "Gregory House".
    pub display_name: String,
    /// Department, an attribute for attribute-based policies.
    pub department: Option<String>,
    /// Job role (for example "attending physician"), an attribute for policies.
    pub job_role: Option<String>,
    /// Disabled accounts cannot log in, and disabling revokes their tokens.
    pub disabled: bool,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Second-factor enrollment.
    pub mfa: MfaState,
}

/// A named set of permissions that policies refer to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    /// Identifier.
    pub id: RoleId,
    /// Unique name.
    pub name: RoleName,
    /// Purpose of the role, for people reviewing access.
    pub description: String,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// One user's membership in one role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleGrant {
    /// Member.
    pub user_id: UserId,
    /// Role.
    pub role_id: RoleId,
    /// Administrator who granted the role.
    pub granted_by: UserId,
    /// Time of the grant.
    #[serde(with = "time::serde::rfc3339")]
    pub granted_at: OffsetDateTime,
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn service_user_serializes_with_owner() {
        let owner = UserId::new_random();
        let user = User {
            id: UserId::new_random(),
            name: UserName::new("etl").expect("valid name"),
            kind: AccountKind::Service { owner },
            display_name: "Nightly ETL".to_owned(),
            department: None,
            job_role: None,
            disabled: false,
            created_at: datetime!(2024-01-01 00:00 UTC),
            mfa: MfaState::Totp {
                enrolled_at: datetime!(2024-01-01 00:00 UTC),
            },
        };

        let json = serde_json::to_value(&user).expect("serialize");
        assert_eq!(json["kind"], "service");
        assert_eq!(json["owner"], owner.to_string());
        assert_eq!(json["mfa"]["method"], "totp");
        assert_eq!(json["created_at"], "2024-01-01T00:00:00Z");

        let back: User = serde_json::from_value(json).expect("deserialize");
        assert_eq!(back, user);
    }
}
