//! Identifiers of users, sessions, tokens, roles and targets.
//!
//! Each is a random (version 4) UUID wrapped in its own type, so a token id can never
//! be passed where a user id is expected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// Creates a new random identifier.
            pub fn new_random() -> Self {
                $name(Uuid::new_v4())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(text).map($name)
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                $name(id)
            }
        }
    };
}

uuid_id!(
    /// Identifier of a user or service account.
    UserId
);
uuid_id!(
    /// Identifier of one client connection or API session.
    SessionId
);
uuid_id!(
    /// Identifier of an issued access token (not the token itself).
    TokenId
);
uuid_id!(
    /// Identifier of a role.
    RoleId
);
uuid_id!(
    /// Identifier of a target database.
    TargetId
);
uuid_id!(
    /// Identifier of a temporary access grant (just-in-time or break-glass).
    GrantId
);
uuid_id!(
    /// Identifier of a just-in-time access request.
    AccessRequestId
);
uuid_id!(
    /// Identifier of a break-glass post-incident review.
    ReviewId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_display_round_trips() {
        let id = UserId::new_random();
        let parsed: UserId = id.to_string().parse().expect("parse displayed id");
        assert_eq!(parsed, id);
    }

    #[test]
    fn id_serializes_as_plain_string() {
        let id = TokenId(Uuid::nil());
        let json = serde_json::to_string(&id).expect("serialize");
        assert_eq!(json, "\"00000000-0000-0000-0000-000000000000\"");
    }
}
