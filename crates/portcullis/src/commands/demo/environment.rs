//! The demo's throwaway environment: a PostgreSQL cluster with the EHR database, a
//! gateway working directory, and the `portcullis serve` process.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use portcullis_cluster::Cluster;

use super::alert_receiver::AlertReceiver;
use super::config;

const SCHEMA_SQL: &str = include_str!("../../../demo/schema.sql");
const DATA_SQL: &str = include_str!("../../../demo/data.sql");
const RLS_SQL: &str = include_str!("../../../demo/rls.sql");
const STAGING_SQL: &str = include_str!("../../../demo/staging.sql");
const VIEWS_SQL: &str = include_str!("../../../../portcullis-policy/examples/demo/views.sql");

/// The demo's Cedar policies, PHI catalog and guardrails, written into the gateway's
/// `policies/` directory.
const POLICY_FILES: [(&str, &str); 10] = [
    ("common.cedar", include_str!("../../../../portcullis-policy/examples/demo/common.cedar")),
    ("clinician.cedar", include_str!("../../../../portcullis-policy/examples/demo/clinician.cedar")),
    ("billing.cedar", include_str!("../../../../portcullis-policy/examples/demo/billing.cedar")),
    ("researcher.cedar", include_str!("../../../../portcullis-policy/examples/demo/researcher.cedar")),
    ("dba.cedar", include_str!("../../../../portcullis-policy/examples/demo/dba.cedar")),
    ("security_officer.cedar", include_str!("../../../../portcullis-policy/examples/demo/security_officer.cedar")),
    ("emergency.cedar", include_str!("../../../../portcullis-policy/examples/demo/emergency.cedar")),
    ("guardrails.toml", include_str!("../../../../portcullis-policy/examples/demo/guardrails.toml")),
    ("catalogs/ehr.toml", include_str!("../../../../portcullis-policy/examples/demo/catalogs/ehr.toml")),
    ("README", "Demo policies for the personas of `portcullis demo`; see docs/policy.md.\n"),
];

/// Name of the demo target; clients send it as the database name.
pub const TARGET: &str = "ehr";

/// Starts a cluster and loads the demo EHR database into it.
pub fn start_database(gateway_password: &str) -> Result<Cluster> {
    let cluster = Cluster::start().context("starting a throwaway PostgreSQL cluster")?;
    cluster.psql("postgres", "CREATE DATABASE ehr")?;
    cluster.psql_script("ehr", SCHEMA_SQL, &[])?;
    cluster.psql_script("ehr", DATA_SQL, &[])?;
    let options = format!("-c portcullis.gateway_password={gateway_password}");
    cluster.psql_script("ehr", RLS_SQL, &[("PGOPTIONS", options.as_str())])?;
    cluster.psql_script("ehr", STAGING_SQL, &[])?;
    cluster.psql_script("ehr", VIEWS_SQL, &[])?;
    Ok(cluster)
}

fn write_policies(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir.join("catalogs"))?;
    for (name, text) in POLICY_FILES {
        std::fs::write(dir.join(name), text).with_context(|| format!("writing policy file {name}"))?;
    }
    Ok(())
}

/// Ports and paths of the running gateway.
pub struct Gateway {
    pub dir: PathBuf,
    pub config: PathBuf,
    pub ca_cert: PathBuf,
    pub api_port: u16,
    pub pg_port: u16,
    process: Option<Child>,
}

impl Gateway {
    /// Writes the demo's target, listener, access and alert settings into a
    /// configuration created by `init`, with the upstream password and the webhook's
    /// shared secret.
    pub fn configure(dir: &Path, api_port: u16, pg_port: u16, cluster: &Cluster, gateway_password: &str, alerts: &AlertReceiver) -> Result<Gateway> {
        let config = dir.join("portcullis.toml");
        let upstream_password_file = "keys/ehr-upstream.password";
        let webhook_secret_file = "keys/alert-webhook.secret";
        crate::files::write_new(&dir.join(upstream_password_file), gateway_password.as_bytes(), crate::files::SECRET_MODE)?;
        crate::files::write_new(&dir.join(webhook_secret_file), alerts.secret.as_bytes(), crate::files::SECRET_MODE)?;
        write_policies(&dir.join("policies"))?;
        let settings = config::Settings {
            pg_port,
            upstream_port: cluster.port(),
            upstream_password_file,
            webhook_url: &alerts.url,
            webhook_secret_file,
        };
        config::write(&config, &settings)?;
        Ok(Gateway {
            dir: dir.to_path_buf(),
            ca_cert: dir.join("tls/ca.crt"),
            config,
            api_port,
            pg_port,
            process: None,
        })
    }

    /// Starts `portcullis serve` and waits until the API answers.
    pub fn start(&mut self) -> Result<()> {
        let log = std::fs::File::create(self.dir.join("serve.log"))?;
        let child = Command::new(std::env::current_exe()?)
            .arg("-c")
            .arg(&self.config)
            .arg("serve")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting portcullis serve")?;
        self.process = Some(child);
        self.wait_ready(Duration::from_secs(30))
    }

    fn wait_ready(&mut self, limit: Duration) -> Result<()> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Some(child) = self.process.as_mut() {
                if let Some(status) = child.try_wait()? {
                    bail!(
                        "portcullis serve exited with {status}; see {}",
                        self.dir.join("serve.log").display()
                    );
                }
            }
            let api = std::net::TcpStream::connect(("127.0.0.1", self.api_port)).is_ok();
            let pg = std::net::TcpStream::connect(("127.0.0.1", self.pg_port)).is_ok();
            if api && pg {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        bail!("portcullis serve did not open its listeners within {} s", limit.as_secs())
    }

    /// Runs another `portcullis` command against this gateway's configuration.
    pub fn command(&self) -> Result<Command> {
        let mut command = Command::new(std::env::current_exe()?);
        command.arg("-c").arg(&self.config);
        Ok(command)
    }

    /// Stops `serve` with SIGTERM and waits for it.
    pub fn stop(&mut self) -> Result<()> {
        let Some(mut child) = self.process.take() else {
            return Ok(());
        };
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        child.kill()?;
        child.wait()?;
        bail!("portcullis serve did not stop within 15 s of SIGTERM and was killed")
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Err(error) = self.stop() {
            eprintln!("warning: {error:#}");
        }
    }
}
