//! Rewriting DataRow messages.

use bytes::{BufMut, BytesMut};

use crate::error::MaskError;
use crate::key::MaskKey;
use crate::method::MaskMethod;
use crate::types::{ColumnType, Format};
use crate::value::put_masked_field;

/// The method and key for one masked column.
#[derive(Debug, Clone)]
pub struct ColumnMask {
    pub method: MaskMethod,
    /// Required for [`MaskMethod::Token`], ignored otherwise.
    pub key: Option<MaskKey>,
}

impl ColumnMask {
    pub fn new(method: MaskMethod, key: Option<MaskKey>) -> ColumnMask {
        ColumnMask { method, key }
    }
}

/// One result column: its mask (`None` passes values through unchanged), and its type
/// and format from the RowDescription.
#[derive(Debug, Clone)]
pub struct ColumnPlan {
    pub mask: Option<ColumnMask>,
    pub type_oid: u32,
    pub format: Format,
}

impl ColumnPlan {
    /// Checks the mask against the column type, and that `token` has a key.
    pub(crate) fn check(&self) -> Result<(), MaskError> {
        let Some(mask) = &self.mask else {
            return Ok(());
        };
        mask.method
            .check_type(ColumnType::from_oid(self.type_oid))?;
        if mask.method.needs_key() && mask.key.is_none() {
            return Err(MaskError::MissingKey);
        }
        Ok(())
    }
}

/// Rewrites DataRow bodies according to a per-column plan.
///
/// The plan is checked when the masker is built, so an unsupported method fails
/// before any row reaches the client. Masking a row allocates nothing beyond growing
/// the caller's output buffer, which the caller reuses between rows.
#[derive(Debug, Clone)]
pub struct RowMasker {
    columns: Vec<ColumnPlan>,
}

impl RowMasker {
    /// Builds a masker for the columns of one RowDescription, in order.
    pub fn new(columns: Vec<ColumnPlan>) -> Result<RowMasker, MaskError> {
        columns.iter().try_for_each(ColumnPlan::check)?;
        Ok(RowMasker { columns })
    }

    /// Builds a masker from a plan aligned with the RowDescription columns, and each
    /// column's type OID and format code.
    pub fn from_description(
        plan: Vec<Option<ColumnMask>>,
        columns: &[(u32, i16)],
    ) -> Result<RowMasker, MaskError> {
        if plan.len() != columns.len() {
            return Err(MaskError::ColumnCount {
                message: "RowDescription",
                expected: plan.len(),
                found: columns.len(),
            });
        }
        let columns = plan
            .into_iter()
            .zip(columns)
            .map(|(mask, &(type_oid, format_code))| {
                let format = Format::from_code(format_code)
                    .ok_or(MaskError::InvalidFormatCode(format_code))?;
                Ok(ColumnPlan {
                    mask,
                    type_oid,
                    format,
                })
            })
            .collect::<Result<Vec<_>, MaskError>>()?;
        RowMasker::new(columns)
    }

    /// Returns the columns, in order.
    pub fn columns(&self) -> &[ColumnPlan] {
        &self.columns
    }

    /// Returns whether any column is masked. When none is, rows can be relayed unchanged.
    pub fn masks_any(&self) -> bool {
        self.columns.iter().any(|column| column.mask.is_some())
    }

    /// Appends the masked form of a DataRow body (the bytes after the type byte and
    /// length: an i16 column count, then per column an i32 length, -1 for NULL, and
    /// that many bytes) to `out`. The caller frames it as a message.
    ///
    /// Fails when the body is malformed, its column count differs from the plan, or a
    /// masked value does not decode. `out` is then left as it was.
    pub fn mask_data_row(&self, body: &[u8], out: &mut BytesMut) -> Result<(), MaskError> {
        let start = out.len();
        let result = rewrite_tuple("DataRow", &self.columns, body, out).and_then(|consumed| {
            if consumed == body.len() {
                Ok(())
            } else {
                Err(MaskError::Malformed {
                    message: "DataRow",
                    reason: "trailing bytes after the last column",
                    offset: consumed,
                })
            }
        });
        if result.is_err() {
            out.truncate(start);
        }
        result
    }
}

/// Rewrites one tuple (i16 field count, then fields) at the start of `input` and
/// returns the number of bytes read. Used by DataRow and binary COPY, which share the
/// layout. Leaves partial output on error; callers truncate.
pub(crate) fn rewrite_tuple(
    message: &'static str,
    columns: &[ColumnPlan],
    input: &[u8],
    out: &mut BytesMut,
) -> Result<usize, MaskError> {
    let mut reader = FieldReader {
        message,
        input,
        offset: 0,
    };
    let count = reader.i16("missing column count")?;
    let count = usize::try_from(count).map_err(|_| reader.malformed("negative column count"))?;
    if count != columns.len() {
        return Err(MaskError::ColumnCount {
            message,
            expected: columns.len(),
            found: count,
        });
    }
    out.put_i16(count as i16);

    for column in columns {
        let value = reader.field()?;
        match &column.mask {
            None => match value {
                None => out.put_i32(-1),
                Some(bytes) => {
                    // Fields were read with an i32 length, so the length fits.
                    out.put_i32(bytes.len() as i32);
                    out.put_slice(bytes);
                }
            },
            Some(mask) => put_masked_field(
                mask.method,
                mask.key.as_ref(),
                column.type_oid,
                column.format,
                value,
                out,
            )?,
        }
    }
    Ok(reader.offset)
}

/// Reads protocol fields, checking every length against the remaining input before
/// using it, so a peer cannot make it read out of bounds or allocate.
pub(crate) struct FieldReader<'a> {
    pub(crate) message: &'static str,
    pub(crate) input: &'a [u8],
    pub(crate) offset: usize,
}

impl<'a> FieldReader<'a> {
    pub(crate) fn malformed(&self, reason: &'static str) -> MaskError {
        MaskError::Malformed {
            message: self.message,
            reason,
            offset: self.offset,
        }
    }

    fn take(&mut self, length: usize, reason: &'static str) -> Result<&'a [u8], MaskError> {
        let end = self
            .offset
            .checked_add(length)
            .ok_or_else(|| self.malformed(reason))?;
        let bytes = self
            .input
            .get(self.offset..end)
            .ok_or_else(|| self.malformed(reason))?;
        self.offset = end;
        Ok(bytes)
    }

    pub(crate) fn i16(&mut self, reason: &'static str) -> Result<i16, MaskError> {
        let bytes: [u8; 2] = self
            .take(2, reason)?
            .try_into()
            .map_err(|_| self.malformed(reason))?;
        Ok(i16::from_be_bytes(bytes))
    }

    pub(crate) fn i32(&mut self, reason: &'static str) -> Result<i32, MaskError> {
        let bytes: [u8; 4] = self
            .take(4, reason)?
            .try_into()
            .map_err(|_| self.malformed(reason))?;
        Ok(i32::from_be_bytes(bytes))
    }

    /// Reads one field: an i32 length (-1 for NULL) and that many bytes.
    pub(crate) fn field(&mut self) -> Result<Option<&'a [u8]>, MaskError> {
        let length = self.i32("missing field length")?;
        if length == -1 {
            return Ok(None);
        }
        let length = usize::try_from(length)
            .map_err(|_| self.malformed("negative field length other than -1"))?;
        self.take(length, "field length exceeds the remaining bytes")
            .map(Some)
    }
}
