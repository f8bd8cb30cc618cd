//! FrameDecoder: header checks before buffering, limits and zero-copy splitting.

use bytes::{BufMut, BytesMut};

use crate::codec::{DecodeError, Frame, FrameDecoder, SqlState, Tag};

fn header(tag: u8, length: i32) -> BytesMut {
    let mut buf = BytesMut::new();
    buf.put_u8(tag);
    buf.put_i32(length);
    buf
}

#[test]
fn frame_waits_for_header_and_body() {
    let decoder = FrameDecoder::new(1024);
    let wire = b"Q\0\0\0\x0dSELECT 1\0";
    for cut in 0..wire.len() {
        let mut buf = BytesMut::from(&wire[..cut]);
        assert_eq!(decoder.decode(&mut buf).unwrap(), None, "cut at {cut}");
        assert_eq!(buf.len(), cut, "an incomplete frame consumed bytes");
    }
    let mut buf = BytesMut::from(&wire[..]);
    let frame = decoder.decode(&mut buf).unwrap().unwrap();
    assert_eq!(frame.tag(), b'Q');
    assert_eq!(&frame.body()[..], b"SELECT 1\0");
    assert_eq!(&frame.as_bytes()[..], &wire[..]);
    assert!(buf.is_empty());
}

#[test]
fn frame_rejects_length_below_four() {
    let decoder = FrameDecoder::new(1024);
    for length in [i32::MIN, -1, 0, 3] {
        let mut buf = header(b'Q', length);
        let before = buf.clone();
        assert_eq!(
            decoder.decode(&mut buf).unwrap_err(),
            DecodeError::LengthTooSmall {
                tag: Tag(b'Q'),
                length,
            }
        );
        assert_eq!(buf, before, "buffer changed after an error");
    }
}

#[test]
fn frame_rejects_oversized_length_from_header_alone() {
    let decoder = FrameDecoder::new(1024);
    let mut buf = header(b'B', i32::MAX);
    let error = decoder.decode(&mut buf).unwrap_err();
    assert_eq!(
        error.to_string(),
        "message of 2147483647 bytes exceeds the maximum of 1024 bytes; raise postgres.max_message_bytes to allow it"
    );
    assert_eq!(error.sqlstate(), SqlState::PROGRAM_LIMIT_EXCEEDED);
    assert!(
        buf.capacity() < 1024,
        "the decoder reserved space for the body"
    );
}

#[test]
fn frame_limit_is_inclusive() {
    let decoder = FrameDecoder::new(9);
    let mut buf = BytesMut::new();
    buf.put_slice(b"d\0\0\0\x09abcde");
    let frame = decoder.decode(&mut buf).unwrap().unwrap();
    assert_eq!(&frame.body()[..], b"abcde");

    let mut buf = BytesMut::new();
    buf.put_slice(b"d\0\0\0\x0aabcdef");
    assert!(matches!(
        decoder.decode(&mut buf).unwrap_err(),
        DecodeError::MessageTooLarge {
            length: 10,
            max: 9,
            ..
        }
    ));
}

#[test]
fn frame_accepts_empty_body() {
    let decoder = FrameDecoder::new(4);
    let mut buf = BytesMut::from(&b"S\0\0\0\x04"[..]);
    let frame = decoder.decode(&mut buf).unwrap().unwrap();
    assert_eq!(frame.tag(), b'S');
    assert!(frame.body().is_empty());
}

#[test]
fn frames_share_the_receive_buffer() {
    let decoder = FrameDecoder::new(1024);
    let mut buf = BytesMut::new();
    buf.put_slice(b"Q\0\0\0\x0dSELECT 1\0S\0\0\0\x04H\0\0");
    let start = buf.as_ptr() as usize;

    let first = decoder.decode(&mut buf).unwrap().unwrap();
    let second = decoder.decode(&mut buf).unwrap().unwrap();
    assert_eq!(decoder.decode(&mut buf).unwrap(), None);
    assert_eq!(buf.len(), 3, "the partial third header stays buffered");

    assert_eq!(
        first.as_bytes().as_ptr() as usize,
        start,
        "the first frame was copied"
    );
    assert_eq!(
        first.body().as_ptr() as usize,
        start + 5,
        "the first body was copied"
    );
    assert_eq!(
        second.as_bytes().as_ptr() as usize,
        start + 14,
        "the second frame was copied"
    );
}

#[test]
fn frame_new_matches_decoded_frame() {
    let built = Frame::new(b'd', b"row").unwrap();
    assert_eq!(&built.as_bytes()[..], b"d\0\0\0\x07row");
    let mut buf = BytesMut::from(&built.as_bytes()[..]);
    assert_eq!(FrameDecoder::new(64).decode(&mut buf).unwrap(), Some(built));
}

#[test]
fn frame_debug_hides_body() {
    let frame = Frame::new(b'p', b"hunter2\0").unwrap();
    let debug = format!("{frame:?}");
    assert!(!debug.contains("hunter2"), "{debug}");
    assert_eq!(debug, "Frame { tag: 'p', body_len: 8 }");
}
