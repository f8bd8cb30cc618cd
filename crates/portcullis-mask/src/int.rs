//! Integer values in text and binary format.

use crate::error::MaskError;
use crate::types::{Format, PgType};

/// Decodes an `int2`, `int4` or `int8` value.
pub(crate) fn decode(pg_type: PgType, format: Format, value: &[u8]) -> Result<i64, MaskError> {
    match format {
        Format::Binary => decode_binary(pg_type, value),
        Format::Text => decode_text(pg_type, value),
    }
}

fn decode_binary(pg_type: PgType, value: &[u8]) -> Result<i64, MaskError> {
    let wrong_length = || MaskError::invalid(pg_type, Format::Binary, "wrong length");
    match pg_type {
        PgType::Int2 => {
            Ok(i16::from_be_bytes(value.try_into().map_err(|_| wrong_length())?).into())
        }
        PgType::Int4 => {
            Ok(i32::from_be_bytes(value.try_into().map_err(|_| wrong_length())?).into())
        }
        _ => Ok(i64::from_be_bytes(
            value.try_into().map_err(|_| wrong_length())?,
        )),
    }
}

/// Parses the server's output form: an optional minus sign and decimal digits.
fn decode_text(pg_type: PgType, value: &[u8]) -> Result<i64, MaskError> {
    let invalid = || MaskError::invalid(pg_type, Format::Text, "not a decimal integer");
    let (negative, digits) = match value.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, value),
    };
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(invalid());
    }
    // Accumulating negatively reaches i64::MIN without overflow.
    let mut number: i64 = 0;
    for digit in digits {
        number = number
            .checked_mul(10)
            .and_then(|n| n.checked_sub(i64::from(digit - b'0')))
            .ok_or_else(invalid)?;
    }
    let number = if negative {
        number
    } else {
        number.checked_neg().ok_or_else(invalid)?
    };
    let (min, max) = match pg_type {
        PgType::Int2 => (i64::from(i16::MIN), i64::from(i16::MAX)),
        PgType::Int4 => (i64::from(i32::MIN), i64::from(i32::MAX)),
        _ => (i64::MIN, i64::MAX),
    };
    if number < min || number > max {
        return Err(MaskError::invalid(
            pg_type,
            Format::Text,
            "out of range for the type",
        ));
    }
    Ok(number)
}

/// Formats an integer in decimal into a stack buffer.
pub(crate) struct Decimal {
    buf: [u8; 20],
    start: usize,
}

impl Decimal {
    pub(crate) fn new(number: i64) -> Decimal {
        let mut buf = [0u8; 20];
        let mut start = buf.len();
        let mut magnitude = number.unsigned_abs();
        loop {
            start -= 1;
            if let Some(slot) = buf.get_mut(start) {
                *slot = b'0' + (magnitude % 10) as u8;
            }
            magnitude /= 10;
            if magnitude == 0 {
                break;
            }
        }
        if number < 0 {
            start -= 1;
            if let Some(slot) = buf.get_mut(start) {
                *slot = b'-';
            }
        }
        Decimal { buf, start }
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.buf.get(self.start..).unwrap_or_default()
    }
}
