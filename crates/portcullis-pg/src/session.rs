//! One client connection from accept to close:
//! negotiate → authenticate → authorize → register → connect upstream → relay.
//! Each step consumes the previous step's value, so no step can run early.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use time::OffsetDateTime;
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::auth::{self, Authorized};
use crate::authority::{Authority, SessionId};
use crate::codec::{BackendKeyData, ProtocolVersion, TransactionStatus, POSTGRES_MAX_MESSAGE_SIZE};
use crate::config::ListenerConfig;
use crate::error::{Ending, LimitError, SessionError};
use crate::events::{EndReason, SessionEvent};
use crate::extended::ProtocolState;
use crate::params::{upstream_application_name, PINNED_SETTINGS};
use crate::registry::{Registration, SessionRegistry, SessionSummary, UpstreamCancel};
use crate::relay::{self, Pipe, Relay, SessionContext, Sockets};
use crate::startup::{self, FirstContact, Started};
use crate::tls::Stream;
use crate::upstream::{self, Upstream};
use crate::wire;

/// Time allowed to deliver a final error to a client that is slow to read.
const FINAL_WRITE_LIMIT: Duration = Duration::from_secs(5);

/// State shared by the connections of one listener, plus the peer address.
#[derive(Clone)]
pub(crate) struct Context {
    pub(crate) config: Arc<ListenerConfig>,
    pub(crate) authority: Arc<dyn Authority>,
    pub(crate) registry: Arc<SessionRegistry>,
    /// Key for the salts of mock SCRAM verifiers, random per process.
    pub(crate) mock_secret: [u8; 32],
    pub(crate) peer: SocketAddr,
    /// End of the startup timeout.
    pub(crate) startup_deadline: Instant,
}

/// Serves one accepted connection. `over_limit` is set when the listener
/// is at `max_connections`: the client then gets FATAL 53300 after startup.
pub(crate) async fn serve(tcp: TcpStream, context: Context, over_limit: bool) {
    let _ = tcp.set_nodelay(true);
    let contact = match startup::negotiate(tcp, context.peer, &context).await {
        Ok(contact) => contact,
        Err((stream, error)) => return reject(stream, &context, error).await,
    };
    let started = match contact {
        FirstContact::Cancel(request, mut stream) => {
            crate::cancel::handle(request, context.peer, &context).await;
            let _ = tokio::time::timeout(
                std::time::Duration::from_secs(1),
                tokio::io::AsyncWriteExt::shutdown(&mut stream),
            )
            .await;
            return;
        }
        FirstContact::Startup(started) => *started,
    };
    if over_limit {
        let error = LimitError::TooManyConnections(context.config.limits.max_connections).into();
        return reject(Some(started.stream), &context, error).await;
    }

    let authenticated = match auth::authenticate(started, &context).await {
        Ok(authenticated) => authenticated,
        Err((started, error)) => return reject(Some(started.stream), &context, error).await,
    };
    let authorized = match auth::authorize(authenticated, &context).await {
        Ok(authorized) => authorized,
        Err((started, error)) => return reject(Some(started.stream), &context, error).await,
    };
    run_session(authorized, &context).await;
}

/// Logs the error and sends it as FATAL where the connection still allows.
async fn reject(stream: Option<Stream>, context: &Context, error: SessionError) {
    match &error {
        SessionError::ClientGone(_) | SessionError::Ended(Ending::ClientClosed) => {
            tracing::debug!(client = %context.peer, %error, "client left during startup");
        }
        _ => {
            tracing::info!(client = %context.peer, sqlstate = %error.sqlstate(), %error, "connection rejected")
        }
    }
    let Some(mut stream) = stream else { return };
    let mut out = BytesMut::new();
    error.encode_fatal(&mut out);
    let _ = tokio::time::timeout(FINAL_WRITE_LIMIT, wire::flush(&mut stream, &mut out)).await;
    let _ = tokio::time::timeout(
        FINAL_WRITE_LIMIT,
        tokio::io::AsyncWriteExt::shutdown(&mut stream),
    )
    .await;
}

async fn run_session(authorized: Authorized, context: &Context) {
    let Authorized { started, grant } = authorized;
    let session = SessionId::random();
    let span = tracing::Span::current();
    span.record("session", tracing::field::display(session));
    span.record("user", grant.identity.user_name.as_str());
    span.record("target", grant.target.name.as_str());

    let summary = SessionSummary {
        session,
        user_id: grant.identity.user_id.clone(),
        user_name: grant.identity.user_name.clone(),
        token: grant.identity.token.clone(),
        target: grant.target.name.clone(),
        started_at: OffsetDateTime::now_utc(),
        access_grants: grant.identity.access_grants.clone(),
    };
    let mut registration = match context
        .registry
        .register(summary, context.config.limits.max_connections_per_user)
    {
        Ok(registration) => registration,
        Err(error) => return reject(Some(started.stream), context, error.into()).await,
    };
    let event = SessionEvent::SessionStarted {
        session,
        identity: grant.identity.clone(),
        target: grant.target.name.clone(),
        client_addr: context.peer,
        tls: started.tls.as_ref().map(|tls| tls.info.clone()),
    };
    if let Err(error) = context.authority.record(event).await {
        return reject(Some(started.stream), context, error.into()).await;
    }
    tracing::info!("session started");

    let reason = match connect_and_relay(started, &grant, session, &mut registration, context).await
    {
        Ok(reason) => reason,
        Err(error) => end_reason(&error),
    };
    tracing::info!(?reason, "session ended");
    let event = SessionEvent::SessionEnded { session, reason };
    if let Err(error) = context.authority.record(event).await {
        tracing::error!(%error, "recording the end of a session failed");
    }
}

/// Connects upstream, greets the client and relays. Errors before the relay
/// starts are sent to the client here; the relay sends its own.
async fn connect_and_relay(
    mut started: Started,
    grant: &crate::authority::SessionGrant,
    session: SessionId,
    registration: &mut Registration,
    context: &Context,
) -> Result<EndReason, SessionError> {
    let mut parameters = started.parameters.forwarded.clone();
    let application_name = upstream_application_name(
        &grant.identity.user_name,
        session,
        started.parameters.application_name.as_deref(),
    );
    parameters.push(("application_name".to_owned(), application_name));
    parameters.extend(grant.upstream_settings.iter().cloned());
    parameters.extend(
        PINNED_SETTINGS
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned())),
    );

    let timeout = context.config.limits.upstream_connect_timeout;
    let upstream = match upstream::connect(&grant.target, &parameters, timeout).await {
        Ok(upstream) => upstream,
        Err(error) => {
            tracing::warn!(%error, "connecting to the target failed");
            let error = SessionError::from(error);
            let mut out = BytesMut::new();
            error.encode_fatal(&mut out);
            let _ = tokio::time::timeout(
                FINAL_WRITE_LIMIT,
                wire::flush(&mut started.stream, &mut out),
            )
            .await;
            return Err(error);
        }
    };

    let Upstream {
        stream: upstream_stream,
        process_id,
        secret_key,
        greeting,
        ready,
        leftover,
    } = upstream;
    let key_len = if started.protocol >= ProtocolVersion::V3_2 {
        32
    } else {
        4
    };
    let cancel_target = UpstreamCancel {
        target: grant.target.clone(),
        connect_timeout: timeout,
        process_id,
        secret_key,
    };
    let (gateway_pid, gateway_key) = registration.issue_cancel_key(cancel_target.clone(), key_len);

    // Rows and COPY data from the target stream through whatever their size;
    // the client's messages, COPY data included, obey max_message_size.
    let limits = &context.config.limits;
    let mut to_client = Pipe::new(
        limits.max_message_size.max(wire::MAX_AUTH_MESSAGE),
        b"Dd",
        POSTGRES_MAX_MESSAGE_SIZE,
    );
    to_client.output.extend_from_slice(&greeting);
    let key = BackendKeyData {
        process_id: gateway_pid,
        secret_key: gateway_key.into(),
    };
    wire::encode(&mut to_client.output, |buf| key.encode(buf));
    to_client.output.extend_from_slice(ready.as_bytes());
    to_client.input = leftover;

    let expires_at = grant.identity.token_expires_at.map(instant_at);
    let session_context = SessionContext {
        session,
        authority: Arc::clone(&context.authority),
        check: Arc::clone(&grant.statement_check),
        target: grant.target.name.clone(),
        idle_timeout: grant
            .target
            .idle_timeout
            .unwrap_or(context.config.limits.idle_timeout),
        expires_at,
        cancel: cancel_target.clone(),
    };
    let mut relay = Relay {
        context: session_context,
        state: ProtocolState::new(context.config.limits.max_prepared_statements),
        to_upstream: Pipe::new(limits.max_message_size, b"d", limits.max_message_size),
        to_client,
        status: TransactionStatus::Idle,
        upstream_fatal: false,
        client_terminated: false,
        copy_in: false,
        cancel_task: None,
    };
    let (client_read, client_write) = tokio::io::split(started.stream);
    let (upstream_read, upstream_write) = tokio::io::split(upstream_stream);
    let mut sockets = Sockets {
        client_read,
        client_write,
        upstream_read,
        upstream_write,
    };

    let result = relay.run(&mut sockets, registration).await;
    if result.is_err() && !relay.state.is_settled() {
        // A query still running upstream would outlive the session (the
        // server notices a closed client only when it next writes), so
        // an ended session cancels it first.
        crate::cancel::forward_logged(&cancel_target, session).await;
    }
    finish(&mut relay, &mut sockets, result.as_ref().err()).await;
    result
}

/// Sends the final FATAL (unless the client left or is mid-message), ends
/// the upstream session with Terminate and closes both connections.
async fn finish(relay: &mut Relay, sockets: &mut Sockets, error: Option<&SessionError>) {
    let mut tail = BytesMut::new();
    if let Some(error) = error {
        let upstream_said_it = relay.upstream_fatal && matches!(error, SessionError::Upstream(_));
        if relay.client_at_boundary() && !upstream_said_it {
            error.encode_fatal(&mut tail);
        }
        tracing::info!(sqlstate = %error.sqlstate(), %error, "ending the session");
    }
    relay::finish_stream(
        &mut sockets.client_write,
        &mut relay.to_client.output,
        &tail,
        FINAL_WRITE_LIMIT,
    )
    .await;

    let mut terminate = BytesMut::new();
    if !relay.client_terminated {
        wire::encode(&mut terminate, |buf| {
            crate::codec::FrontendMessage::Terminate.encode(buf)
        });
    }
    relay::finish_stream(
        &mut sockets.upstream_write,
        &mut relay.to_upstream.output,
        &terminate,
        FINAL_WRITE_LIMIT,
    )
    .await;
}

fn end_reason(error: &SessionError) -> EndReason {
    match error {
        SessionError::Ended(Ending::Idle(_) | Ending::IdleInTransaction(_)) => {
            EndReason::IdleTimeout
        }
        SessionError::Ended(Ending::TokenExpired) => EndReason::TokenExpired,
        SessionError::Ended(Ending::Terminated(reason)) => EndReason::Terminated(reason.clone()),
        SessionError::Ended(Ending::ClientClosed) | SessionError::ClientGone(_) => {
            EndReason::ClientClosed
        }
        SessionError::Upstream(_) => EndReason::UpstreamLost,
        other => EndReason::Error(other.to_string()),
    }
}

/// Converts a wall-clock instant to the monotonic clock; a past instant is now.
fn instant_at(at: OffsetDateTime) -> Instant {
    let remaining = at - OffsetDateTime::now_utc();
    let remaining = Duration::try_from(remaining).unwrap_or(Duration::ZERO);
    Instant::now() + remaining
}
