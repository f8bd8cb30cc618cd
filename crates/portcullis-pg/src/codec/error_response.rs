//! ErrorResponse ('E') and NoticeResponse ('N'), and a builder for the
//! errors the gateway sends itself.

use std::fmt;
use std::str::FromStr;

use bytes::{Bytes, BytesMut};

use super::error::{DecodeError, EncodeError, Field, Tag};
use super::reader::Reader;
use super::redact::Redacted;
use super::sqlstate::SqlState;
use super::writer::write_message;

/// Field type codes from "Error and Notice Message Fields" in the
/// PostgreSQL documentation.
const SEVERITY_LOCALIZED: u8 = b'S';
const SEVERITY: u8 = b'V';
const CODE: u8 = b'C';
const MESSAGE: u8 = b'M';
const DETAIL: u8 = b'D';
const HINT: u8 = b'H';

/// Fields of an ErrorResponse or NoticeResponse, in the order received.
///
/// Unknown field types and repeated fields are kept, so encoding returns
/// the received bytes unchanged; the accessors return the first occurrence.
#[derive(Clone, PartialEq, Eq)]
pub struct ErrorFields<'a> {
    /// Pairs of field type code and value.
    pub fields: Vec<(u8, &'a str)>,
}

impl<'a> ErrorFields<'a> {
    pub(crate) fn decode(message: &'static str, body: &'a Bytes) -> Result<Self, DecodeError> {
        let mut reader = Reader::new(message, body);
        let mut fields = Vec::new();
        for index in 0.. {
            let code = reader.u8(Field::named("field list terminator"))?;
            if code == 0 {
                break;
            }
            fields.push((code, reader.cstr(Field::indexed("field", index))?));
        }
        reader.finish()?;
        Ok(ErrorFields { fields })
    }

    pub(crate) fn encode(
        &self,
        buf: &mut BytesMut,
        tag: u8,
        message: &'static str,
    ) -> Result<(), EncodeError> {
        write_message(buf, Some(tag), message, |w| {
            for (index, (code, value)) in self.fields.iter().enumerate() {
                let field = Field::indexed("field", index);
                if *code == 0 {
                    return Err(EncodeError::ItemIsTerminator {
                        message: w.message(),
                        field,
                    });
                }
                w.u8(*code);
                w.cstr(field, value)?;
            }
            w.u8(0);
            Ok(())
        })
    }

    /// Returns the first field of type `code`.
    pub fn get(&self, code: u8) -> Option<&'a str> {
        self.fields
            .iter()
            .find(|(field_code, _)| *field_code == code)
            .map(|(_, value)| *value)
    }

    /// Returns the severity, preferring the never-localized 'V' field
    /// (PostgreSQL 9.6 and later) over the possibly localized 'S'.
    pub fn severity(&self) -> Option<&'a str> {
        self.get(SEVERITY).or_else(|| self.get(SEVERITY_LOCALIZED))
    }

    /// Returns the SQLSTATE ('C'), or `None` when it is missing or malformed.
    pub fn code(&self) -> Option<SqlState> {
        self.get(CODE)
            .and_then(|code| SqlState::from_str(code).ok())
    }

    /// Returns the primary message ('M').
    pub fn message(&self) -> Option<&'a str> {
        self.get(MESSAGE)
    }

    /// Returns the detail ('D').
    pub fn detail(&self) -> Option<&'a str> {
        self.get(DETAIL)
    }

    /// Returns the hint ('H').
    pub fn hint(&self) -> Option<&'a str> {
        self.get(HINT)
    }
}

/// Shows the severity and SQLSTATE; other values are shown as sizes,
/// because a message or detail may quote row values.
impl fmt::Debug for ErrorFields<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        for (code, value) in &self.fields {
            match *code {
                SEVERITY | SEVERITY_LOCALIZED | CODE => list.entry(&(Tag(*code), value)),
                _ => list.entry(&(Tag(*code), Redacted(value.len()))),
            };
        }
        list.finish()
    }
}

/// Severity of an error or notice, as PostgreSQL spells it in the 'V' field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Severity {
    /// The statement failed; the session continues.
    Error,
    /// The session ends.
    Fatal,
    /// All sessions end.
    Panic,
    /// A notice that something may be wrong.
    Warning,
    /// A notice for the user.
    Notice,
    /// A debugging notice.
    Debug,
    /// An informational notice the user asked for.
    Info,
    /// A notice meant for administrators.
    Log,
}

impl Severity {
    /// Returns the name sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "ERROR",
            Severity::Fatal => "FATAL",
            Severity::Panic => "PANIC",
            Severity::Warning => "WARNING",
            Severity::Notice => "NOTICE",
            Severity::Debug => "DEBUG",
            Severity::Info => "INFO",
            Severity::Log => "LOG",
        }
    }

    /// Returns whether the severity belongs in an ErrorResponse rather than a NoticeResponse.
    pub fn is_error(self) -> bool {
        matches!(self, Severity::Error | Severity::Fatal | Severity::Panic)
    }
}

/// An error or notice that the gateway sends itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorReport<'a> {
    /// Severity; decides between ErrorResponse and NoticeResponse.
    pub severity: Severity,
    /// SQLSTATE.
    pub code: SqlState,
    /// Primary message: one line that states what failed.
    pub message: &'a str,
    /// Optional detail.
    pub detail: Option<&'a str>,
    /// Optional hint: what the user can do next.
    pub hint: Option<&'a str>,
}

impl<'a> ErrorReport<'a> {
    /// Creates a report with no detail or hint.
    pub fn new(severity: Severity, code: SqlState, message: &'a str) -> Self {
        Self {
            severity,
            code,
            message,
            detail: None,
            hint: None,
        }
    }

    /// Sets the detail.
    pub fn with_detail(mut self, detail: &'a str) -> Self {
        self.detail = Some(detail);
        self
    }

    /// Sets the hint.
    pub fn with_hint(mut self, hint: &'a str) -> Self {
        self.hint = Some(hint);
        self
    }

    /// Encodes an ErrorResponse for ERROR, FATAL and PANIC and a
    /// NoticeResponse otherwise, with fields S, V, C, M and then D and H when set.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        let (tag, name) = if self.severity.is_error() {
            (b'E', "ErrorResponse")
        } else {
            (b'N', "NoticeResponse")
        };
        write_message(buf, Some(tag), name, |w| {
            let severity = self.severity.as_str();
            w.u8(SEVERITY_LOCALIZED);
            w.cstr(Field::named("severity"), severity)?;
            w.u8(SEVERITY);
            w.cstr(Field::named("severity"), severity)?;
            w.u8(CODE);
            w.cstr(Field::named("code"), self.code.as_str())?;
            w.u8(MESSAGE);
            w.cstr(Field::named("message"), self.message)?;
            if let Some(detail) = self.detail {
                w.u8(DETAIL);
                w.cstr(Field::named("detail"), detail)?;
            }
            if let Some(hint) = self.hint {
                w.u8(HINT);
                w.cstr(Field::named("hint"), hint)?;
            }
            w.u8(0);
            Ok(())
        })
    }
}
