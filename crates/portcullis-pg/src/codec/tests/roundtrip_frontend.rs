//! Round-trip properties of frontend messages:
//! `decode(encode(message)) == message` and `encode(decode(bytes)) == bytes`.

use bytes::{Bytes, BytesMut};
use proptest::option;
use proptest::prelude::*;

use super::single_frame;
use super::strategies::{self, bytes, nonempty_text, text};
use crate::codec::{
    decode_frontend, decode_password_message, decode_sasl_initial_response, decode_sasl_response,
    AuthenticationResponse, Frame, FrontendMessage, PasswordMessage, SaslInitialResponse,
    SaslResponse,
};

fn assert_round_trip(message: FrontendMessage<'_>) {
    let mut buf = BytesMut::new();
    message.encode(&mut buf).expect("generated message encodes");
    let wire = buf.freeze();

    let frame = single_frame(&wire);
    let decoded = decode_frontend(&frame).expect("encoded message decodes");
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

/// Checks a 'p' message: `round_trip` decodes the frame with the message's
/// own decoder, compares it with the original and returns it re-encoded.
/// `decode_frontend` must keep the body untouched for that later typed decode.
fn assert_auth_round_trip<F>(wire: Bytes, round_trip: F)
where
    F: FnOnce(&Frame) -> Bytes,
{
    let frame = single_frame(&wire);
    assert_eq!(
        round_trip(&frame),
        wire,
        "encode(decode(bytes)) differs from bytes"
    );

    let generic = decode_frontend(&frame).expect("'p' frame decodes as a frontend message");
    let expected = FrontendMessage::AuthenticationResponse(AuthenticationResponse {
        data: frame.body().clone(),
    });
    assert_eq!(generic, expected);
}

fn encoded(encode: impl FnOnce(&mut BytesMut)) -> Bytes {
    let mut buf = BytesMut::new();
    encode(&mut buf);
    buf.freeze()
}

proptest! {
    #[test]
    fn query_round_trips(message in strategies::query()) {
        assert_round_trip(FrontendMessage::Query(message));
    }

    #[test]
    fn parse_round_trips(message in strategies::parse()) {
        assert_round_trip(FrontendMessage::Parse(message));
    }

    #[test]
    fn bind_round_trips(message in strategies::bind()) {
        assert_round_trip(FrontendMessage::Bind(message));
    }

    #[test]
    fn describe_round_trips(message in strategies::describe()) {
        assert_round_trip(FrontendMessage::Describe(message));
    }

    #[test]
    fn execute_round_trips(message in strategies::execute()) {
        assert_round_trip(FrontendMessage::Execute(message));
    }

    #[test]
    fn close_round_trips(message in strategies::close()) {
        assert_round_trip(FrontendMessage::Close(message));
    }

    #[test]
    fn copy_data_round_trips(message in strategies::copy_data()) {
        assert_round_trip(FrontendMessage::CopyData(message));
    }

    #[test]
    fn copy_fail_round_trips(message in strategies::copy_fail()) {
        assert_round_trip(FrontendMessage::CopyFail(message));
    }

    #[test]
    fn function_call_round_trips(message in strategies::function_call()) {
        assert_round_trip(FrontendMessage::FunctionCall(message));
    }

    #[test]
    fn authentication_response_round_trips(data in bytes(64)) {
        assert_round_trip(FrontendMessage::AuthenticationResponse(AuthenticationResponse { data }));
    }

    #[test]
    fn password_message_round_trips(password in text()) {
        let message = PasswordMessage { password };
        let wire = encoded(|buf| message.encode(buf).unwrap());
        assert_auth_round_trip(wire, |frame| {
            let decoded = decode_password_message(frame).unwrap();
            assert_eq!(decoded, message);
            encoded(|buf| decoded.encode(buf).unwrap())
        });
    }

    #[test]
    fn sasl_initial_response_round_trips(
        mechanism in nonempty_text(),
        data in option::of(bytes(64)),
    ) {
        let message = SaslInitialResponse { mechanism, data };
        let wire = encoded(|buf| message.encode(buf).unwrap());
        assert_auth_round_trip(wire, |frame| {
            let decoded = decode_sasl_initial_response(frame).unwrap();
            assert_eq!(decoded, message);
            encoded(|buf| decoded.encode(buf).unwrap())
        });
    }

    #[test]
    fn sasl_response_round_trips(data in bytes(64)) {
        let message = SaslResponse { data };
        let wire = encoded(|buf| message.encode(buf).unwrap());
        assert_auth_round_trip(wire, |frame| {
            let decoded = decode_sasl_response(frame).unwrap();
            assert_eq!(decoded, message);
            encoded(|buf| decoded.encode(buf).unwrap())
        });
    }
}

#[test]
fn bodiless_messages_round_trip() {
    for message in [
        FrontendMessage::Sync,
        FrontendMessage::Flush,
        FrontendMessage::Terminate,
        FrontendMessage::CopyDone,
    ] {
        assert_round_trip(message);
    }
}

#[test]
fn bodiless_messages_encode_as_documented() {
    let cases: [(FrontendMessage<'_>, &[u8]); 4] = [
        (FrontendMessage::Sync, b"S\0\0\0\x04"),
        (FrontendMessage::Flush, b"H\0\0\0\x04"),
        (FrontendMessage::Terminate, b"X\0\0\0\x04"),
        (FrontendMessage::CopyDone, b"c\0\0\0\x04"),
    ];
    for (message, wire) in cases {
        let mut buf = BytesMut::new();
        message.encode(&mut buf).unwrap();
        assert_eq!(buf.freeze(), Bytes::from_static(wire), "{message:?}");
    }
}
