//! Queries shared by the SQLite and PostgreSQL backends.
//!
//! This directory is compiled twice, once inside `crate::sqlite` and once inside
//! `crate::postgres`, through `#[path]` attributes. Each parent module provides a
//! `backend` module with the database type, the store type and the few pieces of SQL
//! and column handling that differ. Everything else is written once here, including
//! the SQL text with its `$1`-style parameters, which SQLite also accepts.

mod access;
mod failures;
mod roles;
mod scim;
mod targets;
mod tokens;
mod users;

use async_trait::async_trait;
use portcullis_core::{
    FailureRecord, LockoutPolicy, Role, RoleGrant, RoleId, RoleName, ScramKeys, Target, TargetName,
    TokenHash, TokenId, TokenRecord, User, UserId, UserName,
};
use time::OffsetDateTime;

use super::backend;
use crate::error::StoreError;
use crate::scim::{ScimGroup, ScimUserRecord};
use portcullis_core::access::{AccessGrant, AccessRequest, BreakGlassReview, RequestDecision};
use portcullis_core::{AccessRequestId, GrantId, ReviewId};

use crate::store::{
    Credentials, DecisionOutcome, NewUser, RoleMember, RoleMembership, Store, StoredTarget, UserScramVerifiers,
};

#[async_trait]
impl Store for backend::BackendStore {
    async fn create_user(&self, new: &NewUser) -> Result<User, StoreError> {
        users::create_user(&self.pool, new).await
    }

    async fn get_user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        users::get_user(&self.pool, id).await
    }

    async fn get_user_by_name(&self, name: &UserName) -> Result<Option<User>, StoreError> {
        users::get_user_by_name(&self.pool, name).await
    }

    async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        users::list_users(&self.pool).await
    }

    async fn set_user_disabled(
        &self,
        id: UserId,
        disabled: bool,
        at: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        users::set_user_disabled(&self.pool, id, disabled, at).await
    }

    async fn set_user_attributes(
        &self,
        id: UserId,
        department: Option<&str>,
        job_role: Option<&str>,
    ) -> Result<(), StoreError> {
        users::set_user_attributes(&self.pool, id, department, job_role).await
    }

    async fn get_credentials(&self, id: UserId) -> Result<Option<Credentials>, StoreError> {
        users::get_credentials(&self.pool, id).await
    }

    async fn set_password_hash(
        &self,
        id: UserId,
        phc: &str,
        change_required: bool,
    ) -> Result<(), StoreError> {
        users::set_password_hash(&self.pool, id, phc, change_required).await
    }

    async fn set_totp_secret(
        &self,
        id: UserId,
        sealed: Option<&[u8]>,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        users::set_totp_secret(&self.pool, id, sealed, at).await
    }

    async fn accept_totp_step(&self, id: UserId, step: u64) -> Result<bool, StoreError> {
        users::accept_totp_step(&self.pool, id, step).await
    }

    async fn create_role(&self, role: &Role) -> Result<(), StoreError> {
        roles::create_role(&self.pool, role).await
    }

    async fn get_role_by_name(&self, name: &RoleName) -> Result<Option<Role>, StoreError> {
        roles::get_role_by_name(&self.pool, name).await
    }

    async fn list_roles(&self) -> Result<Vec<Role>, StoreError> {
        roles::list_roles(&self.pool).await
    }

    async fn grant_role(&self, grant: &RoleGrant) -> Result<bool, StoreError> {
        roles::grant_role(&self.pool, grant).await
    }

    async fn revoke_role(&self, user: UserId, role: RoleId) -> Result<bool, StoreError> {
        roles::revoke_role(&self.pool, user, role).await
    }

    async fn list_user_roles(&self, user: UserId) -> Result<Vec<RoleMembership>, StoreError> {
        roles::list_user_roles(&self.pool, user).await
    }

    async fn list_role_members(&self, role: RoleId) -> Result<Vec<RoleMember>, StoreError> {
        roles::list_role_members(&self.pool, role).await
    }

    async fn insert_token(&self, token: &TokenRecord, scram: &ScramKeys) -> Result<(), StoreError> {
        tokens::insert_token(&self.pool, token, scram).await
    }

    async fn get_token_by_hash(&self, hash: &TokenHash) -> Result<Option<TokenRecord>, StoreError> {
        tokens::get_token_by_hash(&self.pool, hash).await
    }

    async fn revoke_token(&self, id: TokenId, at: OffsetDateTime) -> Result<bool, StoreError> {
        tokens::revoke_token(&self.pool, id, at).await
    }

    async fn revoke_user_tokens(
        &self,
        user: UserId,
        at: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        tokens::revoke_user_tokens(&self.pool, user, at).await
    }

    async fn list_active_tokens(
        &self,
        user: UserId,
        now: OffsetDateTime,
    ) -> Result<Vec<TokenRecord>, StoreError> {
        tokens::list_active_tokens(&self.pool, user, now).await
    }

    async fn scram_verifiers(
        &self,
        user: &UserName,
        now: OffsetDateTime,
    ) -> Result<Option<UserScramVerifiers>, StoreError> {
        tokens::scram_verifiers(&self.pool, user, now).await
    }

    async fn delete_expired_tokens(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        tokens::delete_expired_tokens(&self.pool, now).await
    }

    async fn create_target(&self, target: &StoredTarget) -> Result<(), StoreError> {
        targets::create_target(&self.pool, target).await
    }

    async fn get_target_by_name(
        &self,
        name: &TargetName,
    ) -> Result<Option<StoredTarget>, StoreError> {
        targets::get_target_by_name(&self.pool, name).await
    }

    async fn list_targets(&self) -> Result<Vec<Target>, StoreError> {
        targets::list_targets(&self.pool).await
    }

    async fn remove_target(&self, name: &TargetName) -> Result<bool, StoreError> {
        targets::remove_target(&self.pool, name).await
    }

    async fn get_auth_failures(&self, key: &str) -> Result<Option<FailureRecord>, StoreError> {
        failures::get_auth_failures(&self.pool, key).await
    }

    async fn record_auth_failure(
        &self,
        key: &str,
        policy: &LockoutPolicy,
        now: OffsetDateTime,
    ) -> Result<FailureRecord, StoreError> {
        failures::record_auth_failure(&self.pool, key, policy, now).await
    }

    async fn clear_auth_failures(&self, key: &str) -> Result<(), StoreError> {
        failures::clear_auth_failures(&self.pool, key).await
    }

    async fn get_meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        failures::get_meta(&self.pool, key).await
    }

    async fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        failures::set_meta(&self.pool, key, value).await
    }

    async fn insert_access_request(&self, request: &AccessRequest) -> Result<(), StoreError> {
        access::insert_access_request(&self.pool, request).await
    }

    async fn get_access_request(
        &self,
        id: AccessRequestId,
    ) -> Result<Option<AccessRequest>, StoreError> {
        access::get_access_request(&self.pool, id).await
    }

    async fn list_access_requests(&self) -> Result<Vec<AccessRequest>, StoreError> {
        access::list_access_requests(&self.pool).await
    }

    async fn list_request_decisions(
        &self,
        id: AccessRequestId,
    ) -> Result<Vec<RequestDecision>, StoreError> {
        access::list_request_decisions(&self.pool, id).await
    }

    async fn decide_access_request(
        &self,
        decision: &RequestDecision,
        approvals_required: u32,
    ) -> Result<DecisionOutcome, StoreError> {
        access::decide_access_request(&self.pool, decision, approvals_required).await
    }

    async fn expire_access_requests(
        &self,
        now: OffsetDateTime,
    ) -> Result<Vec<AccessRequestId>, StoreError> {
        access::expire_access_requests(&self.pool, now).await
    }

    async fn withdraw_access_request(&self, id: AccessRequestId) -> Result<bool, StoreError> {
        access::withdraw_access_request(&self.pool, id).await
    }

    async fn insert_break_glass_grant(
        &self,
        grant: &AccessGrant,
        review: &BreakGlassReview,
    ) -> Result<(), StoreError> {
        access::insert_break_glass_grant(&self.pool, grant, review).await
    }

    async fn get_grant(&self, id: GrantId) -> Result<Option<AccessGrant>, StoreError> {
        access::get_grant(&self.pool, id).await
    }

    async fn get_request_grant(
        &self,
        id: AccessRequestId,
    ) -> Result<Option<AccessGrant>, StoreError> {
        access::get_request_grant(&self.pool, id).await
    }

    async fn list_active_grants(
        &self,
        user: UserId,
        now: OffsetDateTime,
    ) -> Result<Vec<AccessGrant>, StoreError> {
        access::list_active_grants(&self.pool, user, now).await
    }

    async fn revoke_grant(
        &self,
        id: GrantId,
        by: UserId,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        access::revoke_grant(&self.pool, id, by, at).await
    }

    async fn list_open_reviews(&self) -> Result<Vec<(BreakGlassReview, AccessGrant)>, StoreError> {
        access::list_open_reviews(&self.pool).await
    }

    async fn get_review(
        &self,
        id: ReviewId,
    ) -> Result<Option<(BreakGlassReview, AccessGrant)>, StoreError> {
        access::get_review(&self.pool, id).await
    }

    async fn close_review(
        &self,
        id: ReviewId,
        by: UserId,
        at: OffsetDateTime,
        notes: &str,
    ) -> Result<bool, StoreError> {
        access::close_review(&self.pool, id, by, at, notes).await
    }

    async fn get_scim_user(&self, user: UserId) -> Result<Option<ScimUserRecord>, StoreError> {
        scim::get_scim_user(&self.pool, user).await
    }

    async fn list_scim_users(&self) -> Result<Vec<ScimUserRecord>, StoreError> {
        scim::list_scim_users(&self.pool).await
    }

    async fn upsert_scim_user(&self, record: &ScimUserRecord) -> Result<(), StoreError> {
        scim::upsert_scim_user(&self.pool, record).await
    }

    async fn create_scim_group(&self, group: &ScimGroup) -> Result<(), StoreError> {
        scim::create_scim_group(&self.pool, group).await
    }

    async fn update_scim_group(&self, group: &ScimGroup) -> Result<bool, StoreError> {
        scim::update_scim_group(&self.pool, group).await
    }

    async fn get_scim_group(&self, id: uuid::Uuid) -> Result<Option<ScimGroup>, StoreError> {
        scim::get_scim_group(&self.pool, id).await
    }

    async fn list_scim_groups(&self) -> Result<Vec<ScimGroup>, StoreError> {
        scim::list_scim_groups(&self.pool).await
    }

    async fn delete_scim_group(&self, id: uuid::Uuid) -> Result<bool, StoreError> {
        scim::delete_scim_group(&self.pool, id).await
    }

    async fn list_scim_group_members(&self, group: uuid::Uuid) -> Result<Vec<UserId>, StoreError> {
        scim::list_scim_group_members(&self.pool, group).await
    }

    async fn add_scim_group_member(&self, group: uuid::Uuid, user: UserId) -> Result<bool, StoreError> {
        scim::add_scim_group_member(&self.pool, group, user).await
    }

    async fn remove_scim_group_member(&self, group: uuid::Uuid, user: UserId) -> Result<bool, StoreError> {
        scim::remove_scim_group_member(&self.pool, group, user).await
    }

    async fn list_user_scim_groups(&self, user: UserId) -> Result<Vec<ScimGroup>, StoreError> {
        scim::list_user_scim_groups(&self.pool, user).await
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}

/// Reads one column, reporting a missing column or an unexpected type as a corrupt store.
fn column<'r, T>(row: &'r backend::Row, name: &'static str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, backend::Db> + sqlx::Type<backend::Db>,
{
    sqlx::Row::try_get(row, name).map_err(|error| StoreError::Corrupt {
        column: name,
        detail: error.to_string(),
    })
}
