//! Encryption of secrets at rest with the gateway's master key.
//!
//! Sealed data is `version (1 byte) || nonce (12 bytes) || AES-256-GCM ciphertext and
//! tag`, with a random nonce per call. The caller passes associated data that binds the
//! ciphertext to its context (for example the user id of a TOTP secret), so a sealed
//! value copied to another row fails to open. Each purpose uses its own sub-key,
//! derived with HKDF-SHA256 from the master key and a label from [`labels`].

use std::fmt;

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hkdf::Hkdf;
use rand::RngCore;
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::secret::SecretString;

/// Labels for [`MasterKey::derive`]. Changing a label makes everything sealed under
/// the old one unreadable.
pub mod labels {
    /// Key for users' TOTP secrets.
    pub const TOTP_SECRETS: &str = "portcullis/totp-secrets/v1";
    /// Key for audit payloads that may contain ePHI.
    pub const AUDIT_PAYLOADS: &str = "portcullis/audit-payloads/v1";
    /// Key for the credentials the gateway uses to reach target systems.
    pub const TARGET_CREDENTIALS: &str = "portcullis/target-credentials/v1";
}

const SEAL_VERSION: u8 = 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// Errors from reading keys or opening sealed data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The text form of a key is not base64 of 32 bytes.
    #[error("invalid master key: expected base64 of 32 bytes ({detail}); generate one with `portcullis init`")]
    InvalidKeyText {
        /// Description of the problem, without the key material.
        detail: String,
    },
    /// Sealed data is shorter than its fixed overhead.
    #[error("sealed data is {len} bytes, shorter than the {min}-byte minimum; it is truncated or not sealed data")]
    TooShort {
        /// Length received.
        len: usize,
        /// Minimum length.
        min: usize,
    },
    /// Sealed data starts with an unknown format version.
    #[error("sealed data has format version {0}, this build reads version {SEAL_VERSION}")]
    UnknownVersion(u8),
    /// Decryption failed: the data was altered, or was sealed with another key or
    /// associated data.
    #[error(
        "sealed data failed authentication: it was altered, or sealed under another master key \
         or for another record; check that the gateway uses the right master key"
    )]
    Authentication,
}

/// A 32-byte key used to seal data directly and to derive sub-keys. Wiped on drop and
/// never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct MasterKey([u8; 32]);

impl MasterKey {
    /// Wraps raw key bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        MasterKey(bytes)
    }

    /// Generates a random key from the operating system's random source.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        let key = MasterKey(bytes);
        bytes.zeroize();
        key
    }

    /// Reads a key from standard base64, ignoring surrounding whitespace such as the
    /// newline at the end of a key file.
    pub fn from_base64(text: &str) -> Result<Self, KeyError> {
        let decoded = Zeroizing::new(STANDARD.decode(text.trim()).map_err(|error| {
            KeyError::InvalidKeyText {
                detail: error.to_string(),
            }
        })?);
        let bytes: [u8; 32] =
            decoded
                .as_slice()
                .try_into()
                .map_err(|_| KeyError::InvalidKeyText {
                    detail: format!("decoded to {} bytes", decoded.len()),
                })?;
        Ok(MasterKey(bytes))
    }

    /// Encodes the key in standard base64, for writing a key file.
    pub fn to_base64(&self) -> SecretString {
        SecretString::new(STANDARD.encode(self.0))
    }

    /// Derives the sub-key for `label` with HKDF-SHA256 (no salt, the label as info).
    pub fn derive(&self, label: &str) -> MasterKey {
        let mut okm = [0u8; 32];
        // 32 bytes is far below HKDF-SHA256's 8160-byte output limit, so expand cannot fail.
        if Hkdf::<Sha256>::new(None, &self.0)
            .expand(label.as_bytes(), &mut okm)
            .is_err()
        {
            unreachable!("HKDF-SHA256 rejected a 32-byte output");
        }
        let key = MasterKey(okm);
        okm.zeroize();
        key
    }

    /// Returns the raw key bytes, for keyed algorithms other than sealing (such as HMAC).
    pub fn expose_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Encrypts `plaintext` with AES-256-GCM under a random nonce, authenticating `aad`
    /// as well, and returns the sealed bytes.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
        let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&self.0));
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let Ok(ciphertext) = cipher.encrypt(
            &nonce,
            Payload {
                msg: plaintext,
                aad,
            },
        ) else {
            // aes-gcm 0.10 only fails to encrypt inputs longer than its P_MAX of 2^36 bytes.
            unreachable!(
                "AES-256-GCM rejected a plaintext of {} bytes",
                plaintext.len()
            );
        };

        let mut sealed = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        sealed.push(SEAL_VERSION);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        sealed
    }

    /// Decrypts data from [`MasterKey::seal`] made with the same key and `aad`.
    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let min = 1 + NONCE_LEN + TAG_LEN;
        if sealed.len() < min {
            return Err(KeyError::TooShort {
                len: sealed.len(),
                min,
            });
        }
        let (version, rest) = sealed.split_at(1);
        if version[0] != SEAL_VERSION {
            return Err(KeyError::UnknownVersion(version[0]));
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);

        let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&self.0));
        cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| KeyError::Authentication)
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip() {
        let key = MasterKey::generate();
        let sealed = key.seal(b"totp secret", b"user:1");
        assert_eq!(sealed.len(), 1 + NONCE_LEN + b"totp secret".len() + TAG_LEN);
        assert_eq!(
            key.open(&sealed, b"user:1").expect("open").as_slice(),
            b"totp secret"
        );
    }

    #[test]
    fn sealing_twice_uses_fresh_nonces() {
        let key = MasterKey::generate();
        assert_ne!(key.seal(b"same", b""), key.seal(b"same", b""));
    }

    #[test]
    fn tampered_ciphertext_fails() {
        let key = MasterKey::generate();
        let sealed = key.seal(b"secret", b"aad");
        for index in 1..sealed.len() {
            let mut tampered = sealed.clone();
            tampered[index] ^= 0x01;
            assert_eq!(
                key.open(&tampered, b"aad"),
                Err(KeyError::Authentication),
                "byte {index}"
            );
        }
    }

    #[test]
    fn wrong_aad_or_key_fails() {
        let key = MasterKey::generate();
        let sealed = key.seal(b"secret", b"user:1");
        assert_eq!(key.open(&sealed, b"user:2"), Err(KeyError::Authentication));
        assert_eq!(
            MasterKey::generate().open(&sealed, b"user:1"),
            Err(KeyError::Authentication)
        );
    }

    #[test]
    fn truncated_or_unknown_version_fails() {
        let key = MasterKey::generate();
        let mut sealed = key.seal(b"secret", b"");
        assert!(matches!(
            key.open(&sealed[..20], b""),
            Err(KeyError::TooShort { len: 20, .. })
        ));
        sealed[0] = 9;
        assert_eq!(key.open(&sealed, b""), Err(KeyError::UnknownVersion(9)));
    }

    #[test]
    fn derived_keys_differ_by_label_and_are_stable() {
        let key = MasterKey::from_bytes([7; 32]);
        let totp = key.derive(labels::TOTP_SECRETS);
        assert_eq!(
            totp.expose_bytes(),
            key.derive(labels::TOTP_SECRETS).expose_bytes()
        );
        assert_ne!(
            totp.expose_bytes(),
            key.derive(labels::AUDIT_PAYLOADS).expose_bytes()
        );
        assert_ne!(totp.expose_bytes(), key.expose_bytes());

        let sealed = totp.seal(b"x", b"");
        assert_eq!(key.open(&sealed, b""), Err(KeyError::Authentication));
    }

    #[test]
    fn hkdf_matches_rfc5869_case_3() {
        // RFC 5869 test case 3: SHA-256, 22-byte IKM of 0x0b, no salt, no info, L = 42.
        let hk = Hkdf::<Sha256>::new(None, &[0x0b; 22]);
        let mut okm = [0u8; 42];
        hk.expand(&[], &mut okm).expect("expand");
        assert_eq!(
            hex::encode(okm),
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"
        );
    }

    #[test]
    fn base64_round_trip_and_errors() {
        let key = MasterKey::generate();
        let text = format!("{}\n", key.to_base64().expose());
        let read = MasterKey::from_base64(&text).expect("read");
        assert_eq!(read.expose_bytes(), key.expose_bytes());

        let short = STANDARD.encode([1u8; 16]);
        let error = MasterKey::from_base64(&short).expect_err("16 bytes");
        assert!(error.to_string().contains("decoded to 16 bytes"), "{error}");
        assert!(MasterKey::from_base64("not base64!").is_err());
    }

    #[test]
    fn debug_output_is_redacted() {
        assert_eq!(
            format!("{:?}", MasterKey::from_bytes([1; 32])),
            "MasterKey(<redacted>)"
        );
    }
}
