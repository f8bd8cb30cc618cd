//! Masking of PostgreSQL result values, and PHI detectors for catalog discovery.
//!
//! The policy layer decides which column gets which [`MaskMethod`]; this crate applies
//! the methods to values in the text and binary formats of the PostgreSQL protocol:
//! one value ([`mask_value`]), a whole DataRow ([`RowMasker`]) or the CopyData stream of
//! `COPY … TO STDOUT` ([`CopyMasker`]). It has no notion of sessions or policy.
//!
//! # Methods and types
//!
//! Every supported pair produces a valid value of the column's own type in both
//! formats, so psql, JDBC, asyncpg and other drivers parse masked results like real
//! ones. Every other pair returns [`MaskError::Unsupported`] when the plan is built, and
//! the policy layer must deny the statement or choose another method: the crate never
//! guesses a substitute.
//!
//! | type                                | redact | partial | token | year | zip3 | null |
//! |-------------------------------------|--------|---------|-------|------|------|------|
//! | `text`, `varchar`, `name`           | yes    | yes     | yes   | –    | yes  | yes  |
//! | `character(n)`                      | yes¹   | yes¹    | yes¹  | –    | yes¹ | yes  |
//! | `smallint`                          | –      | –       | –²    | –    | –    | yes  |
//! | `integer`, `bigint`                 | –      | –       | yes   | –    | –    | yes  |
//! | `numeric`                           | –      | –       | yes   | –    | –    | yes  |
//! | `date`, `timestamp`, `timestamptz`  | –      | –       | –³    | yes  | –    | yes  |
//! | `boolean`                           | –      | –       | –     | –    | –    | yes  |
//! | `uuid`                              | –      | –       | yes   | –    | –    | yes  |
//! | any other type OID                  | –      | –       | –     | –    | –    | yes  |
//!
//! 1. `character(n)` output keeps the declared width `n`: `redact` writes `n`
//!    asterisks, `partial` masks in place and keeps the padding, `token` and `zip3`
//!    pad with spaces (a token is longer than `n` when `n` < 20).
//! 2. A token in 15 bits would collide after a few hundred values.
//! 3. A pseudo-random date looks real and could be acted on; use `year` or `null`.
//!
//! `redact` has no numeric, date or boolean form on purpose: any placeholder (0,
//! 1900-01-01, false) would be a plausible real value. `null` is the choice there.
//!
//! Outputs, by method:
//! - `redact`: [`REDACTED`].
//! - `partial`: four asterisks, then at most `keep_last` trailing characters and never
//!   more than half the value (`900-12-3456` with `keep_last = 4` gives `****3456`;
//!   `12` gives `****2`). The length is not preserved, because it can identify.
//! - `token`: see [`MaskMethod::Token`] and [`TOKEN_PREFIX`]; for example
//!   `tok_` and 16 base32 characters for strings, a non-negative integer for
//!   `integer`, `bigint` and `numeric`, a version-8 UUID for `uuid`.
//! - `year`: `1984-03-15` becomes `1984-01-01`; timestamps become January 1, 00:00, and
//!   `timestamptz` January 1, 12:00 so the year survives time-zone conversion in the
//!   client. Text values must be in the ISO DateStyle (the PostgreSQL default, and
//!   what JDBC requires).
//! - `zip3`: the first three digits (`02139` gives `021`), or `000` for the restricted
//!   prefixes in [`RESTRICTED_ZIP3_PREFIXES`] and for values that are not US ZIP codes.
//!   The output has three digits, as 45 CFR 164.514(b)(2)(i)(B) words it, not five.
//! - `null`: SQL NULL.
//!
//! NULL input stays NULL for every method.
//!
//! # COPY
//!
//! [`CopyMasker`] handles the text, CSV and binary formats of `COPY … TO STDOUT`. The
//! caller supplies the options from the analyzed statement, because the protocol does
//! not carry them.

#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod copy;
mod datetime;
pub mod detect;
mod error;
mod int;
mod key;
mod method;
mod numeric;
mod row;
mod text;
mod token;
mod types;
mod value;
pub mod zip;

pub use copy::{CopyColumn, CopyFormat, CopyMasker};
pub use detect::{
    classify_column_name, classify_value, classify_values, PhiCategory, ValueClassification,
};
pub use error::MaskError;
pub use key::MaskKey;
pub use method::{MaskMethod, ParseMaskMethodError};
pub use row::{ColumnMask, ColumnPlan, RowMasker};
pub use text::{MASK_CHAR, PARTIAL_MASK_LEN, REDACTED};
pub use token::{STRING_TOKEN_LEN, TOKEN_PREFIX};
pub use types::{oid, ColumnType, Format, PgType};
pub use value::mask_value;
pub use zip::{zip3, RESTRICTED_ZIP3_PREFIXES};
