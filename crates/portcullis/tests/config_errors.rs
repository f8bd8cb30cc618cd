//! An invalid configuration file stops every command before it does anything, with a
//! message that names the key and the line to fix.

mod common;

use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use common::{portcullis, run, run_with_timeout, set_option, Workdir};

/// Maximum time `serve` may take to reject a configuration.
const SERVE_TIMEOUT: Duration = Duration::from_secs(20);

/// Copies the configuration to `file_name` beside it, sets `key = value` in `[section]` of
/// the copy, and returns the copy's path and the 1-based line number of the setting.
fn broken_copy(work: &Workdir, file_name: &str, section: &str, key: &str, value: &str) -> (PathBuf, usize) {
    let path = work.dir.join(file_name);
    fs::copy(&work.config, &path).expect("copy the configuration");
    set_option(&path, section, key, value);
    let setting = format!("{key} = {value}");
    let line = fs::read_to_string(&path)
        .expect("read the copy")
        .lines()
        .position(|line| line == setting)
        .expect("the setting is in the copy")
        + 1;
    (path, line)
}

/// Asserts that `user list` and `serve` both exit non-zero on `config`, naming every text
/// in `expected`.
fn assert_rejected(work: &Workdir, config: &PathBuf, expected: &[String]) {
    let user_list = run(portcullis(work.scratch()).arg("-c").arg(config).args(["user", "list"])).failure();
    let serve = run_with_timeout(
        portcullis(work.scratch()).arg("-c").arg(config).arg("serve"),
        SERVE_TIMEOUT,
    )
    .failure();

    for output in [&user_list, &serve] {
        for text in expected {
            assert!(output.stderr.contains(text.as_str()), "message does not name {text:?}:\n{output}");
        }
    }
}

#[test]
fn unknown_key_names_key_and_line() {
    let work = Workdir::init();
    let (config, line) = broken_copy(&work, "unknown-key.toml", "auth", "lockout_time", "\"5m\"");

    assert_rejected(
        &work,
        &config,
        &["auth.lockout_time".to_string(), format!("line {line}")],
    );
}

#[test]
fn bad_duration_names_key_and_line() {
    let work = Workdir::init();
    let (config, line) = broken_copy(&work, "bad-duration.toml", "auth", "token_lifetime", "\"forever\"");

    assert_rejected(
        &work,
        &config,
        &["auth.token_lifetime".to_string(), "forever".to_string(), format!("line {line}")],
    );
}

#[test]
fn out_of_range_value_names_key() {
    let work = Workdir::init();
    let (config, _line) = broken_copy(&work, "wide-skew.toml", "auth", "totp_skew_steps", "9");

    // NOTE: checks that need the whole file (ranges, one key against another) report the
    // key but no line number, so only the key is asserted here.
    assert_rejected(&work, &config, &["auth.totp_skew_steps".to_string()]);
}

#[test]
fn valid_copy_is_accepted() {
    // The copies above differ from a working configuration in one line only.
    let work = Workdir::init();
    let (config, _line) = broken_copy(&work, "valid.toml", "auth", "lockout", "\"2s\"");

    run(portcullis(work.scratch()).arg("-c").arg(&config).args(["user", "list"])).success();
}
