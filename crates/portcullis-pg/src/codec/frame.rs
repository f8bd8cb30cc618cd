//! Splitting a byte stream into tagged messages ("frames").
//!
//! After the startup phase every message is a type byte, an Int32 length
//! that counts itself but not the type byte, and a body ("Messaging
//! Overview" in the protocol chapter of the PostgreSQL documentation).
//! A [`Frame`] keeps the message exactly as received, so the relay can
//! forward a permitted message byte for byte.

use std::fmt;

use bytes::{Buf, Bytes, BytesMut};

use super::error::{DecodeError, Tag};

/// Size of the type byte plus the length field.
pub const HEADER_LEN: usize = 5;

/// Largest length field PostgreSQL accepts for any message:
/// `PQ_LARGE_MESSAGE_LIMIT`, which is `MaxAllocSize - 1` (1 GiB minus 2 bytes).
pub const POSTGRES_MAX_MESSAGE_SIZE: usize = 0x3fff_fffe;

/// One tagged message as received: the type byte, the length and the body.
///
/// Cloning is cheap because the bytes are reference-counted.
#[derive(Clone, PartialEq, Eq)]
pub struct Frame {
    tag: u8,
    raw: Bytes,
    body: Bytes,
}

impl Frame {
    /// Builds a frame from a type byte and a body, copying both into one buffer.
    ///
    /// Returns `None` when the body is too long for the Int32 length field.
    pub fn new(tag: u8, body: &[u8]) -> Option<Frame> {
        let length = i32::try_from(body.len().checked_add(4)?).ok()?;
        let mut raw = BytesMut::with_capacity(body.len().checked_add(HEADER_LEN)?);
        raw.extend_from_slice(&[tag]);
        raw.extend_from_slice(&length.to_be_bytes());
        raw.extend_from_slice(body);
        Some(Frame::from_raw(tag, raw.freeze()))
    }

    fn from_raw(tag: u8, raw: Bytes) -> Frame {
        let body = raw.slice(HEADER_LEN.min(raw.len())..);
        Frame { tag, raw, body }
    }

    /// Returns the message type byte.
    pub fn tag(&self) -> u8 {
        self.tag
    }

    /// Returns the body: the bytes after the length field.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// Returns the whole message as received, type byte and length included.
    pub fn as_bytes(&self) -> &Bytes {
        &self.raw
    }

    /// Returns the whole message as received, consuming the frame.
    pub fn into_bytes(self) -> Bytes {
        self.raw
    }
}

/// Prints the type and size only, because a body may hold a password, a
/// parameter or a row value.
impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Frame")
            .field("tag", &Tag(self.tag))
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// Splits tagged messages off the front of a receive buffer.
///
/// The decoder validates the length field as soon as the five header bytes
/// have arrived, before the body is buffered, and it never reserves space
/// for a body: the buffer grows only with bytes the peer has actually sent.
/// So a peer that announces a huge message is rejected after five bytes and
/// cannot make the gateway allocate for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameDecoder {
    max_message_size: usize,
}

impl FrameDecoder {
    /// Creates a decoder that rejects messages whose length field exceeds
    /// `max_message_size` bytes. The length field counts itself but not the
    /// type byte, so the smallest useful maximum is 4.
    pub fn new(max_message_size: usize) -> Self {
        Self { max_message_size }
    }

    /// Returns the configured maximum length field.
    pub fn max_message_size(&self) -> usize {
        self.max_message_size
    }

    /// Splits the next complete frame off `buf`.
    ///
    /// Returns `Ok(None)` when more bytes are needed. The frame shares
    /// memory with `buf` (`split_to` then `freeze`), so its body is not
    /// copied. After an error, `buf` is left unchanged; the stream has lost
    /// its message boundaries and the connection must be closed.
    pub fn decode(&self, buf: &mut BytesMut) -> Result<Option<Frame>, DecodeError> {
        let Some(header) = buf.get(..HEADER_LEN) else {
            return Ok(None);
        };
        let mut header = header;
        let tag = header.get_u8();
        let length = header.get_i32();

        let body_len = match usize::try_from(length) {
            Ok(length) if length >= 4 => length - 4,
            _ => {
                return Err(DecodeError::LengthTooSmall {
                    tag: Tag(tag),
                    length,
                })
            }
        };
        let wire_len = body_len + HEADER_LEN;
        if body_len + 4 > self.max_message_size {
            return Err(DecodeError::MessageTooLarge {
                tag: Tag(tag),
                length: body_len as u64 + 4,
                max: self.max_message_size,
            });
        }

        if buf.len() < wire_len {
            return Ok(None);
        }
        let raw = buf.split_to(wire_len).freeze();
        Ok(Some(Frame::from_raw(tag, raw)))
    }
}
