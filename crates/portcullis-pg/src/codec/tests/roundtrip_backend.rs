//! Round-trip properties of backend messages:
//! `decode(encode(message)) == message` and `encode(decode(bytes)) == bytes`.

use bytes::BytesMut;
use proptest::prelude::*;

use super::single_frame;
use super::strategies;
use crate::codec::{decode_backend, BackendMessage};

fn assert_round_trip(message: BackendMessage<'_>) {
    let mut buf = BytesMut::new();
    message.encode(&mut buf).expect("generated message encodes");
    let wire = buf.freeze();

    let frame = single_frame(&wire);
    let decoded = decode_backend(&frame).expect("encoded message decodes");
    assert_eq!(
        decoded, message,
        "decode(encode(message)) differs from message"
    );

    let mut again = BytesMut::new();
    decoded.encode(&mut again).expect("decoded message encodes");
    assert_eq!(
        again.freeze(),
        wire,
        "encode(decode(bytes)) differs from bytes"
    );
}

proptest! {
    #[test]
    fn authentication_round_trips(message in strategies::authentication()) {
        assert_round_trip(BackendMessage::Authentication(message));
    }

    #[test]
    fn parameter_status_round_trips(message in strategies::parameter_status()) {
        assert_round_trip(BackendMessage::ParameterStatus(message));
    }

    #[test]
    fn backend_key_data_round_trips(message in strategies::backend_key_data()) {
        assert_round_trip(BackendMessage::BackendKeyData(message));
    }

    #[test]
    fn ready_for_query_round_trips(message in strategies::ready_for_query()) {
        assert_round_trip(BackendMessage::ReadyForQuery(message));
    }

    #[test]
    fn row_description_round_trips(message in strategies::row_description()) {
        assert_round_trip(BackendMessage::RowDescription(message));
    }

    #[test]
    fn data_row_round_trips(message in strategies::data_row()) {
        assert_round_trip(BackendMessage::DataRow(message));
    }

    #[test]
    fn command_complete_round_trips(message in strategies::command_complete()) {
        assert_round_trip(BackendMessage::CommandComplete(message));
    }

    #[test]
    fn error_response_round_trips(fields in strategies::error_fields()) {
        assert_round_trip(BackendMessage::ErrorResponse(fields));
    }

    #[test]
    fn notice_response_round_trips(fields in strategies::error_fields()) {
        assert_round_trip(BackendMessage::NoticeResponse(fields));
    }

    #[test]
    fn parameter_description_round_trips(message in strategies::parameter_description()) {
        assert_round_trip(BackendMessage::ParameterDescription(message));
    }

    #[test]
    fn copy_in_response_round_trips(message in strategies::copy_response()) {
        assert_round_trip(BackendMessage::CopyInResponse(message));
    }

    #[test]
    fn copy_out_response_round_trips(message in strategies::copy_response()) {
        assert_round_trip(BackendMessage::CopyOutResponse(message));
    }

    #[test]
    fn copy_both_response_round_trips(message in strategies::copy_response()) {
        assert_round_trip(BackendMessage::CopyBothResponse(message));
    }

    #[test]
    fn copy_data_round_trips(message in strategies::copy_data()) {
        assert_round_trip(BackendMessage::CopyData(message));
    }

    #[test]
    fn notification_response_round_trips(message in strategies::notification_response()) {
        assert_round_trip(BackendMessage::NotificationResponse(message));
    }

    #[test]
    fn negotiate_protocol_version_round_trips(
        message in strategies::negotiate_protocol_version(),
    ) {
        assert_round_trip(BackendMessage::NegotiateProtocolVersion(message));
    }

    #[test]
    fn function_call_response_round_trips(message in strategies::function_call_response()) {
        assert_round_trip(BackendMessage::FunctionCallResponse(message));
    }
}

#[test]
fn bodiless_messages_round_trip() {
    for message in [
        BackendMessage::EmptyQueryResponse,
        BackendMessage::ParseComplete,
        BackendMessage::BindComplete,
        BackendMessage::CloseComplete,
        BackendMessage::NoData,
        BackendMessage::PortalSuspended,
        BackendMessage::CopyDone,
    ] {
        assert_round_trip(message);
    }
}

#[test]
fn bodiless_messages_use_documented_tags() {
    let cases = [
        (BackendMessage::EmptyQueryResponse, b'I'),
        (BackendMessage::ParseComplete, b'1'),
        (BackendMessage::BindComplete, b'2'),
        (BackendMessage::CloseComplete, b'3'),
        (BackendMessage::NoData, b'n'),
        (BackendMessage::PortalSuspended, b's'),
        (BackendMessage::CopyDone, b'c'),
    ];
    for (message, tag) in cases {
        let mut buf = BytesMut::new();
        message.encode(&mut buf).unwrap();
        assert_eq!(&buf[..], &[tag, 0, 0, 0, 4], "{message:?}");
    }
}
