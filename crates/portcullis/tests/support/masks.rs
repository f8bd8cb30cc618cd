//! Expected results of the gateway's masks, computed from the value PostgreSQL returns
//! directly, for tests that compare a result through the gateway with the direct one.
//! Written independently of portcullis-mask, so the tests do not check that crate
//! against itself.

#![allow(dead_code)] // each test binary uses a different subset

use std::collections::{BTreeSet, HashMap};

use tokio_postgres::types::{FromSql, Type};

/// Three-digit ZIP prefixes that Safe Harbor replaces with 000 (HHS de-identification
/// guidance, 2012, from the 2000 Census). Written out here rather than taken from
/// portcullis-mask, so the test does not check the code against itself.
const RESTRICTED_ZIP3: [&str; 17] = [
    "036", "059", "063", "102", "203", "556", "692", "790", "821", "823", "830", "831", "878", "879", "884", "890",
    "893",
];

/// A value exactly as the server sent it, in whichever format.
pub struct Raw(pub Option<Vec<u8>>);

impl<'a> FromSql<'a> for Raw {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Raw, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(Some(raw.to_vec())))
    }

    fn from_sql_null(_: &Type) -> Result<Raw, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(None))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

pub type Value = Option<Vec<u8>>;
pub type Rows = Vec<Vec<Value>>;

/// Per-run state of the mask checks.
#[derive(Default)]
pub struct Observed {
    /// Token outputs by (format, result column, input), and inputs by output.
    pub tokens: HashMap<(bool, String, Vec<u8>), Vec<u8>>,
    pub token_inputs: HashMap<(bool, String, Vec<u8>), Vec<u8>>,
    /// (method, type name, format) seen with a non-NULL input.
    pub methods: BTreeSet<(String, String, &'static str)>,
    /// ZIP codes whose zip3 output was 000.
    pub suppressed_zips: usize,
}

pub fn format_name(binary: bool) -> &'static str {
    if binary {
        "binary"
    } else {
        "text"
    }
}

/// Checks one masked value against the direct value; returns a mismatch description.
pub fn check_value(
    observed: &mut Observed,
    method: &str,
    column: &str,
    ty: &Type,
    binary: bool,
    direct: &Value,
    gateway: &Value,
) -> Option<String> {
    let Some(input) = direct else {
        return (gateway.is_some()).then(|| format!("column {column}: NULL became {gateway:?}"));
    };
    observed
        .methods
        .insert((method.to_owned(), ty.name().to_owned(), format_name(binary)));
    if method == "-" {
        return (gateway.as_ref() != Some(input)).then(|| format!("column {column}: unmasked value changed"));
    }
    if method == "null" {
        return gateway.is_some().then(|| format!("column {column}: null mask returned a value"));
    }
    let Some(output) = gateway else {
        return Some(format!("column {column}: {method} returned NULL for a value"));
    };
    if method == "token" {
        return check_token(observed, column, ty, binary, input, output);
    }
    let expected = match method {
        "redact" if *ty == Type::BPCHAR => Some(vec![b'*'; input.len()]),
        "redact" => Some(b"[REDACTED]".to_vec()),
        "partial:4" => Some(partial(input, 4)),
        "zip3" => {
            let masked = zip3(input);
            if masked.starts_with(b"000") {
                observed.suppressed_zips += 1;
            }
            Some(masked)
        }
        "year" if binary => year_binary(ty, input),
        "year" => year_text(ty, input),
        _ => None,
    };
    match expected {
        None => Some(format!("column {column}: no expectation for {method} on {}", ty.name())),
        Some(expected) if &expected != output => Some(format!(
            "column {column}: {method} on {} ({}) gave {:?}, expected {:?}",
            ty.name(),
            format_name(binary),
            String::from_utf8_lossy(output),
            String::from_utf8_lossy(&expected)
        )),
        Some(_) => None,
    }
}

fn check_token(observed: &mut Observed, column: &str, ty: &Type, binary: bool, input: &[u8], output: &[u8]) -> Option<String> {
    if output == input {
        return Some(format!("column {column}: token equals the input"));
    }
    let shape_ok = match (ty.name(), binary) {
        ("text" | "varchar" | "bpchar", _) => output.starts_with(b"tok_"),
        ("uuid", true) => output.len() == 16 && output[6] >> 4 == 8,
        ("uuid", false) => output.len() == 36 && output[14] == b'8',
        ("int4" | "int8", true) => output.len() == input.len(),
        ("int2" | "int4" | "int8" | "numeric", false) => output.iter().all(u8::is_ascii_digit),
        ("numeric", true) => output.len() >= 8,
        _ => false,
    };
    if !shape_ok {
        return Some(format!("column {column}: token {:?} is not a {} token", String::from_utf8_lossy(output), ty.name()));
    }
    // Equal numerics with different scales (7.2 and 7.20) are equal inputs.
    let input = &numeric_value(ty, binary, input);
    let forward = (binary, column.to_owned(), input.to_vec());
    let backward = (binary, column.to_owned(), output.to_vec());
    let previous = observed.tokens.entry(forward).or_insert_with(|| output.to_vec());
    if previous != output {
        return Some(format!("column {column}: the same input got two different tokens"));
    }
    let previous_input = observed.token_inputs.entry(backward).or_insert_with(|| input.to_vec());
    if *previous_input != *input {
        return Some(format!("column {column}: two different inputs got the same token"));
    }
    None
}

/// Returns `input` without its display scale when it is a numeric.
fn numeric_value(ty: &Type, binary: bool, input: &[u8]) -> Vec<u8> {
    if *ty != Type::NUMERIC {
        return input.to_vec();
    }
    if binary {
        // ndigits, weight, sign, dscale (2 bytes each), then the base-10000 digits,
        // which PostgreSQL sends without trailing zero digits.
        let mut value = input.to_vec();
        if value.len() >= 8 {
            value[6] = 0;
            value[7] = 0;
        }
        return value;
    }
    let text = String::from_utf8_lossy(input);
    let normalized = if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.') } else { &text };
    normalized.as_bytes().to_vec()
}

/// Four asterisks, then the last `keep` characters but never more than half of them.
fn partial(input: &[u8], keep: usize) -> Vec<u8> {
    let text = String::from_utf8_lossy(input);
    let characters: Vec<char> = text.chars().collect();
    let kept = keep.min(characters.len() / 2);
    let tail: String = characters[characters.len() - kept..].iter().collect();
    format!("****{tail}").into_bytes()
}

/// Safe Harbor ZIP: the first three digits, or 000 for restricted prefixes, padded to
/// the width of the `character(n)` input.
fn zip3(input: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(input);
    let digits = text.trim();
    let prefix = if digits.len() >= 5 && digits.bytes().all(|b| b.is_ascii_digit()) && !RESTRICTED_ZIP3.contains(&&digits[..3]) {
        digits[..3].to_owned()
    } else {
        "000".to_owned()
    };
    format!("{prefix:<width$}", width = input.len()).into_bytes()
}

fn year_text(ty: &Type, input: &[u8]) -> Option<Vec<u8>> {
    let year = std::str::from_utf8(input).ok()?.get(..4)?;
    let text = match ty.name() {
        "date" => format!("{year}-01-01"),
        "timestamp" => format!("{year}-01-01 00:00:00"),
        "timestamptz" => format!("{year}-01-01 12:00:00+00"),
        _ => return None,
    };
    Some(text.into_bytes())
}

const MICROSECONDS_PER_DAY: i64 = 86_400_000_000;

fn year_binary(ty: &Type, input: &[u8]) -> Option<Vec<u8>> {
    match ty.name() {
        "date" => {
            let days = i32::from_be_bytes(input.try_into().ok()?);
            let january_first = days_from_civil(civil_year(i64::from(days)), 1, 1);
            Some((january_first as i32).to_be_bytes().to_vec())
        }
        "timestamp" | "timestamptz" => {
            let micros = i64::from_be_bytes(input.try_into().ok()?);
            let year = civil_year(micros.div_euclid(MICROSECONDS_PER_DAY));
            let noon = if ty.name() == "timestamptz" { MICROSECONDS_PER_DAY / 2 } else { 0 };
            Some((days_from_civil(year, 1, 1) * MICROSECONDS_PER_DAY + noon).to_be_bytes().to_vec())
        }
        _ => None,
    }
}

/// Days from 2000-01-01 (the PostgreSQL epoch) to a proleptic Gregorian date, after
/// Howard Hinnant's `days_from_civil`.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468 - 10_957
}

/// Year of a day count from 2000-01-01.
fn civil_year(days: i64) -> i64 {
    let z = days + 10_957 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    yoe + era * 400 + i64::from(month <= 2)
}

/// Compares gateway rows with direct rows under `plan`; returns the first mismatches.
pub fn compare_rows(
    observed: &mut Observed,
    plan: &[&str],
    columns: &[(String, Type)],
    binary: bool,
    direct: &Rows,
    gateway: &Rows,
) -> Vec<String> {
    if direct.len() != gateway.len() {
        return vec![format!("{} rows through the gateway, {} directly", gateway.len(), direct.len())];
    }
    let mut problems = Vec::new();
    for (direct_row, gateway_row) in direct.iter().zip(gateway) {
        if direct_row.len() != gateway_row.len() {
            return vec![format!("{} columns through the gateway, {} directly", gateway_row.len(), direct_row.len())];
        }
        for (index, (direct_value, gateway_value)) in direct_row.iter().zip(gateway_row).enumerate() {
            let method = plan.get(index).copied().unwrap_or("-");
            let (name, ty) = &columns[index];
            if let Some(problem) = check_value(observed, method, name, ty, binary, direct_value, gateway_value) {
                problems.push(problem);
                if problems.len() >= 3 {
                    return problems;
                }
            }
        }
    }
    problems
}

