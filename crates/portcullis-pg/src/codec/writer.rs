//! Message writer that encodes straight into the output buffer.
//!
//! The length field is written as a placeholder and patched once the body is
//! complete, so no message needs an intermediate buffer. If encoding fails,
//! the output buffer is truncated back to where the message began.

use bytes::{BufMut, BytesMut};

use super::error::{EncodeError, Field};
use super::Format;

/// Largest value of a length field or a value length prefix (Int32).
const MAX_INT32_LENGTH: usize = i32::MAX as usize;

pub(crate) struct Writer<'b> {
    message: &'static str,
    buf: &'b mut BytesMut,
}

/// Writes one message: the optional type byte, the length and the body that
/// `body` writes. On error the buffer is left as it was.
pub(crate) fn write_message<F>(
    buf: &mut BytesMut,
    tag: Option<u8>,
    message: &'static str,
    body: F,
) -> Result<(), EncodeError>
where
    F: FnOnce(&mut Writer<'_>) -> Result<(), EncodeError>,
{
    write_limited_message(buf, tag, message, MAX_INT32_LENGTH, body)
}

/// Writes one message like [`write_message`], rejecting it when its length
/// field would exceed `max_length`.
pub(crate) fn write_limited_message<F>(
    buf: &mut BytesMut,
    tag: Option<u8>,
    message: &'static str,
    max_length: usize,
    body: F,
) -> Result<(), EncodeError>
where
    F: FnOnce(&mut Writer<'_>) -> Result<(), EncodeError>,
{
    let start = buf.len();
    let result = write_message_inner(buf, tag, message, max_length, body);
    if result.is_err() {
        buf.truncate(start);
    }
    result
}

fn write_message_inner<F>(
    buf: &mut BytesMut,
    tag: Option<u8>,
    message: &'static str,
    max_length: usize,
    body: F,
) -> Result<(), EncodeError>
where
    F: FnOnce(&mut Writer<'_>) -> Result<(), EncodeError>,
{
    if let Some(tag) = tag {
        buf.put_u8(tag);
    }
    let length_at = buf.len();
    buf.put_i32(0);

    body(&mut Writer { message, buf })?;

    let length = buf.len().saturating_sub(length_at);
    let max = max_length.min(MAX_INT32_LENGTH);
    let too_long = EncodeError::MessageTooLong {
        message,
        length,
        max,
    };
    if length > max {
        return Err(too_long);
    }
    let length = i32::try_from(length).map_err(|_| too_long)?;
    // The four placeholder bytes were written above, so the range exists.
    if let Some(slot) = buf.get_mut(length_at..length_at.saturating_add(4)) {
        slot.copy_from_slice(&length.to_be_bytes());
    }
    Ok(())
}

impl Writer<'_> {
    pub(crate) fn u8(&mut self, value: u8) {
        self.buf.put_u8(value);
    }

    pub(crate) fn i16(&mut self, value: i16) {
        self.buf.put_i16(value);
    }

    pub(crate) fn i32(&mut self, value: i32) {
        self.buf.put_i32(value);
    }

    pub(crate) fn u32(&mut self, value: u32) {
        self.buf.put_u32(value);
    }

    pub(crate) fn bytes(&mut self, value: &[u8]) {
        self.buf.put_slice(value);
    }

    /// Writes a string and its NUL terminator, rejecting an interior NUL
    /// because the peer would end the string there.
    pub(crate) fn cstr(&mut self, field: Field, value: &str) -> Result<(), EncodeError> {
        if value.as_bytes().contains(&0) {
            return Err(EncodeError::InteriorNul {
                message: self.message,
                field,
            });
        }
        self.buf.put_slice(value.as_bytes());
        self.buf.put_u8(0);
        Ok(())
    }

    /// Writes an Int32 length and the bytes, or -1 for NULL.
    pub(crate) fn value(&mut self, field: Field, value: Option<&[u8]>) -> Result<(), EncodeError> {
        match value {
            None => self.buf.put_i32(-1),
            Some(bytes) => {
                let length = i32::try_from(bytes.len()).map_err(|_| EncodeError::ValueTooLong {
                    message: self.message,
                    field,
                    length: bytes.len(),
                })?;
                self.buf.put_i32(length);
                self.buf.put_slice(bytes);
            }
        }
        Ok(())
    }

    /// Writes an item count as an unsigned 16-bit integer, the range that
    /// PostgreSQL accepts for Int16 counts.
    pub(crate) fn count16(&mut self, field: Field, count: usize) -> Result<(), EncodeError> {
        let count16 = u16::try_from(count).map_err(|_| EncodeError::TooManyItems {
            message: self.message,
            field,
            count,
            max: usize::from(u16::MAX),
        })?;
        self.buf.put_u16(count16);
        Ok(())
    }

    /// Writes an Int32 item count.
    pub(crate) fn count32(&mut self, field: Field, count: usize) -> Result<(), EncodeError> {
        let count32 = i32::try_from(count).map_err(|_| EncodeError::TooManyItems {
            message: self.message,
            field,
            count,
            max: MAX_INT32_LENGTH,
        })?;
        self.buf.put_i32(count32);
        Ok(())
    }

    /// Writes an Int16 count followed by the Int16 format codes.
    pub(crate) fn formats(&mut self, field: Field, formats: &[Format]) -> Result<(), EncodeError> {
        self.count16(field, formats.len())?;
        for format in formats {
            self.buf.put_i16(format.code());
        }
        Ok(())
    }

    pub(crate) fn message(&self) -> &'static str {
        self.message
    }
}
