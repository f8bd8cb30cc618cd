//! Users and their credentials.

use portcullis_core::scram::{generate_scram_salt, DEFAULT_SCRAM_ITERATIONS};
use portcullis_core::{MfaState, User, UserId, UserName};
use sqlx::{Pool, Transaction};
use time::OffsetDateTime;

use super::backend::{uuid_column, uuid_column_opt, uuid_param, Db, Row, BEGIN_WRITE, FOR_SHARE};
use super::column;
use crate::columns::{
    from_micros, from_micros_opt, iterations_from_column, kind_from_columns, kind_to_column,
    salt_from_column, step_from_column, step_to_column, to_micros,
};
use crate::error::{is_unique_violation, OwnerProblem, StoreError};
use crate::store::{Credentials, NewUser};

/// Columns read by [`user_from_row`], qualified with the alias `u`.
macro_rules! user_columns {
    () => {
        "u.id, u.name, u.kind, u.owner_id, u.display_name, u.department, u.job_role, u.disabled, \
         u.created_at, u.totp_enrolled_at"
    };
}
pub(super) use user_columns;

/// Builds a [`User`] from a row holding [`user_columns`].
pub(super) fn user_from_row(row: &Row) -> Result<User, StoreError> {
    let name: String = column(row, "name")?;
    let kind: String = column(row, "kind")?;
    let enrolled_at = from_micros_opt("totp_enrolled_at", column(row, "totp_enrolled_at")?)?;

    Ok(User {
        id: UserId(uuid_column(row, "id")?),
        name: UserName::new(&name).map_err(|error| StoreError::Corrupt {
            column: "name",
            detail: error.to_string(),
        })?,
        kind: kind_from_columns(&kind, uuid_column_opt(row, "owner_id")?)?,
        display_name: column(row, "display_name")?,
        department: column(row, "department")?,
        job_role: column(row, "job_role")?,
        disabled: column(row, "disabled")?,
        created_at: from_micros("created_at", column(row, "created_at")?)?,
        mfa: match enrolled_at {
            Some(enrolled_at) => MfaState::Totp { enrolled_at },
            None => MfaState::NotEnrolled,
        },
    })
}

pub(super) async fn create_user(pool: &Pool<Db>, new: &NewUser) -> Result<User, StoreError> {
    let mut tx = pool
        .begin_with(BEGIN_WRITE)
        .await
        .map_err(StoreError::db("begin create user"))?;
    if let Some(owner) = new.kind.owner() {
        check_owner(&mut tx, owner).await?;
    }

    let inserted = sqlx::query(
        "INSERT INTO users (id, name, kind, owner_id, display_name, department, job_role, disabled, created_at, \
         password_hash, password_change_required, totp_secret, totp_enrolled_at, scram_salt, scram_iterations) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, FALSE, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(uuid_param(new.id.0))
    .bind(new.name.as_str())
    .bind(kind_to_column(&new.kind))
    .bind(new.kind.owner().map(|owner| uuid_param(owner.0)))
    .bind(&new.display_name)
    .bind(&new.department)
    .bind(&new.job_role)
    .bind(to_micros(new.created_at))
    .bind(&new.password_hash)
    .bind(new.password_change_required)
    .bind(&new.totp_secret_sealed)
    .bind(new.totp_secret_sealed.as_ref().map(|_| to_micros(new.created_at)))
    .bind(generate_scram_salt().to_vec())
    .bind(i64::from(DEFAULT_SCRAM_ITERATIONS))
    .execute(&mut *tx)
    .await;
    match inserted {
        Err(error) if is_unique_violation(&error) => {
            return Err(StoreError::Duplicate {
                entity: "user",
                name: new.name.to_string(),
            });
        }
        other => other.map_err(StoreError::db("insert user"))?,
    };
    tx.commit()
        .await
        .map_err(StoreError::db("commit create user"))?;

    Ok(User {
        id: new.id,
        name: new.name.clone(),
        kind: new.kind,
        display_name: new.display_name.clone(),
        department: new.department.clone(),
        job_role: new.job_role.clone(),
        disabled: false,
        created_at: new.created_at,
        mfa: match new.totp_secret_sealed {
            Some(_) => MfaState::Totp {
                enrolled_at: new.created_at,
            },
            None => MfaState::NotEnrolled,
        },
    })
}

/// Checks that a service account's owner exists, is human and is enabled, and keeps
/// the owner's row from changing until the transaction ends.
async fn check_owner(tx: &mut Transaction<'static, Db>, owner: UserId) -> Result<(), StoreError> {
    let sql = format!("SELECT kind, disabled FROM users WHERE id = $1{FOR_SHARE}");
    let row = sqlx::query(&sql)
        .bind(uuid_param(owner.0))
        .fetch_optional(&mut **tx)
        .await
        .map_err(StoreError::db("read service account owner"))?;
    let problem = match row {
        None => Some(OwnerProblem::NotFound),
        Some(row) => {
            let kind: String = column(&row, "kind")?;
            let disabled: bool = column(&row, "disabled")?;
            if kind != "human" {
                Some(OwnerProblem::ServiceAccount)
            } else if disabled {
                Some(OwnerProblem::Disabled)
            } else {
                None
            }
        }
    };
    match problem {
        Some(problem) => Err(StoreError::InvalidOwner { owner, problem }),
        None => Ok(()),
    }
}

pub(super) async fn get_user(pool: &Pool<Db>, id: UserId) -> Result<Option<User>, StoreError> {
    sqlx::query(concat!(
        "SELECT ",
        user_columns!(),
        " FROM users u WHERE u.id = $1"
    ))
    .bind(uuid_param(id.0))
    .fetch_optional(pool)
    .await
    .map_err(StoreError::db("get user"))?
    .as_ref()
    .map(user_from_row)
    .transpose()
}

pub(super) async fn get_user_by_name(
    pool: &Pool<Db>,
    name: &UserName,
) -> Result<Option<User>, StoreError> {
    sqlx::query(concat!(
        "SELECT ",
        user_columns!(),
        " FROM users u WHERE u.name = $1"
    ))
    .bind(name.as_str())
    .fetch_optional(pool)
    .await
    .map_err(StoreError::db("get user by name"))?
    .as_ref()
    .map(user_from_row)
    .transpose()
}

pub(super) async fn list_users(pool: &Pool<Db>) -> Result<Vec<User>, StoreError> {
    sqlx::query(concat!(
        "SELECT ",
        user_columns!(),
        " FROM users u ORDER BY u.name"
    ))
    .fetch_all(pool)
    .await
    .map_err(StoreError::db("list users"))?
    .iter()
    .map(user_from_row)
    .collect()
}

pub(super) async fn set_user_disabled(
    pool: &Pool<Db>,
    id: UserId,
    disabled: bool,
    at: OffsetDateTime,
) -> Result<u64, StoreError> {
    let mut tx = pool
        .begin_with(BEGIN_WRITE)
        .await
        .map_err(StoreError::db("begin disable user"))?;
    let updated = sqlx::query("UPDATE users SET disabled = $2 WHERE id = $1")
        .bind(uuid_param(id.0))
        .bind(disabled)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db("set user disabled"))?;
    if updated.rows_affected() == 0 {
        return Err(not_found(id));
    }

    let mut revoked = 0;
    if disabled {
        revoked = sqlx::query(
            "UPDATE tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
        )
        .bind(uuid_param(id.0))
        .bind(to_micros(at))
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db("revoke tokens of disabled user"))?
        .rows_affected();
        // Temporary grants end too, so that re-enabling the user does not bring them back.
        sqlx::query(
            "UPDATE access_requests SET state = 'revoked' WHERE id IN (SELECT request_id FROM grants \
             WHERE user_id = $1 AND revoked_at IS NULL AND ends_at > $2)",
        )
        .bind(uuid_param(id.0))
        .bind(to_micros(at))
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db("mark requests of disabled user revoked"))?;
        sqlx::query(
            "UPDATE grants SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL AND ends_at > $2",
        )
        .bind(uuid_param(id.0))
        .bind(to_micros(at))
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db("revoke grants of disabled user"))?;
    }
    tx.commit()
        .await
        .map_err(StoreError::db("commit disable user"))?;
    Ok(revoked)
}

pub(super) async fn set_user_attributes(
    pool: &Pool<Db>,
    id: UserId,
    department: Option<&str>,
    job_role: Option<&str>,
) -> Result<(), StoreError> {
    let updated = sqlx::query("UPDATE users SET department = $2, job_role = $3 WHERE id = $1")
        .bind(uuid_param(id.0))
        .bind(department)
        .bind(job_role)
        .execute(pool)
        .await
        .map_err(StoreError::db("set user attributes"))?;
    require_one(updated.rows_affected(), id)
}

pub(super) async fn get_credentials(
    pool: &Pool<Db>,
    id: UserId,
) -> Result<Option<Credentials>, StoreError> {
    let row = sqlx::query(
        "SELECT password_hash, password_change_required, totp_secret, totp_last_step, scram_salt, scram_iterations \
         FROM users WHERE id = $1",
    )
    .bind(uuid_param(id.0))
    .fetch_optional(pool)
    .await
    .map_err(StoreError::db("get credentials"))?;
    let Some(row) = row else {
        return Ok(None);
    };
    let salt: Vec<u8> = column(&row, "scram_salt")?;

    Ok(Some(Credentials {
        password_hash: column(&row, "password_hash")?,
        password_change_required: column(&row, "password_change_required")?,
        totp_secret_sealed: column(&row, "totp_secret")?,
        totp_last_step: step_from_column(column(&row, "totp_last_step")?)?,
        scram_salt: salt_from_column(&salt)?,
        scram_iterations: iterations_from_column(column(&row, "scram_iterations")?)?,
    }))
}

pub(super) async fn set_password_hash(
    pool: &Pool<Db>,
    id: UserId,
    phc: &str,
    change_required: bool,
) -> Result<(), StoreError> {
    let updated = sqlx::query(
        "UPDATE users SET password_hash = $2, password_change_required = $3 WHERE id = $1",
    )
    .bind(uuid_param(id.0))
    .bind(phc)
    .bind(change_required)
    .execute(pool)
    .await
    .map_err(StoreError::db("set password hash"))?;
    require_one(updated.rows_affected(), id)
}

pub(super) async fn set_totp_secret(
    pool: &Pool<Db>,
    id: UserId,
    sealed: Option<&[u8]>,
    at: OffsetDateTime,
) -> Result<(), StoreError> {
    let updated = sqlx::query(
        "UPDATE users SET totp_secret = $2, totp_enrolled_at = $3, totp_last_step = NULL WHERE id = $1",
    )
    .bind(uuid_param(id.0))
    .bind(sealed)
    .bind(sealed.map(|_| to_micros(at)))
    .execute(pool)
    .await
    .map_err(StoreError::db("set TOTP secret"))?;
    require_one(updated.rows_affected(), id)
}

pub(super) async fn accept_totp_step(
    pool: &Pool<Db>,
    id: UserId,
    step: u64,
) -> Result<bool, StoreError> {
    let updated = sqlx::query(
        "UPDATE users SET totp_last_step = $2 \
         WHERE id = $1 AND totp_secret IS NOT NULL AND (totp_last_step IS NULL OR totp_last_step < $2)",
    )
    .bind(uuid_param(id.0))
    .bind(step_to_column(step))
    .execute(pool)
    .await
    .map_err(StoreError::db("accept TOTP step"))?;
    Ok(updated.rows_affected() == 1)
}

fn require_one(rows: u64, id: UserId) -> Result<(), StoreError> {
    match rows {
        0 => Err(not_found(id)),
        _ => Ok(()),
    }
}

pub(super) fn not_found(id: UserId) -> StoreError {
    StoreError::NotFound {
        entity: "user",
        id: id.to_string(),
    }
}
