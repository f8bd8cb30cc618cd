//! Functions that need the `call_function` action.
//!
//! A statement's tables and columns show what it reads only when the statement
//! itself names them. The built-in functions below reach data, files or
//! sessions that no table or column check covers, so calling any of them needs
//! a permit of its own. Names match whatever schema the call qualifies them
//! with, because a same-named function in another schema could be a wrapper
//! around the built-in. Functions that only read settings (`current_setting`)
//! or wait (`pg_sleep`) are not listed: they reveal no data, and
//! `statement_timeout` bounds them where it is set.
//!
//! User-defined functions and procedures (every `pg_proc` entry outside
//! `pg_catalog` and `information_schema`, extensions' included) run statements
//! the gateway cannot see, as DO blocks do, so a call to one needs a permit too
//! (group `user_defined`). The gateway reads their names with the target's
//! tables, and a name matches in any schema, because the search path decides
//! which function an unqualified call runs.
//!
//! NOTE: the gateway reads a target's functions once, when `serve` starts;
//! `policy reload` does not read them again. A function created later (by a
//! user whose policies permit `ddl`, or by the database owner) is not checked
//! until `serve` restarts. User-defined operators, casts, triggers and column
//! defaults call functions without naming them, so those calls are not checked.

use std::collections::HashSet;

use serde::Serialize;

/// The reason a function is guarded: the `group` attribute of its `Function`
/// entity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FunctionGroup {
    /// Reads, lists or writes files on the database server.
    ServerFiles,
    /// Reads or writes large objects, which live outside every table the
    /// policy names (in `pg_largeobject`), or moves them to server files.
    LargeObjects,
    /// Connects to another database and runs SQL there.
    RemoteConnections,
    /// Cancels or terminates other sessions.
    BackendSignals,
    /// Reloads the server configuration or rotates its log.
    ServerConfig,
    /// Changes a run-time parameter, including the `portcullis.*` settings that
    /// row-level security reads and the search path that analysis depends on.
    /// The gateway denies these calls even where a policy permits them.
    Settings,
    /// Runs SQL passed as a string, which the gateway cannot analyze.
    QueryStrings,
    /// Changes state outside the tables the statement names: sequences,
    /// notifications to other sessions and advisory locks. The `read_only`
    /// guardrail denies them too.
    Writes,
    /// A function or procedure defined on the target, whose statements the
    /// gateway cannot see.
    UserDefined,
}

impl FunctionGroup {
    /// Returns the group name, as in the entity's `group` attribute.
    pub fn as_str(self) -> &'static str {
        match self {
            FunctionGroup::ServerFiles => "server_files",
            FunctionGroup::LargeObjects => "large_objects",
            FunctionGroup::RemoteConnections => "remote_connections",
            FunctionGroup::BackendSignals => "backend_signals",
            FunctionGroup::ServerConfig => "server_config",
            FunctionGroup::Settings => "settings",
            FunctionGroup::QueryStrings => "query_strings",
            FunctionGroup::Writes => "writes",
            FunctionGroup::UserDefined => "user_defined",
        }
    }
}

/// Every guarded function by name, with its group.
pub const GUARDED_FUNCTIONS: &[(&str, FunctionGroup)] = &[
    // Server files (superuser or pg_read_server_files / pg_write_server_files).
    ("pg_read_file", FunctionGroup::ServerFiles),
    ("pg_read_binary_file", FunctionGroup::ServerFiles),
    ("pg_stat_file", FunctionGroup::ServerFiles),
    ("pg_ls_dir", FunctionGroup::ServerFiles),
    ("pg_ls_logdir", FunctionGroup::ServerFiles),
    ("pg_ls_waldir", FunctionGroup::ServerFiles),
    ("pg_ls_tmpdir", FunctionGroup::ServerFiles),
    ("pg_ls_archive_statusdir", FunctionGroup::ServerFiles),
    ("pg_ls_logicalsnapdir", FunctionGroup::ServerFiles),
    ("pg_ls_logicalmapdir", FunctionGroup::ServerFiles),
    ("pg_ls_replslotdir", FunctionGroup::ServerFiles),
    // adminpack's writers.
    ("pg_file_write", FunctionGroup::ServerFiles),
    ("pg_file_rename", FunctionGroup::ServerFiles),
    ("pg_file_unlink", FunctionGroup::ServerFiles),
    ("pg_file_sync", FunctionGroup::ServerFiles),
    // Large objects: lo_import/lo_export move server files, the others read and
    // write objects that no table policy covers.
    ("lo_import", FunctionGroup::LargeObjects),
    ("lo_export", FunctionGroup::LargeObjects),
    ("lo_from_bytea", FunctionGroup::LargeObjects),
    ("lo_get", FunctionGroup::LargeObjects),
    ("lo_put", FunctionGroup::LargeObjects),
    ("lo_open", FunctionGroup::LargeObjects),
    ("loread", FunctionGroup::LargeObjects),
    ("lowrite", FunctionGroup::LargeObjects),
    ("lo_create", FunctionGroup::LargeObjects),
    ("lo_creat", FunctionGroup::LargeObjects),
    ("lo_unlink", FunctionGroup::LargeObjects),
    ("lo_truncate", FunctionGroup::LargeObjects),
    ("lo_truncate64", FunctionGroup::LargeObjects),
    // Other sessions.
    ("pg_terminate_backend", FunctionGroup::BackendSignals),
    ("pg_cancel_backend", FunctionGroup::BackendSignals),
    // Server configuration.
    ("pg_reload_conf", FunctionGroup::ServerConfig),
    ("pg_rotate_logfile", FunctionGroup::ServerConfig),
    // Settings.
    ("set_config", FunctionGroup::Settings),
    // SQL in a string: query_to_xml('SELECT ssn FROM patients', ...) would read
    // any column without naming it in the statement.
    ("query_to_xml", FunctionGroup::QueryStrings),
    ("query_to_xmlschema", FunctionGroup::QueryStrings),
    ("query_to_xml_and_xmlschema", FunctionGroup::QueryStrings),
    ("table_to_xml", FunctionGroup::QueryStrings),
    ("table_to_xmlschema", FunctionGroup::QueryStrings),
    ("table_to_xml_and_xmlschema", FunctionGroup::QueryStrings),
    ("schema_to_xml", FunctionGroup::QueryStrings),
    ("schema_to_xmlschema", FunctionGroup::QueryStrings),
    ("schema_to_xml_and_xmlschema", FunctionGroup::QueryStrings),
    ("database_to_xml", FunctionGroup::QueryStrings),
    ("database_to_xmlschema", FunctionGroup::QueryStrings),
    ("database_to_xml_and_xmlschema", FunctionGroup::QueryStrings),
    ("cursor_to_xml", FunctionGroup::QueryStrings),
    ("cursor_to_xmlschema", FunctionGroup::QueryStrings),
    ("ts_stat", FunctionGroup::QueryStrings),
    ("ts_rewrite", FunctionGroup::QueryStrings),
    // Writes that no relation check covers. A column default that calls nextval
    // runs on the server without the statement naming it, so INSERTs that rely
    // on a serial column need no permit.
    ("nextval", FunctionGroup::Writes),
    ("setval", FunctionGroup::Writes),
    ("pg_notify", FunctionGroup::Writes),
    ("pg_advisory_lock", FunctionGroup::Writes),
    ("pg_advisory_lock_shared", FunctionGroup::Writes),
    ("pg_advisory_xact_lock", FunctionGroup::Writes),
    ("pg_advisory_xact_lock_shared", FunctionGroup::Writes),
    ("pg_try_advisory_lock", FunctionGroup::Writes),
    ("pg_try_advisory_lock_shared", FunctionGroup::Writes),
    ("pg_try_advisory_xact_lock", FunctionGroup::Writes),
    ("pg_try_advisory_xact_lock_shared", FunctionGroup::Writes),
    ("pg_advisory_unlock", FunctionGroup::Writes),
    ("pg_advisory_unlock_shared", FunctionGroup::Writes),
    ("pg_advisory_unlock_all", FunctionGroup::Writes),
];

/// Functions whose name starts with this prefix belong to the dblink extension
/// (dblink, dblink_exec, dblink_connect, dblink_connect_u, dblink_open, ...).
const DBLINK_PREFIX: &str = "dblink";

/// Returns the group of a guarded built-in function, or `None` when the
/// function needs no `call_function` permit as a built-in.
pub fn guarded_function(name: &str) -> Option<FunctionGroup> {
    if name.starts_with(DBLINK_PREFIX) {
        return Some(FunctionGroup::RemoteConnections);
    }
    GUARDED_FUNCTIONS
        .iter()
        .find(|(guarded, _)| *guarded == name)
        .map(|(_, group)| *group)
}

/// Returns the group of a function that needs a `call_function` permit on a
/// target with the user-defined function names `user_defined`: the built-in
/// group first, then [`FunctionGroup::UserDefined`].
pub fn function_group(name: &str, user_defined: &HashSet<String>) -> Option<FunctionGroup> {
    guarded_function(name).or_else(|| {
        user_defined
            .contains(name)
            .then_some(FunctionGroup::UserDefined)
    })
}
