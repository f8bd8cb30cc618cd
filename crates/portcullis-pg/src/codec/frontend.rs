//! Messages that the client sends after the startup phase.

use std::fmt;

use bytes::{Bytes, BytesMut};

use super::auth::AuthenticationResponse;
use super::error::{DecodeError, Direction, EncodeError, Field, Tag};
use super::extended::{format_for, Bind, Close, Describe, Execute, Parse};
use super::frame::Frame;
use super::reader::Reader;
use super::redact::{Redacted, RedactedValues};
use super::rows::CopyData;
use super::writer::write_message;
use super::Format;

/// A frontend message, borrowing its strings from the [`Frame`] it was decoded from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrontendMessage<'a> {
    /// 'Q': a simple query, which may hold several statements.
    Query(Query<'a>),
    /// 'P': create a prepared statement.
    Parse(Parse<'a>),
    /// 'B': bind parameters to a prepared statement, creating a portal.
    Bind(Bind<'a>),
    /// 'D': describe a prepared statement or portal.
    Describe(Describe<'a>),
    /// 'E': run a portal.
    Execute(Execute<'a>),
    /// 'C': close a prepared statement or portal.
    Close(Close<'a>),
    /// 'S': end an extended-query cycle; the server replies ReadyForQuery.
    Sync,
    /// 'H': ask the server to send pending output.
    Flush,
    /// 'X': end the session.
    Terminate,
    /// 'd': COPY FROM STDIN data.
    CopyData(CopyData),
    /// 'c': end of COPY FROM STDIN data.
    CopyDone,
    /// 'f': abort COPY FROM STDIN.
    CopyFail(CopyFail<'a>),
    /// 'F': call a function by OID (the legacy fast-path interface).
    FunctionCall(FunctionCall),
    /// 'p': a password, SASL or GSSAPI response. Only the authentication
    /// state determines which, so decode it with
    /// [`decode_password_message`](super::decode_password_message),
    /// [`decode_sasl_initial_response`](super::decode_sasl_initial_response)
    /// or [`decode_sasl_response`](super::decode_sasl_response).
    AuthenticationResponse(AuthenticationResponse),
}

/// Decodes a frontend message; an unknown type byte is an error.
pub fn decode_frontend(frame: &Frame) -> Result<FrontendMessage<'_>, DecodeError> {
    let body = frame.body();
    let message = match frame.tag() {
        b'Q' => FrontendMessage::Query(Query::decode(body)?),
        b'P' => FrontendMessage::Parse(Parse::decode(body)?),
        b'B' => FrontendMessage::Bind(Bind::decode(body)?),
        b'D' => FrontendMessage::Describe(Describe::decode(body)?),
        b'E' => FrontendMessage::Execute(Execute::decode(body)?),
        b'C' => FrontendMessage::Close(Close::decode(body)?),
        b'S' => decode_empty("Sync", body).map(|()| FrontendMessage::Sync)?,
        b'H' => decode_empty("Flush", body).map(|()| FrontendMessage::Flush)?,
        b'X' => decode_empty("Terminate", body).map(|()| FrontendMessage::Terminate)?,
        b'd' => FrontendMessage::CopyData(CopyData { data: body.clone() }),
        b'c' => decode_empty("CopyDone", body).map(|()| FrontendMessage::CopyDone)?,
        b'f' => FrontendMessage::CopyFail(CopyFail::decode(body)?),
        b'F' => FrontendMessage::FunctionCall(FunctionCall::decode(body)?),
        b'p' => {
            FrontendMessage::AuthenticationResponse(AuthenticationResponse { data: body.clone() })
        }
        tag => {
            return Err(DecodeError::UnknownMessageType {
                direction: Direction::Frontend,
                tag: Tag(tag),
            })
        }
    };
    Ok(message)
}

impl FrontendMessage<'_> {
    /// Encodes the message.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        match self {
            FrontendMessage::Query(message) => message.encode(buf),
            FrontendMessage::Parse(message) => message.encode(buf),
            FrontendMessage::Bind(message) => message.encode(buf),
            FrontendMessage::Describe(message) => message.encode(buf),
            FrontendMessage::Execute(message) => message.encode(buf),
            FrontendMessage::Close(message) => message.encode(buf),
            FrontendMessage::Sync => encode_empty(buf, b'S', "Sync"),
            FrontendMessage::Flush => encode_empty(buf, b'H', "Flush"),
            FrontendMessage::Terminate => encode_empty(buf, b'X', "Terminate"),
            FrontendMessage::CopyData(message) => message.encode(buf),
            FrontendMessage::CopyDone => encode_empty(buf, b'c', "CopyDone"),
            FrontendMessage::CopyFail(message) => message.encode(buf),
            FrontendMessage::FunctionCall(message) => message.encode(buf),
            FrontendMessage::AuthenticationResponse(message) => message.encode(buf),
        }
    }
}

/// Checks that a message with no fields has an empty body.
pub(crate) fn decode_empty(message: &'static str, body: &Bytes) -> Result<(), DecodeError> {
    Reader::new(message, body).finish()
}

pub(crate) fn encode_empty(
    buf: &mut BytesMut,
    tag: u8,
    message: &'static str,
) -> Result<(), EncodeError> {
    write_message(buf, Some(tag), message, |_| Ok(()))
}

/// Query ('Q').
#[derive(Clone, PartialEq, Eq)]
pub struct Query<'a> {
    /// SQL text; may hold several statements separated by semicolons.
    pub query: &'a str,
}

impl<'a> Query<'a> {
    fn decode(body: &'a Bytes) -> Result<Self, DecodeError> {
        let mut reader = Reader::new("Query", body);
        let query = reader.cstr(Field::named("query string"))?;
        reader.finish()?;
        Ok(Query { query })
    }

    /// Encodes the message.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        write_message(buf, Some(b'Q'), "Query", |w| {
            w.cstr(Field::named("query string"), self.query)
        })
    }
}

impl fmt::Debug for Query<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Query")
            .field("query", &Redacted(self.query.len()))
            .finish()
    }
}

/// CopyFail ('f').
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyFail<'a> {
    /// Error message that the server reports as the cause of the failure.
    pub message: &'a str,
}

impl<'a> CopyFail<'a> {
    fn decode(body: &'a Bytes) -> Result<Self, DecodeError> {
        let mut reader = Reader::new("CopyFail", body);
        let message = reader.cstr(Field::named("error message"))?;
        reader.finish()?;
        Ok(CopyFail { message })
    }

    /// Encodes the message.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        write_message(buf, Some(b'f'), "CopyFail", |w| {
            w.cstr(Field::named("error message"), self.message)
        })
    }
}

/// FunctionCall ('F').
#[derive(Clone, PartialEq, Eq)]
pub struct FunctionCall {
    /// OID of the function to call.
    pub function_oid: u32,
    /// Argument formats: none (all text), one (applies to all) or one per argument.
    pub argument_formats: Vec<Format>,
    /// Argument values, `None` for NULL.
    pub arguments: Vec<Option<Bytes>>,
    /// Format of the result.
    pub result_format: Format,
}

impl FunctionCall {
    fn decode(body: &Bytes) -> Result<Self, DecodeError> {
        let mut reader = Reader::new("FunctionCall", body);
        let function_oid = reader.u32(Field::named("function OID"))?;

        let count = reader.count16(Field::named("argument format count"), 2)?;
        let argument_formats = reader.formats(count, "argument format")?;

        let count = reader.count16(Field::named("argument count"), 4)?;
        let mut arguments = Vec::with_capacity(count);
        for index in 0..count {
            arguments.push(reader.value(Field::indexed("argument", index))?);
        }

        let result_format = reader.format16(Field::named("result format"))?;
        reader.finish()?;
        Ok(FunctionCall {
            function_oid,
            argument_formats,
            arguments,
            result_format,
        })
    }

    /// Returns the format of argument `index` (0-based), by the same rule
    /// as [`Bind::parameter_format`].
    pub fn argument_format(&self, index: usize) -> Option<Format> {
        format_for(&self.argument_formats, index)
    }

    /// Encodes the message.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        write_message(buf, Some(b'F'), "FunctionCall", |w| {
            w.u32(self.function_oid);
            w.formats(
                Field::named("argument format count"),
                &self.argument_formats,
            )?;
            w.count16(Field::named("argument count"), self.arguments.len())?;
            for (index, value) in self.arguments.iter().enumerate() {
                w.value(Field::indexed("argument", index), value.as_deref())?;
            }
            w.i16(self.result_format.code());
            Ok(())
        })
    }
}

impl fmt::Debug for FunctionCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FunctionCall")
            .field("function_oid", &self.function_oid)
            .field("argument_formats", &self.argument_formats)
            .field("arguments", &RedactedValues(&self.arguments))
            .field("result_format", &self.result_format)
            .finish()
    }
}
