//! Canonical byte encodings that the record hash and the signatures cover.
//!
//! The crate documentation describes the layout; this file is its only implementation.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::record::{timestamp_text, Hash, Record};

const RECORD_LABEL: &[u8] = b"portcullis-audit/record/v1\0";
const CHECKPOINT_LABEL: &[u8] = b"portcullis-audit/checkpoint/v1\0";
const ANCHOR_LABEL: &[u8] = b"portcullis-audit/anchor/v1\0";
const PAYLOAD_AAD_LABEL: &[u8] = b"portcullis-audit/payload/v1\0";

/// Computes SHA-256 over the record's fields in fixed order, each length-prefixed or of
/// fixed size, so that no two different records share an encoding.
pub(crate) fn record_hash(record: &Record) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update(RECORD_LABEL);
    hasher.update(record.version.to_be_bytes());
    hasher.update(record.seq.to_be_bytes());
    put_str(&mut hasher, &timestamp_text::format(record.timestamp));
    put_str(&mut hasher, &record.event_type);
    put_optional_bytes(&mut hasher, record.actor.as_ref().map(|id| id.as_bytes().as_slice()));
    put_str(&mut hasher, &record.subject);
    put_str(&mut hasher, record.outcome.as_str());
    put_optional_bytes(&mut hasher, record.session.as_ref().map(|id| id.as_bytes().as_slice()));
    put_optional_bytes(&mut hasher, record.target.as_deref().map(str::as_bytes));
    put_optional_bytes(&mut hasher, record.client_addr.as_deref().map(str::as_bytes));
    put_str(&mut hasher, &canonical_json_object(&record.metadata));
    match &record.payload {
        None => hasher.update([0u8]),
        Some(payload) => {
            hasher.update([1u8]);
            hasher.update(payload.nonce);
            put_bytes(&mut hasher, &payload.ciphertext);
        }
    }
    hasher.update(record.prev_hash);
    hasher.finalize().into()
}

/// Builds the message that a checkpoint record's signature covers.
pub(crate) fn checkpoint_message(hash: &Hash) -> Vec<u8> {
    [CHECKPOINT_LABEL, hash.as_slice()].concat()
}

/// Builds the message that the anchor file's signature covers.
pub(crate) fn anchor_message(seq: u64, hash: &Hash) -> Vec<u8> {
    [ANCHOR_LABEL, seq.to_be_bytes().as_slice(), hash.as_slice()].concat()
}

/// Builds the AES-GCM associated data that ties a payload to its record's sequence number.
pub(crate) fn payload_aad(seq: u64) -> Vec<u8> {
    [PAYLOAD_AAD_LABEL, seq.to_be_bytes().as_slice()].concat()
}

fn put_bytes(hasher: &mut Sha256, bytes: &[u8]) {
    // usize always fits in u64 on the 32- and 64-bit targets that Rust supports.
    hasher.update((bytes.len() as u64).to_be_bytes());
    hasher.update(bytes);
}

fn put_str(hasher: &mut Sha256, text: &str) {
    put_bytes(hasher, text.as_bytes());
}

fn put_optional_bytes(hasher: &mut Sha256, bytes: Option<&[u8]>) {
    match bytes {
        None => hasher.update([0u8]),
        Some(bytes) => {
            hasher.update([1u8]);
            put_bytes(hasher, bytes);
        }
    }
}

/// Serializes a JSON object with keys sorted by their UTF-8 bytes at every depth and no
/// whitespace, so that the text does not depend on insertion order or on whether
/// `serde_json`'s `preserve_order` feature is enabled.
pub(crate) fn canonical_json_object(object: &Map<String, Value>) -> String {
    let mut out = String::new();
    write_object(object, &mut out);
    out
}

fn write_object(object: &Map<String, Value>, out: &mut String) {
    let mut keys: Vec<&String> = object.keys().collect();
    keys.sort();
    out.push('{');
    for (index, key) in keys.into_iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        out.push_str(&Value::from(key.as_str()).to_string());
        out.push(':');
        if let Some(value) = object.get(key) {
            write_value(value, out);
        }
    }
    out.push('}');
}

fn write_value(value: &Value, out: &mut String) {
    match value {
        Value::Object(object) => write_object(object, out),
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_value(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_json_sorts_nested_keys() {
        let value: Value = serde_json::json!({"b": 1, "a": {"z": [1, {"y": 2, "x": "é"}], "c": null}});
        let Value::Object(object) = value else { panic!("object expected") };
        assert_eq!(
            canonical_json_object(&object),
            r#"{"a":{"c":null,"z":[1,{"x":"é","y":2}]},"b":1}"#
        );
    }

    #[test]
    fn labels_separate_signature_domains() {
        let hash = [7u8; 32];
        assert_ne!(checkpoint_message(&hash), anchor_message(0, &hash));
    }
}
