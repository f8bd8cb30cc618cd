//! What the CLI and `serve` print: each error once, no user ids in sign-in
//! failures, and no ANSI colour codes when standard error is a file or a pipe.

mod common;

use common::{run, run_with_stdin, Workdir};

const ESCAPE: char = '\u{1b}';

#[test]
fn token_error_printed_once() {
    let workdir = Workdir::init();
    let output = run(workdir.command(&["request", "list"]).env("PORTCULLIS_TOKEN", "not-a-token")).failure();

    assert_eq!(output.stderr.matches("token rejected: malformed").count(), 1, "{output}");
    assert!(output.stderr.contains("portcullis login"), "{output}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reused_code_hides_user_id() {
    let workdir = Workdir::init();
    workdir.set_option("break_glass", "role", "\"emergency\"");
    workdir.set_option("break_glass", "entitlement", "\"responders\"");
    workdir.set_option("break_glass", "reviewers", "\"admin\"");
    for role in ["emergency", "responders"] {
        workdir.run(&["role", "add", role]).success();
    }
    let rita = workdir.add_user("rita", &[]);
    workdir.run(&["role", "grant", "responders", "rita", "--by", "admin"]).success();

    let code = rita.authenticator.next_code().await;
    let break_glass = || {
        run_with_stdin(
            &mut workdir.command(&["break-glass", "--user", "rita", "--reason", "EHR outage", "--password-stdin", "--totp", &code]),
            &format!("{}\n", rita.password),
        )
    };
    let granted = break_glass().success();
    assert!(granted.stderr.contains("break_glass"), "the alert line is printed: {granted}");
    assert!(!granted.stderr.contains(ESCAPE), "colour codes on a pipe: {granted}");

    let reused = break_glass().failure();
    assert!(!reused.stderr.contains(&rita.user_id), "the error names the user id: {reused}");
    assert_eq!(reused.stderr.matches("sign-in failed").count(), 1, "{reused}");
    assert!(!reused.stderr.contains(ESCAPE), "colour codes on a pipe: {reused}");
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_log_has_no_colour() {
    let workdir = Workdir::init();
    let gateway = workdir.serve().await;
    let (status, _) = gateway.login("admin", "wrong password", "000000", None).await;
    assert_eq!(status.as_u16(), 401);
    let log = gateway.log();
    gateway.stop_cleanly().await;

    assert!(log.contains("INFO"), "serve logged at info level: {log}");
    assert!(!log.contains(ESCAPE), "colour codes in the log file: {log}");
}
