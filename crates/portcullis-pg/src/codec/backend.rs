//! Messages that the server sends.

use std::fmt;

use bytes::{Bytes, BytesMut};

use super::auth::Authentication;
use super::error::{DecodeError, Direction, EncodeError, Field, Tag};
use super::error_response::ErrorFields;
use super::frame::Frame;
use super::frontend::{decode_empty, encode_empty};
use super::reader::Reader;
use super::redact::Redacted;
use super::rows::{CopyData, CopyResponse, DataRow, FunctionCallResponse, RowDescription};
use super::startup::{check_secret_key_len, MAX_SECRET_KEY_LEN};
use super::writer::write_message;

/// A backend message, borrowing its strings from the [`Frame`] it was decoded from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendMessage<'a> {
    /// 'R': an authentication request or outcome.
    Authentication(Authentication<'a>),
    /// 'S': the current value of a run-time parameter.
    ParameterStatus(ParameterStatus<'a>),
    /// 'K': the cancel key of the session.
    BackendKeyData(BackendKeyData),
    /// 'Z': the server is ready for a new query cycle.
    ReadyForQuery(ReadyForQuery),
    /// 'T': the columns of the rows that follow.
    RowDescription(RowDescription<'a>),
    /// 'D': one result row.
    DataRow(DataRow),
    /// 'C': a statement finished.
    CommandComplete(CommandComplete<'a>),
    /// 'E': an error.
    ErrorResponse(ErrorFields<'a>),
    /// 'N': a notice.
    NoticeResponse(ErrorFields<'a>),
    /// 'I': the query string was empty (instead of CommandComplete).
    EmptyQueryResponse,
    /// '1': Parse completed.
    ParseComplete,
    /// '2': Bind completed.
    BindComplete,
    /// '3': Close completed.
    CloseComplete,
    /// 'n': the statement or portal returns no rows.
    NoData,
    /// 't': the parameter types of a prepared statement.
    ParameterDescription(ParameterDescription),
    /// 's': Execute reached its row limit.
    PortalSuspended,
    /// 'G': the server expects COPY data from the client.
    CopyInResponse(CopyResponse),
    /// 'H': COPY data from the server follows.
    CopyOutResponse(CopyResponse),
    /// 'W': COPY in both directions (streaming replication).
    CopyBothResponse(CopyResponse),
    /// 'd': COPY TO STDOUT data.
    CopyData(CopyData),
    /// 'c': end of COPY TO STDOUT data.
    CopyDone,
    /// 'A': a NOTIFY on a channel the session listens on.
    NotificationResponse(NotificationResponse<'a>),
    /// 'v': the server supports an older minor version or not all protocol options.
    NegotiateProtocolVersion(NegotiateProtocolVersion<'a>),
    /// 'V': the result of a FunctionCall.
    FunctionCallResponse(FunctionCallResponse),
}

/// Decodes a backend message; an unknown type byte is an error.
pub fn decode_backend(frame: &Frame) -> Result<BackendMessage<'_>, DecodeError> {
    let body = frame.body();
    let message = match frame.tag() {
        b'R' => BackendMessage::Authentication(Authentication::decode(body)?),
        b'S' => BackendMessage::ParameterStatus(ParameterStatus::decode(body)?),
        b'K' => BackendMessage::BackendKeyData(BackendKeyData::decode(body)?),
        b'Z' => BackendMessage::ReadyForQuery(ReadyForQuery::decode(body)?),
        b'T' => BackendMessage::RowDescription(RowDescription::decode(body)?),
        b'D' => BackendMessage::DataRow(DataRow::decode(body)?),
        b'C' => BackendMessage::CommandComplete(CommandComplete::decode(body)?),
        b'E' => BackendMessage::ErrorResponse(ErrorFields::decode("ErrorResponse", body)?),
        b'N' => BackendMessage::NoticeResponse(ErrorFields::decode("NoticeResponse", body)?),
        b'I' => {
            decode_empty("EmptyQueryResponse", body).map(|()| BackendMessage::EmptyQueryResponse)?
        }
        b'1' => decode_empty("ParseComplete", body).map(|()| BackendMessage::ParseComplete)?,
        b'2' => decode_empty("BindComplete", body).map(|()| BackendMessage::BindComplete)?,
        b'3' => decode_empty("CloseComplete", body).map(|()| BackendMessage::CloseComplete)?,
        b'n' => decode_empty("NoData", body).map(|()| BackendMessage::NoData)?,
        b't' => BackendMessage::ParameterDescription(ParameterDescription::decode(body)?),
        b's' => decode_empty("PortalSuspended", body).map(|()| BackendMessage::PortalSuspended)?,
        b'G' => BackendMessage::CopyInResponse(CopyResponse::decode("CopyInResponse", body)?),
        b'H' => BackendMessage::CopyOutResponse(CopyResponse::decode("CopyOutResponse", body)?),
        b'W' => BackendMessage::CopyBothResponse(CopyResponse::decode("CopyBothResponse", body)?),
        b'd' => BackendMessage::CopyData(CopyData { data: body.clone() }),
        b'c' => decode_empty("CopyDone", body).map(|()| BackendMessage::CopyDone)?,
        b'A' => BackendMessage::NotificationResponse(NotificationResponse::decode(body)?),
        b'v' => BackendMessage::NegotiateProtocolVersion(NegotiateProtocolVersion::decode(body)?),
        b'V' => BackendMessage::FunctionCallResponse(FunctionCallResponse::decode(body)?),
        tag => {
            return Err(DecodeError::UnknownMessageType {
                direction: Direction::Backend,
                tag: Tag(tag),
            })
        }
    };
    Ok(message)
}

impl BackendMessage<'_> {
    /// Encodes the message.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        match self {
            BackendMessage::Authentication(message) => message.encode(buf),
            BackendMessage::ParameterStatus(message) => message.encode(buf),
            BackendMessage::BackendKeyData(message) => message.encode(buf),
            BackendMessage::ReadyForQuery(message) => message.encode(buf),
            BackendMessage::RowDescription(message) => message.encode(buf),
            BackendMessage::DataRow(message) => message.encode(buf),
            BackendMessage::CommandComplete(message) => message.encode(buf),
            BackendMessage::ErrorResponse(fields) => fields.encode(buf, b'E', "ErrorResponse"),
            BackendMessage::NoticeResponse(fields) => fields.encode(buf, b'N', "NoticeResponse"),
            BackendMessage::EmptyQueryResponse => encode_empty(buf, b'I', "EmptyQueryResponse"),
            BackendMessage::ParseComplete => encode_empty(buf, b'1', "ParseComplete"),
            BackendMessage::BindComplete => encode_empty(buf, b'2', "BindComplete"),
            BackendMessage::CloseComplete => encode_empty(buf, b'3', "CloseComplete"),
            BackendMessage::NoData => encode_empty(buf, b'n', "NoData"),
            BackendMessage::ParameterDescription(message) => message.encode(buf),
            BackendMessage::PortalSuspended => encode_empty(buf, b's', "PortalSuspended"),
            BackendMessage::CopyInResponse(message) => message.encode(buf, b'G', "CopyInResponse"),
            BackendMessage::CopyOutResponse(message) => {
                message.encode(buf, b'H', "CopyOutResponse")
            }
            BackendMessage::CopyBothResponse(message) => {
                message.encode(buf, b'W', "CopyBothResponse")
            }
            BackendMessage::CopyData(message) => message.encode(buf),
            BackendMessage::CopyDone => encode_empty(buf, b'c', "CopyDone"),
            BackendMessage::NotificationResponse(message) => message.encode(buf),
            BackendMessage::NegotiateProtocolVersion(message) => message.encode(buf),
            BackendMessage::FunctionCallResponse(message) => message.encode(buf),
        }
    }
}

/// ParameterStatus ('S').
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterStatus<'a> {
    /// Run-time parameter name, such as `server_version`.
    pub name: &'a str,
    /// Its current value.
    pub value: &'a str,
}

impl<'a> ParameterStatus<'a> {
    fn decode(body: &'a Bytes) -> Result<Self, DecodeError> {
        let mut reader = Reader::new("ParameterStatus", body);
        let name = reader.cstr(Field::named("parameter name"))?;
        let value = reader.cstr(Field::named("parameter value"))?;
        reader.finish()?;
        Ok(ParameterStatus { name, value })
    }

    /// Encodes the message.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        write_message(buf, Some(b'S'), "ParameterStatus", |w| {
            w.cstr(Field::named("parameter name"), self.name)?;
            w.cstr(Field::named("parameter value"), self.value)
        })
    }
}

/// BackendKeyData ('K'): what a client needs to send a CancelRequest.
#[derive(Clone, PartialEq, Eq)]
pub struct BackendKeyData {
    /// Process ID of the backend.
    pub process_id: i32,
    /// Secret key, 4 bytes long before protocol 3.2. From 3.2 on it runs to
    /// the end of the message and is at most 256 bytes long (PostgreSQL 18 sends 32).
    pub secret_key: Bytes,
}

impl BackendKeyData {
    fn decode(body: &Bytes) -> Result<Self, DecodeError> {
        let mut reader = Reader::new("BackendKeyData", body);
        let process_id = reader.i32(Field::named("process ID"))?;
        let secret_key = reader.rest();
        if secret_key.is_empty() || secret_key.len() > MAX_SECRET_KEY_LEN {
            return Err(DecodeError::SecretKeyLengthInvalid {
                message: "BackendKeyData",
                length: secret_key.len(),
            });
        }
        Ok(BackendKeyData {
            process_id,
            secret_key,
        })
    }

    /// Encodes the message.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        check_secret_key_len("BackendKeyData", &self.secret_key)?;
        write_message(buf, Some(b'K'), "BackendKeyData", |w| {
            w.i32(self.process_id);
            w.bytes(&self.secret_key);
            Ok(())
        })
    }
}

impl fmt::Debug for BackendKeyData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackendKeyData")
            .field("process_id", &self.process_id)
            .field("secret_key", &Redacted(self.secret_key.len()))
            .finish()
    }
}

/// Transaction status reported by ReadyForQuery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransactionStatus {
    /// 'I': not in a transaction block.
    Idle,
    /// 'T': in a transaction block.
    InTransaction,
    /// 'E': in a failed transaction block; statements are rejected until it ends.
    Failed,
}

/// ReadyForQuery ('Z').
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadyForQuery {
    /// Transaction status of the session.
    pub status: TransactionStatus,
}

impl ReadyForQuery {
    fn decode(body: &Bytes) -> Result<Self, DecodeError> {
        let mut reader = Reader::new("ReadyForQuery", body);
        let field = Field::named("transaction status");
        let status = match reader.u8(field)? {
            b'I' => TransactionStatus::Idle,
            b'T' => TransactionStatus::InTransaction,
            b'E' => TransactionStatus::Failed,
            other => return Err(reader.invalid_byte(field, other)),
        };
        reader.finish()?;
        Ok(ReadyForQuery { status })
    }

    /// Encodes the message.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        write_message(buf, Some(b'Z'), "ReadyForQuery", |w| {
            w.u8(match self.status {
                TransactionStatus::Idle => b'I',
                TransactionStatus::InTransaction => b'T',
                TransactionStatus::Failed => b'E',
            });
            Ok(())
        })
    }
}

/// CommandComplete ('C').
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandComplete<'a> {
    /// Command tag, such as `SELECT 5` or `INSERT 0 1`.
    pub tag: &'a str,
}

impl<'a> CommandComplete<'a> {
    fn decode(body: &'a Bytes) -> Result<Self, DecodeError> {
        let mut reader = Reader::new("CommandComplete", body);
        let tag = reader.cstr(Field::named("command tag"))?;
        reader.finish()?;
        Ok(CommandComplete { tag })
    }

    /// Returns the row count: the last word of a tag of two or more words
    /// when it is a number, as in `SELECT 5`, `INSERT 0 1` or `COPY 3`.
    pub fn rows(&self) -> Option<u64> {
        let (_, last) = self.tag.rsplit_once(' ')?;
        last.parse().ok()
    }

    /// Encodes the message.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        write_message(buf, Some(b'C'), "CommandComplete", |w| {
            w.cstr(Field::named("command tag"), self.tag)
        })
    }
}

/// ParameterDescription ('t').
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterDescription {
    /// Type OID of each parameter of the statement.
    pub types: Vec<u32>,
}

impl ParameterDescription {
    fn decode(body: &Bytes) -> Result<Self, DecodeError> {
        let mut reader = Reader::new("ParameterDescription", body);
        let count = reader.count16(Field::named("parameter count"), 4)?;
        let mut types = Vec::with_capacity(count);
        for index in 0..count {
            types.push(reader.u32(Field::indexed("parameter type", index))?);
        }
        reader.finish()?;
        Ok(ParameterDescription { types })
    }

    /// Encodes the message.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        write_message(buf, Some(b't'), "ParameterDescription", |w| {
            w.count16(Field::named("parameter count"), self.types.len())?;
            for oid in &self.types {
                w.u32(*oid);
            }
            Ok(())
        })
    }
}

/// NotificationResponse ('A').
#[derive(Clone, PartialEq, Eq)]
pub struct NotificationResponse<'a> {
    /// Process ID of the notifying backend.
    pub process_id: i32,
    /// Channel name.
    pub channel: &'a str,
    /// Payload string.
    pub payload: &'a str,
}

impl<'a> NotificationResponse<'a> {
    fn decode(body: &'a Bytes) -> Result<Self, DecodeError> {
        let mut reader = Reader::new("NotificationResponse", body);
        let process_id = reader.i32(Field::named("process ID"))?;
        let channel = reader.cstr(Field::named("channel name"))?;
        let payload = reader.cstr(Field::named("payload"))?;
        reader.finish()?;
        Ok(NotificationResponse {
            process_id,
            channel,
            payload,
        })
    }

    /// Encodes the message.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        write_message(buf, Some(b'A'), "NotificationResponse", |w| {
            w.i32(self.process_id);
            w.cstr(Field::named("channel name"), self.channel)?;
            w.cstr(Field::named("payload"), self.payload)
        })
    }
}

impl fmt::Debug for NotificationResponse<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NotificationResponse")
            .field("process_id", &self.process_id)
            .field("channel", &self.channel)
            .field("payload", &Redacted(self.payload.len()))
            .finish()
    }
}

/// NegotiateProtocolVersion ('v').
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiateProtocolVersion<'a> {
    /// Newest version the server supports for the requested major version.
    /// The documentation calls this the "newest minor protocol version",
    /// but PostgreSQL sends the whole version code (major << 16 | minor),
    /// and this field is that code.
    pub version: u32,
    /// Protocol options (`_pq_.` startup parameters) the server did not recognize.
    pub unrecognized_options: Vec<&'a str>,
}

impl<'a> NegotiateProtocolVersion<'a> {
    fn decode(body: &'a Bytes) -> Result<Self, DecodeError> {
        let mut reader = Reader::new("NegotiateProtocolVersion", body);
        let version = reader.u32(Field::named("protocol version"))?;
        let count = reader.count32(Field::named("option count"), 1)?;
        let mut unrecognized_options = Vec::with_capacity(count);
        for index in 0..count {
            unrecognized_options.push(reader.cstr(Field::indexed("option name", index))?);
        }
        reader.finish()?;
        Ok(NegotiateProtocolVersion {
            version,
            unrecognized_options,
        })
    }

    /// Encodes the message.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        write_message(buf, Some(b'v'), "NegotiateProtocolVersion", |w| {
            w.u32(self.version);
            w.count32(
                Field::named("option count"),
                self.unrecognized_options.len(),
            )?;
            for (index, option) in self.unrecognized_options.iter().enumerate() {
                w.cstr(Field::indexed("option name", index), option)?;
            }
            Ok(())
        })
    }
}
