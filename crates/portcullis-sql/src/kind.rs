//! Statement kinds.

use serde::Serialize;

/// The kind of a statement. Statements that wrap another one (`EXPLAIN`,
/// `PREPARE`, `EXECUTE`, `DECLARE`, `FETCH`) carry the inner statement's kind,
/// and their facts include the inner statement's relations and columns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StatementKind {
    /// SELECT, VALUES, TABLE.
    Select,
    /// INSERT.
    Insert,
    /// UPDATE.
    Update,
    /// DELETE.
    Delete,
    /// MERGE.
    Merge,
    /// `COPY table FROM STDIN`: rows from the client into a table.
    CopyFrom,
    /// `COPY table|(query) TO STDOUT`: rows to the client.
    CopyTo,
    /// `COPY ... FROM|TO PROGRAM`: runs a command on the database server.
    CopyProgram {
        /// Whether rows go into or out of the database.
        direction: CopyDirection,
        /// The shell command.
        command: String,
    },
    /// `COPY ... FROM|TO 'file'`: reads or writes a file on the database server.
    CopyFile {
        /// Whether rows go into or out of the database.
        direction: CopyDirection,
        /// The server-side path.
        path: String,
    },
    /// CREATE, ALTER or DROP of a schema object (also COMMENT, SECURITY LABEL,
    /// CREATE TABLE AS, SELECT INTO, REASSIGN/DROP OWNED).
    Ddl {
        /// Create, alter or drop.
        action: DdlAction,
        /// The kind of object.
        object: ObjectKind,
    },
    /// GRANT of privileges or role membership (also ALTER DEFAULT PRIVILEGES ... GRANT).
    Grant {
        /// The kind of object the privileges are on.
        object: ObjectKind,
    },
    /// REVOKE of privileges or role membership.
    Revoke {
        /// The kind of object the privileges are on.
        object: ObjectKind,
    },
    /// BEGIN, COMMIT, ROLLBACK, SAVEPOINT and the like.
    TransactionControl {
        /// The transaction statement.
        action: TransactionAction,
    },
    /// SET, RESET or SHOW of a run-time parameter other than the role.
    SessionSetting {
        /// Set, reset or show.
        action: SettingAction,
        /// The parameter, lower-case; `None` for RESET ALL and SHOW ALL.
        name: Option<String>,
        /// True for SET LOCAL, which lasts until the end of the transaction.
        local: bool,
    },
    /// SET ROLE or RESET ROLE.
    SetRole,
    /// SET SESSION AUTHORIZATION or RESET SESSION AUTHORIZATION.
    SetSessionAuthorization,
    /// ALTER SYSTEM, which writes postgresql.auto.conf.
    AlterSystem {
        /// The parameter, or `None` for ALTER SYSTEM RESET ALL.
        name: Option<String>,
    },
    /// LOAD of a shared library into the server process.
    Load {
        /// The library file.
        file: String,
    },
    /// CREATE EXTENSION.
    CreateExtension {
        /// The extension name.
        name: String,
    },
    /// CALL of a procedure.
    Call,
    /// DO: an anonymous code block, run on the server.
    DoBlock {
        /// The procedural language, `plpgsql` unless given.
        language: String,
    },
    /// SQL-level PREPARE; the facts describe the prepared statement.
    Prepare {
        /// The prepared statement name.
        name: String,
        /// The prepared statement's kind.
        statement: Box<StatementKind>,
    },
    /// SQL-level EXECUTE; the facts are those of the matching PREPARE.
    Execute {
        /// The prepared statement name.
        name: String,
        /// The prepared statement's kind.
        statement: Box<StatementKind>,
    },
    /// DEALLOCATE.
    Deallocate {
        /// The prepared statement name, or `None` for DEALLOCATE ALL.
        name: Option<String>,
    },
    /// DECLARE CURSOR; the facts describe the cursor's query.
    DeclareCursor {
        /// The cursor name.
        name: String,
    },
    /// FETCH or MOVE; the facts are those of the matching DECLARE.
    Fetch {
        /// The cursor name.
        cursor: String,
        /// True for MOVE, which returns no rows.
        is_move: bool,
    },
    /// CLOSE.
    CloseCursor {
        /// The cursor name, or `None` for CLOSE ALL.
        name: Option<String>,
    },
    /// EXPLAIN; the facts include the inner statement's relations and columns.
    Explain {
        /// True when ANALYZE is on, which executes the inner statement.
        analyze: bool,
        /// The inner statement's kind.
        statement: Box<StatementKind>,
    },
    /// LISTEN.
    Listen {
        /// The channel.
        channel: String,
    },
    /// NOTIFY.
    Notify {
        /// The channel.
        channel: String,
    },
    /// UNLISTEN.
    Unlisten {
        /// The channel, or `None` for UNLISTEN *.
        channel: Option<String>,
    },
    /// VACUUM, with or without ANALYZE.
    Vacuum,
    /// ANALYZE alone.
    Analyze,
    /// LOCK TABLE.
    Lock,
    /// TRUNCATE.
    Truncate,
    /// Any other utility statement, e.g. `CHECKPOINT`, `DISCARD`, `REINDEX`.
    Utility {
        /// The statement's name in upper case, e.g. `CHECKPOINT`.
        name: String,
    },
}

/// Direction of a COPY.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CopyDirection {
    /// COPY ... FROM: rows into a table.
    From,
    /// COPY ... TO: rows out of the database.
    To,
}

/// The verb of a DDL statement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DdlAction {
    /// CREATE (also CREATE OR REPLACE, CREATE TABLE AS, SELECT INTO).
    Create,
    /// ALTER, RENAME, COMMENT ON, SECURITY LABEL, REASSIGN OWNED.
    Alter,
    /// DROP, DROP OWNED.
    Drop,
}

/// The transaction statements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TransactionAction {
    /// BEGIN or START TRANSACTION.
    Begin,
    /// COMMIT or END.
    Commit,
    /// ROLLBACK or ABORT.
    Rollback,
    /// SAVEPOINT.
    Savepoint,
    /// RELEASE SAVEPOINT.
    Release,
    /// ROLLBACK TO SAVEPOINT.
    RollbackTo,
    /// PREPARE TRANSACTION.
    PrepareTransaction,
    /// COMMIT PREPARED.
    CommitPrepared,
    /// ROLLBACK PREPARED.
    RollbackPrepared,
    /// SET TRANSACTION, SET SESSION CHARACTERISTICS, SET CONSTRAINTS.
    SetCharacteristics,
}

/// The verb of a run-time parameter statement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SettingAction {
    /// SET name TO value.
    Set,
    /// SET name TO DEFAULT, RESET name, or RESET ALL.
    Reset,
    /// SHOW name or SHOW ALL.
    Show,
}

/// The kind of object a DDL, GRANT or REVOKE statement acts on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    /// Table, including partitioned tables.
    Table,
    /// View.
    View,
    /// Materialized view.
    MaterializedView,
    /// Foreign table.
    ForeignTable,
    /// Index.
    Index,
    /// Sequence.
    Sequence,
    /// Column (COMMENT ON COLUMN, GRANT on columns is reported as `Table`).
    Column,
    /// Schema.
    Schema,
    /// Database.
    Database,
    /// Role or user.
    Role,
    /// Role membership (GRANT role TO role).
    RoleMembership,
    /// Function or aggregate.
    Function,
    /// Procedure.
    Procedure,
    /// Trigger or event trigger.
    Trigger,
    /// Rewrite rule.
    Rule,
    /// Row-level security policy.
    Policy,
    /// Type, enum, range or composite type.
    Type,
    /// Domain.
    Domain,
    /// Extension.
    Extension,
    /// Procedural language.
    Language,
    /// Foreign-data wrapper, foreign server or user mapping.
    ForeignServer,
    /// Tablespace.
    Tablespace,
    /// Publication or subscription.
    Replication,
    /// Default privileges.
    DefaultPrivileges,
    /// Objects owned by a role (DROP OWNED, REASSIGN OWNED).
    OwnedObjects,
    /// Any other object, named as in PostgreSQL's `ObjectType` without the
    /// `OBJECT_` prefix, in lower case (e.g. `operator`, `cast`, `collation`).
    Other(String),
}
