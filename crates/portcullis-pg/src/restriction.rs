//! Conditions on the results of a permitted statement: column masks, a row
//! cap, and the COPY options that masking a COPY stream needs. A
//! [`StatementCheck`](crate::StatementCheck) returns them in
//! [`Verdict::Restrict`](crate::Verdict::Restrict), and the relay applies them
//! to the rows on their way to the client.

pub use portcullis_mask::{ColumnMask, CopyFormat, MaskKey, MaskMethod};

/// Conditions on the results of one client message, one entry per statement.
#[derive(Clone, Debug)]
pub struct Restrictions {
    /// One entry per statement of the message, in order. A simple Query may
    /// contain several statements, while a Parse and an Execute have one. A
    /// statement without an entry is treated as one whose result shape does
    /// not match, so its rows are withheld.
    pub statements: Vec<StatementRestriction>,
}

impl Restrictions {
    /// Returns the conditions of the statement at `position` (0-based).
    pub fn statement(&self, position: usize) -> Option<&StatementRestriction> {
        self.statements.get(position)
    }

    /// Returns whether any statement has a condition the relay must check.
    /// A message without statement entries counts as restricted, because
    /// any result it produces is withheld.
    pub(crate) fn restricts_anything(&self) -> bool {
        self.statements.is_empty()
            || self
                .statements
                .iter()
                .any(|statement| !statement.is_unrestricted())
    }
}

/// Conditions on the result of one statement.
///
/// [`StatementRestriction::default`] restricts nothing, for a statement of a
/// multi-statement query that needs no masks.
#[derive(Clone, Debug)]
pub struct StatementRestriction {
    /// Mask of each result column by position, where `None` passes that
    /// column through unchanged. The masks apply to rows (DataRow, in the
    /// text or binary format) and to the columns of `COPY … TO STDOUT`.
    pub columns: Vec<Option<ColumnMask>>,
    /// Whether the result may have more columns than `columns` lists (a `*`
    /// over a relation of unknown width). The extra columns pass through.
    /// When false, a result with any other column count is withheld.
    pub open_ended: bool,
    /// Maximum number of rows the client may receive. Further rows are
    /// withheld and the statement fails with SQLSTATE 54000.
    pub max_rows: Option<u64>,
    /// Options of a `COPY … TO STDOUT` statement, needed to mask its data.
    pub copy: Option<CopyOptions>,
}

impl Default for StatementRestriction {
    fn default() -> Self {
        Self {
            columns: Vec::new(),
            open_ended: true,
            max_rows: None,
            copy: None,
        }
    }
}

impl StatementRestriction {
    /// Returns whether nothing about the result needs checking: no masks, no
    /// expected column count and no row cap.
    pub fn is_unrestricted(&self) -> bool {
        self.columns.is_empty() && self.open_ended && self.max_rows.is_none()
    }

    /// Returns whether any column is masked.
    pub fn masks_any(&self) -> bool {
        self.columns.iter().any(Option::is_some)
    }
}

/// Settings of a `COPY … TO STDOUT` that the relay needs to parse its data
/// and that the protocol does not carry. The caller takes them from the
/// analyzed statement.
#[derive(Clone, Debug)]
pub struct CopyOptions {
    /// Format, delimiter, NULL string, header, quote and escape.
    pub format: CopyFormat,
    /// Type OID of each column of the COPY output, in order. CopyOutResponse
    /// carries only format codes, and masks depend on the type.
    pub column_types: Vec<u32>,
}
