//! Settings of the PostgreSQL listener.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

/// Client authentication method for gateway tokens.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthMethod {
    /// `scram`: SCRAM-SHA-256, and SCRAM-SHA-256-PLUS (channel binding) on TLS.
    /// The token never crosses the network.
    #[default]
    Scram,
    /// `password`: on TLS connections the client sends the token in
    /// cleartext inside TLS, for clients without SCRAM or authorities that
    /// keep no SCRAM verifiers. Plaintext loopback connections still use SCRAM.
    Password,
}

/// Whether a client may connect without TLS.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PlaintextPolicy {
    /// `reject`: every connection must use TLS.
    #[default]
    Reject,
    /// `allow-loopback`: plaintext is accepted from 127.0.0.0/8 and ::1 only.
    AllowLoopback,
}

/// Limits of the listener and its sessions.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest client message, in bytes of the length field (which counts
    /// itself). Larger messages end the connection with FATAL 54000. Messages
    /// the gateway inspects are buffered whole, so this also bounds the
    /// buffer of one session. Rows and COPY data from the target stream
    /// through whatever their size, except in a masked row result or a
    /// masked or capped COPY result. Each of their rows is buffered whole,
    /// and a larger one fails the statement with ERROR 54000.
    pub max_message_size: usize,
    /// Time allowed from accepting the connection to the end of authentication.
    pub startup_timeout: Duration,
    /// Open client connections, including those still authenticating.
    pub max_connections: usize,
    /// Open sessions of one user.
    pub max_connections_per_user: usize,
    /// Time allowed to connect and log in to a target.
    pub upstream_connect_timeout: Duration,
    /// Idle time after which a session ends, unless its target sets its own.
    pub idle_timeout: Duration,
    /// Named prepared statements plus named portals tracked per session.
    pub max_prepared_statements: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_message_size: 64 * 1024 * 1024,
            startup_timeout: Duration::from_secs(60),
            max_connections: 1000,
            max_connections_per_user: 50,
            upstream_connect_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(15 * 60),
            max_prepared_statements: 10_000,
        }
    }
}

/// Everything the listener needs besides the [`crate::Authority`].
#[derive(Clone)]
pub struct ListenerConfig {
    /// Server TLS configuration (rustls 0.23). The listener adds ALPN
    /// `postgresql`. `None` serves plaintext only, which requires
    /// [`PlaintextPolicy::AllowLoopback`].
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Plaintext connections.
    pub plaintext: PlaintextPolicy,
    /// Client authentication.
    pub auth_method: AuthMethod,
    /// Limits.
    pub limits: Limits,
    /// Iteration count of the mock SCRAM verifier used for unknown users;
    /// set it to the count the authority uses for real users.
    pub mock_scram_iterations: u32,
}

impl ListenerConfig {
    /// Creates a configuration that requires TLS, with default limits.
    pub fn new(tls: Arc<rustls::ServerConfig>) -> Self {
        Self {
            tls: Some(tls),
            plaintext: PlaintextPolicy::Reject,
            auth_method: AuthMethod::Scram,
            limits: Limits::default(),
            mock_scram_iterations: 4096,
        }
    }
}
