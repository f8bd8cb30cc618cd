//! SCRAM-SHA-256 verifiers of access tokens (RFC 5802, RFC 7677).
//!
//! Native database clients send their Portcullis token as the password, and the
//! gateway checks it with SCRAM. The store keeps only a hash of each token, so the
//! SCRAM keys are derived once, when the token is issued, and stored next to the hash.
//! All tokens of one user share the user's salt and iteration count, because the
//! server-first-message carries one salt before the client shows which token it holds.

use std::fmt;

use hmac::{Hmac, Mac};
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// Length of a user's SCRAM salt in bytes. PostgreSQL also uses 16.
pub const SCRAM_SALT_LEN: usize = 16;

/// Iteration count for new users, PostgreSQL's default for `scram_iterations`.
/// A token carries 256 random bits, so a higher count adds login cost and no
/// protection against guessing.
pub const DEFAULT_SCRAM_ITERATIONS: u32 = 4096;

/// The two keys a SCRAM server stores for one password, here one token.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ScramKeys {
    /// `SHA-256(HMAC(SaltedPassword, "Client Key"))`, which checks the client proof.
    pub stored_key: [u8; 32],
    /// `HMAC(SaltedPassword, "Server Key")`, which signs the server-final-message.
    pub server_key: [u8; 32],
}

impl fmt::Debug for ScramKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ScramKeys(<redacted>)")
    }
}

/// Generates a random salt for a new user from the operating system's random source.
pub fn generate_scram_salt() -> [u8; SCRAM_SALT_LEN] {
    let mut salt = [0u8; SCRAM_SALT_LEN];
    OsRng.fill_bytes(&mut salt);
    salt
}

/// Derives the SCRAM-SHA-256 keys of `token` for `salt` and `iterations`.
///
/// Tokens are printable ASCII, which SASLprep leaves unchanged, so the token's bytes
/// are used as they are. An iteration count of 0 gives the same keys as 1, as in
/// `portcullis_pg::TokenVerifier::derive`. The work is one HMAC-SHA-256 per
/// iteration, so call it off the async executor.
pub fn derive_scram_keys(token: &str, salt: &[u8], iterations: u32) -> ScramKeys {
    let salted = Zeroizing::new(salted_password(token.as_bytes(), salt, iterations));
    let client_key = Zeroizing::new(hmac_sha256(salted.as_slice(), b"Client Key"));
    ScramKeys {
        stored_key: Sha256::digest(client_key.as_slice()).into(),
        server_key: hmac_sha256(salted.as_slice(), b"Server Key"),
    }
}

/// PBKDF2-HMAC-SHA-256 with one 32-byte output block, the `Hi` function of RFC 5802.
fn salted_password(password: &[u8], salt: &[u8], iterations: u32) -> [u8; 32] {
    let mut first = salt.to_vec();
    first.extend_from_slice(&1u32.to_be_bytes());
    let mut previous = Zeroizing::new(hmac_sha256(password, &first));
    let mut result = *previous;
    for _ in 1..iterations {
        previous = Zeroizing::new(hmac_sha256(password, previous.as_slice()));
        for (out, byte) in result.iter_mut().zip(previous.iter()) {
            *out ^= byte;
        }
    }
    result
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length (RFC 2104 hashes long keys first), so
    // `new_from_slice` cannot fail for HMAC-SHA-256.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        unreachable!("HMAC-SHA-256 rejected a {}-byte key", key.len());
    };
    mac.update(message);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;

    use super::*;

    const RFC_SALT: &str = "W22ZaJ0SNY7soEsUEjb6gQ==";
    const RFC_NONCE: &str = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";

    /// Builds the AuthMessage of the exchange in RFC 7677 section 3 (user "user",
    /// password "pencil").
    fn rfc_auth_message() -> String {
        format!(
            "n=user,r=rOprNGfwEbeRWgbNEkqO,r={RFC_NONCE},s={RFC_SALT},i=4096,c=biws,r={RFC_NONCE}"
        )
    }

    fn rfc_keys() -> ScramKeys {
        let salt = STANDARD.decode(RFC_SALT).expect("base64 salt");
        derive_scram_keys("pencil", &salt, 4096)
    }

    #[test]
    fn server_key_signs_rfc7677_exchange() {
        let signature = hmac_sha256(&rfc_keys().server_key, rfc_auth_message().as_bytes());
        assert_eq!(
            STANDARD.encode(signature),
            "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
        );
    }

    #[test]
    fn stored_key_accepts_rfc7677_proof() {
        let keys = rfc_keys();
        let proof = STANDARD
            .decode("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
            .expect("base64 proof");
        let signature = hmac_sha256(&keys.stored_key, rfc_auth_message().as_bytes());
        let client_key: Vec<u8> = proof.iter().zip(signature).map(|(p, s)| p ^ s).collect();
        assert_eq!(
            <[u8; 32]>::from(Sha256::digest(&client_key)),
            keys.stored_key
        );
    }

    #[test]
    fn pbkdf2_matches_rfc7914_vector() {
        // RFC 7914 section 11: PBKDF2-HMAC-SHA256, P = "passwd", S = "salt", c = 1
        // (first 32 of the 64 output bytes).
        assert_eq!(
            hex::encode(salted_password(b"passwd", b"salt", 1)),
            "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
        );
    }

    #[test]
    fn keys_depend_on_token_salt_and_iterations() {
        let keys = derive_scram_keys("pct_a", b"salt-one", 16);
        assert_eq!(keys, derive_scram_keys("pct_a", b"salt-one", 16));
        assert_ne!(keys, derive_scram_keys("pct_b", b"salt-one", 16));
        assert_ne!(keys, derive_scram_keys("pct_a", b"salt-two", 16));
        assert_ne!(keys, derive_scram_keys("pct_a", b"salt-one", 17));
        assert_eq!(
            derive_scram_keys("pct_a", b"salt-one", 0),
            derive_scram_keys("pct_a", b"salt-one", 1)
        );
    }

    #[test]
    fn salts_are_random() {
        assert_ne!(generate_scram_salt(), generate_scram_salt());
    }

    #[test]
    fn debug_output_is_redacted() {
        assert_eq!(format!("{:?}", rfc_keys()), "ScramKeys(<redacted>)");
    }
}
