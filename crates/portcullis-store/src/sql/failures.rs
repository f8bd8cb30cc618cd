//! Failed-login records and the metadata table.

use portcullis_core::{FailureRecord, LockoutPolicy};
use sqlx::{Executor, Pool};
use time::OffsetDateTime;

use super::backend::{Db, Row, BEGIN_WRITE, FOR_UPDATE};
use super::column;
use crate::columns::{count_from_column, from_micros, from_micros_opt, to_micros};
use crate::error::StoreError;

const FAILURE_COLUMNS: &str = "key, failures, window_started_at, last_failure_at, locked_until";

fn failure_from_row(row: &Row) -> Result<FailureRecord, StoreError> {
    let failures: i64 = column(row, "failures")?;
    Ok(FailureRecord {
        key: column(row, "key")?,
        failures: count_from_column(failures)?,
        window_started_at: from_micros("window_started_at", column(row, "window_started_at")?)?,
        last_failure_at: from_micros("last_failure_at", column(row, "last_failure_at")?)?,
        locked_until: from_micros_opt("locked_until", column(row, "locked_until")?)?,
    })
}

async fn select_failures<'e, E>(
    executor: E,
    key: &str,
    lock: &str,
) -> Result<Option<FailureRecord>, StoreError>
where
    E: Executor<'e, Database = Db>,
{
    let sql = format!("SELECT {FAILURE_COLUMNS} FROM auth_failures WHERE key = $1{lock}");
    sqlx::query(&sql)
        .bind(key)
        .fetch_optional(executor)
        .await
        .map_err(StoreError::db("get auth failures"))?
        .as_ref()
        .map(failure_from_row)
        .transpose()
}

pub(super) async fn get_auth_failures(
    pool: &Pool<Db>,
    key: &str,
) -> Result<Option<FailureRecord>, StoreError> {
    select_failures(pool, key, "").await
}

pub(super) async fn record_auth_failure(
    pool: &Pool<Db>,
    key: &str,
    policy: &LockoutPolicy,
    now: OffsetDateTime,
) -> Result<FailureRecord, StoreError> {
    let mut tx = pool
        .begin_with(BEGIN_WRITE)
        .await
        .map_err(StoreError::db("begin record auth failure"))?;

    // Writing first makes the row exist for PostgreSQL's row lock below, and takes
    // SQLite's write lock before anything is read.
    sqlx::query(
        "INSERT INTO auth_failures (key, failures, window_started_at, last_failure_at, locked_until) \
         VALUES ($1, 0, $2, $2, NULL) ON CONFLICT (key) DO NOTHING",
    )
    .bind(key)
    .bind(to_micros(now))
    .execute(&mut *tx)
    .await
    .map_err(StoreError::db("insert auth failures"))?;

    // A row with no failures is the placeholder inserted above.
    let previous = select_failures(&mut *tx, key, FOR_UPDATE)
        .await?
        .filter(|record| record.failures > 0);
    let record = policy.record_failure(key, previous, now);

    sqlx::query(
        "UPDATE auth_failures SET failures = $2, window_started_at = $3, last_failure_at = $4, locked_until = $5 \
         WHERE key = $1",
    )
    .bind(key)
    .bind(i64::from(record.failures))
    .bind(to_micros(record.window_started_at))
    .bind(to_micros(record.last_failure_at))
    .bind(record.locked_until.map(to_micros))
    .execute(&mut *tx)
    .await
    .map_err(StoreError::db("update auth failures"))?;
    tx.commit()
        .await
        .map_err(StoreError::db("commit record auth failure"))?;
    Ok(record)
}

pub(super) async fn clear_auth_failures(pool: &Pool<Db>, key: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM auth_failures WHERE key = $1")
        .bind(key)
        .execute(pool)
        .await
        .map_err(StoreError::db("clear auth failures"))?;
    Ok(())
}

pub(super) async fn get_meta(pool: &Pool<Db>, key: &str) -> Result<Option<String>, StoreError> {
    let row = sqlx::query("SELECT value FROM meta WHERE key = $1")
        .bind(key)
        .fetch_optional(pool)
        .await
        .map_err(StoreError::db("get meta"))?;
    row.map(|row| column(&row, "value")).transpose()
}

pub(super) async fn set_meta(pool: &Pool<Db>, key: &str, value: &str) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
        .bind(key)
        .bind(value)
        .execute(pool)
        .await
        .map_err(StoreError::db("set meta"))?;
    Ok(())
}
