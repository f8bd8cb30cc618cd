//! Account flows built on a [`Store`] and the core logic: creating users, logging in
//! with password and TOTP, checking and revoking tokens, disabling users and resetting
//! MFA. Time comes from a [`Clock`] so tests can control it.

mod errors;
mod login;
mod password;
mod tokens;

use std::sync::Arc;
use std::time::Duration;

use portcullis_core::config::AuthConfig;
use portcullis_core::keys::labels;
use portcullis_core::password::generate_one_time_password;
use portcullis_core::totp::otpauth_uri;
use portcullis_core::{
    AccountKind, Clock, LockoutPolicy, MasterKey, PasswordHasher, PasswordParams, SecretString,
    TotpSecret, User, UserId, UserName,
};

pub use errors::{AccountError, LoginError, TokenError};
pub use login::IssuedToken;
pub use password::{PasswordChangeError, MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS};
pub use tokens::Authenticated;

use crate::error::StoreError;
use crate::store::{NewUser, Store};

/// Settings of the account flows.
#[derive(Debug, Clone)]
pub struct AccountsConfig {
    /// Token lifetime when a login does not request one.
    pub token_lifetime: Duration,
    /// Maximum lifetime a login may request. Longer requests are cut to this value.
    pub max_token_lifetime: Duration,
    /// TOTP codes are accepted this many 30-second steps before or after the current one.
    pub totp_skew_steps: u8,
    /// Lockout per user name.
    pub user_lockout: LockoutPolicy,
    /// Lockout per source address (IPv6 by /64).
    pub address_lockout: LockoutPolicy,
    /// Argon2id cost for new password hashes.
    pub password: PasswordParams,
}

impl Default for AccountsConfig {
    /// Returns the defaults of the `[auth]` configuration section.
    fn default() -> Self {
        AccountsConfig::from(&AuthConfig::default())
    }
}

impl From<&AuthConfig> for AccountsConfig {
    fn from(auth: &AuthConfig) -> Self {
        let policy = |max_failures| LockoutPolicy {
            max_failures,
            window: auth.failure_window,
            lockout: auth.lockout,
        };
        AccountsConfig {
            token_lifetime: auth.token_lifetime,
            max_token_lifetime: auth.max_token_lifetime,
            totp_skew_steps: auth.totp_skew_steps,
            user_lockout: policy(auth.max_failures_per_user),
            address_lockout: policy(auth.max_failures_per_address),
            password: PasswordParams::default(),
        }
    }
}

/// A user to create.
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// Login name.
    pub name: UserName,
    /// Person or program.
    pub kind: AccountKind,
    /// Name shown to people.
    pub display_name: String,
    /// Department attribute.
    pub department: Option<String>,
    /// Job role attribute.
    pub job_role: Option<String>,
}

/// A created user with the credentials to hand over once. Neither is stored in
/// readable form.
#[derive(Debug)]
pub struct CreatedUser {
    /// The stored user.
    pub user: User,
    /// Generated password; the user must change it.
    pub one_time_password: SecretString,
    /// `otpauth://` URI to import into an authenticator app.
    pub totp_uri: SecretString,
}

/// The account flows; cheap to share behind an `Arc`.
pub struct Accounts {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    totp_key: MasterKey,
    hasher: Arc<PasswordHasher>,
    config: AccountsConfig,
}

impl Accounts {
    /// Creates the flows over `store`, deriving the TOTP sealing key from `master_key`.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        master_key: &MasterKey,
        config: AccountsConfig,
    ) -> Result<Accounts, AccountError> {
        let hasher = Arc::new(PasswordHasher::new(config.password)?);
        Ok(Accounts {
            store,
            clock,
            totp_key: master_key.derive(labels::TOTP_SECRETS),
            hasher,
            config,
        })
    }

    /// Returns the underlying store, for operations without a flow of their own.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Creates a user with a generated one-time password and a new TOTP secret, and
    /// returns both once.
    pub async fn create_user(&self, account: NewAccount) -> Result<CreatedUser, AccountError> {
        let id = UserId::new_random();
        let password = generate_one_time_password();
        let password_hash = self.hash_password(password.clone()).await?;
        let secret = TotpSecret::generate();

        let new = NewUser {
            id,
            name: account.name,
            kind: account.kind,
            display_name: account.display_name,
            department: account.department,
            job_role: account.job_role,
            created_at: self.clock.now(),
            password_hash: Some(password_hash),
            password_change_required: true,
            totp_secret_sealed: Some(self.seal_totp_secret(id, &secret)),
        };
        let user = self.store.create_user(&new).await?;
        let totp_uri = otpauth_uri(&secret, &user.name);
        Ok(CreatedUser {
            user,
            one_time_password: password,
            totp_uri,
        })
    }

    /// Disables a user and revokes all of the user's tokens; returns how many were revoked.
    pub async fn disable_user(&self, id: UserId) -> Result<u64, AccountError> {
        Ok(self
            .store
            .set_user_disabled(id, true, self.clock.now())
            .await?)
    }

    /// Enables a disabled user. Tokens revoked by disabling stay revoked.
    pub async fn enable_user(&self, id: UserId) -> Result<(), AccountError> {
        self.store
            .set_user_disabled(id, false, self.clock.now())
            .await?;
        Ok(())
    }

    /// Replaces a user's TOTP secret with a new one and returns its `otpauth://` URI
    /// once. Codes from the old secret stop working at once.
    pub async fn reset_mfa(&self, id: UserId) -> Result<SecretString, AccountError> {
        let user = self.require_user(id).await?;
        let secret = TotpSecret::generate();
        let sealed = self.seal_totp_secret(id, &secret);
        self.store
            .set_totp_secret(id, Some(&sealed), self.clock.now())
            .await?;
        Ok(otpauth_uri(&secret, &user.name))
    }

    /// Replaces a user's password with a generated one-time password, which the user
    /// must change, and returns it once.
    pub async fn reset_password(&self, id: UserId) -> Result<SecretString, AccountError> {
        self.require_user(id).await?;
        let password = generate_one_time_password();
        let hash = self.hash_password(password.clone()).await?;
        self.store.set_password_hash(id, &hash, true).await?;
        Ok(password)
    }

    async fn require_user(&self, id: UserId) -> Result<User, AccountError> {
        self.store.get_user(id).await?.ok_or_else(|| {
            AccountError::Store(StoreError::NotFound {
                entity: "user",
                id: id.to_string(),
            })
        })
    }

    /// Hashes on a blocking thread, because Argon2id takes tens of milliseconds of CPU.
    async fn hash_password(&self, password: SecretString) -> Result<String, AccountError> {
        let hasher = Arc::clone(&self.hasher);
        tokio::task::spawn_blocking(move || hasher.hash(password.expose()))
            .await
            .map_err(|error| AccountError::Task(error.to_string()))?
            .map_err(AccountError::Password)
    }

    /// Seals a TOTP secret bound to the user's id, so it cannot be moved to another row.
    fn seal_totp_secret(&self, id: UserId, secret: &TotpSecret) -> Vec<u8> {
        self.totp_key.seal(secret.as_bytes(), id.0.as_bytes())
    }
}
