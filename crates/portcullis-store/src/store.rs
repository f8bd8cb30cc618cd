//! The state store trait and the records it reads and writes.

use std::fmt;

use async_trait::async_trait;
use portcullis_core::scram::SCRAM_SALT_LEN;
use portcullis_core::{
    AccountKind, FailureRecord, LockoutPolicy, Role, RoleGrant, RoleId, RoleName, ScramKeys,
    Target, TargetName, TokenHash, TokenId, TokenRecord, User, UserId, UserName,
};
use portcullis_core::access::{
    AccessGrant, AccessRequest, BreakGlassReview, RequestDecision, RequestState,
};
use portcullis_core::{AccessRequestId, GrantId, ReviewId};
use time::OffsetDateTime;

use crate::error::StoreError;
use crate::scim::{ScimGroup, ScimUserRecord};
use uuid::Uuid;

/// Result of recording a decision on an access request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecisionOutcome {
    /// The request is no longer pending; nothing was recorded.
    NotPending(RequestState),
    /// The approver had already decided on this request; nothing was recorded.
    AlreadyDecided,
    /// The approval was recorded and more are needed.
    AwaitingApprovals {
        /// Approvals recorded so far.
        approvals: u32,
        /// Approvals the role needs.
        required: u32,
    },
    /// The request is approved and this grant now exists.
    Approved(AccessGrant),
    /// The request is denied.
    Denied,
}

/// A user to create, with initial credentials. The store gives every new user a random
/// SCRAM salt and the default iteration count.
#[derive(Clone)]
pub struct NewUser {
    /// Identifier.
    pub id: UserId,
    /// Unique login name.
    pub name: UserName,
    /// Person or program; a service account's owner must be an enabled human.
    pub kind: AccountKind,
    /// Name shown to people.
    pub display_name: String,
    /// Department attribute.
    pub department: Option<String>,
    /// Job role attribute.
    pub job_role: Option<String>,
    /// Creation time, also the TOTP enrollment time when a secret is given.
    pub created_at: OffsetDateTime,
    /// Argon2id PHC string, or `None` for an account that cannot log in with a password.
    pub password_hash: Option<String>,
    /// Whether the user must choose a new password (set for generated passwords).
    pub password_change_required: bool,
    /// TOTP secret sealed with the TOTP sub-key, or `None` for no MFA enrollment.
    pub totp_secret_sealed: Option<Vec<u8>>,
}

impl fmt::Debug for NewUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewUser")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// A user's stored credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// Argon2id PHC string, if a password is set.
    pub password_hash: Option<String>,
    /// Whether the user must choose a new password.
    pub password_change_required: bool,
    /// Sealed TOTP secret, if enrolled.
    pub totp_secret_sealed: Option<Vec<u8>>,
    /// Latest accepted TOTP time step.
    pub totp_last_step: Option<u64>,
    /// Salt of the SCRAM keys of all the user's tokens.
    pub scram_salt: [u8; SCRAM_SALT_LEN],
    /// PBKDF2 iteration count of the SCRAM keys of all the user's tokens.
    pub scram_iterations: u32,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("password_set", &self.password_hash.is_some())
            .field("password_change_required", &self.password_change_required)
            .field("totp_enrolled", &self.totp_secret_sealed.is_some())
            .field("totp_last_step", &self.totp_last_step)
            .field("scram_iterations", &self.scram_iterations)
            .finish_non_exhaustive()
    }
}

/// A role a user holds, with the grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleMembership {
    /// The role.
    pub role: Role,
    /// Granting administrator and time.
    pub grant: RoleGrant,
}

/// A member of a role, with the grant.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleMember {
    /// The member.
    pub user: User,
    /// Granting administrator and time.
    pub grant: RoleGrant,
}

/// The SCRAM verifiers of one enabled user's live tokens. They share one salt and
/// iteration count, because SCRAM sends those before the client proves which token
/// it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserScramVerifiers {
    /// The user.
    pub user_id: UserId,
    /// The user's salt.
    pub salt: [u8; SCRAM_SALT_LEN],
    /// The user's PBKDF2 iteration count.
    pub iterations: u32,
    /// One entry per live token that has SCRAM keys, newest first.
    pub tokens: Vec<TokenScramVerifier>,
}

/// The SCRAM keys of one live token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenScramVerifier {
    /// The token.
    pub token_id: TokenId,
    /// StoredKey and ServerKey derived from the token text.
    pub keys: ScramKeys,
    /// End of the token's validity, after which a session opened with it ends.
    pub expires_at: OffsetDateTime,
    /// When the user last completed MFA before the token was issued, for
    /// policies on MFA age.
    pub mfa_at: OffsetDateTime,
}

/// A target with its upstream password sealed under the master key's
/// target-credentials sub-key, bound to the target id.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredTarget {
    /// The target.
    pub target: Target,
    /// Sealed password of the target's upstream user.
    pub password_sealed: Vec<u8>,
}

impl fmt::Debug for StoredTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredTarget")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

/// Persistent state of the gateway: users, credentials, roles, tokens, targets, login
/// failures and metadata. Implemented for SQLite and PostgreSQL; every method is atomic.
///
/// Methods that change one record return [`StoreError::NotFound`] when it does not
/// exist, unless they return `bool` or a count, which then reports whether anything
/// changed.
#[async_trait]
pub trait Store: Send + Sync {
    /// Creates a user. Fails with [`StoreError::Duplicate`] if the name is taken and
    /// with [`StoreError::InvalidOwner`] if a service account's owner is missing,
    /// disabled or not human.
    async fn create_user(&self, new: &NewUser) -> Result<User, StoreError>;

    /// Reads a user by id.
    async fn get_user(&self, id: UserId) -> Result<Option<User>, StoreError>;

    /// Reads a user by name.
    async fn get_user_by_name(&self, name: &UserName) -> Result<Option<User>, StoreError>;

    /// Lists all users, ordered by name.
    async fn list_users(&self) -> Result<Vec<User>, StoreError>;

    /// Disables or enables a user. Disabling also revokes all of the user's active
    /// tokens and temporary grants in the same transaction; returns the number of
    /// tokens revoked.
    async fn set_user_disabled(
        &self,
        id: UserId,
        disabled: bool,
        at: OffsetDateTime,
    ) -> Result<u64, StoreError>;

    /// Replaces the department and job role attributes.
    async fn set_user_attributes(
        &self,
        id: UserId,
        department: Option<&str>,
        job_role: Option<&str>,
    ) -> Result<(), StoreError>;

    /// Reads a user's credentials.
    async fn get_credentials(&self, id: UserId) -> Result<Option<Credentials>, StoreError>;

    /// Replaces the password hash.
    async fn set_password_hash(
        &self,
        id: UserId,
        phc: &str,
        change_required: bool,
    ) -> Result<(), StoreError>;

    /// Replaces the sealed TOTP secret and sets the enrollment time to `at`, or clears
    /// both with `None`. Either way the replay guard starts over.
    async fn set_totp_secret(
        &self,
        id: UserId,
        sealed: Option<&[u8]>,
        at: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Records `step` as the user's latest accepted TOTP step if it is later than the
    /// previous one, as one atomic compare-and-set. Returns `false` for a replayed or
    /// older step, which the caller must reject.
    async fn accept_totp_step(&self, id: UserId, step: u64) -> Result<bool, StoreError>;

    /// Creates a role. Fails with [`StoreError::Duplicate`] if the name is taken.
    async fn create_role(&self, role: &Role) -> Result<(), StoreError>;

    /// Reads a role by name.
    async fn get_role_by_name(&self, name: &RoleName) -> Result<Option<Role>, StoreError>;

    /// Lists all roles, ordered by name.
    async fn list_roles(&self) -> Result<Vec<Role>, StoreError>;

    /// Grants a role. Returns `false` if the user already held it (the existing grant
    /// is kept). Fails with [`StoreError::NotFound`] if the user, role or granting
    /// user does not exist.
    async fn grant_role(&self, grant: &RoleGrant) -> Result<bool, StoreError>;

    /// Revokes a role; returns `false` if the user did not hold it.
    async fn revoke_role(&self, user: UserId, role: RoleId) -> Result<bool, StoreError>;

    /// Lists the roles a user holds, ordered by role name.
    async fn list_user_roles(&self, user: UserId) -> Result<Vec<RoleMembership>, StoreError>;

    /// Lists the members of a role, ordered by user name.
    async fn list_role_members(&self, role: RoleId) -> Result<Vec<RoleMember>, StoreError>;

    /// Stores a newly issued token with its SCRAM keys, which the caller derives from
    /// the token text with the owner's salt and iteration count (see [`Credentials`]).
    async fn insert_token(&self, token: &TokenRecord, scram: &ScramKeys) -> Result<(), StoreError>;

    /// Finds a token by the hash of its text.
    async fn get_token_by_hash(&self, hash: &TokenHash) -> Result<Option<TokenRecord>, StoreError>;

    /// Revokes one token; returns `false` if it does not exist or was already revoked.
    async fn revoke_token(&self, id: TokenId, at: OffsetDateTime) -> Result<bool, StoreError>;

    /// Revokes all of a user's unrevoked tokens; returns how many.
    async fn revoke_user_tokens(&self, user: UserId, at: OffsetDateTime)
        -> Result<u64, StoreError>;

    /// Lists a user's tokens that are neither revoked nor expired at `now`, newest first.
    async fn list_active_tokens(
        &self,
        user: UserId,
        now: OffsetDateTime,
    ) -> Result<Vec<TokenRecord>, StoreError>;

    /// Reads the SCRAM salt and iteration count of the user named `user` with the keys
    /// of the user's tokens that are neither revoked nor expired at `now`. Returns
    /// `None` for an unknown or disabled user. Tokens issued before the store kept
    /// SCRAM keys are left out.
    async fn scram_verifiers(
        &self,
        user: &UserName,
        now: OffsetDateTime,
    ) -> Result<Option<UserScramVerifiers>, StoreError>;

    /// Deletes tokens that expired before `now`, revoked or not; returns how many.
    async fn delete_expired_tokens(&self, now: OffsetDateTime) -> Result<u64, StoreError>;

    /// Creates a target. Fails with [`StoreError::Duplicate`] if the name is taken, with
    /// [`StoreError::NotFound`] if `created_by` names no user, and with
    /// [`StoreError::InvalidValue`] if the CA file path is not valid UTF-8.
    async fn create_target(&self, target: &StoredTarget) -> Result<(), StoreError>;

    /// Reads a target with its sealed password by name.
    async fn get_target_by_name(
        &self,
        name: &TargetName,
    ) -> Result<Option<StoredTarget>, StoreError>;

    /// Lists all targets, ordered by name, without their passwords.
    async fn list_targets(&self) -> Result<Vec<Target>, StoreError>;

    /// Deletes a target; returns `false` if no target has this name.
    async fn remove_target(&self, name: &TargetName) -> Result<bool, StoreError>;

    /// Reads the failure record of a key such as `user:alice` or `addr:192.0.2.7`.
    async fn get_auth_failures(&self, key: &str) -> Result<Option<FailureRecord>, StoreError>;

    /// Adds one failure at `now` to a key under `policy` and returns the new record,
    /// reading and writing in one transaction so concurrent failures all count.
    async fn record_auth_failure(
        &self,
        key: &str,
        policy: &LockoutPolicy,
        now: OffsetDateTime,
    ) -> Result<FailureRecord, StoreError>;

    /// Deletes a key's failure record, after a successful login.
    async fn clear_auth_failures(&self, key: &str) -> Result<(), StoreError>;

    /// Reads a metadata value.
    async fn get_meta(&self, key: &str) -> Result<Option<String>, StoreError>;

    /// Writes a metadata value, replacing any previous one.
    async fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError>;

    /// Creates a just-in-time access request. Fails with [`StoreError::NotFound`] if
    /// the requester or role does not exist.
    async fn insert_access_request(&self, request: &AccessRequest) -> Result<(), StoreError>;

    /// Reads an access request.
    async fn get_access_request(
        &self,
        id: AccessRequestId,
    ) -> Result<Option<AccessRequest>, StoreError>;

    /// Lists all access requests, newest first.
    async fn list_access_requests(&self) -> Result<Vec<AccessRequest>, StoreError>;

    /// Lists the decisions recorded on a request, oldest first.
    async fn list_request_decisions(
        &self,
        id: AccessRequestId,
    ) -> Result<Vec<RequestDecision>, StoreError>;

    /// Records an approver's decision on a pending request. A denial ends the request;
    /// the approval that brings the count to `approvals_required` approves it and
    /// creates its grant, from `decided_at` for the requested duration. A request past
    /// its expiry is marked expired instead.
    async fn decide_access_request(
        &self,
        decision: &RequestDecision,
        approvals_required: u32,
    ) -> Result<DecisionOutcome, StoreError>;

    /// Marks every pending request whose expiry is at or before `now` as expired and
    /// returns their ids.
    async fn expire_access_requests(
        &self,
        now: OffsetDateTime,
    ) -> Result<Vec<AccessRequestId>, StoreError>;

    /// Marks a pending request as revoked (withdrawn); returns `false` if it was not
    /// pending.
    async fn withdraw_access_request(&self, id: AccessRequestId) -> Result<bool, StoreError>;

    /// Stores a break-glass grant and opens its review, in one transaction.
    async fn insert_break_glass_grant(
        &self,
        grant: &AccessGrant,
        review: &BreakGlassReview,
    ) -> Result<(), StoreError>;

    /// Reads a grant.
    async fn get_grant(&self, id: GrantId) -> Result<Option<AccessGrant>, StoreError>;

    /// Reads the grant an approved request produced.
    async fn get_request_grant(
        &self,
        id: AccessRequestId,
    ) -> Result<Option<AccessGrant>, StoreError>;

    /// Lists a user's grants in force at `now` (started, not ended, not revoked).
    async fn list_active_grants(
        &self,
        user: UserId,
        now: OffsetDateTime,
    ) -> Result<Vec<AccessGrant>, StoreError>;

    /// Revokes a grant and marks its request as revoked; returns `false` if it does
    /// not exist or was already revoked.
    async fn revoke_grant(
        &self,
        id: GrantId,
        by: UserId,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Lists the break-glass reviews not yet closed, oldest first, with their grants.
    async fn list_open_reviews(&self) -> Result<Vec<(BreakGlassReview, AccessGrant)>, StoreError>;

    /// Reads a break-glass review with its grant.
    async fn get_review(
        &self,
        id: ReviewId,
    ) -> Result<Option<(BreakGlassReview, AccessGrant)>, StoreError>;

    /// Closes an open review with the reviewer's notes; returns `false` if it does not
    /// exist or is already closed.
    async fn close_review(
        &self,
        id: ReviewId,
        by: UserId,
        at: OffsetDateTime,
        notes: &str,
    ) -> Result<bool, StoreError>;

    /// Reads how the identity provider names a user, if it provisioned or linked them.
    async fn get_scim_user(&self, user: UserId) -> Result<Option<ScimUserRecord>, StoreError>;

    /// Lists every SCIM user record, deleted ones included.
    async fn list_scim_users(&self) -> Result<Vec<ScimUserRecord>, StoreError>;

    /// Inserts or replaces a user's SCIM record. Fails with [`StoreError::Duplicate`] when
    /// another user has the same `userName`, compared case-insensitively.
    async fn upsert_scim_user(&self, record: &ScimUserRecord) -> Result<(), StoreError>;

    /// Creates a group. Fails with [`StoreError::Duplicate`] if the display name is taken.
    async fn create_scim_group(&self, group: &ScimGroup) -> Result<(), StoreError>;

    /// Replaces a group's display name and external id; returns `false` if it does not exist.
    async fn update_scim_group(&self, group: &ScimGroup) -> Result<bool, StoreError>;

    async fn get_scim_group(&self, id: Uuid) -> Result<Option<ScimGroup>, StoreError>;

    /// Lists groups by display name.
    async fn list_scim_groups(&self) -> Result<Vec<ScimGroup>, StoreError>;

    /// Deletes a group and its memberships; returns `false` if it does not exist.
    async fn delete_scim_group(&self, id: Uuid) -> Result<bool, StoreError>;

    async fn list_scim_group_members(&self, group: Uuid) -> Result<Vec<UserId>, StoreError>;

    /// Adds a member; returns `false` if the user already is one.
    async fn add_scim_group_member(&self, group: Uuid, user: UserId) -> Result<bool, StoreError>;

    /// Removes a member; returns `false` if the user was none.
    async fn remove_scim_group_member(&self, group: Uuid, user: UserId) -> Result<bool, StoreError>;

    /// Lists the groups a user is a member of.
    async fn list_user_scim_groups(&self, user: UserId) -> Result<Vec<ScimGroup>, StoreError>;

    /// Closes the store's connections; later calls fail.
    async fn close(&self);
}
