//! `portcullis init` run as a new operator would: the layout it creates, the permissions of
//! secret files, the credentials it prints once, and its refusal to overwrite.

mod common;

use std::fs;
use std::path::Path;

use common::{mode_of, portcullis, run, snapshot, Authenticator};

/// Files every working directory contains after `init`.
const LAYOUT: [&str; 10] = [
    "portcullis.toml",
    "keys/master.key",
    "keys/audit-signing.pem",
    "keys/audit-verifying.pem",
    "tls/ca.crt",
    "tls/server.crt",
    "tls/server.key",
    "state/portcullis.db",
    "audit/audit.log",
    "audit/audit.anchor",
];

/// Files that hold secrets and must be readable by their owner only.
const SECRET_FILES: [&str; 3] = ["keys/master.key", "keys/audit-signing.pem", "tls/server.key"];

/// Returns the value after `label` on the line that contains it, such as the password on
/// the `one-time password:` line.
fn value_after(text: &str, label: &str) -> String {
    let line = text
        .lines()
        .find(|line| line.contains(label))
        .unwrap_or_else(|| panic!("no line with {label:?} in:\n{text}"));
    line.split_once(label).expect("label on the line").1.trim().to_string()
}

/// Returns the paths of the files under `root` whose bytes contain `needle`.
fn files_containing(root: &Path, needle: &str) -> Vec<String> {
    common::snapshot(root)
        .into_keys()
        .filter(|relative| {
            let path = root.join(relative);
            path.is_file()
                && fs::read(&path)
                    .expect("read a file")
                    .windows(needle.len())
                    .any(|window| window == needle.as_bytes())
        })
        .map(|relative| relative.display().to_string())
        .collect()
}

#[test]
fn init_creates_layout_with_private_keys() {
    let temp = tempfile::tempdir().expect("temporary directory");
    let dir = temp.path().join("gateway");
    let output = run(portcullis(temp.path())
        .args(["init", "--dir"])
        .arg(&dir)
        .args(["--admin", "alice", "--api-port", &common::free_port().to_string()]))
    .success();

    for file in LAYOUT {
        assert!(dir.join(file).is_file(), "init did not create {file}:\n{output}");
    }
    for file in SECRET_FILES {
        assert_eq!(mode_of(&dir.join(file)), 0o600, "mode of {file}");
    }
    assert_eq!(mode_of(&dir.join("audit/audit.log")), 0o600, "mode of audit/audit.log");
    for private_dir in ["keys", "state", "audit"] {
        assert_eq!(mode_of(&dir.join(private_dir)) & 0o077, 0, "{private_dir}/ is open to group or others");
    }

    let text = output.all_text();
    let password = value_after(&text, "one-time password:");
    let uri = value_after(&text, "TOTP enrollment:");
    assert!(password.len() >= 12, "one-time password {password:?} is short");
    assert!(uri.starts_with("otpauth://totp/"), "enrollment URI {uri:?}");
    assert_eq!(text.matches(password.as_str()).count(), 1, "password printed more than once:\n{text}");
    assert_eq!(text.matches("otpauth://").count(), 1, "URI printed more than once:\n{text}");
    assert!(uri.contains("alice"), "enrollment URI {uri:?} does not name the admin");
    Authenticator::from_uri(&uri);

    // The credentials are shown once and kept nowhere in clear text.
    let secret = uri
        .split_once("secret=")
        .expect("secret parameter in the URI")
        .1
        .split('&')
        .next()
        .expect("secret value")
        .to_string();
    assert!(files_containing(&dir, &password).is_empty(), "one-time password stored in clear text");
    assert!(files_containing(&dir, &secret).is_empty(), "TOTP secret stored in clear text");

    let config = dir.join("portcullis.toml");
    run(portcullis(temp.path()).arg("-c").arg(&config).args(["audit", "verify"])).success();
    let users = run(portcullis(temp.path()).arg("-c").arg(&config).args(["user", "list", "--output", "json"])).success();
    let names: Vec<String> = users
        .json_lines()
        .iter()
        .map(|user| user["name"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(names, ["alice"], "users after init");
}

#[test]
fn init_json_output_parses() {
    let temp = tempfile::tempdir().expect("temporary directory");
    let dir = temp.path().join("gateway");
    let output = run(portcullis(temp.path())
        .args(["init", "--dir"])
        .arg(&dir)
        .args(["--admin", "alice", "--api-port", &common::free_port().to_string(), "--output", "json"]))
    .success();

    let value = output.json();
    let admin = &value["admin"];
    assert_eq!(admin["user"], "alice", "admin user in {value}");
    assert!(admin["user_id"].as_str().is_some_and(|id| id.len() == 36), "admin user_id in {value}");
    let password = admin["one_time_password"].as_str().expect("one_time_password");
    let uri = admin["totp_uri"].as_str().expect("totp_uri");
    assert!(!password.is_empty(), "empty one-time password");
    assert!(uri.starts_with("otpauth://totp/"), "totp_uri {uri:?}");
    Authenticator::from_uri(uri);
    assert_eq!(Path::new(value["config"].as_str().expect("config path")), dir.join("portcullis.toml"));

    let text = output.all_text();
    assert_eq!(text.matches(password).count(), 1, "password printed more than once:\n{text}");
    assert_eq!(text.matches("otpauth://").count(), 1, "URI printed more than once:\n{text}");
}

#[test]
fn init_refuses_existing_directory() {
    let temp = tempfile::tempdir().expect("temporary directory");
    let dir = temp.path().join("gateway");
    let port = common::free_port().to_string();
    run(portcullis(temp.path())
        .args(["init", "--dir"])
        .arg(&dir)
        .args(["--admin", "alice", "--api-port", &port]))
    .success();
    let before = snapshot(&dir);

    for admin in ["alice", "mallory"] {
        let second = run(portcullis(temp.path())
            .args(["init", "--dir"])
            .arg(&dir)
            .args(["--admin", admin, "--api-port", &port]))
        .failure();
        assert!(second.stderr.contains("not empty"), "message does not say why:\n{second}");
        assert!(!second.all_text().contains("otpauth://"), "a refused init printed credentials:\n{second}");
        assert_eq!(snapshot(&dir), before, "a refused init changed files");
    }

    // A directory with someone else's file is refused too, and the file is left alone.
    let other = temp.path().join("other");
    fs::create_dir(&other).expect("create directory");
    fs::write(other.join("notes.txt"), "keep me").expect("write file");
    run(portcullis(temp.path())
        .args(["init", "--dir"])
        .arg(&other)
        .args(["--admin", "alice", "--api-port", &port]))
    .failure();
    let names: Vec<_> = snapshot(&other).into_keys().collect();
    assert_eq!(names, vec![Path::new("notes.txt").to_path_buf()]);
    assert_eq!(fs::read_to_string(other.join("notes.txt")).expect("read file"), "keep me");
}
