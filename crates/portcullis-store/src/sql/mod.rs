//! Queries shared by the SQLite and PostgreSQL backends.
//!
//! This directory is compiled twice, once inside `crate::sqlite` and once inside
//! `crate::postgres`, through `#[path]` attributes. Each parent module provides a
//! `backend` module with the database type, the store type and the few pieces of SQL
//! and column handling that differ. Everything else is written once here, including
//! the SQL text with its `$1`-style parameters, which SQLite also accepts.

mod failures;
mod roles;
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
use crate::store::{
    Credentials, NewUser, RoleMember, RoleMembership, Store, StoredTarget, UserScramVerifiers,
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
