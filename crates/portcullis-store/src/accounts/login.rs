//! Login with password and TOTP, guarded by lockouts per user name and per address.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use portcullis_core::clock::saturating_add;
use portcullis_core::lockout::{address_key, user_key};
use portcullis_core::scram::derive_scram_keys;
use portcullis_core::token::generate_token;
use portcullis_core::totp::verify_code;
use portcullis_core::{
    AttemptDecision, LockoutPolicy, PasswordHasher, ScramKeys, SecretString, TokenId, TokenRecord,
    TotpSecret, User, UserName,
};
use time::OffsetDateTime;

use super::{Accounts, LoginError};
use crate::store::Credentials;

/// A token issued by a successful login. The token text is shown to its owner once,
/// and the store keeps only its hash and its SCRAM keys.
#[derive(Debug)]
pub struct IssuedToken {
    /// Token text for the client.
    pub token: SecretString,
    /// The stored record.
    pub record: TokenRecord,
    /// The user the token belongs to.
    pub user: User,
    /// Whether the user still has to replace a generated password.
    pub password_change_required: bool,
}

impl Accounts {
    /// Logs a user in with password and TOTP code and issues a token.
    ///
    /// The per-address and per-user lockouts are checked before any credential, then
    /// the password, then the account state, then the TOTP code, which is accepted at
    /// most once. Every credential failure counts towards both lockouts, except that a
    /// name breaking the naming rule counts only towards the address. The token lives
    /// `requested_lifetime` (default from the configuration), cut to the configured
    /// maximum.
    pub async fn login(
        &self,
        name: &str,
        password: &str,
        totp_code: &str,
        source: IpAddr,
        requested_lifetime: Option<Duration>,
    ) -> Result<IssuedToken, LoginError> {
        let now = self.clock.now();
        let lifetime = self.token_lifetime(requested_lifetime)?;
        let (account, credentials) = self.authenticate(name, password, totp_code, source, now).await?;
        self.issue_token(account, &credentials, source, now, lifetime)
            .await
    }

    /// Checks the lockouts, the password, the account state and the TOTP code as
    /// [`Accounts::login`] describes, and counts a failure towards both lockouts.
    pub(super) async fn authenticate(
        &self,
        name: &str,
        password: &str,
        totp_code: &str,
        source: IpAddr,
        now: OffsetDateTime,
    ) -> Result<(User, Credentials), LoginError> {
        let address = address_key(source);
        let address_policy = &self.config.address_lockout;
        if let Some(until) = self.locked_until(&address, address_policy, now).await? {
            return Err(LoginError::AddressLocked {
                key: address,
                until,
            });
        }

        let Ok(user_name) = UserName::new(name) else {
            self.record_failure(&address, &self.config.address_lockout, now)
                .await;
            return Err(LoginError::InvalidName {
                length: name.chars().count(),
            });
        };
        let user = user_key(&user_name);
        // NOTE: the check and the recording of a failure are separate transactions, so
        // attempts already past this check when the limit is reached are still verified.
        if let Some(until) = self
            .locked_until(&user, &self.config.user_lockout, now)
            .await?
        {
            return Err(LoginError::UserLocked {
                name: user_name.to_string(),
                until,
            });
        }

        match self
            .verify_factors(&user_name, password, totp_code, now)
            .await
        {
            Ok(verified) => {
                self.store.clear_auth_failures(&user).await?;
                Ok(verified)
            }
            Err(error) => {
                if error.counts_as_failure() {
                    self.record_failure(&address, &self.config.address_lockout, now)
                        .await;
                    self.record_failure(&user, &self.config.user_lockout, now)
                        .await;
                }
                Err(error)
            }
        }
    }

    fn token_lifetime(&self, requested: Option<Duration>) -> Result<Duration, LoginError> {
        match requested {
            Some(requested) if requested.is_zero() => {
                Err(LoginError::InvalidLifetime { requested })
            }
            Some(requested) => Ok(requested.min(self.config.max_token_lifetime)),
            None => Ok(self
                .config
                .token_lifetime
                .min(self.config.max_token_lifetime)),
        }
    }

    /// Returns the end of the key's lockout, or `None` if attempts are allowed.
    async fn locked_until(
        &self,
        key: &str,
        policy: &LockoutPolicy,
        now: OffsetDateTime,
    ) -> Result<Option<OffsetDateTime>, LoginError> {
        let record = self.store.get_auth_failures(key).await?;
        match policy.check(record.as_ref(), now) {
            AttemptDecision::Allowed => Ok(None),
            AttemptDecision::Locked { until } => Ok(Some(until)),
        }
    }

    /// Counts a failure. The login is rejected whether or not this succeeds, so a
    /// store error here is logged rather than returned.
    async fn record_failure(&self, key: &str, policy: &LockoutPolicy, now: OffsetDateTime) {
        if let Err(error) = self.store.record_auth_failure(key, policy, now).await {
            tracing::warn!(%error, key, "recording a failed login failed; lockout may not apply");
        }
    }

    async fn verify_factors(
        &self,
        name: &UserName,
        password: &str,
        totp_code: &str,
        now: OffsetDateTime,
    ) -> Result<(User, Credentials), LoginError> {
        let found = match self.store.get_user_by_name(name).await? {
            Some(user) => self
                .store
                .get_credentials(user.id)
                .await?
                .map(|credentials| (user, credentials)),
            None => None,
        };
        let Some((user, credentials)) = found else {
            // Spend the same time as a real check so timing does not reveal the name is unknown.
            let _ = verify_password(&self.hasher, password, None).await;
            return Err(LoginError::UnknownUser {
                name: name.to_string(),
            });
        };

        match verify_password(&self.hasher, password, credentials.password_hash.clone()).await {
            Ok(true) => {}
            Ok(false) if credentials.password_hash.is_none() => {
                return Err(LoginError::NoPassword { user: user.id })
            }
            Ok(false) => return Err(LoginError::WrongPassword { user: user.id }),
            Err(VerifyError::Hash(source)) => {
                return Err(LoginError::PasswordHash {
                    user: user.id,
                    source,
                })
            }
            Err(VerifyError::Task(detail)) => return Err(LoginError::Task(detail)),
        }
        if user.disabled {
            return Err(LoginError::Disabled { user: user.id });
        }

        self.verify_totp(&user, &credentials, totp_code, now)
            .await?;
        Ok((user, credentials))
    }

    async fn verify_totp(
        &self,
        user: &User,
        credentials: &Credentials,
        code: &str,
        now: OffsetDateTime,
    ) -> Result<(), LoginError> {
        let Some(sealed) = &credentials.totp_secret_sealed else {
            return Err(LoginError::MfaNotEnrolled { user: user.id });
        };
        let opened = self
            .totp_key
            .open(sealed, user.id.0.as_bytes())
            .map_err(|error| LoginError::TotpSecretUnreadable {
                user: user.id,
                detail: error.to_string(),
            })?;
        let secret = TotpSecret::from_bytes(opened.to_vec()).map_err(|error| {
            LoginError::TotpSecretUnreadable {
                user: user.id,
                detail: error.to_string(),
            }
        })?;

        let Some(step) = verify_code(&secret, code, now, self.config.totp_skew_steps) else {
            return Err(LoginError::WrongTotp { user: user.id });
        };
        if !self.store.accept_totp_step(user.id, step).await? {
            return Err(LoginError::TotpReplayed {
                user: user.id,
                step,
            });
        }
        Ok(())
    }

    /// Generates a token, derives its SCRAM keys with the user's salt and iteration
    /// count, and stores both.
    async fn issue_token(
        &self,
        user: User,
        credentials: &Credentials,
        source: IpAddr,
        now: OffsetDateTime,
        lifetime: Duration,
    ) -> Result<IssuedToken, LoginError> {
        let (token, hash) = generate_token();
        let scram = derive_token_scram_keys(&token, credentials).await?;
        let record = TokenRecord {
            id: TokenId::new_random(),
            user_id: user.id,
            hash,
            issued_at: now,
            expires_at: saturating_add(now, lifetime),
            revoked_at: None,
            mfa_at: now,
            source_addr: Some(source),
        };
        self.store.insert_token(&record, &scram).await?;
        Ok(IssuedToken {
            token,
            record,
            user,
            password_change_required: credentials.password_change_required,
        })
    }
}

/// Derives SCRAM keys on a blocking thread, because PBKDF2 runs thousands of HMAC
/// iterations and would stall other tasks on the executor.
async fn derive_token_scram_keys(
    token: &SecretString,
    credentials: &Credentials,
) -> Result<ScramKeys, LoginError> {
    let token = token.clone();
    let salt = credentials.scram_salt;
    let iterations = credentials.scram_iterations;
    tokio::task::spawn_blocking(move || derive_scram_keys(token.expose(), &salt, iterations))
        .await
        .map_err(|error| LoginError::ScramTask(error.to_string()))
}

enum VerifyError {
    Hash(portcullis_core::PasswordError),
    Task(String),
}

/// Verifies `password` against `phc` on a blocking thread, because Argon2id takes tens
/// of milliseconds of CPU. Without a hash it verifies against a dummy hash and
/// returns `false`, taking the same time.
async fn verify_password(
    hasher: &Arc<PasswordHasher>,
    password: &str,
    phc: Option<String>,
) -> Result<bool, VerifyError> {
    let hasher = Arc::clone(hasher);
    let password = SecretString::new(password.to_owned());
    tokio::task::spawn_blocking(move || match phc {
        Some(phc) => hasher
            .verify(password.expose(), &phc)
            .map_err(VerifyError::Hash),
        None => {
            hasher.verify_dummy(password.expose());
            Ok(false)
        }
    })
    .await
    .map_err(|error| VerifyError::Task(error.to_string()))?
}
