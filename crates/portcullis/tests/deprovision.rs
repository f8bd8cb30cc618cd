//! Deprovisioning reaches live sessions: disabling a user, or logging a token out,
//! ends the user's open database sessions within a second, while other users'
//! sessions continue, and the user cannot reconnect.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, run, Workdir};
use portcullis_cluster::Cluster;

const UPSTREAM_ROLE: &str = "deprovision_gateway";
const UPSTREAM_PASSWORD: &str = "deprovision-upstream-password";

struct Session {
    child: Option<Child>,
}

fn open_session(workdir: &Workdir, pg_port: u16, user: &str, token: &str) -> Session {
    let connection = format!(
        "host=localhost port={pg_port} dbname=app user={user} sslmode=verify-full sslrootcert={}",
        workdir.dir.join("tls/ca.crt").display()
    );
    let child = Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1"])
        .arg(connection)
        .args(["-c", "SELECT pg_sleep(60)"])
        .env("PGPASSWORD", token)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start psql");
    Session { child: Some(child) }
}

impl Session {
    /// Waits for psql to exit and returns how long that took and its standard error.
    fn wait_end(mut self, limit: Duration) -> Option<(Duration, String)> {
        let started = Instant::now();
        while started.elapsed() < limit {
            let child = self.child.as_mut()?;
            if child.try_wait().expect("poll psql").is_some() {
                let output = self.child.take()?.wait_with_output().expect("psql output");
                return Some((started.elapsed(), String::from_utf8_lossy(&output.stderr).into_owned()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    fn is_running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|child| child.try_wait().expect("poll psql").is_none())
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disable_ends_live_sessions_within_a_second() {
    deprovision_ends_live_sessions("disable").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_ends_sessions_and_removes_roles() {
    let workdir = deprovision_ends_live_sessions("delete").await;

    let shown = workdir.run(&["user", "show", "leaver", "--output", "json"]).success().json();
    assert_eq!(shown["disabled"], serde_json::json!(true), "the account stays, disabled: {shown}");
    assert_eq!(shown["roles"], serde_json::json!([]), "no standing role is left: {shown}");
}

/// Opens a session for a leaving and a staying user, runs `user <verb> leaver`, and
/// checks that only the leaver's session ends, within a second, for good.
async fn deprovision_ends_live_sessions(verb: &str) -> Workdir {
    let cluster = Cluster::start().expect("start cluster");
    cluster
        .psql("postgres", &format!("CREATE ROLE {UPSTREAM_ROLE} LOGIN PASSWORD '{UPSTREAM_PASSWORD}'"))
        .expect("create role");
    cluster.psql("postgres", &format!("CREATE DATABASE app OWNER {UPSTREAM_ROLE}")).expect("create database");

    let workdir = Workdir::init();
    let pg_port = free_port();
    workdir.set_option("postgres", "enabled", "true");
    workdir.set_option("postgres", "listen", &format!("\"127.0.0.1:{pg_port}\""));
    let password_file = workdir.dir.join("keys/app.password");
    std::fs::write(&password_file, UPSTREAM_PASSWORD).expect("write password");
    std::fs::set_permissions(&password_file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    for (key, value) in [
        ("host", "\"127.0.0.1\"".to_string()),
        ("port", cluster.port().to_string()),
        ("database", "\"app\"".to_string()),
        ("user", format!("\"{UPSTREAM_ROLE}\"")),
        ("password_file", "\"keys/app.password\"".to_string()),
        ("tls", "\"disable\"".to_string()),
        ("allowed_roles", "[\"staff\"]".to_string()),
    ] {
        workdir.set_option("targets.app", key, &value);
    }
    let gateway = workdir.serve().await;
    workdir.run(&["role", "add", "staff"]).success();
    let leaver = workdir.add_user("leaver", &[]);
    let stayer = workdir.add_user("stayer", &[]);
    for user in ["leaver", "stayer"] {
        workdir.run(&["role", "grant", "staff", user, "--by", "admin"]).success();
    }
    let leaver_token = gateway.login_ok(&leaver).await["token"].as_str().unwrap().to_string();
    let stayer_token = gateway.login_ok(&stayer).await["token"].as_str().unwrap().to_string();

    let leaving = open_session(&workdir, pg_port, "leaver", &leaver_token);
    let mut staying = open_session(&workdir, pg_port, "stayer", &stayer_token);
    // Both sessions must be inside pg_sleep before the disable.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let count = cluster
            .psql("postgres", "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60)'")
            .expect("count sessions");
        if count.trim() == "2" {
            break;
        }
        if Instant::now() >= deadline {
            for session in [leaving, staying] {
                let ended = session.wait_end(Duration::from_millis(10));
                eprintln!("session state: {ended:?}");
            }
            panic!("the sessions did not start; count {count:?}\n{}", gateway.log());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    run(&mut workdir.command(&["user", verb, "leaver"])).success();
    let (took, stderr) = leaving.wait_end(Duration::from_secs(5)).expect("the leaver's session did not end within 5 s");
    assert!(took < Duration::from_secs(1), "the session ended after {took:?}, not within a second");
    assert!(stderr.contains("access revoked"), "the FATAL message says why: {stderr}");
    assert!(staying.is_running(), "another user's session must continue");

    let retry = open_session(&workdir, pg_port, "leaver", &leaver_token)
        .wait_end(Duration::from_secs(10))
        .expect("the reconnect attempt did not finish");
    assert!(retry.1.contains("password authentication failed"), "reconnect refused: {}", retry.1);

    drop(staying);
    gateway.stop_cleanly().await;
    workdir
}
