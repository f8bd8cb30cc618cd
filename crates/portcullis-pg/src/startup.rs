//! Connection start: TLS negotiation (SSLRequest or PostgreSQL 17 direct
//! TLS), GSSENCRequest, CancelRequest and the StartupMessage, following
//! "Message Flow: Start-up" in the protocol chapter of the PostgreSQL 18
//! documentation.
//!
//! Packets are read exactly by their length, never beyond, so no byte sent
//! before the TLS handshake can be mistaken for data inside TLS.

use std::net::SocketAddr;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::authority::TlsInfo;
use crate::codec::{
    decode_startup, decode_startup_frame, CancelRequest, NegotiateProtocolVersion, ProtocolVersion,
    StartupPacket, TLS_HANDSHAKE_RECORD_TYPE,
};
use crate::config::{ListenerConfig, PlaintextPolicy};
use crate::error::{ClientError, SessionError};
use crate::params::{check_parameters, ClientParameters};
use crate::session::Context;
use crate::tls::{self, Stream};

/// Newest protocol version the gateway speaks to clients. 3.2 differs
/// from 3.0 only in the cancel key length (32 bytes instead of 4).
const NEWEST_PROTOCOL: ProtocolVersion = ProtocolVersion::V3_2;

/// TLS facts of an encrypted client connection.
pub(crate) struct ClientTls {
    pub(crate) info: TlsInfo,
    pub(crate) channel_binding: Option<Vec<u8>>,
}

/// A client that sent a valid StartupMessage.
pub(crate) struct Started {
    pub(crate) stream: Stream,
    pub(crate) tls: Option<ClientTls>,
    pub(crate) protocol: ProtocolVersion,
    pub(crate) parameters: ClientParameters,
    /// Sent before the authentication request when the client asked for a
    /// newer minor version or for protocol options (`_pq_.*`).
    pub(crate) negotiate: Option<BytesMut>,
}

/// Kind of a new connection, known after its first packet.
pub(crate) enum FirstContact {
    Startup(Box<Started>),
    /// A CancelRequest, with the connection it came on. The caller forwards the
    /// cancel before it closes the connection, as PostgreSQL does, and closes TLS
    /// with close_notify: libpq 17 and later report an error on a bare TCP close.
    Cancel(CancelRequest, Stream),
}

/// Progress of the connection through the negotiation.
enum Phase {
    /// Plaintext so far. The gateway replies 'N' to each of SSLRequest and
    /// GSSENCRequest at most once, after which the client may try the other.
    Plain {
        tcp: TcpStream,
        gss_answered: bool,
        ssl_answered: bool,
    },
    /// TLS is up; only StartupMessage or CancelRequest may follow.
    Encrypted { stream: Stream, tls: ClientTls },
}

/// Runs the negotiation up to a StartupMessage or CancelRequest.
pub(crate) async fn negotiate(
    tcp: TcpStream,
    peer: SocketAddr,
    context: &Context,
) -> Result<FirstContact, (Option<Stream>, SessionError)> {
    let config = context.config.as_ref();
    let deadline = context.startup_deadline;
    let mut phase = match direct_tls(tcp, config, deadline).await {
        Ok(phase) => phase,
        Err((stream, error)) => return Err((stream, error)),
    };
    loop {
        phase = match phase {
            Phase::Plain {
                mut tcp,
                gss_answered,
                ssl_answered,
            } => {
                let packet = match read_packet(&mut tcp, deadline, config).await {
                    Ok(packet) => packet,
                    Err(error) => return Err((Some(Stream::Plain(tcp)), error)),
                };
                match on_plain_packet(
                    tcp,
                    packet,
                    peer,
                    config,
                    deadline,
                    gss_answered,
                    ssl_answered,
                )
                .await?
                {
                    Step::Continue(next) => next,
                    Step::Done(contact) => return Ok(contact),
                }
            }
            Phase::Encrypted { mut stream, tls } => {
                let packet = match read_packet(&mut stream, deadline, config).await {
                    Ok(packet) => packet,
                    Err(error) => return Err((Some(stream), error)),
                };
                return on_encrypted_packet(stream, tls, packet)
                    .map_err(|(stream, error)| (Some(stream), error));
            }
        };
    }
}

enum Step {
    Continue(Phase),
    Done(FirstContact),
}

/// Handles PostgreSQL 17 direct TLS: the first byte is a TLS handshake
/// record, and ALPN `postgresql` is mandatory so that a TLS connection meant
/// for another protocol is not taken for PostgreSQL.
async fn direct_tls(
    tcp: TcpStream,
    config: &ListenerConfig,
    deadline: Instant,
) -> Result<Phase, (Option<Stream>, SessionError)> {
    let mut first = [0u8; 1];
    let Ok(peeked) = tokio::time::timeout_at(deadline, tcp.peek(&mut first)).await else {
        let error = ClientError::StartupTimeout(config.limits.startup_timeout).into();
        return Err((Some(Stream::Plain(tcp)), error));
    };
    let direct = matches!(peeked, Ok(1)) && first == [TLS_HANDSHAKE_RECORD_TYPE];
    let Some(server_config) = config.tls.as_ref().filter(|_| direct) else {
        return Ok(Phase::Plain {
            tcp,
            gss_answered: false,
            ssl_answered: false,
        });
    };

    let accepted = accept_until(server_config, tcp, deadline).await?;
    if !accepted.alpn_postgresql {
        return Err((
            Some(accepted.stream),
            ClientError::DirectTlsWithoutAlpn.into(),
        ));
    }
    let tls = ClientTls {
        info: accepted.info,
        channel_binding: accepted.channel_binding,
    };
    Ok(Phase::Encrypted {
        stream: accepted.stream,
        tls,
    })
}

async fn on_plain_packet(
    mut tcp: TcpStream,
    packet: BytesMut,
    peer: SocketAddr,
    config: &ListenerConfig,
    deadline: Instant,
    gss_answered: bool,
    ssl_answered: bool,
) -> Result<Step, (Option<Stream>, SessionError)> {
    let frame = match decode_frame(packet) {
        Ok(frame) => frame,
        Err(error) => return Err((Some(Stream::Plain(tcp)), error)),
    };
    let decoded = decode_startup(&frame).map_err(SessionError::from);
    match decoded {
        Ok(StartupPacket::SslRequest) if !ssl_answered => match config.tls.as_ref() {
            Some(server_config) => {
                write_byte(&mut tcp, b'S')
                    .await
                    .map_err(|error| (None, error))?;
                let accepted = accept_until(server_config, tcp, deadline).await?;
                let tls = ClientTls {
                    info: accepted.info,
                    channel_binding: accepted.channel_binding,
                };
                Ok(Step::Continue(Phase::Encrypted {
                    stream: accepted.stream,
                    tls,
                }))
            }
            None => {
                write_byte(&mut tcp, b'N')
                    .await
                    .map_err(|error| (None, error))?;
                Ok(Step::Continue(Phase::Plain {
                    tcp,
                    gss_answered,
                    ssl_answered: true,
                }))
            }
        },
        // The gateway has no GSSAPI; 'N' lets the client go on with
        // SSLRequest or a plaintext startup on the same socket.
        Ok(StartupPacket::GssEncRequest) if !gss_answered => {
            write_byte(&mut tcp, b'N')
                .await
                .map_err(|error| (None, error))?;
            Ok(Step::Continue(Phase::Plain {
                tcp,
                gss_answered: true,
                ssl_answered,
            }))
        }
        Ok(StartupPacket::CancelRequest(request)) => {
            Ok(Step::Done(FirstContact::Cancel(request, Stream::Plain(tcp))))
        }
        Ok(StartupPacket::Startup(message)) => {
            if !plaintext_allowed(config, peer) {
                return Err((Some(Stream::Plain(tcp)), ClientError::TlsRequired.into()));
            }
            let started = started(Stream::Plain(tcp), None, message);
            started
                .map(|s| Step::Done(FirstContact::Startup(Box::new(s))))
                .map_err(|(s, e)| (Some(s), e))
        }
        Ok(StartupPacket::SslRequest | StartupPacket::GssEncRequest) => Err((
            Some(Stream::Plain(tcp)),
            ClientError::RepeatedEncryptionRequest.into(),
        )),
        Err(error) => Err((Some(Stream::Plain(tcp)), error)),
    }
}

/// Runs the TLS handshake within the startup deadline. A failed or slow
/// handshake leaves no channel to report on, so the connection just closes.
async fn accept_until(
    config: &std::sync::Arc<rustls::ServerConfig>,
    tcp: TcpStream,
    deadline: Instant,
) -> Result<tls::AcceptedTls, (Option<Stream>, SessionError)> {
    match tokio::time::timeout_at(deadline, tls::accept(config, tcp)).await {
        Ok(Ok(accepted)) => Ok(accepted),
        Ok(Err(error)) => Err((None, ClientError::TlsHandshake(error).into())),
        Err(_) => Err((
            None,
            ClientError::TlsHandshake(std::io::ErrorKind::TimedOut.into()).into(),
        )),
    }
}

fn on_encrypted_packet(
    stream: Stream,
    tls: ClientTls,
    packet: BytesMut,
) -> Result<FirstContact, (Stream, SessionError)> {
    let frame = match decode_frame(packet) {
        Ok(frame) => frame,
        Err(error) => return Err((stream, error)),
    };
    match decode_startup(&frame) {
        Ok(StartupPacket::Startup(message)) => {
            started(stream, Some(tls), message).map(|s| FirstContact::Startup(Box::new(s)))
        }
        Ok(StartupPacket::CancelRequest(request)) => Ok(FirstContact::Cancel(request, stream)),
        Ok(_) => Err((stream, ClientError::RepeatedEncryptionRequest.into())),
        Err(error) => Err((stream, error.into())),
    }
}

fn started(
    stream: Stream,
    tls: Option<ClientTls>,
    message: crate::codec::StartupMessage<'_>,
) -> Result<Started, (Stream, SessionError)> {
    let parameters = match check_parameters(&message.parameters) {
        Ok(parameters) => parameters,
        Err(error) => return Err((stream, error.into())),
    };
    let protocol = message.version.min(NEWEST_PROTOCOL);
    let options: Vec<&str> = message
        .parameters
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| name.starts_with("_pq_."))
        .collect();

    // PostgreSQL sends NegotiateProtocolVersion when the requested minor
    // version is newer than its own or when it does not recognize a
    // `_pq_.` option. The gateway recognizes none.
    let negotiate = if message.version > NEWEST_PROTOCOL || !options.is_empty() {
        let mut buf = BytesMut::new();
        let reply = NegotiateProtocolVersion {
            version: protocol.code(),
            unrecognized_options: options,
        };
        if let Err(error) = reply.encode(&mut buf) {
            tracing::warn!(%error, "encoding NegotiateProtocolVersion failed");
            return Err((
                stream,
                SessionError::Internal("encoding NegotiateProtocolVersion failed"),
            ));
        }
        Some(buf)
    } else {
        None
    };
    Ok(Started {
        stream,
        tls,
        protocol,
        parameters,
        negotiate,
    })
}

fn plaintext_allowed(config: &ListenerConfig, peer: SocketAddr) -> bool {
    config.plaintext == PlaintextPolicy::AllowLoopback && peer.ip().is_loopback()
}

/// Reads one untagged startup-phase packet: a length that counts itself,
/// then the rest. The length is checked before the rest is read.
async fn read_packet<S: tokio::io::AsyncRead + Unpin>(
    stream: &mut S,
    deadline: Instant,
    config: &ListenerConfig,
) -> Result<BytesMut, SessionError> {
    let timeout = config.limits.startup_timeout;
    tokio::time::timeout_at(deadline, read_packet_inner(stream))
        .await
        .map_err(|_| ClientError::StartupTimeout(timeout))?
}

async fn read_packet_inner<S: tokio::io::AsyncRead + Unpin>(
    stream: &mut S,
) -> Result<BytesMut, SessionError> {
    let mut buf = BytesMut::with_capacity(64);
    buf.resize(4, 0);
    stream.read_exact(&mut buf).await?;
    // With four bytes present the decoder only validates the length.
    let mut probe = buf.clone();
    decode_startup_frame(&mut probe)?;
    let mut length = [0u8; 4];
    length.copy_from_slice(buf.get(..4).unwrap_or(&[0; 4]));
    buf.resize(u32::from_be_bytes(length) as usize, 0);
    if let Some(rest) = buf.get_mut(4..) {
        stream.read_exact(rest).await?;
    }
    Ok(buf)
}

fn decode_frame(mut packet: BytesMut) -> Result<crate::codec::StartupFrame, SessionError> {
    decode_startup_frame(&mut packet)?
        .ok_or(SessionError::Internal("startup packet read incompletely"))
}

async fn write_byte(tcp: &mut TcpStream, byte: u8) -> Result<(), SessionError> {
    tcp.write_all(&[byte]).await?;
    tcp.flush().await?;
    Ok(())
}
