//! The boundary between the PostgreSQL front end and the rest of Portcullis.
//!
//! The front end depends on neither the store nor the policy engine. The binary
//! implements [`Authority`] (tokens, targets, grants, the audit log) and
//! hands each session a [`StatementCheck`] for statement-level decisions.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;
use zeroize::Zeroizing;

pub use crate::events::SessionEvent;
use crate::restriction::Restrictions;
use crate::scram::hmac_sha256;

/// Decisions, grants and the audit log, as seen by the PostgreSQL front end.
#[async_trait]
pub trait Authority: Send + Sync + 'static {
    /// Returns the SCRAM verifiers of the user's live tokens, or `None` for an
    /// unknown or disabled user. For `None` the gateway runs SCRAM against a
    /// mock verifier, so neither timing nor messages reveal whether the user
    /// exists. Return stored verifiers rather than derive them per call, so a
    /// known user takes no longer than an unknown one.
    async fn scram_verifiers(&self, user: &str) -> Result<Option<ScramVerifiers>, AuthorityError>;

    /// Checks a token sent in cleartext (only with `AuthMethod::Password`
    /// over TLS) and returns its id, or `None` when it is not a live token of
    /// `user`. It should take as long for an unknown user as for a known one.
    async fn check_token(&self, user: &str, token: &str)
        -> Result<Option<TokenId>, AuthorityError>;

    /// Decides whether the authenticated token may open a session on the
    /// requested target, and returns how to reach it.
    async fn authorize(&self, request: AuthorizeRequest) -> Result<SessionGrant, Denial>;

    /// Appends an event to the audit log and returns once it is durable. An
    /// error makes the gateway deny the action the event describes.
    async fn record(&self, event: SessionEvent) -> Result<(), AuditUnavailable>;

    /// Appends an event that describes something already done, such as a
    /// statement's completion, without waiting for it to be durable: it is
    /// synced with the next [`record`](Self::record). An error still ends the
    /// session. The default waits, as `record` does.
    async fn record_unsynced(&self, event: SessionEvent) -> Result<(), AuditUnavailable> {
        self.record(event).await
    }
}

/// Opaque id of one gateway token, chosen by the authority.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TokenId(String);

impl TokenId {
    /// Wraps an id. It is recorded in the audit log, so it must not be the token itself.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// Returns the id text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenId({})", self.0)
    }
}

/// SCRAM-SHA-256 keys of one token (RFC 5802 section 3).
#[derive(Clone)]
pub struct TokenVerifier {
    /// Token the keys belong to.
    pub token_id: TokenId,
    /// `H(HMAC(SaltedPassword, "Client Key"))`.
    pub stored_key: [u8; 32],
    /// `HMAC(SaltedPassword, "Server Key")`.
    pub server_key: [u8; 32],
}

impl TokenVerifier {
    /// Derives the keys from the token text. Tokens must be printable ASCII,
    /// which SASLprep leaves unchanged, so no normalization is applied.
    pub fn derive(token_id: TokenId, token: &str, salt: &[u8], iterations: u32) -> Self {
        let salted = Zeroizing::new(salted_password(token.as_bytes(), salt, iterations));
        let client_key = Zeroizing::new(hmac_sha256(salted.as_slice(), b"Client Key"));
        let stored_key = <sha2::Sha256 as sha2::Digest>::digest(client_key.as_slice()).into();
        let server_key = hmac_sha256(salted.as_slice(), b"Server Key");
        Self {
            token_id,
            stored_key,
            server_key,
        }
    }
}

/// PBKDF2-HMAC-SHA-256 with one output block, the `Hi` function of RFC 5802.
fn salted_password(password: &[u8], salt: &[u8], iterations: u32) -> [u8; 32] {
    let mut first = salt.to_vec();
    first.extend_from_slice(&1u32.to_be_bytes());
    let mut previous = hmac_sha256(password, &first);
    let mut result = previous;
    for _ in 1..iterations {
        previous = hmac_sha256(password, &previous);
        for (out, byte) in result.iter_mut().zip(previous) {
            *out ^= byte;
        }
    }
    result
}

impl fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenVerifier")
            .field("token_id", &self.token_id)
            .finish_non_exhaustive()
    }
}

/// The verifiers of all live tokens of one user. They share one salt and
/// iteration count, because SCRAM sends those before the client proves
/// which token it holds.
#[derive(Clone, Debug)]
pub struct ScramVerifiers {
    /// Per-user salt.
    pub salt: Vec<u8>,
    /// PBKDF2 iteration count.
    pub iterations: u32,
    /// One entry per live token.
    pub tokens: Vec<TokenVerifier>,
}

/// The authority could not be consulted (for example, the store is down).
#[derive(Debug, Clone, thiserror::Error)]
#[error("authority unavailable: {0}")]
pub struct AuthorityError(pub String);

/// The audit log could not make an event durable.
#[derive(Debug, Clone, thiserror::Error)]
#[error("audit log unavailable: {0}")]
pub struct AuditUnavailable(pub String);

/// Unique id of one client session, also used in the upstream `application_name`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct SessionId(pub Uuid);

impl SessionId {
    pub(crate) fn random() -> Self {
        Self(Uuid::new_v4())
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// TLS parameters of a client connection, for the audit log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsInfo {
    /// Such as `TLSv1_3`.
    pub version: String,
    /// Such as `TLS13_AES_256_GCM_SHA384`.
    pub cipher: String,
}

/// Input of [`Authority::authorize`].
#[derive(Clone, Debug)]
pub struct AuthorizeRequest {
    /// User name from the startup packet.
    pub user: String,
    /// Token that authenticated the user.
    pub token: TokenId,
    /// Target name (the startup packet's `database`).
    pub target: String,
    /// Client address.
    pub client_addr: SocketAddr,
    /// TLS parameters, `None` on an allowed plaintext loopback connection.
    pub tls: Option<TlsInfo>,
}

/// Reason a session was not authorized. The client sees the same message for
/// every variant except [`Denial::Unavailable`], and the variant goes to the audit log.
#[derive(Clone, Debug, thiserror::Error)]
pub enum Denial {
    /// The target does not exist.
    #[error("unknown target")]
    UnknownTarget,
    /// The token expired or was revoked between authentication and authorization.
    #[error("token no longer valid")]
    TokenInvalid,
    /// The user is disabled.
    #[error("user disabled")]
    UserDisabled,
    /// No grant permits this user on this target.
    #[error("not permitted: {0}")]
    NotPermitted(String),
    /// The decision could not be made.
    #[error(transparent)]
    Unavailable(#[from] AuthorityError),
}

/// Address, credentials and settings of a target database.
#[derive(Clone)]
pub struct UpstreamTarget {
    /// Target name as clients use it.
    pub name: String,
    /// Host name or IP address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Database name on the server.
    pub database: String,
    /// Role the gateway logs in as.
    pub user: String,
    /// Password of that role, which only the gateway stores.
    pub password: Zeroizing<String>,
    /// Upstream TLS mode.
    pub tls: UpstreamTls,
    /// Idle timeout for this target, overriding `Limits::idle_timeout`.
    pub idle_timeout: Option<Duration>,
}

impl fmt::Debug for UpstreamTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpstreamTarget")
            .field("name", &self.name)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("database", &self.database)
            .field("user", &self.user)
            .field("tls", &self.tls)
            .field("idle_timeout", &self.idle_timeout)
            .finish_non_exhaustive()
    }
}

/// TLS to the target database, named after libpq's `sslmode` values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UpstreamTls {
    /// Plaintext.
    Disable,
    /// TLS without certificate verification (encryption only).
    Require,
    /// TLS with the certificate checked against the CA file and the host name.
    VerifyFull {
        /// PEM file with the CA certificates to trust.
        ca_file: PathBuf,
    },
}

/// Owner of a session.
#[derive(Clone, Debug)]
pub struct SessionIdentity {
    /// Stable user id, used by [`crate::SessionRegistry::terminate_user`].
    pub user_id: String,
    /// User name.
    pub user_name: String,
    /// Token that opened the session.
    pub token: TokenId,
    /// The session ends with a FATAL error at this instant.
    pub token_expires_at: Option<OffsetDateTime>,
    /// Ids of the temporary access grants whose roles the session was authorized
    /// with. The gateway's revocation watcher ends the session when one of them
    /// expires or is revoked.
    pub access_grants: Vec<String>,
    /// Whether one of those grants is a break-glass grant, so that the session's
    /// audit records are marked as emergency access.
    pub break_glass: bool,
}

/// A permitted session: identity, target and statement checks.
#[derive(Clone)]
pub struct SessionGrant {
    /// Owner of the session.
    pub identity: SessionIdentity,
    /// Target database.
    pub target: UpstreamTarget,
    /// Settings applied on the upstream connection in the startup packet,
    /// after the client's own (such as `statement_timeout`).
    pub upstream_settings: Vec<(String, String)>,
    /// Decides each statement before it is recorded and forwarded.
    pub statement_check: Arc<dyn StatementCheck>,
}

/// A statement that the client asks to run or prepare.
#[derive(Debug)]
pub enum StatementRequest<'a> {
    /// A simple-protocol Query, possibly several statements.
    Query {
        /// Query text.
        text: &'a str,
    },
    /// An extended-protocol Parse, checked before the statement is prepared upstream.
    Parse {
        /// Statement text.
        text: &'a str,
    },
    /// The first Execute of a portal.
    Execute {
        /// Text of the prepared statement the portal was bound from.
        text: &'a str,
        /// Number of bind parameters (values are in the audit event only).
        parameters: usize,
        /// Whether the gateway saw the Parse and Bind that made the portal, so
        /// the check already decided its statement. `false` for a statement made
        /// by SQL PREPARE or a cursor made by SQL DECLARE and then used through
        /// Bind or Execute messages: no restriction is attached to its results.
        checked: bool,
        /// Name of the prepared statement the portal was bound from (`""` for the
        /// unnamed one, and for a portal the gateway did not see bound).
        statement: &'a str,
        /// Name of the portal (`""` for the unnamed one).
        portal: &'a str,
    },
}

/// Outcome of a [`StatementCheck`].
#[derive(Clone, Debug)]
pub enum Verdict {
    /// Forward the statement.
    Allow,
    /// Forward the statement, and mask or cap its results as listed. A
    /// result that does not fit the conditions (another column count, a
    /// mask that does not apply to the column's type, too many rows) is
    /// withheld: the client gets an ErrorResponse instead of the rows.
    ///
    /// At Parse the conditions belong to the prepared statement and apply to
    /// every portal bound from it. At the first Execute of a portal they
    /// replace the Parse's; an Execute that is simply allowed keeps them.
    Restrict(Arc<Restrictions>),
    /// Reject with ErrorResponse 42501 and this reason, which the client sees.
    Deny {
        /// Reason shown to the client and recorded.
        reason: String,
    },
}

/// Evidence of a statement's decision, recorded in its audit record. The
/// relay passes it through untouched. It names policies, roles and columns,
/// never values.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Evidence {
    /// Ids of the policies that decided the statement.
    pub policy_ids: Vec<String>,
    /// Base columns whose values reach the client masked.
    pub masked_columns: Vec<MaskedColumnEvidence>,
    /// The principal's roles that the deciding permit policies name in their
    /// principal scope.
    pub roles_used: Vec<String>,
    /// SHA-256 (hex) of the policy set in force.
    pub policy_hash: String,
}

/// One masked column in [`Evidence`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MaskedColumnEvidence {
    /// `schema.table.column`.
    pub column: String,
    /// The masking method, such as `partial:4`.
    pub method: String,
}

/// A [`Verdict`] and the evidence it rests on.
#[derive(Clone, Debug)]
pub struct CheckOutcome {
    /// The relay's action on the statement.
    pub verdict: Verdict,
    /// Evidence for the audit record. `None` when the check keeps none,
    /// such as [`AllowAll`] or the Execute of a statement decided at Parse.
    pub evidence: Option<Arc<Evidence>>,
}

impl From<Verdict> for CheckOutcome {
    fn from(verdict: Verdict) -> Self {
        Self {
            verdict,
            evidence: None,
        }
    }
}

/// Per-statement decision hook. It must not block: it runs in the relay loop.
pub trait StatementCheck: Send + Sync + 'static {
    /// Decides one statement of the session.
    fn check(&self, session: SessionId, statement: &StatementRequest<'_>) -> CheckOutcome;
}

/// A [`StatementCheck`] that allows every statement.
#[derive(Debug, Default, Clone, Copy)]
pub struct AllowAll;

impl StatementCheck for AllowAll {
    fn check(&self, _session: SessionId, _statement: &StatementRequest<'_>) -> CheckOutcome {
        Verdict::Allow.into()
    }
}
