//! Key files: modes, round trips and refusals.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use portcullis_audit::{
    generate_signing_key, load_signing_key, load_verifying_key, write_signing_key, write_verifying_key, KeyError,
};

#[test]
fn signing_key_roundtrip_with_mode_0600() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit-signing.pem");
    let key = generate_signing_key();
    write_signing_key(&path, &key).unwrap();

    let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let text = fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("-----BEGIN PRIVATE KEY-----"), "{text}");
    let loaded = load_signing_key(&path).unwrap();
    assert_eq!(loaded.to_bytes(), key.to_bytes());
    assert_eq!(loaded.verifying_key(), key.verifying_key());
}

#[test]
fn signing_key_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit-signing.pem");
    let first = generate_signing_key();
    write_signing_key(&path, &first).unwrap();
    let error = write_signing_key(&path, &generate_signing_key()).unwrap_err();
    assert!(matches!(error, KeyError::AlreadyExists { .. }), "{error:?}");
    assert_eq!(load_signing_key(&path).unwrap().to_bytes(), first.to_bytes());
}

#[test]
fn readable_signing_key_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit-signing.pem");
    write_signing_key(&path, &generate_signing_key()).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    let error = load_signing_key(&path).unwrap_err();
    assert!(matches!(error, KeyError::InsecurePermissions { mode: 0o644, .. }), "{error:?}");
    assert!(error.to_string().contains("chmod 600"), "{error}");
}

#[test]
fn verifying_key_roundtrip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit-verifying.pem");
    let key = generate_signing_key();
    write_verifying_key(&path, &key.verifying_key()).unwrap();
    let text = fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("-----BEGIN PUBLIC KEY-----"), "{text}");
    assert_eq!(load_verifying_key(&path).unwrap(), key.verifying_key());
}

#[test]
fn invalid_pem_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.pem");
    fs::write(&path, "not a key").unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    let error = load_signing_key(&path).unwrap_err();
    assert!(matches!(error, KeyError::Invalid { .. }), "{error:?}");
    let error = load_verifying_key(&path).unwrap_err();
    assert!(matches!(error, KeyError::Invalid { .. }), "{error:?}");
}
