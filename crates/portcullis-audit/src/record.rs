//! The stored record and its JSON Lines form.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::encoding;
use crate::event::Outcome;

/// Version of the record format and of its hash encoding, stored in every record as `v`.
pub const FORMAT_VERSION: u32 = 1;

/// SHA-256 digest of a record's canonical encoding.
pub type Hash = [u8; 32];

/// The `prev` value of record 1, which has no previous record.
pub const GENESIS_HASH: Hash = [0; 32];

/// Maximum size of one stored line in bytes, newline included. The writer rejects a larger
/// record, and readers treat a longer line as corrupt instead of buffering it.
pub const MAX_RECORD_BYTES: usize = 16 * 1024 * 1024;

/// One line of the audit log.
///
/// Field names on disk are the `serde` names below. Optional fields are omitted when absent.
/// `hash` covers every other field except `sig`; the module documentation of the crate gives
/// the exact encoding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    #[serde(rename = "v")]
    pub version: u32,
    pub seq: u64,
    #[serde(rename = "ts", with = "timestamp_text")]
    pub timestamp: OffsetDateTime,
    #[serde(rename = "type")]
    pub event_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<Uuid>,
    pub subject: String,
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(rename = "client", default, skip_serializing_if = "Option::is_none")]
    pub client_addr: Option<String>,
    #[serde(rename = "meta")]
    pub metadata: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<EncryptedPayload>,
    #[serde(rename = "prev", with = "hash_hex")]
    pub prev_hash: Hash,
    #[serde(with = "hash_hex")]
    pub hash: Hash,
    /// Ed25519 signature over the checkpoint message; present on checkpoint records only.
    #[serde(rename = "sig", default, skip_serializing_if = "Option::is_none", with = "signature_base64")]
    pub signature: Option<[u8; 64]>,
}

/// AES-256-GCM ciphertext of a payload's JSON text. The tag is the last 16 bytes of
/// `ciphertext`, and the associated data binds it to the record's sequence number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncryptedPayload {
    #[serde(with = "nonce_base64")]
    pub nonce: [u8; 12],
    #[serde(with = "bytes_base64")]
    pub ciphertext: Vec<u8>,
}

impl Record {
    /// Computes the SHA-256 of this record's canonical encoding, which ignores the stored
    /// `hash` and `sig` fields.
    pub fn compute_hash(&self) -> Hash {
        encoding::record_hash(self)
    }

    /// Serializes the record as one JSON line, newline included.
    pub fn to_line(&self) -> Result<Vec<u8>, serde_json::Error> {
        let mut line = serde_json::to_vec(self)?;
        line.push(b'\n');
        Ok(line)
    }

    /// Parses one line, given without its newline.
    pub fn from_line(line: &[u8]) -> Result<Record, serde_json::Error> {
        serde_json::from_slice(line)
    }
}

/// RFC 3339 in UTC with exactly six fractional digits, for example
/// `2025-01-31T08:15:02.123456Z`. Parsing accepts any RFC 3339 text, and verification then
/// rejects a line whose text differs from this form.
pub(crate) mod timestamp_text {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::format_description::well_known::Rfc3339;
    use time::{OffsetDateTime, UtcOffset};

    pub fn format(timestamp: OffsetDateTime) -> String {
        let utc = timestamp.to_offset(UtcOffset::UTC);
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
            utc.year(),
            u8::from(utc.month()),
            utc.day(),
            utc.hour(),
            utc.minute(),
            utc.second(),
            utc.microsecond()
        )
    }

    pub fn serialize<S: Serializer>(timestamp: &OffsetDateTime, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format(*timestamp))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<OffsetDateTime, D::Error> {
        let text = String::deserialize(deserializer)?;
        OffsetDateTime::parse(&text, &Rfc3339).map_err(serde::de::Error::custom)
    }
}

pub(crate) mod hash_hex {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(hash: &[u8; 32], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex::encode(hash))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<[u8; 32], D::Error> {
        let text = String::deserialize(deserializer)?;
        let mut hash = [0u8; 32];
        hex::decode_to_slice(&text, &mut hash).map_err(serde::de::Error::custom)?;
        Ok(hash)
    }
}

/// Decodes standard base64 (with padding) into exactly `N` bytes.
fn decode_fixed<const N: usize, E: serde::de::Error>(text: &str) -> Result<[u8; N], E> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(E::custom)?;
    <[u8; N]>::try_from(bytes.as_slice())
        .map_err(|_| E::custom(format!("expected {N} bytes, found {}", bytes.len())))
}

fn encode_base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

mod nonce_base64 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(nonce: &[u8; 12], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::encode_base64(nonce))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<[u8; 12], D::Error> {
        super::decode_fixed(&String::deserialize(deserializer)?)
    }
}

mod bytes_base64 {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::encode_base64(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(serde::de::Error::custom)
    }
}

pub(crate) mod signature_base64 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(signature: &Option<[u8; 64]>, serializer: S) -> Result<S::Ok, S::Error> {
        match signature {
            Some(bytes) => serializer.serialize_str(&super::encode_base64(bytes)),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<[u8; 64]>, D::Error> {
        match Option::<String>::deserialize(deserializer)? {
            Some(text) => super::decode_fixed(&text).map(Some),
            None => Ok(None),
        }
    }
}
