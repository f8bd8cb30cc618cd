//! The Cedar actions of the schema, and which ones a statement needs.

use std::fmt;

use portcullis_sql::{Access, StatementKind, TransactionAction};
use serde::Serialize;

/// One action of the `Portcullis` Cedar namespace. The names are the action ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Open a session on a target.
    Connect,
    /// Read rows of a relation.
    Select,
    /// Insert rows into a relation.
    Insert,
    /// Update rows of a relation.
    Update,
    /// Delete rows of a relation.
    Delete,
    /// TRUNCATE a relation.
    Truncate,
    /// Lock a relation or its rows.
    Lock,
    /// Create, alter or drop a relation or another object.
    Ddl,
    /// VACUUM, ANALYZE, CLUSTER, REINDEX, REFRESH MATERIALIZED VIEW.
    Maintain,
    /// GRANT or REVOKE.
    Grant,
    /// Use a column anywhere other than as a write target.
    Read,
    /// Call a guarded built-in function.
    CallFunction,
    /// Transaction control.
    Transaction,
    /// Two-phase commit statements.
    PreparedTransaction,
    /// SET, RESET, SHOW, DISCARD.
    SessionSetting,
    /// SET ROLE.
    SetRole,
    /// SET SESSION AUTHORIZATION.
    SetSessionAuthorization,
    /// ALTER SYSTEM.
    AlterSystem,
    /// LOAD.
    Load,
    /// CREATE EXTENSION.
    CreateExtension,
    /// COPY FROM/TO PROGRAM.
    CopyProgram,
    /// COPY FROM/TO a server file.
    CopyFile,
    /// DO.
    DoBlock,
    /// CALL.
    Call,
    /// LISTEN, UNLISTEN.
    Listen,
    /// NOTIFY.
    Notify,
    /// Other utility statements.
    Utility,
    /// PREPARE, EXECUTE, DEALLOCATE.
    PreparedStatement,
    /// DECLARE, FETCH, MOVE, CLOSE.
    Cursor,
    /// EXPLAIN.
    Explain,
}

impl Action {
    /// Every action, in declaration order; `Action as usize` indexes it.
    pub const ALL: [Action; 30] = [
        Action::Connect,
        Action::Select,
        Action::Insert,
        Action::Update,
        Action::Delete,
        Action::Truncate,
        Action::Lock,
        Action::Ddl,
        Action::Maintain,
        Action::Grant,
        Action::Read,
        Action::CallFunction,
        Action::Transaction,
        Action::PreparedTransaction,
        Action::SessionSetting,
        Action::SetRole,
        Action::SetSessionAuthorization,
        Action::AlterSystem,
        Action::Load,
        Action::CreateExtension,
        Action::CopyProgram,
        Action::CopyFile,
        Action::DoBlock,
        Action::Call,
        Action::Listen,
        Action::Notify,
        Action::Utility,
        Action::PreparedStatement,
        Action::Cursor,
        Action::Explain,
    ];

    /// Returns the action id in the Cedar schema.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Connect => "connect",
            Action::Select => "select",
            Action::Insert => "insert",
            Action::Update => "update",
            Action::Delete => "delete",
            Action::Truncate => "truncate",
            Action::Lock => "lock",
            Action::Ddl => "ddl",
            Action::Maintain => "maintain",
            Action::Grant => "grant",
            Action::Read => "read",
            Action::CallFunction => "call_function",
            Action::Transaction => "transaction",
            Action::PreparedTransaction => "prepared_transaction",
            Action::SessionSetting => "session_setting",
            Action::SetRole => "set_role",
            Action::SetSessionAuthorization => "set_session_authorization",
            Action::AlterSystem => "alter_system",
            Action::Load => "load",
            Action::CreateExtension => "create_extension",
            Action::CopyProgram => "copy_program",
            Action::CopyFile => "copy_file",
            Action::DoBlock => "do_block",
            Action::Call => "call",
            Action::Listen => "listen",
            Action::Notify => "notify",
            Action::Utility => "utility",
            Action::PreparedStatement => "prepared_statement",
            Action::Cursor => "cursor",
            Action::Explain => "explain",
        }
    }

    /// Returns the per-relation action for a kind of access.
    pub fn for_access(access: Access) -> Action {
        match access {
            Access::Read => Action::Select,
            Access::Insert => Action::Insert,
            Access::Update => Action::Update,
            Access::Delete => Action::Delete,
            Access::Truncate => Action::Truncate,
            Access::Lock => Action::Lock,
            Access::Ddl => Action::Ddl,
            Access::Maintain => Action::Maintain,
            Access::Grant => Action::Grant,
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Appends to `out` the actions on the target that a statement of this kind needs, besides the
/// per-relation, per-column and per-function actions. Wrappers (PREPARE,
/// EXECUTE, DECLARE, FETCH, EXPLAIN) need their own action and the wrapped
/// statement's.
///
/// `has_relation_access(access)` returns whether any relation of the statement
/// has that access. DDL, GRANT and maintenance statements that touch no
/// relation (CREATE FUNCTION, GRANT role TO user, VACUUM of the whole database)
/// are decided on the target instead.
pub(crate) fn target_actions(
    kind: &StatementKind,
    has_relation_access: &dyn Fn(Access) -> bool,
    out: &mut Vec<Action>,
) {
    let mut push = |action: Action| {
        if !out.contains(&action) {
            out.push(action);
        }
    };
    match kind {
        StatementKind::Select
        | StatementKind::Insert
        | StatementKind::Update
        | StatementKind::Delete
        | StatementKind::Merge
        | StatementKind::CopyFrom
        | StatementKind::CopyTo
        | StatementKind::Lock
        | StatementKind::Truncate => {}
        StatementKind::CopyProgram { .. } => push(Action::CopyProgram),
        StatementKind::CopyFile { .. } => push(Action::CopyFile),
        StatementKind::Ddl { .. } => {
            if !has_relation_access(Access::Ddl) {
                push(Action::Ddl);
            }
        }
        StatementKind::Grant { .. } | StatementKind::Revoke { .. } => {
            if !has_relation_access(Access::Grant) {
                push(Action::Grant);
            }
        }
        StatementKind::Vacuum | StatementKind::Analyze => {
            if !has_relation_access(Access::Maintain) {
                push(Action::Maintain);
            }
        }
        StatementKind::TransactionControl { action } => match action {
            TransactionAction::PrepareTransaction
            | TransactionAction::CommitPrepared
            | TransactionAction::RollbackPrepared => push(Action::PreparedTransaction),
            _ => push(Action::Transaction),
        },
        StatementKind::SessionSetting { .. } => push(Action::SessionSetting),
        StatementKind::SetRole => push(Action::SetRole),
        StatementKind::SetSessionAuthorization => push(Action::SetSessionAuthorization),
        StatementKind::AlterSystem { .. } => push(Action::AlterSystem),
        StatementKind::Load { .. } => push(Action::Load),
        StatementKind::CreateExtension { .. } => push(Action::CreateExtension),
        StatementKind::Call => push(Action::Call),
        StatementKind::DoBlock { .. } => push(Action::DoBlock),
        StatementKind::Prepare { statement, .. } | StatementKind::Execute { statement, .. } => {
            push(Action::PreparedStatement);
            target_actions(statement, has_relation_access, out);
        }
        StatementKind::Deallocate { .. } => push(Action::PreparedStatement),
        StatementKind::DeclareCursor { .. }
        | StatementKind::Fetch { .. }
        | StatementKind::CloseCursor { .. } => push(Action::Cursor),
        StatementKind::Explain { statement, .. } => {
            push(Action::Explain);
            target_actions(statement, has_relation_access, out);
        }
        StatementKind::Listen { .. } | StatementKind::Unlisten { .. } => push(Action::Listen),
        StatementKind::Notify { .. } => push(Action::Notify),
        // DISCARD resets session state, as RESET ALL does; drivers and pools send it.
        StatementKind::Utility { name } if name == "DISCARD" => push(Action::SessionSetting),
        StatementKind::Utility { .. } => push(Action::Utility),
    }
}

/// Returns the `type` tag of the statement kind, as portcullis-sql serializes
/// it. It is the `statement_kind` of the request context.
pub fn kind_tag(kind: &StatementKind) -> &'static str {
    match kind {
        StatementKind::Select => "select",
        StatementKind::Insert => "insert",
        StatementKind::Update => "update",
        StatementKind::Delete => "delete",
        StatementKind::Merge => "merge",
        StatementKind::CopyFrom => "copy_from",
        StatementKind::CopyTo => "copy_to",
        StatementKind::CopyProgram { .. } => "copy_program",
        StatementKind::CopyFile { .. } => "copy_file",
        StatementKind::Ddl { .. } => "ddl",
        StatementKind::Grant { .. } => "grant",
        StatementKind::Revoke { .. } => "revoke",
        StatementKind::TransactionControl { .. } => "transaction_control",
        StatementKind::SessionSetting { .. } => "session_setting",
        StatementKind::SetRole => "set_role",
        StatementKind::SetSessionAuthorization => "set_session_authorization",
        StatementKind::AlterSystem { .. } => "alter_system",
        StatementKind::Load { .. } => "load",
        StatementKind::CreateExtension { .. } => "create_extension",
        StatementKind::Call => "call",
        StatementKind::DoBlock { .. } => "do_block",
        StatementKind::Prepare { .. } => "prepare",
        StatementKind::Execute { .. } => "execute",
        StatementKind::Deallocate { .. } => "deallocate",
        StatementKind::DeclareCursor { .. } => "declare_cursor",
        StatementKind::Fetch { .. } => "fetch",
        StatementKind::CloseCursor { .. } => "close_cursor",
        StatementKind::Explain { .. } => "explain",
        StatementKind::Listen { .. } => "listen",
        StatementKind::Notify { .. } => "notify",
        StatementKind::Unlisten { .. } => "unlisten",
        StatementKind::Vacuum => "vacuum",
        StatementKind::Analyze => "analyze",
        StatementKind::Lock => "lock",
        StatementKind::Truncate => "truncate",
        StatementKind::Utility { .. } => "utility",
    }
}

/// Returns whether the kind, or a statement it wraps, reads a prepared statement or a
/// cursor of the session (EXECUTE, FETCH), so that its facts depend on session
/// state and its decision must not be cached by text.
pub(crate) fn reads_session_statements(kind: &StatementKind) -> bool {
    match kind {
        StatementKind::Execute { .. } | StatementKind::Fetch { .. } => true,
        StatementKind::Prepare { statement, .. } | StatementKind::Explain { statement, .. } => {
            reads_session_statements(statement)
        }
        _ => false,
    }
}
