//! Creating files that must not already exist, with the permissions they need.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use anyhow::{Context, Result};

/// Mode of files holding secrets: readable and writable by the owner only.
pub const SECRET_MODE: u32 = 0o600;
/// Mode of files anyone on the host may read (certificates, public keys, configuration).
pub const PUBLIC_MODE: u32 = 0o644;

/// Writes `contents` to a new file with `mode`; fails if the file exists.
pub fn write_new(path: &Path, contents: &[u8], mode: u32) -> Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))
}

/// Creates a directory (and missing parents) with `mode`.
pub fn create_dir(path: &Path, mode: u32) -> Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(path)
        .with_context(|| format!("creating directory {}", path.display()))
}
