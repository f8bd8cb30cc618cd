//! Target databases with their sealed upstream passwords.

use portcullis_core::{Target, TargetId, TargetName, UserId};
use sqlx::Pool;

use super::backend::{uuid_column, uuid_column_opt, uuid_param, Db, Row};
use super::column;
use super::users::not_found;
use crate::columns::{
    from_micros, path_to_column, port_from_column, timeout_from_column, timeout_to_column,
    tls_from_columns, to_micros,
};
use crate::error::{is_foreign_key_violation, is_unique_violation, StoreError};
use crate::store::StoredTarget;

/// Columns read by [`target_from_row`].
const TARGET_COLUMNS: &str = "id, name, host, port, database_name, upstream_user, tls_mode, \
     ca_file, idle_timeout_secs, created_at, created_by";

fn target_from_row(row: &Row) -> Result<Target, StoreError> {
    let name: String = column(row, "name")?;
    let tls_mode: String = column(row, "tls_mode")?;

    Ok(Target {
        id: TargetId(uuid_column(row, "id")?),
        name: TargetName::new(&name).map_err(|error| StoreError::Corrupt {
            column: "name",
            detail: error.to_string(),
        })?,
        host: column(row, "host")?,
        port: port_from_column(column(row, "port")?)?,
        database: column(row, "database_name")?,
        user: column(row, "upstream_user")?,
        tls: tls_from_columns(&tls_mode, column(row, "ca_file")?)?,
        idle_timeout: timeout_from_column(column(row, "idle_timeout_secs")?)?,
        created_at: from_micros("created_at", column(row, "created_at")?)?,
        created_by: uuid_column_opt(row, "created_by")?.map(UserId),
    })
}

pub(super) async fn create_target(
    pool: &Pool<Db>,
    stored: &StoredTarget,
) -> Result<(), StoreError> {
    let target = &stored.target;
    let ca_file = target
        .tls
        .ca_file()
        .map(|path| path_to_column(path))
        .transpose()?;

    let inserted = sqlx::query(&format!(
        "INSERT INTO targets ({TARGET_COLUMNS}, password_sealed) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
    ))
    .bind(uuid_param(target.id.0))
    .bind(target.name.as_str())
    .bind(&target.host)
    .bind(i64::from(target.port))
    .bind(&target.database)
    .bind(&target.user)
    .bind(target.tls.mode_name())
    .bind(ca_file)
    .bind(target.idle_timeout.map(timeout_to_column))
    .bind(to_micros(target.created_at))
    .bind(target.created_by.map(|user| uuid_param(user.0)))
    .bind(stored.password_sealed.as_slice())
    .execute(pool)
    .await;
    match inserted {
        Err(error) if is_unique_violation(&error) => Err(StoreError::Duplicate {
            entity: "target",
            name: target.name.to_string(),
        }),
        Err(error) if is_foreign_key_violation(&error) => match target.created_by {
            Some(user) => Err(not_found(user)),
            None => Err(StoreError::db("insert target")(error)),
        },
        other => other.map(|_| ()).map_err(StoreError::db("insert target")),
    }
}

pub(super) async fn get_target_by_name(
    pool: &Pool<Db>,
    name: &TargetName,
) -> Result<Option<StoredTarget>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {TARGET_COLUMNS}, password_sealed FROM targets WHERE name = $1"
    ))
    .bind(name.as_str())
    .fetch_optional(pool)
    .await
    .map_err(StoreError::db("get target by name"))?;
    let Some(row) = row else {
        return Ok(None);
    };

    Ok(Some(StoredTarget {
        target: target_from_row(&row)?,
        password_sealed: column(&row, "password_sealed")?,
    }))
}

pub(super) async fn list_targets(pool: &Pool<Db>) -> Result<Vec<Target>, StoreError> {
    sqlx::query(&format!(
        "SELECT {TARGET_COLUMNS} FROM targets ORDER BY name"
    ))
    .fetch_all(pool)
    .await
    .map_err(StoreError::db("list targets"))?
    .iter()
    .map(target_from_row)
    .collect()
}

pub(super) async fn remove_target(pool: &Pool<Db>, name: &TargetName) -> Result<bool, StoreError> {
    let deleted = sqlx::query("DELETE FROM targets WHERE name = $1")
        .bind(name.as_str())
        .execute(pool)
        .await
        .map_err(StoreError::db("remove target"))?;
    Ok(deleted.rows_affected() == 1)
}
