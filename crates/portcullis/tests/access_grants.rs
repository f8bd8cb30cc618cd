//! Just-in-time access end to end: a request approved with the CLI lets the requester
//! open psql sessions on the target; when the grant expires or is revoked, the
//! sessions that depend on it end within a second with a FATAL message that states
//! the reason, sessions that do not depend on it continue, and reconnecting fails.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, run, Account, Gateway, Workdir};
use portcullis_cluster::Cluster;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

const UPSTREAM_ROLE: &str = "jit_gateway";
const UPSTREAM_PASSWORD: &str = "jit-upstream-password";
const SLEEP_QUERY: &str = "SELECT pg_sleep(60)";

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
        .args(["-c", SLEEP_QUERY])
        .env("PGPASSWORD", token)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start psql");
    Session { child: Some(child) }
}

impl Session {
    /// Waits for psql to exit; returns the time it exited and its standard error.
    fn wait_end(mut self, limit: Duration) -> Option<(OffsetDateTime, String)> {
        let started = Instant::now();
        while started.elapsed() < limit {
            let child = self.child.as_mut()?;
            if child.try_wait().expect("poll psql").is_some() {
                let ended_at = OffsetDateTime::now_utc();
                let output = self.child.take()?.wait_with_output().expect("psql output");
                return Some((ended_at, String::from_utf8_lossy(&output.stderr).into_owned()));
            }
            std::thread::sleep(Duration::from_millis(10));
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

/// An upstream cluster with database `app`, and a working directory whose target
/// `app` admits role `oncall`, which `dave` may request and `erin` approves.
struct Setup {
    cluster: Cluster,
    workdir: Workdir,
    pg_port: u16,
}

impl Setup {
    fn new() -> Setup {
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
            ("allowed_roles", "[\"oncall\"]".to_string()),
        ] {
            workdir.set_option("targets.app", key, &value);
        }
        configure_access(&workdir);
        Setup { cluster, workdir, pg_port }
    }

    /// Waits until `count` sessions run the sleep query upstream.
    async fn wait_for_sleepers(&self, count: usize, gateway: &Gateway) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let running = self
                .cluster
                .psql("postgres", &format!("SELECT count(*) FROM pg_stat_activity WHERE query = '{SLEEP_QUERY}'"))
                .expect("count sessions");
            if running.trim() == count.to_string() {
                return;
            }
            assert!(Instant::now() < deadline, "{count} sessions did not start; found {running:?}\n{}", gateway.log());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Makes `oncall` requestable (approved by role `approvers`, at most 1 hour) and adds
/// the roles and users: `dave` requests, `erin` approves, `frank` is a
/// standing member of `oncall`.
fn configure_access(workdir: &Workdir) {
    workdir.set_option("access.roles.oncall", "approvers", "\"approvers\"");
    workdir.set_option("access.roles.oncall", "approvals", "1");
    workdir.set_option("access.roles.oncall", "max_duration", "\"1h\"");
}

fn add_people(workdir: &Workdir) -> (Account, Account, Account) {
    workdir.run(&["role", "add", "oncall"]).success();
    workdir.run(&["role", "add", "approvers"]).success();
    let dave = workdir.add_user("dave", &[]);
    let erin = workdir.add_user("erin", &[]);
    let frank = workdir.add_user("frank", &[]);
    workdir.run(&["role", "grant", "approvers", "erin", "--by", "admin"]).success();
    workdir.run(&["role", "grant", "oncall", "frank", "--by", "admin"]).success();
    (dave, erin, frank)
}

/// Runs `portcullis request ARGS --output json` as the holder of `token`.
fn request(workdir: &Workdir, token: &str, args: &[&str]) -> common::CliOutput {
    let mut full = vec!["request"];
    full.extend_from_slice(args);
    full.extend_from_slice(&["--output", "json"]);
    run(workdir.command(&full).env("PORTCULLIS_TOKEN", token))
}

/// Checks that psql was refused because dave's token no longer carries access to the
/// target, with a hint that names expired or revoked grants.
fn assert_refused(stderr: &str) {
    assert!(stderr.contains("no access to target"), "refused: {stderr}");
    assert!(stderr.contains("for user \"dave\""), "the message names the user: {stderr}");
    assert!(stderr.contains("temporary grant may have expired or been revoked"), "the hint names grants: {stderr}");
}

fn token_of(body: &Value) -> String {
    body["token"].as_str().expect("token in the login response").to_string()
}

fn time_field(value: &Value, field: &str) -> OffsetDateTime {
    let text = value[field].as_str().unwrap_or_else(|| panic!("{field} missing in {value}"));
    OffsetDateTime::parse(text, &Rfc3339).expect("RFC 3339 time")
}

/// Creates a request for `oncall` on `app` as dave and approves it as erin; returns
/// the request id and the grant.
fn approved_request(workdir: &Workdir, dave: &str, erin: &str, duration: &str) -> (String, Value) {
    let created = request(workdir, dave, &["create", "--role", "oncall", "--target", "app", "--for", duration, "--reason", "pager incident 4711"]).success();
    let id = created.json()["id"].as_str().expect("request id").to_string();
    assert_eq!(created.json()["state"], "pending");

    let approved = request(workdir, erin, &["approve", &id]).success();
    assert_eq!(approved.json()["state"], "approved", "{approved}");
    let grant = approved.json()["grant"].clone();
    assert!(grant.is_object(), "the approved request has a grant: {approved}");
    (id, grant)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_and_revocation_end_dependent_sessions() {
    let setup = Setup::new();
    let workdir = &setup.workdir;
    let gateway = workdir.serve().await;
    let (dave, erin, frank) = add_people(workdir);
    let dave_token = token_of(&gateway.login_ok(&dave).await);
    let erin_token = token_of(&gateway.login_ok(&erin).await);
    let frank_token = token_of(&gateway.login_ok(&frank).await);

    let without_grant = open_session(workdir, setup.pg_port, "dave", &dave_token)
        .wait_end(Duration::from_secs(10))
        .expect("the attempt without a grant did not finish");
    assert_refused(&without_grant.1);

    // Expiry: the grant lasts 5 seconds from approval.
    let mut independent = open_session(workdir, setup.pg_port, "frank", &frank_token);
    let (_, grant) = approved_request(workdir, &dave_token, &erin_token, "5s");
    let ends_at = time_field(&grant, "ends_at");
    let dependent = open_session(workdir, setup.pg_port, "dave", &dave_token);
    setup.wait_for_sleepers(2, &gateway).await;
    assert!(OffsetDateTime::now_utc() < ends_at, "the session started after the grant ended; the test machine is too slow");

    let (ended_at, stderr) = dependent.wait_end(Duration::from_secs(15)).expect("the dependent session did not end");
    let late = ended_at - ends_at;
    assert!(late >= time::Duration::ZERO, "the session ended {} before the grant expired", -late);
    assert!(late < time::Duration::SECOND, "the session ended {late} after the grant expired, not within a second");
    assert!(stderr.contains("57P01") || stderr.contains("FATAL"), "a FATAL error ends the session: {stderr}");
    assert!(stderr.contains("for role oncall expired at"), "the message says why: {stderr}");
    assert!(independent.is_running(), "frank's session does not depend on the grant");

    let reconnect = open_session(workdir, setup.pg_port, "dave", &dave_token)
        .wait_end(Duration::from_secs(10))
        .expect("the reconnect attempt did not finish");
    assert_refused(&reconnect.1);

    // Revocation: a grant for an hour, revoked by the approver.
    let (id, _) = approved_request(workdir, &dave_token, &erin_token, "1h");
    let dependent = open_session(workdir, setup.pg_port, "dave", &dave_token);
    setup.wait_for_sleepers(2, &gateway).await;
    let revoked = request(workdir, &erin_token, &["revoke", &id]).success();
    let revoked_at = OffsetDateTime::now_utc();
    assert_eq!(revoked.json()["state"], "revoked");

    let (ended_at, stderr) = dependent.wait_end(Duration::from_secs(5)).expect("the dependent session did not end");
    let late = ended_at - revoked_at;
    assert!(late < time::Duration::SECOND, "the session ended {late} after the revoke command finished");
    assert!(stderr.contains("was revoked by erin"), "the message says who revoked: {stderr}");
    assert!(independent.is_running(), "frank's session does not depend on the grant");

    let reconnect = open_session(workdir, setup.pg_port, "dave", &dave_token)
        .wait_end(Duration::from_secs(10))
        .expect("the reconnect attempt did not finish");
    assert_refused(&reconnect.1);

    drop(independent);
    gateway.stop_cleanly().await;

    let records = workdir.audit_records();
    let refusals = records
        .iter()
        .filter(|record| record["type"] == "session.auth_failed")
        .filter(|record| record.to_string().contains("holds none of the roles allowed on target app"))
        .count();
    assert_eq!(refusals, 3, "the audit log records the real reason of each refusal");
    let types: Vec<String> = workdir
        .audit_records()
        .iter()
        .filter_map(|record| record["type"].as_str().map(str::to_string))
        .collect();
    for expected in ["access.requested", "access.approved", "access.grant_revoked"] {
        assert!(types.iter().any(|found| found == expected), "audit log has {expected}: {types:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_rejects_self_approval_and_long_durations() {
    let workdir = Workdir::init();
    configure_access(&workdir);
    let gateway = workdir.serve().await;
    let (dave, erin, _) = add_people(&workdir);
    let dave_token = token_of(&gateway.login_ok(&dave).await);
    let erin_token = token_of(&gateway.login_ok(&erin).await);

    let too_long = request(&workdir, &dave_token, &["create", "--role", "oncall", "--for", "2h", "--reason", "audit"]).failure();
    assert!(too_long.stderr.contains("exceeds its maximum of 1h"), "{too_long}");

    let unlisted = request(&workdir, &dave_token, &["create", "--role", "approvers", "--for", "1h", "--reason", "audit"]).failure();
    assert!(unlisted.stderr.contains("cannot be requested"), "{unlisted}");

    let created = request(&workdir, &dave_token, &["create", "--role", "oncall", "--for", "30m", "--reason", "audit"]).success();
    let id = created.json()["id"].as_str().expect("request id").to_string();
    let own = request(&workdir, &dave_token, &["approve", &id]).failure();
    assert!(own.stderr.contains("cannot approve or deny it"), "{own}");

    let listed = request(&workdir, &erin_token, &["list"]).success();
    assert_eq!(listed.json()[0]["state"], "pending", "self-approval left the request pending: {listed}");

    let missing_token = run(&mut workdir.command(&["request", "list"])).failure();
    assert!(missing_token.stderr.contains("PORTCULLIS_TOKEN"), "{missing_token}");
    gateway.stop_cleanly().await;
}
