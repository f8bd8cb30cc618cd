//! Ed25519 checkpoint keys: generation and PEM files.
//!
//! The signing key is stored as PKCS#8 PEM with mode 0600 and is only loaded from a file
//! that no group or other user can read or write. The verifying key is stored as SPKI PEM
//! ("PUBLIC KEY") so that auditors can verify a log without the signing key. A signing
//! key's verifying key is `SigningKey::verifying_key()`.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{SigningKey, VerifyingKey};
use rand::rngs::OsRng;
use zeroize::Zeroizing;

use crate::fsutil::sync_parent_dir;

/// Errors of the key file helpers. Messages name the file and never contain key bytes.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot {action} key file {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("key file {path} already exists; move it away or choose another path (existing keys are never overwritten)")]
    AlreadyExists { path: PathBuf },
    #[error("signing key file {path} has mode {mode:o}, so other users may read or change it; run `chmod 600 {path}` and check who had access")]
    InsecurePermissions { path: PathBuf, mode: u32 },
    #[error("key file {path} is not a valid Ed25519 {kind} PEM file: {reason}")]
    Invalid {
        path: PathBuf,
        kind: &'static str,
        reason: String,
    },
    #[error("cannot encode the Ed25519 key as PEM: {reason}")]
    Encode { reason: String },
}

/// Generates a new Ed25519 signing key from the operating system's random number generator.
pub fn generate_signing_key() -> SigningKey {
    SigningKey::generate(&mut OsRng)
}

/// Writes the signing key as PKCS#8 PEM to a new file with mode 0600 and syncs it.
/// Fails with `KeyError::AlreadyExists` instead of replacing an existing file.
pub fn write_signing_key(path: &Path, key: &SigningKey) -> Result<(), KeyError> {
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|error| KeyError::Encode { reason: error.to_string() })?;
    write_new_file(path, pem.as_bytes(), 0o600)
}

/// Loads a PKCS#8 PEM signing key after checking that the file has no group or other
/// permission bits.
pub fn load_signing_key(path: &Path) -> Result<SigningKey, KeyError> {
    let metadata = fs::metadata(path).map_err(|source| io_error("read", path, source))?;
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyError::InsecurePermissions {
            path: path.to_path_buf(),
            mode,
        });
    }
    let pem = Zeroizing::new(fs::read_to_string(path).map_err(|source| io_error("read", path, source))?);
    SigningKey::from_pkcs8_pem(&pem).map_err(|error| KeyError::Invalid {
        path: path.to_path_buf(),
        kind: "private key (PKCS#8)",
        reason: error.to_string(),
    })
}

/// Writes the verifying key as SPKI PEM to a new file with mode 0644.
pub fn write_verifying_key(path: &Path, key: &VerifyingKey) -> Result<(), KeyError> {
    let pem = key
        .to_public_key_pem(LineEnding::LF)
        .map_err(|error| KeyError::Encode { reason: error.to_string() })?;
    write_new_file(path, pem.as_bytes(), 0o644)
}

pub fn load_verifying_key(path: &Path) -> Result<VerifyingKey, KeyError> {
    let pem = fs::read_to_string(path).map_err(|source| io_error("read", path, source))?;
    VerifyingKey::from_public_key_pem(&pem).map_err(|error| KeyError::Invalid {
        path: path.to_path_buf(),
        kind: "public key (SPKI)",
        reason: error.to_string(),
    })
}

fn write_new_file(path: &Path, contents: &[u8], mode: u32) -> Result<(), KeyError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|source| match source.kind() {
            io::ErrorKind::AlreadyExists => KeyError::AlreadyExists {
                path: path.to_path_buf(),
            },
            _ => io_error("create", path, source),
        })?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(|source| io_error("write", path, source))?;
    sync_parent_dir(path).map_err(|source| io_error("sync the directory of", path, source))
}

fn io_error(action: &'static str, path: &Path, source: io::Error) -> KeyError {
    KeyError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}
