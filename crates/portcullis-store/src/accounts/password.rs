//! Users replacing their own password, such as the one-time password that
//! `user add`, `init` and `user reset-password` generate.

use std::net::IpAddr;

use portcullis_core::{SecretString, User};

use super::{Accounts, AccountError, LoginError};

/// Minimum length of a chosen password, in characters.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// Maximum length of a chosen password, in characters, which bounds hashing time.
pub const MAX_PASSWORD_CHARS: usize = 1024;

/// Reason a password change was rejected. Record the `Display` text in the audit
/// log and send [`PasswordChangeError::client_message`] to the client.
#[derive(Debug, thiserror::Error)]
pub enum PasswordChangeError {
    /// The current password or the TOTP code is wrong, or the user is locked out.
    #[error("password change rejected: {0}")]
    Login(LoginError),
    #[error("the new password has {length} characters; choose one of {min} to {max} characters")]
    InvalidLength { length: usize, min: usize, max: usize },
    #[error("the new password is the current password; choose a different one")]
    Unchanged,
    #[error("storing the new password failed: {0}")]
    Account(#[from] AccountError),
}

impl PasswordChangeError {
    /// Returns the message for the client, which for login failures does not say
    /// which factor was wrong.
    pub fn client_message(&self) -> String {
        match self {
            PasswordChangeError::Login(error) => error.client_message(),
            PasswordChangeError::Account(_) => {
                "the password cannot be changed because of an internal error; contact an administrator".to_owned()
            }
            other => other.to_string(),
        }
    }
}

impl Accounts {
    /// Checks a password change by the user named `name`: the new password's length,
    /// then the current password and a TOTP code under the login lockouts, which
    /// consumes the code. Returns the user, whose password
    /// [`Accounts::replace_password`] then sets.
    pub async fn check_password_change(
        &self,
        name: &str,
        current: &str,
        totp_code: &str,
        new_password: &SecretString,
        source: IpAddr,
    ) -> Result<User, PasswordChangeError> {
        let length = new_password.expose().chars().count();
        if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&length) {
            return Err(PasswordChangeError::InvalidLength {
                length,
                min: MIN_PASSWORD_CHARS,
                max: MAX_PASSWORD_CHARS,
            });
        }
        let now = self.clock.now();
        let (user, _) = self
            .authenticate(name, current, totp_code, source, now)
            .await
            .map_err(PasswordChangeError::Login)?;
        if new_password.expose() == current {
            return Err(PasswordChangeError::Unchanged);
        }
        Ok(user)
    }

    /// Sets a password the user chose and clears `password_change_required`. Tokens
    /// issued before stay valid.
    pub async fn replace_password(&self, user: &User, new_password: SecretString) -> Result<(), AccountError> {
        let hash = self.hash_password(new_password).await?;
        self.store.set_password_hash(user.id, &hash, false).await?;
        Ok(())
    }
}
