//! Several processes appending to one log at once, as `portcullis serve` and the admin
//! commands do, keep one gap-free chain. A process killed with SIGKILL among them loses no
//! acknowledged record, and the others go on.
//!
//! Each writer process is this same test binary, running only `writer_child` with
//! `CHILD_DIR_ENV` set (as `tests/crash.rs` does). It prints `ack <seq> <subject>` for each
//! acknowledged append, and `done` after a clean shutdown.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use common::assert_checkpoints_contiguous;
use portcullis_audit::{
    event_types, generate_signing_key, load_signing_key, read_records, verify, write_signing_key, AuditConfig,
    AuditEvent, AuditLog, Outcome, PayloadKey, Record, RecordFilter,
};
use tokio::task::JoinSet;

const CHILD_DIR_ENV: &str = "PORTCULLIS_AUDIT_CHILD_DIR";
const CHILD_LABEL_ENV: &str = "PORTCULLIS_AUDIT_CHILD_LABEL";
/// Appends per task; when unset, the child appends until its stdin is closed.
const CHILD_APPENDS_ENV: &str = "PORTCULLIS_AUDIT_CHILD_APPENDS";
const CHILD_TASKS: u64 = 4;
const SIGNING_KEY_FILE: &str = "signing.pem";
const MASTER_KEY: [u8; 32] = [0x17; 32];
const WAIT_LIMIT: Duration = Duration::from_secs(120);

/// Small checkpoint settings, so that the processes often write checkpoints and anchors
/// between each other's batches.
fn child_config(dir: &Path) -> AuditConfig {
    let mut config = AuditConfig::new(dir.join("audit"));
    config.checkpoint_every = 25;
    config.checkpoint_interval = Duration::from_millis(100);
    config
}

/// Runs a writer process when started by a test below, and passes at once otherwise.
#[test]
fn writer_child() {
    let Some(dir) = std::env::var_os(CHILD_DIR_ENV) else {
        return;
    };
    let label = std::env::var(CHILD_LABEL_ENV).unwrap();
    let appends = std::env::var(CHILD_APPENDS_ENV).ok().map(|text| text.parse::<u64>().unwrap());
    // libtest may print "test writer_child ... " without a newline before the test's own
    // output, so start the acknowledgements on a fresh line.
    println!();

    let stop = Arc::new(AtomicBool::new(false));
    if appends.is_none() {
        let stop = Arc::clone(&stop);
        thread::spawn(move || {
            let _ = std::io::stdin().read_to_end(&mut Vec::new());
            stop.store(true, Ordering::SeqCst);
        });
    }

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let dir = Path::new(&dir);
        let signing_key = load_signing_key(&dir.join(SIGNING_KEY_FILE)).unwrap();
        let log = AuditLog::open(child_config(dir), signing_key, PayloadKey::derive(&MASTER_KEY))
            .await
            .unwrap();
        let mut tasks = JoinSet::new();
        for task in 0..CHILD_TASKS {
            let log = log.clone();
            let label = label.clone();
            let stop = Arc::clone(&stop);
            tasks.spawn(async move {
                let mut index = 0;
                while appends.map_or(!stop.load(Ordering::SeqCst), |appends| index < appends) {
                    let subject = format!("process {label} task {task} append {index}");
                    let event = AuditEvent::new("statement", subject.clone(), Outcome::Success)
                        .payload(serde_json::json!({"statement": format!("SELECT {index}")}));
                    let seq = log.append(event).await.unwrap();
                    let mut stdout = std::io::stdout().lock();
                    writeln!(stdout, "ack {seq} {subject}").unwrap();
                    stdout.flush().unwrap();
                    index += 1;
                }
            });
        }
        while let Some(joined) = tasks.join_next().await {
            joined.unwrap();
        }
        log.shutdown().await.unwrap();
    });
    println!("done");
}

/// A line that a writer process printed.
enum Report {
    Ack { child: usize, seq: u64, subject: String },
    Done { child: usize },
}

/// A running writer process. Dropping it kills the process, so a failing assertion leaves
/// none behind.
struct WriterProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    reader: Option<thread::JoinHandle<()>>,
}

impl WriterProcess {
    fn spawn(dir: &Path, index: usize, appends: Option<u64>, reports: mpsc::Sender<Report>) -> WriterProcess {
        let mut command = Command::new(std::env::current_exe().unwrap());
        command
            .args(["--exact", "writer_child", "--nocapture", "--test-threads=1"])
            .env(CHILD_DIR_ENV, dir)
            .env(CHILD_LABEL_ENV, index.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(appends) = appends {
            command.env(CHILD_APPENDS_ENV, appends.to_string());
        }
        let mut child = command.spawn().unwrap();
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().unwrap();
        let reader = thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let report = if line == "done" {
                    Report::Done { child: index }
                } else if let Some(ack) = line.strip_prefix("ack ") {
                    let (seq, subject) = ack.split_once(' ').unwrap();
                    Report::Ack {
                        child: index,
                        seq: seq.parse().unwrap(),
                        subject: subject.to_owned(),
                    }
                } else {
                    continue;
                };
                let _ = reports.send(report);
            }
        });
        WriterProcess {
            child,
            stdin,
            reader: Some(reader),
        }
    }

    /// Sends SIGKILL (std's `Child::kill` on Unix) and waits for the process to end.
    fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        self.join_reader();
    }

    /// Closes stdin, which makes an unbounded child stop appending and shut down, and waits
    /// for the process to exit successfully.
    fn stop(&mut self) {
        drop(self.stdin.take());
        let status = self.child.wait().unwrap();
        assert!(status.success(), "writer process exited with {status}");
        self.join_reader();
    }

    fn join_reader(&mut self) {
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
    }
}

impl Drop for WriterProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Acknowledgements collected from every writer process.
#[derive(Default)]
struct Acks {
    subject_by_seq: HashMap<u64, String>,
    count_by_child: HashMap<usize, u64>,
    done: Vec<usize>,
}

impl Acks {
    fn record(&mut self, report: Report) {
        match report {
            Report::Ack { child, seq, subject } => {
                if let Some(earlier) = self.subject_by_seq.insert(seq, subject.clone()) {
                    panic!("seq {seq} was acknowledged twice: to {earlier:?} and to {subject:?}");
                }
                *self.count_by_child.entry(child).or_default() += 1;
            }
            Report::Done { child } => self.done.push(child),
        }
    }

    fn count(&self, child: usize) -> u64 {
        self.count_by_child.get(&child).copied().unwrap_or(0)
    }

    /// Takes reports until `reached` returns true, failing after `WAIT_LIMIT`.
    fn wait_until(&mut self, reports: &mpsc::Receiver<Report>, what: &str, reached: impl Fn(&Acks) -> bool) {
        let deadline = Instant::now() + WAIT_LIMIT;
        while !reached(self) {
            let remaining = deadline.saturating_duration_since(Instant::now());
            match reports.recv_timeout(remaining) {
                Ok(report) => self.record(report),
                Err(error) => panic!("waiting for {what}: {error}; acks per process: {:?}", self.count_by_child),
            }
        }
    }

    fn drain(&mut self, reports: &mpsc::Receiver<Report>) {
        while let Ok(report) = reports.try_recv() {
            self.record(report);
        }
    }
}

fn prepare_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_signing_key(&dir.path().join(SIGNING_KEY_FILE), &generate_signing_key()).unwrap();
    dir
}

/// Verifies the log and checks that every acknowledged seq contains the event that was
/// acknowledged with it, and that the seqs are gap-free from 1.
fn check_log(dir: &Path, acks: &Acks) -> Vec<Record> {
    let config = child_config(dir);
    let verifying_key = load_signing_key(&dir.join(SIGNING_KEY_FILE)).unwrap().verifying_key();
    let report = match verify(&config.log_path(), &config.anchor_path(), &verifying_key) {
        Ok(report) => report,
        Err(error) => panic!("log written by several processes: {error}"),
    };
    assert_eq!(report.unanchored_records, 0, "the last shutdown seals every record");
    assert_eq!(report.incomplete_final_line_bytes, None);

    let records: Vec<Record> = read_records(&config.log_path(), RecordFilter::default(), None)
        .unwrap()
        .map(|read| read.unwrap().record)
        .collect();
    let seqs: Vec<u64> = records.iter().map(|record| record.seq).collect();
    let contiguous: Vec<u64> = (1..=report.last_seq).collect();
    assert_eq!(seqs, contiguous);
    let mut lost = Vec::new();
    for (seq, subject) in &acks.subject_by_seq {
        match records.get((seq - 1) as usize) {
            Some(record) if &record.subject == subject => {}
            Some(record) => panic!("seq {seq} was acknowledged for {subject:?} but contains {:?}", record.subject),
            None => lost.push(*seq),
        }
    }
    lost.sort_unstable();
    assert!(lost.is_empty(), "acknowledged but missing: {lost:?}");
    assert_checkpoints_contiguous(&records);
    records
}

#[test]
fn three_processes_append_concurrently() {
    const PROCESSES: usize = 3;
    const APPENDS: u64 = 40;
    let dir = prepare_dir();
    let (sender, reports) = mpsc::channel();
    let mut processes: Vec<WriterProcess> = (0..PROCESSES)
        .map(|index| WriterProcess::spawn(dir.path(), index, Some(APPENDS), sender.clone()))
        .collect();
    drop(sender);

    let mut acks = Acks::default();
    acks.wait_until(&reports, "every process to finish", |acks| acks.done.len() == PROCESSES);
    for process in &mut processes {
        process.stop();
    }
    acks.drain(&reports);

    for child in 0..PROCESSES {
        assert_eq!(acks.count(child), CHILD_TASKS * APPENDS, "acks of process {child}");
    }
    let records = check_log(dir.path(), &acks);
    let statements = records.iter().filter(|record| record.event_type == "statement").count();
    assert_eq!(statements as u64, PROCESSES as u64 * CHILD_TASKS * APPENDS);
}

/// Kills one of three appending processes with SIGKILL, in two rounds on the same log. The
/// two others keep appending, and every record acknowledged by any of them stays.
#[test]
fn sigkill_of_one_writer_spares_the_others() {
    const PROCESSES: usize = 3;
    const ACKS_BEFORE_KILL: u64 = 60;
    const ACKS_AFTER_KILL: u64 = 60;
    let dir = prepare_dir();
    let mut acks = Acks::default();
    for round in 0..2usize {
        let (sender, reports) = mpsc::channel();
        let first_child = round * PROCESSES;
        let mut processes: Vec<WriterProcess> = (first_child..first_child + PROCESSES)
            .map(|index| WriterProcess::spawn(dir.path(), index, None, sender.clone()))
            .collect();
        drop(sender);

        let counts_before: Vec<u64> = (first_child..first_child + PROCESSES).map(|child| acks.count(child)).collect();
        acks.wait_until(&reports, "acks from every process", |acks| {
            (0..PROCESSES).all(|offset| acks.count(first_child + offset) >= counts_before[offset] + ACKS_BEFORE_KILL)
        });
        let victim = round % PROCESSES;
        processes[victim].kill();
        acks.drain(&reports);

        let survivors: Vec<usize> = (0..PROCESSES).filter(|offset| *offset != victim).collect();
        let counts_at_kill: Vec<u64> = (0..PROCESSES).map(|offset| acks.count(first_child + offset)).collect();
        acks.wait_until(&reports, "acks from the survivors after the kill", |acks| {
            survivors
                .iter()
                .all(|offset| acks.count(first_child + offset) >= counts_at_kill[*offset] + ACKS_AFTER_KILL)
        });
        for offset in &survivors {
            processes[*offset].stop();
        }
        acks.drain(&reports);
        assert!(
            !acks.done.contains(&(first_child + victim)),
            "round {round}: the killed process must not have finished"
        );

        let records = check_log(dir.path(), &acks);
        let recovered = records
            .iter()
            .filter(|record| record.event_type == event_types::AUDIT_RECOVERED)
            .count();
        // The kill lands in the middle of a write only by chance, so this is printed, not asserted.
        eprintln!("round {round}: {} records, {recovered} audit.recovered", records.len());
    }
}
