//! `numeric` values: canonical text for tokens, and encoding of integer tokens.
//!
//! The binary format (PostgreSQL `numeric_send`) is four big-endian 16-bit fields,
//! `ndigits`, `weight`, `sign` and `dscale`, then `ndigits` base-10000 digits, the
//! first of which is multiplied by 10000^weight.

use bytes::{BufMut, BytesMut};

use crate::error::MaskError;
use crate::types::{Format, PgType};

const SIGN_POSITIVE: u16 = 0x0000;
const SIGN_NEGATIVE: u16 = 0x4000;
const SIGN_NAN: u16 = 0xC000;
/// Infinities exist in `numeric` since PostgreSQL 14.
const SIGN_POSITIVE_INFINITY: u16 = 0xD000;
const SIGN_NEGATIVE_INFINITY: u16 = 0xF000;
/// `dscale` uses the low 14 bits; the server rejects higher bits on input.
const DSCALE_MASK: u16 = 0x3FFF;
const NBASE: u64 = 10_000;

/// Writes the canonical decimal text of a `numeric` value to `sink`: no leading zeros,
/// no trailing fractional zeros, no decimal point without fraction digits, no sign on
/// zero, and `NaN`, `Infinity` or `-Infinity` for the special values. Equal values give
/// equal text whatever their display scale or format, so `12.50` and binary `12.5`
/// give the same token.
pub(crate) fn write_canonical(
    format: Format,
    value: &[u8],
    sink: &mut impl FnMut(&[u8]),
) -> Result<(), MaskError> {
    match format {
        Format::Text => write_canonical_text(value, sink),
        Format::Binary => BinaryNumeric::parse(value)?.write_canonical(sink),
    }
}

fn write_canonical_text(value: &[u8], sink: &mut impl FnMut(&[u8])) -> Result<(), MaskError> {
    let invalid = || MaskError::invalid(PgType::Numeric, Format::Text, "not a decimal number");
    if matches!(value, b"NaN" | b"Infinity" | b"-Infinity") {
        sink(value);
        return Ok(());
    }
    let (negative, unsigned) = match value.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, value),
    };
    let (integer, fraction) = match unsigned.iter().position(|&byte| byte == b'.') {
        Some(dot) => {
            let (integer, with_dot) = unsigned.split_at(dot);
            let fraction = with_dot.get(1..).unwrap_or_default();
            if fraction.is_empty() {
                return Err(invalid());
            }
            (integer, fraction)
        }
        None => (unsigned, &[][..]),
    };
    let all_digits = |part: &[u8]| part.iter().all(u8::is_ascii_digit);
    if integer.is_empty() || !all_digits(integer) || !all_digits(fraction) {
        return Err(invalid());
    }

    let integer = trim_start(integer, b'0');
    let fraction = trim_end(fraction, b'0');
    if integer.is_empty() && fraction.is_empty() {
        sink(b"0");
        return Ok(());
    }
    if negative {
        sink(b"-");
    }
    sink(if integer.is_empty() { b"0" } else { integer });
    if !fraction.is_empty() {
        sink(b".");
        sink(fraction);
    }
    Ok(())
}

/// A validated binary `numeric` value borrowing its digits from the wire.
struct BinaryNumeric<'a> {
    weight: i32,
    sign: u16,
    digits: &'a [u8],
}

impl<'a> BinaryNumeric<'a> {
    fn parse(value: &'a [u8]) -> Result<BinaryNumeric<'a>, MaskError> {
        let invalid = |reason| MaskError::invalid(PgType::Numeric, Format::Binary, reason);
        let Some((header, digits)) = value.split_first_chunk::<8>() else {
            return Err(invalid("shorter than its 8-byte header"));
        };
        let [n0, n1, w0, w1, s0, s1, d0, d1] = *header;
        let ndigits = u16::from_be_bytes([n0, n1]);
        let weight = i16::from_be_bytes([w0, w1]);
        let sign = u16::from_be_bytes([s0, s1]);
        let dscale = u16::from_be_bytes([d0, d1]);

        if ndigits > i16::MAX as u16 || digits.len() != usize::from(ndigits) * 2 {
            return Err(invalid("digit count does not match the length"));
        }
        let special = matches!(
            sign,
            SIGN_NAN | SIGN_POSITIVE_INFINITY | SIGN_NEGATIVE_INFINITY
        );
        if !special && sign != SIGN_POSITIVE && sign != SIGN_NEGATIVE {
            return Err(invalid("invalid sign field"));
        }
        if special && ndigits != 0 {
            return Err(invalid("special value with digits"));
        }
        if dscale & !DSCALE_MASK != 0 {
            return Err(invalid("invalid display scale"));
        }
        let numeric = BinaryNumeric {
            weight: i32::from(weight),
            sign,
            digits,
        };
        if (0..numeric.len()).any(|index| numeric.digit(index) >= NBASE as u16) {
            return Err(invalid("digit out of range 0 to 9999"));
        }
        Ok(numeric)
    }

    fn len(&self) -> i32 {
        (self.digits.len() / 2) as i32
    }

    /// Base-10000 digit at `index`; positions outside the stored digits are zero.
    fn digit(&self, index: i32) -> u16 {
        let Ok(index) = usize::try_from(index) else {
            return 0;
        };
        match self.digits.get(index * 2..index * 2 + 2) {
            Some(&[high, low]) => u16::from_be_bytes([high, low]),
            _ => 0,
        }
    }

    fn write_canonical(&self, sink: &mut impl FnMut(&[u8])) -> Result<(), MaskError> {
        match self.sign {
            SIGN_NAN => {
                sink(b"NaN");
                return Ok(());
            }
            SIGN_POSITIVE_INFINITY => {
                sink(b"Infinity");
                return Ok(());
            }
            SIGN_NEGATIVE_INFINITY => {
                sink(b"-Infinity");
                return Ok(());
            }
            _ => {}
        }
        let nonzero = |index: &i32| self.digit(*index) != 0;
        let Some(first) = (0..self.len()).find(nonzero) else {
            sink(b"0");
            return Ok(());
        };
        let last = (0..self.len()).rev().find(nonzero).unwrap_or(first);

        if self.sign == SIGN_NEGATIVE {
            sink(b"-");
        }

        // Digit `index` has weight `self.weight - index`; weights >= 0 form the
        // integer part.
        if first > self.weight {
            sink(b"0");
        } else {
            let leading = four_digits(self.digit(first));
            sink(trim_start(&leading, b'0'));
            for index in first + 1..=self.weight {
                sink(&four_digits(self.digit(index)));
            }
        }

        if last > self.weight {
            sink(b".");
            for index in self.weight + 1..last {
                sink(&four_digits(self.digit(index)));
            }
            let group = four_digits(self.digit(last));
            sink(trim_end(&group, b'0'));
        }
        Ok(())
    }
}

fn four_digits(digit: u16) -> [u8; 4] {
    [
        b'0' + (digit / 1000 % 10) as u8,
        b'0' + (digit / 100 % 10) as u8,
        b'0' + (digit / 10 % 10) as u8,
        b'0' + (digit % 10) as u8,
    ]
}

fn trim_start(bytes: &[u8], byte: u8) -> &[u8] {
    let start = bytes.iter().position(|&b| b != byte).unwrap_or(bytes.len());
    bytes.get(start..).unwrap_or_default()
}

fn trim_end(bytes: &[u8], byte: u8) -> &[u8] {
    let end = bytes
        .iter()
        .rposition(|&b| b != byte)
        .map_or(0, |last| last + 1);
    bytes.get(..end).unwrap_or_default()
}

/// Appends a non-negative integer as a binary `numeric` with display scale 0, in the
/// server's normal form (no leading or trailing zero digits).
pub(crate) fn put_binary_integer(number: u64, out: &mut BytesMut) {
    // u64::MAX has 20 decimal digits, so at most 5 base-10000 digits.
    let mut groups = [0u16; 5];
    let mut count = 0;
    let mut rest = number;
    while rest > 0 {
        if let Some(slot) = groups.get_mut(count) {
            *slot = (rest % NBASE) as u16;
        }
        rest /= NBASE;
        count += 1;
    }
    // groups[0] is the least significant digit. The server's normal form drops
    // trailing zero digits and keeps the weight.
    let weight = count.saturating_sub(1);
    let lowest_nonzero = groups.iter().take(count).position(|&digit| digit != 0);
    let significant = lowest_nonzero.map_or(0, |lowest| count - lowest);

    out.put_u16(significant as u16);
    out.put_i16(weight as i16);
    out.put_u16(SIGN_POSITIVE);
    out.put_u16(0);
    for digit in groups.iter().take(count).rev().take(significant) {
        out.put_u16(*digit);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical(format: Format, value: &[u8]) -> String {
        let mut text = Vec::new();
        write_canonical(format, value, &mut |part| text.extend_from_slice(part)).unwrap();
        String::from_utf8(text).unwrap()
    }

    fn binary(weight: i16, sign: u16, dscale: u16, digits: &[u16]) -> Vec<u8> {
        let mut bytes = BytesMut::new();
        bytes.put_u16(digits.len() as u16);
        bytes.put_i16(weight);
        bytes.put_u16(sign);
        bytes.put_u16(dscale);
        digits.iter().for_each(|digit| bytes.put_u16(*digit));
        bytes.to_vec()
    }

    #[test]
    fn canonical_text_forms() {
        let cases = [
            ("12.50", "12.5"),
            ("0012.500", "12.5"),
            ("-0.00", "0"),
            ("100", "100"),
            ("-0.050", "-0.05"),
            ("NaN", "NaN"),
            ("-Infinity", "-Infinity"),
        ];
        for (input, expected) in cases {
            assert_eq!(
                canonical(Format::Text, input.as_bytes()),
                expected,
                "{input}"
            );
        }
    }

    #[test]
    fn canonical_binary_forms() {
        let cases = [
            (binary(0, SIGN_POSITIVE, 2, &[12, 5000]), "12.5"),
            (binary(-1, SIGN_POSITIVE, 2, &[500]), "0.05"),
            (binary(-2, SIGN_POSITIVE, 8, &[1]), "0.00000001"),
            (
                binary(1, SIGN_NEGATIVE, 3, &[12, 3456, 7890]),
                "-123456.789",
            ),
            (binary(2, SIGN_POSITIVE, 0, &[1]), "100000000"),
            (binary(1, SIGN_POSITIVE, 0, &[0, 7]), "7"),
            (binary(0, SIGN_NEGATIVE, 0, &[]), "0"),
            (binary(0, SIGN_POSITIVE_INFINITY, 0, &[]), "Infinity"),
        ];
        for (input, expected) in cases {
            assert_eq!(canonical(Format::Binary, &input), expected);
        }
    }

    #[test]
    fn binary_integer_normal_form() {
        let encode = |number| {
            let mut out = BytesMut::new();
            put_binary_integer(number, &mut out);
            out.to_vec()
        };
        assert_eq!(encode(0), binary(0, SIGN_POSITIVE, 0, &[]));
        assert_eq!(encode(7), binary(0, SIGN_POSITIVE, 0, &[7]));
        assert_eq!(encode(20_000), binary(1, SIGN_POSITIVE, 0, &[2]));
        assert_eq!(encode(123_450_000), binary(2, SIGN_POSITIVE, 0, &[1, 2345]));
        assert_eq!(
            encode(9_223_372_036_854_775_807),
            binary(4, SIGN_POSITIVE, 0, &[922, 3372, 368, 5477, 5807])
        );
    }
}
