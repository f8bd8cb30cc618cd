//! Payload encryption: AES-256-GCM under a key derived with HKDF-SHA256.

use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use hkdf::Hkdf;
use rand::rngs::OsRng;
use rand::RngCore;
use serde_json::Value;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::encoding::payload_aad;
use crate::record::EncryptedPayload;

/// HKDF `info` label for the payload key. Changing it makes every existing payload
/// undecryptable.
const PAYLOAD_KEY_INFO: &[u8] = b"portcullis-audit payload key v1";

/// AES-256 key for audit payloads. The bytes are zeroed on drop and never printed.
#[derive(Clone)]
pub struct PayloadKey(Zeroizing<[u8; 32]>);

impl PayloadKey {
    /// Derives the payload key from a 32-byte master key with HKDF-SHA256 (no salt, a fixed
    /// `info` label), so the master key itself never encrypts data.
    ///
    /// NOTE: nonces are random 96-bit values, so one payload key should encrypt at most
    /// 2^32 payloads (NIST SP 800-38D, section 8.3). Rotate the master key before that.
    pub fn derive(master_key: &[u8; 32]) -> PayloadKey {
        let hkdf = Hkdf::<Sha256>::new(None, master_key);
        let mut key = Zeroizing::new([0u8; 32]);
        // RFC 5869 limits HKDF-SHA256 output to 255 * 32 = 8160 bytes, so 32 bytes cannot fail.
        hkdf.expand(PAYLOAD_KEY_INFO, key.as_mut())
            .expect("32 bytes is within HKDF-SHA256's output limit");
        PayloadKey(key)
    }

    // NOTE: the AES round keys inside the returned cipher are not zeroed on drop, because
    // the `aes` crate zeroizes them only with its optional `zeroize` feature, not enabled here.
    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(self.0.as_slice()))
    }
}

impl fmt::Debug for PayloadKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PayloadKey(<redacted>)")
    }
}

/// Reasons a payload cannot be encrypted or decrypted. The messages never contain plaintext.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("payload is too large for AES-GCM")]
    TooLarge,
    #[error("payload could not be decrypted: wrong payload key, or the ciphertext or its sequence number was altered")]
    Decrypt,
    #[error("decrypted payload is not valid JSON")]
    NotJson,
}

/// Encrypts the payload's JSON text with a fresh random nonce, bound to `seq`.
pub(crate) fn encrypt(key: &PayloadKey, seq: u64, payload: &Value) -> Result<EncryptedPayload, PayloadError> {
    let plaintext = Zeroizing::new(payload.to_string().into_bytes());
    let mut nonce = [0u8; 12];
    OsRng.fill_bytes(&mut nonce);
    let aad = payload_aad(seq);
    let ciphertext = key
        .cipher()
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext.as_slice(),
                aad: &aad,
            },
        )
        .map_err(|_| PayloadError::TooLarge)?;
    Ok(EncryptedPayload { nonce, ciphertext })
}

/// Decrypts a payload stored in record `seq` and parses its JSON text.
pub fn decrypt(key: &PayloadKey, seq: u64, payload: &EncryptedPayload) -> Result<Value, PayloadError> {
    let aad = payload_aad(seq);
    let plaintext = key
        .cipher()
        .decrypt(
            Nonce::from_slice(&payload.nonce),
            Payload {
                msg: &payload.ciphertext,
                aad: &aad,
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| PayloadError::Decrypt)?;
    serde_json::from_slice(&plaintext).map_err(|_| PayloadError::NotJson)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_roundtrip_and_seq_binding() {
        let key = PayloadKey::derive(&[9u8; 32]);
        let value = serde_json::json!({"statement": "SELECT 1"});
        let sealed = encrypt(&key, 5, &value).unwrap();
        assert_eq!(decrypt(&key, 5, &sealed).unwrap(), value);
        assert_eq!(decrypt(&key, 6, &sealed), Err(PayloadError::Decrypt));
    }

    #[test]
    fn payload_key_differs_from_master_key() {
        let master = [1u8; 32];
        let key = PayloadKey::derive(&master);
        assert_ne!(key.0.as_slice(), master.as_slice());
        assert_eq!(format!("{key:?}"), "PayloadKey(<redacted>)");
    }
}
