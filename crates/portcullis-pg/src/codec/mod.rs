//! PostgreSQL frontend/backend wire codec: framing, typed decoding and
//! encoding, with no I/O.
//!
//! Field layouts follow the "Message Formats" section of the
//! "Frontend/Backend Protocol" chapter of the PostgreSQL documentation. The
//! PostgreSQL 18 edition describes protocol 3.2, which differs from 3.0 only
//! in the length of the cancel key.
//!
//! - [`FrameDecoder`] splits a receive buffer into [`Frame`]s, and
//!   [`decode_startup_frame`] does the same for the untagged startup-phase
//!   packets. The relay forwards a permitted frame exactly as received.
//! - [`decode_frontend`], [`decode_backend`] and [`decode_startup`] inspect a
//!   frame as a typed message that borrows its strings from the frame and
//!   slices its values out of it without copying. The 'p' message has no
//!   type of its own, so the authentication state picks one of
//!   [`decode_password_message`], [`decode_sasl_initial_response`] and
//!   [`decode_sasl_response`].
//! - Every typed message has an `encode` method that writes the exact bytes
//!   it was decoded from into a `BytesMut`.
//!
//! Decoders return an error instead of panicking: this module denies
//! indexing, `unwrap`, `expect` and `panic!`, and the fuzz targets exercise
//! the rest. They check every length and count against the bytes that
//! remain before reserving memory. String fields must be valid UTF-8
//! and a message that holds any other text is rejected, so the gateway has
//! to keep `client_encoding` at `UTF8` on both sides of the relay.
//!
//! The `Debug` output of a message never shows a password, SASL data, query
//! text, parameter, row value or error detail, because those may hold
//! credentials or ePHI. Debug output shows their lengths instead.

#![deny(
    unsafe_code,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

mod auth;
mod backend;
mod error;
mod error_response;
mod extended;
mod frame;
mod frontend;
mod fuzz;
mod reader;
mod redact;
mod rows;
mod sqlstate;
mod startup;
mod writer;

#[cfg(test)]
mod tests;

pub use auth::{
    decode_password_message, decode_sasl_initial_response, decode_sasl_response, Authentication,
    AuthenticationResponse, PasswordMessage, SaslInitialResponse, SaslResponse,
};
pub use backend::{
    decode_backend, BackendKeyData, BackendMessage, CommandComplete, NegotiateProtocolVersion,
    NotificationResponse, ParameterDescription, ParameterStatus, ReadyForQuery, TransactionStatus,
};
pub use error::{DecodeError, Direction, EncodeError, Field, Tag};
pub use error_response::{ErrorFields, ErrorReport, Severity};
pub use extended::{Bind, Close, Describe, Execute, Parse, Target};
pub use frame::{Frame, FrameDecoder, HEADER_LEN, POSTGRES_MAX_MESSAGE_SIZE};
pub use frontend::{decode_frontend, CopyFail, FrontendMessage, FunctionCall, Query};
pub use fuzz::{fuzz_backend, fuzz_frontend, fuzz_startup};
pub use rows::{
    CopyData, CopyResponse, DataRow, FieldDescription, FunctionCallResponse, RowDescription,
};
pub use sqlstate::{InvalidSqlState, SqlState};
pub use startup::{
    decode_startup, decode_startup_frame, CancelRequest, ProtocolVersion, StartupFrame,
    StartupMessage, StartupPacket, MAX_SECRET_KEY_LEN, MAX_STARTUP_PACKET_LEN,
    TLS_HANDSHAKE_RECORD_TYPE,
};

/// The format of a parameter, column or COPY stream.
///
/// The protocol reserves other codes for future use, and PostgreSQL rejects
/// them today, so the decoders reject them as well.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Code 0: the type's text input/output form.
    Text,
    /// Code 1: the type's binary send/receive form.
    Binary,
}

impl Format {
    /// Returns the format for a wire code, or `None` for a reserved code.
    pub fn from_code(code: i16) -> Option<Format> {
        match code {
            0 => Some(Format::Text),
            1 => Some(Format::Binary),
            _ => None,
        }
    }

    /// Returns the wire code.
    pub fn code(self) -> i16 {
        match self {
            Format::Text => 0,
            Format::Binary => 1,
        }
    }
}
