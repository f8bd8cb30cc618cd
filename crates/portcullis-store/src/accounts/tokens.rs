//! Checking and revoking presented tokens.

use portcullis_core::names::MAX_NAME_LEN;
use portcullis_core::token::hash_token;
use portcullis_core::{TokenRecord, TokenState, User};

use super::{Accounts, TokenError};

/// Proof that a presented token is valid: active, unrevoked and owned by an enabled
/// user at the time of the check. Only [`Accounts::authenticate_token`] and
/// [`Accounts::authenticate_token_for`] create one.
#[derive(Debug, Clone)]
pub struct Authenticated {
    user: User,
    token: TokenRecord,
}

impl Authenticated {
    /// Returns the token's owner.
    pub fn user(&self) -> &User {
        &self.user
    }

    /// Returns the token's record.
    pub fn token(&self) -> &TokenRecord {
        &self.token
    }
}

impl Accounts {
    /// Checks a presented token and returns its owner.
    pub async fn authenticate_token(&self, token_text: &str) -> Result<Authenticated, TokenError> {
        let token = self.find_token(token_text).await?;
        check_state(&token, self.clock.now())?;
        let user = self.token_owner(&token).await?;
        if user.disabled {
            return Err(TokenError::UserDisabled(user.id));
        }
        Ok(Authenticated { user, token })
    }

    /// Checks a token that a client presented together with a user name, as native
    /// database clients do when they send the token as a cleartext password. Besides
    /// the checks of [`Accounts::authenticate_token`], the token must belong to the
    /// user named `user_name`, and [`TokenError::WrongUser`] is returned otherwise.
    pub async fn authenticate_token_for(
        &self,
        user_name: &str,
        token_text: &str,
    ) -> Result<Authenticated, TokenError> {
        let token = self.find_token(token_text).await?;
        let user = self.token_owner(&token).await?;
        // Ownership is checked before state, so that the error reports a token
        // presented under another user's name even when the token has expired.
        if user.name.as_str() != user_name {
            return Err(TokenError::WrongUser {
                name: user_name.chars().take(MAX_NAME_LEN).collect(),
                owner: user.id,
            });
        }
        check_state(&token, self.clock.now())?;
        if user.disabled {
            return Err(TokenError::UserDisabled(user.id));
        }
        Ok(Authenticated { user, token })
    }

    /// Revokes the presented token. Logging out with a token that is already revoked
    /// or expired succeeds.
    pub async fn logout(&self, token_text: &str) -> Result<(), TokenError> {
        let token = self.find_token(token_text).await?;
        self.store.revoke_token(token.id, self.clock.now()).await?;
        Ok(())
    }

    async fn find_token(&self, token_text: &str) -> Result<TokenRecord, TokenError> {
        let hash = hash_token(token_text).map_err(|_| TokenError::Malformed)?;
        self.store
            .get_token_by_hash(&hash)
            .await?
            .ok_or(TokenError::Unknown)
    }

    async fn token_owner(&self, token: &TokenRecord) -> Result<User, TokenError> {
        self.store
            .get_user(token.user_id)
            .await?
            .ok_or(TokenError::UserMissing(token.user_id))
    }
}

fn check_state(token: &TokenRecord, now: time::OffsetDateTime) -> Result<(), TokenError> {
    match token.state(now) {
        TokenState::Active => Ok(()),
        TokenState::Revoked(at) => Err(TokenError::Revoked(at)),
        TokenState::Expired(at) => Err(TokenError::Expired(at)),
    }
}
