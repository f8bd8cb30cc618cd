//! Masking one field value of a DataRow or COPY row.

use bytes::{BufMut, BytesMut};

use crate::datetime;
use crate::error::MaskError;
use crate::key::MaskKey;
use crate::method::MaskMethod;
use crate::text;
use crate::token;
use crate::types::{ColumnType, Format};

/// Masks one field value and appends the result to `out`.
///
/// `value` is the field as it arrived (`None` for SQL NULL) in `format`, for a column of
/// type `type_oid`. Returns the number of bytes appended, or `None` when the result is
/// SQL NULL and nothing was appended. NULL input stays NULL for every method, but the
/// method is still checked against the type, so a misconfigured column fails on its
/// first row whatever the value.
///
/// Errors: [`MaskError::Unsupported`] when the method cannot produce a valid value of
/// the type, [`MaskError::MissingKey`] for `token` without a key, and
/// [`MaskError::InvalidValue`] when the value does not decode as its type. On error,
/// `out` is left as it was.
pub fn mask_value(
    method: MaskMethod,
    key: Option<&MaskKey>,
    type_oid: u32,
    format: Format,
    value: Option<&[u8]>,
    out: &mut BytesMut,
) -> Result<Option<usize>, MaskError> {
    let column_type = ColumnType::from_oid(type_oid);
    method.check_type(column_type)?;
    if method == MaskMethod::Token && key.is_none() {
        return Err(MaskError::MissingKey);
    }
    let (Some(value), ColumnType::Known(pg_type)) = (value, column_type) else {
        // NULL input, or NULL output for a type only `null` supports.
        return Ok(None);
    };

    let start = out.len();
    let result = match method {
        MaskMethod::Null => return Ok(None),
        MaskMethod::Redact => text::put_redacted(pg_type, format, value, out),
        MaskMethod::Partial { keep_last } => {
            text::put_partial(pg_type, format, value, keep_last, out)
        }
        MaskMethod::Zip3 => text::put_zip3(pg_type, format, value, out),
        MaskMethod::Year => datetime::put_year(pg_type, format, value, out),
        MaskMethod::Token => match key {
            Some(key) => token::put_token(pg_type, format, value, key, out),
            None => Err(MaskError::MissingKey),
        },
    };
    match result {
        Ok(()) => Ok(Some(out.len() - start)),
        Err(error) => {
            out.truncate(start);
            Err(error)
        }
    }
}

/// Appends a protocol field: an i32 length, or -1 for NULL, followed by the bytes.
pub(crate) fn put_masked_field(
    method: MaskMethod,
    key: Option<&MaskKey>,
    type_oid: u32,
    format: Format,
    value: Option<&[u8]>,
    out: &mut BytesMut,
) -> Result<(), MaskError> {
    let length_at = out.len();
    out.put_i32(-1);
    match mask_value(method, key, type_oid, format, value, out) {
        Ok(Some(length)) => {
            let length = i32::try_from(length).map_err(|_| MaskError::Malformed {
                message: "masked field",
                reason: "output longer than the protocol's 2 GiB field limit",
                offset: length_at,
            })?;
            if let Some(slot) = out.get_mut(length_at..length_at + 4) {
                slot.copy_from_slice(&length.to_be_bytes());
            }
            Ok(())
        }
        Ok(None) => Ok(()),
        Err(error) => {
            out.truncate(length_at);
            Err(error)
        }
    }
}
