//! Malformed frontend messages: every one is an error naming the message
//! and field, and none panics.

use bytes::Bytes;

use super::{frame, Body};
use crate::codec::{
    decode_frontend, decode_password_message, decode_sasl_initial_response, decode_sasl_response,
    Bind, DecodeError, Direction, Field, Format, FrontendMessage, SqlState, Tag,
};

fn decode(tag: u8, body: &[u8]) -> Result<(), DecodeError> {
    decode_frontend(&frame(tag, body)).map(|_| ())
}

/// Starts a Bind body, up to and including the parameter count.
fn bind_prefix(parameter_count: u16) -> Body {
    Body::new().cstr("").cstr("s1").u16(0).u16(parameter_count)
}

#[test]
fn bind_negative_parameter_length() {
    let body = bind_prefix(3)
        .i32(1)
        .bytes(b"a")
        .i32(-1)
        .i32(-7)
        .u16(0)
        .build();
    let error = decode(b'B', &body).unwrap_err();
    assert_eq!(
        error.to_string(),
        "Bind message: parameter 3 length -7 is invalid"
    );
    assert_eq!(error.sqlstate(), SqlState::PROTOCOL_VIOLATION);
}

#[test]
fn bind_parameter_length_past_end() {
    let body = bind_prefix(1).i32(100).bytes(b"short").build();
    assert_eq!(
        decode(b'B', &body).unwrap_err(),
        DecodeError::InvalidValueLength {
            message: "Bind",
            field: Field::indexed("parameter", 0),
            length: 100,
        }
    );
}

#[test]
fn bind_huge_parameter_count() {
    let body = bind_prefix(u16::MAX).i32(-1).build();
    assert_eq!(
        decode(b'B', &body).unwrap_err(),
        DecodeError::CountExceedsBody {
            message: "Bind",
            field: Field::named("parameter count"),
            count: 65_535,
            needed: 262_140,
            remaining: 4,
        }
    );
}

#[test]
fn bind_accepts_more_than_32767_parameters() {
    // libpq sends up to 65535 parameters, and PostgreSQL reads the count unsigned.
    let count = 40_000u16;
    let mut body = bind_prefix(count);
    for _ in 0..count {
        body = body.i32(-1);
    }
    let body = body.u16(0).build();
    let frame = frame(b'B', &body);
    let FrontendMessage::Bind(bind) = decode_frontend(&frame).unwrap() else {
        panic!("expected Bind");
    };
    assert_eq!(bind.parameters.len(), 40_000);
}

#[test]
fn bind_invalid_format_code() {
    let body = Body::new()
        .cstr("")
        .cstr("")
        .u16(1)
        .i16(2)
        .u16(0)
        .u16(0)
        .build();
    assert_eq!(
        decode(b'B', &body).unwrap_err().to_string(),
        "Bind message: parameter format 1 2 is invalid: format codes must be 0 (text) or 1 (binary)"
    );
}

#[test]
fn bind_missing_result_formats() {
    let body = bind_prefix(0).build();
    assert_eq!(
        decode(b'B', &body).unwrap_err(),
        DecodeError::Truncated {
            message: "Bind",
            field: Field::named("result format count"),
        }
    );
}

#[test]
fn bind_parameter_format_rule() {
    let mut bind = Bind {
        portal: "",
        statement: "",
        parameter_formats: vec![],
        parameters: vec![None, None],
        result_formats: vec![],
    };
    assert_eq!(bind.parameter_format(1), Some(Format::Text));
    bind.parameter_formats = vec![Format::Binary];
    assert_eq!(bind.parameter_format(1), Some(Format::Binary));
    bind.parameter_formats = vec![Format::Text, Format::Binary];
    assert_eq!(bind.parameter_format(1), Some(Format::Binary));
    bind.parameter_formats = vec![Format::Text, Format::Binary, Format::Text];
    assert_eq!(bind.parameter_format(3), None);
}

#[test]
fn bind_debug_hides_parameters() {
    let bind = Bind {
        portal: "",
        statement: "s1",
        parameter_formats: vec![],
        parameters: vec![Some(Bytes::from_static(b"123-45-6789")), None],
        result_formats: vec![],
    };
    let debug = format!("{bind:?}");
    assert!(!debug.contains("123-45"), "{debug}");
    assert!(
        debug.contains("<11 bytes>") && debug.contains("NULL"),
        "{debug}"
    );
}

#[test]
fn parse_huge_type_count() {
    let body = Body::new().cstr("").cstr("SELECT $1").u16(30_000).build();
    assert!(matches!(
        decode(b'P', &body).unwrap_err(),
        DecodeError::CountExceedsBody {
            message: "Parse",
            count: 30_000,
            remaining: 0,
            ..
        }
    ));
}

#[test]
fn parse_trailing_bytes() {
    let body = Body::new()
        .cstr("")
        .cstr("SELECT 1")
        .u16(1)
        .i32(23)
        .u8(0)
        .build();
    assert_eq!(
        decode(b'P', &body).unwrap_err().to_string(),
        "Parse message has 1 unexpected bytes after its last field"
    );
}

#[test]
fn query_errors() {
    assert_eq!(
        decode(b'Q', b"SELECT 1").unwrap_err().to_string(),
        "Query message: query string has no NUL terminator"
    );
    assert_eq!(
        decode(b'Q', b"SELECT 1\0\0").unwrap_err(),
        DecodeError::TrailingBytes {
            message: "Query",
            count: 1,
        }
    );
    assert_eq!(
        decode(b'Q', b"SELECT '\xc3\x28'\0")
            .unwrap_err()
            .to_string(),
        "Query message: query string is not valid UTF-8"
    );
    assert_eq!(
        decode(b'Q', b"").unwrap_err(),
        DecodeError::MissingNul {
            message: "Query",
            field: Field::named("query string"),
        }
    );
}

#[test]
fn bodiless_messages_reject_bodies() {
    for (tag, name) in [
        (b'S', "Sync"),
        (b'H', "Flush"),
        (b'X', "Terminate"),
        (b'c', "CopyDone"),
    ] {
        assert_eq!(
            decode(tag, b"x").unwrap_err(),
            DecodeError::TrailingBytes {
                message: name,
                count: 1,
            }
        );
    }
}

#[test]
fn describe_and_close_check_target() {
    assert_eq!(
        decode(b'D', b"X\0").unwrap_err().to_string(),
        "Describe message: target type 'X' is invalid"
    );
    assert_eq!(
        decode(b'C', b"\x00name\0").unwrap_err().to_string(),
        "Close message: target type 0x00 is invalid"
    );
    assert!(matches!(
        decode(b'D', b"").unwrap_err(),
        DecodeError::Truncated {
            message: "Describe",
            ..
        }
    ));
}

#[test]
fn execute_truncated_row_limit() {
    assert_eq!(
        decode(b'E', b"\0\0\0").unwrap_err().to_string(),
        "Execute message is truncated at maximum row count"
    );
}

#[test]
fn function_call_errors() {
    let body = Body::new().i32(1234).u16(0).u16(1).i32(-2).i16(0).build();
    assert_eq!(
        decode(b'F', &body).unwrap_err().to_string(),
        "FunctionCall message: argument 1 length -2 is invalid"
    );
    let body = Body::new().i32(1234).u16(0).u16(0).i16(5).build();
    assert!(matches!(
        decode(b'F', &body).unwrap_err(),
        DecodeError::InvalidFormatCode {
            message: "FunctionCall",
            code: 5,
            ..
        }
    ));
}

#[test]
fn copy_fail_missing_nul() {
    assert!(matches!(
        decode(b'f', b"abort").unwrap_err(),
        DecodeError::MissingNul {
            message: "CopyFail",
            ..
        }
    ));
}

#[test]
fn unknown_frontend_tag() {
    let error = decode(b'Z', b"I").unwrap_err();
    assert_eq!(
        error,
        DecodeError::UnknownMessageType {
            direction: Direction::Frontend,
            tag: Tag(b'Z'),
        }
    );
    assert_eq!(error.to_string(), "unknown frontend message type 'Z'");
    assert_eq!(
        decode(0xff, b"").unwrap_err().to_string(),
        "unknown frontend message type 0xff"
    );
}

#[test]
fn password_decoders_require_p_tag() {
    let query = frame(b'Q', b"SELECT 1\0");
    assert_eq!(
        decode_password_message(&query).unwrap_err().to_string(),
        "expected PasswordMessage, but got a message of type 'Q'"
    );
    assert!(decode_sasl_initial_response(&query).is_err());
    assert!(decode_sasl_response(&query).is_err());
}

#[test]
fn password_message_errors_and_debug() {
    let password = frame(b'p', b"hunter2\0");
    let message = decode_password_message(&password).unwrap();
    assert_eq!(message.password, "hunter2");
    let debug = format!("{message:?}");
    assert!(!debug.contains("hunter2"), "{debug}");

    assert!(matches!(
        decode_password_message(&frame(b'p', b"hunter2")).unwrap_err(),
        DecodeError::MissingNul {
            message: "Password",
            ..
        }
    ));
    assert!(matches!(
        decode_password_message(&frame(b'p', b"a\0b")).unwrap_err(),
        DecodeError::TrailingBytes {
            message: "Password",
            count: 1
        }
    ));
}

#[test]
fn sasl_initial_response_lengths() {
    let body = Body::new().cstr("SCRAM-SHA-256").i32(-1).build();
    let initial = frame(b'p', &body);
    let message = decode_sasl_initial_response(&initial).unwrap();
    assert_eq!(message.mechanism, "SCRAM-SHA-256");
    assert_eq!(message.data, None);

    let body = Body::new().cstr("SCRAM-SHA-256").i32(-2).build();
    assert_eq!(
        decode_sasl_initial_response(&frame(b'p', &body))
            .unwrap_err()
            .to_string(),
        "SASLInitialResponse message: initial response length -2 is invalid"
    );

    let body = Body::new()
        .cstr("SCRAM-SHA-256")
        .i32(3)
        .bytes(b"n,,")
        .u8(0)
        .build();
    assert!(matches!(
        decode_sasl_initial_response(&frame(b'p', &body)).unwrap_err(),
        DecodeError::TrailingBytes {
            message: "SASLInitialResponse",
            count: 1
        }
    ));
}

#[test]
fn sasl_response_keeps_body() {
    let message = decode_sasl_response(&frame(b'p', b"c=biws,r=abc,p=xyz")).unwrap();
    assert_eq!(&message.data[..], b"c=biws,r=abc,p=xyz");
    assert!(!format!("{message:?}").contains("biws"));
}

#[test]
fn query_debug_hides_text() {
    let frame = frame(b'Q', b"SELECT * FROM patients WHERE ssn = '123-45-6789'\0");
    let message = decode_frontend(&frame).unwrap();
    let debug = format!("{message:?}");
    assert!(!debug.contains("123-45"), "{debug}");
    assert!(!debug.contains("patients"), "{debug}");
}
