//! Audit events of the PostgreSQL front end, passed to [`crate::Authority::record`].

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;

use crate::authority::{Evidence, SessionId, SessionIdentity, TlsInfo, Verdict};

/// Number of a statement within its session, linking completion to statement.
pub type StatementNumber = u64;

/// Text of a recorded statement.
#[derive(Clone)]
pub enum StatementText {
    /// Simple-protocol query text.
    Simple(String),
    /// Prepared statement text and bind parameters (`None` is NULL), in the
    /// formats the client declared.
    Prepared {
        /// Statement text.
        text: String,
        /// Parameter values as sent.
        parameters: Vec<Option<Bytes>>,
        /// Parameter format codes as sent in Bind (0 text, 1 binary).
        formats: Vec<i16>,
    },
}

/// Shows lengths only, because statement text and parameters may hold ePHI.
impl fmt::Debug for StatementText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StatementText::Simple(text) => write!(f, "Simple(<{} bytes>)", text.len()),
            StatementText::Prepared {
                text, parameters, ..
            } => {
                write!(
                    f,
                    "Prepared(<{} bytes>, {} parameters)",
                    text.len(),
                    parameters.len()
                )
            }
        }
    }
}

/// Outcome of a statement, or of one result of a multi-statement query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Completion {
    /// CommandComplete, with the row count parsed from the command tag where it has one.
    Command {
        /// Command tag, such as `SELECT 3`.
        tag: String,
        /// Rows affected or returned.
        rows: Option<u64>,
    },
    /// EmptyQueryResponse.
    Empty,
    /// ErrorResponse with this SQLSTATE.
    Error {
        /// SQLSTATE code.
        sqlstate: String,
    },
}

/// Reason a session ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// The client sent Terminate or closed the connection.
    ClientClosed,
    /// No client message for longer than the idle timeout.
    IdleTimeout,
    /// The token expired.
    TokenExpired,
    /// Ended through the session registry, with the operator's reason.
    Terminated(String),
    /// The upstream connection failed or closed.
    UpstreamLost,
    /// The client violated the protocol or a limit, or an internal error occurred.
    Error(String),
}

/// Audit events of the PostgreSQL front end.
#[derive(Clone, Debug)]
pub enum SessionEvent {
    /// Authorized, about to connect upstream.
    SessionStarted {
        /// Session id.
        session: SessionId,
        /// Who.
        identity: SessionIdentity,
        /// Target name.
        target: String,
        /// Client address.
        client_addr: SocketAddr,
        /// TLS parameters, `None` on plaintext loopback.
        tls: Option<TlsInfo>,
    },
    /// The session ended.
    SessionEnded {
        /// Session id.
        session: SessionId,
        /// Why.
        reason: EndReason,
    },
    /// Authentication or authorization failed.
    AuthenticationFailed {
        /// User name as the client sent it.
        user: String,
        /// Target name as the client sent it.
        target: String,
        /// Client address.
        client_addr: SocketAddr,
        /// Reason, for the audit log only.
        reason: String,
    },
    /// A statement, recorded before it is forwarded (or denied).
    Statement {
        /// Session id.
        session: SessionId,
        /// Statement number within the session.
        statement: StatementNumber,
        /// Text and parameters.
        text: StatementText,
        /// The decision of the session's [`StatementCheck`].
        verdict: Verdict,
        /// Evidence of the decision, when the check keeps any. For an Execute
        /// it is the evidence of the statement's Parse.
        evidence: Option<Arc<Evidence>>,
    },
    /// A statement, or one result of a multi-statement query, completed.
    StatementCompleted {
        /// Session id.
        session: SessionId,
        /// Statement number within the session.
        statement: StatementNumber,
        /// Outcome.
        completion: Completion,
    },
    /// A CancelRequest arrived.
    CancelRequested {
        /// Session whose key matched, `None` when none matched.
        session: Option<SessionId>,
        /// Address the CancelRequest came from.
        client_addr: SocketAddr,
        /// Whether it was forwarded upstream.
        forwarded: bool,
    },
}
