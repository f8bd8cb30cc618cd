//! Locating the PostgreSQL server binaries.

use std::path::{Path, PathBuf};

use crate::ClusterError;

/// Returns the directory holding `initdb` and `pg_ctl`: the `PORTCULLIS_PG_BIN`
/// environment variable if set, else `PATH`, else the newest
/// `/usr/lib/postgresql/<major>/bin` (Debian and Ubuntu keep them there, off `PATH`).
pub fn find_server_binaries() -> Result<PathBuf, ClusterError> {
    if let Some(dir) = std::env::var_os("PORTCULLIS_PG_BIN") {
        let dir = PathBuf::from(dir);
        if dir.join("initdb").is_file() {
            return Ok(dir);
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if dir.join("initdb").is_file() && dir.join("pg_ctl").is_file() {
                return Ok(resolve_link_dir(&dir.join("initdb")).unwrap_or(dir));
            }
        }
    }
    newest_debian_bin_dir().ok_or(ClusterError::BinariesNotFound("initdb"))
}

/// Returns `psql` next to the server binaries, or the one on `PATH`.
pub fn psql_path(bin_dir: &Path) -> PathBuf {
    let beside = bin_dir.join("psql");
    if beside.is_file() {
        beside
    } else {
        PathBuf::from("psql")
    }
}

/// A symlinked `initdb` (as in /usr/local/bin) points at the real binary directory,
/// which also holds `postgres`.
fn resolve_link_dir(initdb: &Path) -> Option<PathBuf> {
    let real = std::fs::canonicalize(initdb).ok()?;
    let dir = real.parent()?.to_path_buf();
    dir.join("pg_ctl").is_file().then_some(dir)
}

fn newest_debian_bin_dir() -> Option<PathBuf> {
    let mut majors: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| {
            let major = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((major, bin))
        })
        .collect();
    majors.sort();
    majors.pop().map(|(_, bin)| bin)
}
