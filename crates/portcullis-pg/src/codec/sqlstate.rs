//! SQLSTATE error codes as a typed value.
//!
//! Codes and condition names are those of PostgreSQL's `errcodes.txt`
//! (Appendix A, "PostgreSQL Error Codes", of the PostgreSQL documentation).

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

/// A five-character SQLSTATE code, such as `08P01`.
///
/// Every code consists of five characters from `0-9` and `A-Z`, as the SQL standard
/// requires, so [`SqlState::as_str`] is always a valid protocol string.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SqlState([u8; 5]);

/// Rejection of a string that is not a SQLSTATE code.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid SQLSTATE {0:?}: a SQLSTATE has exactly five characters from 0-9 and A-Z")]
pub struct InvalidSqlState(pub String);

impl SqlState {
    /// successful_completion.
    pub const SUCCESSFUL_COMPLETION: SqlState = SqlState(*b"00000");
    /// warning, for NoticeResponse messages that have no more specific code.
    pub const WARNING: SqlState = SqlState(*b"01000");
    /// connection_exception.
    pub const CONNECTION_EXCEPTION: SqlState = SqlState(*b"08000");
    /// sqlclient_unable_to_establish_sqlconnection: the gateway cannot reach the upstream server.
    pub const SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION: SqlState = SqlState(*b"08001");
    /// connection_failure: an established upstream connection failed.
    pub const CONNECTION_FAILURE: SqlState = SqlState(*b"08006");
    /// protocol_violation: a malformed or out-of-sequence message.
    pub const PROTOCOL_VIOLATION: SqlState = SqlState(*b"08P01");
    /// feature_not_supported.
    pub const FEATURE_NOT_SUPPORTED: SqlState = SqlState(*b"0A000");
    /// invalid_parameter_value.
    pub const INVALID_PARAMETER_VALUE: SqlState = SqlState(*b"22023");
    /// active_sql_transaction.
    pub const ACTIVE_SQL_TRANSACTION: SqlState = SqlState(*b"25001");
    /// read_only_sql_transaction.
    pub const READ_ONLY_SQL_TRANSACTION: SqlState = SqlState(*b"25006");
    /// in_failed_sql_transaction: commands are ignored until the end of the transaction block.
    pub const IN_FAILED_SQL_TRANSACTION: SqlState = SqlState(*b"25P02");
    /// idle_in_transaction_session_timeout.
    pub const IDLE_IN_TRANSACTION_SESSION_TIMEOUT: SqlState = SqlState(*b"25P03");
    /// invalid_sql_statement_name: an unknown prepared statement.
    pub const INVALID_SQL_STATEMENT_NAME: SqlState = SqlState(*b"26000");
    /// invalid_authorization_specification: for example, no user name in the startup packet.
    pub const INVALID_AUTHORIZATION_SPECIFICATION: SqlState = SqlState(*b"28000");
    /// invalid_password: failed password or token authentication.
    pub const INVALID_PASSWORD: SqlState = SqlState(*b"28P01");
    /// invalid_cursor_name: an unknown portal.
    pub const INVALID_CURSOR_NAME: SqlState = SqlState(*b"34000");
    /// invalid_catalog_name: an unknown database (for the gateway, an unknown target).
    pub const INVALID_CATALOG_NAME: SqlState = SqlState(*b"3D000");
    /// syntax_error.
    pub const SYNTAX_ERROR: SqlState = SqlState(*b"42601");
    /// insufficient_privilege: the policy denied the statement.
    pub const INSUFFICIENT_PRIVILEGE: SqlState = SqlState(*b"42501");
    /// undefined_object.
    pub const UNDEFINED_OBJECT: SqlState = SqlState(*b"42704");
    /// insufficient_resources.
    pub const INSUFFICIENT_RESOURCES: SqlState = SqlState(*b"53000");
    /// out_of_memory.
    pub const OUT_OF_MEMORY: SqlState = SqlState(*b"53200");
    /// too_many_connections.
    pub const TOO_MANY_CONNECTIONS: SqlState = SqlState(*b"53300");
    /// configuration_limit_exceeded.
    pub const CONFIGURATION_LIMIT_EXCEEDED: SqlState = SqlState(*b"53400");
    /// program_limit_exceeded: a fixed limit such as the maximum message size.
    pub const PROGRAM_LIMIT_EXCEEDED: SqlState = SqlState(*b"54000");
    /// object_not_in_prerequisite_state.
    pub const OBJECT_NOT_IN_PREREQUISITE_STATE: SqlState = SqlState(*b"55000");
    /// operator_intervention.
    pub const OPERATOR_INTERVENTION: SqlState = SqlState(*b"57000");
    /// query_canceled.
    pub const QUERY_CANCELED: SqlState = SqlState(*b"57014");
    /// admin_shutdown: the session was ended by an administrator or a shutdown.
    pub const ADMIN_SHUTDOWN: SqlState = SqlState(*b"57P01");
    /// crash_shutdown.
    pub const CRASH_SHUTDOWN: SqlState = SqlState(*b"57P02");
    /// cannot_connect_now: the server is starting up or shutting down.
    pub const CANNOT_CONNECT_NOW: SqlState = SqlState(*b"57P03");
    /// idle_session_timeout (PostgreSQL 14 and later).
    pub const IDLE_SESSION_TIMEOUT: SqlState = SqlState(*b"57P05");
    /// system_error.
    pub const SYSTEM_ERROR: SqlState = SqlState(*b"58000");
    /// io_error.
    pub const IO_ERROR: SqlState = SqlState(*b"58030");
    /// config_file_error.
    pub const CONFIG_FILE_ERROR: SqlState = SqlState(*b"F0000");
    /// internal_error: a bug in the gateway.
    pub const INTERNAL_ERROR: SqlState = SqlState(*b"XX000");

    /// Returns the code as a five-character string.
    pub fn as_str(&self) -> &str {
        // Every constructor checks that the bytes are ASCII digits or capitals.
        std::str::from_utf8(&self.0).unwrap_or("XX000")
    }

    /// Returns the two-character class, such as `08` for connection exceptions.
    pub fn class(&self) -> &str {
        self.as_str().get(..2).unwrap_or("XX")
    }
}

impl FromStr for SqlState {
    type Err = InvalidSqlState;

    fn from_str(code: &str) -> Result<Self, Self::Err> {
        let bytes: [u8; 5] = code
            .as_bytes()
            .try_into()
            .map_err(|_| InvalidSqlState(code.to_owned()))?;
        let valid = bytes
            .iter()
            .all(|byte| byte.is_ascii_digit() || byte.is_ascii_uppercase());
        if !valid {
            return Err(InvalidSqlState(code.to_owned()));
        }
        Ok(SqlState(bytes))
    }
}

impl fmt::Display for SqlState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for SqlState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SqlState({})", self.as_str())
    }
}
