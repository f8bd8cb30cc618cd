//! The masking methods a policy can assign to a column.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::MaskError;
use crate::types::{ColumnType, PgType};

/// Masking method of one result column.
///
/// In a configuration or policy file the unit methods are plain strings and `partial`
/// is a table, for example in TOML:
///
/// ```toml
/// ssn = "redact"
/// phone = { partial = { keep_last = 4 } }
/// ```
///
/// [`MaskMethod::check_type`] returns which types each method supports. The crate
/// documentation has the whole table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaskMethod {
    /// Replaces a character value with [`crate::REDACTED`]; a `character(n)` value
    /// becomes `n` asterisks so its declared width is kept.
    Redact,
    /// Keeps at most the last `keep_last` characters and never more than half of the
    /// value. The hidden part becomes four asterisks whatever its length, so the output
    /// does not reveal the length. A `character(n)` value keeps its width instead,
    /// because the width is public in the column type.
    Partial {
        /// Maximum number of trailing characters shown.
        keep_last: u8,
    },
    /// Replaces the value with a keyed pseudonym: HMAC-SHA256 under the column's
    /// [`crate::MaskKey`] over the value's canonical text, so equal values give equal
    /// tokens and results can still be joined and grouped.
    Token,
    /// Generalizes a date or timestamp to January 1 of its year, in the same type.
    Year,
    /// Reduces a US ZIP code to its first three digits, or to `000` where HIPAA Safe
    /// Harbor requires it.
    Zip3,
    /// Replaces the value with SQL NULL. Supported for every type.
    Null,
}

impl MaskMethod {
    /// Checks that the method can produce a valid value of `column_type` in both the
    /// text and the binary format. Returns [`MaskError::Unsupported`] otherwise, so the
    /// policy layer can deny the statement instead of sending a value clients cannot
    /// parse.
    pub fn check_type(self, column_type: ColumnType) -> Result<(), MaskError> {
        if self.supports(column_type) {
            Ok(())
        } else {
            Err(MaskError::Unsupported {
                method: self,
                column_type,
            })
        }
    }

    /// Returns whether the method supports `column_type`, as [`MaskMethod::check_type`]
    /// checks.
    pub fn supports(self, column_type: ColumnType) -> bool {
        let ColumnType::Known(pg_type) = column_type else {
            return self == MaskMethod::Null;
        };
        match self {
            MaskMethod::Null => true,
            MaskMethod::Redact | MaskMethod::Partial { .. } | MaskMethod::Zip3 => {
                pg_type.is_character()
            }
            MaskMethod::Token => {
                pg_type.is_character()
                    || matches!(
                        pg_type,
                        PgType::Int4 | PgType::Int8 | PgType::Numeric | PgType::Uuid
                    )
            }
            MaskMethod::Year => {
                matches!(
                    pg_type,
                    PgType::Date | PgType::Timestamp | PgType::Timestamptz
                )
            }
        }
    }

    /// Returns whether the method needs a key ([`MaskMethod::Token`] only).
    pub fn needs_key(self) -> bool {
        self == MaskMethod::Token
    }

    /// All methods, with `Partial` keeping 4 characters, for tables and tests.
    pub const ALL: [MaskMethod; 6] = [
        MaskMethod::Redact,
        MaskMethod::Partial { keep_last: 4 },
        MaskMethod::Token,
        MaskMethod::Year,
        MaskMethod::Zip3,
        MaskMethod::Null,
    ];
}

/// Writes the short form that [`FromStr`] reads: `redact`, `partial:4`, `token`,
/// `year`, `zip3` or `null`.
impl fmt::Display for MaskMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MaskMethod::Redact => f.write_str("redact"),
            MaskMethod::Partial { keep_last } => write!(f, "partial:{keep_last}"),
            MaskMethod::Token => f.write_str("token"),
            MaskMethod::Year => f.write_str("year"),
            MaskMethod::Zip3 => f.write_str("zip3"),
            MaskMethod::Null => f.write_str("null"),
        }
    }
}

/// Error from parsing the short form of a [`MaskMethod`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid mask method `{input}`: expected redact, partial:N (N from 0 to 255), token, \
     year, zip3 or null"
)]
pub struct ParseMaskMethodError {
    input: String,
}

impl FromStr for MaskMethod {
    type Err = ParseMaskMethodError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let invalid = || ParseMaskMethodError {
            input: input.to_string(),
        };
        let trimmed = input.trim();
        if let Some(count) = trimmed.strip_prefix("partial:") {
            let keep_last = count.trim().parse::<u8>().map_err(|_| invalid())?;
            return Ok(MaskMethod::Partial { keep_last });
        }
        match trimmed {
            "redact" => Ok(MaskMethod::Redact),
            "token" => Ok(MaskMethod::Token),
            "year" => Ok(MaskMethod::Year),
            "zip3" => Ok(MaskMethod::Zip3),
            "null" => Ok(MaskMethod::Null),
            _ => Err(invalid()),
        }
    }
}
