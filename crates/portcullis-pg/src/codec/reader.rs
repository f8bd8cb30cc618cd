//! Bounds-checked cursor over a message body.
//!
//! Every read checks the remaining length first and returns a
//! [`DecodeError`] naming the message and field, so no input can make a
//! decoder panic. Strings are borrowed from the body and byte values are
//! sliced out of the shared buffer, so nothing is copied.

use bytes::Bytes;

use super::error::{DecodeError, Field, Tag};
use super::Format;

pub(crate) struct Reader<'a> {
    message: &'static str,
    body: &'a Bytes,
    position: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(message: &'static str, body: &'a Bytes) -> Self {
        Self {
            message,
            body,
            position: 0,
        }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.body.len().saturating_sub(self.position)
    }

    fn truncated(&self, field: Field) -> DecodeError {
        DecodeError::Truncated {
            message: self.message,
            field,
        }
    }

    fn take(&mut self, count: usize, field: Field) -> Result<&'a [u8], DecodeError> {
        let end = self
            .position
            .checked_add(count)
            .ok_or_else(|| self.truncated(field))?;
        let body: &'a Bytes = self.body;
        let bytes = body
            .get(self.position..end)
            .ok_or_else(|| self.truncated(field))?;
        self.position = end;
        Ok(bytes)
    }

    pub(crate) fn array<const N: usize>(&mut self, field: Field) -> Result<[u8; N], DecodeError> {
        let bytes = self.take(N, field)?;
        bytes.try_into().map_err(|_| self.truncated(field))
    }

    pub(crate) fn u8(&mut self, field: Field) -> Result<u8, DecodeError> {
        let [byte] = self.array::<1>(field)?;
        Ok(byte)
    }

    pub(crate) fn i16(&mut self, field: Field) -> Result<i16, DecodeError> {
        Ok(i16::from_be_bytes(self.array(field)?))
    }

    pub(crate) fn u16(&mut self, field: Field) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array(field)?))
    }

    pub(crate) fn i32(&mut self, field: Field) -> Result<i32, DecodeError> {
        Ok(i32::from_be_bytes(self.array(field)?))
    }

    pub(crate) fn u32(&mut self, field: Field) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array(field)?))
    }

    /// Reads a NUL-terminated UTF-8 string and returns it without the NUL.
    pub(crate) fn cstr(&mut self, field: Field) -> Result<&'a str, DecodeError> {
        let body: &'a Bytes = self.body;
        let rest = body.get(self.position..).unwrap_or_default();
        let Some(length) = rest.iter().position(|&byte| byte == 0) else {
            return Err(DecodeError::MissingNul {
                message: self.message,
                field,
            });
        };
        let bytes = rest.get(..length).unwrap_or_default();
        let text = std::str::from_utf8(bytes).map_err(|_| DecodeError::InvalidUtf8 {
            message: self.message,
            field,
        })?;
        self.position = self.position.saturating_add(length).saturating_add(1);
        Ok(text)
    }

    /// Slices `count` bytes out of the body without copying.
    pub(crate) fn bytes(&mut self, count: usize, field: Field) -> Result<Bytes, DecodeError> {
        let start = self.position;
        self.take(count, field)?;
        Ok(self.body.slice(start..self.position))
    }

    /// Slices everything after the cursor out of the body.
    pub(crate) fn rest(&mut self) -> Bytes {
        let start = self.position.min(self.body.len());
        self.position = self.body.len();
        self.body.slice(start..)
    }

    /// Reads an Int32 length followed by that many bytes, where -1 means NULL.
    pub(crate) fn value(&mut self, field: Field) -> Result<Option<Bytes>, DecodeError> {
        let length = self.i32(field)?;
        if length == -1 {
            return Ok(None);
        }
        let count = usize::try_from(length).map_err(|_| DecodeError::InvalidValueLength {
            message: self.message,
            field,
            length,
        })?;
        if count > self.remaining() {
            return Err(DecodeError::InvalidValueLength {
                message: self.message,
                field,
                length,
            });
        }
        self.bytes(count, field).map(Some)
    }

    /// Reads an Int16 item count and checks that `count * min_item_size`
    /// bytes remain, so that a caller may reserve `count` entries.
    ///
    /// The count is read as an unsigned 16-bit integer. PostgreSQL reads
    /// these counts with `pq_getmsgint(msg, 2)`, which returns them
    /// unsigned, and libpq sends up to 65535 Bind parameters.
    pub(crate) fn count16(
        &mut self,
        field: Field,
        min_item_size: usize,
    ) -> Result<usize, DecodeError> {
        let count = usize::from(self.u16(field)?);
        self.check_count(field, count, min_item_size)?;
        Ok(count)
    }

    /// Reads an Int32 item count, rejecting negative counts, and checks it like [`Reader::count16`].
    pub(crate) fn count32(
        &mut self,
        field: Field,
        min_item_size: usize,
    ) -> Result<usize, DecodeError> {
        let raw = self.i32(field)?;
        let count = usize::try_from(raw).map_err(|_| DecodeError::NegativeCount {
            message: self.message,
            field,
            count: raw,
        })?;
        self.check_count(field, count, min_item_size)?;
        Ok(count)
    }

    fn check_count(
        &self,
        field: Field,
        count: usize,
        min_item_size: usize,
    ) -> Result<(), DecodeError> {
        let needed = (count as u64).saturating_mul(min_item_size as u64);
        let remaining = self.remaining();
        if needed > remaining as u64 {
            return Err(DecodeError::CountExceedsBody {
                message: self.message,
                field,
                count: count as u64,
                needed,
                remaining,
            });
        }
        Ok(())
    }

    /// Reads an Int16 format code, which must be 0 (text) or 1 (binary).
    pub(crate) fn format16(&mut self, field: Field) -> Result<Format, DecodeError> {
        let code = self.i16(field)?;
        Format::from_code(code).ok_or(DecodeError::InvalidFormatCode {
            message: self.message,
            field,
            code,
        })
    }

    /// Reads a list of `count` Int16 format codes; the caller has checked the count.
    pub(crate) fn formats(
        &mut self,
        count: usize,
        name: &'static str,
    ) -> Result<Vec<Format>, DecodeError> {
        let mut formats = Vec::with_capacity(count);
        for index in 0..count {
            formats.push(self.format16(Field::indexed(name, index))?);
        }
        Ok(formats)
    }

    pub(crate) fn invalid_byte(&self, field: Field, value: u8) -> DecodeError {
        DecodeError::InvalidByte {
            message: self.message,
            field,
            value: Tag(value),
        }
    }

    /// Ends decoding, rejecting any bytes after the last field.
    pub(crate) fn finish(self) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(DecodeError::TrailingBytes {
                message: self.message,
                count,
            }),
        }
    }
}
