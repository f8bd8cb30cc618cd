//! SCIM users and groups.

use portcullis_core::UserId;
use sqlx::Pool;
use uuid::Uuid;

use super::backend::{uuid_column, uuid_param, Db, Row, BEGIN_WRITE};
use super::column;
use crate::columns::{from_micros, from_micros_opt, to_micros};
use crate::error::{is_unique_violation, StoreError};
use crate::scim::{ScimGroup, ScimUserRecord};

fn scim_user_from_row(row: &Row) -> Result<ScimUserRecord, StoreError> {
    Ok(ScimUserRecord {
        user_id: UserId(uuid_column(row, "user_id")?),
        user_name: column(row, "user_name")?,
        external_id: column(row, "external_id")?,
        deleted_at: from_micros_opt("deleted_at", column(row, "deleted_at")?)?,
    })
}

fn group_from_row(row: &Row) -> Result<ScimGroup, StoreError> {
    Ok(ScimGroup {
        id: uuid_column(row, "id")?,
        display_name: column(row, "display_name")?,
        external_id: column(row, "external_id")?,
        created_at: from_micros("created_at", column(row, "created_at")?)?,
    })
}

fn duplicate_or(error: sqlx::Error, entity: &'static str, name: &str, action: &'static str) -> StoreError {
    if is_unique_violation(&error) {
        StoreError::Duplicate {
            entity,
            name: name.to_string(),
        }
    } else {
        StoreError::db(action)(error)
    }
}

pub(super) async fn get_scim_user(pool: &Pool<Db>, user: UserId) -> Result<Option<ScimUserRecord>, StoreError> {
    sqlx::query("SELECT user_id, user_name, external_id, deleted_at FROM scim_users WHERE user_id = $1")
        .bind(uuid_param(user.0))
        .fetch_optional(pool)
        .await
        .map_err(StoreError::db("get SCIM user"))?
        .as_ref()
        .map(scim_user_from_row)
        .transpose()
}

pub(super) async fn list_scim_users(pool: &Pool<Db>) -> Result<Vec<ScimUserRecord>, StoreError> {
    sqlx::query("SELECT user_id, user_name, external_id, deleted_at FROM scim_users")
        .fetch_all(pool)
        .await
        .map_err(StoreError::db("list SCIM users"))?
        .iter()
        .map(scim_user_from_row)
        .collect()
}

pub(super) async fn upsert_scim_user(pool: &Pool<Db>, record: &ScimUserRecord) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO scim_users (user_id, user_name, user_name_key, external_id, deleted_at) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (user_id) DO UPDATE SET user_name = excluded.user_name, \
         user_name_key = excluded.user_name_key, external_id = excluded.external_id, \
         deleted_at = excluded.deleted_at",
    )
    .bind(uuid_param(record.user_id.0))
    .bind(&record.user_name)
    .bind(record.user_name.to_lowercase())
    .bind(&record.external_id)
    .bind(record.deleted_at.map(to_micros))
    .execute(pool)
    .await
    .map(|_| ())
    .map_err(|error| duplicate_or(error, "SCIM userName", &record.user_name, "upsert SCIM user"))
}

pub(super) async fn create_scim_group(pool: &Pool<Db>, group: &ScimGroup) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO scim_groups (id, display_name, external_id, created_at) VALUES ($1, $2, $3, $4)")
        .bind(uuid_param(group.id))
        .bind(&group.display_name)
        .bind(&group.external_id)
        .bind(to_micros(group.created_at))
        .execute(pool)
        .await
        .map(|_| ())
        .map_err(|error| duplicate_or(error, "SCIM group", &group.display_name, "insert SCIM group"))
}

pub(super) async fn update_scim_group(pool: &Pool<Db>, group: &ScimGroup) -> Result<bool, StoreError> {
    sqlx::query("UPDATE scim_groups SET display_name = $2, external_id = $3 WHERE id = $1")
        .bind(uuid_param(group.id))
        .bind(&group.display_name)
        .bind(&group.external_id)
        .execute(pool)
        .await
        .map(|done| done.rows_affected() > 0)
        .map_err(|error| duplicate_or(error, "SCIM group", &group.display_name, "update SCIM group"))
}

pub(super) async fn get_scim_group(pool: &Pool<Db>, id: Uuid) -> Result<Option<ScimGroup>, StoreError> {
    sqlx::query("SELECT id, display_name, external_id, created_at FROM scim_groups WHERE id = $1")
        .bind(uuid_param(id))
        .fetch_optional(pool)
        .await
        .map_err(StoreError::db("get SCIM group"))?
        .as_ref()
        .map(group_from_row)
        .transpose()
}

pub(super) async fn list_scim_groups(pool: &Pool<Db>) -> Result<Vec<ScimGroup>, StoreError> {
    sqlx::query("SELECT id, display_name, external_id, created_at FROM scim_groups ORDER BY display_name")
        .fetch_all(pool)
        .await
        .map_err(StoreError::db("list SCIM groups"))?
        .iter()
        .map(group_from_row)
        .collect()
}

pub(super) async fn delete_scim_group(pool: &Pool<Db>, id: Uuid) -> Result<bool, StoreError> {
    let mut tx = pool
        .begin_with(BEGIN_WRITE)
        .await
        .map_err(StoreError::db("begin delete SCIM group"))?;
    sqlx::query("DELETE FROM scim_group_members WHERE group_id = $1")
        .bind(uuid_param(id))
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db("delete SCIM group members"))?;
    let deleted = sqlx::query("DELETE FROM scim_groups WHERE id = $1")
        .bind(uuid_param(id))
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db("delete SCIM group"))?
        .rows_affected();
    tx.commit().await.map_err(StoreError::db("commit delete SCIM group"))?;
    Ok(deleted > 0)
}

pub(super) async fn list_scim_group_members(pool: &Pool<Db>, group: Uuid) -> Result<Vec<UserId>, StoreError> {
    sqlx::query("SELECT user_id FROM scim_group_members WHERE group_id = $1 ORDER BY user_id")
        .bind(uuid_param(group))
        .fetch_all(pool)
        .await
        .map_err(StoreError::db("list SCIM group members"))?
        .iter()
        .map(|row| uuid_column(row, "user_id").map(UserId))
        .collect()
}

pub(super) async fn add_scim_group_member(pool: &Pool<Db>, group: Uuid, user: UserId) -> Result<bool, StoreError> {
    sqlx::query("INSERT INTO scim_group_members (group_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind(uuid_param(group))
        .bind(uuid_param(user.0))
        .execute(pool)
        .await
        .map(|done| done.rows_affected() > 0)
        .map_err(StoreError::db("add SCIM group member"))
}

pub(super) async fn remove_scim_group_member(pool: &Pool<Db>, group: Uuid, user: UserId) -> Result<bool, StoreError> {
    sqlx::query("DELETE FROM scim_group_members WHERE group_id = $1 AND user_id = $2")
        .bind(uuid_param(group))
        .bind(uuid_param(user.0))
        .execute(pool)
        .await
        .map(|done| done.rows_affected() > 0)
        .map_err(StoreError::db("remove SCIM group member"))
}

pub(super) async fn list_user_scim_groups(pool: &Pool<Db>, user: UserId) -> Result<Vec<ScimGroup>, StoreError> {
    sqlx::query(
        "SELECT g.id, g.display_name, g.external_id, g.created_at FROM scim_groups g \
         JOIN scim_group_members m ON m.group_id = g.id WHERE m.user_id = $1 ORDER BY g.display_name",
    )
    .bind(uuid_param(user.0))
    .fetch_all(pool)
    .await
    .map_err(StoreError::db("list SCIM groups of user"))?
    .iter()
    .map(group_from_row)
    .collect()
}
