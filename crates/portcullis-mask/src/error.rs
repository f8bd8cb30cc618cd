//! Errors of the masking layer.
//!
//! No message contains a value or part of one: values are ePHI, and these errors reach
//! logs and the audit record.

use crate::method::MaskMethod;
use crate::types::{ColumnType, Format, PgType};

/// Failure to mask a value, row or COPY line. Every variant means the result must not
/// reach the client unmasked, so the caller denies or aborts the statement.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MaskError {
    /// The policy assigned a method that cannot produce a valid value of the column's
    /// type (a misconfiguration, detected before any row is sent).
    #[error(
        "mask method `{method}` cannot produce a valid value of {column_type}; \
         assign another method to this column (`null` works for every type)"
    )]
    Unsupported {
        method: MaskMethod,
        column_type: ColumnType,
    },

    /// The policy assigned `token` without a key for the column (a misconfiguration).
    #[error("mask method `token` needs a key for the column, but none was configured")]
    MissingKey,

    /// A format code other than 0 (text) or 1 (binary).
    #[error("invalid format code {0}: expected 0 (text) or 1 (binary)")]
    InvalidFormatCode(i16),

    /// The upstream server sent a value that does not decode as its declared type.
    #[error("invalid {format} value of type {pg_type} from the server: {reason}")]
    InvalidValue {
        pg_type: PgType,
        format: Format,
        reason: &'static str,
    },

    /// A DataRow body or binary COPY tuple that does not follow the protocol framing.
    #[error("malformed {message}: {reason} at byte {offset}")]
    Malformed {
        message: &'static str,
        reason: &'static str,
        offset: usize,
    },

    /// A row whose column count differs from the masking plan's.
    #[error("{message} has {found} columns but the masking plan has {expected}")]
    ColumnCount {
        message: &'static str,
        expected: usize,
        found: usize,
    },

    /// A text or CSV COPY line that cannot be split into fields.
    #[error("malformed COPY {format} data: {reason}")]
    MalformedCopy {
        format: &'static str,
        reason: &'static str,
    },

    /// COPY options that the masker cannot handle.
    #[error("unsupported COPY options: {0}")]
    UnsupportedCopy(&'static str),
}

impl MaskError {
    pub(crate) fn invalid(pg_type: PgType, format: Format, reason: &'static str) -> MaskError {
        MaskError::InvalidValue {
            pg_type,
            format,
            reason,
        }
    }
}
