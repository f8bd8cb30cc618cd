//! Policy decisions for the gateway: Cedar policies per statement kind, table
//! and column, per-column masks, guardrails and explanations.
//!
//! Flow: [`PolicyEngine::load`] reads a policy directory ([`load`] describes
//! the layout) and validates the policies against the built-in Cedar schema
//! ([`CEDAR_SCHEMA`]) in strict mode. It builds the resource entities of every
//! target from the PHI catalogs and the relation lists the caller read from
//! the databases. [`PolicyEngine::session`] adds the user's entities once
//! per session; [`SessionPolicy::decide`] then analyzes a query message with
//! portcullis-sql and decides each statement:
//!
//! 1. statement-level actions on the target (`session_setting`, `do_block`,
//!    `copy_program`, ...) and the settings no client may change;
//! 2. one per-relation action per kind of access (`select`, `insert`, ...);
//!    relations read only through a view are covered by the view's check;
//! 3. `call_function` for the guarded functions of [`GUARDED_FUNCTIONS`] and
//!    the target's user-defined functions ([`TargetTables::functions`]);
//! 4. `read` for every column used anywhere but as a write target. A permit
//!    with `@mask("method")` lets the column reach results only masked. When
//!    every determining permit has a mask, the most revealing one applies
//!    (partial, then year, zip3, token, redact, null). A masked column used
//!    anywhere but as a plain result column denies the statement;
//! 5. result columns: passthrough columns take their base column's mask,
//!    computed columns over masked or denied columns are denied;
//! 6. guardrails of the user's roles.
//!
//! Any Cedar evaluation error denies the check it occurred in (fail closed).
//! Every [`Decision`] carries its reason, the determining policy ids, the
//! errors, the mask plan and the policy set hash; [`SessionPolicy::explain`]
//! returns the same evaluation with every check.
//!
//! Module map: `action` (actions and statement kinds), `function` (guarded
//! built-in and user-defined functions), `setting` (protected settings),
//! `catalog` and `discover` (PHI catalogs), `guardrail`, `tables` (target
//! relations and functions), `entities`,
//! `load` (policy directory → snapshot), `engine` (reload), `session` (caches),
//! `evaluate` (the checks), `decision`, `explain`.

#![deny(unsafe_code)]
#![warn(missing_docs)]
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod action;
mod catalog;
mod context;
mod decision;
mod discover;
mod engine;
mod entities;
mod error;
mod evaluate;
mod explain;
mod function;
mod guardrail;
pub mod load;
mod session;
mod setting;
mod slice;
mod tables;

pub use action::{kind_tag, Action};
pub use catalog::{phi_category_name, phi_category_names, PhiCatalog};
pub use context::RequestContext;
pub use decision::{Decision, DenyReason, MaskPlan, MaskedColumn, MessageDecision, Outcome};
pub use discover::{
    discover, ColumnSample, ProposedCatalog, ProposedColumn, ProposedFromValues, TableSample,
};
pub use engine::{PolicyEngine, ReloadReport};
pub use entities::Principal;
pub use error::{LoadError, PolicyIssue, SessionError};
pub use explain::{
    CheckResult, ColumnCheck, ColumnStatus, Explanation, FunctionCheck, MessageExplanation,
    OutputCheck, TableCheck, TableStatus, TargetCheck,
};
pub use function::{guarded_function, FunctionGroup, GUARDED_FUNCTIONS};
pub use guardrail::{GuardrailRule, GuardrailSet, Guardrails};
pub use load::{PolicySnapshot, PolicySources, CEDAR_SCHEMA};
pub use session::{SessionPolicy, ANALYSIS_CACHE_CAPACITY, DECISION_CACHE_CAPACITY};
pub use tables::{FunctionDef, TableDef, TargetTables};
