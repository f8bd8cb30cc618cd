//! Errors that end or reject a client connection, grouped by who is at
//! fault, and the one place where each becomes a SQLSTATE and a message.
//!
//! Messages sent to the client never carry a token, password, statement
//! text, parameter or row value, nor the upstream host. Those details go to
//! the log (without secrets) or nowhere.

use std::time::Duration;

use bytes::BytesMut;

use crate::authority::{AuditUnavailable, AuthorityError};
use crate::codec::{DecodeError, ErrorReport, Severity, SqlState};
use crate::scram::ScramError;

/// Reason a connection ends before or during its session.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SessionError {
    /// The client broke the protocol or asked for something the gateway does not do.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// Authentication failed.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The client authenticated, but may not use the target.
    #[error(transparent)]
    NoAccess(#[from] NoAccess),
    /// A configured limit was reached.
    #[error(transparent)]
    Limit(#[from] LimitError),
    /// The upstream server could not be reached or failed.
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    /// The authority or the audit log could not be consulted, so the gateway fails closed.
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
    /// The session was ended on purpose.
    #[error(transparent)]
    Ended(#[from] Ending),
    /// The client connection failed or closed; nothing more can be sent.
    #[error("client connection lost: {0}")]
    ClientGone(std::io::Error),
    /// A gateway bug.
    #[error("internal error: {0}")]
    Internal(&'static str),
}

/// Faults of the client.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ClientError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("startup did not complete within {} seconds", .0.as_secs())]
    StartupTimeout(Duration),
    #[error("TLS is required; connect with sslmode=require")]
    TlsRequired,
    #[error("direct TLS connections must negotiate ALPN protocol \"postgresql\"")]
    DirectTlsWithoutAlpn,
    #[error("TLS handshake failed: {0}")]
    TlsHandshake(std::io::Error),
    #[error("encryption was already negotiated or declined; send the StartupMessage")]
    RepeatedEncryptionRequest,
    #[error("unexpected message type {got} {during}")]
    UnexpectedMessage {
        got: crate::codec::Tag,
        during: &'static str,
    },
    #[error("no user name specified in the startup packet")]
    MissingUser,
    #[error("{0}")]
    ParameterNotAllowed(String),
    #[error("{0}")]
    ParameterNotSupported(String),
    #[error("{0}")]
    Scram(#[from] ScramError),
}

/// Failed authentication or authorization. The message is the same for a
/// wrong token, an unknown or disabled user, an unknown target and a missing
/// grant, so that it does not reveal which users or targets exist.
#[derive(Debug, thiserror::Error)]
#[error("password authentication failed for user \"{user}\"")]
pub(crate) struct AuthError {
    pub(crate) user: String,
    /// The actual cause, for the audit log only.
    pub(crate) audit_reason: &'static str,
}

/// Authorization denied after the client proved its token. The message is
/// the same for an unknown target and a missing role or grant, so that it
/// does not reveal which targets exist.
#[derive(Debug, thiserror::Error)]
#[error("no access to target \"{target}\" for user \"{user}\"")]
pub(crate) struct NoAccess {
    pub(crate) user: String,
    pub(crate) target: String,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum LimitError {
    #[error("too many connections to the gateway (max_connections = {0})")]
    TooManyConnections(usize),
    #[error("too many connections for user \"{user}\" (max_connections_per_user = {max})")]
    TooManyUserConnections { user: String, max: usize },
}

/// Upstream failures, naming the target but not its address.
#[derive(Debug, thiserror::Error)]
pub(crate) enum UpstreamError {
    #[error("could not connect to target \"{target}\": {cause}")]
    Unreachable { target: String, cause: String },
    #[error("the gateway could not log in to target \"{target}\": {cause}")]
    Login { target: String, cause: String },
    #[error("connection to target \"{target}\" lost")]
    Lost { target: String },
    #[error("target \"{target}\" sent an invalid message: {cause}")]
    Protocol { target: String, cause: String },
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum Unavailable {
    #[error(transparent)]
    Authority(#[from] AuthorityError),
    #[error(transparent)]
    Audit(#[from] AuditUnavailable),
}

/// Deliberate ends of a session.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Ending {
    #[error("session idle for longer than {} minutes; reconnect", minutes(.0))]
    Idle(Duration),
    #[error("session idle in transaction for longer than {} minutes; the transaction was rolled back; reconnect", minutes(.0))]
    IdleInTransaction(Duration),
    #[error("token expired; get a new token with \"portcullis login\" and reconnect")]
    TokenExpired,
    #[error("session terminated by the gateway: {0}")]
    Terminated(String),
    #[error("client closed the connection")]
    ClientClosed,
}

fn minutes(duration: &Duration) -> String {
    let secs = duration.as_secs();
    if secs % 60 == 0 {
        (secs / 60).to_string()
    } else {
        format!("{:.1}", secs as f64 / 60.0)
    }
}

const AUTH_HINT: &str = "Check the user name, the target name (the database name) and the token; \
get a new token with \"portcullis login\".";

const NO_ACCESS_HINT: &str = "The token is valid, but none of your roles or grants permits this \
target now, or the target name is wrong. A temporary grant may have expired or been revoked: see \
\"portcullis request list\", or ask for access with \"portcullis request create\".";

impl SessionError {
    /// Returns the SQLSTATE sent to the client.
    pub(crate) fn sqlstate(&self) -> SqlState {
        match self {
            SessionError::Client(error) => match error {
                ClientError::Decode(decode) => decode.sqlstate(),
                ClientError::TlsRequired
                | ClientError::MissingUser
                | ClientError::ParameterNotAllowed(_) => {
                    SqlState::INVALID_AUTHORIZATION_SPECIFICATION
                }
                ClientError::ParameterNotSupported(_) => SqlState::FEATURE_NOT_SUPPORTED,
                ClientError::Scram(ScramError::ProofInvalid) => SqlState::INVALID_PASSWORD,
                _ => SqlState::PROTOCOL_VIOLATION,
            },
            SessionError::Auth(_) => SqlState::INVALID_PASSWORD,
            SessionError::NoAccess(_) => SqlState::INVALID_AUTHORIZATION_SPECIFICATION,
            SessionError::Limit(_) => SqlState::TOO_MANY_CONNECTIONS,
            SessionError::Upstream(
                UpstreamError::Unreachable { .. } | UpstreamError::Login { .. },
            ) => SqlState::SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION,
            SessionError::Upstream(_) => SqlState::CONNECTION_FAILURE,
            SessionError::Unavailable(_) => SqlState::CANNOT_CONNECT_NOW,
            SessionError::Ended(ending) => match ending {
                Ending::Idle(_) => SqlState::IDLE_SESSION_TIMEOUT,
                Ending::IdleInTransaction(_) => SqlState::IDLE_IN_TRANSACTION_SESSION_TIMEOUT,
                Ending::TokenExpired => SqlState::INVALID_AUTHORIZATION_SPECIFICATION,
                Ending::Terminated(_) | Ending::ClientClosed => SqlState::ADMIN_SHUTDOWN,
            },
            SessionError::ClientGone(_) => SqlState::CONNECTION_FAILURE,
            SessionError::Internal(_) => SqlState::INTERNAL_ERROR,
        }
    }

    /// Returns a hint with the next step for the user, where there is one.
    fn hint(&self) -> Option<&'static str> {
        match self {
            SessionError::Auth(_) => Some(AUTH_HINT),
            SessionError::NoAccess(_) => Some(NO_ACCESS_HINT),
            SessionError::Limit(_) => Some("Close other sessions or try again later."),
            SessionError::Unavailable(_) => {
                Some("The gateway fails closed; try again later or contact an administrator.")
            }
            SessionError::Upstream(UpstreamError::Login { .. }) => {
                Some("Ask an administrator to check the target's credentials in the gateway.")
            }
            _ => None,
        }
    }

    /// Returns the message sent to the client. Unavailability details stay in the log.
    fn client_message(&self) -> String {
        match self {
            SessionError::Unavailable(Unavailable::Authority(_)) => {
                "the gateway cannot check credentials right now".to_owned()
            }
            SessionError::Unavailable(Unavailable::Audit(_)) => {
                "the audit log is unavailable, so the gateway cannot open or continue the session"
                    .to_owned()
            }
            SessionError::Internal(_) => "internal gateway error; see the gateway log".to_owned(),
            other => other.to_string(),
        }
    }

    /// Returns whether a FATAL ErrorResponse can and should be sent.
    fn reportable(&self) -> bool {
        !matches!(
            self,
            SessionError::ClientGone(_) | SessionError::Ended(Ending::ClientClosed)
        ) && !matches!(self, SessionError::Client(ClientError::TlsHandshake(_)))
    }

    /// Appends the FATAL ErrorResponse for this error to `buf`, unless the
    /// connection is already unusable.
    pub(crate) fn encode_fatal(&self, buf: &mut BytesMut) {
        if !self.reportable() {
            return;
        }
        let message = self.client_message();
        let mut report = ErrorReport::new(Severity::Fatal, self.sqlstate(), &message);
        if let Some(hint) = self.hint() {
            report = report.with_hint(hint);
        }
        encode_report(&report, buf);
    }
}

/// Encodes a report the gateway built itself. Encoding fails only on a NUL
/// byte in the text, which [`sanitize`] removes from any text taken from input.
pub(crate) fn encode_report(report: &ErrorReport<'_>, buf: &mut BytesMut) {
    if let Err(error) = report.encode(buf) {
        tracing::error!(%error, "encoding an error report failed");
    }
}

/// Removes NUL bytes, which a protocol string cannot contain.
pub(crate) fn sanitize(text: &str) -> String {
    text.replace('\0', "")
}

impl From<std::io::Error> for SessionError {
    fn from(error: std::io::Error) -> Self {
        SessionError::ClientGone(error)
    }
}

impl From<DecodeError> for SessionError {
    fn from(error: DecodeError) -> Self {
        SessionError::Client(ClientError::Decode(error))
    }
}

impl From<AuthorityError> for SessionError {
    fn from(error: AuthorityError) -> Self {
        SessionError::Unavailable(Unavailable::Authority(error))
    }
}

impl From<AuditUnavailable> for SessionError {
    fn from(error: AuditUnavailable) -> Self {
        SessionError::Unavailable(Unavailable::Audit(error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_failures_share_one_message() {
        let error = SessionError::Auth(AuthError {
            user: "alice".into(),
            audit_reason: "unknown user",
        });
        assert_eq!(error.sqlstate(), SqlState::INVALID_PASSWORD);
        assert_eq!(
            error.client_message(),
            "password authentication failed for user \"alice\""
        );
    }

    #[test]
    fn idle_timeouts_use_postgres_codes() {
        let idle = SessionError::Ended(Ending::Idle(Duration::from_secs(900)));
        assert_eq!(idle.sqlstate(), SqlState::IDLE_SESSION_TIMEOUT);
        assert_eq!(
            idle.client_message(),
            "session idle for longer than 15 minutes; reconnect"
        );
        let in_tx = SessionError::Ended(Ending::IdleInTransaction(Duration::from_secs(90)));
        assert_eq!(
            in_tx.sqlstate(),
            SqlState::IDLE_IN_TRANSACTION_SESSION_TIMEOUT
        );
    }
}
