//! Fuzzing entry points, shared by the cargo-fuzz targets in `fuzz/` and by
//! the unit tests.
//!
//! Each function frames arbitrary bytes, decodes every frame, and asserts
//! that every message that decodes encodes back to exactly the bytes it was
//! decoded from. Decoding errors are expected; panics are not. These
//! functions panic only when that round-trip contract is broken, so they
//! belong in tests and fuzzers, not in the relay.

use bytes::BytesMut;

use super::auth::{decode_password_message, decode_sasl_initial_response, decode_sasl_response};
use super::backend::decode_backend;
use super::error::EncodeError;
use super::frame::{FrameDecoder, POSTGRES_MAX_MESSAGE_SIZE};
use super::frontend::decode_frontend;
use super::startup::{decode_startup, decode_startup_frame};

/// Decodes `data` as a stream of frontend messages and checks each round trip.
pub fn fuzz_frontend(data: &[u8]) {
    let decoder = FrameDecoder::new(POSTGRES_MAX_MESSAGE_SIZE);
    let mut buf = BytesMut::from(data);
    while let Ok(Some(frame)) = decoder.decode(&mut buf) {
        let expected = frame.as_bytes().as_ref();
        if let Ok(message) = decode_frontend(&frame) {
            assert_reencodes(expected, |out| message.encode(out));
        }
        if let Ok(message) = decode_password_message(&frame) {
            assert_reencodes(expected, |out| message.encode(out));
        }
        if let Ok(message) = decode_sasl_initial_response(&frame) {
            assert_reencodes(expected, |out| message.encode(out));
        }
        if let Ok(message) = decode_sasl_response(&frame) {
            assert_reencodes(expected, |out| message.encode(out));
        }
    }
}

/// Decodes `data` as a stream of backend messages and checks each round trip.
pub fn fuzz_backend(data: &[u8]) {
    let decoder = FrameDecoder::new(POSTGRES_MAX_MESSAGE_SIZE);
    let mut buf = BytesMut::from(data);
    while let Ok(Some(frame)) = decoder.decode(&mut buf) {
        if let Ok(message) = decode_backend(&frame) {
            assert_reencodes(frame.as_bytes().as_ref(), |out| message.encode(out));
        }
    }
}

/// Decodes `data` as a stream of startup-phase packets and checks each round trip.
pub fn fuzz_startup(data: &[u8]) {
    let mut buf = BytesMut::from(data);
    while let Ok(Some(frame)) = decode_startup_frame(&mut buf) {
        if let Ok(packet) = decode_startup(&frame) {
            assert_reencodes(frame.as_bytes().as_ref(), |out| packet.encode(out));
        }
    }
}

/// Asserts that `encode` succeeds and writes exactly `expected`. The message
/// names sizes only, because the bytes may hold credentials or ePHI.
fn assert_reencodes<F>(expected: &[u8], encode: F)
where
    F: FnOnce(&mut BytesMut) -> Result<(), EncodeError>,
{
    let mut out = BytesMut::new();
    let result = encode(&mut out);
    assert!(
        result.is_ok(),
        "a decoded message failed to encode: {result:?}"
    );
    assert!(
        out.as_ref() == expected,
        "re-encoding changed the message: {} bytes in, {} bytes out",
        expected.len(),
        out.len()
    );
}
