//! Validated names of users, roles and targets.
//!
//! User names double as PostgreSQL user names on the wire, so the rule keeps them
//! within PostgreSQL's identifier limit of 63 bytes (longer names are truncated) and
//! free of characters that need escaping in connection strings. A valid name has 1 to
//! 63 characters from lowercase ASCII letters, digits, `_`, `.` and `-`, and starts
//! with a letter. Role names follow the same rule. Target names, which clients send
//! as the PostgreSQL database name, follow it too but without `.`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Longest accepted name, in characters (all ASCII, so also bytes).
pub const MAX_NAME_LEN: usize = 63;

/// Part of the naming rule that a rejected name breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    /// The name is empty.
    Empty,
    /// The name has more than [`MAX_NAME_LEN`] characters.
    TooLong,
    /// The first character is not a lowercase letter.
    MustStartWithLetter,
    /// A character outside the allowed set appears.
    InvalidCharacter(char),
}

impl fmt::Display for NameRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameRule::Empty => write!(f, "the name is empty"),
            NameRule::TooLong => write!(f, "the name is longer than {MAX_NAME_LEN} characters"),
            NameRule::MustStartWithLetter => {
                write!(f, "the name must start with a lowercase letter")
            }
            NameRule::InvalidCharacter(c) => write!(f, "the character {c:?} is not allowed"),
        }
    }
}

/// A name that breaks the naming rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid {kind} name {value:?}: {rule}; use 1 to {MAX_NAME_LEN} characters from {allowed}, \
     starting with a letter"
)]
pub struct NameError {
    /// `"user"`, `"role"` or `"target"`.
    pub kind: &'static str,
    /// The allowed characters in words, for the message.
    pub allowed: &'static str,
    /// The rejected value, cut to [`MAX_NAME_LEN`] characters so a huge input stays a
    /// short message.
    pub value: String,
    /// The part of the rule the value breaks.
    pub rule: NameRule,
}

/// Characters of a user or role name.
struct AccountCharacters;
/// Characters of a target name.
struct TargetCharacters;

/// The character set of one kind of name.
trait CharacterSet {
    /// The set in words, for error messages.
    const DESCRIPTION: &'static str;
    /// Returns whether `c` may appear after the first letter.
    fn allows(c: char) -> bool;
}

impl CharacterSet for AccountCharacters {
    const DESCRIPTION: &'static str = "a-z, 0-9, `_`, `.` and `-`";

    fn allows(c: char) -> bool {
        c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-')
    }
}

impl CharacterSet for TargetCharacters {
    const DESCRIPTION: &'static str = "a-z, 0-9, `_` and `-`";

    fn allows(c: char) -> bool {
        c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-')
    }
}

fn validate<C: CharacterSet>(kind: &'static str, value: &str) -> Result<(), NameError> {
    let error = |rule| NameError {
        kind,
        allowed: C::DESCRIPTION,
        value: value.chars().take(MAX_NAME_LEN).collect(),
        rule,
    };

    let Some(first) = value.chars().next() else {
        return Err(error(NameRule::Empty));
    };
    if value.chars().count() > MAX_NAME_LEN {
        return Err(error(NameRule::TooLong));
    }
    if !first.is_ascii_lowercase() {
        return Err(error(NameRule::MustStartWithLetter));
    }
    match value.chars().find(|c| !C::allows(*c)) {
        Some(c) => Err(error(NameRule::InvalidCharacter(c))),
        None => Ok(()),
    }
}

macro_rules! validated_name {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $characters:ty) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Validates `value` against the naming rule.
            pub fn new(value: &str) -> Result<Self, NameError> {
                validate::<$characters>($kind, value)?;
                Ok($name(value.to_owned()))
            }

            /// Returns the name as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = NameError;

            fn try_from(value: String) -> Result<Self, Self::Error> {
                validate::<$characters>($kind, &value)?;
                Ok($name(value))
            }
        }

        impl From<$name> for String {
            fn from(name: $name) -> String {
                name.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

validated_name!(
    /// Name of a user or service account; also its PostgreSQL user name at the gateway.
    UserName,
    "user",
    AccountCharacters
);
validated_name!(
    /// Name of a role.
    RoleName,
    "role",
    AccountCharacters
);
validated_name!(
    /// Name of a target database; clients send it as the PostgreSQL database name.
    TargetName,
    "target",
    TargetCharacters
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_name_accepts_valid_names() {
        for name in [
            "a",
            "alice",
            "dr.house",
            "svc-etl_2",
            &"a".repeat(MAX_NAME_LEN),
        ] {
            assert!(UserName::new(name).is_ok(), "{name:?} should be valid");
        }
    }

    #[test]
    fn user_name_rejects_each_rule() {
        let cases = [
            ("", NameRule::Empty),
            ("Alice", NameRule::MustStartWithLetter),
            ("1alice", NameRule::MustStartWithLetter),
            ("_alice", NameRule::MustStartWithLetter),
            ("alice smith", NameRule::InvalidCharacter(' ')),
            ("alice@example", NameRule::InvalidCharacter('@')),
            ("aliCe", NameRule::InvalidCharacter('C')),
            ("alicé", NameRule::InvalidCharacter('é')),
            ("bob\"; drop", NameRule::InvalidCharacter('"')),
        ];
        for (value, rule) in cases {
            let error = UserName::new(value).expect_err(value);
            assert_eq!(error.rule, rule, "{value:?}");
        }
        let long = "a".repeat(MAX_NAME_LEN + 1);
        assert_eq!(
            UserName::new(&long).expect_err("too long").rule,
            NameRule::TooLong
        );
    }

    #[test]
    fn name_error_names_value_and_rule() {
        let message = UserName::new("Alice").expect_err("uppercase").to_string();
        assert!(message.contains("\"Alice\""), "{message}");
        assert!(
            message.contains("start with a lowercase letter"),
            "{message}"
        );
        assert!(message.starts_with("invalid user name"), "{message}");
    }

    #[test]
    fn name_error_cuts_long_values() {
        let error = RoleName::new(&"x".repeat(10_000)).expect_err("too long");
        assert_eq!(error.value.len(), MAX_NAME_LEN);
        assert_eq!(error.kind, "role");
    }

    #[test]
    fn target_name_rejects_dot() {
        assert!(TargetName::new("ehr-prod_2").is_ok());
        let error = TargetName::new("ehr.prod").expect_err("dot");
        assert_eq!(error.rule, NameRule::InvalidCharacter('.'));
        let message = error.to_string();
        assert!(message.starts_with("invalid target name"), "{message}");
        assert!(message.contains("a-z, 0-9, `_` and `-`"), "{message}");
    }

    #[test]
    fn user_name_deserialization_validates() {
        let ok: UserName = serde_json::from_str("\"alice\"").expect("valid");
        assert_eq!(ok.as_str(), "alice");
        assert!(serde_json::from_str::<UserName>("\"Alice\"").is_err());
    }
}
