//! The `token` method: keyed, deterministic pseudonyms.
//!
//! The MAC input is the value's canonical text, which is the same for the text and the
//! binary format of a value. It is the characters of a string without the trailing
//! padding of a `character(n)` value, the decimal form of an integer, the normalized
//! decimal form of a `numeric` and the lowercase hyphenated form of a `uuid`. The
//! canonical text carries no type, so `integer` 42 and `bigint` 42 get the same MAC,
//! but the output formats below still differ by type.

use bytes::{BufMut, BytesMut};
use hmac::Mac;

use crate::error::MaskError;
use crate::int::{self, Decimal};
use crate::key::MaskKey;
use crate::numeric;
use crate::text::{char_count, trim_padding};
use crate::types::{Format, PgType};

/// Prefix of string tokens, so a reader can tell a token from a real value.
pub const TOKEN_PREFIX: &str = "tok_";
/// Bytes of the MAC shown in a string token: 80 bits, as 16 base32 characters.
const STRING_TOKEN_MAC_BYTES: usize = 10;
/// Length of a string token in characters.
pub const STRING_TOKEN_LEN: usize = TOKEN_PREFIX.len() + STRING_TOKEN_MAC_BYTES * 8 / 5;
/// RFC 4648 base32 alphabet in lowercase; it avoids case-insensitive collisions in
/// tools such as spreadsheets that would merge base64 tokens differing only in case.
const BASE32_ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// Appends the token of `value`, a valid value of `pg_type` in `format`.
///
/// Outputs by type:
/// - character types: `tok_` and 16 base32 characters of the MAC; a `character(n)`
///   token is padded with spaces to `n` characters when `n` is larger.
/// - `integer`: the first 4 MAC bytes as a big-endian number with the sign bit cleared
///   (0 to 2^31-1).
/// - `bigint` and `numeric`: the first 8 MAC bytes with the sign bit cleared (0 to
///   2^63-1), a `numeric` with scale 0.
/// - `uuid`: the first 16 MAC bytes with the version set to 8 and the RFC 9562 variant.
pub(crate) fn put_token(
    pg_type: PgType,
    format: Format,
    value: &[u8],
    key: &MaskKey,
    out: &mut BytesMut,
) -> Result<(), MaskError> {
    let mut mac = key.mac();
    match pg_type {
        PgType::Text | PgType::Varchar | PgType::Name => mac.update(value),
        PgType::Bpchar => mac.update(trim_padding(value)),
        PgType::Int2 | PgType::Int4 | PgType::Int8 => {
            mac.update(Decimal::new(int::decode(pg_type, format, value)?).as_bytes());
        }
        PgType::Numeric => numeric::write_canonical(format, value, &mut |part| mac.update(part))?,
        PgType::Uuid => mac.update(&format_uuid(&decode_uuid(format, value)?)),
        PgType::Date | PgType::Timestamp | PgType::Timestamptz | PgType::Bool => {
            return Err(MaskError::Unsupported {
                method: crate::MaskMethod::Token,
                column_type: crate::ColumnType::Known(pg_type),
            });
        }
    }
    let digest: [u8; 32] = mac.finalize().into_bytes().into();
    let [d0, d1, d2, d3, d4, d5, d6, d7, ..] = digest;

    match pg_type {
        PgType::Int4 | PgType::Int2 => {
            let token = (u32::from_be_bytes([d0, d1, d2, d3]) & 0x7FFF_FFFF) as i32;
            match format {
                Format::Binary => out.put_i32(token),
                Format::Text => out.put_slice(Decimal::new(token.into()).as_bytes()),
            }
        }
        PgType::Int8 | PgType::Numeric => {
            let token =
                u64::from_be_bytes([d0, d1, d2, d3, d4, d5, d6, d7]) & 0x7FFF_FFFF_FFFF_FFFF;
            match (pg_type, format) {
                (PgType::Int8, Format::Binary) => out.put_u64(token),
                (PgType::Numeric, Format::Binary) => numeric::put_binary_integer(token, out),
                _ => out.put_slice(Decimal::new(token as i64).as_bytes()),
            }
        }
        PgType::Uuid => {
            let mut uuid = [0u8; 16];
            uuid.copy_from_slice(digest.get(..16).unwrap_or(&[0; 16]));
            if let Some(version) = uuid.get_mut(6) {
                *version = (*version & 0x0F) | 0x80;
            }
            if let Some(variant) = uuid.get_mut(8) {
                *variant = (*variant & 0x3F) | 0x80;
            }
            match format {
                Format::Binary => out.put_slice(&uuid),
                Format::Text => out.put_slice(&format_uuid(&uuid)),
            }
        }
        _ => {
            out.put_slice(TOKEN_PREFIX.as_bytes());
            put_base32(
                digest.get(..STRING_TOKEN_MAC_BYTES).unwrap_or_default(),
                out,
            );
            if pg_type == PgType::Bpchar {
                let width = char_count(pg_type, format, value)?;
                out.put_bytes(b' ', width.saturating_sub(STRING_TOKEN_LEN));
            }
        }
    }
    Ok(())
}

/// Appends RFC 4648 base32 without padding; `bytes.len()` must be a multiple of 5.
fn put_base32(bytes: &[u8], out: &mut BytesMut) {
    for chunk in bytes.chunks_exact(5) {
        let bits = chunk
            .iter()
            .fold(0u64, |bits, &byte| bits << 8 | u64::from(byte));
        for shift in (0..8).rev() {
            let index = (bits >> (shift * 5) & 0x1F) as usize;
            out.put_u8(BASE32_ALPHABET.get(index).copied().unwrap_or(b'a'));
        }
    }
}

fn decode_uuid(format: Format, value: &[u8]) -> Result<[u8; 16], MaskError> {
    match format {
        Format::Binary => value
            .try_into()
            .map_err(|_| MaskError::invalid(PgType::Uuid, format, "wrong length")),
        Format::Text => parse_uuid_text(value)
            .ok_or_else(|| MaskError::invalid(PgType::Uuid, format, "not a hyphenated UUID")),
    }
}

/// Parses the `8-4-4-4-12` hexadecimal form that `uuid_out` prints.
fn parse_uuid_text(value: &[u8]) -> Option<[u8; 16]> {
    if value.len() != 36 {
        return None;
    }
    let mut uuid = [0u8; 16];
    let mut nibbles = value
        .iter()
        .enumerate()
        .filter(|(index, _)| !matches!(index, 8 | 13 | 18 | 23));
    if [8, 13, 18, 23]
        .iter()
        .any(|&index| value.get(index) != Some(&b'-'))
    {
        return None;
    }
    for byte in &mut uuid {
        let high = hex_value(*nibbles.next()?.1)?;
        let low = hex_value(*nibbles.next()?.1)?;
        *byte = high << 4 | low;
    }
    Some(uuid)
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

fn format_uuid(uuid: &[u8; 16]) -> [u8; 36] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut text = [b'-'; 36];
    let positions = (0..36).filter(|index| !matches!(index, 8 | 13 | 18 | 23));
    let nibbles = uuid.iter().flat_map(|byte| [byte >> 4, byte & 0x0F]);
    for (position, nibble) in positions.zip(nibbles) {
        if let (Some(slot), Some(&digit)) = (text.get_mut(position), HEX.get(usize::from(nibble))) {
            *slot = digit;
        }
    }
    text
}
