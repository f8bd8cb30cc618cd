//! Checking and revoking presented tokens.

use portcullis_core::token::hash_token;
use portcullis_core::{TokenRecord, TokenState, User};

use super::{Accounts, TokenError};

/// Proof that a presented token is valid: active, unrevoked and owned by an enabled
/// user at the time of the check. Only [`Accounts::authenticate_token`] creates one.
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
        match token.state(self.clock.now()) {
            TokenState::Active => {}
            TokenState::Revoked(at) => return Err(TokenError::Revoked(at)),
            TokenState::Expired(at) => return Err(TokenError::Expired(at)),
        }

        let user = self
            .store
            .get_user(token.user_id)
            .await?
            .ok_or(TokenError::UserMissing(token.user_id))?;
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
}
