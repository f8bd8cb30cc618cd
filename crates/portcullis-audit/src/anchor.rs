//! The signed anchor file beside the log: the sequence number and hash of the newest
//! checkpoint, so that removing records up to that checkpoint is detectable.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::encoding::anchor_message;
use crate::fsutil::sync_parent_dir;
use crate::record::{hash_hex, Hash, FORMAT_VERSION, GENESIS_HASH};
use crate::verify_error::VerifyError;

/// A verified anchor: every record up to and including `seq` existed, and record `seq` had
/// hash `hash`. Sequence number 0 with the all-zero hash is the anchor of an empty log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Anchor {
    pub seq: u64,
    pub hash: Hash,
}

impl Anchor {
    pub const GENESIS: Anchor = Anchor {
        seq: 0,
        hash: GENESIS_HASH,
    };
}

/// On-disk form, one JSON object: `{"v":1,"seq":…,"hash":"<hex>","sig":"<base64>"}`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AnchorFile {
    v: u32,
    seq: u64,
    #[serde(with = "hash_hex")]
    hash: Hash,
    #[serde(with = "crate::record::signature_base64")]
    sig: Option<[u8; 64]>,
}

/// Reads and verifies the anchor. Returns `Ok(None)` when the file does not exist.
pub(crate) fn read_anchor(path: &Path, key: &VerifyingKey) -> Result<Option<Anchor>, VerifyError> {
    let text = match fs::read(path) {
        Ok(text) => text,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(VerifyError::Io {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let invalid = |reason: String| VerifyError::AnchorInvalid {
        path: path.to_path_buf(),
        reason,
    };
    let file: AnchorFile = serde_json::from_slice(&text).map_err(|error| invalid(error.to_string()))?;
    if file.v != FORMAT_VERSION {
        return Err(invalid(format!("unsupported version {}; this build reads version 1", file.v)));
    }
    let signature = file.sig.ok_or_else(|| invalid("the signature is missing".to_owned()))?;
    key.verify_strict(&anchor_message(file.seq, &file.hash), &Signature::from_bytes(&signature))
        .map_err(|_| VerifyError::AnchorSignatureInvalid {
            path: path.to_path_buf(),
        })?;
    if file.seq == 0 && file.hash != GENESIS_HASH {
        return Err(invalid("sequence number 0 must have the all-zero hash".to_owned()));
    }
    Ok(Some(Anchor {
        seq: file.seq,
        hash: file.hash,
    }))
}

/// Signs and writes the anchor atomically: a temporary file in the same directory is
/// written and synced, renamed over the anchor, and the directory is synced.
pub(crate) fn write_anchor(path: &Path, anchor: Anchor, key: &SigningKey) -> io::Result<()> {
    let signature = key.sign(&anchor_message(anchor.seq, &anchor.hash));
    let file = AnchorFile {
        v: FORMAT_VERSION,
        seq: anchor.seq,
        hash: anchor.hash,
        sig: Some(signature.to_bytes()),
    };
    let mut text = serde_json::to_vec(&file).map_err(io::Error::other)?;
    text.push(b'\n');

    let temp_path = temp_path(path);
    let mut temp = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temp_path)?;
    temp.write_all(&text)?;
    temp.sync_all()?;
    drop(temp);
    fs::rename(&temp_path, path)?;
    sync_parent_dir(path)
}

fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".tmp");
    PathBuf::from(name)
}
