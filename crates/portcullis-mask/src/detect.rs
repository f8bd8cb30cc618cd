//! PHI detectors for catalog discovery: suggest a category for a column from its name
//! and from sampled values.
//!
//! Detectors suggest; they do not decide. A column they miss is not thereby free of
//! PHI, and a policy author confirms every suggestion.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// A category of protected health information: the 18 identifiers of the HIPAA Safe
/// Harbor method (45 CFR 164.514(b)(2)(i)(A) to (R)), then clinical categories that
/// need protection of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhiCategory {
    /// (A) Names.
    Name,
    /// (B) Geographic subdivisions smaller than a state: street address, city, county,
    /// precinct, ZIP code and their geocodes.
    Geographic,
    /// (C) Elements of dates except the year (birth, admission, discharge, death,
    /// service), and ages over 89.
    Date,
    /// (D) Telephone numbers.
    Phone,
    /// (E) Fax numbers.
    Fax,
    /// (F) Electronic mail addresses.
    Email,
    /// (G) Social Security numbers.
    Ssn,
    /// (H) Medical record numbers.
    Mrn,
    /// (I) Health plan beneficiary numbers.
    HealthPlanNumber,
    /// (J) Account numbers.
    AccountNumber,
    /// (K) Certificate and license numbers.
    LicenseNumber,
    /// (L) Vehicle identifiers and serial numbers, including license plates.
    VehicleId,
    /// (M) Device identifiers and serial numbers.
    DeviceId,
    /// (N) Web URLs.
    Url,
    /// (O) IP addresses.
    IpAddress,
    /// (P) Biometric identifiers, including finger and voice prints.
    Biometric,
    /// (Q) Full-face photographs and comparable images.
    Photo,
    /// (R) Any other unique identifying number, characteristic or code.
    OtherUniqueId,
    /// Diagnoses and problem lists (ICD-10 codes and their descriptions).
    Diagnosis,
    /// Medications, prescriptions and doses.
    Medication,
    /// Laboratory tests and their results.
    LabResult,
    /// Free-text clinical notes.
    ClinicalNote,
    /// Psychotherapy notes, which 45 CFR 164.508(a)(2) protects beyond other PHI.
    PsychotherapyNote,
    /// Substance use disorder treatment records (42 CFR Part 2).
    SubstanceUseRecord,
}

impl PhiCategory {
    /// Returns the letter of the Safe Harbor identifier in 45 CFR 164.514(b)(2)(i), or
    /// `None` for the clinical categories.
    pub fn safe_harbor_letter(self) -> Option<char> {
        let letter = match self {
            PhiCategory::Name => 'A',
            PhiCategory::Geographic => 'B',
            PhiCategory::Date => 'C',
            PhiCategory::Phone => 'D',
            PhiCategory::Fax => 'E',
            PhiCategory::Email => 'F',
            PhiCategory::Ssn => 'G',
            PhiCategory::Mrn => 'H',
            PhiCategory::HealthPlanNumber => 'I',
            PhiCategory::AccountNumber => 'J',
            PhiCategory::LicenseNumber => 'K',
            PhiCategory::VehicleId => 'L',
            PhiCategory::DeviceId => 'M',
            PhiCategory::Url => 'N',
            PhiCategory::IpAddress => 'O',
            PhiCategory::Biometric => 'P',
            PhiCategory::Photo => 'Q',
            PhiCategory::OtherUniqueId => 'R',
            _ => return None,
        };
        Some(letter)
    }
}

/// Words of a table name that mark rows about a person.
const PERSON_TABLE_WORDS: &[&str] = &[
    "patient",
    "patients",
    "person",
    "persons",
    "people",
    "member",
    "members",
    "contact",
    "contacts",
    "staff",
    "employee",
    "employees",
    "user",
    "users",
    "guarantor",
    "guarantors",
    "subscriber",
    "subscribers",
];

/// Words of a table name that mark clinical records of a person.
const CLINICAL_TABLE_WORDS: &[&str] = &[
    "encounter",
    "encounters",
    "visit",
    "visits",
    "admission",
    "admissions",
    "diagnosis",
    "diagnoses",
    "medication",
    "medications",
    "prescription",
    "prescriptions",
    "lab",
    "labs",
    "result",
    "results",
    "note",
    "notes",
    "claim",
    "claims",
    "procedure",
    "procedures",
    "observation",
    "observations",
    "order",
    "orders",
    "appointment",
    "appointments",
];

/// Suggests a category for a column from its name and, for generic column names such
/// as `name`, `body` or `value`, from its table's name. Names are split into
/// lowercase words at underscores, other punctuation and camelCase boundaries.
pub fn classify_column_name(table: Option<&str>, column: &str) -> Option<PhiCategory> {
    let words = split_words(column);
    let table_words = table.map(split_words).unwrap_or_default();
    let has = |word: &str| words.iter().any(|w| w == word);
    let has_prefix = |prefix: &str| words.iter().any(|w| w.starts_with(prefix));
    let has_pair = |first: &str, second: &str| {
        words
            .windows(2)
            .any(|pair| matches!(pair, [a, b] if a == first && b == second))
    };
    let table_has = |list: &[&str]| table_words.iter().any(|w| list.contains(&w.as_str()));
    let table_has_prefix = |prefix: &str| table_words.iter().any(|w| w.starts_with(prefix));

    // Most specific first: a psychotherapy note is also a note.
    if has_prefix("psychotherap") || has_pair("therapy", "note") || has_pair("therapy", "notes") {
        return Some(PhiCategory::PsychotherapyNote);
    }
    if has("substance") || has("sud") || has_pair("part", "2") || has("part2") {
        return Some(PhiCategory::SubstanceUseRecord);
    }
    if has("ssn") || has_pair("social", "security") {
        return Some(PhiCategory::Ssn);
    }
    if has("mrn") || has_pair("medical", "record") || has_pair("chart", "number") {
        return Some(PhiCategory::Mrn);
    }
    if has("fax") {
        return Some(PhiCategory::Fax);
    }
    if has_prefix("phone") || has("telephone") || has("mobile") || has("cell") || has("tel") {
        return Some(PhiCategory::Phone);
    }
    if has("email") || has_pair("e", "mail") {
        return Some(PhiCategory::Email);
    }
    if has_pair("health", "plan")
        || has("beneficiary")
        || has("subscriber")
        || has("medicaid")
        || has("medicare")
        || has_pair("member", "id")
        || has_pair("insurance", "id")
        || has_pair("policy", "number")
    {
        return Some(PhiCategory::HealthPlanNumber);
    }
    if has("vin") || has("vehicle") || has_pair("license", "plate") || has_pair("licence", "plate")
    {
        return Some(PhiCategory::VehicleId);
    }
    if has("account") || has("acct") || has("iban") || has_pair("card", "number") {
        return Some(PhiCategory::AccountNumber);
    }
    if has("license") || has("licence") || has("certificate") || has("dea") {
        return Some(PhiCategory::LicenseNumber);
    }
    if has("device") || has("serial") || has("udi") || has("imei") {
        return Some(PhiCategory::DeviceId);
    }
    if has("url") || has("website") || has("homepage") || has("uri") {
        return Some(PhiCategory::Url);
    }
    if has("ip") || has("ipv4") || has("ipv6") {
        return Some(PhiCategory::IpAddress);
    }
    if has_prefix("fingerprint")
        || has("retina")
        || has("iris")
        || has("voiceprint")
        || has("biometric")
    {
        return Some(PhiCategory::Biometric);
    }
    if has("photo") || has("photograph") || has("headshot") || has("portrait") || has("picture") {
        return Some(PhiCategory::Photo);
    }
    if is_person_name(&words) || (has("name") && words.len() == 1 && table_has(PERSON_TABLE_WORDS))
    {
        return Some(PhiCategory::Name);
    }
    if has_prefix("zip")
        || has("postal")
        || has("postcode")
        || has_prefix("address")
        || has("addr")
        || has("street")
        || has("city")
        || has("county")
        || has("precinct")
        || has("latitude")
        || has("longitude")
        || has("gps")
    {
        return Some(PhiCategory::Geographic);
    }
    if has("dob")
        || has_prefix("birth")
        || has("death")
        || has("died")
        || has_prefix("admit")
        || has("admission")
        || (has_prefix("discharge") && !has("summary") && !has("note"))
        || has_pair("date", "of")
    {
        return Some(PhiCategory::Date);
    }
    if has_prefix("diagnos") || has("dx") || has_prefix("icd") || has("problem") {
        return Some(PhiCategory::Diagnosis);
    }
    if has_prefix("medication")
        || has("drug")
        || has("rx")
        || has("rxnorm")
        || has("ndc")
        || has_prefix("prescri")
        || has("dose")
        || has("dosage")
    {
        return Some(PhiCategory::Medication);
    }
    if has("loinc") || has("lab") || has("specimen") {
        return Some(PhiCategory::LabResult);
    }
    if has("note") || has("notes") || has("narrative") || has_pair("discharge", "summary") {
        return Some(PhiCategory::ClinicalNote);
    }

    // Generic column names take their meaning from the table.
    let generic_value =
        has("value") || has("result") || has("unit") || has("code") || has("description");
    if table_has_prefix("diagnos") && generic_value {
        return Some(PhiCategory::Diagnosis);
    }
    if (table_has_prefix("medication") || table_has_prefix("prescription"))
        && (generic_value || has("dose"))
    {
        return Some(PhiCategory::Medication);
    }
    if table_has_prefix("lab") && generic_value {
        return Some(PhiCategory::LabResult);
    }
    if table_has_prefix("note") && (has("body") || has("text") || has("content")) {
        return Some(PhiCategory::ClinicalNote);
    }
    let is_date_column = words
        .last()
        .is_some_and(|last| matches!(last.as_str(), "at" | "date" | "dt" | "on" | "time"));
    if is_date_column && (table_has(PERSON_TABLE_WORDS) || table_has(CLINICAL_TABLE_WORDS)) {
        return Some(PhiCategory::Date);
    }
    if (has("patient") && has("id"))
        || has_pair("external", "id")
        || has_pair("national", "id")
        || has("passport")
    {
        return Some(PhiCategory::OtherUniqueId);
    }
    None
}

fn is_person_name(words: &[String]) -> bool {
    const QUALIFIERS: &[&str] = &[
        "first",
        "last",
        "given",
        "family",
        "middle",
        "full",
        "maiden",
        "patient",
        "legal",
        "preferred",
        "nick",
        "birth",
        "mother",
        "father",
        "spouse",
        "guardian",
    ];
    let qualified = words.windows(2).any(|pair| match pair {
        [qualifier, name] => name == "name" && QUALIFIERS.contains(&qualifier.as_str()),
        _ => false,
    });
    qualified
        || words.iter().any(|word| {
            matches!(
                word.as_str(),
                "surname" | "fname" | "lname" | "nickname" | "firstname" | "lastname"
            )
        })
}

/// Splits an identifier into lowercase words at non-alphanumeric characters, at
/// lowercase-to-uppercase changes and at letter-digit changes.
fn split_words(identifier: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut previous: Option<char> = None;
    for character in identifier.chars() {
        if !character.is_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            previous = None;
            continue;
        }
        let boundary = previous.is_some_and(|previous| {
            (previous.is_lowercase() && character.is_uppercase())
                || (previous.is_alphabetic()
                    && character.is_ascii_digit()
                    && !current.starts_with("icd")
                    && !current.starts_with("ipv"))
        });
        if boundary && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        current.extend(character.to_lowercase());
        previous = Some(character);
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// The outcome of [`classify_values`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValueClassification {
    pub category: PhiCategory,
    /// Sampled values that matched the category.
    pub matched: usize,
    /// Non-empty sampled values.
    pub sampled: usize,
}

/// Share of non-empty sampled values that must match one category, in percent.
pub const MIN_MATCH_PERCENT: usize = 80;

/// Suggests a category from sampled values (in text form): the category that at least
/// [`MIN_MATCH_PERCENT`] percent of the non-empty values match, or `None`.
pub fn classify_values<'a, I>(values: I) -> Option<ValueClassification>
where
    I: IntoIterator<Item = &'a str>,
{
    let mut counts: Vec<(PhiCategory, usize)> = Vec::new();
    let mut sampled = 0;
    for value in values {
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        sampled += 1;
        if let Some(category) = classify_value(value) {
            match counts.iter_mut().find(|(known, _)| *known == category) {
                Some((_, count)) => *count += 1,
                None => counts.push((category, 1)),
            }
        }
    }
    let (category, matched) = counts
        .into_iter()
        .max_by_key(|&(category, count)| (count, std::cmp::Reverse(category)))?;
    (matched * 100 >= sampled * MIN_MATCH_PERCENT).then_some(ValueClassification {
        category,
        matched,
        sampled,
    })
}

/// Suggests a category for one value from its shape. Checks run from the most to the
/// least specific pattern; the first match wins.
pub fn classify_value(value: &str) -> Option<PhiCategory> {
    let value = value.trim();
    let bytes = value.as_bytes();
    if is_ssn(bytes) {
        Some(PhiCategory::Ssn)
    } else if is_email(value) {
        Some(PhiCategory::Email)
    } else if is_url(value) {
        Some(PhiCategory::Url)
    } else if value.parse::<IpAddr>().is_ok() {
        Some(PhiCategory::IpAddress)
    } else if is_phone(bytes) {
        Some(PhiCategory::Phone)
    } else if crate::zip::is_us_zip(bytes) && bytes.len() != 9 {
        Some(PhiCategory::Geographic)
    } else if is_date(bytes) {
        Some(PhiCategory::Date)
    } else if is_icd10(bytes) {
        Some(PhiCategory::Diagnosis)
    } else if is_loinc(bytes) {
        Some(PhiCategory::LabResult)
    } else if is_mrn(bytes) {
        Some(PhiCategory::Mrn)
    } else if is_vin(bytes) {
        Some(PhiCategory::VehicleId)
    } else if is_person_name_value(value) {
        Some(PhiCategory::Name)
    } else if is_free_text(value) {
        Some(PhiCategory::ClinicalNote)
    } else {
        None
    }
}

/// Checks whether `bytes` is a sequence of ASCII digit groups of the given lengths, separated
/// by single bytes from `separators`.
fn digit_groups(bytes: &[u8], lengths: &[usize], separators: &[u8]) -> bool {
    let mut rest = bytes;
    for (index, &length) in lengths.iter().enumerate() {
        if index > 0 {
            match rest.split_first() {
                Some((separator, tail)) if separators.contains(separator) => rest = tail,
                _ => return false,
            }
        }
        let Some((group, tail)) = rest.split_at_checked(length) else {
            return false;
        };
        if !group.iter().all(u8::is_ascii_digit) {
            return false;
        }
        rest = tail;
    }
    rest.is_empty()
}

/// `NNN-NN-NNNN`.
fn is_ssn(bytes: &[u8]) -> bool {
    digit_groups(bytes, &[3, 2, 4], b"-")
}

fn is_email(value: &str) -> bool {
    let Some((local, domain)) = value.split_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._%+-'".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    local_ok && domain_ok
}

fn is_url(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    (lower.starts_with("http://") || lower.starts_with("https://") || lower.starts_with("www."))
        && !value.contains(char::is_whitespace)
}

/// North American numbers with separators: `617-555-0142`, `(617) 555-0142`,
/// `617.555.0142`, `617 555 0142`, `+1 617 555 0142`, `1-617-555-0142`. Bare digit
/// strings are left out because account and record numbers look the same.
fn is_phone(bytes: &[u8]) -> bool {
    let national = bytes
        .strip_prefix(b"+1 ")
        .or_else(|| bytes.strip_prefix(b"+1-"))
        .or_else(|| bytes.strip_prefix(b"1-"))
        .or_else(|| bytes.strip_prefix(b"1 "))
        .unwrap_or(bytes);
    if digit_groups(national, &[3, 3, 4], b"-. ") {
        return true;
    }
    let Some((area, rest)) = national
        .strip_prefix(b"(")
        .and_then(|rest| rest.split_at_checked(3))
    else {
        return false;
    };
    let Some(local) = rest.strip_prefix(b") ").or_else(|| rest.strip_prefix(b")")) else {
        return false;
    };
    digit_groups(area, &[3], b"") && digit_groups(local, &[3, 4], b"-. ")
}

/// ISO `YYYY-MM-DD` (optionally followed by a time) or US `MM/DD/YYYY`, with a valid
/// month and day.
fn is_date(bytes: &[u8]) -> bool {
    let number = |digits: &[u8]| {
        digits
            .iter()
            .fold(0u32, |n, d| n * 10 + u32::from(d - b'0'))
    };
    let valid = |month: u32, day: u32| (1..=12).contains(&month) && (1..=31).contains(&day);
    if let Some(date) = bytes.get(..10) {
        let rest = bytes.get(10..).unwrap_or_default();
        let time_follows = rest.is_empty() || matches!(rest.first(), Some(b' ' | b'T'));
        if time_follows && digit_groups(date, &[4, 2, 2], b"-") {
            let month = number(date.get(5..7).unwrap_or_default());
            let day = number(date.get(8..10).unwrap_or_default());
            return valid(month, day);
        }
    }
    if digit_groups(bytes, &[2, 2, 4], b"/") {
        let month = number(bytes.get(0..2).unwrap_or_default());
        let day = number(bytes.get(3..5).unwrap_or_default());
        return valid(month, day);
    }
    false
}

/// ICD-10-CM: a letter, a digit, a digit or letter, then optionally a dot and one to
/// four letters or digits (`E11.9`, `I10`, `S72.001A`).
fn is_icd10(bytes: &[u8]) -> bool {
    let [first, second, third, rest @ ..] = bytes else {
        return false;
    };
    let head =
        first.is_ascii_uppercase() && second.is_ascii_digit() && third.is_ascii_alphanumeric();
    let tail = match rest {
        [] => true,
        [b'.', extension @ ..] => {
            (1..=4).contains(&extension.len())
                && extension
                    .iter()
                    .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
        }
        _ => false,
    };
    head && tail
}

/// LOINC: one to five digits, a hyphen and a check digit (`2345-7`).
fn is_loinc(bytes: &[u8]) -> bool {
    (1..=5).any(|length| digit_groups(bytes, &[length, 1], b"-"))
}

/// Record numbers with a letter prefix: one to four letters, an optional hyphen, and
/// six to ten digits (`MRN-0001234`, `A12345678`).
fn is_mrn(bytes: &[u8]) -> bool {
    let letters = bytes.iter().take_while(|b| b.is_ascii_alphabetic()).count();
    if !(1..=4).contains(&letters) {
        return false;
    }
    let rest = bytes.get(letters..).unwrap_or_default();
    let digits = rest.strip_prefix(b"-").unwrap_or(rest);
    (6..=10).contains(&digits.len()) && digits.iter().all(u8::is_ascii_digit)
}

/// Vehicle identification numbers: 17 uppercase letters and digits without I, O and Q,
/// with at least one of each.
fn is_vin(bytes: &[u8]) -> bool {
    bytes.len() == 17
        && bytes
            .iter()
            .all(|b| b.is_ascii_digit() || (b.is_ascii_uppercase() && !b"IOQ".contains(b)))
        && bytes.iter().any(u8::is_ascii_digit)
        && bytes.iter().any(u8::is_ascii_uppercase)
}

/// Common US given names and surnames, for the person-name heuristic.
const COMMON_NAMES: &[&str] = &[
    "james",
    "mary",
    "robert",
    "patricia",
    "john",
    "jennifer",
    "michael",
    "linda",
    "david",
    "elizabeth",
    "william",
    "barbara",
    "richard",
    "susan",
    "joseph",
    "jessica",
    "thomas",
    "sarah",
    "charles",
    "karen",
    "christopher",
    "lisa",
    "daniel",
    "nancy",
    "matthew",
    "betty",
    "anthony",
    "margaret",
    "mark",
    "sandra",
    "donald",
    "ashley",
    "steven",
    "kimberly",
    "paul",
    "emily",
    "andrew",
    "donna",
    "joshua",
    "michelle",
    "kenneth",
    "carol",
    "kevin",
    "amanda",
    "brian",
    "melissa",
    "george",
    "deborah",
    "timothy",
    "stephanie",
    "maria",
    "jose",
    "luis",
    "ana",
    "wei",
    "mei",
    "priya",
    "raj",
    "fatima",
    "ahmed",
    "olivia",
    "liam",
    "noah",
    "emma",
    "sophia",
    "mateo",
    "aisha",
    "kwame",
    "smith",
    "johnson",
    "williams",
    "brown",
    "jones",
    "garcia",
    "miller",
    "davis",
    "rodriguez",
    "martinez",
    "hernandez",
    "lopez",
    "gonzalez",
    "wilson",
    "anderson",
    "taylor",
    "moore",
    "jackson",
    "martin",
    "lee",
    "perez",
    "thompson",
    "white",
    "harris",
    "sanchez",
    "clark",
    "ramirez",
    "lewis",
    "robinson",
    "walker",
    "young",
    "allen",
    "king",
    "wright",
    "scott",
    "torres",
    "nguyen",
    "hill",
    "flores",
    "green",
    "adams",
    "nelson",
    "baker",
    "hall",
    "rivera",
    "campbell",
    "mitchell",
    "carter",
    "roberts",
    "chen",
    "wang",
    "kim",
    "patel",
    "singh",
    "cohen",
    "murphy",
    "obrien",
    "okafor",
    "tanaka",
];

/// Checks for one to four capitalized words of letters (apostrophes and hyphens
/// allowed), at least one of them a common given name or surname.
fn is_person_name_value(value: &str) -> bool {
    let words: Vec<&str> = value.split_whitespace().collect();
    if words.is_empty() || words.len() > 4 {
        return false;
    }
    let capitalized = words.iter().all(|word| {
        let mut chars = word.chars();
        chars.next().is_some_and(char::is_uppercase)
            && chars.all(|c| c.is_alphabetic() || c == '\'' || c == '-' || c == '.')
    });
    let known = words.iter().any(|word| {
        let plain: String = word
            .chars()
            .filter(|c| c.is_alphabetic())
            .flat_map(char::to_lowercase)
            .collect();
        COMMON_NAMES.contains(&plain.as_str())
    });
    capitalized && known
}

/// Free text of at least 40 characters and 6 words.
fn is_free_text(value: &str) -> bool {
    value.len() >= 40 && value.split_whitespace().count() >= 6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_words_handles_case_and_digits() {
        assert_eq!(
            split_words("patientFirstName"),
            ["patient", "first", "name"]
        );
        assert_eq!(split_words("icd10_code"), ["icd10", "code"]);
        assert_eq!(split_words("Address_Line2"), ["address", "line", "2"]);
    }
}
