//! Two gateway instances sharing one PostgreSQL state store: a grant approved through
//! the HTTP API of one and revoked through the API of the other ends, within a second,
//! the psql session that depends on it, whichever instance runs that session.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, portcullis, run, set_option, Account, Workdir};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use portcullis_cluster::Cluster;
use reqwest::StatusCode;
use serde_json::{json, Value};

const UPSTREAM_ROLE: &str = "pair_gateway";
const UPSTREAM_PASSWORD: &str = "pair-upstream-password";
const SLEEP_QUERY: &str = "SELECT pg_sleep(60)";

/// One `portcullis serve` with its own configuration file and ports.
struct Instance {
    child: Child,
    api: String,
    pg_port: u16,
}

impl Instance {
    async fn start(workdir: &Workdir, config: &Path, store_url: &str, api_port: u16, pg_port: u16, client: &reqwest::Client) -> Instance {
        let child = portcullis(workdir.scratch())
            .arg("-c")
            .arg(config)
            .arg("serve")
            .env("PORTCULLIS_STORE_URL", store_url)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start portcullis serve");
        let instance = Instance {
            child,
            api: format!("https://localhost:{api_port}"),
            pg_port,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let healthy = client.get(format!("{}/healthz", instance.api)).send().await;
            if healthy.is_ok_and(|response| response.status() == StatusCode::OK) {
                return instance;
            }
            assert!(Instant::now() < deadline, "serve with {} did not become healthy", config.display());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn post(&self, client: &reqwest::Client, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        let mut request = client.post(format!("{}{path}", self.api)).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("API request");
        let status = response.status();
        (status, response.json().await.expect("JSON response"))
    }

    async fn login(&self, client: &reqwest::Client, account: &Account) -> String {
        let code = account.authenticator.next_code().await;
        let body = json!({"user": account.name, "password": account.password, "totp": code});
        let (status, value) = self.post(client, "/v1/login", None, body).await;
        assert_eq!(status, StatusCode::OK, "login of {}: {value}", account.name);
        value["token"].as_str().expect("token").to_string()
    }

    fn stop(mut self) {
        kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM).expect("SIGTERM serve");
        let status = self.child.wait().expect("wait for serve");
        assert!(status.success(), "serve exited with {status}");
    }
}

fn https_client(workdir: &Workdir) -> reqwest::Client {
    let ca = std::fs::read(workdir.dir.join("tls/ca.crt")).expect("read tls/ca.crt");
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).expect("CA certificate"))
        .timeout(Duration::from_secs(30))
        .build()
        .expect("HTTPS client")
}

/// Prepares the upstream database, the store database and two configuration files
/// that differ in ports, audit directory and instance name.
fn setup(cluster: &Cluster) -> (Workdir, std::path::PathBuf, u16, u16) {
    cluster
        .psql("postgres", &format!("CREATE ROLE {UPSTREAM_ROLE} LOGIN PASSWORD '{UPSTREAM_PASSWORD}'"))
        .expect("create role");
    cluster.psql("postgres", &format!("CREATE DATABASE app OWNER {UPSTREAM_ROLE}")).expect("create database");
    cluster.psql("postgres", "CREATE DATABASE portcullis_store").expect("create store database");

    let workdir = Workdir::init();
    let password_file = workdir.dir.join("keys/app.password");
    std::fs::write(&password_file, UPSTREAM_PASSWORD).expect("write password");
    std::fs::set_permissions(&password_file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    workdir.set_option("postgres", "enabled", "true");
    for (key, value) in [
        ("host", "\"127.0.0.1\"".to_string()),
        ("port", cluster.port().to_string()),
        ("database", "\"app\"".to_string()),
        ("user", format!("\"{UPSTREAM_ROLE}\"")),
        ("password_file", "\"keys/app.password\"".to_string()),
        ("tls", "\"disable\"".to_string()),
        ("allowed_roles", "[\"oncall\"]".to_string()),
    ] {
        workdir.set_option("targets.app", key, &value);
    }
    workdir.set_option("access.roles.oncall", "approvers", "\"approvers\"");
    workdir.set_option("access.roles.oncall", "max_duration", "\"1h\"");

    let (pg_a, pg_b) = (free_port(), free_port());
    workdir.set_option("postgres", "listen", &format!("\"127.0.0.1:{pg_a}\""));
    let config_b = workdir.dir.join("portcullis-b.toml");
    std::fs::copy(&workdir.config, &config_b).expect("copy the configuration");
    set_option(&config_b, "postgres", "listen", &format!("\"127.0.0.1:{pg_b}\""));
    set_option(&config_b, "api", "listen", &format!("\"127.0.0.1:{}\"", free_port()));
    set_option(&config_b, "audit", "dir", "\"audit-b\"");
    set_option(&config_b, "gateway", "instance_name", "\"gateway-b\"");
    (workdir, config_b, pg_a, pg_b)
}

fn api_port_of(config: &Path) -> u16 {
    let text = std::fs::read_to_string(config).expect("read configuration");
    let value: toml::Value = toml::from_str(&text).expect("parse configuration");
    let listen = value["api"]["listen"].as_str().expect("api.listen");
    listen.rsplit(':').next().expect("port").parse().expect("numeric port")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_on_one_instance_ends_session_on_other() {
    let cluster = Cluster::start().expect("start cluster");
    let (workdir, config_b, pg_a, pg_b) = setup(&cluster);
    let store_url = cluster.superuser_url("portcullis_store");
    let cli = |args: &[&str]| run(workdir.command(args).env("PORTCULLIS_STORE_URL", &store_url)).success();

    // The store is PostgreSQL, so the people are created there.
    cli(&["role", "add", "oncall"]);
    cli(&["role", "add", "approvers"]);
    let add = |name: &str| Account::from_json(&cli(&["user", "add", name, "--output", "json"]).json());
    let dave = add("dave");
    let erin = add("erin");
    // This store has no administrator yet, so the first one grants the role to themselves.
    cli(&["role", "add", "admin"]);
    add("boss");
    cli(&["role", "grant", "admin", "boss", "--by", "boss"]);
    cli(&["role", "grant", "approvers", "erin", "--by", "boss"]);

    let client = https_client(&workdir);
    let gateway_a = Instance::start(&workdir, &workdir.config, &store_url, workdir.api_port, pg_a, &client).await;
    let gateway_b = Instance::start(&workdir, &config_b, &store_url, api_port_of(&config_b), pg_b, &client).await;

    let dave_token = gateway_a.login(&client, &dave).await;
    let erin_token = gateway_b.login(&client, &erin).await;
    let body = json!({"role": "oncall", "target": "app", "duration_seconds": 1800, "reason": "database failover drill"});
    let (status, created) = gateway_a.post(&client, "/v1/requests", Some(&dave_token), body).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let id = created["id"].as_str().expect("request id").to_string();
    let (status, self_approved) = gateway_a.post(&client, &format!("/v1/requests/{id}/approve"), Some(&dave_token), json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "self-approval over the API: {self_approved}");
    let (status, approved) = gateway_b.post(&client, &format!("/v1/requests/{id}/approve"), Some(&erin_token), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{approved}");
    assert_eq!(approved["state"], "approved");

    // Dave's session runs on instance B.
    let connection = format!(
        "host=localhost port={} dbname=app user=dave sslmode=verify-full sslrootcert={}",
        gateway_b.pg_port,
        workdir.dir.join("tls/ca.crt").display()
    );
    let mut session = Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1"])
        .arg(connection)
        .args(["-c", SLEEP_QUERY])
        .env("PGPASSWORD", &dave_token)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start psql");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let running = cluster
            .psql("postgres", &format!("SELECT count(*) FROM pg_stat_activity WHERE query = '{SLEEP_QUERY}'"))
            .expect("count sessions");
        if running.trim() == "1" {
            break;
        }
        assert!(session.try_wait().expect("poll psql").is_none(), "psql ended before sleeping");
        assert!(Instant::now() < deadline, "the session did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Revoked through instance A, which does not hold the session.
    let (status, revoked) = gateway_a.post(&client, &format!("/v1/requests/{id}/revoke"), Some(&erin_token), json!({})).await;
    let revoked_at = Instant::now();
    assert_eq!(status, StatusCode::OK, "{revoked}");
    let ended = loop {
        if session.try_wait().expect("poll psql").is_some() {
            break revoked_at.elapsed();
        }
        assert!(revoked_at.elapsed() < Duration::from_secs(5), "the session on instance B did not end");
        std::thread::sleep(Duration::from_millis(10));
    };
    let output = session.wait_with_output().expect("psql output");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(ended < Duration::from_secs(1), "the session ended {ended:?} after the revoke, not within a second");
    assert!(stderr.contains("was revoked by erin"), "the FATAL message says why: {stderr}");

    gateway_a.stop();
    gateway_b.stop();
}

/// When the state store stays unreachable, the gateway can no longer confirm that a live
/// session's access holds, so it ends the session (fail closed) instead of letting it run
/// unchecked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_outage_ends_live_sessions() {
    let upstream = Cluster::start().expect("start the upstream cluster");
    let store = Cluster::start().expect("start the store cluster");
    store.psql("postgres", "CREATE DATABASE portcullis_store").expect("create store database");
    let (workdir, _config_b, pg_a, _pg_b) = setup(&upstream);
    let store_url = store.superuser_url("portcullis_store");
    let cli = |args: &[&str]| run(workdir.command(args).env("PORTCULLIS_STORE_URL", &store_url)).success();

    cli(&["role", "add", "oncall"]);
    cli(&["role", "add", "admin"]);
    let add = |name: &str| Account::from_json(&cli(&["user", "add", name, "--output", "json"]).json());
    let dave = add("dave");
    add("boss");
    cli(&["role", "grant", "admin", "boss", "--by", "boss"]);
    cli(&["role", "grant", "oncall", "dave", "--by", "boss"]);

    let client = https_client(&workdir);
    let mut gateway = Instance::start(&workdir, &workdir.config, &store_url, workdir.api_port, pg_a, &client).await;
    let token = gateway.login(&client, &dave).await;
    let connection = format!(
        "host=localhost port={pg_a} dbname=app user=dave sslmode=verify-full sslrootcert={}",
        workdir.dir.join("tls/ca.crt").display()
    );
    let mut session = Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1"])
        .arg(connection)
        .args(["-c", SLEEP_QUERY])
        .env("PGPASSWORD", &token)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start psql");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let running = upstream
            .psql("postgres", &format!("SELECT count(*) FROM pg_stat_activity WHERE query = '{SLEEP_QUERY}'"))
            .expect("count sessions");
        if running.trim() == "1" {
            break;
        }
        assert!(session.try_wait().expect("poll psql").is_none(), "psql ended before sleeping");
        assert!(Instant::now() < deadline, "the session did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    drop(store);
    let stopped_at = Instant::now();
    let ended = loop {
        if session.try_wait().expect("poll psql").is_some() {
            break stopped_at.elapsed();
        }
        assert!(stopped_at.elapsed() < Duration::from_secs(30), "the session outlived the store by 30 s");
        std::thread::sleep(Duration::from_millis(20));
    };
    let output = session.wait_with_output().expect("psql output");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(ended < Duration::from_secs(10), "the session ended {ended:?} after the store stopped");
    assert!(stderr.contains("cannot reach its state store"), "the FATAL message says why: {stderr}");

    // With its store gone, serve's exit status is not the point of this test.
    kill(Pid::from_raw(gateway.child.id() as i32), Signal::SIGTERM).expect("SIGTERM serve");
    let _ = gateway.child.wait();
}
