//! Rewriting whole DataRow bodies.

use bytes::{BufMut, BytesMut};
use portcullis_mask::{
    oid, ColumnMask, ColumnPlan, Format, MaskError, MaskKey, MaskMethod, RowMasker, REDACTED,
};
use proptest::prelude::*;

fn data_row(fields: &[Option<&[u8]>]) -> Vec<u8> {
    let mut body = BytesMut::new();
    body.put_i16(fields.len() as i16);
    for field in fields {
        match field {
            None => body.put_i32(-1),
            Some(bytes) => {
                body.put_i32(bytes.len() as i32);
                body.put_slice(bytes);
            }
        }
    }
    body.to_vec()
}

/// Splits a DataRow body back into fields, checking its framing.
fn fields(body: &[u8]) -> Vec<Option<Vec<u8>>> {
    let count = i16::from_be_bytes([body[0], body[1]]) as usize;
    let mut offset = 2;
    let mut fields = Vec::new();
    for _ in 0..count {
        let length = i32::from_be_bytes(body[offset..offset + 4].try_into().unwrap());
        offset += 4;
        if length == -1 {
            fields.push(None);
        } else {
            let length = length as usize;
            fields.push(Some(body[offset..offset + length].to_vec()));
            offset += length;
        }
    }
    assert_eq!(offset, body.len(), "no trailing bytes");
    fields
}

fn column(mask: Option<MaskMethod>, type_oid: u32, format: Format) -> ColumnPlan {
    ColumnPlan {
        mask: mask.map(|method| ColumnMask::new(method, Some(MaskKey::from_bytes([1; 32])))),
        type_oid,
        format,
    }
}

/// id (int4, binary, unmasked), ssn (text, redact), dob (date, binary, year), zip
/// (bpchar, text, zip3), phone (varchar, partial), email (text, null), mrn (text,
/// token), note (text, unmasked).
fn patient_masker() -> RowMasker {
    RowMasker::new(vec![
        column(None, oid::INT4, Format::Binary),
        column(Some(MaskMethod::Redact), oid::TEXT, Format::Text),
        column(Some(MaskMethod::Year), oid::DATE, Format::Binary),
        column(Some(MaskMethod::Zip3), oid::BPCHAR, Format::Text),
        column(
            Some(MaskMethod::Partial { keep_last: 4 }),
            oid::VARCHAR,
            Format::Text,
        ),
        column(Some(MaskMethod::Null), oid::TEXT, Format::Text),
        column(Some(MaskMethod::Token), oid::TEXT, Format::Binary),
        column(None, oid::TEXT, Format::Text),
    ])
    .unwrap()
}

#[test]
fn data_row_mixed_columns() {
    let masker = patient_masker();
    let row = data_row(&[
        Some(&42i32.to_be_bytes()),
        Some(b"900-12-3456"),
        Some(&(-5770i32).to_be_bytes()),
        Some(b"02139"),
        Some(b"(617) 555-0142"),
        Some(b"jane@example.org"),
        Some(b"MRN-1000037"),
        None,
    ]);
    let mut out = BytesMut::new();
    masker.mask_data_row(&row, &mut out).unwrap();

    let masked = fields(&out);
    assert_eq!(masked.len(), 8);
    assert_eq!(masked[0].as_deref(), Some(&42i32.to_be_bytes()[..]));
    assert_eq!(masked[1].as_deref(), Some(REDACTED.as_bytes()));
    assert_eq!(masked[2].as_deref(), Some(&(-5844i32).to_be_bytes()[..]));
    assert_eq!(masked[3].as_deref(), Some(&b"021  "[..]));
    assert_eq!(masked[4].as_deref(), Some(&b"****0142"[..]));
    assert_eq!(masked[5], None);
    assert!(masked[6].as_deref().unwrap().starts_with(b"tok_"));
    assert_eq!(masked[7], None);
}

#[test]
fn data_row_nulls_stay_null() {
    let masker = patient_masker();
    let row = data_row(&[None; 8]);
    let mut out = BytesMut::new();
    masker.mask_data_row(&row, &mut out).unwrap();
    assert_eq!(out.as_ref(), row.as_slice());
}

#[test]
fn data_row_reuses_output_buffer() {
    let masker = patient_masker();
    let row = data_row(&[
        Some(&1i32.to_be_bytes()),
        Some(b"900-12-3456"),
        Some(&0i32.to_be_bytes()),
        Some(b"02139"),
        Some(b"555-0142"),
        None,
        Some(b"MRN-1"),
        Some(b"note"),
    ]);
    let mut out = BytesMut::with_capacity(1024);
    masker.mask_data_row(&row, &mut out).unwrap();
    let first = out.to_vec();
    let capacity = out.capacity();
    for _ in 0..100 {
        out.clear();
        masker.mask_data_row(&row, &mut out).unwrap();
        assert_eq!(out.as_ref(), first.as_slice());
    }
    assert_eq!(
        out.capacity(),
        capacity,
        "masking must not reallocate a large enough buffer"
    );
}

#[test]
fn data_row_appends_after_existing_bytes() {
    let masker = RowMasker::new(vec![column(
        Some(MaskMethod::Redact),
        oid::TEXT,
        Format::Text,
    )])
    .unwrap();
    let mut out = BytesMut::from(&b"D\0\0\0\0"[..]);
    masker
        .mask_data_row(&data_row(&[Some(b"x")]), &mut out)
        .unwrap();
    assert_eq!(&out[..5], b"D\0\0\0\0");
    assert_eq!(fields(&out[5..]), vec![Some(REDACTED.as_bytes().to_vec())]);
}

#[test]
fn plan_rejects_unsupported_methods() {
    let result = RowMasker::new(vec![column(
        Some(MaskMethod::Redact),
        oid::DATE,
        Format::Binary,
    )]);
    assert!(matches!(result, Err(MaskError::Unsupported { .. })));

    let no_key = RowMasker::new(vec![ColumnPlan {
        mask: Some(ColumnMask::new(MaskMethod::Token, None)),
        type_oid: oid::TEXT,
        format: Format::Text,
    }]);
    assert!(matches!(no_key, Err(MaskError::MissingKey)));
}

#[test]
fn plan_from_description() {
    let masker = RowMasker::from_description(
        vec![None, Some(ColumnMask::new(MaskMethod::Year, None))],
        &[(oid::INT4, 1), (oid::TIMESTAMPTZ, 0)],
    )
    .unwrap();
    assert!(masker.masks_any());
    assert_eq!(masker.columns()[1].format, Format::Text);

    let bad_format = RowMasker::from_description(vec![None], &[(oid::INT4, 2)]);
    assert_eq!(bad_format.unwrap_err(), MaskError::InvalidFormatCode(2));
    let misaligned = RowMasker::from_description(vec![None, None], &[(oid::INT4, 0)]);
    assert!(matches!(misaligned, Err(MaskError::ColumnCount { .. })));
}

#[test]
fn data_row_malformed_bodies() {
    let masker = RowMasker::new(vec![
        column(None, oid::TEXT, Format::Text),
        column(Some(MaskMethod::Redact), oid::TEXT, Format::Text),
    ])
    .unwrap();
    let mut too_long = data_row(&[Some(b"a"), Some(b"b")]);
    too_long[2..6].copy_from_slice(&100i32.to_be_bytes());
    let mut negative = data_row(&[Some(b"a"), Some(b"b")]);
    negative[2..6].copy_from_slice(&(-2i32).to_be_bytes());
    let mut trailing = data_row(&[Some(b"a"), Some(b"b")]);
    trailing.push(0);
    let cases: [(&str, Vec<u8>); 6] = [
        ("empty", vec![]),
        ("half count", vec![0]),
        ("wrong count", data_row(&[Some(b"a")])),
        ("length past the end", too_long),
        ("negative length", negative),
        ("trailing bytes", trailing),
    ];
    for (case, body) in cases {
        let mut out = BytesMut::from(&b"keep"[..]);
        let result = masker.mask_data_row(&body, &mut out);
        assert!(result.is_err(), "{case}");
        assert_eq!(
            out.as_ref(),
            b"keep",
            "{case}: output must be left as it was"
        );
    }
}

#[test]
fn data_row_invalid_value_is_an_error() {
    let masker = RowMasker::new(vec![column(
        Some(MaskMethod::Year),
        oid::DATE,
        Format::Binary,
    )])
    .unwrap();
    let mut out = BytesMut::new();
    let result = masker.mask_data_row(&data_row(&[Some(b"abc")]), &mut out);
    assert!(matches!(result, Err(MaskError::InvalidValue { .. })));
    assert!(out.is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Arbitrary bytes never panic, and a failed row leaves the output unchanged.
    #[test]
    fn arbitrary_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..64)) {
        let masker = patient_masker();
        let mut out = BytesMut::from(&b"keep"[..]);
        if masker.mask_data_row(&body, &mut out).is_err() {
            prop_assert_eq!(out.as_ref(), b"keep");
        }
    }

    /// Well-framed rows with arbitrary values either mask to a well-framed row with
    /// the unmasked columns unchanged, or fail cleanly.
    #[test]
    fn framed_rows_keep_framing(values in proptest::collection::vec(proptest::option::of(proptest::collection::vec(any::<u8>(), 0..24)), 8)) {
        let masker = patient_masker();
        let borrowed: Vec<Option<&[u8]>> = values.iter().map(|value| value.as_deref()).collect();
        let row = data_row(&borrowed);
        let mut out = BytesMut::new();
        match masker.mask_data_row(&row, &mut out) {
            Ok(()) => {
                let masked = fields(&out);
                prop_assert_eq!(masked.len(), 8);
                prop_assert_eq!(&masked[0], &values[0]);
                prop_assert_eq!(&masked[7], &values[7]);
                prop_assert_eq!(&masked[5], &None);
            }
            Err(error) => {
                prop_assert!(out.is_empty());
                let is_value_error = matches!(error, MaskError::InvalidValue { .. });
                prop_assert!(is_value_error, "unexpected error {:?}", error);
            }
        }
    }

    /// Masking a single arbitrary value never panics for any method and type.
    #[test]
    fn arbitrary_values_never_panic(
        value in proptest::collection::vec(any::<u8>(), 0..40),
        method_index in 0usize..6,
        type_index in 0usize..13,
        binary in any::<bool>(),
    ) {
        let method = MaskMethod::ALL[method_index];
        let pg_type = portcullis_mask::PgType::ALL[type_index];
        let format = if binary { Format::Binary } else { Format::Text };
        let key = MaskKey::from_bytes([3; 32]);
        let mut out = BytesMut::new();
        let result = portcullis_mask::mask_value(method, Some(&key), pg_type.oid(), format, Some(&value), &mut out);
        if result.is_err() {
            prop_assert!(out.is_empty());
        }
    }
}
