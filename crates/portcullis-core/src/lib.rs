//! Domain types and pure logic of Portcullis: identities, credentials, tokens and their
//! SCRAM keys, targets, lockout rules and encryption of secrets at rest. Nothing here
//! performs I/O beyond reading the system clock and the operating system's random
//! source; storage lives in `portcullis-store`.

pub mod access;
pub mod clock;
pub mod config;
pub mod ids;
pub mod keys;
pub mod lockout;
pub mod names;
pub mod password;
pub mod scram;
pub mod secret;
pub mod target;
pub mod token;
pub mod totp;
pub mod user;

pub use clock::{Clock, ManualClock, SystemClock};
pub use ids::{AccessRequestId, GrantId, ReviewId, RoleId, SessionId, TargetId, TokenId, UserId};
pub use keys::{KeyError, MasterKey};
pub use lockout::{AttemptDecision, FailureRecord, LockoutPolicy};
pub use names::{NameError, RoleName, TargetName, UserName};
pub use password::{PasswordError, PasswordHasher, PasswordParams};
pub use scram::ScramKeys;
pub use secret::SecretString;
pub use target::{Target, TargetTls};
pub use token::{TokenHash, TokenRecord, TokenState};
pub use totp::TotpSecret;
pub use user::{AccountKind, MfaState, Role, RoleGrant, User};
