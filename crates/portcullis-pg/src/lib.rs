//! PostgreSQL front end of the Portcullis gateway.
//!
//! Clients connect with any PostgreSQL client: user = Portcullis user,
//! password = token, database = target name. The gateway negotiates TLS
//! (`startup`), authenticates the token with SCRAM (`scram`, `auth`),
//! requests a grant from the [`Authority`], connects upstream with credentials
//! only it holds (`upstream`), and relays the protocol byte-exact
//! (`relay`, `admit`, `responses`, `extended`), recording each
//! session and statement write-ahead through [`Authority::record`].
//! A [`StatementCheck`] may restrict a statement ([`Verdict::Restrict`]):
//! the relay then masks its result columns and caps its rows as the
//! [`Restrictions`] say (`filter`).
//!
//! Start with [`PgGateway`], a [`ListenerConfig`] and an [`Authority`].
//! [`codec`] is the pure wire codec the rest is built on.

pub mod codec;

mod admit;
mod auth;
mod authority;
mod cancel;
mod config;
mod error;
mod events;
mod extended;
mod filter;
mod listener;
mod params;
mod registry;
mod relay;
mod responses;
mod restriction;
mod scram;
mod session;
mod startup;
mod tls;
mod upstream;
mod wire;

pub use authority::{
    AllowAll, AuditUnavailable, Authority, AuthorityError, AuthorizeRequest, CheckOutcome, Denial,
    Evidence, MaskedColumnEvidence, ScramVerifiers, SessionGrant, SessionId, SessionIdentity, StatementCheck, StatementRequest,
    TlsInfo, TokenId, TokenVerifier, UpstreamTarget, UpstreamTls, Verdict,
};
pub use config::{AuthMethod, Limits, ListenerConfig, PlaintextPolicy};
pub use events::{Completion, EndReason, SessionEvent, StatementNumber, StatementText};
pub use listener::{ConfigError, PgGateway};
pub use registry::{SessionRegistry, SessionSummary};
pub use relay::relay_peak_buffered_bytes;
pub use restriction::{
    ColumnMask, CopyFormat, CopyOptions, MaskKey, MaskMethod, Restrictions, StatementRestriction,
};
