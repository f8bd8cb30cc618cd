//! SIGKILL in the middle of concurrent appends loses no acknowledged record.
//!
//! The test starts this same test binary again, running only `stress_child` with
//! `STRESS_DIR_ENV` set, which appends forever through `examples/audit_stress.rs`. Spawning
//! the current executable works under both `cargo test` and `cargo nextest`, which run the
//! same libtest binary.
//!
//! SIGKILL stops the process but not the kernel, so data already written reaches the page
//! cache. This tests acknowledgement order and recovery, not durability across power loss.

#[path = "../examples/audit_stress.rs"]
#[allow(dead_code)]
mod audit_stress;

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use portcullis_audit::{
    load_signing_key, read_records, verify, AuditLog, PayloadKey, RecordFilter,
};

const STRESS_DIR_ENV: &str = "PORTCULLIS_AUDIT_STRESS_DIR";
const STRESS_TASKS: usize = 16;

/// Runs the stress writer when started by `sigkill_loses_no_acknowledged_record`, and
/// passes at once otherwise.
#[test]
fn stress_child() {
    let Some(dir) = std::env::var_os(STRESS_DIR_ENV) else {
        return;
    };
    let reason = audit_stress::run(Path::new(&dir), STRESS_TASKS);
    panic!("stress writer stopped: {reason}");
}

/// Kills the child when dropped, so a failing assertion leaves no process behind.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn sigkill_loses_no_acknowledged_record() {
    let dir = tempfile::tempdir().unwrap();
    let mut acknowledged = HashSet::new();
    for round in 0..3usize {
        let acks = run_and_kill(dir.path(), 400 + round * 300);
        assert!(!acks.is_empty());
        acknowledged.extend(acks);
        check_after_kill(dir.path(), &acknowledged, round);
    }
}

/// Starts the stress child, waits for at least `min_acks` acknowledgements, sends SIGKILL,
/// and returns every sequence number that the child printed.
fn run_and_kill(dir: &Path, min_acks: usize) -> Vec<u64> {
    let child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "stress_child", "--nocapture", "--test-threads=1"])
        .env(STRESS_DIR_ENV, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = ChildGuard(child);
    let stdout = child.0.stdout.take().unwrap();
    let mut stderr = child.0.stderr.take().unwrap();

    let (sender, receiver) = mpsc::channel();
    let reader = thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(seq) = line.strip_prefix("ack ") {
                let _ = sender.send(seq.parse::<u64>().unwrap());
            }
        }
    });

    let mut acks = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while acks.len() < min_acks {
        let remaining = deadline.saturating_duration_since(Instant::now());
        match receiver.recv_timeout(remaining) {
            Ok(seq) => acks.push(seq),
            Err(_) => {
                let _ = child.0.kill();
                let mut output = String::new();
                let _ = stderr.read_to_string(&mut output);
                panic!("stress child printed {} acks, fewer than {min_acks}; its stderr:\n{output}", acks.len());
            }
        }
    }

    // std's Child::kill sends SIGKILL on Unix.
    child.0.kill().unwrap();
    child.0.wait().unwrap();
    reader.join().unwrap();
    acks.extend(receiver.try_iter());
    acks
}

fn check_after_kill(dir: &Path, acknowledged: &HashSet<u64>, round: usize) {
    let config = audit_stress::stress_config(dir);
    let signing_key = load_signing_key(&audit_stress::signing_key_path(dir)).unwrap();
    let verifying_key = signing_key.verifying_key();

    // Before recovery the log verifies; at most its final line is cut by the kill.
    if let Err(error) = verify(&config.log_path(), &config.anchor_path(), &verifying_key) {
        panic!("round {round}: log after SIGKILL: {error}");
    }

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let payload_key = PayloadKey::derive(&audit_stress::STRESS_MASTER_KEY);
        let log = AuditLog::open(config.clone(), signing_key, payload_key).await.unwrap();
        log.shutdown().await.unwrap();
    });
    let report = verify(&config.log_path(), &config.anchor_path(), &verifying_key).unwrap();
    assert_eq!(report.unanchored_records, 0, "round {round}");

    let present: HashSet<u64> = read_records(&config.log_path(), RecordFilter::default(), None)
        .unwrap()
        .map(|read| read.unwrap().record)
        .filter(|record| record.event_type == audit_stress::STRESS_EVENT_TYPE)
        .map(|record| record.seq)
        .collect();
    let mut lost: Vec<u64> = acknowledged.difference(&present).copied().collect();
    lost.sort_unstable();
    assert!(lost.is_empty(), "round {round}: acknowledged but missing: {lost:?}");
}
