//! Startup-phase packets: StartupMessage, SSLRequest, GSSENCRequest and
//! CancelRequest.
//!
//! These packets have no type byte. Each is an Int32 length that counts
//! itself, then an Int32 protocol version or request code, then a body.

use std::collections::HashSet;
use std::fmt;

use bytes::{Buf, Bytes, BytesMut};

use super::error::{DecodeError, EncodeError, Field};
use super::reader::Reader;
use super::redact::Redacted;
use super::writer::{write_limited_message, Writer};

/// Largest startup packet after its length field, as in PostgreSQL's
/// `MAX_STARTUP_PACKET_LENGTH` (`src/include/libpq/pqcomm.h`). The length
/// field itself may therefore be at most 10004.
pub const MAX_STARTUP_PACKET_LEN: usize = 10_000;

/// Maximum cancel key length in bytes that protocol 3.2 allows in
/// BackendKeyData and CancelRequest. Protocol 3.0 keys are always 4 bytes.
pub const MAX_SECRET_KEY_LEN: usize = 256;

/// First byte of a TLS handshake record. PostgreSQL 17 clients that use
/// `sslnegotiation=direct` start TLS at once instead of sending SSLRequest.
/// A startup packet can never start with this byte, because its length is
/// below 2^24, so the first byte distinguishes the two.
pub const TLS_HANDSHAKE_RECORD_TYPE: u8 = 0x16;

/// Length field plus the version or request code.
const MIN_STARTUP_PACKET_LEN: usize = 8;

/// Request codes: 1234 in the high 16 bits, so that no protocol version can
/// be mistaken for them.
const CANCEL_REQUEST_CODE: u32 = 80_877_102;
const SSL_REQUEST_CODE: u32 = 80_877_103;
const GSSENC_REQUEST_CODE: u32 = 80_877_104;

/// A protocol version 3.x. Other major versions are rejected when decoding.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProtocolVersion {
    minor: u16,
}

impl ProtocolVersion {
    /// Protocol 3.0 (PostgreSQL 7.4 and later), code 196608.
    pub const V3_0: ProtocolVersion = ProtocolVersion { minor: 0 };
    /// Protocol 3.2 (PostgreSQL 18 and later), code 196610: variable-length cancel keys.
    pub const V3_2: ProtocolVersion = ProtocolVersion { minor: 2 };

    /// Creates version 3.`minor`.
    pub const fn v3(minor: u16) -> Self {
        Self { minor }
    }

    /// Returns the major version, always 3.
    pub const fn major(&self) -> u16 {
        3
    }

    /// Returns the minor version.
    pub const fn minor(&self) -> u16 {
        self.minor
    }

    /// Returns the wire code: the major version in the high 16 bits and the minor in the low.
    pub const fn code(&self) -> u32 {
        (3 << 16) | self.minor as u32
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major(), self.minor)
    }
}

impl fmt::Debug for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProtocolVersion({self})")
    }
}

/// One startup-phase packet as received, length field included.
#[derive(Clone, PartialEq, Eq)]
pub struct StartupFrame {
    raw: Bytes,
    body: Bytes,
}

impl StartupFrame {
    /// Returns the bytes after the length field.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// Returns the whole packet as received.
    pub fn as_bytes(&self) -> &Bytes {
        &self.raw
    }
}

impl fmt::Debug for StartupFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StartupFrame")
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// Splits the next startup-phase packet off `buf`.
///
/// Returns `Ok(None)` when more bytes are needed. The length is checked
/// against 8..=10004, as PostgreSQL does, before the body is buffered.
/// After an error `buf` is left unchanged and the connection must be closed.
/// Check for [`TLS_HANDSHAKE_RECORD_TYPE`] first if direct TLS is accepted.
pub fn decode_startup_frame(buf: &mut BytesMut) -> Result<Option<StartupFrame>, DecodeError> {
    let Some(mut header) = buf.get(..4) else {
        return Ok(None);
    };
    let length = header.get_i32();

    let max = MAX_STARTUP_PACKET_LEN + 4;
    let packet_len = match usize::try_from(length) {
        Ok(length) if (MIN_STARTUP_PACKET_LEN..=max).contains(&length) => length,
        _ => {
            return Err(DecodeError::StartupLengthInvalid {
                length,
                min: MIN_STARTUP_PACKET_LEN,
                max,
            })
        }
    };

    if buf.len() < packet_len {
        return Ok(None);
    }
    let raw = buf.split_to(packet_len).freeze();
    let body = raw.slice(4..);
    Ok(Some(StartupFrame { raw, body }))
}

/// A decoded startup-phase packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartupPacket<'a> {
    /// StartupMessage: the protocol version and the session parameters.
    Startup(StartupMessage<'a>),
    /// SSLRequest: the client asks to switch to TLS.
    SslRequest,
    /// GSSENCRequest: the client asks for GSSAPI encryption.
    GssEncRequest,
    /// CancelRequest: sent on a new connection to cancel a running query.
    CancelRequest(CancelRequest),
}

/// StartupMessage: protocol version and NUL-terminated name/value pairs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartupMessage<'a> {
    /// Requested protocol version. Minor versions above those the gateway
    /// speaks are valid, and the caller replies to them with NegotiateProtocolVersion.
    pub version: ProtocolVersion,
    /// Parameters in the order received, without duplicates. Names that
    /// start with `_pq_.` are protocol options rather than run-time settings.
    pub parameters: Vec<(&'a str, &'a str)>,
}

impl<'a> StartupMessage<'a> {
    /// Returns the value of the parameter `name`, if present.
    pub fn parameter(&self, name: &str) -> Option<&'a str> {
        self.parameters
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| *value)
    }

    /// Returns the `user` parameter, which PostgreSQL requires.
    pub fn user(&self) -> Option<&'a str> {
        self.parameter("user")
    }

    /// Returns the `database` parameter; PostgreSQL defaults it to the user name.
    pub fn database(&self) -> Option<&'a str> {
        self.parameter("database")
    }

    /// Encodes the packet. Duplicate names are not checked here; the gateway
    /// builds upstream startup packets from its own parameter list.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        write_limited_message(buf, None, "Startup", MAX_STARTUP_PACKET_LEN + 4, |w| {
            w.u32(self.version.code());
            for (index, (name, value)) in self.parameters.iter().enumerate() {
                if name.is_empty() {
                    return Err(EncodeError::ItemIsTerminator {
                        message: w.message(),
                        field: Field::indexed("parameter name", index),
                    });
                }
                w.cstr(Field::indexed("parameter name", index), name)?;
                w.cstr(Field::indexed("parameter value", index), value)?;
            }
            w.u8(0);
            Ok(())
        })
    }
}

/// CancelRequest: the process ID and secret key from BackendKeyData.
#[derive(Clone, PartialEq, Eq)]
pub struct CancelRequest {
    /// Process ID of the backend whose query is to be canceled.
    pub process_id: i32,
    /// Secret key: 4 bytes before protocol 3.2, up to 256 bytes from 3.2 on.
    pub secret_key: Bytes,
}

impl CancelRequest {
    /// Encodes the packet.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        check_secret_key_len("CancelRequest", &self.secret_key)?;
        write_limited_message(
            buf,
            None,
            "CancelRequest",
            MAX_STARTUP_PACKET_LEN + 4,
            |w| {
                w.u32(CANCEL_REQUEST_CODE);
                w.i32(self.process_id);
                w.bytes(&self.secret_key);
                Ok(())
            },
        )
    }
}

impl fmt::Debug for CancelRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelRequest")
            .field("process_id", &self.process_id)
            .field("secret_key", &Redacted(self.secret_key.len()))
            .finish()
    }
}

pub(crate) fn check_secret_key_len(message: &'static str, key: &[u8]) -> Result<(), EncodeError> {
    if key.is_empty() || key.len() > MAX_SECRET_KEY_LEN {
        return Err(EncodeError::SecretKeyLengthInvalid {
            message,
            length: key.len(),
        });
    }
    Ok(())
}

impl StartupPacket<'_> {
    /// Encodes the packet.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        match self {
            StartupPacket::Startup(message) => message.encode(buf),
            StartupPacket::SslRequest => encode_request(buf, "SSLRequest", SSL_REQUEST_CODE),
            StartupPacket::GssEncRequest => {
                encode_request(buf, "GSSENCRequest", GSSENC_REQUEST_CODE)
            }
            StartupPacket::CancelRequest(request) => request.encode(buf),
        }
    }
}

fn encode_request(buf: &mut BytesMut, message: &'static str, code: u32) -> Result<(), EncodeError> {
    write_limited_message(
        buf,
        None,
        message,
        MIN_STARTUP_PACKET_LEN,
        |w: &mut Writer<'_>| {
            w.u32(code);
            Ok(())
        },
    )
}

/// Decodes a startup-phase packet.
pub fn decode_startup(frame: &StartupFrame) -> Result<StartupPacket<'_>, DecodeError> {
    let mut reader = Reader::new("Startup", &frame.body);
    let code = reader.u32(Field::named("protocol version"))?;

    match code {
        CANCEL_REQUEST_CODE => decode_cancel_request(&frame.body).map(StartupPacket::CancelRequest),
        SSL_REQUEST_CODE => {
            check_bare_request("SSLRequest", frame).map(|()| StartupPacket::SslRequest)
        }
        GSSENC_REQUEST_CODE => {
            check_bare_request("GSSENCRequest", frame).map(|()| StartupPacket::GssEncRequest)
        }
        _ => {
            let major = (code >> 16) as u16;
            let minor = (code & 0xffff) as u16;
            if major != 3 {
                return Err(DecodeError::UnsupportedProtocolVersion { major, minor });
            }
            let parameters = decode_parameters(reader)?;
            Ok(StartupPacket::Startup(StartupMessage {
                version: ProtocolVersion::v3(minor),
                parameters,
            }))
        }
    }
}

fn check_bare_request(message: &'static str, frame: &StartupFrame) -> Result<(), DecodeError> {
    if frame.raw.len() != MIN_STARTUP_PACKET_LEN {
        return Err(DecodeError::RequestLengthInvalid {
            message,
            length: frame.raw.len(),
        });
    }
    Ok(())
}

/// PostgreSQL 18 accepts a key of 1 to 256 bytes here, whatever protocol
/// version the canceled session uses, because a CancelRequest arrives on a
/// connection of its own.
fn decode_cancel_request(body: &Bytes) -> Result<CancelRequest, DecodeError> {
    let mut reader = Reader::new("CancelRequest", body);
    reader.u32(Field::named("request code"))?;
    let process_id = reader.i32(Field::named("process ID"))?;
    let secret_key = reader.rest();
    if secret_key.is_empty() || secret_key.len() > MAX_SECRET_KEY_LEN {
        return Err(DecodeError::SecretKeyLengthInvalid {
            message: "CancelRequest",
            length: secret_key.len(),
        });
    }
    Ok(CancelRequest {
        process_id,
        secret_key,
    })
}

/// Reads name/value pairs up to the terminating empty name, which must be
/// the last byte of the packet (PostgreSQL rejects anything after it with
/// "invalid startup packet layout: expected terminator as last byte").
fn decode_parameters<'a>(mut reader: Reader<'a>) -> Result<Vec<(&'a str, &'a str)>, DecodeError> {
    let mut parameters = Vec::new();
    let mut seen = HashSet::new();

    for index in 0.. {
        if reader.remaining() == 0 {
            return Err(DecodeError::Truncated {
                message: "Startup",
                field: Field::named("parameter list terminator"),
            });
        }
        let name = reader.cstr(Field::indexed("parameter name", index))?;
        if name.is_empty() {
            break;
        }
        let value = reader.cstr(Field::indexed("parameter value", index))?;
        if !seen.insert(name) {
            return Err(DecodeError::DuplicateStartupParameter {
                name: name.to_owned(),
            });
        }
        parameters.push((name, value));
    }

    reader.finish()?;
    Ok(parameters)
}
