//! Appends to an audit log forever from many tasks and prints `ack <seq>` on stdout, flushed,
//! after each acknowledged append. A crash test kills it with SIGKILL at any moment, reopens
//! the log, and checks that every printed sequence number is in the log and that it verifies.
//!
//! Usage: `audit_stress DIR [TASKS]` (TASKS defaults to 16). The log goes to `DIR/audit`;
//! the signing key is `DIR/stress-signing.pem`, created on the first run. The payload
//! master key is the fixed test value `STRESS_MASTER_KEY`, so never point this at real data.
//!
//! `tests/crash.rs` includes this file as a module and calls `run`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use portcullis_audit::{
    generate_signing_key, load_signing_key, write_signing_key, AuditConfig, AuditEvent, AuditLog, Outcome,
    PayloadKey,
};
use serde_json::json;
use tokio::task::JoinSet;

pub const SIGNING_KEY_FILE: &str = "stress-signing.pem";
pub const STRESS_MASTER_KEY: [u8; 32] = [0x42; 32];
pub const STRESS_EVENT_TYPE: &str = "statement";

fn main() {
    let mut args = std::env::args_os().skip(1);
    let Some(dir) = args.next() else {
        eprintln!("usage: audit_stress DIR [TASKS]");
        std::process::exit(2);
    };
    let tasks = match args.next().map(|text| text.to_string_lossy().parse::<usize>()) {
        None => 16,
        Some(Ok(tasks)) if tasks > 0 => tasks,
        Some(_) => {
            eprintln!("audit_stress: TASKS must be a positive integer");
            std::process::exit(2);
        }
    };
    let reason = run(Path::new(&dir), tasks);
    eprintln!("audit_stress: stopped: {reason}");
    std::process::exit(1);
}

/// Returns the configuration that `run` uses for the log in `dir`: frequent checkpoints, so
/// that a kill often lands near an anchor update.
pub fn stress_config(dir: &Path) -> AuditConfig {
    let mut config = AuditConfig::new(dir.join("audit"));
    config.checkpoint_every = 50;
    config.checkpoint_interval = Duration::from_millis(200);
    config
}

pub fn signing_key_path(dir: &Path) -> PathBuf {
    dir.join(SIGNING_KEY_FILE)
}

/// Appends until something fails, and returns the reason. It never returns otherwise.
pub fn run(dir: &Path, tasks: usize) -> String {
    match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime.block_on(append_forever(dir, tasks)),
        Err(error) => format!("cannot start the Tokio runtime: {error}"),
    }
}

async fn append_forever(dir: &Path, tasks: usize) -> String {
    let log = match open_log(dir).await {
        Ok(log) => log,
        Err(reason) => return reason,
    };
    let mut workers = JoinSet::new();
    for task in 0..tasks {
        workers.spawn(append_loop(log.clone(), task));
    }
    match workers.join_next().await {
        Some(Ok(reason)) => reason,
        Some(Err(error)) => format!("append task failed: {error}"),
        None => "no append task was started".to_owned(),
    }
}

async fn open_log(dir: &Path) -> Result<AuditLog, String> {
    std::fs::create_dir_all(dir).map_err(|error| format!("cannot create {}: {error}", dir.display()))?;
    let key_path = signing_key_path(dir);
    if !key_path.exists() {
        write_signing_key(&key_path, &generate_signing_key()).map_err(|error| error.to_string())?;
    }
    let signing_key = load_signing_key(&key_path).map_err(|error| error.to_string())?;
    let payload_key = PayloadKey::derive(&STRESS_MASTER_KEY);
    AuditLog::open(stress_config(dir), signing_key, payload_key)
        .await
        .map_err(|error| error.to_string())
}

/// Appends one event after another and prints each acknowledged sequence number.
async fn append_loop(log: AuditLog, task: usize) -> String {
    for index in 0u64.. {
        let event = AuditEvent::new(STRESS_EVENT_TYPE, format!("task {task} append {index}"), Outcome::Success)
            .meta("task", task)
            .payload(json!({"statement": format!("SELECT * FROM stress WHERE task = {task} AND n = {index}")}));
        let seq = match log.append(event).await {
            Ok(seq) => seq,
            Err(error) => return format!("append failed: {error}"),
        };
        let mut stdout = std::io::stdout().lock();
        if let Err(error) = writeln!(stdout, "ack {seq}").and_then(|()| stdout.flush()) {
            return format!("cannot write to stdout: {error}");
        }
    }
    "the append counter overflowed".to_owned()
}
