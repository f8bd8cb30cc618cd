//! Masks and row caps applied to one result on its way to the client.
//!
//! A [`RowFilter`] is built from the statement's [`StatementRestriction`]
//! when a result starts: at its RowDescription (simple Query, or the reply
//! to a Describe before an Execute) or at its CopyOutResponse. It then
//! receives each DataRow or CopyData message of that result. A masked message is
//! rewritten straight into the client's output buffer, so masking needs no
//! buffer of its own. Unrestricted results use [`RowFilter::Pass`], and
//! their rows stream through the relay byte-exact without reaching a filter.
//!
//! Any error means the result does not fit the policy decision, and the
//! relay withholds the rest of it.

use bytes::{BufMut, BytesMut};
use portcullis_mask::{CopyColumn, CopyMasker, MaskError, RowMasker};

use crate::codec::{CopyResponse, Format, Frame, SqlState};
use crate::extended::Rewrite;
use crate::restriction::{CopyFormat, StatementRestriction};

/// Length of the binary COPY file header without its extension area:
/// signature (11 bytes), flags field and extension length (4 bytes each).
const BINARY_COPY_HEADER_LEN: usize = 19;
/// The binary COPY trailer, a field count of -1.
const BINARY_COPY_TRAILER: [u8; 2] = [0xff, 0xff];

/// Treatment of the DataRow and CopyData messages of one result.
pub(crate) enum RowFilter {
    /// Forward unchanged, uncounted: the fast path.
    Pass,
    /// Forward unchanged, counting rows against a cap.
    Count { cap: u64, sent: u64 },
    /// Mask each row, and count it when there is a cap.
    Mask {
        masker: RowMasker,
        cap: Option<u64>,
        sent: u64,
    },
    /// Mask or count the CopyData of `COPY … TO STDOUT`.
    Copy(Box<CopyFilter>),
    /// Drop rows: the client already got the error that ended this result.
    Discard,
    /// Withhold the first row that arrives: the gateway does not know the
    /// result's columns, so it cannot apply the restriction to them.
    Unexpected,
}

/// Handling of a DataRow or CopyData message in the relay's receive pipe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RowMode {
    /// Stream it through unchanged.
    Pass,
    /// Report its start to the relay, which passes or skips it as a stream.
    Announce,
    /// Buffer it whole and hand it to the relay.
    Whole,
    /// Drop its bytes as they arrive.
    Skip,
}

impl RowFilter {
    /// Builds the filter for rows described by a RowDescription, given as
    /// (type OID, format code) per column. `restriction` is `None` when the
    /// policy decision has no entry for the statement.
    pub(crate) fn for_rows(
        restriction: Option<&StatementRestriction>,
        columns: &[(u32, i16)],
    ) -> Result<RowFilter, Rewrite> {
        let restriction = restriction.ok_or_else(missing_statement)?;
        check_shape(restriction, columns.len())?;
        if !restriction.masks_any() {
            return Ok(match restriction.max_rows {
                Some(cap) => RowFilter::Count { cap, sent: 0 },
                None => RowFilter::Pass,
            });
        }

        let mut plan = restriction.columns.clone();
        plan.resize(columns.len(), None);
        let masker =
            RowMasker::from_description(plan, columns).map_err(|error| unmaskable(&error))?;
        Ok(RowFilter::Mask {
            masker,
            cap: restriction.max_rows,
            sent: 0,
        })
    }

    /// Builds the filter for the CopyData that follows a CopyOutResponse.
    pub(crate) fn for_copy(
        restriction: Option<&StatementRestriction>,
        response: &CopyResponse,
    ) -> Result<RowFilter, Rewrite> {
        let restriction = restriction.ok_or_else(missing_statement)?;
        let count = response.column_formats.len();
        check_shape(restriction, count)?;
        let binary = response.format == Format::Binary;
        let header_row = restriction.copy.as_ref().is_some_and(|options| {
            matches!(
                options.format,
                CopyFormat::Text { header: true, .. } | CopyFormat::Csv { header: true, .. }
            )
        });

        let masker = if restriction.masks_any() {
            Some(copy_masker(restriction, binary, count)?)
        } else {
            None
        };
        if masker.is_none() && restriction.max_rows.is_none() {
            return Ok(RowFilter::Pass);
        }
        Ok(RowFilter::Copy(Box::new(CopyFilter {
            masker,
            cap: restriction.max_rows,
            sent: 0,
            binary,
            first: true,
            header_row,
        })))
    }

    /// Returns how the receive pipe handles this result's rows.
    pub(crate) fn mode(&self) -> RowMode {
        match self {
            RowFilter::Pass => RowMode::Pass,
            RowFilter::Count { .. } | RowFilter::Unexpected => RowMode::Announce,
            RowFilter::Mask { .. } | RowFilter::Copy(_) => RowMode::Whole,
            RowFilter::Discard => RowMode::Skip,
        }
    }

    /// Admits a row that is about to stream through unchanged.
    pub(crate) fn admit_streamed(&mut self) -> Result<(), Rewrite> {
        match self {
            RowFilter::Count { cap, sent } => count_row(Some(*cap), sent),
            RowFilter::Unexpected => Err(unexpected_rows()),
            _ => Ok(()),
        }
    }

    /// Appends the filtered form of a whole DataRow or CopyData message to
    /// `out`. On error `out` is left as it was.
    pub(crate) fn write_row(&mut self, frame: &Frame, out: &mut BytesMut) -> Result<(), Rewrite> {
        match self {
            RowFilter::Pass => {
                out.extend_from_slice(frame.as_bytes());
                Ok(())
            }
            RowFilter::Count { cap, sent } => {
                count_row(Some(*cap), sent)?;
                out.extend_from_slice(frame.as_bytes());
                Ok(())
            }
            RowFilter::Mask { masker, cap, sent } => {
                count_row(*cap, sent)?;
                put_message(out, frame.tag(), |out| {
                    masker.mask_data_row(frame.body(), out)
                })
                .map_err(|error| unmaskable_row(*sent, &error))
            }
            RowFilter::Copy(copy) => copy.write(frame, out),
            RowFilter::Discard => Ok(()),
            RowFilter::Unexpected => Err(unexpected_rows()),
        }
    }

    /// Returns the number of rows sent so far, for error messages.
    pub(crate) fn sent(&self) -> u64 {
        match self {
            RowFilter::Count { sent, .. } | RowFilter::Mask { sent, .. } => *sent,
            RowFilter::Copy(copy) => copy.sent,
            RowFilter::Pass | RowFilter::Discard | RowFilter::Unexpected => 0,
        }
    }
}

/// Masking and counting state of one `COPY … TO STDOUT`. The server sends
/// each row in a CopyData message of its own (protocol chapter, "COPY
/// Operations"), so counting messages counts rows, except for the header
/// line of the text and CSV formats and the trailer of the binary format.
pub(crate) struct CopyFilter {
    masker: Option<CopyMasker>,
    cap: Option<u64>,
    sent: u64,
    binary: bool,
    /// The next message is the first of the stream.
    first: bool,
    /// The first message is a header line (text or CSV with `HEADER`).
    header_row: bool,
}

impl CopyFilter {
    fn write(&mut self, frame: &Frame, out: &mut BytesMut) -> Result<(), Rewrite> {
        let data = frame.body();
        if self.holds_row(data) {
            count_row(self.cap, &mut self.sent)?;
        }
        match &mut self.masker {
            None => {
                out.extend_from_slice(frame.as_bytes());
                Ok(())
            }
            Some(masker) => put_message(out, frame.tag(), |out| masker.mask_copy_data(data, out))
                .map_err(|error| unmaskable_row(self.sent, &error)),
        }
    }

    /// Returns whether a CopyData payload contains a row. In binary format
    /// the file header comes in the first message, together with the first
    /// row or, for an empty result, the trailer.
    fn holds_row(&mut self, data: &[u8]) -> bool {
        let first = std::mem::replace(&mut self.first, false);
        if !self.binary {
            return !(first && self.header_row);
        }
        let rest = if first {
            data.get(binary_header_len(data)..).unwrap_or_default()
        } else {
            data
        };
        !rest.is_empty() && rest != BINARY_COPY_TRAILER
    }
}

/// Returns the length of the binary COPY file header at the start of `data`,
/// extension area included, or the whole length when `data` is shorter.
fn binary_header_len(data: &[u8]) -> usize {
    let extension = data
        .get(BINARY_COPY_HEADER_LEN - 4..BINARY_COPY_HEADER_LEN)
        .and_then(|bytes| <[u8; 4]>::try_from(bytes).ok())
        .map(|bytes| u32::from_be_bytes(bytes) as usize)
        .unwrap_or(0);
    BINARY_COPY_HEADER_LEN
        .saturating_add(extension)
        .min(data.len())
}

fn copy_masker(
    restriction: &StatementRestriction,
    binary: bool,
    count: usize,
) -> Result<CopyMasker, Rewrite> {
    let options = restriction.copy.as_ref().ok_or_else(|| {
        policy_error(
            "result withheld because the policy decision masks this COPY but gives no COPY \
             options, which the gateway needs to parse the data"
                .to_owned(),
        )
    })?;
    if matches!(options.format, CopyFormat::Binary) != binary {
        return Err(shape_mismatch(
            "the server sends the COPY data in another format than the decision names".to_owned(),
        ));
    }
    if options.column_types.len() != count {
        return Err(shape_mismatch(format!(
            "the COPY output has {count} columns but the decision gives the types of {}",
            options.column_types.len()
        )));
    }

    let mut plan = restriction.columns.clone();
    plan.resize(count, None);
    let columns = plan
        .into_iter()
        .zip(&options.column_types)
        .map(|(mask, &type_oid)| CopyColumn { mask, type_oid })
        .collect();
    CopyMasker::new(options.format.clone(), columns).map_err(|error| unmaskable(&error))
}

/// Checks a result's column count against the restriction.
fn check_shape(restriction: &StatementRestriction, found: usize) -> Result<(), Rewrite> {
    let listed = restriction.columns.len();
    if found == listed || (found > listed && restriction.open_ended) {
        return Ok(());
    }
    let expected = if restriction.open_ended {
        format!("at least {listed}")
    } else {
        listed.to_string()
    };
    Err(shape_mismatch(format!(
        "the result has {found} columns but the decision lists {expected}"
    )))
}

/// Counts one row against the cap.
fn count_row(cap: Option<u64>, sent: &mut u64) -> Result<(), Rewrite> {
    if let Some(cap) = cap {
        if *sent >= cap {
            return Err(cap_exceeded(cap));
        }
    }
    *sent += 1;
    Ok(())
}

/// Appends a message of type `tag` whose body `body` writes, then sets its
/// length field. On error `out` is left as it was.
fn put_message(
    out: &mut BytesMut,
    tag: u8,
    body: impl FnOnce(&mut BytesMut) -> Result<(), MaskError>,
) -> Result<(), MaskError> {
    let start = out.len();
    out.put_u8(tag);
    out.put_i32(0);
    let written = body(out).and_then(|()| {
        let length = out.len() - start - 1;
        i32::try_from(length).map_err(|_| MaskError::Malformed {
            message: "masked message",
            reason: "longer than the protocol's 2 GiB message limit",
            offset: length,
        })
    });
    match written {
        Ok(length) => {
            if let Some(slot) = out.get_mut(start + 1..start + 5) {
                slot.copy_from_slice(&length.to_be_bytes());
            }
            Ok(())
        }
        Err(error) => {
            out.truncate(start);
            Err(error)
        }
    }
}

/// The error that replaces the rows of a result over the row cap.
pub(crate) fn cap_exceeded(cap: u64) -> Rewrite {
    Rewrite {
        code: SqlState::PROGRAM_LIMIT_EXCEEDED,
        message: format!(
            "result exceeds the maximum of {cap} rows allowed for your role; add a LIMIT or \
             narrow the query"
        ),
    }
}

/// The error for a masked row too large to buffer.
pub(crate) fn row_too_large(sent: u64, max: usize) -> Rewrite {
    Rewrite {
        code: SqlState::PROGRAM_LIMIT_EXCEEDED,
        message: format!(
            "result withheld after {sent} rows because a row is larger than the gateway's \
             postgres.max_message_bytes of {max}, the maximum for a masked row; select fewer or \
             shorter columns"
        ),
    }
}

fn shape_mismatch(detail: String) -> Rewrite {
    policy_error(format!(
        "result shape does not match the policy decision: {detail}"
    ))
}

fn missing_statement() -> Rewrite {
    shape_mismatch("the decision has no entry for this statement of the query".to_owned())
}

fn unexpected_rows() -> Rewrite {
    shape_mismatch(
        "rows arrived for a statement whose result columns the server did not describe".to_owned(),
    )
}

fn unmaskable(error: &MaskError) -> Rewrite {
    policy_error(format!(
        "result withheld because the policy's masks cannot be applied to it: {error}"
    ))
}

fn unmaskable_row(sent: u64, error: &MaskError) -> Rewrite {
    policy_error(format!(
        "result withheld after {sent} rows because a row could not be masked: {error}"
    ))
}

fn policy_error(message: String) -> Rewrite {
    Rewrite {
        code: SqlState::INSUFFICIENT_PRIVILEGE,
        message,
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use portcullis_mask::{ColumnMask, MaskMethod};

    use super::*;

    fn restriction(
        columns: Vec<Option<ColumnMask>>,
        max_rows: Option<u64>,
    ) -> StatementRestriction {
        StatementRestriction {
            columns,
            open_ended: false,
            max_rows,
            copy: None,
        }
    }

    fn data_row(values: &[&[u8]]) -> Frame {
        let mut body = BytesMut::new();
        body.put_i16(values.len() as i16);
        for value in values {
            body.put_i32(value.len() as i32);
            body.put_slice(value);
        }
        Frame::new(b'D', &body).expect("frame")
    }

    #[test]
    fn masked_row_rewritten_with_new_length() {
        let redact = Some(ColumnMask::new(MaskMethod::Redact, None));
        let restriction = restriction(vec![None, redact], None);
        let mut filter =
            RowFilter::for_rows(Some(&restriction), &[(23, 0), (25, 0)]).expect("filter");
        assert_eq!(filter.mode(), RowMode::Whole);

        let mut out = BytesMut::new();
        filter
            .write_row(&data_row(&[b"42", b"a rather long secret"]), &mut out)
            .expect("masked");
        let expected = data_row(&[b"42", portcullis_mask::REDACTED.as_bytes()]);
        assert_eq!(out.freeze(), Bytes::copy_from_slice(expected.as_bytes()));
    }

    #[test]
    fn column_count_mismatch_rejected() {
        let restriction = restriction(vec![None, None], None);
        let error = RowFilter::for_rows(Some(&restriction), &[(23, 0)])
            .err()
            .expect("mismatch");
        assert_eq!(error.code, SqlState::INSUFFICIENT_PRIVILEGE);
        assert!(
            error.message.contains("does not match"),
            "{}",
            error.message
        );
    }

    #[test]
    fn open_ended_plan_accepts_extra_columns() {
        let mut restriction = restriction(vec![None], Some(5));
        restriction.open_ended = true;
        let filter = RowFilter::for_rows(Some(&restriction), &[(23, 0), (25, 0)]).expect("filter");
        assert_eq!(filter.mode(), RowMode::Announce);
    }

    #[test]
    fn cap_allows_exactly_max_rows() {
        let restriction = restriction(vec![None], Some(2));
        let mut filter = RowFilter::for_rows(Some(&restriction), &[(23, 0)]).expect("filter");
        assert!(filter.admit_streamed().is_ok());
        assert!(filter.admit_streamed().is_ok());
        let error = filter.admit_streamed().expect_err("third row over the cap");
        assert_eq!(error.code, SqlState::PROGRAM_LIMIT_EXCEEDED);
    }

    #[test]
    fn unsupported_mask_rejected_before_rows() {
        let year = Some(ColumnMask::new(MaskMethod::Year, None));
        let restriction = restriction(vec![year], None);
        assert!(RowFilter::for_rows(Some(&restriction), &[(25, 0)]).is_err());
    }

    #[test]
    fn binary_copy_trailer_not_counted() {
        let mut copy = CopyFilter {
            masker: None,
            cap: None,
            sent: 0,
            binary: true,
            first: true,
            header_row: false,
        };
        let mut header_and_trailer = b"PGCOPY\n\xff\r\n\0".to_vec();
        header_and_trailer.extend_from_slice(&[0; 8]);
        header_and_trailer.extend_from_slice(&BINARY_COPY_TRAILER);
        assert!(!copy.holds_row(&header_and_trailer));
        assert!(copy.holds_row(&[0, 1, 0, 0, 0, 1, b'x']));
        assert!(!copy.holds_row(&BINARY_COPY_TRAILER));
    }
}
