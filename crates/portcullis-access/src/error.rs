//! Errors of the access flows. Each message names the value that was rejected and
//! what to do next; none contains a token, password or TOTP code.

use std::time::Duration;

use portcullis_alert::AlertError;
use portcullis_audit::AuditError;
use portcullis_core::access::RequestState;
use portcullis_core::{AccessRequestId, ReviewId};
use portcullis_store::accounts::{LoginError, TokenError};
use portcullis_store::StoreError;

use crate::text::TextField;

/// Class of an [`AccessError`], for callers such as the HTTP API that map it to a status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The caller could not be authenticated.
    Unauthenticated,
    /// The caller is authenticated but not allowed to do this.
    Forbidden,
    /// The named record does not exist.
    NotFound,
    /// The record is not in a state that allows the change.
    Conflict,
    /// The input is invalid.
    Invalid,
    /// The store, the audit log or the alert sinks failed.
    Unavailable,
}

/// Reason an access operation was rejected or failed.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    // The Token and Login messages contain their cause, so the cause is not also
    // a `#[source]`: error chains (anyhow's `{:#}`) would print it twice.
    #[error("authentication failed: {0}; log in again with `portcullis login`")]
    Token(TokenError),
    /// The message is the one remote clients get. It names neither the user's id
    /// nor the factor that was wrong, because the audit record has the details.
    #[error("{}", .0.client_message())]
    Login(LoginError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("writing the audit record failed, so nothing was changed: {0}")]
    Audit(#[from] AuditError),
    #[error("raising the alert failed: {0}")]
    Alert(#[from] AlertError),
    #[error("role {role} cannot be requested: it has no [access.roles.{role}] section in the configuration")]
    NotRequestable { role: String },
    #[error("role {role} does not exist; create it with `portcullis role add {role}`")]
    UnknownRole { role: String },
    #[error("requested duration {} for role {role} exceeds its maximum of {}; ask for {} or less", human(*requested), human(*max), human(*max))]
    DurationTooLong { role: String, requested: Duration, max: Duration },
    #[error("the duration must be positive, such as \"30m\"")]
    ZeroDuration,
    #[error("a reason is required: say why the access is needed")]
    MissingReason,
    #[error("review notes are required: record what was found")]
    MissingNotes,
    #[error("the {field} is {length} characters long, over the limit of {max}; shorten it and refer to longer details, such as a ticket number")]
    TextTooLong { field: TextField, length: usize, max: usize },
    #[error("the {field} contains the control character U+{code:04X} at character {position}; use a single line of printable text")]
    ControlCharacter { field: TextField, position: usize, code: u32 },
    #[error("target {target} does not exist; `portcullis target list` shows the targets")]
    UnknownTarget { target: String },
    #[error("access request {0} not found; `portcullis request list` shows the requests you may see")]
    RequestNotFound(AccessRequestId),
    #[error("access request {id} is {state}, not pending, so it cannot be decided")]
    NotPending { id: AccessRequestId, state: RequestState },
    #[error("access request {id} is {state}; only a pending or approved request can be revoked")]
    NotRevocable { id: AccessRequestId, state: RequestState },
    #[error("user {user} requested access request {id} and cannot approve or deny it; another approver must decide")]
    SelfApproval { id: AccessRequestId, user: String },
    #[error("user {user} already decided on access request {id}")]
    AlreadyDecided { id: AccessRequestId, user: String },
    #[error("user {user} does not hold role {approvers}, which approves requests for role {role}")]
    NotApprover { user: String, role: String, approvers: String },
    #[error("user {user} passed MFA {} ago, but approving needs MFA within {}; log in again with `portcullis login`", human(*age), human(*max))]
    MfaTooOld { user: String, age: Duration, max: Duration },
    #[error("user {user} may not revoke access request {id}: only the requester or an approver of role {role} may")]
    NotPermittedToRevoke { id: AccessRequestId, user: String, role: String },
    #[error("break-glass is not configured: set [break_glass] role and entitlement")]
    BreakGlassDisabled,
    #[error("user {user} does not hold role {entitlement}, which break-glass requires")]
    NotEntitled { user: String, entitlement: String },
    #[error("break-glass grants role {configured}, not {requested}; omit --role or name {configured}")]
    WrongBreakGlassRole { requested: String, configured: String },
    #[error("break-glass review {0} not found; `portcullis access report` lists the open reviews")]
    ReviewNotFound(ReviewId),
    #[error("break-glass review {0} is already closed")]
    ReviewClosed(ReviewId),
    #[error("user {user} broke the glass in review {id} and cannot review it; another member of role {reviewers} must")]
    SelfReview { id: ReviewId, user: String, reviewers: String },
    #[error("user {user} does not hold role {reviewers}, which closes break-glass reviews")]
    NotReviewer { user: String, reviewers: String },
}

impl AccessError {
    /// Classifies the error for callers that map it to a status code.
    pub fn kind(&self) -> ErrorKind {
        match self {
            AccessError::Token(TokenError::Store(_)) => ErrorKind::Unavailable,
            AccessError::Token(_) => ErrorKind::Unauthenticated,
            AccessError::Login(LoginError::Store(_)) => ErrorKind::Unavailable,
            AccessError::Login(_) => ErrorKind::Unauthenticated,
            AccessError::Store(StoreError::NotFound { .. }) => ErrorKind::NotFound,
            AccessError::Store(_) | AccessError::Audit(_) | AccessError::Alert(_) => ErrorKind::Unavailable,
            AccessError::NotRequestable { .. }
            | AccessError::UnknownRole { .. }
            | AccessError::DurationTooLong { .. }
            | AccessError::ZeroDuration
            | AccessError::MissingReason
            | AccessError::MissingNotes
            | AccessError::TextTooLong { .. }
            | AccessError::ControlCharacter { .. }
            | AccessError::UnknownTarget { .. }
            | AccessError::WrongBreakGlassRole { .. } => ErrorKind::Invalid,
            AccessError::RequestNotFound(_) | AccessError::ReviewNotFound(_) => ErrorKind::NotFound,
            AccessError::NotPending { .. }
            | AccessError::NotRevocable { .. }
            | AccessError::AlreadyDecided { .. }
            | AccessError::ReviewClosed(_) => ErrorKind::Conflict,
            AccessError::SelfApproval { .. }
            | AccessError::NotApprover { .. }
            | AccessError::MfaTooOld { .. }
            | AccessError::NotPermittedToRevoke { .. }
            | AccessError::BreakGlassDisabled
            | AccessError::NotEntitled { .. }
            | AccessError::SelfReview { .. }
            | AccessError::NotReviewer { .. } => ErrorKind::Forbidden,
        }
    }

    /// Returns the text to show a remote client: the message, except that login and
    /// token failures use the generic texts that do not reveal which factor was wrong.
    pub fn client_message(&self) -> String {
        match self {
            AccessError::Token(error) => error.client_message().to_string(),
            AccessError::Login(error) => error.client_message(),
            AccessError::Store(_) | AccessError::Audit(_) | AccessError::Alert(_) => {
                "the gateway cannot complete the change because of an internal error; contact an administrator".to_string()
            }
            other => other.to_string(),
        }
    }
}

/// Formats a duration for messages, such as `1h 30m`.
pub(crate) fn human(duration: Duration) -> String {
    humantime::format_duration(Duration::from_secs(duration.as_secs())).to_string()
}
