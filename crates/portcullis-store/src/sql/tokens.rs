//! Issued tokens, stored by the SHA-256 hash of their text with their SCRAM keys.

use portcullis_core::{ScramKeys, TokenHash, TokenId, TokenRecord, UserId, UserName};
use sqlx::Pool;
use time::OffsetDateTime;

use super::backend::{uuid_column, uuid_column_opt, uuid_param, Db, Row};
use super::column;
use super::users::not_found;
use crate::columns::{
    address_from_column, from_micros, from_micros_opt, hash_from_column, iterations_from_column,
    salt_from_column, scram_keys_from_columns, to_micros,
};
use crate::error::{is_foreign_key_violation, StoreError};
use crate::store::{TokenScramVerifier, UserScramVerifiers};

const TOKEN_COLUMNS: &str =
    "id, user_id, hash, issued_at, expires_at, revoked_at, mfa_at, source_addr";

fn token_from_row(row: &Row) -> Result<TokenRecord, StoreError> {
    let hash: Vec<u8> = column(row, "hash")?;
    Ok(TokenRecord {
        id: TokenId(uuid_column(row, "id")?),
        user_id: UserId(uuid_column(row, "user_id")?),
        hash: hash_from_column(&hash)?,
        issued_at: from_micros("issued_at", column(row, "issued_at")?)?,
        expires_at: from_micros("expires_at", column(row, "expires_at")?)?,
        revoked_at: from_micros_opt("revoked_at", column(row, "revoked_at")?)?,
        mfa_at: from_micros("mfa_at", column(row, "mfa_at")?)?,
        source_addr: address_from_column(column(row, "source_addr")?)?,
    })
}

pub(super) async fn insert_token(
    pool: &Pool<Db>,
    token: &TokenRecord,
    scram: &ScramKeys,
) -> Result<(), StoreError> {
    let inserted = sqlx::query(&format!(
        "INSERT INTO tokens ({TOKEN_COLUMNS}, scram_stored_key, scram_server_key) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    ))
    .bind(uuid_param(token.id.0))
    .bind(uuid_param(token.user_id.0))
    .bind(token.hash.0.as_slice())
    .bind(to_micros(token.issued_at))
    .bind(to_micros(token.expires_at))
    .bind(token.revoked_at.map(to_micros))
    .bind(to_micros(token.mfa_at))
    .bind(token.source_addr.map(|address| address.to_string()))
    .bind(scram.stored_key.as_slice())
    .bind(scram.server_key.as_slice())
    .execute(pool)
    .await;
    match inserted {
        Err(error) if is_foreign_key_violation(&error) => Err(not_found(token.user_id)),
        other => other.map(|_| ()).map_err(StoreError::db("insert token")),
    }
}

pub(super) async fn get_token_by_hash(
    pool: &Pool<Db>,
    hash: &TokenHash,
) -> Result<Option<TokenRecord>, StoreError> {
    sqlx::query(&format!(
        "SELECT {TOKEN_COLUMNS} FROM tokens WHERE hash = $1"
    ))
    .bind(hash.0.as_slice())
    .fetch_optional(pool)
    .await
    .map_err(StoreError::db("get token by hash"))?
    .as_ref()
    .map(token_from_row)
    .transpose()
}

pub(super) async fn revoke_token(
    pool: &Pool<Db>,
    id: TokenId,
    at: OffsetDateTime,
) -> Result<bool, StoreError> {
    let updated =
        sqlx::query("UPDATE tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
            .bind(uuid_param(id.0))
            .bind(to_micros(at))
            .execute(pool)
            .await
            .map_err(StoreError::db("revoke token"))?;
    Ok(updated.rows_affected() == 1)
}

pub(super) async fn revoke_user_tokens(
    pool: &Pool<Db>,
    user: UserId,
    at: OffsetDateTime,
) -> Result<u64, StoreError> {
    let updated =
        sqlx::query("UPDATE tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL")
            .bind(uuid_param(user.0))
            .bind(to_micros(at))
            .execute(pool)
            .await
            .map_err(StoreError::db("revoke user tokens"))?;
    Ok(updated.rows_affected())
}

pub(super) async fn list_active_tokens(
    pool: &Pool<Db>,
    user: UserId,
    now: OffsetDateTime,
) -> Result<Vec<TokenRecord>, StoreError> {
    let sql = format!(
        "SELECT {TOKEN_COLUMNS} FROM tokens \
         WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 ORDER BY issued_at DESC, id"
    );
    sqlx::query(&sql)
        .bind(uuid_param(user.0))
        .bind(to_micros(now))
        .fetch_all(pool)
        .await
        .map_err(StoreError::db("list active tokens"))?
        .iter()
        .map(token_from_row)
        .collect()
}

/// Reads the user and the live tokens in one statement, so the result is one snapshot
/// even while the user is being disabled. The left join keeps the user's row when no
/// token is live.
pub(super) async fn scram_verifiers(
    pool: &Pool<Db>,
    user: &UserName,
    now: OffsetDateTime,
) -> Result<Option<UserScramVerifiers>, StoreError> {
    let rows = sqlx::query(
        "SELECT u.id, u.scram_salt, u.scram_iterations, \
         t.id AS token_id, t.scram_stored_key, t.scram_server_key, t.expires_at, t.mfa_at \
         FROM users u LEFT JOIN tokens t ON t.user_id = u.id AND t.revoked_at IS NULL \
         AND t.expires_at > $2 AND t.scram_stored_key IS NOT NULL \
         WHERE u.name = $1 AND u.disabled = FALSE \
         ORDER BY t.issued_at DESC, t.id",
    )
    .bind(user.as_str())
    .bind(to_micros(now))
    .fetch_all(pool)
    .await
    .map_err(StoreError::db("read SCRAM verifiers"))?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };

    let salt: Vec<u8> = column(first, "scram_salt")?;
    let mut tokens = Vec::with_capacity(rows.len());
    for row in &rows {
        if let Some(verifier) = token_verifier_from_row(row)? {
            tokens.push(verifier);
        }
    }
    Ok(Some(UserScramVerifiers {
        user_id: UserId(uuid_column(first, "id")?),
        salt: salt_from_column(&salt)?,
        iterations: iterations_from_column(column(first, "scram_iterations")?)?,
        tokens,
    }))
}

/// Builds the verifier of the token in a row of [`scram_verifiers`], or returns `None`
/// for the row of a user without live tokens.
fn token_verifier_from_row(row: &Row) -> Result<Option<TokenScramVerifier>, StoreError> {
    let Some(token_id) = uuid_column_opt(row, "token_id")? else {
        return Ok(None);
    };
    let stored_key: Option<Vec<u8>> = column(row, "scram_stored_key")?;
    let server_key: Option<Vec<u8>> = column(row, "scram_server_key")?;
    let expires_at: Option<i64> = column(row, "expires_at")?;
    let mfa_at: Option<i64> = column(row, "mfa_at")?;
    let (Some(stored_key), Some(server_key), Some(expires_at), Some(mfa_at)) =
        (stored_key, server_key, expires_at, mfa_at)
    else {
        return Err(StoreError::Corrupt {
            column: "scram_server_key",
            detail: format!(
                "token {token_id} has a stored key but no server key, expiry or MFA time"
            ),
        });
    };

    Ok(Some(TokenScramVerifier {
        token_id: TokenId(token_id),
        keys: scram_keys_from_columns(&stored_key, &server_key)?,
        expires_at: from_micros("expires_at", expires_at)?,
        mfa_at: from_micros("mfa_at", mfa_at)?,
    }))
}

pub(super) async fn delete_expired_tokens(
    pool: &Pool<Db>,
    now: OffsetDateTime,
) -> Result<u64, StoreError> {
    let deleted = sqlx::query("DELETE FROM tokens WHERE expires_at <= $1")
        .bind(to_micros(now))
        .execute(pool)
        .await
        .map_err(StoreError::db("delete expired tokens"))?;
    Ok(deleted.rows_affected())
}
