//! Errors of the account flows.
//!
//! Each error's `Display` text names the real cause for the audit log and the
//! operator. What a client may see comes from `client_message`, which never reveals
//! whether a user exists, is disabled, or typed the right password but the wrong code.

use std::time::Duration;

use portcullis_core::{PasswordError, UserId};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::error::StoreError;

/// Client message for every credential failure, whichever factor was wrong.
const INVALID_CREDENTIALS: &str = "sign-in failed: invalid user name, password or one-time code";
/// Client message for failures of the gateway itself.
const INTERNAL: &str =
    "sign-in is unavailable because of an internal error; contact an administrator";

/// Errors from administrative account operations.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// The store failed or rejected the change.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Hashing a password failed.
    #[error(transparent)]
    Password(#[from] PasswordError),
    /// A blocking task (password hashing) did not complete.
    #[error("password hashing task failed: {0}")]
    Task(String),
}

/// Reason a login was rejected. Record the `Display` text in the audit log and send
/// [`LoginError::client_message`] to the client.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Too many recent failures from the source address.
    #[error("login rejected: source address {key} is locked out until {}", rfc3339(*until))]
    AddressLocked {
        /// Failure key of the address, such as `addr:192.0.2.7`.
        key: String,
        /// End of the lockout.
        until: OffsetDateTime,
    },
    /// Too many recent failures for the user name.
    #[error("login rejected: user name {name:?} is locked out until {}", rfc3339(*until))]
    UserLocked {
        /// The user name.
        name: String,
        /// End of the lockout.
        until: OffsetDateTime,
    },
    /// No account has this name.
    #[error("login failed: no user named {name:?}")]
    UnknownUser {
        /// The name as given.
        name: String,
    },
    /// The name breaks the user naming rule, so no account can have it. The text is
    /// not kept because people sometimes type their password into the name field.
    #[error("login failed: the user name ({length} characters) is not a valid user name")]
    InvalidName {
        /// Length of the given name in characters.
        length: usize,
    },
    /// The password does not match.
    #[error("login failed for user {user}: wrong password")]
    WrongPassword {
        /// The account.
        user: UserId,
    },
    /// The account has no password set.
    #[error("login failed for user {user}: the account has no password")]
    NoPassword {
        /// The account.
        user: UserId,
    },
    /// The password matched but the account is disabled.
    #[error("login failed for user {user}: the account is disabled")]
    Disabled {
        /// The account.
        user: UserId,
    },
    /// The password matched but no second factor is enrolled.
    #[error("login failed for user {user}: no MFA enrolled")]
    MfaNotEnrolled {
        /// The account.
        user: UserId,
    },
    /// The TOTP code matches no step in the skew window.
    #[error("login failed for user {user}: wrong TOTP code")]
    WrongTotp {
        /// The account.
        user: UserId,
    },
    /// The TOTP code matches a step that was already used, a possible replay.
    #[error("login failed for user {user}: TOTP code for step {step} was already used")]
    TotpReplayed {
        /// The account.
        user: UserId,
        /// The reused time step.
        step: u64,
    },
    /// The requested token lifetime is zero.
    #[error("login rejected: requested token lifetime {requested:?} is not positive")]
    InvalidLifetime {
        /// The requested lifetime.
        requested: Duration,
    },
    /// The stored TOTP secret cannot be opened (wrong master key or damaged row).
    #[error("login failed for user {user}: the stored TOTP secret cannot be read: {detail}")]
    TotpSecretUnreadable {
        /// The account.
        user: UserId,
        /// Cause.
        detail: String,
    },
    /// The stored password hash is unusable.
    #[error("login failed for user {user}: {source}")]
    PasswordHash {
        /// The account.
        user: UserId,
        /// Cause.
        source: PasswordError,
    },
    /// Verifying the password could not complete.
    #[error("login failed: password verification task failed: {0}")]
    Task(String),
    /// Deriving the new token's SCRAM keys could not complete.
    #[error("login failed: the task deriving the token's SCRAM keys failed: {0}")]
    ScramTask(String),
    /// The store failed.
    #[error("login failed: {0}")]
    Store(#[from] StoreError),
}

impl LoginError {
    /// Returns the message for the client. It reveals only lockouts, a missing MFA
    /// enrollment (after a correct password) and internal failures.
    pub fn client_message(&self) -> String {
        match self {
            LoginError::AddressLocked { until, .. } | LoginError::UserLocked { until, .. } => {
                format!(
                    "too many failed sign-in attempts; try again after {}",
                    rfc3339(*until)
                )
            }
            LoginError::UnknownUser { .. }
            | LoginError::InvalidName { .. }
            | LoginError::WrongPassword { .. }
            | LoginError::NoPassword { .. }
            | LoginError::Disabled { .. }
            | LoginError::WrongTotp { .. }
            | LoginError::TotpReplayed { .. } => INVALID_CREDENTIALS.to_owned(),
            LoginError::MfaNotEnrolled { .. } => {
                "MFA is mandatory for every account with access to ePHI; \
                 ask an administrator to reset this account's MFA enrollment"
                    .to_owned()
            }
            LoginError::InvalidLifetime { .. } => {
                "the requested token lifetime must be positive".to_owned()
            }
            LoginError::TotpSecretUnreadable { .. }
            | LoginError::PasswordHash { .. }
            | LoginError::Task(_)
            | LoginError::ScramTask(_)
            | LoginError::Store(_) => INTERNAL.to_owned(),
        }
    }

    /// Returns whether the failure counts towards lockout of the user name and address.
    pub(crate) fn counts_as_failure(&self) -> bool {
        matches!(
            self,
            LoginError::UnknownUser { .. }
                | LoginError::InvalidName { .. }
                | LoginError::WrongPassword { .. }
                | LoginError::NoPassword { .. }
                | LoginError::Disabled { .. }
                | LoginError::WrongTotp { .. }
                | LoginError::TotpReplayed { .. }
        )
    }
}

/// Reason a presented token was rejected.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The text is not a Portcullis token.
    #[error("token rejected: malformed")]
    Malformed,
    /// No token has this hash.
    #[error("token rejected: unknown")]
    Unknown,
    /// The token expired.
    #[error("token rejected: expired at {}", rfc3339(*.0))]
    Expired(OffsetDateTime),
    /// The token was revoked.
    #[error("token rejected: revoked at {}", rfc3339(*.0))]
    Revoked(OffsetDateTime),
    /// The owner is disabled.
    #[error("token rejected: user {0} is disabled")]
    UserDisabled(UserId),
    /// The token belongs to another user than the one named by the client.
    #[error("token rejected: it belongs to user {owner}, not to the user named {name:?}")]
    WrongUser {
        /// The name the client gave, cut to
        /// [`MAX_NAME_LEN`](portcullis_core::names::MAX_NAME_LEN) characters.
        name: String,
        /// The token's owner.
        owner: UserId,
    },
    /// The owner no longer exists, which points at a damaged store.
    #[error("token rejected: user {0} not found")]
    UserMissing(UserId),
    /// The store failed.
    #[error("token check failed: {0}")]
    Store(#[from] StoreError),
}

impl TokenError {
    /// Returns the message for the client.
    pub fn client_message(&self) -> &'static str {
        match self {
            TokenError::Store(_) | TokenError::UserMissing(_) => {
                "token check is unavailable because of an internal error; contact an administrator"
            }
            _ => "invalid, expired or revoked token; sign in again with `portcullis login`",
        }
    }
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_else(|_| at.to_string())
}
