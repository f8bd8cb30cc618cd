//! Throwaway PostgreSQL clusters for the demo and the test suites.
//!
//! A [`Cluster`] runs `initdb` and `pg_ctl` from the machine's PostgreSQL server
//! binaries in a temporary directory, listens on 127.0.0.1 on a free port, and is
//! stopped (fast shutdown) and deleted when dropped. PostgreSQL refuses to run as
//! root, so when the current user is root the server runs as the `postgres` system
//! user (created by Debian's `postgresql` package), and the directory is handed to it.
//!
//! Authentication: local (Unix socket) connections are trusted; TCP connections use
//! SCRAM-SHA-256, the superuser `postgres` has the password [`Cluster::superuser_password`].

mod binaries;
mod owner;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

pub use binaries::find_server_binaries;
use owner::ServerOwner;

/// Errors while starting, using or stopping a cluster.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(
        "PostgreSQL server binaries not found: looked for `{0}` on PATH and in /usr/lib/postgresql/*/bin; \
         install them (Debian/Ubuntu: `apt-get install postgresql`)"
    )]
    BinariesNotFound(&'static str),
    #[error("cannot run PostgreSQL as root and the `postgres` system user does not exist; create it or run as a non-root user")]
    NoServerUser,
    #[error("{step} failed: {source}")]
    Io {
        step: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("{program} failed with {status}: {stderr}")]
    CommandFailed {
        program: String,
        status: std::process::ExitStatus,
        stderr: String,
    },
    #[error("PostgreSQL did not accept connections on port {port} within {seconds} s; see {log}")]
    StartTimedOut {
        port: u16,
        seconds: u64,
        log: String,
    },
}

/// A running throwaway PostgreSQL cluster; stopped and removed on drop.
pub struct Cluster {
    dir: tempfile::TempDir,
    bin_dir: PathBuf,
    port: u16,
    owner: ServerOwner,
    stopped: bool,
}

const SUPERUSER: &str = "postgres";
const SUPERUSER_PASSWORD: &str = "portcullis-test-superuser";

impl Cluster {
    /// Initializes and starts a new cluster on a free loopback port.
    pub fn start() -> Result<Cluster, ClusterError> {
        Self::start_with_settings(&[])
    }

    /// Like [`Cluster::start`], with extra `postgresql.conf` lines such as
    /// `("max_connections", "300")`.
    pub fn start_with_settings(settings: &[(&str, &str)]) -> Result<Cluster, ClusterError> {
        let bin_dir = find_server_binaries()?;
        let owner = ServerOwner::for_current_user()?;
        let dir = tempfile::Builder::new()
            .prefix("portcullis-pg-")
            .tempdir()
            .map_err(|source| ClusterError::Io {
                step: "creating the cluster directory",
                source,
            })?;
        owner.hand_over(dir.path())?;

        let port = free_port()?;
        let mut cluster = Cluster {
            dir,
            bin_dir,
            port,
            owner,
            stopped: true,
        };
        cluster.initdb()?;
        cluster.write_settings(settings)?;
        cluster.pg_ctl_start()?;
        cluster.stopped = false;
        cluster.wait_ready(Duration::from_secs(30))?;
        Ok(cluster)
    }

    /// TCP port the server listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Host the server listens on.
    pub fn host(&self) -> &'static str {
        "127.0.0.1"
    }

    /// Directory holding the Unix socket.
    pub fn socket_dir(&self) -> PathBuf {
        self.dir.path().join("socket")
    }

    /// Name of the superuser role.
    pub fn superuser(&self) -> &'static str {
        SUPERUSER
    }

    /// Password of the superuser role for TCP connections.
    pub fn superuser_password(&self) -> &'static str {
        SUPERUSER_PASSWORD
    }

    /// Directory with the server binaries in use (`psql`, `pgbench` may also be there).
    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    /// A libpq connection string for the superuser over TCP.
    pub fn superuser_url(&self, database: &str) -> String {
        format!(
            "postgres://{SUPERUSER}:{SUPERUSER_PASSWORD}@127.0.0.1:{}/{database}",
            self.port
        )
    }

    /// Runs SQL as the superuser through `psql` over the Unix socket and returns stdout.
    /// Stops at the first error.
    pub fn psql(&self, database: &str, sql: &str) -> Result<String, ClusterError> {
        let psql = binaries::psql_path(&self.bin_dir);
        let output = self.owner.command(&psql)
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .arg("-h")
            .arg(self.socket_dir())
            .args(["-p", &self.port.to_string(), "-U", SUPERUSER, "-d", database])
            .args(["-c", sql])
            .output()
            .map_err(|source| ClusterError::Io {
                step: "running psql",
                source,
            })?;
        check(&psql, output).map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Runs a file of SQL as the superuser through `psql`, stopping at the first error.
    pub fn psql_file(&self, database: &str, file: &Path) -> Result<(), ClusterError> {
        self.psql_file_with_env(database, file, &[])
    }

    /// Like [`Cluster::psql_file`], with extra environment variables for `psql` (for
    /// example `PGOPTIONS`, to pass a session setting without putting it in SQL text).
    pub fn psql_file_with_env(&self, database: &str, file: &Path, env: &[(&str, &str)]) -> Result<(), ClusterError> {
        let psql = binaries::psql_path(&self.bin_dir);
        let output = self.owner.command(&psql)
            .envs(env.iter().copied())
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1"])
            .arg("-h")
            .arg(self.socket_dir())
            .args(["-p", &self.port.to_string(), "-U", SUPERUSER, "-d", database])
            .arg("-f")
            .arg(file)
            .output()
            .map_err(|source| ClusterError::Io {
                step: "running psql",
                source,
            })?;
        check(&psql, output).map(|_| ())
    }

    /// Runs SQL text fed on standard input as the superuser through `psql`, stopping
    /// at the first error, with extra environment variables for `psql` (for example
    /// `PGOPTIONS`, to pass a session setting without putting it in SQL text).
    pub fn psql_script(&self, database: &str, sql: &str, env: &[(&str, &str)]) -> Result<(), ClusterError> {
        use std::io::Write;
        use std::process::Stdio;

        let psql = binaries::psql_path(&self.bin_dir);
        let mut child = self.owner.command(&psql)
            .envs(env.iter().copied())
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1"])
            .arg("-h")
            .arg(self.socket_dir())
            .args(["-p", &self.port.to_string(), "-U", SUPERUSER, "-d", database])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| ClusterError::Io { step: "running psql", source })?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(sql.as_bytes())
                .map_err(|source| ClusterError::Io { step: "writing SQL to psql", source })?;
        }
        let output = child
            .wait_with_output()
            .map_err(|source| ClusterError::Io { step: "running psql", source })?;
        check(&psql, output).map(|_| ())
    }

    /// Stops the server (fast shutdown). Also done on drop.
    pub fn stop(&mut self) -> Result<(), ClusterError> {
        if self.stopped {
            return Ok(());
        }
        self.stopped = true;
        let pg_ctl = self.bin_dir.join("pg_ctl");
        let output = self.owner.command(&pg_ctl)
            .arg("stop")
            .arg("-D")
            .arg(self.data_dir())
            .args(["-m", "fast", "-w", "-t", "30"])
            .output()
            .map_err(|source| ClusterError::Io {
                step: "running pg_ctl stop",
                source,
            })?;
        check(&pg_ctl, output).map(|_| ())
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log_file(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    fn initdb(&self) -> Result<(), ClusterError> {
        let pwfile = self.dir.path().join("pwfile");
        std::fs::write(&pwfile, SUPERUSER_PASSWORD).map_err(|source| ClusterError::Io {
            step: "writing the superuser password file",
            source,
        })?;
        self.owner.hand_over(&pwfile)?;
        let socket_dir = self.socket_dir();
        std::fs::create_dir(&socket_dir).map_err(|source| ClusterError::Io {
            step: "creating the socket directory",
            source,
        })?;
        self.owner.hand_over(&socket_dir)?;

        let initdb = self.bin_dir.join("initdb");
        let output = self.owner.command(&initdb)
            .arg("-D")
            .arg(self.data_dir())
            .args(["-U", SUPERUSER, "-E", "UTF8", "--locale=C", "--no-sync"])
            .args(["--auth-local=trust", "--auth-host=scram-sha-256"])
            .arg(format!("--pwfile={}", pwfile.display()))
            .output()
            .map_err(|source| ClusterError::Io {
                step: "running initdb",
                source,
            })?;
        check(&initdb, output).map(|_| ())
    }

    fn write_settings(&self, extra: &[(&str, &str)]) -> Result<(), ClusterError> {
        use std::io::Write;
        let mut conf = std::fs::OpenOptions::new()
            .append(true)
            .open(self.data_dir().join("postgresql.conf"))
            .map_err(|source| ClusterError::Io {
                step: "opening postgresql.conf",
                source,
            })?;
        let mut lines = format!(
            "\nlisten_addresses = '127.0.0.1'\nport = {}\nunix_socket_directories = '{}'\n\
             fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n\
             password_encryption = 'scram-sha-256'\nmax_connections = 200\n",
            self.port,
            self.socket_dir().display()
        );
        for (key, value) in extra {
            lines.push_str(&format!("{key} = '{value}'\n"));
        }
        conf.write_all(lines.as_bytes()).map_err(|source| ClusterError::Io {
            step: "writing postgresql.conf",
            source,
        })
    }

    fn pg_ctl_start(&self) -> Result<(), ClusterError> {
        let pg_ctl = self.bin_dir.join("pg_ctl");
        let output = self.owner.command(&pg_ctl)
            .arg("start")
            .arg("-D")
            .arg(self.data_dir())
            .arg("-l")
            .arg(self.log_file())
            .args(["-w", "-t", "60"])
            .output()
            .map_err(|source| ClusterError::Io {
                step: "running pg_ctl start",
                source,
            })?;
        check(&pg_ctl, output).map(|_| ())
    }

    fn wait_ready(&self, limit: Duration) -> Result<(), ClusterError> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(ClusterError::StartTimedOut {
            port: self.port,
            seconds: limit.as_secs(),
            log: self.log_file().display().to_string(),
        })
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Err(error) = self.stop() {
            tracing::warn!(%error, port = self.port, "stopping the throwaway PostgreSQL cluster failed");
        }
    }
}

/// Returns a TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> Result<u16, ClusterError> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).map_err(|source| ClusterError::Io {
        step: "finding a free port",
        source,
    })?;
    listener
        .local_addr()
        .map(|addr| addr.port())
        .map_err(|source| ClusterError::Io {
            step: "finding a free port",
            source,
        })
}

fn check(program: &Path, output: Output) -> Result<Output, ClusterError> {
    if output.status.success() {
        return Ok(output);
    }
    Err(ClusterError::CommandFailed {
        program: program.display().to_string(),
        status: output.status,
        stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_starts_answers_and_stops() {
        let mut cluster = Cluster::start().expect("start cluster");
        let out = cluster.psql("postgres", "SELECT 40 + 2").expect("query");
        assert_eq!(out.trim(), "42");
        let port = cluster.port();
        cluster.stop().expect("stop");
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    }
}
