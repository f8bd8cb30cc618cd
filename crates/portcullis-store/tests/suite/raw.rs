//! Direct SQL access to a case's database, below the store, for checking what is
//! stored and for building a database at an older schema version.

use std::borrow::Cow;

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::PgPool;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};

use super::TestDb;

/// A connection pool to one case's database.
pub enum RawDb {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl TestDb {
    /// Connects to the case's database without the store, creating a SQLite file if
    /// none exists.
    pub async fn raw(&self) -> RawDb {
        match self.location.strip_prefix("sqlite://") {
            Some(path) => {
                let options = SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(true)
                    .foreign_keys(true);
                let pool = SqlitePoolOptions::new()
                    .max_connections(1)
                    .connect_with(options)
                    .await
                    .expect("connect to SQLite");
                RawDb::Sqlite(pool)
            }
            None => RawDb::Postgres(
                PgPool::connect(&self.location)
                    .await
                    .expect("connect to PostgreSQL"),
            ),
        }
    }
}

impl RawDb {
    /// Applies migration 0001 only, recorded as the store's migrator records it, so
    /// that opening the store afterwards applies the later migrations.
    pub async fn apply_first_migration(&self) {
        let sql = match self {
            RawDb::Sqlite(_) => include_str!("../../migrations/sqlite/0001_init.sql"),
            RawDb::Postgres(_) => include_str!("../../migrations/postgres/0001_init.sql"),
        };
        let migrator = Migrator {
            migrations: Cow::Owned(vec![Migration::new(
                1,
                Cow::Borrowed("init"),
                MigrationType::Simple,
                Cow::Borrowed(sql),
                false,
            )]),
            ..Migrator::DEFAULT
        };
        match self {
            RawDb::Sqlite(pool) => migrator.run(pool).await,
            RawDb::Postgres(pool) => migrator.run(pool).await,
        }
        .expect("apply migration 0001");
    }

    /// Runs one or more statements.
    pub async fn execute(&self, sql: &str) {
        self.try_execute(sql)
            .await
            .unwrap_or_else(|error| panic!("execute {sql:?}: {error}"));
    }

    /// Runs one or more statements and returns the database's error.
    pub async fn try_execute(&self, sql: &str) -> Result<(), sqlx::Error> {
        match self {
            RawDb::Sqlite(pool) => sqlx::raw_sql(sql).execute(pool).await.map(|_| ()),
            RawDb::Postgres(pool) => sqlx::raw_sql(sql).execute(pool).await.map(|_| ()),
        }
    }

    /// Reads the first column of every row as bytes.
    pub async fn fetch_bytes(&self, sql: &str) -> Vec<Vec<u8>> {
        match self {
            RawDb::Sqlite(pool) => sqlx::query_scalar(sql).fetch_all(pool).await,
            RawDb::Postgres(pool) => sqlx::query_scalar(sql).fetch_all(pool).await,
        }
        .unwrap_or_else(|error| panic!("fetch {sql:?}: {error}"))
    }

    /// Writes `bytes` as a SQL literal of the backend's binary type.
    pub fn bytes_literal(&self, bytes: &[u8]) -> String {
        let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
        match self {
            RawDb::Sqlite(_) => format!("X'{hex}'"),
            RawDb::Postgres(_) => format!("'\\x{hex}'::bytea"),
        }
    }

    pub async fn close(self) {
        match self {
            RawDb::Sqlite(pool) => pool.close().await,
            RawDb::Postgres(pool) => pool.close().await,
        }
    }
}
