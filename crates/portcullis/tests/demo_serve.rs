//! `portcullis demo --serve`: the state file lets an outside psql session connect as
//! each persona, `portcullis policy explain` predicts what the gateway then does, and
//! the configuration it names drives a just-in-time request as the personas.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

struct DemoServe {
    child: Child,
    state_file: PathBuf,
    _dir: tempfile::TempDir,
}

impl DemoServe {
    fn start() -> DemoServe {
        let dir = tempfile::tempdir().expect("temporary directory");
        let state_file = dir.path().join("demo.json");
        let child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .args(["demo", "--serve", "--state-file"])
            .arg(&state_file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start portcullis demo --serve");
        let started = Instant::now();
        while !state_file.exists() {
            assert!(started.elapsed() < Duration::from_secs(180), "the state file was not written within 180 s");
            std::thread::sleep(Duration::from_millis(200));
        }
        DemoServe { child, state_file, _dir: dir }
    }

    fn state(&self) -> Value {
        serde_json::from_slice(&std::fs::read(&self.state_file).expect("read the state file")).expect("state file is JSON")
    }
}

impl Drop for DemoServe {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let _ = self.child.wait();
    }
}

fn psql(state: &Value, persona: &str, sql: &str) -> (bool, String, String) {
    let connection = format!(
        "host={} port={} dbname={} user={} sslmode=verify-full sslrootcert={}",
        state["gateway"]["host"].as_str().unwrap(),
        state["gateway"]["port"],
        state["target"].as_str().unwrap(),
        state["personas"][persona]["user"].as_str().unwrap(),
        state["ca_cert"].as_str().unwrap(),
    );
    let output = Command::new("psql")
        .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
        .arg(connection)
        .args(["-c", sql])
        .env("PGPASSWORD", state["personas"][persona]["token"].as_str().unwrap())
        .output()
        .expect("run psql");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Runs `portcullis -c CONFIG --output json ARGS` as the holder of `token`.
fn portcullis_as(config: &Path, token: &str, args: &[&str]) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .arg("-c")
        .arg(config)
        .args(["--output", "json"])
        .args(args)
        .env("PORTCULLIS_TOKEN", token)
        .output()
        .expect("run portcullis");
    assert!(output.status.success(), "portcullis {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("the command prints JSON")
}

fn explain(config: &Path, persona: &str, sql: &str) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .arg("-c")
        .arg(config)
        .args(["--output", "json", "policy", "explain", "--user", persona, "--target", "ehr", sql])
        .output()
        .expect("run policy explain");
    assert!(output.status.success(), "policy explain failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("explain prints JSON")
}

#[test]
fn state_file_and_explain_match_the_gateway() {
    let demo = DemoServe::start();
    let state = demo.state();
    for key in ["gateway", "ca_cert", "target", "config", "direct", "personas", "alert_webhook"] {
        assert!(!state[key].is_null(), "state file lacks {key}: {state}");
    }
    assert!(state["alert_webhook"].as_str().unwrap().starts_with("http://127.0.0.1:"), "{state}");
    let config = PathBuf::from(state["config"].as_str().unwrap());

    let cases = [
        ("alice", "SELECT ssn FROM patients ORDER BY id LIMIT 2", Some("****")),
        ("alice", "SELECT body FROM clinical_notes LIMIT 1", None),
        ("bob", "SELECT first_name, last_name FROM patients ORDER BY id LIMIT 2", Some("")),
        ("bob", "SELECT body FROM clinical_notes LIMIT 1", None),
        ("carol", "SELECT mrn FROM patients ORDER BY id LIMIT 2", Some("tok_")),
        ("carol", "SELECT count(*) FROM patients WHERE ssn LIKE '9%'", None),
        ("carol", "SELECT mrn FROM patients ORDER BY ssn LIMIT 1", None),
        ("erin", "SELECT count(*) FROM patients", None),
    ];
    for (persona, sql, expected) in cases {
        let explanation = explain(&config, persona, sql);
        let predicted_allow = explanation["reason"].is_null();
        let (ran, stdout, stderr) = psql(&state, persona, sql);
        assert_eq!(predicted_allow, ran, "{persona}: {sql}\nexplain: {explanation}\npsql stderr: {stderr}");
        assert_eq!(ran, expected.is_some(), "{persona}: {sql}: unexpected outcome; stderr: {stderr}");
        if let Some(text) = expected {
            assert!(stdout.contains(text), "{persona}: {sql}: expected {text:?} in {stdout:?}");
        } else {
            assert!(stderr.contains("permission denied by the gateway"), "{persona}: {sql}: {stderr}");
        }
    }
    let (ran, _, _) = psql(&state, "carol", "SELECT mrn FROM patients LIMIT 1");
    assert!(ran, "carol's session still works after denials");

    // Dave has no standing role: he connects only after erin approves his request.
    let token = |persona: &str| state["personas"][persona]["token"].as_str().unwrap().to_string();
    let (ran, _, stderr) = psql(&state, "dave", "SELECT 1");
    assert!(!ran, "dave connected without a grant");
    assert!(stderr.contains("no access to target"), "{stderr}");
    let created = portcullis_as(
        &config,
        &token("dave"),
        &["request", "create", "--role", "dba", "--target", "ehr", "--for", "10m", "--reason", "staging table"],
    );
    assert_eq!(created["state"], "pending", "{created}");
    let approved = portcullis_as(&config, &token("erin"), &["request", "approve", created["id"].as_str().unwrap()]);
    assert_eq!(approved["state"], "approved", "{approved}");
    let (ran, _, stderr) = psql(&state, "dave", "CREATE TABLE staging.serve_check (id integer)");
    assert!(ran, "dave's schema change on the grant failed: {stderr}");
    let (ran, _, stderr) = psql(&state, "dave", "SELECT count(*) FROM patients");
    assert!(!ran, "the dba grant must not read patient data");
    assert!(stderr.contains("permission denied by the gateway"), "{stderr}");

    let state_file = demo.state_file.clone();
    drop(demo);
    assert!(!state_file.exists(), "the state file is removed on SIGTERM");
}
