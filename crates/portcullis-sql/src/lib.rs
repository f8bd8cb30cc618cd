//! Statement analysis for the PostgreSQL front end.
//!
//! [`analyze`] parses a message with PostgreSQL's own parser (libpg_query,
//! PostgreSQL 18 grammar) and returns one [`StatementFacts`] per statement.
//! The facts give its [`StatementKind`], the relations it touches and how,
//! every base-table column it uses and where ([`ColumnUsage`]), and the
//! functions it calls. They also give the origin of each result column's
//! values ([`OutputColumn`]), which the masker uses to mask DataRow values by
//! position.
//!
//! Names resolve as the server would resolve them for the session described by
//! [`AnalysisContext`]: the catalog, the search path, prepared statements and
//! cursors. Views are expanded from their definitions to base columns.
//!
//! The analysis fails closed: a parse error, an unknown or ambiguous name, or
//! any parse-tree node the walk does not handle returns an [`AnalysisError`],
//! and the gateway denies the message. This crate decides no policy.
//!
//! ```
//! use std::sync::Arc;
//! use portcullis_sql::{analyze, AnalysisContext, Catalog, ColumnUsage, OutputSource};
//!
//! let mut catalog = Catalog::new(1);
//! catalog.add_table("public", "patients", &["id", "mrn", "ssn"]);
//! let ctx = AnalysisContext::new(Arc::new(catalog), vec!["public".into()]);
//!
//! let facts = analyze("SELECT mrn AS record FROM patients WHERE ssn LIKE '9%'", &ctx).unwrap();
//! let ssn = facts[0].columns.iter().find(|c| c.column.column == "ssn").unwrap();
//! assert!(ssn.usages.contains(ColumnUsage::Filter));
//! assert!(matches!(&facts[0].output_columns[0].source, OutputSource::Passthrough { columns } if columns[0].column == "mrn"));
//! ```
//!
//! Module map: `parser` calls libpg_query, and `walk` turns the parse tree
//! into facts. Its files follow the grammar: `select`, `clauses`, `from`,
//! `join`, `view`, `expr`, `json`, `targets`, `dml`, `returning`, `utility`,
//! `settings`, `ddl`, while `scope` resolves column names and `builder` collects
//! the facts. `resolve` finds relations, `analyze` handles a whole message, and
//! `cache` keeps results per session.

#![deny(unsafe_code)]
#![warn(missing_docs)]
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod analyze;
mod cache;
mod context;
mod copy_options;
mod error;
mod facts;
mod kind;
// The only unsafe code: the FFI call into libpg_query.
#[allow(unsafe_code)]
mod parser;
mod resolve;
mod session;
mod system;
mod walk;

pub use analyze::analyze;
pub use cache::{StatementCache, MAX_CACHED_SQL_BYTES};
pub use context::{AnalysisContext, Catalog, RelationDef, ViewDefinition};
pub use copy_options::{copy_output_options, CopyDataFormat, CopyOptionsError, CopyOutputOptions};
pub use error::{without_statement_text, AnalysisError};
pub use facts::{
    Access, ByteRange, ColumnFacts, ColumnName, ColumnUsage, FunctionRef, OutputColumn,
    OutputSource, RelationAccess, RelationKind, RelationName, StatementFacts, UsageSet,
};
pub use kind::{
    CopyDirection, DdlAction, ObjectKind, SettingAction, StatementKind, TransactionAction,
};
pub use session::{session_effect, SessionEffect};
