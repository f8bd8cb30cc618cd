//! Roles and role membership.

use portcullis_core::{Role, RoleGrant, RoleId, RoleName, UserId};
use sqlx::{Pool, Transaction};
use uuid::Uuid;

use super::backend::{uuid_column, uuid_param, Db, Row, BEGIN_WRITE, FOR_SHARE};
use super::column;
use super::users::{not_found, user_columns, user_from_row};
use crate::columns::{from_micros, to_micros};
use crate::error::{is_unique_violation, StoreError};
use crate::store::{RoleMember, RoleMembership};

/// Columns read by [`role_from_row`], qualified with the alias `r`.
macro_rules! role_columns {
    () => {
        "r.id, r.name, r.description, r.created_at"
    };
}

/// Columns read by [`grant_from_row`], qualified with the alias `m`.
macro_rules! grant_columns {
    () => {
        "m.user_id, m.role_id, m.granted_by, m.granted_at"
    };
}

fn role_from_row(row: &Row) -> Result<Role, StoreError> {
    let name: String = column(row, "name")?;
    Ok(Role {
        id: RoleId(uuid_column(row, "id")?),
        name: RoleName::new(&name).map_err(|error| StoreError::Corrupt {
            column: "name",
            detail: error.to_string(),
        })?,
        description: column(row, "description")?,
        created_at: from_micros("created_at", column(row, "created_at")?)?,
    })
}

fn grant_from_row(row: &Row) -> Result<RoleGrant, StoreError> {
    Ok(RoleGrant {
        user_id: UserId(uuid_column(row, "user_id")?),
        role_id: RoleId(uuid_column(row, "role_id")?),
        granted_by: UserId(uuid_column(row, "granted_by")?),
        granted_at: from_micros("granted_at", column(row, "granted_at")?)?,
    })
}

pub(super) async fn create_role(pool: &Pool<Db>, role: &Role) -> Result<(), StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO roles (id, name, description, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(uuid_param(role.id.0))
    .bind(role.name.as_str())
    .bind(&role.description)
    .bind(to_micros(role.created_at))
    .execute(pool)
    .await;
    match inserted {
        Err(error) if is_unique_violation(&error) => Err(StoreError::Duplicate {
            entity: "role",
            name: role.name.to_string(),
        }),
        other => other.map(|_| ()).map_err(StoreError::db("insert role")),
    }
}

pub(super) async fn get_role_by_name(
    pool: &Pool<Db>,
    name: &RoleName,
) -> Result<Option<Role>, StoreError> {
    sqlx::query(concat!(
        "SELECT ",
        role_columns!(),
        " FROM roles r WHERE r.name = $1"
    ))
    .bind(name.as_str())
    .fetch_optional(pool)
    .await
    .map_err(StoreError::db("get role by name"))?
    .as_ref()
    .map(role_from_row)
    .transpose()
}

pub(super) async fn list_roles(pool: &Pool<Db>) -> Result<Vec<Role>, StoreError> {
    sqlx::query(concat!(
        "SELECT ",
        role_columns!(),
        " FROM roles r ORDER BY r.name"
    ))
    .fetch_all(pool)
    .await
    .map_err(StoreError::db("list roles"))?
    .iter()
    .map(role_from_row)
    .collect()
}

pub(super) async fn grant_role(pool: &Pool<Db>, grant: &RoleGrant) -> Result<bool, StoreError> {
    let mut tx = pool
        .begin_with(BEGIN_WRITE)
        .await
        .map_err(StoreError::db("begin grant role"))?;
    for user in [grant.user_id, grant.granted_by] {
        if !row_exists(&mut tx, "users", user.0).await? {
            return Err(not_found(user));
        }
    }
    if !row_exists(&mut tx, "roles", grant.role_id.0).await? {
        return Err(StoreError::NotFound {
            entity: "role",
            id: grant.role_id.to_string(),
        });
    }

    let inserted = sqlx::query(
        "INSERT INTO role_members (user_id, role_id, granted_by, granted_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (user_id, role_id) DO NOTHING",
    )
    .bind(uuid_param(grant.user_id.0))
    .bind(uuid_param(grant.role_id.0))
    .bind(uuid_param(grant.granted_by.0))
    .bind(to_micros(grant.granted_at))
    .execute(&mut *tx)
    .await
    .map_err(StoreError::db("insert role grant"))?;
    tx.commit()
        .await
        .map_err(StoreError::db("commit grant role"))?;
    Ok(inserted.rows_affected() == 1)
}

/// Returns whether `table` has a row with `id`. The row cannot change until the
/// transaction ends (a row lock in PostgreSQL, the write lock in SQLite), so it cannot
/// disappear before the grant refers to it.
async fn row_exists(
    tx: &mut Transaction<'static, Db>,
    table: &str,
    id: Uuid,
) -> Result<bool, StoreError> {
    let sql = format!("SELECT 1 FROM {table} WHERE id = $1{FOR_SHARE}");
    let row = sqlx::query(&sql)
        .bind(uuid_param(id))
        .fetch_optional(&mut **tx)
        .await
        .map_err(StoreError::db("check referenced row"))?;
    Ok(row.is_some())
}

pub(super) async fn revoke_role(
    pool: &Pool<Db>,
    user: UserId,
    role: RoleId,
) -> Result<bool, StoreError> {
    let deleted = sqlx::query("DELETE FROM role_members WHERE user_id = $1 AND role_id = $2")
        .bind(uuid_param(user.0))
        .bind(uuid_param(role.0))
        .execute(pool)
        .await
        .map_err(StoreError::db("revoke role"))?;
    Ok(deleted.rows_affected() == 1)
}

pub(super) async fn list_user_roles(
    pool: &Pool<Db>,
    user: UserId,
) -> Result<Vec<RoleMembership>, StoreError> {
    let sql = concat!(
        "SELECT ", role_columns!(), ", ", grant_columns!(),
        " FROM role_members m JOIN roles r ON r.id = m.role_id WHERE m.user_id = $1 ORDER BY r.name"
    );
    let rows = sqlx::query(sql)
        .bind(uuid_param(user.0))
        .fetch_all(pool)
        .await
        .map_err(StoreError::db("list user roles"))?;
    rows.iter()
        .map(|row| {
            Ok(RoleMembership {
                role: role_from_row(row)?,
                grant: grant_from_row(row)?,
            })
        })
        .collect()
}

pub(super) async fn list_role_members(
    pool: &Pool<Db>,
    role: RoleId,
) -> Result<Vec<RoleMember>, StoreError> {
    let sql = concat!(
        "SELECT ", user_columns!(), ", ", grant_columns!(),
        " FROM role_members m JOIN users u ON u.id = m.user_id WHERE m.role_id = $1 ORDER BY u.name"
    );
    let rows = sqlx::query(sql)
        .bind(uuid_param(role.0))
        .fetch_all(pool)
        .await
        .map_err(StoreError::db("list role members"))?;
    rows.iter()
        .map(|row| {
            Ok(RoleMember {
                user: user_from_row(row)?,
                grant: grant_from_row(row)?,
            })
        })
        .collect()
}
