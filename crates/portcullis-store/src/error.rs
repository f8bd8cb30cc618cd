//! Errors of the state store.

use portcullis_core::UserId;

/// Reason a service account's owner was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerProblem {
    /// No account has the owner's id.
    NotFound,
    /// The owner is itself a service account.
    ServiceAccount,
    /// The owner is disabled.
    Disabled,
}

impl std::fmt::Display for OwnerProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            OwnerProblem::NotFound => "no such user exists",
            OwnerProblem::ServiceAccount => "it is a service account",
            OwnerProblem::Disabled => "it is disabled",
        })
    }
}

/// Errors from a [`crate::Store`]. Messages name the value involved and never contain
/// password hashes, TOTP secrets or token hashes.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique name is already taken.
    #[error("{entity} `{name}` already exists; choose another name")]
    Duplicate {
        /// `"user"`, `"role"` or `"target"`.
        entity: &'static str,
        /// The taken name.
        name: String,
    },
    /// A referenced record does not exist.
    #[error("{entity} {id} not found")]
    NotFound {
        /// Kind of record, such as `"user"`.
        entity: &'static str,
        /// Its id or name.
        id: String,
    },
    /// A service account's owner is not an enabled human account.
    #[error("invalid owner {owner} for a service account: {problem}; name an enabled human account as owner")]
    InvalidOwner {
        /// The rejected owner id.
        owner: UserId,
        /// Reason for the rejection.
        problem: OwnerProblem,
    },
    /// A value cannot be written to its column.
    #[error("invalid value for column `{column}`: {detail}")]
    InvalidValue {
        /// Column name.
        column: &'static str,
        /// Description of the problem and the fix.
        detail: String,
    },
    /// A stored value cannot be decoded, which points at a damaged or foreign database.
    #[error("corrupt store: column `{column}` holds an invalid value ({detail})")]
    Corrupt {
        /// Column name.
        column: &'static str,
        /// Description of the problem, without the value if it may be secret.
        detail: String,
    },
    /// The store location is neither a SQLite path nor a PostgreSQL URL.
    #[error(
        "unsupported store location `{0}`: use a file path, `sqlite://PATH`, or \
         `postgres://USER@HOST/DATABASE`"
    )]
    UnsupportedLocation(String),
    /// Opening or creating the store failed.
    #[error("opening the {backend} store at {location} failed: {source}")]
    Open {
        /// `"SQLite"` or `"PostgreSQL"`.
        backend: &'static str,
        /// Path, or URL without its password.
        location: String,
        /// Cause.
        #[source]
        source: sqlx::Error,
    },
    /// Preparing the store's files failed.
    #[error("preparing the SQLite store at {path} failed: {source}")]
    File {
        /// Database file.
        path: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// Applying schema migrations failed.
    #[error("migrating the store schema failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A query failed.
    #[error("store operation `{operation}` failed: {source}")]
    Database {
        /// Operation that failed, such as `"insert token"`.
        operation: &'static str,
        /// Cause.
        #[source]
        source: sqlx::Error,
    },
}

impl StoreError {
    /// Wraps a query error; used as `.map_err(StoreError::db("insert token"))`.
    pub(crate) fn db(operation: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
        move |source| StoreError::Database { operation, source }
    }
}

/// Returns whether `error` is a violation of a UNIQUE or PRIMARY KEY constraint.
pub(crate) fn is_unique_violation(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .is_some_and(|db| db.is_unique_violation())
}

/// Returns whether `error` is a violation of a FOREIGN KEY constraint.
pub(crate) fn is_foreign_key_violation(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .is_some_and(|db| db.is_foreign_key_violation())
}
