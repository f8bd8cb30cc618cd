//! SQLite backend, the embedded default: one database file with WAL journaling,
//! `synchronous = FULL` so a committed transaction survives power loss, foreign keys
//! enforced, and a busy timeout so concurrent writers wait instead of failing.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::error::StoreError;
use crate::migrations;

/// How long a connection waits for another writer's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections in the pool. SQLite runs one writer at a time; the rest serve reads.
const MAX_CONNECTIONS: u32 = 4;

/// A store in a SQLite database file.
pub struct SqliteStore {
    pool: SqlitePool,
    path: PathBuf,
}

impl SqliteStore {
    /// Opens the database at `path`, creating it (readable by the owner only) if
    /// missing, and applies pending migrations.
    pub async fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        create_private_file(path)?;
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .connect_with(options)
            .await
            .map_err(|source| StoreError::Open {
                backend: "SQLite",
                location: path.display().to_string(),
                source,
            })?;

        migrations::migrator(migrations::SQLITE)
            .await?
            .run(&pool)
            .await?;
        Ok(SqliteStore {
            pool,
            path: path.to_path_buf(),
        })
    }

    /// Path of the database file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Creates an empty database file with mode 0600 if none exists, because the store
/// contains password hashes and sealed secrets. SQLite gives its `-wal` and `-shm` files
/// the main file's permissions.
fn create_private_file(path: &Path) -> Result<(), StoreError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(StoreError::File {
            path: path.display().to_string(),
            source,
        }),
    }
}

/// SQLite specifics of the shared queries.
mod backend {
    use sqlx::Row as _;
    use uuid::Uuid;

    use crate::error::StoreError;

    pub(super) type Db = sqlx::Sqlite;
    pub(super) type Row = sqlx::sqlite::SqliteRow;
    pub(super) type BackendStore = super::SqliteStore;

    /// Starts write transactions holding the write lock, so a transaction that reads
    /// before it writes cannot fail with `SQLITE_BUSY` when another writer commits in
    /// between (the busy timeout does not cover that case).
    pub(super) const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";
    /// Row locks are unnecessary because `BEGIN IMMEDIATE` serializes writers.
    pub(super) const FOR_SHARE: &str = "";
    /// See [`FOR_SHARE`].
    pub(super) const FOR_UPDATE: &str = "";

    /// Ids are stored as hyphenated text.
    pub(super) fn uuid_param(id: Uuid) -> String {
        id.hyphenated().to_string()
    }

    pub(super) fn uuid_column(row: &Row, column: &'static str) -> Result<Uuid, StoreError> {
        let text: String = row
            .try_get(column)
            .map_err(|error| corrupt(column, error))?;
        parse(column, &text)
    }

    pub(super) fn uuid_column_opt(
        row: &Row,
        column: &'static str,
    ) -> Result<Option<Uuid>, StoreError> {
        let text: Option<String> = row
            .try_get(column)
            .map_err(|error| corrupt(column, error))?;
        text.map(|text| parse(column, &text)).transpose()
    }

    fn parse(column: &'static str, text: &str) -> Result<Uuid, StoreError> {
        Uuid::parse_str(text).map_err(|error| StoreError::Corrupt {
            column,
            detail: error.to_string(),
        })
    }

    fn corrupt(column: &'static str, error: sqlx::Error) -> StoreError {
        StoreError::Corrupt {
            column,
            detail: error.to_string(),
        }
    }
}

#[allow(
    clippy::duplicate_mod,
    reason = "compiled once per backend on purpose; see sql/mod.rs"
)]
#[path = "sql/mod.rs"]
mod sql;

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::SqliteStore;
    use crate::Store;

    #[tokio::test]
    async fn database_files_are_private() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("state.db");
        let store = SqliteStore::open(&path).await.expect("open");
        store.set_meta("probe", "1").await.expect("write");

        for suffix in ["", "-wal", "-shm"] {
            let file = format!("{}{suffix}", path.display());
            let mode = std::fs::metadata(&file)
                .expect("metadata")
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(mode, 0o600, "{file}");
        }
        store.close().await;
    }
}
