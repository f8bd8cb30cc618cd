//! Decode and encode errors, each naming the message and field at fault.

use std::fmt;

use thiserror::Error;

use super::sqlstate::SqlState;

/// A message type byte, shown as `'Q'` when printable ASCII and as `0x05` otherwise.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tag(pub u8);

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_ascii_graphic() {
            write!(f, "'{}'", char::from(self.0))
        } else {
            write!(f, "0x{:02x}", self.0)
        }
    }
}

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The field of a message that an error refers to, such as "portal name" or
/// "parameter 3" (indexes are 1-based, as in `$1`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Field {
    name: &'static str,
    index: Option<usize>,
}

impl Field {
    /// Creates a field reference for a single named field.
    pub const fn named(name: &'static str) -> Self {
        Self { name, index: None }
    }

    /// Creates a field reference for the element at 0-based `index` of a list;
    /// it displays 1-based.
    pub const fn indexed(name: &'static str, index: usize) -> Self {
        Self {
            name,
            index: Some(index),
        }
    }

    /// Returns the field name without the index.
    pub const fn name(&self) -> &'static str {
        self.name
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.index {
            Some(index) => write!(f, "{} {}", self.name, index.saturating_add(1)),
            None => f.write_str(self.name),
        }
    }
}

impl fmt::Debug for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Sender of a message: the client or the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// The client (frontend).
    Frontend,
    /// The server (backend).
    Backend,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::Frontend => "frontend",
            Direction::Backend => "backend",
        })
    }
}

/// A violation of the wire format found while framing or decoding a message.
///
/// After a framing error (the first four variants) the byte stream has lost
/// message boundaries, so the connection must be closed. After an error in a
/// typed decode the frame boundaries are still intact, but PostgreSQL itself
/// treats malformed messages as fatal protocol violations.
///
/// No variant carries a field value, so an error can be logged or sent to the
/// client without leaking a password, parameter or row value. The exception
/// is [`DecodeError::DuplicateStartupParameter`], which carries the parameter
/// name (never its value).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// The length field of a tagged message is below 4, the size of the length field itself.
    #[error("message of type {tag} has length {length}, below the minimum of 4 (the length field itself)")]
    LengthTooSmall {
        /// Message type byte.
        tag: Tag,
        /// Length field as received.
        length: i32,
    },

    /// The length field of a tagged message is above the configured maximum.
    #[error("message of {length} bytes exceeds the maximum of {max} bytes; raise postgres.max_message_bytes to allow it")]
    MessageTooLarge {
        /// Message type byte.
        tag: Tag,
        /// Length field as received, which counts itself but not the type byte.
        length: u64,
        /// Configured maximum for the length field.
        max: usize,
    },

    /// The length field of a startup-phase packet is outside 8..=10004.
    #[error("startup packet length {length} is invalid: it must be between {min} and {max} bytes")]
    StartupLengthInvalid {
        /// Length field as received.
        length: i32,
        /// Smallest valid length.
        min: usize,
        /// Largest valid length.
        max: usize,
    },

    /// The startup packet requests a protocol major version other than 3.
    #[error("unsupported frontend protocol {major}.{minor}: only protocol version 3 is supported")]
    UnsupportedProtocolVersion {
        /// Major version (most significant 16 bits).
        major: u16,
        /// Minor version (least significant 16 bits).
        minor: u16,
    },

    /// A fixed-size startup-phase request (SSLRequest, GSSENCRequest) has the wrong length.
    #[error("{message} has length {length}, but it must be exactly 8")]
    RequestLengthInvalid {
        /// Request name.
        message: &'static str,
        /// Length field as received.
        length: usize,
    },

    /// A cancel key is empty or longer than the protocol maximum of 256 bytes.
    #[error("{message} message: secret key length {length} is invalid: it must be 1 to 256 bytes")]
    SecretKeyLengthInvalid {
        /// Message name.
        message: &'static str,
        /// Key length in bytes.
        length: usize,
    },

    /// The body ends before the named field is complete.
    #[error("{message} message is truncated at {field}")]
    Truncated {
        /// Message name.
        message: &'static str,
        /// Field that is incomplete.
        field: Field,
    },

    /// A string field runs to the end of the body without a NUL terminator.
    #[error("{message} message: {field} has no NUL terminator")]
    MissingNul {
        /// Message name.
        message: &'static str,
        /// String field.
        field: Field,
    },

    /// A string field is not valid UTF-8.
    #[error("{message} message: {field} is not valid UTF-8")]
    InvalidUtf8 {
        /// Message name.
        message: &'static str,
        /// String field.
        field: Field,
    },

    /// A value length is below -1 (the NULL marker) or otherwise impossible.
    #[error("{message} message: {field} length {length} is invalid")]
    InvalidValueLength {
        /// Message name.
        message: &'static str,
        /// Value field.
        field: Field,
        /// Length as received.
        length: i32,
    },

    /// An Int32 count is negative.
    #[error("{message} message: {field} {count} is negative")]
    NegativeCount {
        /// Message name.
        message: &'static str,
        /// Count field.
        field: Field,
        /// Count as received.
        count: i32,
    },

    /// A count announces more items than the rest of the body can contain.
    #[error("{message} message: {field} {count} needs at least {needed} bytes, but only {remaining} remain")]
    CountExceedsBody {
        /// Message name.
        message: &'static str,
        /// Count field.
        field: Field,
        /// Count as received.
        count: u64,
        /// Minimum number of bytes that `count` items take.
        needed: u64,
        /// Bytes left in the body after the count.
        remaining: usize,
    },

    /// A format code is neither 0 (text) nor 1 (binary).
    #[error(
        "{message} message: {field} {code} is invalid: format codes must be 0 (text) or 1 (binary)"
    )]
    InvalidFormatCode {
        /// Message name.
        message: &'static str,
        /// Format code field.
        field: Field,
        /// Code as received.
        code: i16,
    },

    /// A one-byte field contains a value that the protocol does not define.
    #[error("{message} message: {field} {value} is invalid")]
    InvalidByte {
        /// Message name.
        message: &'static str,
        /// Byte field.
        field: Field,
        /// Byte as received.
        value: Tag,
    },

    /// Bytes remain after the last field of the message.
    #[error("{message} message has {count} unexpected bytes after its last field")]
    TrailingBytes {
        /// Message name.
        message: &'static str,
        /// Number of extra bytes.
        count: usize,
    },

    /// The message type byte is not one the protocol defines for this direction.
    #[error("unknown {direction} message type {tag}")]
    UnknownMessageType {
        /// Sender of the message.
        direction: Direction,
        /// Message type byte.
        tag: Tag,
    },

    /// A decoder for one message type was given a frame of another type.
    #[error("expected {expected}, but got a message of type {tag}")]
    UnexpectedMessageType {
        /// Message name the decoder handles.
        expected: &'static str,
        /// Message type byte of the frame.
        tag: Tag,
    },

    /// An Authentication ('R') message carries a request code the protocol does not define.
    #[error("Authentication message: request code {code} is unknown")]
    UnknownAuthenticationCode {
        /// Code as received.
        code: i32,
    },

    /// A startup parameter name appears twice, which PostgreSQL would resolve
    /// silently by taking the last one.
    #[error("Startup message: parameter \"{name}\" appears more than once")]
    DuplicateStartupParameter {
        /// Parameter name.
        name: String,
    },
}

impl DecodeError {
    /// Returns the SQLSTATE to report to the peer for this error.
    ///
    /// PostgreSQL reports an unsupported protocol version as
    /// feature_not_supported and every other malformed message as
    /// protocol_violation. A message above the gateway's own size limit is
    /// program_limit_exceeded, because the message may be valid.
    pub fn sqlstate(&self) -> SqlState {
        match self {
            DecodeError::MessageTooLarge { .. } => SqlState::PROGRAM_LIMIT_EXCEEDED,
            DecodeError::UnsupportedProtocolVersion { .. } => SqlState::FEATURE_NOT_SUPPORTED,
            _ => SqlState::PROTOCOL_VIOLATION,
        }
    }
}

/// A message that cannot be represented on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EncodeError {
    /// A string contains a NUL byte, which would end it early on the wire.
    #[error(
        "{message} message: {field} contains a NUL byte, which a protocol string cannot contain"
    )]
    InteriorNul {
        /// Message name.
        message: &'static str,
        /// String field.
        field: Field,
    },

    /// The encoded message would exceed its length limit: the Int32 length
    /// field, or 10004 bytes for a startup packet.
    #[error("{message} message of {length} bytes exceeds the protocol maximum of {max} bytes")]
    MessageTooLong {
        /// Message name.
        message: &'static str,
        /// Length field the message would have.
        length: usize,
        /// Largest allowed length field.
        max: usize,
    },

    /// A list item would be read back as the terminator of its list: an
    /// empty startup parameter name or SASL mechanism name, or an error
    /// field type of 0.
    #[error("{message} message: {field} would be read as the end of the list")]
    ItemIsTerminator {
        /// Message name.
        message: &'static str,
        /// List item.
        field: Field,
    },

    /// A value is longer than its Int32 length prefix can express.
    #[error("{message} message: {field} of {length} bytes exceeds the protocol maximum of 2147483647 bytes")]
    ValueTooLong {
        /// Message name.
        message: &'static str,
        /// Value field.
        field: Field,
        /// Value length.
        length: usize,
    },

    /// A list has more items than its count field can express.
    #[error("{message} message: {count} items in {field} exceed the maximum of {max}")]
    TooManyItems {
        /// Message name.
        message: &'static str,
        /// List field.
        field: Field,
        /// Number of items.
        count: usize,
        /// Maximum the count field can express.
        max: usize,
    },

    /// A cancel key is empty or longer than 256 bytes.
    #[error("{message} message: secret key length {length} is invalid: it must be 1 to 256 bytes")]
    SecretKeyLengthInvalid {
        /// Message name.
        message: &'static str,
        /// Key length in bytes.
        length: usize,
    },
}
