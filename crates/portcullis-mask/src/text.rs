//! Methods on character types (`text`, `varchar`, `character(n)`, `name`), whose text
//! and binary formats are the same bytes in the client encoding.
//!
//! NOTE: methods that count characters (`redact` and `partial` on any character type,
//! and every method on `character(n)`) assume the client encoding is UTF-8. They reject
//! other bytes as invalid, so other client encodings are not supported yet.

use bytes::{BufMut, BytesMut};

use crate::error::MaskError;
use crate::types::{Format, PgType};
use crate::zip;

/// Output of `redact` on every character type except `character(n)`.
pub const REDACTED: &str = "[REDACTED]";
/// Character that replaces hidden characters.
pub const MASK_CHAR: u8 = b'*';
/// Number of mask characters that `partial` writes before the characters it keeps
/// (except on `character(n)`), whatever the hidden length.
pub const PARTIAL_MASK_LEN: usize = 4;

/// Appends the `redact` output: [`REDACTED`], or for `character(n)` one asterisk per
/// character so the declared width is kept.
pub(crate) fn put_redacted(
    pg_type: PgType,
    format: Format,
    value: &[u8],
    out: &mut BytesMut,
) -> Result<(), MaskError> {
    if pg_type == PgType::Bpchar {
        out.put_bytes(MASK_CHAR, char_count(pg_type, format, value)?);
    } else {
        out.put_slice(REDACTED.as_bytes());
    }
    Ok(())
}

/// Appends the `partial` output; see [`crate::MaskMethod::Partial`].
pub(crate) fn put_partial(
    pg_type: PgType,
    format: Format,
    value: &[u8],
    keep_last: u8,
    out: &mut BytesMut,
) -> Result<(), MaskError> {
    let text = as_utf8(pg_type, format, value)?;
    let content = if pg_type == PgType::Bpchar {
        text.trim_end_matches(' ')
    } else {
        text
    };
    let content_chars = content.chars().count();
    let shown = usize::from(keep_last).min(content_chars / 2);
    let tail_start = content
        .char_indices()
        .nth(content_chars - shown)
        .map_or(content.len(), |(index, _)| index);
    let tail = content.get(tail_start..).unwrap_or_default();

    if pg_type == PgType::Bpchar {
        let padding = text.len() - content.len();
        out.put_bytes(MASK_CHAR, content_chars - shown);
        out.put_slice(tail.as_bytes());
        out.put_bytes(b' ', padding);
    } else {
        out.put_bytes(MASK_CHAR, PARTIAL_MASK_LEN);
        out.put_slice(tail.as_bytes());
    }
    Ok(())
}

/// Appends the `zip3` output; `character(n)` output is padded to its width.
pub(crate) fn put_zip3(
    pg_type: PgType,
    format: Format,
    value: &[u8],
    out: &mut BytesMut,
) -> Result<(), MaskError> {
    let prefix = zip::zip3(value);
    out.put_slice(&prefix);
    if pg_type == PgType::Bpchar {
        let width = char_count(pg_type, format, value)?;
        out.put_bytes(b' ', width.saturating_sub(prefix.len()));
    }
    Ok(())
}

/// Drops the trailing spaces that pad a `character(n)` value; they are not significant
/// in comparisons.
pub(crate) fn trim_padding(value: &[u8]) -> &[u8] {
    let end = value
        .iter()
        .rposition(|&byte| byte != b' ')
        .map_or(0, |last| last + 1);
    value.get(..end).unwrap_or_default()
}

pub(crate) fn char_count(
    pg_type: PgType,
    format: Format,
    value: &[u8],
) -> Result<usize, MaskError> {
    Ok(as_utf8(pg_type, format, value)?.chars().count())
}

fn as_utf8(pg_type: PgType, format: Format, value: &[u8]) -> Result<&str, MaskError> {
    std::str::from_utf8(value).map_err(|_| {
        MaskError::invalid(
            pg_type,
            format,
            "not valid UTF-8; set client_encoding to UTF8",
        )
    })
}
