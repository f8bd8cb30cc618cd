//! Just-in-time access requests and their decisions, temporary grants, and break-glass
//! reviews.

use std::time::Duration;

use portcullis_core::access::{
    AccessGrant, AccessRequest, BreakGlassReview, Decision, GrantSource, RequestDecision,
    RequestState,
};
use portcullis_core::{AccessRequestId, GrantId, ReviewId, RoleId, RoleName, UserId};
use sqlx::{Pool, Transaction};
use time::OffsetDateTime;

use super::backend::{uuid_column, uuid_column_opt, uuid_param, Db, Row, BEGIN_WRITE, FOR_UPDATE};
use super::column;
use crate::columns::{from_micros, from_micros_opt, to_micros};
use crate::error::{is_foreign_key_violation, is_unique_violation, StoreError};
use crate::store::DecisionOutcome;

const REQUEST_COLUMNS: &str = "q.id, q.requester_id, q.role_id, r.name AS role_name, q.target, \
     q.duration_secs, q.reason, q.state, q.created_at, q.expires_at";
const GRANT_COLUMNS: &str = "g.id, g.user_id, g.role_id, r.name AS role_name, g.target, g.source, \
     g.reason, g.starts_at, g.ends_at, g.revoked_at, g.revoked_by, g.request_id";
const REVIEW_COLUMNS: &str = "v.id AS review_id, v.grant_id, v.opened_at, v.reviewed_by, \
     v.reviewed_at, v.notes";

fn corrupt(column: &'static str, detail: String) -> StoreError {
    StoreError::Corrupt { column, detail }
}

fn role_name(row: &Row) -> Result<RoleName, StoreError> {
    let name: String = column(row, "role_name")?;
    RoleName::new(&name).map_err(|error| corrupt("name", error.to_string()))
}

fn request_from_row(row: &Row) -> Result<AccessRequest, StoreError> {
    let duration: i64 = column(row, "duration_secs")?;
    let state: String = column(row, "state")?;
    Ok(AccessRequest {
        id: AccessRequestId(uuid_column(row, "id")?),
        requester_id: UserId(uuid_column(row, "requester_id")?),
        role_id: RoleId(uuid_column(row, "role_id")?),
        role: role_name(row)?,
        target: column(row, "target")?,
        duration: u64::try_from(duration)
            .map(Duration::from_secs)
            .map_err(|_| corrupt("duration_secs", format!("negative duration {duration}")))?,
        reason: column(row, "reason")?,
        state: state.parse().map_err(|error| corrupt("state", error))?,
        created_at: from_micros("created_at", column(row, "created_at")?)?,
        expires_at: from_micros("expires_at", column(row, "expires_at")?)?,
    })
}

fn grant_from_row(row: &Row) -> Result<AccessGrant, StoreError> {
    let source: String = column(row, "source")?;
    Ok(AccessGrant {
        id: GrantId(uuid_column(row, "id")?),
        user_id: UserId(uuid_column(row, "user_id")?),
        role_id: RoleId(uuid_column(row, "role_id")?),
        role: role_name(row)?,
        target: column(row, "target")?,
        source: source.parse().map_err(|error| corrupt("source", error))?,
        reason: column(row, "reason")?,
        starts_at: from_micros("starts_at", column(row, "starts_at")?)?,
        ends_at: from_micros("ends_at", column(row, "ends_at")?)?,
        revoked_at: from_micros_opt("revoked_at", column(row, "revoked_at")?)?,
        revoked_by: uuid_column_opt(row, "revoked_by")?.map(UserId),
        request_id: uuid_column_opt(row, "request_id")?.map(AccessRequestId),
    })
}

fn review_from_row(row: &Row) -> Result<BreakGlassReview, StoreError> {
    Ok(BreakGlassReview {
        id: ReviewId(uuid_column(row, "review_id")?),
        grant_id: GrantId(uuid_column(row, "grant_id")?),
        opened_at: from_micros("opened_at", column(row, "opened_at")?)?,
        reviewed_by: uuid_column_opt(row, "reviewed_by")?.map(UserId),
        reviewed_at: from_micros_opt("reviewed_at", column(row, "reviewed_at")?)?,
        notes: column(row, "notes")?,
    })
}

fn seconds(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

/// Maps a foreign key violation to a [`StoreError::NotFound`] naming the records that
/// must exist.
fn missing_reference(what: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |error| {
        if is_foreign_key_violation(&error) {
            StoreError::NotFound {
                entity: what,
                id: "referenced by the new record".to_owned(),
            }
        } else {
            StoreError::Database {
                operation: what,
                source: error,
            }
        }
    }
}

pub(super) async fn insert_access_request(
    pool: &Pool<Db>,
    request: &AccessRequest,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO access_requests (id, requester_id, role_id, target, duration_secs, reason, \
         state, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(uuid_param(request.id.0))
    .bind(uuid_param(request.requester_id.0))
    .bind(uuid_param(request.role_id.0))
    .bind(request.target.as_deref())
    .bind(seconds(request.duration))
    .bind(&request.reason)
    .bind(request.state.as_str())
    .bind(to_micros(request.created_at))
    .bind(to_micros(request.expires_at))
    .execute(pool)
    .await
    .map_err(missing_reference("user or role of the access request"))?;
    Ok(())
}

pub(super) async fn get_access_request(
    pool: &Pool<Db>,
    id: AccessRequestId,
) -> Result<Option<AccessRequest>, StoreError> {
    let sql = format!(
        "SELECT {REQUEST_COLUMNS} FROM access_requests q JOIN roles r ON r.id = q.role_id \
         WHERE q.id = $1"
    );
    sqlx::query(&sql)
        .bind(uuid_param(id.0))
        .fetch_optional(pool)
        .await
        .map_err(StoreError::db("get access request"))?
        .as_ref()
        .map(request_from_row)
        .transpose()
}

pub(super) async fn list_access_requests(
    pool: &Pool<Db>,
) -> Result<Vec<AccessRequest>, StoreError> {
    let sql = format!(
        "SELECT {REQUEST_COLUMNS} FROM access_requests q JOIN roles r ON r.id = q.role_id \
         ORDER BY q.created_at DESC, q.id"
    );
    sqlx::query(&sql)
        .fetch_all(pool)
        .await
        .map_err(StoreError::db("list access requests"))?
        .iter()
        .map(request_from_row)
        .collect()
}

pub(super) async fn list_request_decisions(
    pool: &Pool<Db>,
    id: AccessRequestId,
) -> Result<Vec<RequestDecision>, StoreError> {
    let rows = sqlx::query(
        "SELECT request_id, approver_id, decision, decided_at FROM request_decisions \
         WHERE request_id = $1 ORDER BY decided_at, approver_id",
    )
    .bind(uuid_param(id.0))
    .fetch_all(pool)
    .await
    .map_err(StoreError::db("list request decisions"))?;
    rows.iter()
        .map(|row| {
            let decision: String = column(row, "decision")?;
            Ok(RequestDecision {
                request_id: AccessRequestId(uuid_column(row, "request_id")?),
                approver_id: UserId(uuid_column(row, "approver_id")?),
                decision: decision.parse().map_err(|error| corrupt("decision", error))?,
                decided_at: from_micros("decided_at", column(row, "decided_at")?)?,
            })
        })
        .collect()
}

/// Records one decision and moves the request on in one transaction, with the request
/// row locked, so that concurrent approvals are all counted and approve at most once.
pub(super) async fn decide_access_request(
    pool: &Pool<Db>,
    decision: &RequestDecision,
    approvals_required: u32,
) -> Result<DecisionOutcome, StoreError> {
    let mut tx = pool
        .begin_with(BEGIN_WRITE)
        .await
        .map_err(StoreError::db("begin decide access request"))?;
    let sql = format!(
        "SELECT {REQUEST_COLUMNS} FROM access_requests q JOIN roles r ON r.id = q.role_id \
         WHERE q.id = $1{FOR_UPDATE}"
    );
    let request = sqlx::query(&sql)
        .bind(uuid_param(decision.request_id.0))
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::db("lock access request"))?
        .as_ref()
        .map(request_from_row)
        .transpose()?
        .ok_or_else(|| StoreError::NotFound {
            entity: "access request",
            id: decision.request_id.to_string(),
        })?;
    if request.state != RequestState::Pending {
        return Ok(DecisionOutcome::NotPending(request.state));
    }
    if request.expires_at <= decision.decided_at {
        set_request_state(&mut tx, request.id, RequestState::Expired).await?;
        commit(tx).await?;
        return Ok(DecisionOutcome::NotPending(RequestState::Expired));
    }

    let inserted = sqlx::query(
        "INSERT INTO request_decisions (request_id, approver_id, decision, decided_at) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(uuid_param(decision.request_id.0))
    .bind(uuid_param(decision.approver_id.0))
    .bind(decision.decision.as_str())
    .bind(to_micros(decision.decided_at))
    .execute(&mut *tx)
    .await;
    match inserted {
        Err(error) if is_unique_violation(&error) => return Ok(DecisionOutcome::AlreadyDecided),
        other => other.map_err(missing_reference("approver of the decision"))?,
    };

    let outcome = match decision.decision {
        Decision::Deny => {
            set_request_state(&mut tx, request.id, RequestState::Denied).await?;
            DecisionOutcome::Denied
        }
        Decision::Approve => approve_if_complete(&mut tx, &request, decision, approvals_required).await?,
    };
    commit(tx).await?;
    Ok(outcome)
}

async fn approve_if_complete(
    tx: &mut Transaction<'static, Db>,
    request: &AccessRequest,
    decision: &RequestDecision,
    approvals_required: u32,
) -> Result<DecisionOutcome, StoreError> {
    let approvals: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM request_decisions WHERE request_id = $1 AND decision = 'approve'",
    )
    .bind(uuid_param(request.id.0))
    .fetch_one(&mut **tx)
    .await
    .map_err(StoreError::db("count approvals"))?;
    let approvals = u32::try_from(approvals).unwrap_or(u32::MAX);
    if approvals < approvals_required {
        return Ok(DecisionOutcome::AwaitingApprovals {
            approvals,
            required: approvals_required,
        });
    }

    set_request_state(tx, request.id, RequestState::Approved).await?;
    let grant = AccessGrant {
        id: GrantId::new_random(),
        user_id: request.requester_id,
        role_id: request.role_id,
        role: request.role.clone(),
        target: request.target.clone(),
        source: GrantSource::Jit,
        reason: request.reason.clone(),
        starts_at: decision.decided_at,
        ends_at: decision.decided_at + request.duration,
        revoked_at: None,
        revoked_by: None,
        request_id: Some(request.id),
    };
    insert_grant(tx, &grant).await?;
    Ok(DecisionOutcome::Approved(grant))
}

async fn set_request_state(
    tx: &mut Transaction<'static, Db>,
    id: AccessRequestId,
    state: RequestState,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE access_requests SET state = $1 WHERE id = $2")
        .bind(state.as_str())
        .bind(uuid_param(id.0))
        .execute(&mut **tx)
        .await
        .map_err(StoreError::db("update access request state"))?;
    Ok(())
}

async fn insert_grant(
    tx: &mut Transaction<'static, Db>,
    grant: &AccessGrant,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO grants (id, user_id, role_id, target, source, reason, starts_at, ends_at, \
         revoked_at, revoked_by, request_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(uuid_param(grant.id.0))
    .bind(uuid_param(grant.user_id.0))
    .bind(uuid_param(grant.role_id.0))
    .bind(grant.target.as_deref())
    .bind(grant.source.as_str())
    .bind(&grant.reason)
    .bind(to_micros(grant.starts_at))
    .bind(to_micros(grant.ends_at))
    .bind(grant.revoked_at.map(to_micros))
    .bind(grant.revoked_by.map(|user| uuid_param(user.0)))
    .bind(grant.request_id.map(|request| uuid_param(request.0)))
    .execute(&mut **tx)
    .await
    .map_err(missing_reference("user or role of the grant"))?;
    Ok(())
}

async fn commit(tx: Transaction<'static, Db>) -> Result<(), StoreError> {
    tx.commit().await.map_err(StoreError::db("commit access change"))
}

pub(super) async fn expire_access_requests(
    pool: &Pool<Db>,
    now: OffsetDateTime,
) -> Result<Vec<AccessRequestId>, StoreError> {
    let rows = sqlx::query(
        "UPDATE access_requests SET state = 'expired' \
         WHERE state = 'pending' AND expires_at <= $1 RETURNING id",
    )
    .bind(to_micros(now))
    .fetch_all(pool)
    .await
    .map_err(StoreError::db("expire access requests"))?;
    rows.iter()
        .map(|row| Ok(AccessRequestId(uuid_column(row, "id")?)))
        .collect()
}

pub(super) async fn withdraw_access_request(
    pool: &Pool<Db>,
    id: AccessRequestId,
) -> Result<bool, StoreError> {
    let updated =
        sqlx::query("UPDATE access_requests SET state = 'revoked' WHERE id = $1 AND state = 'pending'")
            .bind(uuid_param(id.0))
            .execute(pool)
            .await
            .map_err(StoreError::db("withdraw access request"))?;
    Ok(updated.rows_affected() == 1)
}

pub(super) async fn insert_break_glass_grant(
    pool: &Pool<Db>,
    grant: &AccessGrant,
    review: &BreakGlassReview,
) -> Result<(), StoreError> {
    let mut tx = pool
        .begin_with(BEGIN_WRITE)
        .await
        .map_err(StoreError::db("begin break-glass grant"))?;
    insert_grant(&mut tx, grant).await?;
    sqlx::query(
        "INSERT INTO break_glass_reviews (id, grant_id, opened_at) VALUES ($1, $2, $3)",
    )
    .bind(uuid_param(review.id.0))
    .bind(uuid_param(review.grant_id.0))
    .bind(to_micros(review.opened_at))
    .execute(&mut *tx)
    .await
    .map_err(missing_reference("grant of the review"))?;
    commit(tx).await
}

pub(super) async fn get_grant(pool: &Pool<Db>, id: GrantId) -> Result<Option<AccessGrant>, StoreError> {
    let sql = format!("SELECT {GRANT_COLUMNS} FROM grants g JOIN roles r ON r.id = g.role_id WHERE g.id = $1");
    sqlx::query(&sql)
        .bind(uuid_param(id.0))
        .fetch_optional(pool)
        .await
        .map_err(StoreError::db("get grant"))?
        .as_ref()
        .map(grant_from_row)
        .transpose()
}

pub(super) async fn get_request_grant(
    pool: &Pool<Db>,
    id: AccessRequestId,
) -> Result<Option<AccessGrant>, StoreError> {
    let sql = format!(
        "SELECT {GRANT_COLUMNS} FROM grants g JOIN roles r ON r.id = g.role_id WHERE g.request_id = $1"
    );
    sqlx::query(&sql)
        .bind(uuid_param(id.0))
        .fetch_optional(pool)
        .await
        .map_err(StoreError::db("get grant of request"))?
        .as_ref()
        .map(grant_from_row)
        .transpose()
}

pub(super) async fn list_active_grants(
    pool: &Pool<Db>,
    user: UserId,
    now: OffsetDateTime,
) -> Result<Vec<AccessGrant>, StoreError> {
    let sql = format!(
        "SELECT {GRANT_COLUMNS} FROM grants g JOIN roles r ON r.id = g.role_id \
         WHERE g.user_id = $1 AND g.revoked_at IS NULL AND g.starts_at <= $2 AND g.ends_at > $2 \
         ORDER BY g.ends_at, g.id"
    );
    sqlx::query(&sql)
        .bind(uuid_param(user.0))
        .bind(to_micros(now))
        .fetch_all(pool)
        .await
        .map_err(StoreError::db("list active grants"))?
        .iter()
        .map(grant_from_row)
        .collect()
}

/// Revokes a grant and marks the request it came from as revoked, in one transaction.
pub(super) async fn revoke_grant(
    pool: &Pool<Db>,
    id: GrantId,
    by: UserId,
    at: OffsetDateTime,
) -> Result<bool, StoreError> {
    let mut tx = pool
        .begin_with(BEGIN_WRITE)
        .await
        .map_err(StoreError::db("begin revoke grant"))?;
    let updated = sqlx::query(
        "UPDATE grants SET revoked_at = $1, revoked_by = $2 WHERE id = $3 AND revoked_at IS NULL",
    )
    .bind(to_micros(at))
    .bind(uuid_param(by.0))
    .bind(uuid_param(id.0))
    .execute(&mut *tx)
    .await
    .map_err(missing_reference("user revoking the grant"))?;
    if updated.rows_affected() == 0 {
        return Ok(false);
    }
    sqlx::query(
        "UPDATE access_requests SET state = 'revoked' \
         WHERE id = (SELECT request_id FROM grants WHERE id = $1)",
    )
    .bind(uuid_param(id.0))
    .execute(&mut *tx)
    .await
    .map_err(StoreError::db("mark request revoked"))?;
    commit(tx).await?;
    Ok(true)
}

pub(super) async fn list_open_reviews(
    pool: &Pool<Db>,
) -> Result<Vec<(BreakGlassReview, AccessGrant)>, StoreError> {
    let sql = format!(
        "SELECT {REVIEW_COLUMNS}, {GRANT_COLUMNS} FROM break_glass_reviews v \
         JOIN grants g ON g.id = v.grant_id JOIN roles r ON r.id = g.role_id \
         WHERE v.reviewed_at IS NULL ORDER BY v.opened_at, v.id"
    );
    sqlx::query(&sql)
        .fetch_all(pool)
        .await
        .map_err(StoreError::db("list open break-glass reviews"))?
        .iter()
        .map(|row| Ok((review_from_row(row)?, grant_from_row(row)?)))
        .collect()
}

pub(super) async fn get_review(
    pool: &Pool<Db>,
    id: ReviewId,
) -> Result<Option<(BreakGlassReview, AccessGrant)>, StoreError> {
    let sql = format!(
        "SELECT {REVIEW_COLUMNS}, {GRANT_COLUMNS} FROM break_glass_reviews v \
         JOIN grants g ON g.id = v.grant_id JOIN roles r ON r.id = g.role_id WHERE v.id = $1"
    );
    sqlx::query(&sql)
        .bind(uuid_param(id.0))
        .fetch_optional(pool)
        .await
        .map_err(StoreError::db("get break-glass review"))?
        .as_ref()
        .map(|row| Ok((review_from_row(row)?, grant_from_row(row)?)))
        .transpose()
}

pub(super) async fn close_review(
    pool: &Pool<Db>,
    id: ReviewId,
    by: UserId,
    at: OffsetDateTime,
    notes: &str,
) -> Result<bool, StoreError> {
    let updated = sqlx::query(
        "UPDATE break_glass_reviews SET reviewed_by = $1, reviewed_at = $2, notes = $3 \
         WHERE id = $4 AND reviewed_at IS NULL",
    )
    .bind(uuid_param(by.0))
    .bind(to_micros(at))
    .bind(notes)
    .bind(uuid_param(id.0))
    .execute(pool)
    .await
    .map_err(missing_reference("reviewer"))?;
    Ok(updated.rows_affected() == 1)
}
