//! Encoder errors, the ErrorReport builder and SQLSTATE values.

use std::str::FromStr;

use bytes::{Bytes, BytesMut};

use super::single_frame;
use crate::codec::{
    decode_backend, Authentication, BackendKeyData, BackendMessage, Bind, DecodeError, EncodeError,
    ErrorFields, ErrorReport, Field, Query, Severity, SqlState, Tag,
};

#[test]
fn error_report_encodes_documented_fields() {
    let report = ErrorReport::new(
        Severity::Error,
        SqlState::INSUFFICIENT_PRIVILEGE,
        "permission denied for table patients",
    )
    .with_detail("No policy permits SELECT on patients.ssn.")
    .with_hint("Request access with portcullis request.");
    let mut buf = BytesMut::new();
    report.encode(&mut buf).unwrap();

    let mut expected = Vec::new();
    expected.extend_from_slice(b"SERROR\0VERROR\0C42501\0");
    expected.extend_from_slice(b"Mpermission denied for table patients\0");
    expected.extend_from_slice(b"DNo policy permits SELECT on patients.ssn.\0");
    expected.extend_from_slice(b"HRequest access with portcullis request.\0\0");
    assert_eq!(buf[0], b'E');
    assert_eq!(&buf[5..], &expected[..]);
    assert_eq!(
        i32::from_be_bytes(buf[1..5].try_into().unwrap()) as usize,
        expected.len() + 4
    );

    let frame = single_frame(&buf);
    let BackendMessage::ErrorResponse(fields) = decode_backend(&frame).unwrap() else {
        panic!("expected ErrorResponse");
    };
    assert_eq!(fields.code(), Some(SqlState::INSUFFICIENT_PRIVILEGE));
    assert_eq!(
        fields.hint(),
        Some("Request access with portcullis request.")
    );
}

#[test]
fn error_report_notice_severities() {
    let mut buf = BytesMut::new();
    ErrorReport::new(Severity::Warning, SqlState::WARNING, "masked columns")
        .encode(&mut buf)
        .unwrap();
    assert_eq!(buf[0], b'N');

    for severity in [Severity::Error, Severity::Fatal, Severity::Panic] {
        let mut buf = BytesMut::new();
        ErrorReport::new(severity, SqlState::ADMIN_SHUTDOWN, "bye")
            .encode(&mut buf)
            .unwrap();
        assert_eq!(buf[0], b'E', "{severity:?}");
    }
}

#[test]
fn interior_nul_is_rejected_and_buffer_kept() {
    let mut buf = BytesMut::from(&b"earlier"[..]);
    let error = Query {
        query: "SELECT 1\0; DROP TABLE x",
    }
    .encode(&mut buf)
    .unwrap_err();
    assert_eq!(
        error,
        EncodeError::InteriorNul {
            message: "Query",
            field: Field::named("query string"),
        }
    );
    assert_eq!(&buf[..], b"earlier", "a failed encode left bytes behind");

    let report = ErrorReport::new(Severity::Error, SqlState::INTERNAL_ERROR, "bad\0message");
    assert!(report.encode(&mut buf).is_err());
    assert_eq!(&buf[..], b"earlier");
}

#[test]
fn too_many_parameters_is_rejected() {
    let bind = Bind {
        portal: "",
        statement: "",
        parameter_formats: vec![],
        parameters: vec![None; 65_536],
        result_formats: vec![],
    };
    let mut buf = BytesMut::new();
    assert_eq!(
        bind.encode(&mut buf).unwrap_err().to_string(),
        "Bind message: 65536 items in parameter count exceed the maximum of 65535"
    );
    assert!(buf.is_empty());
}

#[test]
fn list_terminators_cannot_be_encoded() {
    let mut buf = BytesMut::new();
    let sasl = Authentication::Sasl {
        mechanisms: vec!["SCRAM-SHA-256", ""],
    };
    assert_eq!(
        sasl.encode(&mut buf).unwrap_err(),
        EncodeError::ItemIsTerminator {
            message: "Authentication",
            field: Field::indexed("mechanism", 1),
        }
    );
    let fields = BackendMessage::ErrorResponse(ErrorFields {
        fields: vec![(0, "x")],
    });
    assert!(fields.encode(&mut buf).is_err());
    assert!(buf.is_empty());
}

#[test]
fn secret_key_length_checked_on_encode() {
    for key in [Bytes::new(), Bytes::from(vec![0; 257])] {
        let message = BackendKeyData {
            process_id: 1,
            secret_key: key.clone(),
        };
        let mut buf = BytesMut::new();
        assert_eq!(
            message.encode(&mut buf).unwrap_err(),
            EncodeError::SecretKeyLengthInvalid {
                message: "BackendKeyData",
                length: key.len(),
            }
        );
        assert!(buf.is_empty());
    }
}

#[test]
fn sqlstate_parsing() {
    assert_eq!(
        SqlState::from_str("08P01"),
        Ok(SqlState::PROTOCOL_VIOLATION)
    );
    assert_eq!(SqlState::PROTOCOL_VIOLATION.as_str(), "08P01");
    assert_eq!(SqlState::PROTOCOL_VIOLATION.class(), "08");
    assert_eq!(SqlState::TOO_MANY_CONNECTIONS.to_string(), "53300");
    for invalid in ["", "0800", "08p01", "08P011", "08P0\u{e9}"] {
        assert!(SqlState::from_str(invalid).is_err(), "{invalid:?}");
    }
}

#[test]
fn sqlstate_constants_are_well_formed() {
    let all = [
        SqlState::SUCCESSFUL_COMPLETION,
        SqlState::WARNING,
        SqlState::CONNECTION_EXCEPTION,
        SqlState::SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION,
        SqlState::CONNECTION_FAILURE,
        SqlState::PROTOCOL_VIOLATION,
        SqlState::FEATURE_NOT_SUPPORTED,
        SqlState::INVALID_PARAMETER_VALUE,
        SqlState::ACTIVE_SQL_TRANSACTION,
        SqlState::READ_ONLY_SQL_TRANSACTION,
        SqlState::IN_FAILED_SQL_TRANSACTION,
        SqlState::IDLE_IN_TRANSACTION_SESSION_TIMEOUT,
        SqlState::INVALID_SQL_STATEMENT_NAME,
        SqlState::INVALID_AUTHORIZATION_SPECIFICATION,
        SqlState::INVALID_PASSWORD,
        SqlState::INVALID_CURSOR_NAME,
        SqlState::INVALID_CATALOG_NAME,
        SqlState::SYNTAX_ERROR,
        SqlState::INSUFFICIENT_PRIVILEGE,
        SqlState::UNDEFINED_OBJECT,
        SqlState::INSUFFICIENT_RESOURCES,
        SqlState::OUT_OF_MEMORY,
        SqlState::TOO_MANY_CONNECTIONS,
        SqlState::CONFIGURATION_LIMIT_EXCEEDED,
        SqlState::PROGRAM_LIMIT_EXCEEDED,
        SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
        SqlState::OPERATOR_INTERVENTION,
        SqlState::QUERY_CANCELED,
        SqlState::ADMIN_SHUTDOWN,
        SqlState::CRASH_SHUTDOWN,
        SqlState::CANNOT_CONNECT_NOW,
        SqlState::IDLE_SESSION_TIMEOUT,
        SqlState::SYSTEM_ERROR,
        SqlState::IO_ERROR,
        SqlState::CONFIG_FILE_ERROR,
        SqlState::INTERNAL_ERROR,
    ];
    for code in all {
        assert_eq!(SqlState::from_str(code.as_str()), Ok(code));
    }
}

#[test]
fn decode_errors_map_to_sqlstates() {
    let cases = [
        (
            DecodeError::MessageTooLarge {
                tag: Tag(b'Q'),
                length: 10,
                max: 5,
            },
            SqlState::PROGRAM_LIMIT_EXCEEDED,
        ),
        (
            DecodeError::UnsupportedProtocolVersion { major: 2, minor: 0 },
            SqlState::FEATURE_NOT_SUPPORTED,
        ),
        (
            DecodeError::TrailingBytes {
                message: "Sync",
                count: 1,
            },
            SqlState::PROTOCOL_VIOLATION,
        ),
    ];
    for (error, code) in cases {
        assert_eq!(error.sqlstate(), code, "{error}");
    }
}
