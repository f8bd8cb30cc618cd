//! The `year` method: dates and timestamps generalized to January 1 of their year.
//!
//! Binary formats (PostgreSQL `date_send`, `timestamp_send`): a `date` is a big-endian
//! i32 of days since 2000-01-01, a `timestamp` or `timestamptz` a big-endian i64 of
//! microseconds since 2000-01-01 00:00 (UTC for `timestamptz`). The extreme values of
//! each integer type mean `-infinity` and `infinity` and pass through unchanged, since
//! they reveal nothing.
//!
//! `date` and `timestamp` become January 1, 00:00. A `timestamptz` becomes January 1,
//! 12:00 instead, because clients convert it to their own time zone. Midnight UTC
//! would show as December 31 of the year before anywhere west of UTC, while noon keeps
//! the year in every zone from UTC-12 to UTC+14. In binary the year is the UTC year; in text it is
//! the year as the server printed it in the session time zone, and the output keeps
//! that UTC offset. The two can differ for values within hours of New Year.

use bytes::{BufMut, BytesMut};

use crate::error::MaskError;
use crate::types::{Format, PgType};

const USECS_PER_DAY: i64 = 86_400_000_000;
const USECS_PER_HALF_DAY: i64 = USECS_PER_DAY / 2;
/// Days from 1970-01-01 to the PostgreSQL epoch 2000-01-01.
const UNIX_TO_POSTGRES_DAYS: i64 = 10_957;
/// The earliest date the server accepts, 4714-11-24 BC (Julian day 0), in days since
/// 2000-01-01. January 1 of 4714 BC lies before it, so results are clamped here.
const MIN_POSTGRES_DAY: i64 = -2_451_545;

/// Appends the year-generalized form of a `date`, `timestamp` or `timestamptz` value.
pub(crate) fn put_year(
    pg_type: PgType,
    format: Format,
    value: &[u8],
    out: &mut BytesMut,
) -> Result<(), MaskError> {
    match format {
        Format::Binary => put_year_binary(pg_type, value, out),
        Format::Text => put_year_text(pg_type, value, out),
    }
}

fn put_year_binary(pg_type: PgType, value: &[u8], out: &mut BytesMut) -> Result<(), MaskError> {
    let wrong_length = || MaskError::invalid(pg_type, Format::Binary, "wrong length");
    if pg_type == PgType::Date {
        let days = i32::from_be_bytes(value.try_into().map_err(|_| wrong_length())?);
        if days == i32::MIN || days == i32::MAX {
            out.put_i32(days);
            return Ok(());
        }
        let january_first = january_first(i64::from(days));
        // January 1 lies between MIN_POSTGRES_DAY and `days`, both within i32.
        out.put_i32(i32::try_from(january_first).unwrap_or(days));
        return Ok(());
    }

    let micros = i64::from_be_bytes(value.try_into().map_err(|_| wrong_length())?);
    if micros == i64::MIN || micros == i64::MAX {
        out.put_i64(micros);
        return Ok(());
    }
    let day = micros.div_euclid(USECS_PER_DAY);
    let time_of_day = if pg_type == PgType::Timestamptz {
        USECS_PER_HALF_DAY
    } else {
        0
    };
    let generalized =
        i128::from(january_first(day)) * i128::from(USECS_PER_DAY) + i128::from(time_of_day);
    let clamped = generalized.clamp(i128::from(i64::MIN + 1), i128::from(i64::MAX - 1));
    out.put_i64(i64::try_from(clamped).unwrap_or(micros));
    Ok(())
}

/// Returns January 1 of the year of `day` (days since 2000-01-01), no earlier than
/// the server's minimum date.
fn january_first(day: i64) -> i64 {
    let year = year_of_unix_day(day + UNIX_TO_POSTGRES_DAYS);
    let first = unix_day_of_january_first(year) - UNIX_TO_POSTGRES_DAYS;
    first.max(MIN_POSTGRES_DAY)
}

/// Proleptic Gregorian year (astronomical numbering: 0 is 1 BC) of a day counted from
/// 1970-01-01, after Howard Hinnant's `civil_from_days`
/// (<https://howardhinnant.github.io/date_algorithms.html>).
fn year_of_unix_day(day: i64) -> i64 {
    let shifted = day + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let year = year_of_era + era * 400;
    // The computation counts years from March; January and February (month index 10
    // and 11) belong to the next calendar year.
    if month_from_march >= 10 {
        year + 1
    } else {
        year
    }
}

/// Day counted from 1970-01-01 of January 1 of `year`, after Hinnant's
/// `days_from_civil`.
fn unix_day_of_january_first(year: i64) -> i64 {
    // January is month 10 of the year that starts in March of `year - 1`.
    let march_year = year - 1;
    let era = march_year.div_euclid(400);
    let year_of_era = march_year.rem_euclid(400);
    let day_of_year = (153 * 10 + 2) / 5;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Rewrites text output in the ISO DateStyle (`1984-03-15`,
/// `1984-03-15 13:45:12.5`, `1984-03-15 13:45:12+02`, each optionally followed by
/// ` BC`), keeping the year digits, the UTC offset and the era.
fn put_year_text(pg_type: PgType, value: &[u8], out: &mut BytesMut) -> Result<(), MaskError> {
    if value == b"infinity" || value == b"-infinity" {
        out.put_slice(value);
        return Ok(());
    }
    let parsed = IsoValue::parse(pg_type, value).ok_or(MaskError::InvalidValue {
        pg_type,
        format: Format::Text,
        reason: "not in the ISO DateStyle; the gateway masks dates only with DateStyle ISO",
    })?;

    out.put_slice(parsed.year);
    out.put_slice(b"-01-01");
    match pg_type {
        PgType::Timestamp => out.put_slice(b" 00:00:00"),
        PgType::Timestamptz => out.put_slice(b" 12:00:00"),
        _ => {}
    }
    out.put_slice(parsed.offset);
    out.put_slice(parsed.era);
    Ok(())
}

/// The parts of an ISO date or timestamp that the output keeps.
struct IsoValue<'a> {
    year: &'a [u8],
    offset: &'a [u8],
    era: &'a [u8],
}

impl<'a> IsoValue<'a> {
    fn parse(pg_type: PgType, value: &'a [u8]) -> Option<IsoValue<'a>> {
        let mut cursor = Cursor { rest: value };

        let year = cursor.digits(4, usize::MAX)?;
        cursor.literal(b"-")?;
        cursor.number_in(1, 12)?;
        cursor.literal(b"-")?;
        cursor.number_in(1, 31)?;

        let mut offset: &[u8] = &[];
        if pg_type != PgType::Date {
            cursor.literal(b" ")?;
            cursor.number_in(0, 24)?;
            cursor.literal(b":")?;
            cursor.number_in(0, 59)?;
            cursor.literal(b":")?;
            // 60 is a leap second, which the server accepts on input.
            cursor.number_in(0, 60)?;
            if cursor.literal(b".").is_some() {
                cursor.digits(1, 6)?;
            }
            if pg_type == PgType::Timestamptz {
                offset = cursor.utc_offset()?;
            }
        }

        let era = cursor.rest;
        if !era.is_empty() && era != b" BC" {
            return None;
        }
        Some(IsoValue { year, offset, era })
    }
}

struct Cursor<'a> {
    rest: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn literal(&mut self, expected: &[u8]) -> Option<()> {
        self.rest = self.rest.strip_prefix(expected)?;
        Some(())
    }

    fn digits(&mut self, min: usize, max: usize) -> Option<&'a [u8]> {
        let count = self
            .rest
            .iter()
            .take_while(|byte| byte.is_ascii_digit())
            .count();
        if count < min || count > max {
            return None;
        }
        let (digits, rest) = self.rest.split_at(count);
        self.rest = rest;
        Some(digits)
    }

    /// Two digits forming a number from `min` to `max`.
    fn number_in(&mut self, min: u8, max: u8) -> Option<u8> {
        let digits = self.digits(2, 2)?;
        let number = digits
            .iter()
            .fold(0u8, |number, digit| number * 10 + (digit - b'0'));
        (min..=max).contains(&number).then_some(number)
    }

    /// `+HH`, `+HH:MM` or `+HH:MM:SS` (or with `-`), as the server prints offsets.
    fn utc_offset(&mut self) -> Option<&'a [u8]> {
        let start = self.rest;
        match self.rest.first() {
            Some(b'+' | b'-') => self.rest = self.rest.get(1..)?,
            _ => return None,
        }
        self.digits(2, 2)?;
        for _ in 0..2 {
            if self.literal(b":").is_none() {
                break;
            }
            self.digits(2, 2)?;
        }
        let used = start.len() - self.rest.len();
        start.get(..used)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn january_first_matches_known_dates() {
        // 2000-01-01 is day 0; 2000 is a leap year, 1999 is not, and 1984-01-01 is
        // 5844 days before 2000-01-01.
        assert_eq!(january_first(0), 0);
        assert_eq!(january_first(365), 0);
        assert_eq!(january_first(366), 366);
        assert_eq!(january_first(-1), -365);
        assert_eq!(january_first(-5844 + 74), -5844);
    }

    #[test]
    fn january_first_clamps_to_server_minimum() {
        assert_eq!(january_first(MIN_POSTGRES_DAY + 10), MIN_POSTGRES_DAY);
    }
}
