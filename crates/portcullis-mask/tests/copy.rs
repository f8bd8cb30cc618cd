//! Masking COPY TO STDOUT data in text, CSV and binary format.

use bytes::{BufMut, BytesMut};
use portcullis_mask::{
    oid, ColumnMask, CopyColumn, CopyFormat, CopyMasker, MaskError, MaskKey, MaskMethod, REDACTED,
};

fn column(mask: Option<MaskMethod>, type_oid: u32) -> CopyColumn {
    CopyColumn {
        mask: mask.map(|method| ColumnMask::new(method, Some(MaskKey::from_bytes([5; 32])))),
        type_oid,
    }
}

/// id (unmasked), name (redact), phone (partial 4), dob (year), note (unmasked).
fn columns() -> Vec<CopyColumn> {
    vec![
        column(None, oid::INT4),
        column(Some(MaskMethod::Redact), oid::TEXT),
        column(Some(MaskMethod::Partial { keep_last: 4 }), oid::TEXT),
        column(Some(MaskMethod::Year), oid::DATE),
        column(None, oid::TEXT),
    ]
}

fn mask_all(masker: &mut CopyMasker, messages: &[&[u8]]) -> Result<Vec<u8>, MaskError> {
    let mut out = BytesMut::new();
    for message in messages {
        masker.mask_copy_data(message, &mut out)?;
    }
    Ok(out.to_vec())
}

fn masked_text(format: CopyFormat, messages: &[&[u8]]) -> String {
    let mut masker = CopyMasker::new(format, columns()).unwrap();
    String::from_utf8(mask_all(&mut masker, messages).unwrap()).unwrap()
}

#[test]
fn text_rows_are_masked() {
    let out = masked_text(
        CopyFormat::text(),
        &[
            b"1\tJane Doe\t(617) 555-0142\t1984-03-15\tfirst note\n",
            b"2\t\\N\t\\N\t\\N\t\\N\n",
        ],
    );
    assert_eq!(
        out,
        format!("1\t{REDACTED}\t****0142\t1984-01-01\tfirst note\n2\t\\N\t\\N\t\\N\t\\N\n")
    );
}

#[test]
fn text_escapes_are_decoded_and_reencoded() {
    // The phone value contains a tab, a backslash and a newline; its last four
    // characters after decoding are `\`, newline, `9` and `9`.
    let out = masked_text(
        CopyFormat::text(),
        &[b"1\ta\\tb\twxyz\\ty\\\\\\n99\t1984-03-15\tkeep \\\\ as is\\n\n"],
    );
    assert_eq!(
        out,
        format!("1\t{REDACTED}\t****\\\\\\n99\t1984-01-01\tkeep \\\\ as is\\n\n")
    );
}

#[test]
fn text_octal_and_hex_escapes() {
    // `\101` is `A`, `\x42` is `B`.
    let mut masker = CopyMasker::new(
        CopyFormat::text(),
        vec![column(
            Some(MaskMethod::Partial { keep_last: 2 }),
            oid::TEXT,
        )],
    )
    .unwrap();
    let out = mask_all(&mut masker, &[b"\\101\\x42CD\n"]).unwrap();
    assert_eq!(out, b"****CD\n");
    let out = mask_all(&mut masker, &[b"xyz\\101\\x42\n"]).unwrap();
    assert_eq!(out, b"****AB\n");
}

#[test]
fn text_custom_delimiter_and_null() {
    let format = CopyFormat::Text {
        delimiter: b'|',
        null: b"NULL".to_vec(),
        header: false,
    };
    let out = masked_text(format, &[b"1|a\\|b|x|NULL|n\\|o\n"]);
    assert_eq!(out, format!("1|{REDACTED}|****|NULL|n\\|o\n"));
}

#[test]
fn text_header_passes_through() {
    let format = CopyFormat::Text {
        delimiter: b'\t',
        null: b"\\N".to_vec(),
        header: true,
    };
    let out = masked_text(
        format,
        &[
            b"id\tname\tphone\tdob\tnote\n",
            b"1\tJane\t617-555-0142\t1984-03-15\tn\n",
        ],
    );
    assert_eq!(
        out,
        format!("id\tname\tphone\tdob\tnote\n1\t{REDACTED}\t****0142\t1984-01-01\tn\n")
    );
}

#[test]
fn text_several_rows_in_one_message() {
    let out = masked_text(CopyFormat::text(), &[b"1\ta\tb\t\\N\tc\n2\td\te\t\\N\tf\n"]);
    assert_eq!(
        out,
        format!("1\t{REDACTED}\t****\t\\N\tc\n2\t{REDACTED}\t****\t\\N\tf\n")
    );
}

#[test]
fn text_malformed_rows() {
    let cases: [(&str, &[u8]); 4] = [
        ("no line feed", b"1\ta\tb\t\\N\tc"),
        ("too few fields", b"1\ta\tb\n"),
        ("too many fields", b"1\ta\tb\t\\N\tc\td\n"),
        ("bad date", b"1\ta\tb\tyesterday\tc\n"),
    ];
    for (case, message) in cases {
        let mut masker = CopyMasker::new(CopyFormat::text(), columns()).unwrap();
        let mut out = BytesMut::from(&b"keep"[..]);
        assert!(masker.mask_copy_data(message, &mut out).is_err(), "{case}");
        assert_eq!(out.as_ref(), b"keep", "{case}");
    }
}

#[test]
fn csv_rows_are_masked() {
    let out = masked_text(
        CopyFormat::csv(),
        &[
            b"1,\"Doe, Jane\",\"(617) 555-0142\",1984-03-15,\"said \"\"hi\"\"\"\n",
            b"2,,,,\n",
        ],
    );
    assert_eq!(
        out,
        format!("1,{REDACTED},****0142,1984-01-01,\"said \"\"hi\"\"\"\n2,,,,\n")
    );
}

#[test]
fn csv_quoted_empty_string_is_not_null() {
    let mut masker = CopyMasker::new(
        CopyFormat::csv(),
        vec![
            column(Some(MaskMethod::Redact), oid::TEXT),
            column(Some(MaskMethod::Redact), oid::TEXT),
        ],
    )
    .unwrap();
    let out = mask_all(&mut masker, &[b"\"\",\n"]).unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), format!("{REDACTED},\n"));
}

#[test]
fn csv_quotes_masked_values_when_needed() {
    // A kept tail that contains the delimiter, a quote or a newline gets quoted.
    let mut masker = CopyMasker::new(
        CopyFormat::csv(),
        vec![column(
            Some(MaskMethod::Partial { keep_last: 3 }),
            oid::TEXT,
        )],
    )
    .unwrap();
    let out = mask_all(&mut masker, &[b"\"abcdef,\"\"x\"\n", b"\"abcdefg\nhi\"\n"]).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "\"****,\"\"x\"\n\"****\nhi\"\n"
    );
}

#[test]
fn csv_custom_quote_escape_and_null() {
    let format = CopyFormat::Csv {
        delimiter: b';',
        quote: b'\'',
        escape: b'\\',
        null: b"NULL".to_vec(),
        header: true,
    };
    let columns = vec![
        column(None, oid::TEXT),
        column(Some(MaskMethod::Partial { keep_last: 2 }), oid::TEXT),
        column(Some(MaskMethod::Redact), oid::TEXT),
    ];
    let mut masker = CopyMasker::new(format, columns).unwrap();
    let out = mask_all(
        &mut masker,
        &[
            b"'a;b';'c\nd';e\n",
            b"'x\\'y';'ab\\'c';NULL\n",
            b"z;'NULL';''\n",
        ],
    )
    .unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        format!("'a;b';'c\nd';e\n'x\\'y';'****\\'c';NULL\nz;****LL;{REDACTED}\n")
    );
}

#[test]
fn csv_masked_value_equal_to_null_is_quoted() {
    let format = CopyFormat::Csv {
        delimiter: b',',
        quote: b'"',
        escape: b'"',
        null: REDACTED.as_bytes().to_vec(),
        header: false,
    };
    let mut masker =
        CopyMasker::new(format, vec![column(Some(MaskMethod::Redact), oid::TEXT)]).unwrap();
    let out = mask_all(&mut masker, &[b"secret\n"]).unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), format!("\"{REDACTED}\"\n"));
}

#[test]
fn csv_malformed_rows() {
    let cases: [(&str, &[u8]); 5] = [
        ("unterminated quote", b"1,\"abc,d,e,f\n"),
        ("byte after quote", b"1,\"a\"b,c,1984-03-15,e\n"),
        ("too few fields", b"1,a,b\n"),
        ("too many fields", b"1,a,b,1984-03-15,e,f\n"),
        ("no line feed", b"1,a,b,1984-03-15,e"),
    ];
    for (case, message) in cases {
        let mut masker = CopyMasker::new(CopyFormat::csv(), columns()).unwrap();
        let mut out = BytesMut::new();
        assert!(masker.mask_copy_data(message, &mut out).is_err(), "{case}");
        assert!(out.is_empty(), "{case}");
    }
}

fn binary_header() -> Vec<u8> {
    let mut header = b"PGCOPY\n\xff\r\n\0".to_vec();
    header.extend(0i32.to_be_bytes());
    header.extend(0i32.to_be_bytes());
    header
}

fn binary_tuple(fields: &[Option<&[u8]>]) -> Vec<u8> {
    let mut tuple = BytesMut::new();
    tuple.put_i16(fields.len() as i16);
    for field in fields {
        match field {
            None => tuple.put_i32(-1),
            Some(bytes) => {
                tuple.put_i32(bytes.len() as i32);
                tuple.put_slice(bytes);
            }
        }
    }
    tuple.to_vec()
}

#[test]
fn binary_copy_is_masked() {
    let columns = vec![
        column(None, oid::INT4),
        column(Some(MaskMethod::Year), oid::DATE),
        column(Some(MaskMethod::Redact), oid::TEXT),
    ];
    let mut masker = CopyMasker::new(CopyFormat::Binary, columns).unwrap();

    let mut first = binary_header();
    first.extend(binary_tuple(&[
        Some(&7i32.to_be_bytes()),
        Some(&(-5770i32).to_be_bytes()),
        Some(b"Jane"),
    ]));
    let second = binary_tuple(&[Some(&8i32.to_be_bytes()), None, None]);
    let trailer = (-1i16).to_be_bytes();
    let out = mask_all(&mut masker, &[&first, &second, &trailer]).unwrap();

    let mut expected = binary_header();
    expected.extend(binary_tuple(&[
        Some(&7i32.to_be_bytes()),
        Some(&(-5844i32).to_be_bytes()),
        Some(REDACTED.as_bytes()),
    ]));
    expected.extend(binary_tuple(&[Some(&8i32.to_be_bytes()), None, None]));
    expected.extend(trailer);
    assert_eq!(out, expected);
}

#[test]
fn binary_copy_header_extension_is_kept() {
    let mut masker = CopyMasker::new(
        CopyFormat::Binary,
        vec![column(Some(MaskMethod::Null), oid::TEXT)],
    )
    .unwrap();
    let mut message = b"PGCOPY\n\xff\r\n\0".to_vec();
    message.extend(0i32.to_be_bytes());
    message.extend(3i32.to_be_bytes());
    message.extend(b"ext");
    message.extend(binary_tuple(&[Some(b"x")]));
    let out = mask_all(&mut masker, &[&message]).unwrap();
    assert_eq!(&out[..22], &message[..22]);
    assert_eq!(&out[22..], binary_tuple(&[None]));
}

#[test]
fn binary_copy_malformed_streams() {
    let mut with_oids = b"PGCOPY\n\xff\r\n\0".to_vec();
    with_oids.extend((1i32 << 16).to_be_bytes());
    with_oids.extend(0i32.to_be_bytes());

    let mut split_tuple = binary_header();
    split_tuple.extend(&binary_tuple(&[Some(b"abcdef")])[..7]);

    let mut after_trailer = binary_header();
    after_trailer.extend((-1i16).to_be_bytes());
    after_trailer.extend(binary_tuple(&[None]));

    let mut wrong_count = binary_header();
    wrong_count.extend(binary_tuple(&[None, None]));

    let cases: [(&str, Vec<u8>); 5] = [
        (
            "bad signature",
            b"PGCOPX\n\xff\r\n\0\0\0\0\0\0\0\0\0".to_vec(),
        ),
        ("WITH OIDS", with_oids),
        ("split tuple", split_tuple),
        ("data after trailer", after_trailer),
        ("wrong field count", wrong_count),
    ];
    for (case, message) in cases {
        let mut masker = CopyMasker::new(
            CopyFormat::Binary,
            vec![column(Some(MaskMethod::Redact), oid::TEXT)],
        )
        .unwrap();
        let mut out = BytesMut::new();
        assert!(masker.mask_copy_data(&message, &mut out).is_err(), "{case}");
        assert!(out.is_empty(), "{case}");
    }
}

#[test]
fn copy_rejects_ambiguous_options() {
    let bad = [
        CopyFormat::Text {
            delimiter: b'\n',
            null: b"\\N".to_vec(),
            header: false,
        },
        CopyFormat::Text {
            delimiter: b'\\',
            null: b"\\N".to_vec(),
            header: false,
        },
        CopyFormat::Csv {
            delimiter: b'"',
            quote: b'"',
            escape: b'"',
            null: Vec::new(),
            header: false,
        },
        CopyFormat::Csv {
            delimiter: b',',
            quote: b'"',
            escape: b'"',
            null: b"\r".to_vec(),
            header: false,
        },
    ];
    for format in bad {
        assert!(matches!(
            CopyMasker::new(format, columns()),
            Err(MaskError::UnsupportedCopy(_))
        ));
    }
}

#[test]
fn copy_plan_rejects_unsupported_methods() {
    let result = CopyMasker::new(
        CopyFormat::csv(),
        vec![column(Some(MaskMethod::Zip3), oid::INT4)],
    );
    assert!(matches!(result, Err(MaskError::Unsupported { .. })));
}
