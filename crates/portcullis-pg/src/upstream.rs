//! The gateway's own connection to a target: TCP, TLS per the target's
//! mode, StartupMessage, and password, MD5 or SCRAM-SHA-256(-PLUS) login
//! with credentials only the gateway holds.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use postgres_protocol::authentication::{md5_hash, sasl};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::authority::{UpstreamTarget, UpstreamTls};
use crate::codec::{
    decode_backend, Authentication, BackendMessage, Frame, FrameDecoder, PasswordMessage,
    ProtocolVersion, SaslInitialResponse, SaslResponse, StartupMessage, StartupPacket,
};
use crate::error::UpstreamError;
use crate::tls::{self, Stream};
use crate::wire::{self, ReadError};

/// Largest message accepted from a target during login. ParameterStatus and
/// notices are far smaller.
const MAX_LOGIN_MESSAGE: usize = 1024 * 1024;

/// A logged-in upstream connection, ready for queries.
pub(crate) struct Upstream {
    pub(crate) stream: Stream,
    pub(crate) process_id: i32,
    pub(crate) secret_key: Bytes,
    /// ParameterStatus and NoticeResponse messages, to pass on to the client as received.
    pub(crate) greeting: BytesMut,
    /// The ReadyForQuery that ended the login, to pass on last.
    pub(crate) ready: Frame,
    /// Bytes the target sent after ReadyForQuery (normally none).
    pub(crate) leftover: BytesMut,
}

/// Connects and logs in within `timeout`.
pub(crate) async fn connect(
    target: &UpstreamTarget,
    parameters: &[(String, String)],
    timeout: Duration,
) -> Result<Upstream, UpstreamError> {
    let attempt = async {
        let stream = open(target).await?;
        login(stream, target, parameters).await
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(result) => result,
        Err(_) => Err(UpstreamError::Unreachable {
            target: target.name.clone(),
            cause: format!("timed out after {} seconds", timeout.as_secs_f32()),
        }),
    }
}

/// Opens TCP and, unless the mode is `disable`, TLS via SSLRequest.
pub(crate) async fn open(target: &UpstreamTarget) -> Result<Stream, UpstreamError> {
    let unreachable = |cause: String| UpstreamError::Unreachable {
        target: target.name.clone(),
        cause,
    };
    let mut tcp = TcpStream::connect((target.host.as_str(), target.port)).await.map_err(|error| {
        tracing::warn!(%error, target = %target.name, host = %target.host, port = target.port, "connecting to the target failed");
        unreachable(error.kind().to_string())
    })?;
    let _ = tcp.set_nodelay(true);

    let ca_file = match &target.tls {
        UpstreamTls::Disable => return Ok(Stream::Plain(tcp)),
        UpstreamTls::Require => None,
        UpstreamTls::VerifyFull { ca_file } => Some(ca_file.as_path()),
    };
    let mut request = BytesMut::new();
    wire::encode(&mut request, |buf| StartupPacket::SslRequest.encode(buf));
    tcp.write_all(&request)
        .await
        .map_err(|error| unreachable(error.kind().to_string()))?;
    let answer = tcp
        .read_u8()
        .await
        .map_err(|error| unreachable(error.kind().to_string()))?;
    if answer != b'S' {
        return Err(unreachable(
            "the target does not accept TLS, but its TLS mode requires it".to_owned(),
        ));
    }

    let config = tls::upstream_client_config(ca_file).map_err(|cause| {
        tracing::error!(%cause, target = %target.name, "upstream TLS configuration failed");
        unreachable("the gateway's TLS settings for it are invalid".to_owned())
    })?;
    let name = ServerName::try_from(target.host.clone())
        .map_err(|_| unreachable("its host is not a valid TLS server name".to_owned()))?;
    let stream = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|error| {
            tracing::warn!(%error, target = %target.name, "TLS handshake with the target failed");
            unreachable(format!("TLS handshake failed: {error}"))
        })?;
    Ok(Stream::Tls(Box::new(tokio_rustls::TlsStream::Client(
        stream,
    ))))
}

async fn login(
    mut stream: Stream,
    target: &UpstreamTarget,
    parameters: &[(String, String)],
) -> Result<Upstream, UpstreamError> {
    let lost = |cause: String| UpstreamError::Unreachable {
        target: target.name.clone(),
        cause,
    };
    let mut out = BytesMut::new();
    let mut pairs: Vec<(&str, &str)> = vec![
        ("user", target.user.as_str()),
        ("database", target.database.as_str()),
    ];
    pairs.extend(
        parameters
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str())),
    );
    let startup = StartupMessage {
        version: ProtocolVersion::V3_0,
        parameters: pairs,
    };
    startup
        .encode(&mut out)
        .map_err(|error| lost(error.to_string()))?;
    wire::flush(&mut stream, &mut out)
        .await
        .map_err(|error| lost(error.kind().to_string()))?;

    let channel_binding = upstream_channel_binding(&stream);
    let decoder = FrameDecoder::new(MAX_LOGIN_MESSAGE);
    let mut buf = BytesMut::new();
    let mut scram: Option<sasl::ScramSha256> = None;
    let mut greeting = BytesMut::new();
    let mut key = None;

    loop {
        let frame = match wire::read_frame(&mut stream, &mut buf, &decoder).await {
            Ok(frame) => frame,
            Err(ReadError::Io(error)) => return Err(lost(error.kind().to_string())),
            Err(ReadError::Closed) => {
                return Err(lost(
                    "the target closed the connection during login".to_owned(),
                ))
            }
            Err(ReadError::Decode(error)) => return Err(protocol(target, error.to_string())),
        };
        let message =
            decode_backend(&frame).map_err(|error| protocol(target, error.to_string()))?;
        match message {
            BackendMessage::Authentication(request) => {
                answer(request, &mut scram, &channel_binding, target, &mut out)?;
                wire::flush(&mut stream, &mut out)
                    .await
                    .map_err(|error| lost(error.kind().to_string()))?;
            }
            BackendMessage::ParameterStatus(_) | BackendMessage::NoticeResponse(_) => {
                greeting.extend_from_slice(frame.as_bytes());
            }
            BackendMessage::BackendKeyData(data) => {
                key = Some((data.process_id, data.secret_key.clone()))
            }
            BackendMessage::NegotiateProtocolVersion(_) => {}
            BackendMessage::ErrorResponse(fields) => {
                let code = fields
                    .code()
                    .map(|code| code.to_string())
                    .unwrap_or_default();
                tracing::warn!(target = %target.name, sqlstate = %code, message = fields.message().unwrap_or_default(), "the target rejected the gateway's login");
                return Err(UpstreamError::Login {
                    target: target.name.clone(),
                    cause: format!("the target answered with SQLSTATE {code}"),
                });
            }
            BackendMessage::ReadyForQuery(_) => {
                let (process_id, secret_key) = key.unwrap_or((0, Bytes::new()));
                return Ok(Upstream {
                    stream,
                    process_id,
                    secret_key,
                    greeting,
                    ready: frame,
                    leftover: buf,
                });
            }
            _ => {
                return Err(protocol(
                    target,
                    format!(
                        "unexpected message type {:?} during login",
                        frame.tag() as char
                    ),
                ))
            }
        }
    }
}

/// Encodes the reply to one authentication request of the target.
fn answer(
    request: Authentication<'_>,
    scram: &mut Option<sasl::ScramSha256>,
    channel_binding: &Option<Vec<u8>>,
    target: &UpstreamTarget,
    out: &mut BytesMut,
) -> Result<(), UpstreamError> {
    let login = |cause: &str| UpstreamError::Login {
        target: target.name.clone(),
        cause: cause.to_owned(),
    };
    let encoded = match request {
        Authentication::Ok => Ok(()),
        Authentication::CleartextPassword => PasswordMessage {
            password: target.password.as_str(),
        }
        .encode(out),
        Authentication::Md5Password { salt } => {
            let hash = md5_hash(target.user.as_bytes(), target.password.as_bytes(), salt);
            PasswordMessage { password: &hash }.encode(out)
        }
        Authentication::Sasl { mechanisms } => {
            let plus = channel_binding
                .as_ref()
                .filter(|_| mechanisms.contains(&sasl::SCRAM_SHA_256_PLUS));
            let (mechanism, binding) = match plus {
                Some(data) => (
                    sasl::SCRAM_SHA_256_PLUS,
                    sasl::ChannelBinding::tls_server_end_point(data.clone()),
                ),
                None if mechanisms.contains(&sasl::SCRAM_SHA_256) => {
                    (sasl::SCRAM_SHA_256, sasl::ChannelBinding::unsupported())
                }
                None => return Err(login("the target offers no supported SASL mechanism")),
            };
            let client = sasl::ScramSha256::new(target.password.as_bytes(), binding);
            let data = Bytes::copy_from_slice(client.message());
            *scram = Some(client);
            SaslInitialResponse {
                mechanism,
                data: Some(data),
            }
            .encode(out)
        }
        Authentication::SaslContinue { data } => {
            let client = scram
                .as_mut()
                .ok_or_else(|| login("unexpected SASL challenge"))?;
            client
                .update(&data)
                .map_err(|_| login("invalid SCRAM challenge"))?;
            SaslResponse {
                data: Bytes::copy_from_slice(client.message()),
            }
            .encode(out)
        }
        Authentication::SaslFinal { data } => {
            let client = scram
                .as_mut()
                .ok_or_else(|| login("unexpected SASL outcome"))?;
            client
                .finish(&data)
                .map_err(|_| login("the target's SCRAM server signature is invalid"))?;
            Ok(())
        }
        _ => {
            return Err(login(
                "the target requests an authentication method the gateway does not support",
            ))
        }
    };
    encoded.map_err(|_| login("the target password cannot be encoded"))
}

fn upstream_channel_binding(stream: &Stream) -> Option<Vec<u8>> {
    let Stream::Tls(tls) = stream else {
        return None;
    };
    let (_, connection) = tls.get_ref();
    let cert = connection.peer_certificates()?.first()?;
    tls::tls_server_end_point(cert.as_ref())
}

fn protocol(target: &UpstreamTarget, cause: String) -> UpstreamError {
    UpstreamError::Protocol {
        target: target.name.clone(),
        cause,
    }
}
