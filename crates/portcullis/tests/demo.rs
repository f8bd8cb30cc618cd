//! The demo is the first thing a new user runs, so CI runs it too: it must reach its
//! end with exit status 0 and say that everything it started is stopped.

use std::process::Command;

#[test]
fn demo_runs_to_success() {
    let output = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .arg("demo")
        .output()
        .expect("run portcullis demo");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "demo failed\nstdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("audit log verification FAILED: record"), "tamper detection missing:\n{stdout}");
    assert!(stdout.contains("everything it started is stopped"), "{stdout}");
}
