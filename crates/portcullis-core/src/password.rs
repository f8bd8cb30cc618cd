//! Password hashing with Argon2id and generation of one-time passwords.

use argon2::password_hash::rand_core::OsRng as HashRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version, ARGON2ID_IDENT};
use rand::rngs::OsRng;
use rand::Rng;

use crate::secret::SecretString;

/// Characters of generated passwords: letters and digits without the look-alikes
/// `0 O o 1 l I`, so a password read aloud or off a screen is typed right.
const PASSWORD_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789";

/// Length of generated one-time passwords: 24 characters from a 56-character alphabet
/// carry about 139 bits.
pub const ONE_TIME_PASSWORD_LEN: usize = 24;

/// Argon2id cost parameters for new hashes. Verification reads the parameters stored
/// in each hash, so changing these only affects hashes made afterwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordParams {
    /// Memory per hash in KiB.
    pub memory_kib: u32,
    /// Number of passes over the memory.
    pub iterations: u32,
    /// Degree of parallelism (lanes).
    pub parallelism: u32,
}

impl Default for PasswordParams {
    /// Returns the `argon2` crate's defaults: 19 MiB, 2 iterations, 1 lane, which is
    /// also the first Argon2id option of the OWASP Password Storage Cheat Sheet.
    fn default() -> Self {
        PasswordParams {
            memory_kib: Params::DEFAULT_M_COST,
            iterations: Params::DEFAULT_T_COST,
            parallelism: Params::DEFAULT_P_COST,
        }
    }
}

/// Errors from hashing or verifying passwords. None of them contains the password.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// The cost parameters are out of Argon2's range.
    #[error(
        "invalid Argon2 parameters (memory {memory_kib} KiB, {iterations} iterations, \
         {parallelism} lanes): {reason}"
    )]
    InvalidParams {
        /// Memory in KiB.
        memory_kib: u32,
        /// Iterations.
        iterations: u32,
        /// Lanes.
        parallelism: u32,
        /// Argon2's reason.
        reason: String,
    },
    /// Hashing failed inside the Argon2 implementation.
    #[error("hashing the password failed: {0}")]
    Hashing(String),
    /// A stored hash is not a valid Argon2id PHC string.
    #[error(
        "the stored password hash is not a valid Argon2id PHC string: {0}; reset the password"
    )]
    MalformedHash(String),
}

/// Hashes and verifies passwords with fixed cost parameters.
#[derive(Debug, Clone)]
pub struct PasswordHasher {
    argon2: Argon2<'static>,
    /// Hash of a random password, verified when a login names an unknown user so that
    /// the response takes as long as for a known one.
    dummy_hash: String,
}

impl PasswordHasher {
    /// Creates a hasher for `params`.
    pub fn new(params: PasswordParams) -> Result<Self, PasswordError> {
        let argon2_params = Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            None,
        )
        .map_err(|error| PasswordError::InvalidParams {
            memory_kib: params.memory_kib,
            iterations: params.iterations,
            parallelism: params.parallelism,
            reason: error.to_string(),
        })?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, argon2_params);
        let dummy_hash = hash_with(&argon2, generate_one_time_password().expose())?;
        Ok(PasswordHasher { argon2, dummy_hash })
    }

    /// Hashes `password` with a random 16-byte salt and returns the PHC string
    /// (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`).
    pub fn hash(&self, password: &str) -> Result<String, PasswordError> {
        hash_with(&self.argon2, password)
    }

    /// Checks `password` against a stored PHC string in constant time. Only Argon2id
    /// hashes are accepted.
    pub fn verify(&self, password: &str, phc: &str) -> Result<bool, PasswordError> {
        let parsed = PasswordHash::new(phc)
            .map_err(|error| PasswordError::MalformedHash(error.to_string()))?;
        if parsed.algorithm != ARGON2ID_IDENT {
            return Err(PasswordError::MalformedHash(format!(
                "algorithm `{}` instead of `argon2id`",
                parsed.algorithm
            )));
        }
        Ok(self
            .argon2
            .verify_password(password.as_bytes(), &parsed)
            .is_ok())
    }

    /// Verifies `password` against a hash of a random password and returns nothing;
    /// used where no user matched so the time taken does not reveal that.
    pub fn verify_dummy(&self, password: &str) {
        let _ = self.verify(password, &self.dummy_hash);
    }
}

fn hash_with(argon2: &Argon2<'static>, password: &str) -> Result<String, PasswordError> {
    let salt = SaltString::generate(&mut HashRng);
    argon2
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| PasswordError::Hashing(error.to_string()))
}

/// Generates a random password of [`ONE_TIME_PASSWORD_LEN`] characters for a new
/// account or a password reset, from the operating system's random source.
pub fn generate_one_time_password() -> SecretString {
    let mut rng = OsRng;
    let password: String = (0..ONE_TIME_PASSWORD_LEN)
        .map(|_| char::from(PASSWORD_ALPHABET[rng.gen_range(0..PASSWORD_ALPHABET.len())]))
        .collect();
    SecretString::new(password)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Small parameters so the tests run quickly in debug builds.
    fn fast_hasher() -> PasswordHasher {
        PasswordHasher::new(PasswordParams {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        })
        .expect("params")
    }

    #[test]
    fn hash_verifies_right_password_only() {
        let hasher = fast_hasher();
        let phc = hasher.hash("correct horse").expect("hash");
        assert!(phc.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{phc}");
        assert!(hasher.verify("correct horse", &phc).expect("verify"));
        assert!(!hasher.verify("correct horsE", &phc).expect("verify"));
    }

    #[test]
    fn hashes_of_same_password_differ() {
        let hasher = fast_hasher();
        assert_ne!(
            hasher.hash("same").expect("hash"),
            hasher.hash("same").expect("hash")
        );
    }

    #[test]
    fn verify_rejects_other_algorithms() {
        let hasher = fast_hasher();
        let argon2i = "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$hYw5d7RL3RwV0Fj6p0XJ3Q";
        assert!(matches!(
            hasher.verify("x", argon2i),
            Err(PasswordError::MalformedHash(_))
        ));
        assert!(matches!(
            hasher.verify("x", "plain"),
            Err(PasswordError::MalformedHash(_))
        ));
    }

    #[test]
    fn invalid_params_are_rejected() {
        let error = PasswordHasher::new(PasswordParams {
            memory_kib: 1,
            iterations: 1,
            parallelism: 1,
        })
        .expect_err("memory below minimum");
        assert!(error.to_string().contains("memory 1 KiB"), "{error}");
    }

    #[test]
    fn one_time_password_uses_alphabet() {
        let password = generate_one_time_password();
        assert_eq!(password.expose().len(), ONE_TIME_PASSWORD_LEN);
        assert!(password
            .expose()
            .bytes()
            .all(|b| PASSWORD_ALPHABET.contains(&b)));
        assert_ne!(password, generate_one_time_password());
    }

    #[test]
    fn alphabet_has_no_look_alikes() {
        assert_eq!(PASSWORD_ALPHABET.len(), 56);
        for c in b"0Oo1lI" {
            assert!(!PASSWORD_ALPHABET.contains(c), "{}", char::from(*c));
        }
    }
}
