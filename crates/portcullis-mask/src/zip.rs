//! ZIP code generalization under the HIPAA Safe Harbor method.

/// Three-digit ZIP prefixes whose area had 20,000 or fewer people in the 2000 Census.
///
/// 45 CFR 164.514(b)(2)(i)(B) lets de-identified data keep the first three digits of a
/// ZIP code only where all ZIP codes sharing them hold more than 20,000 people, and
/// requires `000` otherwise. HHS's "Guidance Regarding Methods for De-identification of
/// Protected Health Information" (OCR, 2012, section on ZIP codes) lists these 17
/// prefixes, first published in the preamble at 67 FR 53182, 53233-53234 (2002).
///
/// NOTE: the list comes from 2000 Census data. HHS directs covered entities to newer
/// Census data once published, and this table has not been recomputed from the 2010 or
/// 2020 Census.
pub const RESTRICTED_ZIP3_PREFIXES: [&str; 17] = [
    "036", "059", "063", "102", "203", "556", "692", "790", "821", "823", "830", "831", "878",
    "879", "884", "890", "893",
];

/// Output for restricted prefixes and for values that are not US ZIP codes.
pub const SUPPRESSED_ZIP3: &str = "000";

/// Returns the Safe Harbor three-digit form of a US ZIP code: its first three digits,
/// or `000` for a restricted prefix. Accepts `NNNNN`, `NNNNN-NNNN`, `NNNNN NNNN` and
/// `NNNNNNNNN`, with surrounding spaces. Anything else also yields `000`, so a value
/// that is not a ZIP code never passes through.
pub fn zip3(value: &[u8]) -> [u8; 3] {
    let suppressed = [b'0'; 3];
    let trimmed = value.trim_ascii();
    if !is_us_zip(trimmed) {
        return suppressed;
    }
    let [a, b, c, ..] = *trimmed else {
        return suppressed;
    };
    let prefix = [a, b, c];
    if is_restricted_prefix(&prefix) {
        suppressed
    } else {
        prefix
    }
}

/// Returns whether a three-digit prefix is one of [`RESTRICTED_ZIP3_PREFIXES`].
pub fn is_restricted_prefix(prefix: &[u8; 3]) -> bool {
    RESTRICTED_ZIP3_PREFIXES
        .iter()
        .any(|restricted| restricted.as_bytes() == prefix)
}

/// Returns whether `value` is a 5-digit ZIP code or ZIP+4 (`-`, space or no separator).
pub fn is_us_zip(value: &[u8]) -> bool {
    let digits = |part: &[u8]| part.iter().all(u8::is_ascii_digit);
    match value.len() {
        5 | 9 => digits(value),
        10 => {
            let (zip, rest) = value.split_at(5);
            match rest.split_first() {
                Some((b'-' | b' ', plus4)) => digits(zip) && digits(plus4),
                _ => false,
            }
        }
        _ => false,
    }
}
