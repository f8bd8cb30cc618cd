//! Which operating-system user runs the server.
//!
//! PostgreSQL's `initdb` and `postgres` exit when run as root, so a root caller runs
//! them as the `postgres` system user and hands that user the cluster's files.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use crate::ClusterError;

pub(crate) enum ServerOwner {
    /// The current (non-root) user runs the server.
    Current,
    /// Root runs the server as another user.
    Other { uid: u32, gid: u32 },
}

impl ServerOwner {
    pub(crate) fn for_current_user() -> Result<ServerOwner, ClusterError> {
        if current_uid() != 0 {
            return Ok(ServerOwner::Current);
        }
        let (uid, gid) = lookup_user("postgres").ok_or(ClusterError::NoServerUser)?;
        Ok(ServerOwner::Other { uid, gid })
    }

    /// Builds a command that runs as the server owner.
    pub(crate) fn command(&self, program: &Path) -> Command {
        let mut command = Command::new(program);
        if let ServerOwner::Other { uid, gid } = self {
            command.uid(*uid).gid(*gid);
            // The child keeps root's HOME otherwise, which it cannot read.
            command.env("HOME", "/tmp");
        }
        command
    }

    /// Gives `path` to the server owner so it can write there.
    pub(crate) fn hand_over(&self, path: &Path) -> Result<(), ClusterError> {
        match self {
            ServerOwner::Current => Ok(()),
            ServerOwner::Other { uid, gid } => std::os::unix::fs::chown(path, Some(*uid), Some(*gid))
                .map_err(|source| ClusterError::Io {
                    step: "handing the cluster directory to the postgres user",
                    source,
                }),
        }
    }
}

fn current_uid() -> u32 {
    // /proc/self is owned by the process's effective user.
    std::fs::metadata("/proc/self")
        .map(|meta| std::os::unix::fs::MetadataExt::uid(&meta))
        .unwrap_or(u32::MAX)
}

fn lookup_user(name: &str) -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        if fields.next()? != name {
            return None;
        }
        let _password = fields.next()?;
        let uid = fields.next()?.parse().ok()?;
        let gid = fields.next()?.parse().ok()?;
        Some((uid, gid))
    })
}
