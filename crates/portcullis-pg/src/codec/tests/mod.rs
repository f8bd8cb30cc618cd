//! Tests of the wire codec: round-trip properties, malformed input,
//! framing limits and the fuzzing entry points.

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

mod encode;
mod frame;
mod fuzz_seeds;
mod malformed_backend;
mod malformed_frontend;
mod roundtrip_backend;
mod roundtrip_frontend;
mod startup;
mod strategies;

use bytes::{BufMut, Bytes, BytesMut};

use super::{Frame, FrameDecoder, POSTGRES_MAX_MESSAGE_SIZE};

/// Builds a tagged frame from a body, without going through any encoder.
pub(crate) fn frame(tag: u8, body: &[u8]) -> Frame {
    Frame::new(tag, body).expect("test body fits the length field")
}

/// Splits exactly one frame off `wire` and checks nothing is left over.
pub(crate) fn single_frame(wire: &[u8]) -> Frame {
    let mut buf = BytesMut::from(wire);
    let frame = FrameDecoder::new(POSTGRES_MAX_MESSAGE_SIZE)
        .decode(&mut buf)
        .expect("valid frame header")
        .expect("complete frame");
    assert!(buf.is_empty(), "{} bytes left after the frame", buf.len());
    frame
}

/// Little builder for hand-written message bodies in malformed-input tests.
#[derive(Default)]
pub(crate) struct Body(BytesMut);

impl Body {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn u8(mut self, value: u8) -> Self {
        self.0.put_u8(value);
        self
    }

    pub(crate) fn i16(mut self, value: i16) -> Self {
        self.0.put_i16(value);
        self
    }

    pub(crate) fn u16(mut self, value: u16) -> Self {
        self.0.put_u16(value);
        self
    }

    pub(crate) fn i32(mut self, value: i32) -> Self {
        self.0.put_i32(value);
        self
    }

    pub(crate) fn bytes(mut self, value: &[u8]) -> Self {
        self.0.put_slice(value);
        self
    }

    /// Appends a string and its NUL terminator.
    pub(crate) fn cstr(mut self, value: &str) -> Self {
        self.0.put_slice(value.as_bytes());
        self.0.put_u8(0);
        self
    }

    pub(crate) fn build(self) -> Bytes {
        self.0.freeze()
    }
}
