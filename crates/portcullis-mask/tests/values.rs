//! Masking single values: every method on every type in both formats.

use bytes::BytesMut;
use portcullis_mask::{
    mask_value, oid, ColumnType, Format, MaskError, MaskKey, MaskMethod, PgType, REDACTED,
    RESTRICTED_ZIP3_PREFIXES, STRING_TOKEN_LEN, TOKEN_PREFIX,
};

fn key() -> MaskKey {
    MaskKey::from_bytes([7; 32])
}

fn mask_with(
    method: MaskMethod,
    key: &MaskKey,
    type_oid: u32,
    format: Format,
    value: Option<&[u8]>,
) -> Result<Option<Vec<u8>>, MaskError> {
    let mut out = BytesMut::from(&b"prefix"[..]);
    let written = mask_value(method, Some(key), type_oid, format, value, &mut out)?;
    assert!(
        out.starts_with(b"prefix"),
        "mask_value must append, not overwrite"
    );
    let appended = out.split_off(6);
    match written {
        Some(length) => {
            assert_eq!(
                length,
                appended.len(),
                "returned length must match the bytes appended"
            );
            Ok(Some(appended.to_vec()))
        }
        None => {
            assert!(appended.is_empty(), "a NULL result must append nothing");
            Ok(None)
        }
    }
}

fn mask(method: MaskMethod, type_oid: u32, format: Format, value: &[u8]) -> Vec<u8> {
    mask_with(method, &key(), type_oid, format, Some(value))
        .unwrap_or_else(|error| panic!("{method} on OID {type_oid} {format}: {error}"))
        .unwrap_or_else(|| panic!("{method} on OID {type_oid} {format} returned NULL"))
}

fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).expect("masked text is UTF-8")
}

/// Returns a valid sample value of each type in each format.
fn sample(pg_type: PgType, format: Format) -> Vec<u8> {
    let text_form: &str = match pg_type {
        PgType::Text => "900-12-3456",
        PgType::Varchar => "Jane Doe",
        PgType::Bpchar => "AB12      ",
        PgType::Name => "postgres",
        PgType::Int2 => "42",
        PgType::Int4 => "123456",
        PgType::Int8 => "9876543210",
        PgType::Numeric => "12.50",
        PgType::Date => "1984-03-15",
        PgType::Timestamp => "1984-03-15 13:45:12.5",
        PgType::Timestamptz => "1984-03-15 13:45:12.5+00",
        PgType::Bool => "t",
        PgType::Uuid => "3f1b074a-4080-490f-855f-242e451d546b",
    };
    if format == Format::Text || pg_type.is_character() {
        return text_form.as_bytes().to_vec();
    }
    match pg_type {
        PgType::Int2 => 42i16.to_be_bytes().to_vec(),
        PgType::Int4 => 123_456i32.to_be_bytes().to_vec(),
        PgType::Int8 => 9_876_543_210i64.to_be_bytes().to_vec(),
        PgType::Numeric => numeric_binary(2, 0, 0, 2, &[12, 5000]),
        PgType::Date => (-5770i32).to_be_bytes().to_vec(),
        PgType::Timestamp | PgType::Timestamptz => (-498_478_487_500_000i64).to_be_bytes().to_vec(),
        PgType::Bool => vec![1],
        PgType::Uuid => vec![
            0x3f, 0x1b, 0x07, 0x4a, 0x40, 0x80, 0x49, 0x0f, 0x85, 0x5f, 0x24, 0x2e, 0x45, 0x1d,
            0x54, 0x6b,
        ],
        _ => unreachable!(),
    }
}

fn numeric_binary(ndigits: u16, weight: i16, sign: u16, dscale: u16, digits: &[u16]) -> Vec<u8> {
    let mut bytes = Vec::new();
    bytes.extend(ndigits.to_be_bytes());
    bytes.extend(weight.to_be_bytes());
    bytes.extend(sign.to_be_bytes());
    bytes.extend(dscale.to_be_bytes());
    for digit in digits {
        bytes.extend(digit.to_be_bytes());
    }
    bytes
}

/// Decodes a binary numeric with scale 0 back to an integer, checking its structure.
fn decode_numeric_integer(bytes: &[u8]) -> u64 {
    assert!(bytes.len() >= 8, "numeric header");
    let field = |index: usize| u16::from_be_bytes([bytes[index], bytes[index + 1]]);
    let ndigits = field(0) as usize;
    let weight = field(2) as i16;
    assert_eq!(field(4), 0, "token numerics are positive");
    assert_eq!(field(6), 0, "token numerics have scale 0");
    assert_eq!(
        bytes.len(),
        8 + 2 * ndigits,
        "length matches the digit count"
    );
    let mut value: u64 = 0;
    for index in 0..=weight.max(0) as usize {
        let digit = if index < ndigits {
            field(8 + 2 * index)
        } else {
            0
        };
        assert!(digit < 10_000, "base-10000 digit");
        value = value * 10_000 + u64::from(digit);
    }
    if ndigits > 0 {
        assert_ne!(field(8 + 2 * (ndigits - 1)), 0, "no trailing zero digits");
        assert_ne!(field(8), 0, "no leading zero digits");
    }
    value
}

/// Checks that `output` is a well-formed value of `pg_type` in `format`.
fn assert_valid(pg_type: PgType, format: Format, output: &[u8]) {
    match (pg_type, format) {
        (_, Format::Text) | (PgType::Text | PgType::Varchar | PgType::Bpchar | PgType::Name, _) => {
            let value = text(output);
            match pg_type {
                PgType::Int2 => assert!(value.parse::<i16>().is_ok(), "{value}"),
                PgType::Int4 => assert!(value.parse::<i32>().is_ok(), "{value}"),
                PgType::Int8 => assert!(value.parse::<i64>().is_ok(), "{value}"),
                PgType::Numeric => assert!(value.parse::<f64>().is_ok(), "{value}"),
                PgType::Uuid => assert_eq!(value.len(), 36, "{value}"),
                _ => {}
            }
        }
        (PgType::Int2, _) => assert_eq!(output.len(), 2),
        (PgType::Int4 | PgType::Date, _) => assert_eq!(output.len(), 4),
        (PgType::Int8 | PgType::Timestamp | PgType::Timestamptz, _) => assert_eq!(output.len(), 8),
        (PgType::Numeric, _) => {
            decode_numeric_integer(output);
        }
        (PgType::Uuid, _) => assert_eq!(output.len(), 16),
        (PgType::Bool, _) => assert_eq!(output.len(), 1),
    }
}

#[test]
fn matrix_supported_pairs_give_valid_values() {
    let formats = [Format::Text, Format::Binary];
    for method in MaskMethod::ALL {
        for pg_type in PgType::ALL {
            for format in formats {
                let value = sample(pg_type, format);
                let result = mask_with(method, &key(), pg_type.oid(), format, Some(&value));
                if !method.supports(ColumnType::Known(pg_type)) {
                    assert!(
                        matches!(result, Err(MaskError::Unsupported { .. })),
                        "{method} on {pg_type} {format} must be unsupported, got {result:?}"
                    );
                    continue;
                }
                let output = result
                    .unwrap_or_else(|error| panic!("{method} on {pg_type} {format}: {error}"));
                match (method, output) {
                    (MaskMethod::Null, None) => {}
                    (MaskMethod::Null, Some(_)) => panic!("null must give NULL on {pg_type}"),
                    (_, None) => panic!("{method} on {pg_type} {format} gave NULL"),
                    (_, Some(output)) => {
                        assert_ne!(
                            output, value,
                            "{method} on {pg_type} {format} left the value unchanged"
                        );
                        assert_valid(pg_type, format, &output);
                    }
                }
            }
        }
    }
}

#[test]
fn matrix_matches_documented_table() {
    let supported = |method: MaskMethod| -> Vec<PgType> {
        PgType::ALL
            .into_iter()
            .filter(|t| method.supports(ColumnType::Known(*t)))
            .collect()
    };
    let character = vec![PgType::Text, PgType::Varchar, PgType::Bpchar, PgType::Name];
    assert_eq!(supported(MaskMethod::Redact), character);
    assert_eq!(supported(MaskMethod::Partial { keep_last: 4 }), character);
    assert_eq!(supported(MaskMethod::Zip3), character);
    assert_eq!(
        supported(MaskMethod::Token),
        vec![
            PgType::Text,
            PgType::Varchar,
            PgType::Bpchar,
            PgType::Name,
            PgType::Int4,
            PgType::Int8,
            PgType::Numeric,
            PgType::Uuid
        ]
    );
    assert_eq!(
        supported(MaskMethod::Year),
        vec![PgType::Date, PgType::Timestamp, PgType::Timestamptz]
    );
    assert_eq!(supported(MaskMethod::Null), PgType::ALL.to_vec());
}

#[test]
fn unknown_type_supports_only_null() {
    const JSONB: u32 = 3802;
    for method in MaskMethod::ALL {
        let result = mask_with(method, &key(), JSONB, Format::Binary, Some(b"\x01{}"));
        if method == MaskMethod::Null {
            assert_eq!(result, Ok(None));
        } else {
            assert_eq!(
                result,
                Err(MaskError::Unsupported {
                    method,
                    column_type: ColumnType::Other(JSONB)
                })
            );
        }
    }
}

#[test]
fn null_input_stays_null_for_every_method() {
    for method in MaskMethod::ALL {
        for pg_type in PgType::ALL {
            if !method.supports(ColumnType::Known(pg_type)) {
                continue;
            }
            for format in [Format::Text, Format::Binary] {
                assert_eq!(
                    mask_with(method, &key(), pg_type.oid(), format, None),
                    Ok(None),
                    "{method} {pg_type}"
                );
            }
        }
    }
}

#[test]
fn null_input_still_checks_the_method() {
    let result = mask_with(MaskMethod::Redact, &key(), oid::DATE, Format::Text, None);
    assert!(matches!(result, Err(MaskError::Unsupported { .. })));
}

#[test]
fn token_without_key_is_rejected() {
    let mut out = BytesMut::new();
    let result = mask_value(
        MaskMethod::Token,
        None,
        oid::TEXT,
        Format::Text,
        Some(b"x"),
        &mut out,
    );
    assert_eq!(result, Err(MaskError::MissingKey));
    assert!(out.is_empty());
}

#[test]
fn redact_text_types() {
    for type_oid in [oid::TEXT, oid::VARCHAR, oid::NAME] {
        for format in [Format::Text, Format::Binary] {
            assert_eq!(
                mask(MaskMethod::Redact, type_oid, format, b"900-12-3456"),
                REDACTED.as_bytes()
            );
        }
    }
}

#[test]
fn redact_bpchar_keeps_width() {
    assert_eq!(
        mask(MaskMethod::Redact, oid::BPCHAR, Format::Text, b"AB12      "),
        b"**********"
    );
    assert_eq!(
        mask(MaskMethod::Redact, oid::BPCHAR, Format::Binary, b"F"),
        b"*"
    );
    // Width counts characters, not bytes.
    assert_eq!(
        mask(
            MaskMethod::Redact,
            oid::BPCHAR,
            Format::Text,
            "Zoë ".as_bytes()
        ),
        b"****"
    );
}

#[test]
fn partial_keeps_last_characters() {
    let method = MaskMethod::Partial { keep_last: 4 };
    assert_eq!(
        text(&mask(method, oid::TEXT, Format::Text, b"900-12-3456")),
        "****3456"
    );
    assert_eq!(
        text(&mask(
            method,
            oid::VARCHAR,
            Format::Binary,
            b"(617) 555-0142"
        )),
        "****0142"
    );
    assert_eq!(
        text(&mask(
            method,
            oid::TEXT,
            Format::Text,
            "Zoë Müller".as_bytes()
        )),
        "****ller"
    );
    assert_eq!(
        text(&mask(
            method,
            oid::TEXT,
            Format::Text,
            "番号12345678".as_bytes()
        )),
        "****5678"
    );
}

#[test]
fn partial_on_short_values_reveals_at_most_half() {
    let method = MaskMethod::Partial { keep_last: 4 };
    let cases: [(&str, &str); 6] = [
        ("", "****"),
        ("a", "****"),
        ("ab", "****b"),
        ("abcde", "****de"),
        ("abcdefg", "****efg"),
        ("abcdefgh", "****efgh"),
    ];
    for (input, expected) in cases {
        assert_eq!(
            text(&mask(method, oid::TEXT, Format::Text, input.as_bytes())),
            expected,
            "{input:?}"
        );
    }
    assert_eq!(
        text(&mask(
            MaskMethod::Partial { keep_last: 0 },
            oid::TEXT,
            Format::Text,
            b"secret"
        )),
        "****"
    );
    assert_eq!(
        text(&mask(
            MaskMethod::Partial { keep_last: 255 },
            oid::TEXT,
            Format::Text,
            b"secret"
        )),
        "****ret"
    );
}

#[test]
fn partial_on_bpchar_masks_in_place() {
    let method = MaskMethod::Partial { keep_last: 2 };
    assert_eq!(
        text(&mask(method, oid::BPCHAR, Format::Text, b"AB12      ")),
        "**12      "
    );
    assert_eq!(text(&mask(method, oid::BPCHAR, Format::Binary, b"X")), "*");
    assert_eq!(
        text(&mask(method, oid::BPCHAR, Format::Text, b"   ")),
        "   "
    );
}

#[test]
fn partial_rejects_invalid_utf8() {
    let result = mask_with(
        MaskMethod::Partial { keep_last: 2 },
        &key(),
        oid::TEXT,
        Format::Text,
        Some(b"\xff\xfeab"),
    );
    assert!(
        matches!(result, Err(MaskError::InvalidValue { .. })),
        "{result:?}"
    );
}

#[test]
fn token_string_shape() {
    let token = mask(MaskMethod::Token, oid::TEXT, Format::Text, b"900-12-3456");
    let token = text(&token);
    assert_eq!(token.len(), STRING_TOKEN_LEN);
    assert!(token.starts_with(TOKEN_PREFIX));
    assert!(token[TOKEN_PREFIX.len()..]
        .chars()
        .all(|c| c.is_ascii_lowercase() || ('2'..='7').contains(&c)));
}

#[test]
fn token_is_deterministic() {
    let first = mask(MaskMethod::Token, oid::TEXT, Format::Text, b"MRN-1000037");
    let second = mask(MaskMethod::Token, oid::TEXT, Format::Text, b"MRN-1000037");
    let other = mask(MaskMethod::Token, oid::TEXT, Format::Text, b"MRN-1000074");
    assert_eq!(first, second);
    assert_ne!(first, other);
}

#[test]
fn token_same_across_formats_and_character_types() {
    let reference = mask(MaskMethod::Token, oid::TEXT, Format::Text, b"Jane");
    assert_eq!(
        mask(MaskMethod::Token, oid::TEXT, Format::Binary, b"Jane"),
        reference
    );
    assert_eq!(
        mask(MaskMethod::Token, oid::VARCHAR, Format::Text, b"Jane"),
        reference
    );
    assert_eq!(
        mask(MaskMethod::Token, oid::NAME, Format::Binary, b"Jane"),
        reference
    );
    // Padding is not significant for character(n), so the padded value gets the same
    // token, padded to the width when the width exceeds the token length.
    assert_eq!(
        mask(MaskMethod::Token, oid::BPCHAR, Format::Text, b"Jane"),
        reference
    );
    let wide = mask(
        MaskMethod::Token,
        oid::BPCHAR,
        Format::Text,
        format!("Jane{}", " ".repeat(26)).as_bytes(),
    );
    assert_eq!(wide.len(), 30);
    assert_eq!(&wide[..STRING_TOKEN_LEN], &reference[..]);
    assert!(wide[STRING_TOKEN_LEN..].iter().all(|&b| b == b' '));
}

#[test]
fn token_key_separation() {
    let other_key = MaskKey::from_bytes([8; 32]);
    for (type_oid, format, value) in [
        (oid::TEXT, Format::Text, sample(PgType::Text, Format::Text)),
        (
            oid::INT4,
            Format::Binary,
            sample(PgType::Int4, Format::Binary),
        ),
        (oid::INT8, Format::Text, sample(PgType::Int8, Format::Text)),
        (
            oid::NUMERIC,
            Format::Binary,
            sample(PgType::Numeric, Format::Binary),
        ),
        (oid::UUID, Format::Text, sample(PgType::Uuid, Format::Text)),
    ] {
        let with_first =
            mask_with(MaskMethod::Token, &key(), type_oid, format, Some(&value)).unwrap();
        let with_second = mask_with(
            MaskMethod::Token,
            &other_key,
            type_oid,
            format,
            Some(&value),
        )
        .unwrap();
        assert_ne!(with_first, with_second, "OID {type_oid}");
    }
}

#[test]
fn token_derived_keys_differ_per_target() {
    let master = [42u8; 32];
    let value = b"900-12-3456";
    let ehr = mask_with(
        MaskMethod::Token,
        &MaskKey::derive(&master, "ehr"),
        oid::TEXT,
        Format::Text,
        Some(value),
    );
    let ehr_again = mask_with(
        MaskMethod::Token,
        &MaskKey::derive(&master, "ehr"),
        oid::TEXT,
        Format::Text,
        Some(value),
    );
    let billing = mask_with(
        MaskMethod::Token,
        &MaskKey::derive(&master, "billing"),
        oid::TEXT,
        Format::Text,
        Some(value),
    );
    assert_eq!(ehr, ehr_again);
    assert_ne!(ehr, billing);
}

#[test]
fn token_integers_match_across_formats() {
    let text_token = mask(MaskMethod::Token, oid::INT4, Format::Text, b"123456");
    let binary_token = mask(
        MaskMethod::Token,
        oid::INT4,
        Format::Binary,
        &123_456i32.to_be_bytes(),
    );
    let from_text: i32 = text(&text_token).parse().unwrap();
    let from_binary = i32::from_be_bytes(binary_token.try_into().unwrap());
    assert_eq!(from_text, from_binary);
    assert!(from_text >= 0);

    let text_token = mask(
        MaskMethod::Token,
        oid::INT8,
        Format::Text,
        b"-9223372036854775808",
    );
    let binary_token = mask(
        MaskMethod::Token,
        oid::INT8,
        Format::Binary,
        &i64::MIN.to_be_bytes(),
    );
    let from_text: i64 = text(&text_token).parse().unwrap();
    assert_eq!(
        from_text,
        i64::from_be_bytes(binary_token.try_into().unwrap())
    );
    assert!(from_text >= 0);
}

#[test]
fn token_numeric_ignores_scale_and_format() {
    let reference = mask(MaskMethod::Token, oid::NUMERIC, Format::Text, b"12.5");
    assert_eq!(
        mask(MaskMethod::Token, oid::NUMERIC, Format::Text, b"12.50"),
        reference
    );
    assert_eq!(
        mask(MaskMethod::Token, oid::NUMERIC, Format::Text, b"0012.500"),
        reference
    );
    let binary = mask(
        MaskMethod::Token,
        oid::NUMERIC,
        Format::Binary,
        &numeric_binary(2, 0, 0, 2, &[12, 5000]),
    );
    assert_eq!(
        decode_numeric_integer(&binary).to_string(),
        text(&reference)
    );

    // The same integer as bigint and numeric gets the same token.
    let bigint = mask(MaskMethod::Token, oid::INT8, Format::Text, b"20000");
    let numeric = mask(
        MaskMethod::Token,
        oid::NUMERIC,
        Format::Binary,
        &numeric_binary(1, 1, 0, 0, &[2]),
    );
    assert_eq!(decode_numeric_integer(&numeric).to_string(), text(&bigint));
}

#[test]
fn token_numeric_canonical_forms_agree() {
    // (text form, binary form) pairs of equal values.
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("0", numeric_binary(0, 0, 0, 0, &[])),
        ("0.00", numeric_binary(0, 0, 0x4000, 2, &[])),
        ("0.05", numeric_binary(1, -1, 0, 2, &[500])),
        ("0.00000001", numeric_binary(1, -2, 0, 8, &[1])),
        (
            "-123456.789",
            numeric_binary(3, 1, 0x4000, 3, &[12, 3456, 7890]),
        ),
        ("100000000", numeric_binary(1, 2, 0, 0, &[1])),
        ("NaN", numeric_binary(0, 0, 0xC000, 0, &[])),
        ("Infinity", numeric_binary(0, 0, 0xD000, 0, &[])),
        ("-Infinity", numeric_binary(0, 0, 0xF000, 0, &[])),
    ];
    for (text_form, binary_form) in cases {
        let from_text = mask(
            MaskMethod::Token,
            oid::NUMERIC,
            Format::Text,
            text_form.as_bytes(),
        );
        let from_binary = mask(
            MaskMethod::Token,
            oid::NUMERIC,
            Format::Binary,
            &binary_form,
        );
        assert_eq!(
            text(&from_text),
            decode_numeric_integer(&from_binary).to_string(),
            "{text_form}"
        );
    }
    let negative = mask(MaskMethod::Token, oid::NUMERIC, Format::Text, b"-1");
    let positive = mask(MaskMethod::Token, oid::NUMERIC, Format::Text, b"1");
    assert_ne!(negative, positive);
}

#[test]
fn token_numeric_rejects_malformed_binary() {
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("short header", vec![0, 1, 0]),
        ("digit count", numeric_binary(2, 0, 0, 0, &[1])),
        ("digit range", numeric_binary(1, 0, 0, 0, &[10_000])),
        ("sign", numeric_binary(1, 0, 0x1234, 0, &[1])),
        ("NaN with digits", numeric_binary(1, 0, 0xC000, 0, &[1])),
        ("display scale", numeric_binary(0, 0, 0, 0x4000, &[])),
    ];
    for (case, bytes) in cases {
        let result = mask_with(
            MaskMethod::Token,
            &key(),
            oid::NUMERIC,
            Format::Binary,
            Some(&bytes),
        );
        assert!(
            matches!(result, Err(MaskError::InvalidValue { .. })),
            "{case}: {result:?}"
        );
    }
    for bad_text in ["", "1.", ".5", "1e5", "+1", "12a", "--1"] {
        let result = mask_with(
            MaskMethod::Token,
            &key(),
            oid::NUMERIC,
            Format::Text,
            Some(bad_text.as_bytes()),
        );
        assert!(
            matches!(result, Err(MaskError::InvalidValue { .. })),
            "{bad_text:?}: {result:?}"
        );
    }
}

#[test]
fn token_uuid_is_version_8() {
    let uuid_text = mask(
        MaskMethod::Token,
        oid::UUID,
        Format::Text,
        b"3F1B074A-4080-490F-855F-242E451D546B",
    );
    let uuid_text = text(&uuid_text).to_string();
    assert_eq!(&uuid_text[14..15], "8", "{uuid_text}");
    assert!(
        matches!(&uuid_text[19..20], "8" | "9" | "a" | "b"),
        "{uuid_text}"
    );

    let binary = mask(
        MaskMethod::Token,
        oid::UUID,
        Format::Binary,
        &sample(PgType::Uuid, Format::Binary),
    );
    let hex: String = binary.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        hex,
        uuid_text.replace('-', ""),
        "text and binary tokens of one UUID agree"
    );
}

#[test]
fn token_rejects_malformed_values() {
    let cases: [(u32, Format, &[u8]); 6] = [
        (oid::INT4, Format::Binary, &[0, 1]),
        (oid::INT4, Format::Text, b"99999999999"),
        (oid::INT8, Format::Text, b"12x"),
        (oid::UUID, Format::Binary, &[0; 15]),
        (
            oid::UUID,
            Format::Text,
            b"3f1b074a40804-90f-855f-242e451d546b",
        ),
        (
            oid::UUID,
            Format::Text,
            b"3f1b074a-4080-490f-855f-242e451d546g",
        ),
    ];
    for (type_oid, format, value) in cases {
        let result = mask_with(MaskMethod::Token, &key(), type_oid, format, Some(value));
        assert!(
            matches!(result, Err(MaskError::InvalidValue { .. })),
            "OID {type_oid} {value:?}: {result:?}"
        );
    }
}

#[test]
fn year_text_dates_and_timestamps() {
    let cases: [(u32, &str, &str); 9] = [
        (oid::DATE, "1984-03-15", "1984-01-01"),
        (oid::DATE, "0044-03-15 BC", "0044-01-01 BC"),
        (oid::DATE, "12345-06-07", "12345-01-01"),
        (oid::DATE, "infinity", "infinity"),
        (
            oid::TIMESTAMP,
            "1984-03-15 13:45:12.5",
            "1984-01-01 00:00:00",
        ),
        (oid::TIMESTAMP, "2024-02-29 23:59:60", "2024-01-01 00:00:00"),
        (
            oid::TIMESTAMPTZ,
            "1984-03-15 13:45:12.123456-04",
            "1984-01-01 12:00:00-04",
        ),
        (
            oid::TIMESTAMPTZ,
            "1984-07-04 09:00:00+05:30",
            "1984-01-01 12:00:00+05:30",
        ),
        (
            oid::TIMESTAMPTZ,
            "0044-03-15 12:00:00+00:53:28 BC",
            "0044-01-01 12:00:00+00:53:28 BC",
        ),
    ];
    for (type_oid, input, expected) in cases {
        assert_eq!(
            text(&mask(
                MaskMethod::Year,
                type_oid,
                Format::Text,
                input.as_bytes()
            )),
            expected,
            "{input}"
        );
    }
}

#[test]
fn year_rejects_non_iso_text() {
    let cases: [(u32, &str); 6] = [
        (oid::DATE, "03/15/1984"),
        (oid::DATE, "15.03.1984"),
        (oid::DATE, "1984-13-01"),
        (oid::TIMESTAMP, "Thu Mar 15 13:45:12 1984"),
        (oid::TIMESTAMP, "1984-03-15"),
        (oid::TIMESTAMPTZ, "1984-03-15 13:45:12"),
    ];
    for (type_oid, input) in cases {
        let result = mask_with(
            MaskMethod::Year,
            &key(),
            type_oid,
            Format::Text,
            Some(input.as_bytes()),
        );
        assert!(
            matches!(result, Err(MaskError::InvalidValue { .. })),
            "{input}: {result:?}"
        );
    }
}

#[test]
fn year_binary_date_decodes_to_january_first() {
    let cases: [(i32, i32); 5] = [
        (-5770, -5844),       // 1984-03-15 → 1984-01-01
        (0, 0),               // 2000-01-01 stays
        (8825, 8766),         // 2024-02-29 → 2024-01-01
        (-1, -365),           // 1999-12-31 → 1999-01-01
        (i32::MAX, i32::MAX), // infinity
    ];
    for (input, expected) in cases {
        let output = mask(
            MaskMethod::Year,
            oid::DATE,
            Format::Binary,
            &input.to_be_bytes(),
        );
        assert_eq!(
            i32::from_be_bytes(output.try_into().unwrap()),
            expected,
            "{input}"
        );
    }
    let minus_infinity = mask(
        MaskMethod::Year,
        oid::DATE,
        Format::Binary,
        &i32::MIN.to_be_bytes(),
    );
    assert_eq!(minus_infinity, i32::MIN.to_be_bytes());
}

#[test]
fn year_binary_timestamps() {
    let value = (-498_478_487_500_000i64).to_be_bytes(); // 1984-03-15 13:45:12.5 UTC
    let timestamp = mask(MaskMethod::Year, oid::TIMESTAMP, Format::Binary, &value);
    assert_eq!(
        i64::from_be_bytes(timestamp.try_into().unwrap()),
        -504_921_600_000_000
    ); // 1984-01-01 00:00
    let timestamptz = mask(MaskMethod::Year, oid::TIMESTAMPTZ, Format::Binary, &value);
    assert_eq!(
        i64::from_be_bytes(timestamptz.try_into().unwrap()),
        -504_878_400_000_000
    ); // 1984-01-01 12:00 UTC

    // One microsecond before 2000-01-01 is in 1999.
    let late_1999 = mask(
        MaskMethod::Year,
        oid::TIMESTAMP,
        Format::Binary,
        &(-1i64).to_be_bytes(),
    );
    assert_eq!(
        i64::from_be_bytes(late_1999.try_into().unwrap()),
        -365 * 86_400_000_000
    );

    for infinity in [i64::MIN, i64::MAX] {
        let output = mask(
            MaskMethod::Year,
            oid::TIMESTAMPTZ,
            Format::Binary,
            &infinity.to_be_bytes(),
        );
        assert_eq!(output, infinity.to_be_bytes());
    }
}

#[test]
fn year_rejects_wrong_binary_length() {
    for (type_oid, length) in [(oid::DATE, 8), (oid::TIMESTAMP, 4), (oid::TIMESTAMPTZ, 0)] {
        let result = mask_with(
            MaskMethod::Year,
            &key(),
            type_oid,
            Format::Binary,
            Some(&vec![0; length]),
        );
        assert!(
            matches!(result, Err(MaskError::InvalidValue { .. })),
            "{type_oid}: {result:?}"
        );
    }
}

#[test]
fn zip3_keeps_three_digits() {
    let cases: [(&str, &str); 8] = [
        ("02139", "021"),
        ("02139-4307", "021"),
        ("021394307", "021"),
        (" 94110 ", "941"),
        ("N/A", "000"),
        ("", "000"),
        ("2139", "000"),
        ("K1A 0B1", "000"),
    ];
    for (input, expected) in cases {
        assert_eq!(
            text(&mask(
                MaskMethod::Zip3,
                oid::TEXT,
                Format::Text,
                input.as_bytes()
            )),
            expected,
            "{input:?}"
        );
    }
}

#[test]
fn zip3_restricted_prefixes_become_000() {
    assert_eq!(RESTRICTED_ZIP3_PREFIXES.len(), 17);
    for prefix in RESTRICTED_ZIP3_PREFIXES {
        let zip = format!("{prefix}42");
        assert_eq!(
            text(&mask(
                MaskMethod::Zip3,
                oid::VARCHAR,
                Format::Binary,
                zip.as_bytes()
            )),
            "000",
            "{zip}"
        );
    }
    // Neighbours of restricted prefixes are kept.
    for zip in ["03742", "05842", "69342", "89442"] {
        assert_eq!(
            text(&mask(
                MaskMethod::Zip3,
                oid::TEXT,
                Format::Text,
                zip.as_bytes()
            )),
            &zip[..3]
        );
    }
}

#[test]
fn zip3_on_bpchar_pads_to_width() {
    assert_eq!(
        text(&mask(MaskMethod::Zip3, oid::BPCHAR, Format::Text, b"02139")),
        "021  "
    );
    assert_eq!(
        text(&mask(
            MaskMethod::Zip3,
            oid::BPCHAR,
            Format::Binary,
            b"83001"
        )),
        "000  "
    );
}

#[test]
fn method_serde_forms() {
    #[derive(serde::Deserialize)]
    struct Columns {
        ssn: MaskMethod,
        phone: MaskMethod,
        dob: MaskMethod,
    }
    let parsed: Columns = toml::from_str(
        r#"
        ssn = "redact"
        phone = { partial = { keep_last = 4 } }
        dob = "year"
        "#,
    )
    .unwrap();
    assert_eq!(parsed.ssn, MaskMethod::Redact);
    assert_eq!(parsed.phone, MaskMethod::Partial { keep_last: 4 });
    assert_eq!(parsed.dob, MaskMethod::Year);

    for method in MaskMethod::ALL {
        let json = serde_json::to_string(&method).unwrap();
        assert_eq!(serde_json::from_str::<MaskMethod>(&json).unwrap(), method);
    }
    assert_eq!(
        serde_json::to_string(&MaskMethod::Zip3).unwrap(),
        r#""zip3""#
    );
    assert!(serde_json::from_str::<MaskMethod>(r#""hash""#).is_err());
}

#[test]
fn method_short_form_round_trips() {
    for method in MaskMethod::ALL {
        assert_eq!(method.to_string().parse::<MaskMethod>(), Ok(method));
    }
    assert_eq!(
        "partial:12".parse(),
        Ok(MaskMethod::Partial { keep_last: 12 })
    );
    for bad in ["partial", "partial:256", "partial:-1", "mask", ""] {
        assert!(bad.parse::<MaskMethod>().is_err(), "{bad:?}");
    }
}

#[test]
fn errors_do_not_contain_values() {
    let secret = b"900-12-3456-secret";
    let errors = [
        mask_with(
            MaskMethod::Token,
            &key(),
            oid::INT4,
            Format::Text,
            Some(secret),
        ),
        mask_with(
            MaskMethod::Year,
            &key(),
            oid::DATE,
            Format::Text,
            Some(secret),
        ),
        mask_with(
            MaskMethod::Token,
            &key(),
            oid::UUID,
            Format::Text,
            Some(secret),
        ),
    ];
    for error in errors {
        let message = error.unwrap_err().to_string();
        assert!(!message.contains("900-12"), "{message}");
    }
}

#[test]
fn key_debug_hides_material() {
    assert_eq!(format!("{:?}", key()), "MaskKey(..)");
}
