//! Startup-phase packets: round trips, limits and malformed layouts.

use bytes::{BufMut, Bytes, BytesMut};
use proptest::prelude::*;

use super::strategies;
use super::Body;
use crate::codec::{
    decode_startup, decode_startup_frame, CancelRequest, DecodeError, Field, ProtocolVersion,
    SqlState, StartupMessage, StartupPacket, MAX_STARTUP_PACKET_LEN,
};

/// Prefixes `body` with its Int32 length, as a startup packet.
fn packet(body: &[u8]) -> BytesMut {
    let mut buf = BytesMut::new();
    buf.put_i32(i32::try_from(body.len() + 4).unwrap());
    buf.put_slice(body);
    buf
}

fn decode_packet(body: &[u8]) -> Result<StartupPacket<'static>, DecodeError> {
    let mut buf = packet(body);
    let frame = decode_startup_frame(&mut buf)?.expect("complete packet");
    assert!(buf.is_empty());
    // Leak the frame so the borrowed packet can outlive this helper.
    let frame = Box::leak(Box::new(frame));
    decode_startup(frame)
}

fn assert_round_trip(packet: StartupPacket<'_>) {
    let mut buf = BytesMut::new();
    packet.encode(&mut buf).expect("generated packet encodes");
    let wire = buf.clone().freeze();

    let frame = decode_startup_frame(&mut buf)
        .unwrap()
        .expect("complete packet");
    assert!(buf.is_empty());
    let decoded = decode_startup(&frame).expect("encoded packet decodes");
    assert_eq!(
        decoded, packet,
        "decode(encode(packet)) differs from packet"
    );

    let mut again = BytesMut::new();
    decoded.encode(&mut again).unwrap();
    assert_eq!(
        again.freeze(),
        wire,
        "encode(decode(bytes)) differs from bytes"
    );
}

proptest! {
    #[test]
    fn startup_message_round_trips(message in strategies::startup_message()) {
        assert_round_trip(StartupPacket::Startup(message));
    }

    #[test]
    fn cancel_request_round_trips(request in strategies::cancel_request()) {
        assert_round_trip(StartupPacket::CancelRequest(request));
    }
}

#[test]
fn ssl_and_gssenc_requests_round_trip() {
    assert_round_trip(StartupPacket::SslRequest);
    assert_round_trip(StartupPacket::GssEncRequest);

    let mut buf = BytesMut::new();
    StartupPacket::SslRequest.encode(&mut buf).unwrap();
    assert_eq!(&buf[..], &[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);
}

#[test]
fn startup_message_decodes_psql_layout() {
    let body = Body::new()
        .i32(196_608)
        .cstr("user")
        .cstr("alice")
        .cstr("database")
        .cstr("clinic")
        .cstr("application_name")
        .cstr("psql")
        .u8(0)
        .build();
    let StartupPacket::Startup(message) = decode_packet(&body).unwrap() else {
        panic!("expected a StartupMessage");
    };
    assert_eq!(message.version, ProtocolVersion::V3_0);
    assert_eq!(message.user(), Some("alice"));
    assert_eq!(message.database(), Some("clinic"));
    assert_eq!(message.parameter("application_name"), Some("psql"));
    assert_eq!(message.parameter("options"), None);
}

#[test]
fn startup_message_accepts_all_v3_minors() {
    for (code, minor) in [(196_608, 0), (196_610, 2), (196_613, 5), (262_143, 65_535)] {
        let body = Body::new().i32(code).cstr("user").cstr("u").u8(0).build();
        let StartupPacket::Startup(message) = decode_packet(&body).unwrap() else {
            panic!("expected a StartupMessage for {code}");
        };
        assert_eq!(message.version.minor(), minor);
        assert_eq!(message.version.code(), code as u32);
    }
    assert_eq!(ProtocolVersion::V3_2.code(), 196_610);
    assert_eq!(ProtocolVersion::V3_2.to_string(), "3.2");
}

#[test]
fn startup_message_without_parameters_decodes() {
    let body = Body::new().i32(196_608).u8(0).build();
    let StartupPacket::Startup(message) = decode_packet(&body).unwrap() else {
        panic!("expected a StartupMessage");
    };
    assert!(message.parameters.is_empty());
    assert_eq!(message.user(), None);
}

#[test]
fn startup_rejects_other_major_versions() {
    let cases = [(131_072, 2, 0), (262_144, 4, 0), (80_877_105, 1234, 5681)];
    for (code, major, minor) in cases {
        let body = Body::new().i32(code).u8(0).build();
        let error = decode_packet(&body).unwrap_err();
        assert_eq!(
            error,
            DecodeError::UnsupportedProtocolVersion { major, minor }
        );
        assert_eq!(error.sqlstate(), SqlState::FEATURE_NOT_SUPPORTED);
    }
}

#[test]
fn startup_rejects_duplicate_parameter() {
    let body = Body::new()
        .i32(196_608)
        .cstr("user")
        .cstr("alice")
        .cstr("user")
        .cstr("postgres")
        .u8(0)
        .build();
    let error = decode_packet(&body).unwrap_err();
    assert_eq!(
        error.to_string(),
        "Startup message: parameter \"user\" appears more than once"
    );
}

#[test]
fn startup_rejects_missing_terminator() {
    let body = Body::new().i32(196_608).cstr("user").cstr("alice").build();
    assert_eq!(
        decode_packet(&body).unwrap_err(),
        DecodeError::Truncated {
            message: "Startup",
            field: Field::named("parameter list terminator"),
        }
    );
}

#[test]
fn startup_rejects_bytes_after_terminator() {
    let body = Body::new()
        .i32(196_608)
        .cstr("user")
        .cstr("a")
        .u8(0)
        .u8(7)
        .build();
    assert_eq!(
        decode_packet(&body).unwrap_err(),
        DecodeError::TrailingBytes {
            message: "Startup",
            count: 1,
        }
    );
}

#[test]
fn startup_rejects_value_without_nul() {
    let body = Body::new()
        .i32(196_608)
        .cstr("user")
        .bytes(b"alice")
        .build();
    assert_eq!(
        decode_packet(&body).unwrap_err(),
        DecodeError::MissingNul {
            message: "Startup",
            field: Field::indexed("parameter value", 0),
        }
    );
}

#[test]
fn startup_rejects_non_utf8_parameter() {
    let body = Body::new()
        .i32(196_608)
        .cstr("user")
        .bytes(b"al\xffce\0")
        .u8(0)
        .build();
    let error = decode_packet(&body).unwrap_err();
    assert_eq!(
        error.to_string(),
        "Startup message: parameter value 1 is not valid UTF-8"
    );
}

#[test]
fn startup_frame_rejects_bad_lengths_before_body() {
    for length in [i32::MIN, -1, 0, 4, 7, 10_005, i32::MAX] {
        let mut buf = BytesMut::new();
        buf.put_i32(length);
        let before = buf.clone();
        let error = decode_startup_frame(&mut buf).unwrap_err();
        assert_eq!(
            error,
            DecodeError::StartupLengthInvalid {
                length,
                min: 8,
                max: MAX_STARTUP_PACKET_LEN + 4,
            },
            "length {length}"
        );
        assert_eq!(buf, before, "buffer changed after an error");
    }
}

#[test]
fn startup_frame_accepts_maximum_length() {
    let mut body = Body::new()
        .i32(196_608)
        .cstr("user")
        .cstr("u")
        .cstr("options");
    let used = 4 + 5 + 2 + 8;
    let filler = "x".repeat(MAX_STARTUP_PACKET_LEN - used - 2);
    body = body.cstr(&filler).u8(0);
    let body = body.build();
    assert_eq!(body.len(), MAX_STARTUP_PACKET_LEN);
    assert!(decode_packet(&body).is_ok());
}

#[test]
fn startup_frame_waits_for_whole_packet() {
    let full = packet(
        &Body::new()
            .i32(196_608)
            .cstr("user")
            .cstr("u")
            .u8(0)
            .build(),
    );
    for cut in 0..full.len() {
        let mut buf = BytesMut::from(&full[..cut]);
        assert_eq!(
            decode_startup_frame(&mut buf).unwrap(),
            None,
            "cut at {cut}"
        );
        assert_eq!(buf.len(), cut);
    }
}

#[test]
fn ssl_request_with_extra_bytes_is_rejected() {
    let body = Body::new().i32(80_877_103).i32(0).build();
    assert_eq!(
        decode_packet(&body).unwrap_err(),
        DecodeError::RequestLengthInvalid {
            message: "SSLRequest",
            length: 12,
        }
    );
    let body = Body::new().i32(80_877_104).u8(0).build();
    assert!(matches!(
        decode_packet(&body).unwrap_err(),
        DecodeError::RequestLengthInvalid {
            message: "GSSENCRequest",
            length: 9
        }
    ));
}

#[test]
fn cancel_request_key_lengths() {
    for key_len in [1, 4, 32, 256] {
        let body = Body::new()
            .i32(80_877_102)
            .i32(4242)
            .bytes(&vec![7; key_len])
            .build();
        let packet = decode_packet(&body).unwrap();
        let expected = StartupPacket::CancelRequest(CancelRequest {
            process_id: 4242,
            secret_key: Bytes::from(vec![7; key_len]),
        });
        assert_eq!(packet, expected, "key of {key_len} bytes");
    }
    for key_len in [0, 257] {
        let body = Body::new()
            .i32(80_877_102)
            .i32(4242)
            .bytes(&vec![7; key_len])
            .build();
        assert_eq!(
            decode_packet(&body).unwrap_err(),
            DecodeError::SecretKeyLengthInvalid {
                message: "CancelRequest",
                length: key_len,
            }
        );
    }
}

#[test]
fn cancel_request_without_process_id_is_truncated() {
    let body = Body::new().i32(80_877_102).u16(1).build();
    assert!(matches!(
        decode_packet(&body).unwrap_err(),
        DecodeError::Truncated {
            message: "CancelRequest",
            ..
        }
    ));
}

#[test]
fn startup_encode_rejects_oversized_packet() {
    let filler = "x".repeat(MAX_STARTUP_PACKET_LEN);
    let message = StartupMessage {
        version: ProtocolVersion::V3_0,
        parameters: vec![("options", filler.as_str())],
    };
    let mut buf = BytesMut::from(&b"keep"[..]);
    let error = message.encode(&mut buf).unwrap_err();
    assert!(matches!(
        error,
        crate::codec::EncodeError::MessageTooLong { max: 10_004, .. }
    ));
    assert_eq!(&buf[..], b"keep", "a failed encode left bytes behind");
}

#[test]
fn startup_encode_rejects_empty_parameter_name() {
    let message = StartupMessage {
        version: ProtocolVersion::V3_0,
        parameters: vec![("", "x")],
    };
    let mut buf = BytesMut::new();
    assert!(message.encode(&mut buf).is_err());
    assert!(buf.is_empty());
}

#[test]
fn cancel_request_debug_hides_key() {
    let request = CancelRequest {
        process_id: 1,
        secret_key: Bytes::from_static(b"topsecretkey"),
    };
    let debug = format!("{request:?}");
    assert!(!debug.contains("topsecret"), "{debug}");
    assert!(debug.contains("12 bytes"), "{debug}");
}
