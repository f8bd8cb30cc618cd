//! Proptest strategies for every typed message.
//!
//! Messages borrow their strings, so the strategies leak the generated
//! strings to get `'static` borrows; each test process leaks a few MB at most.

use bytes::Bytes;
use proptest::collection::{btree_map, vec};
use proptest::option;
use proptest::prelude::*;

use crate::codec::{
    Authentication, BackendKeyData, Bind, CancelRequest, Close, CommandComplete, CopyData,
    CopyFail, CopyResponse, DataRow, Describe, ErrorFields, Execute, FieldDescription, Format,
    FunctionCall, FunctionCallResponse, NegotiateProtocolVersion, NotificationResponse,
    ParameterDescription, ParameterStatus, Parse, ProtocolVersion, Query, ReadyForQuery,
    RowDescription, StartupMessage, Target, TransactionStatus,
};

/// Generates a string without NUL bytes (any Unicode otherwise), leaked to `'static`.
pub(crate) fn text() -> impl Strategy<Value = &'static str> {
    "[^\u{0}]{0,16}".prop_map(|text: String| &*text.leak())
}

/// Generates a non-empty string without NUL bytes.
pub(crate) fn nonempty_text() -> impl Strategy<Value = &'static str> {
    "[^\u{0}]{1,16}".prop_map(|text: String| &*text.leak())
}

pub(crate) fn bytes(max: usize) -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..=max).prop_map(Bytes::from)
}

pub(crate) fn value() -> impl Strategy<Value = Option<Bytes>> {
    option::of(bytes(24))
}

pub(crate) fn format() -> impl Strategy<Value = Format> {
    prop_oneof![Just(Format::Text), Just(Format::Binary)]
}

pub(crate) fn formats() -> impl Strategy<Value = Vec<Format>> {
    vec(format(), 0..5)
}

pub(crate) fn target() -> impl Strategy<Value = Target> {
    prop_oneof![Just(Target::Statement), Just(Target::Portal)]
}

pub(crate) fn secret_key() -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 1..=256).prop_map(Bytes::from)
}

pub(crate) fn query() -> impl Strategy<Value = Query<'static>> {
    text().prop_map(|query| Query { query })
}

pub(crate) fn parse() -> impl Strategy<Value = Parse<'static>> {
    (text(), text(), vec(any::<u32>(), 0..6)).prop_map(|(name, query, parameter_types)| Parse {
        name,
        query,
        parameter_types,
    })
}

pub(crate) fn bind() -> impl Strategy<Value = Bind<'static>> {
    (text(), text(), formats(), vec(value(), 0..6), formats()).prop_map(
        |(portal, statement, parameter_formats, parameters, result_formats)| Bind {
            portal,
            statement,
            parameter_formats,
            parameters,
            result_formats,
        },
    )
}

pub(crate) fn describe() -> impl Strategy<Value = Describe<'static>> {
    (target(), text()).prop_map(|(target, name)| Describe { target, name })
}

pub(crate) fn close() -> impl Strategy<Value = Close<'static>> {
    (target(), text()).prop_map(|(target, name)| Close { target, name })
}

pub(crate) fn execute() -> impl Strategy<Value = Execute<'static>> {
    (text(), any::<i32>()).prop_map(|(portal, max_rows)| Execute { portal, max_rows })
}

pub(crate) fn copy_data() -> impl Strategy<Value = CopyData> {
    bytes(64).prop_map(|data| CopyData { data })
}

pub(crate) fn copy_fail() -> impl Strategy<Value = CopyFail<'static>> {
    text().prop_map(|message| CopyFail { message })
}

pub(crate) fn function_call() -> impl Strategy<Value = FunctionCall> {
    (any::<u32>(), formats(), vec(value(), 0..6), format()).prop_map(
        |(function_oid, argument_formats, arguments, result_format)| FunctionCall {
            function_oid,
            argument_formats,
            arguments,
            result_format,
        },
    )
}

pub(crate) fn authentication() -> impl Strategy<Value = Authentication<'static>> {
    prop_oneof![
        Just(Authentication::Ok),
        Just(Authentication::KerberosV5),
        Just(Authentication::CleartextPassword),
        any::<[u8; 4]>().prop_map(|salt| Authentication::Md5Password { salt }),
        Just(Authentication::Gss),
        bytes(48).prop_map(|data| Authentication::GssContinue { data }),
        Just(Authentication::Sspi),
        vec(nonempty_text(), 0..4).prop_map(|mechanisms| Authentication::Sasl { mechanisms }),
        bytes(48).prop_map(|data| Authentication::SaslContinue { data }),
        bytes(48).prop_map(|data| Authentication::SaslFinal { data }),
    ]
}

pub(crate) fn parameter_status() -> impl Strategy<Value = ParameterStatus<'static>> {
    (text(), text()).prop_map(|(name, value)| ParameterStatus { name, value })
}

pub(crate) fn backend_key_data() -> impl Strategy<Value = BackendKeyData> {
    (any::<i32>(), secret_key()).prop_map(|(process_id, secret_key)| BackendKeyData {
        process_id,
        secret_key,
    })
}

pub(crate) fn ready_for_query() -> impl Strategy<Value = ReadyForQuery> {
    prop_oneof![
        Just(TransactionStatus::Idle),
        Just(TransactionStatus::InTransaction),
        Just(TransactionStatus::Failed),
    ]
    .prop_map(|status| ReadyForQuery { status })
}

fn field_description() -> impl Strategy<Value = FieldDescription<'static>> {
    (
        text(),
        any::<u32>(),
        any::<i16>(),
        any::<u32>(),
        any::<i16>(),
        any::<i32>(),
        format(),
    )
        .prop_map(
            |(name, table_oid, column_attribute, type_oid, type_size, type_modifier, format)| {
                FieldDescription {
                    name,
                    table_oid,
                    column_attribute,
                    type_oid,
                    type_size,
                    type_modifier,
                    format,
                }
            },
        )
}

pub(crate) fn row_description() -> impl Strategy<Value = RowDescription<'static>> {
    vec(field_description(), 0..5).prop_map(|fields| RowDescription { fields })
}

pub(crate) fn data_row() -> impl Strategy<Value = DataRow> {
    vec(value(), 0..8).prop_map(|columns| DataRow { columns })
}

pub(crate) fn command_complete() -> impl Strategy<Value = CommandComplete<'static>> {
    text().prop_map(|tag| CommandComplete { tag })
}

pub(crate) fn error_fields() -> impl Strategy<Value = ErrorFields<'static>> {
    vec((1u8..=255, text()), 0..8).prop_map(|fields| ErrorFields { fields })
}

pub(crate) fn parameter_description() -> impl Strategy<Value = ParameterDescription> {
    vec(any::<u32>(), 0..8).prop_map(|types| ParameterDescription { types })
}

pub(crate) fn copy_response() -> impl Strategy<Value = CopyResponse> {
    (format(), formats()).prop_map(|(format, column_formats)| CopyResponse {
        format,
        column_formats,
    })
}

pub(crate) fn notification_response() -> impl Strategy<Value = NotificationResponse<'static>> {
    (any::<i32>(), text(), text()).prop_map(|(process_id, channel, payload)| NotificationResponse {
        process_id,
        channel,
        payload,
    })
}

pub(crate) fn negotiate_protocol_version(
) -> impl Strategy<Value = NegotiateProtocolVersion<'static>> {
    (any::<u32>(), vec(text(), 0..4)).prop_map(|(version, unrecognized_options)| {
        NegotiateProtocolVersion {
            version,
            unrecognized_options,
        }
    })
}

pub(crate) fn function_call_response() -> impl Strategy<Value = FunctionCallResponse> {
    value().prop_map(|value| FunctionCallResponse { value })
}

pub(crate) fn startup_message() -> impl Strategy<Value = StartupMessage<'static>> {
    (any::<u16>(), btree_map(nonempty_text(), text(), 0..6)).prop_map(|(minor, parameters)| {
        StartupMessage {
            version: ProtocolVersion::v3(minor),
            parameters: parameters.into_iter().collect(),
        }
    })
}

pub(crate) fn cancel_request() -> impl Strategy<Value = CancelRequest> {
    (any::<i32>(), secret_key()).prop_map(|(process_id, secret_key)| CancelRequest {
        process_id,
        secret_key,
    })
}
