//! The call into libpg_query, the PostgreSQL parser that the `pg_query` crate links.
//!
//! `pg_query::parse` drops the error position and builds table, alias and function
//! summaries that this crate does not use, so this module calls the same C function
//! (`pg_query_parse_protobuf_opts`, declared in libpg_query's `pg_query.h`) directly.

use std::ffi::{c_char, c_int, CStr, CString};

use pg_query::protobuf::ParseResult;
use prost::Message;

use crate::error::AnalysisError;

/// `PgQueryError` from `pg_query.h`.
#[repr(C)]
struct PgQueryError {
    message: *mut c_char,
    funcname: *mut c_char,
    filename: *mut c_char,
    lineno: c_int,
    cursorpos: c_int,
    context: *mut c_char,
}

/// `PgQueryProtobuf` from `pg_query.h`.
#[repr(C)]
struct PgQueryProtobuf {
    len: usize,
    data: *mut c_char,
}

/// `PgQueryProtobufParseResult` from `pg_query.h`.
#[repr(C)]
struct PgQueryProtobufParseResult {
    parse_tree: PgQueryProtobuf,
    stderr_buffer: *mut c_char,
    error: *mut PgQueryError,
}

extern "C" {
    fn pg_query_parse_protobuf_opts(
        input: *const c_char,
        parser_options: c_int,
    ) -> PgQueryProtobufParseResult;
    fn pg_query_free_protobuf_parse_result(result: PgQueryProtobufParseResult);
}

/// libpg_query's `PG_QUERY_DISABLE_STANDARD_CONFORMING_STRINGS` parser option.
const DISABLE_STANDARD_CONFORMING_STRINGS: c_int = 32;

/// Parses `sql` with the PostgreSQL 18 grammar into its raw parse tree.
///
/// `standard_conforming_strings` must match the session's setting: with it off,
/// backslashes escape quotes inside `'...'`, which changes where literals and
/// statements end.
pub(crate) fn parse(
    sql: &str,
    standard_conforming_strings: bool,
) -> Result<ParseResult, AnalysisError> {
    let input = CString::new(sql).map_err(|error| AnalysisError::Parse {
        message:
            "the statement contains a zero byte, which PostgreSQL does not accept in query text"
                .into(),
        position: char_position(sql, error.nul_position()),
    })?;
    let options = if standard_conforming_strings {
        0
    } else {
        DISABLE_STANDARD_CONFORMING_STRINGS
    };

    // SAFETY: `input` is a valid NUL-terminated string that outlives the call. The
    // result is read only before it is passed back to the matching free function,
    // which is called exactly once.
    unsafe {
        let result = pg_query_parse_protobuf_opts(input.as_ptr(), options);
        let outcome = read_result(&result);
        pg_query_free_protobuf_parse_result(result);
        outcome
    }
}

/// Decodes the parse tree or copies the error out of `result`.
///
/// # Safety
///
/// `result` must come from `pg_query_parse_protobuf_opts` and not be freed yet.
unsafe fn read_result(result: &PgQueryProtobufParseResult) -> Result<ParseResult, AnalysisError> {
    if !result.error.is_null() {
        let error = &*result.error;
        let message = if error.message.is_null() {
            "the parser reported an error without a message".to_owned()
        } else {
            CStr::from_ptr(error.message).to_string_lossy().into_owned()
        };
        let position = u32::try_from(error.cursorpos)
            .ok()
            .filter(|position| *position > 0);
        return Err(AnalysisError::Parse { message, position });
    }
    let tree = &result.parse_tree;
    let bytes: &[u8] = if tree.data.is_null() || tree.len == 0 {
        &[]
    } else {
        std::slice::from_raw_parts(tree.data.cast::<u8>(), tree.len)
    };
    // NOTE: prost stops decoding at 100 nested messages, about 47 levels of
    // expression nesting (a chain of 48 `||` operands is too deep). That limit
    // is kept on purpose: without it, a deeply nested statement that the C
    // parser still accepts overflows a 2 MiB thread stack while decoding.
    ParseResult::decode(bytes).map_err(|error| AnalysisError::Parse {
        message: format!(
            "the statement is nested too deeply for the gateway to analyze (more than about 45 levels of \
             nested expressions or subqueries; decoder: {})",
            first_line(&error.to_string())
        ),
        position: None,
    })
}

/// Converts a byte offset into the 1-based character position that PostgreSQL reports.
fn char_position(sql: &str, byte_offset: usize) -> Option<u32> {
    let prefix = sql.get(..byte_offset)?;
    u32::try_from(prefix.chars().count() + 1).ok()
}

/// Cuts the decoder's message before its field path, which can be thousands of characters long.
fn first_line(message: &str) -> &str {
    message.split(':').next().unwrap_or(message)
}
