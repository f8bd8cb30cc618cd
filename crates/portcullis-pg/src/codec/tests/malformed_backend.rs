//! Malformed backend messages, and accessors on decoded backend messages.

use bytes::Bytes;

use super::{frame, Body};
use crate::codec::{
    decode_backend, Authentication, BackendKeyData, BackendMessage, CommandComplete, DecodeError,
    Direction, ErrorFields, Field, SqlState, Tag, TransactionStatus,
};

fn decode(tag: u8, body: &[u8]) -> Result<(), DecodeError> {
    decode_backend(&frame(tag, body)).map(|_| ())
}

#[test]
fn authentication_codes() {
    let cases: [(i32, &[u8]); 3] = [(0, b""), (3, b""), (5, b"salt")];
    for (code, rest) in cases {
        let body = Body::new().i32(code).bytes(rest).build();
        assert!(decode(b'R', &body).is_ok(), "code {code}");
    }
    assert_eq!(
        decode(b'R', &Body::new().i32(6).build())
            .unwrap_err()
            .to_string(),
        "Authentication message: request code 6 is unknown"
    );
    assert_eq!(
        decode(b'R', &Body::new().i32(0).u8(1).build()).unwrap_err(),
        DecodeError::TrailingBytes {
            message: "Authentication",
            count: 1,
        }
    );
    assert_eq!(
        decode(b'R', &Body::new().i32(5).bytes(b"abc").build()).unwrap_err(),
        DecodeError::Truncated {
            message: "Authentication",
            field: Field::named("salt"),
        }
    );
}

#[test]
fn authentication_sasl_mechanisms() {
    let body = Body::new()
        .i32(10)
        .cstr("SCRAM-SHA-256-PLUS")
        .cstr("SCRAM-SHA-256")
        .u8(0)
        .build();
    let frame = frame(b'R', &body);
    let BackendMessage::Authentication(Authentication::Sasl { mechanisms }) =
        decode_backend(&frame).unwrap()
    else {
        panic!("expected AuthenticationSASL");
    };
    assert_eq!(mechanisms, ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"]);

    let body = Body::new().i32(10).cstr("SCRAM-SHA-256").build();
    assert_eq!(
        decode(b'R', &body).unwrap_err().to_string(),
        "Authentication message is truncated at mechanism list terminator"
    );
}

#[test]
fn authentication_debug_hides_sasl_data() {
    let body = Body::new().i32(11).bytes(b"r=nonce,s=salt,i=4096").build();
    let frame = frame(b'R', &body);
    let message = decode_backend(&frame).unwrap();
    let debug = format!("{message:?}");
    assert!(!debug.contains("nonce"), "{debug}");
}

#[test]
fn backend_key_data_key_lengths() {
    for key_len in [4, 32, 256] {
        let body = Body::new().i32(99).bytes(&vec![1; key_len]).build();
        let frame = frame(b'K', &body);
        let message = decode_backend(&frame).unwrap();
        let expected = BackendMessage::BackendKeyData(BackendKeyData {
            process_id: 99,
            secret_key: Bytes::from(vec![1; key_len]),
        });
        assert_eq!(message, expected);
    }
    for key_len in [0, 257] {
        let body = Body::new().i32(99).bytes(&vec![1; key_len]).build();
        assert_eq!(
            decode(b'K', &body).unwrap_err(),
            DecodeError::SecretKeyLengthInvalid {
                message: "BackendKeyData",
                length: key_len,
            }
        );
    }
}

#[test]
fn ready_for_query_status() {
    let frame_idle = frame(b'Z', b"I");
    let BackendMessage::ReadyForQuery(ready) = decode_backend(&frame_idle).unwrap() else {
        panic!("expected ReadyForQuery");
    };
    assert_eq!(ready.status, TransactionStatus::Idle);
    assert_eq!(
        decode(b'Z', b"Q").unwrap_err().to_string(),
        "ReadyForQuery message: transaction status 'Q' is invalid"
    );
    assert!(matches!(
        decode(b'Z', b"").unwrap_err(),
        DecodeError::Truncated {
            message: "ReadyForQuery",
            ..
        }
    ));
    assert!(matches!(
        decode(b'Z', b"II").unwrap_err(),
        DecodeError::TrailingBytes {
            message: "ReadyForQuery",
            count: 1
        }
    ));
}

#[test]
fn data_row_errors() {
    let body = Body::new().u16(u16::MAX).build();
    assert!(matches!(
        decode(b'D', &body).unwrap_err(),
        DecodeError::CountExceedsBody {
            message: "DataRow",
            count: 65_535,
            remaining: 0,
            ..
        }
    ));
    let body = Body::new().u16(2).i32(1).bytes(b"x").i32(-5).build();
    assert_eq!(
        decode(b'D', &body).unwrap_err().to_string(),
        "DataRow message: column 2 length -5 is invalid"
    );
    let body = Body::new().u16(1).i32(4).bytes(b"abc").build();
    assert!(matches!(
        decode(b'D', &body).unwrap_err(),
        DecodeError::InvalidValueLength {
            message: "DataRow",
            length: 4,
            ..
        }
    ));
}

#[test]
fn data_row_values_share_the_frame() {
    let body = Body::new().u16(2).i32(3).bytes(b"abc").i32(-1).build();
    let frame = frame(b'D', &body);
    let BackendMessage::DataRow(row) = decode_backend(&frame).unwrap() else {
        panic!("expected DataRow");
    };
    let value = row.columns[0].as_ref().unwrap();
    assert_eq!(&value[..], b"abc");
    assert_eq!(
        value.as_ptr(),
        frame.body()[6..].as_ptr(),
        "the column value was copied"
    );
    assert_eq!(row.columns[1], None);
    assert!(!format!("{row:?}").contains("abc"));
}

#[test]
fn row_description_errors() {
    let body = Body::new().u16(1000).cstr("id").build();
    assert!(matches!(
        decode(b'T', &body).unwrap_err(),
        DecodeError::CountExceedsBody {
            message: "RowDescription",
            count: 1000,
            ..
        }
    ));
    let body = Body::new()
        .u16(1)
        .cstr("id")
        .i32(16_384)
        .i16(1)
        .i32(23)
        .i16(4)
        .i32(-1)
        .i16(7)
        .build();
    assert_eq!(
        decode(b'T', &body).unwrap_err().to_string(),
        "RowDescription message: format code of field 1 7 is invalid: format codes must be 0 (text) or 1 (binary)"
    );
}

#[test]
fn error_response_fields() {
    let body = Body::new()
        .u8(b'S')
        .cstr("ERROR")
        .u8(b'V')
        .cstr("ERROR")
        .u8(b'C')
        .cstr("42501")
        .u8(b'M')
        .cstr("permission denied for table patients")
        .u8(b'D')
        .cstr("Key (ssn)=(123-45-6789)")
        .u8(b'H')
        .cstr("Ask for access")
        .u8(b'P')
        .cstr("15")
        .u8(0)
        .build();
    let frame = frame(b'E', &body);
    let BackendMessage::ErrorResponse(fields) = decode_backend(&frame).unwrap() else {
        panic!("expected ErrorResponse");
    };
    assert_eq!(fields.severity(), Some("ERROR"));
    assert_eq!(fields.code(), Some(SqlState::INSUFFICIENT_PRIVILEGE));
    assert_eq!(
        fields.message(),
        Some("permission denied for table patients")
    );
    assert_eq!(fields.detail(), Some("Key (ssn)=(123-45-6789)"));
    assert_eq!(fields.hint(), Some("Ask for access"));
    assert_eq!(fields.get(b'P'), Some("15"));

    let debug = format!("{fields:?}");
    assert!(!debug.contains("123-45"), "{debug}");
    assert!(debug.contains("42501"), "{debug}");
}

#[test]
fn error_response_prefers_unlocalized_severity() {
    let fields = ErrorFields {
        fields: vec![(b'S', "FEHLER"), (b'V', "ERROR")],
    };
    assert_eq!(fields.severity(), Some("ERROR"));
    let fields = ErrorFields {
        fields: vec![(b'S', "ERROR"), (b'C', "bogus")],
    };
    assert_eq!(fields.severity(), Some("ERROR"));
    assert_eq!(fields.code(), None);
}

#[test]
fn error_response_malformed() {
    let body = Body::new().u8(b'S').cstr("ERROR").build();
    assert_eq!(
        decode(b'E', &body).unwrap_err().to_string(),
        "ErrorResponse message is truncated at field list terminator"
    );
    let body = Body::new().u8(b'M').bytes(b"no terminator").build();
    assert!(matches!(
        decode(b'N', &body).unwrap_err(),
        DecodeError::MissingNul {
            message: "NoticeResponse",
            ..
        }
    ));
    let body = Body::new().u8(0).u8(0).build();
    assert!(matches!(
        decode(b'E', &body).unwrap_err(),
        DecodeError::TrailingBytes {
            message: "ErrorResponse",
            count: 1
        }
    ));
}

#[test]
fn negotiate_protocol_version_counts() {
    let body = Body::new().i32(196_608).i32(-1).build();
    assert_eq!(
        decode(b'v', &body).unwrap_err().to_string(),
        "NegotiateProtocolVersion message: option count -1 is negative"
    );
    let body = Body::new()
        .i32(196_608)
        .i32(i32::MAX)
        .cstr("_pq_.x")
        .build();
    assert!(matches!(
        decode(b'v', &body).unwrap_err(),
        DecodeError::CountExceedsBody {
            message: "NegotiateProtocolVersion",
            ..
        }
    ));
}

#[test]
fn copy_response_errors() {
    let body = Body::new().u8(2).u16(0).build();
    assert_eq!(
        decode(b'G', &body).unwrap_err().to_string(),
        "CopyInResponse message: overall format 2 is invalid: format codes must be 0 (text) or 1 (binary)"
    );
    let body = Body::new().u8(0).u16(3).i16(0).build();
    assert!(matches!(
        decode(b'H', &body).unwrap_err(),
        DecodeError::CountExceedsBody {
            message: "CopyOutResponse",
            count: 3,
            ..
        }
    ));
}

#[test]
fn parameter_description_truncated() {
    let body = Body::new().u16(2).i32(23).i16(0).build();
    assert!(matches!(
        decode(b't', &body).unwrap_err(),
        DecodeError::CountExceedsBody {
            message: "ParameterDescription",
            count: 2,
            ..
        }
    ));
}

#[test]
fn notification_response_missing_payload() {
    let body = Body::new().i32(7).cstr("channel").build();
    assert_eq!(
        decode(b'A', &body).unwrap_err().to_string(),
        "NotificationResponse message: payload has no NUL terminator"
    );
}

#[test]
fn unknown_backend_tag() {
    assert_eq!(
        decode(b'Q', b"").unwrap_err(),
        DecodeError::UnknownMessageType {
            direction: Direction::Backend,
            tag: Tag(b'Q'),
        }
    );
}

#[test]
fn command_complete_rows() {
    let cases = [
        ("SELECT 5", Some(5)),
        ("INSERT 0 1", Some(1)),
        ("COPY 12", Some(12)),
        ("CREATE TABLE", None),
        ("BEGIN", None),
        ("", None),
    ];
    for (tag, rows) in cases {
        assert_eq!(CommandComplete { tag }.rows(), rows, "{tag}");
    }
}
