//! Opaque access tokens.
//!
//! A token is `pct_` followed by 32 random bytes in unpadded base64url (43 characters).
//! The store keeps only its SHA-256 hash and finds a token by that hash, so a stolen
//! store copy yields no usable tokens and no token bytes are ever compared directly.
//! A fast hash is enough here because the token carries 256 bits of randomness, unlike
//! a password.

use std::fmt;
use std::net::IpAddr;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::ids::{TokenId, UserId};
use crate::secret::SecretString;

/// Prefix of every token, so that secret scanners and people recognise one.
pub const TOKEN_PREFIX: &str = "pct_";
/// Random bytes per token.
pub const TOKEN_RANDOM_BYTES: usize = 32;
/// Length of the base64url part of a token.
pub const TOKEN_ENCODED_LEN: usize = 43;

/// SHA-256 of a token's text, the only form in which the store keeps a token.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash(pub [u8; 32]);

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenHash({})", hex::encode(self.0))
    }
}

/// A string that is not a Portcullis token. The message never repeats the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "malformed token: expected `{TOKEN_PREFIX}` followed by {TOKEN_ENCODED_LEN} base64url characters; \
     obtain a token with `portcullis login`"
)]
pub struct TokenFormatError;

/// Generates a new token and returns its text (to hand to the user once) and its hash
/// (to store).
pub fn generate_token() -> (SecretString, TokenHash) {
    let mut random = Zeroizing::new([0u8; TOKEN_RANDOM_BYTES]);
    OsRng.fill_bytes(random.as_mut());
    let text = format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(random.as_ref()));
    let hash = sha256(&text);
    (SecretString::new(text), hash)
}

/// Checks the form of a presented token and returns its hash for lookup.
pub fn hash_token(text: &str) -> Result<TokenHash, TokenFormatError> {
    let encoded = text.strip_prefix(TOKEN_PREFIX).ok_or(TokenFormatError)?;
    let well_formed = encoded.len() == TOKEN_ENCODED_LEN
        && encoded
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !well_formed {
        return Err(TokenFormatError);
    }
    Ok(sha256(text))
}

fn sha256(text: &str) -> TokenHash {
    TokenHash(Sha256::digest(text.as_bytes()).into())
}

/// An issued token as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// Identifier, for listing and revoking without the token text.
    pub id: TokenId,
    /// Owner.
    pub user_id: UserId,
    /// SHA-256 of the token text.
    pub hash: TokenHash,
    /// Time of issue.
    pub issued_at: OffsetDateTime,
    /// End of validity.
    pub expires_at: OffsetDateTime,
    /// Time of revocation, if revoked.
    pub revoked_at: Option<OffsetDateTime>,
    /// Time the owner passed the second factor for this token.
    pub mfa_at: OffsetDateTime,
    /// Address the login came from, if known.
    pub source_addr: Option<IpAddr>,
}

/// Whether a token may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenState {
    /// Valid.
    Active,
    /// Revoked at the given time.
    Revoked(OffsetDateTime),
    /// Expired at the given time.
    Expired(OffsetDateTime),
}

impl TokenRecord {
    /// Returns the token's state at `now`. Revocation takes precedence over expiry.
    pub fn state(&self, now: OffsetDateTime) -> TokenState {
        if let Some(at) = self.revoked_at {
            return TokenState::Revoked(at);
        }
        if now >= self.expires_at {
            return TokenState::Expired(self.expires_at);
        }
        TokenState::Active
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn token_has_prefix_and_256_random_bits() {
        let (text, _) = generate_token();
        let encoded = text.expose().strip_prefix(TOKEN_PREFIX).expect("prefix");
        assert_eq!(encoded.len(), TOKEN_ENCODED_LEN);
        let decoded = URL_SAFE_NO_PAD.decode(encoded).expect("base64url");
        assert_eq!(decoded.len() * 8, 256);
        assert!(!encoded.contains('='));
    }

    #[test]
    fn tokens_differ() {
        let (a, hash_a) = generate_token();
        let (b, hash_b) = generate_token();
        assert_ne!(a, b);
        assert_ne!(hash_a, hash_b);
    }

    #[test]
    fn hash_of_presented_token_matches_stored_hash() {
        let (text, hash) = generate_token();
        assert_eq!(hash_token(text.expose()), Ok(hash));
    }

    #[test]
    fn malformed_tokens_are_rejected() {
        let (text, _) = generate_token();
        let text = text.expose();
        let cases = [
            String::new(),
            text[TOKEN_PREFIX.len()..].to_owned(),
            format!("pat_{}", &text[TOKEN_PREFIX.len()..]),
            text[..text.len() - 1].to_owned(),
            format!("{text}A"),
            format!("{}+", &text[..text.len() - 1]),
        ];
        for case in cases {
            assert_eq!(hash_token(&case), Err(TokenFormatError), "{case:?}");
        }
    }

    #[test]
    fn format_error_does_not_echo_input() {
        let message = hash_token("pct_secret-looking-value")
            .expect_err("short")
            .to_string();
        assert!(!message.contains("secret-looking-value"), "{message}");
    }

    #[test]
    fn token_state_reports_revocation_then_expiry() {
        let issued = datetime!(2024-01-01 08:00 UTC);
        let mut record = TokenRecord {
            id: TokenId::new_random(),
            user_id: UserId::new_random(),
            hash: TokenHash([0; 32]),
            issued_at: issued,
            expires_at: datetime!(2024-01-01 16:00 UTC),
            revoked_at: None,
            mfa_at: issued,
            source_addr: None,
        };
        assert_eq!(
            record.state(datetime!(2024-01-01 15:59:59 UTC)),
            TokenState::Active
        );
        assert_eq!(
            record.state(record.expires_at),
            TokenState::Expired(record.expires_at)
        );

        let revoked = datetime!(2024-01-01 09:00 UTC);
        record.revoked_at = Some(revoked);
        assert_eq!(
            record.state(datetime!(2024-01-01 17:00 UTC)),
            TokenState::Revoked(revoked)
        );
    }
}
