//! Extended-query messages: Parse, Bind, Describe, Execute and Close.

use std::fmt;

use bytes::{Bytes, BytesMut};

use super::error::{DecodeError, EncodeError, Field};
use super::reader::Reader;
use super::redact::{Redacted, RedactedValues};
use super::writer::write_message;
use super::Format;

/// Parse ('P').
#[derive(Clone, PartialEq, Eq)]
pub struct Parse<'a> {
    /// Prepared statement name; empty for the unnamed statement.
    pub name: &'a str,
    /// SQL text of one statement.
    pub query: &'a str,
    /// Parameter type OIDs that the client specifies; 0 leaves a type unspecified.
    pub parameter_types: Vec<u32>,
}

impl<'a> Parse<'a> {
    pub(crate) fn decode(body: &'a Bytes) -> Result<Self, DecodeError> {
        let mut reader = Reader::new("Parse", body);
        let name = reader.cstr(Field::named("statement name"))?;
        let query = reader.cstr(Field::named("query string"))?;
        let count = reader.count16(Field::named("parameter type count"), 4)?;
        let mut parameter_types = Vec::with_capacity(count);
        for index in 0..count {
            parameter_types.push(reader.u32(Field::indexed("parameter type", index))?);
        }
        reader.finish()?;
        Ok(Parse {
            name,
            query,
            parameter_types,
        })
    }

    /// Encodes the message.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        write_message(buf, Some(b'P'), "Parse", |w| {
            w.cstr(Field::named("statement name"), self.name)?;
            w.cstr(Field::named("query string"), self.query)?;
            w.count16(
                Field::named("parameter type count"),
                self.parameter_types.len(),
            )?;
            for oid in &self.parameter_types {
                w.u32(*oid);
            }
            Ok(())
        })
    }
}

impl fmt::Debug for Parse<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Parse")
            .field("name", &self.name)
            .field("query", &Redacted(self.query.len()))
            .field("parameter_types", &self.parameter_types)
            .finish()
    }
}

/// Bind ('B').
///
/// Decoding reserves at most one parameter entry per 4 body bytes, because
/// every parameter takes at least its Int32 length on the wire.
#[derive(Clone, PartialEq, Eq)]
pub struct Bind<'a> {
    /// Destination portal name; empty for the unnamed portal.
    pub portal: &'a str,
    /// Source prepared statement name; empty for the unnamed statement.
    pub statement: &'a str,
    /// Parameter formats: none (all text), one (applies to all) or one per parameter.
    pub parameter_formats: Vec<Format>,
    /// Parameter values, `None` for NULL, sliced from the frame without copying.
    pub parameters: Vec<Option<Bytes>>,
    /// Result column formats: none (all text), one (applies to all) or one per column.
    pub result_formats: Vec<Format>,
}

impl<'a> Bind<'a> {
    pub(crate) fn decode(body: &'a Bytes) -> Result<Self, DecodeError> {
        let mut reader = Reader::new("Bind", body);
        let portal = reader.cstr(Field::named("portal name"))?;
        let statement = reader.cstr(Field::named("statement name"))?;

        let count = reader.count16(Field::named("parameter format count"), 2)?;
        let parameter_formats = reader.formats(count, "parameter format")?;

        let count = reader.count16(Field::named("parameter count"), 4)?;
        let mut parameters = Vec::with_capacity(count);
        for index in 0..count {
            parameters.push(reader.value(Field::indexed("parameter", index))?);
        }

        let count = reader.count16(Field::named("result format count"), 2)?;
        let result_formats = reader.formats(count, "result format")?;

        reader.finish()?;
        Ok(Bind {
            portal,
            statement,
            parameter_formats,
            parameters,
            result_formats,
        })
    }

    /// Returns the format of parameter `index` (0-based): text when no format
    /// codes are given, the single code when one is given, and otherwise the
    /// code at `index`, or `None` when the list is too short.
    pub fn parameter_format(&self, index: usize) -> Option<Format> {
        format_for(&self.parameter_formats, index)
    }

    /// Encodes the message.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        write_message(buf, Some(b'B'), "Bind", |w| {
            w.cstr(Field::named("portal name"), self.portal)?;
            w.cstr(Field::named("statement name"), self.statement)?;
            w.formats(
                Field::named("parameter format count"),
                &self.parameter_formats,
            )?;
            w.count16(Field::named("parameter count"), self.parameters.len())?;
            for (index, value) in self.parameters.iter().enumerate() {
                w.value(Field::indexed("parameter", index), value.as_deref())?;
            }
            w.formats(Field::named("result format count"), &self.result_formats)
        })
    }
}

/// Applies the rule shared by Bind and FunctionCall: no codes means text,
/// one code applies to all, otherwise there is one code per item.
pub(crate) fn format_for(formats: &[Format], index: usize) -> Option<Format> {
    match formats {
        [] => Some(Format::Text),
        [format] => Some(*format),
        formats => formats.get(index).copied(),
    }
}

impl fmt::Debug for Bind<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bind")
            .field("portal", &self.portal)
            .field("statement", &self.statement)
            .field("parameter_formats", &self.parameter_formats)
            .field("parameters", &RedactedValues(&self.parameters))
            .field("result_formats", &self.result_formats)
            .finish()
    }
}

/// Whether Describe or Close refers to a prepared statement or a portal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    /// 'S': a prepared statement.
    Statement,
    /// 'P': a portal.
    Portal,
}

impl Target {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let field = Field::named("target type");
        match reader.u8(field)? {
            b'S' => Ok(Target::Statement),
            b'P' => Ok(Target::Portal),
            other => Err(reader.invalid_byte(field, other)),
        }
    }

    fn code(self) -> u8 {
        match self {
            Target::Statement => b'S',
            Target::Portal => b'P',
        }
    }
}

/// Describe ('D').
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Describe<'a> {
    /// Statement or portal.
    pub target: Target,
    /// Its name; empty for the unnamed one.
    pub name: &'a str,
}

impl<'a> Describe<'a> {
    pub(crate) fn decode(body: &'a Bytes) -> Result<Self, DecodeError> {
        let (target, name) = decode_target_and_name("Describe", body)?;
        Ok(Describe { target, name })
    }

    /// Encodes the message.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        encode_target_and_name(buf, b'D', "Describe", self.target, self.name)
    }
}

/// Close ('C').
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Close<'a> {
    /// Statement or portal.
    pub target: Target,
    /// Its name; empty for the unnamed one.
    pub name: &'a str,
}

impl<'a> Close<'a> {
    pub(crate) fn decode(body: &'a Bytes) -> Result<Self, DecodeError> {
        let (target, name) = decode_target_and_name("Close", body)?;
        Ok(Close { target, name })
    }

    /// Encodes the message.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        encode_target_and_name(buf, b'C', "Close", self.target, self.name)
    }
}

fn decode_target_and_name<'a>(
    message: &'static str,
    body: &'a Bytes,
) -> Result<(Target, &'a str), DecodeError> {
    let mut reader = Reader::new(message, body);
    let target = Target::decode(&mut reader)?;
    let name = reader.cstr(Field::named("name"))?;
    reader.finish()?;
    Ok((target, name))
}

fn encode_target_and_name(
    buf: &mut BytesMut,
    tag: u8,
    message: &'static str,
    target: Target,
    name: &str,
) -> Result<(), EncodeError> {
    write_message(buf, Some(tag), message, |w| {
        w.u8(target.code());
        w.cstr(Field::named("name"), name)
    })
}

/// Execute ('E').
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Execute<'a> {
    /// Portal name; empty for the unnamed portal.
    pub portal: &'a str,
    /// Maximum number of rows to return; 0 means no limit.
    pub max_rows: i32,
}

impl<'a> Execute<'a> {
    pub(crate) fn decode(body: &'a Bytes) -> Result<Self, DecodeError> {
        let mut reader = Reader::new("Execute", body);
        let portal = reader.cstr(Field::named("portal name"))?;
        let max_rows = reader.i32(Field::named("maximum row count"))?;
        reader.finish()?;
        Ok(Execute { portal, max_rows })
    }

    /// Encodes the message.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        write_message(buf, Some(b'E'), "Execute", |w| {
            w.cstr(Field::named("portal name"), self.portal)?;
            w.i32(self.max_rows);
            Ok(())
        })
    }
}
