//! Result rows and COPY: RowDescription, DataRow, CopyData, the three COPY
//! responses and FunctionCallResponse.
//!
//! These carry column values that the masking layer reads and rewrites, so
//! values stay `Bytes` slices of the received frame until then.

use std::fmt;

use bytes::{Bytes, BytesMut};

use super::error::{DecodeError, EncodeError, Field};
use super::reader::Reader;
use super::redact::{Redacted, RedactedValues};
use super::writer::write_message;
use super::Format;

/// Minimum wire size of one RowDescription field: an empty name's NUL and
/// the six fixed-size fields.
const MIN_FIELD_DESCRIPTION_LEN: usize = 1 + 4 + 2 + 4 + 2 + 4 + 2;

/// RowDescription ('T').
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowDescription<'a> {
    /// One entry per result column, in order.
    pub fields: Vec<FieldDescription<'a>>,
}

/// One column of a RowDescription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDescription<'a> {
    /// Column name or alias.
    pub name: &'a str,
    /// OID of the source table, or 0 when the column is not a plain table column.
    pub table_oid: u32,
    /// Attribute number of the source column, or 0.
    pub column_attribute: i16,
    /// OID of the data type.
    pub type_oid: u32,
    /// Data type size (`pg_type.typlen`); negative for variable-width types.
    pub type_size: i16,
    /// Type modifier (`pg_attribute.atttypmod`).
    pub type_modifier: i32,
    /// Format of the values; always text in the reply to Describe of a statement.
    pub format: Format,
}

impl<'a> RowDescription<'a> {
    pub(crate) fn decode(body: &'a Bytes) -> Result<Self, DecodeError> {
        let mut reader = Reader::new("RowDescription", body);
        let count = reader.count16(Field::named("field count"), MIN_FIELD_DESCRIPTION_LEN)?;
        let mut fields = Vec::with_capacity(count);
        for index in 0..count {
            fields.push(FieldDescription {
                name: reader.cstr(Field::indexed("field name", index))?,
                table_oid: reader.u32(Field::indexed("table OID of field", index))?,
                column_attribute: reader
                    .i16(Field::indexed("column attribute number of field", index))?,
                type_oid: reader.u32(Field::indexed("type OID of field", index))?,
                type_size: reader.i16(Field::indexed("type size of field", index))?,
                type_modifier: reader.i32(Field::indexed("type modifier of field", index))?,
                format: reader.format16(Field::indexed("format code of field", index))?,
            });
        }
        reader.finish()?;
        Ok(RowDescription { fields })
    }

    /// Encodes the message.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        write_message(buf, Some(b'T'), "RowDescription", |w| {
            w.count16(Field::named("field count"), self.fields.len())?;
            for (index, field) in self.fields.iter().enumerate() {
                w.cstr(Field::indexed("field name", index), field.name)?;
                w.u32(field.table_oid);
                w.i16(field.column_attribute);
                w.u32(field.type_oid);
                w.i16(field.type_size);
                w.i32(field.type_modifier);
                w.i16(field.format.code());
            }
            Ok(())
        })
    }
}

/// DataRow ('D').
///
/// Decoding reserves at most one column entry per 4 body bytes, because
/// every column takes at least its Int32 length on the wire.
#[derive(Clone, PartialEq, Eq)]
pub struct DataRow {
    /// Column values in RowDescription order, `None` for NULL.
    pub columns: Vec<Option<Bytes>>,
}

impl DataRow {
    pub(crate) fn decode(body: &Bytes) -> Result<Self, DecodeError> {
        let mut reader = Reader::new("DataRow", body);
        let count = reader.count16(Field::named("column count"), 4)?;
        let mut columns = Vec::with_capacity(count);
        for index in 0..count {
            columns.push(reader.value(Field::indexed("column", index))?);
        }
        reader.finish()?;
        Ok(DataRow { columns })
    }

    /// Encodes the message.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        write_message(buf, Some(b'D'), "DataRow", |w| {
            w.count16(Field::named("column count"), self.columns.len())?;
            for (index, value) in self.columns.iter().enumerate() {
                w.value(Field::indexed("column", index), value.as_deref())?;
            }
            Ok(())
        })
    }
}

impl fmt::Debug for DataRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataRow")
            .field("columns", &RedactedValues(&self.columns))
            .finish()
    }
}

/// CopyData ('d'), sent by either side.
#[derive(Clone, PartialEq, Eq)]
pub struct CopyData {
    /// Part of the COPY stream. From the server each message is one row;
    /// from the client the stream may be split anywhere.
    pub data: Bytes,
}

impl CopyData {
    /// Encodes the message.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        write_message(buf, Some(b'd'), "CopyData", |w| {
            w.bytes(&self.data);
            Ok(())
        })
    }
}

impl fmt::Debug for CopyData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CopyData")
            .field(&Redacted(self.data.len()))
            .finish()
    }
}

/// Body of CopyInResponse ('G'), CopyOutResponse ('H') and CopyBothResponse
/// ('W'). Encode it through [`BackendMessage`](super::BackendMessage), which
/// supplies the type byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyResponse {
    /// Overall COPY format (an Int8 on the wire).
    pub format: Format,
    /// Format of each column; all text when the overall format is text.
    pub column_formats: Vec<Format>,
}

impl CopyResponse {
    pub(crate) fn decode(message: &'static str, body: &Bytes) -> Result<Self, DecodeError> {
        let mut reader = Reader::new(message, body);
        let field = Field::named("overall format");
        let code = reader.u8(field)?;
        let format = Format::from_code(i16::from(code)).ok_or(DecodeError::InvalidFormatCode {
            message,
            field,
            code: i16::from(code),
        })?;
        let count = reader.count16(Field::named("column count"), 2)?;
        let column_formats = reader.formats(count, "column format")?;
        reader.finish()?;
        Ok(CopyResponse {
            format,
            column_formats,
        })
    }

    pub(crate) fn encode(
        &self,
        buf: &mut BytesMut,
        tag: u8,
        message: &'static str,
    ) -> Result<(), EncodeError> {
        write_message(buf, Some(tag), message, |w| {
            // The format code is 0 or 1, so it fits the Int8 unchanged.
            w.u8(self.format.code() as u8);
            w.formats(Field::named("column count"), &self.column_formats)
        })
    }
}

/// FunctionCallResponse ('V'): the result of a FunctionCall.
#[derive(Clone, PartialEq, Eq)]
pub struct FunctionCallResponse {
    /// Result value, `None` for NULL.
    pub value: Option<Bytes>,
}

impl FunctionCallResponse {
    pub(crate) fn decode(body: &Bytes) -> Result<Self, DecodeError> {
        let mut reader = Reader::new("FunctionCallResponse", body);
        let value = reader.value(Field::named("result value"))?;
        reader.finish()?;
        Ok(FunctionCallResponse { value })
    }

    /// Encodes the message.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        write_message(buf, Some(b'V'), "FunctionCallResponse", |w| {
            w.value(Field::named("result value"), self.value.as_deref())
        })
    }
}

impl fmt::Debug for FunctionCallResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FunctionCallResponse")
            .field(
                "value",
                &self.value.as_ref().map(|value| Redacted(value.len())),
            )
            .finish()
    }
}
