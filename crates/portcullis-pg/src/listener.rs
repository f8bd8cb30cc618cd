//! The accept loop: connection limits, one task per connection, shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rand::RngCore;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tracing::Instrument;

use crate::authority::Authority;
use crate::config::{ListenerConfig, PlaintextPolicy};
use crate::registry::SessionRegistry;
use crate::session::{self, Context};

/// Connections beyond `max_connections` that are still served, only to
/// receive FATAL 53300 after startup. Beyond these, sockets are closed at once.
const MAX_REJECTING: usize = 64;

/// Pause after a failed accept (such as too many open files), so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// An invalid [`ListenerConfig`].
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// No TLS configuration, and plaintext is not allowed.
    #[error("no TLS configuration is set and plaintext is rejected; set a TLS certificate or allow plaintext on loopback")]
    NoTls,
    /// A limit is zero.
    #[error("limit {0} must be greater than zero")]
    ZeroLimit(&'static str),
}

/// The PostgreSQL front end of the gateway.
///
/// ```no_run
/// # async fn example(config: portcullis_pg::ListenerConfig, authority: std::sync::Arc<dyn portcullis_pg::Authority>) -> Result<(), Box<dyn std::error::Error>> {
/// let gateway = portcullis_pg::PgGateway::new(config, authority)?;
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:6432").await?;
/// let registry = gateway.registry();
/// gateway.serve(listener, tokio::signal::ctrl_c().map(|_| ())).await;
/// registry.terminate_all("the gateway is shutting down");
/// # Ok(()) }
/// # use futures::FutureExt;
/// ```
pub struct PgGateway {
    config: Arc<ListenerConfig>,
    authority: Arc<dyn Authority>,
    registry: Arc<SessionRegistry>,
    mock_secret: [u8; 32],
    connections: Arc<Semaphore>,
    rejecting: Arc<Semaphore>,
}

impl PgGateway {
    /// Checks the configuration and creates the gateway.
    pub fn new(config: ListenerConfig, authority: Arc<dyn Authority>) -> Result<Self, ConfigError> {
        if config.tls.is_none() && config.plaintext == PlaintextPolicy::Reject {
            return Err(ConfigError::NoTls);
        }
        let limits = &config.limits;
        for (name, value) in [
            ("max_message_size", limits.max_message_size),
            ("max_connections", limits.max_connections),
            ("max_connections_per_user", limits.max_connections_per_user),
            ("max_prepared_statements", limits.max_prepared_statements),
        ] {
            if value == 0 {
                return Err(ConfigError::ZeroLimit(name));
            }
        }
        let mut mock_secret = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut mock_secret);
        Ok(Self {
            connections: Arc::new(Semaphore::new(limits.max_connections)),
            rejecting: Arc::new(Semaphore::new(MAX_REJECTING)),
            config: Arc::new(config),
            authority,
            registry: SessionRegistry::new(),
            mock_secret,
        })
    }

    /// Returns the registry of live sessions, for termination from outside.
    pub fn registry(&self) -> Arc<SessionRegistry> {
        Arc::clone(&self.registry)
    }

    /// Accepts connections until `shutdown` completes. Live sessions go on;
    /// end them with [`SessionRegistry::terminate_all`].
    pub async fn serve(&self, listener: TcpListener, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => {
                    tracing::info!("PostgreSQL listener stopped accepting connections");
                    return;
                }
                accepted = listener.accept() => match accepted {
                    Ok((tcp, peer)) => self.spawn(tcp, peer),
                    Err(error) => {
                        tracing::warn!(%error, "accepting a connection failed");
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                    }
                },
            }
        }
    }

    fn spawn(&self, tcp: TcpStream, peer: SocketAddr) {
        let (permit, over_limit) = match Arc::clone(&self.connections).try_acquire_owned() {
            Ok(permit) => (permit, false),
            Err(_) => match Arc::clone(&self.rejecting).try_acquire_owned() {
                Ok(permit) => (permit, true),
                Err(_) => {
                    tracing::warn!(client = %peer, "connection closed: max_connections reached and too many connections waiting for rejection");
                    return;
                }
            },
        };
        let context = Context {
            config: Arc::clone(&self.config),
            authority: Arc::clone(&self.authority),
            registry: Arc::clone(&self.registry),
            mock_secret: self.mock_secret,
            peer,
            startup_deadline: Instant::now() + self.config.limits.startup_timeout,
        };
        // The session fields are recorded once the session is authorized.
        let span = tracing::info_span!(
            "pg_connection",
            client = %peer,
            session = tracing::field::Empty,
            user = tracing::field::Empty,
            target = tracing::field::Empty,
        );
        tokio::spawn(
            async move {
                session::serve(tcp, context, over_limit).await;
                drop(permit);
            }
            .instrument(span),
        );
    }
}
