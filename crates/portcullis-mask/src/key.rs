//! Keys for the `token` method.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroize;

type HmacSha256 = Hmac<Sha256>;

/// Label mixed into [`MaskKey::derive`], so keys derived for masking differ from keys
/// derived from the same secret for any other purpose.
const DERIVE_LABEL: &[u8] = b"portcullis mask token key v1\0";

/// A 32-byte HMAC-SHA256 key for [`crate::MaskMethod::Token`], one per target database,
/// so the same value gives different tokens in different targets.
///
/// The key schedule is computed once here; each token clones it. `Debug` never prints
/// key material.
#[derive(Clone)]
pub struct MaskKey {
    mac: HmacSha256,
}

impl MaskKey {
    /// Builds a key from 32 secret bytes; the caller's copy is zeroed.
    pub fn from_bytes(mut bytes: [u8; 32]) -> MaskKey {
        let mac = new_mac(&bytes);
        bytes.zeroize();
        MaskKey { mac }
    }

    /// Derives the key of one target from a master secret:
    /// HMAC-SHA256(master, label ‖ target name).
    pub fn derive(master: &[u8; 32], target: &str) -> MaskKey {
        let mut mac = new_mac(master);
        mac.update(DERIVE_LABEL);
        mac.update(target.as_bytes());
        let mut derived: [u8; 32] = mac.finalize().into_bytes().into();
        let key = MaskKey {
            mac: new_mac(&derived),
        };
        derived.zeroize();
        key
    }

    /// Returns a MAC with the key schedule applied, ready for one value's canonical text.
    pub(crate) fn mac(&self) -> HmacSha256 {
        self.mac.clone()
    }
}

impl fmt::Debug for MaskKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MaskKey(..)")
    }
}

fn new_mac(key: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of every length, so this branch never runs.
    match HmacSha256::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC-SHA256 accepts a 32-byte key"),
    }
}
