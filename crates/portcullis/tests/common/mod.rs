//! Helpers shared by the end-to-end tests: a working directory made by `portcullis init`,
//! a running `portcullis serve`, the command-line client, an authenticator app that computes
//! TOTP codes, and line-level access to the audit log.
//!
//! Every test gets its own temporary directory and its own API port. Processes started here
//! are stopped by their PID: SIGTERM, then SIGKILL only if they do not exit in time.

#![allow(dead_code)] // each test binary uses a different subset

use std::collections::BTreeMap;
use std::fs;
use std::net::{SocketAddr, TcpListener};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tempfile::TempDir;
use totp_rs::TOTP;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_portcullis");

/// Environment variables of the test runner that would change what the binary reads.
const CLEARED_VARIABLES: [&str; 6] = [
    "PORTCULLIS_CONFIG",
    "PORTCULLIS_MASTER_KEY",
    "PORTCULLIS_STORE_URL",
    "PORTCULLIS_PASSWORD",
    "PORTCULLIS_TOKEN",
    "RUST_LOG",
];

/// `auth.totp_skew_steps` that `Workdir::init` writes, so that a test can log in several
/// times within one 30-second step (each login needs a step newer than the last one used).
pub const TOTP_SKEW_STEPS: u64 = 3;
/// Length of a TOTP time step (RFC 6238 default, which Portcullis uses).
const TOTP_STEP_SECONDS: u64 = 30;

/// Maximum wait for `serve` to respond on `/healthz`, or to exit after SIGTERM.
const PROCESS_TIMEOUT: Duration = Duration::from_secs(30);

/// Client message for every credential failure, whichever factor was wrong.
pub const INVALID_CREDENTIALS: &str = "sign-in failed: invalid user name, password or one-time code";

/// Returns a TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port on 127.0.0.1");
    listener.local_addr().expect("local address of the ephemeral listener").port()
}

/// Builds a `portcullis` command without the test runner's Portcullis environment variables.
pub fn portcullis(cwd: &Path) -> Command {
    let mut command = Command::new(BIN);
    command.current_dir(cwd).stdin(Stdio::null());
    for name in CLEARED_VARIABLES {
        command.env_remove(name);
    }
    command
}

/// Exit status and text output of one finished command.
pub struct CliOutput {
    pub command: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `command` to completion and captures its output.
pub fn run(command: &mut Command) -> CliOutput {
    let description = format!("{command:?}");
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("starting {description} failed: {error}"));
    CliOutput {
        command: description,
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs `command` with `input` on its standard input.
pub fn run_with_stdin(command: &mut Command, input: &str) -> CliOutput {
    use std::io::Write;

    let description = format!("{command:?}");
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("starting {description} failed: {error}"));
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(input.as_bytes())
        .expect("write standard input");
    let output = child.wait_with_output().expect("wait for the command");
    CliOutput {
        command: description,
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs `command` like `run`, for commands such as `serve` that keep running when they
/// start. Sends SIGTERM and fails the test when the command has not exited after `timeout`.
pub fn run_with_timeout(command: &mut Command, timeout: Duration) -> CliOutput {
    let description = format!("{command:?}");
    let scratch = tempfile::tempdir().expect("temporary directory for the output");
    let stdout_path = scratch.path().join("stdout");
    let stderr_path = scratch.path().join("stderr");
    let mut child = command
        .stdout(fs::File::create(&stdout_path).expect("create the stdout file"))
        .stderr(fs::File::create(&stderr_path).expect("create the stderr file"))
        .spawn()
        .unwrap_or_else(|error| panic!("starting {description} failed: {error}"));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("poll the child process") {
            break status;
        }
        if Instant::now() >= deadline {
            signal(&child, Signal::SIGTERM);
            let _ = child.wait();
            panic!(
                "{description} still ran after {timeout:?}; output:\n{}",
                fs::read_to_string(&stderr_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    CliOutput {
        command: description,
        status,
        stdout: fs::read_to_string(&stdout_path).unwrap_or_default(),
        stderr: fs::read_to_string(&stderr_path).unwrap_or_default(),
    }
}

impl CliOutput {
    /// Asserts exit status 0 and returns the output.
    #[track_caller]
    pub fn success(self) -> CliOutput {
        assert!(self.status.success(), "expected success:\n{self}");
        self
    }

    /// Asserts a non-zero exit status and returns the output.
    #[track_caller]
    pub fn failure(self) -> CliOutput {
        assert!(!self.status.success(), "expected a non-zero exit status:\n{self}");
        self
    }

    /// Parses standard output as one JSON document.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|error| panic!("stdout is not one JSON document ({error}):\n{self}"))
    }

    /// Parses standard output as JSON Lines.
    #[track_caller]
    pub fn json_lines(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| {
                serde_json::from_str(line).unwrap_or_else(|error| panic!("line {line:?} is not JSON ({error}):\n{self}"))
            })
            .collect()
    }

    /// Returns standard output followed by standard error.
    pub fn all_text(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

impl std::fmt::Display for CliOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "command: {}\nstatus: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.command, self.status, self.stdout, self.stderr
        )
    }
}

/// An authenticator app: computes the TOTP codes of one enrollment URI.
///
/// The gateway accepts a code only for a time step newer than the last one it accepted for
/// the user, so `next_code` hands out each step once. It stays one step inside the accepted
/// window on both sides, because the gateway reads its clock a moment after this process.
pub struct Authenticator {
    totp: TOTP,
    last_step: Mutex<Option<u64>>,
}

impl Authenticator {
    /// Parses an `otpauth://totp/...` URI.
    pub fn from_uri(uri: &str) -> Authenticator {
        let totp = TOTP::from_url(uri).unwrap_or_else(|error| panic!("invalid TOTP enrollment URI {uri:?}: {error:?}"));
        Authenticator {
            totp,
            last_step: Mutex::new(None),
        }
    }

    /// Returns the code of `step` (seconds since the Unix epoch divided by 30).
    pub fn code_for_step(&self, step: u64) -> String {
        self.totp.generate(step * TOTP_STEP_SECONDS)
    }

    /// Returns the code of the oldest unused step the gateway accepts now, or `None` when
    /// every such step was handed out already.
    pub fn try_next_code(&self) -> Option<String> {
        let reach = TOTP_SKEW_STEPS - 1;
        let now = current_step();
        let mut last_step = self.last_step.lock().expect("authenticator lock");
        let step = match *last_step {
            Some(last) => (last + 1).max(now - reach),
            None => now - reach,
        };
        if step > now + reach {
            return None;
        }
        *last_step = Some(step);
        Some(self.code_for_step(step))
    }

    /// Returns a fresh code, waiting for the next time step when needed.
    pub async fn next_code(&self) -> String {
        loop {
            if let Some(code) = self.try_next_code() {
                return code;
            }
            tokio::time::sleep(until_next_step()).await;
        }
    }
}

fn current_step() -> u64 {
    unix_seconds() / TOTP_STEP_SECONDS
}

fn until_next_step() -> Duration {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970");
    let step = Duration::from_secs(TOTP_STEP_SECONDS);
    let into_step = Duration::from_nanos((now.as_nanos() % step.as_nanos()) as u64);
    step - into_step + Duration::from_millis(200)
}

fn unix_seconds() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_secs()
}

/// A user with the one-time password and TOTP enrollment that `init` or `user add` printed.
pub struct Account {
    pub name: String,
    pub user_id: String,
    pub password: String,
    pub totp_uri: String,
    pub authenticator: Authenticator,
}

impl Account {
    /// Builds an account from the JSON that `user add --output json` prints (or the
    /// `admin` object of `init --output json`).
    pub fn from_json(value: &Value) -> Account {
        let text = |field: &str| {
            value[field]
                .as_str()
                .unwrap_or_else(|| panic!("field {field:?} missing in {value}"))
                .to_string()
        };
        let totp_uri = text("totp_uri");
        Account {
            name: text("user"),
            user_id: text("user_id"),
            password: text("one_time_password"),
            authenticator: Authenticator::from_uri(&totp_uri),
            totp_uri,
        }
    }
}

/// A directory made by `portcullis init`, inside a temporary directory that also contains
/// the logs of `serve` and copies made by tests.
pub struct Workdir {
    temp: TempDir,
    /// The directory `init` created.
    pub dir: PathBuf,
    /// Its `portcullis.toml`.
    pub config: PathBuf,
    pub api_port: u16,
    /// The administrator `init` created.
    pub admin: Account,
    serve_count: AtomicUsize,
}

impl Workdir {
    /// Runs `portcullis init --dir TEMP/gateway --admin admin` on a free API port, then sets
    /// the options every test needs: `auth.totp_skew_steps` (see `TOTP_SKEW_STEPS`), and
    /// `postgres.enabled = false` with `postgres.listen` on a free port. The port matters
    /// because `serve` opens the PostgreSQL listener even when `enabled` is false, and
    /// parallel tests must not compete for the default port.
    pub fn init() -> Workdir {
        let temp = tempfile::tempdir().expect("create temporary directory");
        let dir = temp.path().join("gateway");
        let api_port = free_port();
        let output = run(portcullis(temp.path())
            .args(["init", "--dir"])
            .arg(&dir)
            .args(["--admin", "admin", "--api-port", &api_port.to_string(), "--output", "json"]))
        .success();
        let admin = Account::from_json(&output.json()["admin"]);
        let config = dir.join("portcullis.toml");

        set_option(&config, "auth", "totp_skew_steps", &TOTP_SKEW_STEPS.to_string());
        set_option(&config, "postgres", "enabled", "false");
        set_option(&config, "postgres", "listen", &format!("\"127.0.0.1:{}\"", free_port()));
        Workdir {
            temp,
            dir,
            config,
            api_port,
            admin,
            serve_count: AtomicUsize::new(0),
        }
    }

    /// Returns the temporary directory around the working directory, for copies and logs.
    pub fn scratch(&self) -> &Path {
        self.temp.path()
    }

    /// Builds `portcullis -c CONFIG ARGS...`, run from the scratch directory.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = portcullis(self.temp.path());
        command.arg("-c").arg(&self.config).args(args);
        command
    }

    /// Runs `portcullis -c CONFIG ARGS...` to completion.
    pub fn run(&self, args: &[&str]) -> CliOutput {
        run(&mut self.command(args))
    }

    /// Runs `user add NAME --output json` plus `extra` arguments and returns the account.
    pub fn add_user(&self, name: &str, extra: &[&str]) -> Account {
        let mut args = vec!["user", "add", name, "--output", "json"];
        args.extend_from_slice(extra);
        let output = self.run(&args).success();
        Account::from_json(&output.json())
    }

    /// Sets `key = value` in `[section]` of the configuration file.
    pub fn set_option(&self, section: &str, key: &str, value: &str) {
        set_option(&self.config, section, key, value);
    }

    /// Returns the audit directory named by the configuration `init` wrote.
    pub fn audit_dir(&self) -> PathBuf {
        self.dir.join("audit")
    }

    /// Reads and parses every record of the audit log.
    pub fn audit_records(&self) -> Vec<Value> {
        audit_records(&self.audit_dir())
    }

    /// Builds an HTTPS client that trusts the gateway's CA and resolves `localhost` to 127.0.0.1.
    pub fn api_client(&self) -> reqwest::Client {
        let ca = fs::read(self.dir.join("tls/ca.crt")).expect("read tls/ca.crt");
        let certificate = reqwest::Certificate::from_pem(&ca).expect("parse tls/ca.crt");
        reqwest::Client::builder()
            .add_root_certificate(certificate)
            .resolve("localhost", SocketAddr::from(([127, 0, 0, 1], self.api_port)))
            .timeout(Duration::from_secs(30))
            .build()
            .expect("build the HTTPS client")
    }

    /// Starts `portcullis serve` and waits until `/healthz` returns 200.
    pub async fn serve(&self) -> Gateway {
        let number = self.serve_count.fetch_add(1, Ordering::SeqCst) + 1;
        let log_path = self.temp.path().join(format!("serve-{number}.log"));
        let log = fs::File::create(&log_path).expect("create the serve log file");
        let log_err = log.try_clone().expect("clone the serve log file handle");
        let child = self
            .command(&["serve"])
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .expect("start portcullis serve");
        let mut gateway = Gateway {
            child: Some(child),
            url: format!("https://localhost:{}", self.api_port),
            client: self.api_client(),
            log_path,
        };
        gateway.wait_until_healthy().await;
        gateway
    }
}

/// A running `portcullis serve`.
pub struct Gateway {
    child: Option<Child>,
    pub url: String,
    pub client: reqwest::Client,
    log_path: PathBuf,
}

impl Gateway {
    /// Returns the diagnostic log that `serve` wrote so far.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    async fn wait_until_healthy(&mut self) {
        let deadline = Instant::now() + PROCESS_TIMEOUT;
        loop {
            let child = self.child.as_mut().expect("serve is running");
            if let Some(status) = child.try_wait().expect("poll serve") {
                self.child = None;
                panic!("serve exited with {status} before responding on /healthz:\n{}", self.log());
            }
            if let Ok(response) = self.client.get(format!("{}/healthz", self.url)).send().await {
                if response.status() == StatusCode::OK {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "serve did not answer /healthz within {PROCESS_TIMEOUT:?}:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sends SIGTERM and waits for the exit; returns the exit status.
    pub async fn stop(mut self) -> ExitStatus {
        let mut child = self.child.take().expect("serve is running");
        signal(&child, Signal::SIGTERM);
        let deadline = Instant::now() + PROCESS_TIMEOUT;
        loop {
            if let Some(status) = child.try_wait().expect("poll serve") {
                return status;
            }
            if Instant::now() >= deadline {
                signal(&child, Signal::SIGKILL);
                let _ = child.wait();
                panic!("serve did not exit within {PROCESS_TIMEOUT:?} of SIGTERM:\n{}", self.log());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sends SIGTERM, waits, and asserts that `serve` exited with status 0.
    pub async fn stop_cleanly(self) {
        let log_path = self.log_path.clone();
        let status = self.stop().await;
        assert!(
            status.success(),
            "serve exited with {status} after SIGTERM:\n{}",
            fs::read_to_string(log_path).unwrap_or_default()
        );
    }

    /// Sends SIGKILL, as a crash or power loss of the process would end it, and reaps it.
    pub fn kill(mut self) {
        let mut child = self.child.take().expect("serve is running");
        signal(&child, Signal::SIGKILL);
        let _ = child.wait();
    }

    /// `POST /v1/login`; returns the status and the JSON body.
    pub async fn login(&self, user: &str, password: &str, totp: &str, lifetime_seconds: Option<u64>) -> (StatusCode, Value) {
        let mut body = json!({"user": user, "password": password, "totp": totp});
        if let Some(seconds) = lifetime_seconds {
            body["lifetime_seconds"] = json!(seconds);
        }
        let response = self
            .client
            .post(format!("{}/v1/login", self.url))
            .json(&body)
            .send()
            .await
            .expect("POST /v1/login");
        let status = response.status();
        let text = response.text().await.expect("read the login response");
        let value = serde_json::from_str(&text).unwrap_or_else(|error| panic!("login response {text:?} is not JSON: {error}"));
        (status, value)
    }

    /// Logs `account` in with its password and a fresh TOTP code; asserts 200 and returns
    /// the response body.
    pub async fn login_ok(&self, account: &Account) -> Value {
        let code = account.authenticator.next_code().await;
        let (status, body) = self.login(&account.name, &account.password, &code, None).await;
        assert_eq!(status, StatusCode::OK, "login of {} failed: {body}", account.name);
        body
    }

    /// `POST /v1/logout` with the bearer token; returns the status and the body, which is
    /// empty on success.
    pub async fn logout(&self, token: &str) -> (StatusCode, String) {
        let response = self
            .client
            .post(format!("{}/v1/logout", self.url))
            .bearer_auth(token)
            .send()
            .await
            .expect("POST /v1/logout");
        let status = response.status();
        (status, response.text().await.expect("read the logout response"))
    }

    /// `GET path`; returns the status and the body text.
    pub async fn get(&self, path: &str) -> (StatusCode, String) {
        let response = self
            .client
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap_or_else(|error| panic!("GET {path}: {error}"));
        let status = response.status();
        (status, response.text().await.expect("read the response body"))
    }
}

impl Drop for Gateway {
    /// Stops a gateway that a failing test left running: SIGTERM, then SIGKILL after the
    /// timeout.
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        signal(&child, Signal::SIGTERM);
        let deadline = Instant::now() + PROCESS_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        signal(&child, Signal::SIGKILL);
        let _ = child.wait();
    }
}

fn signal(child: &Child, signal: Signal) {
    let pid = Pid::from_raw(i32::try_from(child.id()).expect("PID fits in i32"));
    // ESRCH only means the process has exited already and is waiting to be reaped.
    let _ = kill(pid, signal);
}

/// Sets `key = value` in `[section]` of a TOML file, keeping every other line and comment.
/// `value` is TOML text, such as `"\"2s\""` or `"false"`. A missing key is added as the
/// first line of its section, and a missing section at the end of the file.
pub fn set_option(path: &Path, section: &str, key: &str, value: &str) {
    let text = fs::read_to_string(path).unwrap_or_else(|error| panic!("read {}: {error}", path.display()));
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let setting = format!("{key} = {value}");
    let header = format!("[{section}]");

    match lines.iter().position(|line| line.trim() == header) {
        None => {
            lines.push(String::new());
            lines.push(header);
            lines.push(setting);
        }
        Some(start) => {
            let end = lines[start + 1..]
                .iter()
                .position(|line| line.trim_start().starts_with('['))
                .map_or(lines.len(), |offset| start + 1 + offset);
            let existing = (start + 1..end).find(|&index| {
                lines[index]
                    .split_once('=')
                    .is_some_and(|(name, _)| name.trim() == key && !lines[index].trim_start().starts_with('#'))
            });
            match existing {
                Some(index) => lines[index] = setting,
                None => lines.insert(start + 1, setting),
            }
        }
    }
    fs::write(path, lines.join("\n") + "\n").unwrap_or_else(|error| panic!("write {}: {error}", path.display()));
}

/// Reads and parses every record of the audit log in `audit_dir`.
pub fn audit_records(audit_dir: &Path) -> Vec<Value> {
    audit_lines(audit_dir)
        .iter()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("audit line {line:?} is not JSON: {error}")))
        .collect()
}

/// Reads the lines of `audit.log` in `audit_dir`, without their newlines.
pub fn audit_lines(audit_dir: &Path) -> Vec<String> {
    let path = audit_dir.join("audit.log");
    fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("read {}: {error}", path.display()))
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Copies the files of `from` (not recursive) into the new directory `to`.
pub fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir(to).unwrap_or_else(|error| panic!("create {}: {error}", to.display()));
    for entry in fs::read_dir(from).expect("read the directory to copy") {
        let entry = entry.expect("directory entry");
        if entry.file_type().expect("file type").is_file() {
            fs::copy(entry.path(), to.join(entry.file_name())).expect("copy a file");
        }
    }
}

/// Size, permission bits, modification time and SHA-256 of one file, or the permission
/// bits of a directory.
#[derive(Debug, PartialEq, Eq)]
pub struct FileState {
    pub mode: u32,
    pub len: u64,
    pub modified: SystemTime,
    pub sha256: String,
}

/// Records the state of every file and directory under `root`, by path relative to `root`.
pub fn snapshot(root: &Path) -> BTreeMap<PathBuf, FileState> {
    let mut states = BTreeMap::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).unwrap_or_else(|error| panic!("read {}: {error}", dir.display())) {
            let path = entry.expect("directory entry").path();
            let metadata = fs::symlink_metadata(&path).expect("file metadata");
            let sha256 = if metadata.is_file() {
                hex::encode(Sha256::digest(fs::read(&path).expect("read a file")))
            } else {
                pending.push(path.clone());
                String::new()
            };
            let state = FileState {
                mode: metadata.permissions().mode() & 0o7777,
                len: metadata.len(),
                modified: metadata.modified().expect("modification time"),
                sha256,
            };
            states.insert(path.strip_prefix(root).expect("path under root").to_path_buf(), state);
        }
    }
    states
}

/// Returns the permission bits of `path`.
pub fn mode_of(path: &Path) -> u32 {
    fs::metadata(path)
        .unwrap_or_else(|error| panic!("stat {}: {error}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}
