//! CancelRequest handling. Clients hold only the gateway's own
//! BackendKeyData; a matching key is mapped to the upstream process and
//! key, and sent on a fresh upstream connection. A key that matches no
//! session does nothing, and the client learns nothing either way: as in
//! PostgreSQL, the connection is closed without a reply.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::AsyncWriteExt;

use crate::authority::{SessionEvent, SessionId};
use crate::codec::{CancelRequest, StartupPacket};
use crate::registry::UpstreamCancel;
use crate::session::Context;
use crate::upstream;
use crate::wire;

/// Upper bound on delivering one cancel upstream.
const CANCEL_TIMEOUT: Duration = Duration::from_secs(10);

/// Handles a CancelRequest that arrived on its own connection from `peer`.
pub(crate) async fn handle(request: CancelRequest, peer: SocketAddr, context: &Context) {
    let matched = context
        .registry
        .cancel_target(request.process_id, &request.secret_key);
    let event = SessionEvent::CancelRequested {
        session: matched.as_ref().map(|(session, _)| *session),
        client_addr: peer,
        forwarded: matched.is_some(),
    };
    if let Err(error) = context.authority.record(event).await {
        tracing::error!(%error, client = %peer, "recording a cancel request failed; the request is dropped");
        return;
    }

    let Some((session, upstream)) = matched else {
        tracing::info!(client = %peer, "cancel request matched no session");
        return;
    };
    tracing::info!(%session, client = %peer, "forwarding a cancel request");
    forward_logged(&upstream, session).await;
}

/// Sends the cancel upstream within the connect timeout, logging a failure.
pub(crate) async fn forward_logged(upstream: &UpstreamCancel, session: SessionId) {
    let timeout = CANCEL_TIMEOUT.min(upstream.connect_timeout);
    match tokio::time::timeout(timeout, forward(upstream)).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => {
            tracing::warn!(%session, error = %error, "forwarding a cancel request failed")
        }
        Err(_) => tracing::warn!(%session, "forwarding a cancel request timed out"),
    }
}

/// Sends CancelRequest with the upstream key, over TLS when the target's
/// mode uses TLS, as libpq does.
async fn forward(upstream: &UpstreamCancel) -> Result<(), String> {
    let mut stream = upstream::open(&upstream.target)
        .await
        .map_err(|error| error.to_string())?;
    let mut buf = BytesMut::new();
    let request = CancelRequest {
        process_id: upstream.process_id,
        secret_key: upstream.secret_key.clone(),
    };
    wire::encode(&mut buf, |buf| {
        StartupPacket::CancelRequest(request).encode(buf)
    });
    stream
        .write_all(&buf)
        .await
        .map_err(|error| error.to_string())?;
    stream.flush().await.map_err(|error| error.to_string())?;
    // The server closes the connection once it has read the request.
    let mut sink = [0u8; 1];
    let _ = tokio::io::AsyncReadExt::read(&mut stream, &mut sink).await;
    Ok(())
}
