//! Client conformance: each real client runs its script from `tests/conformance/` twice,
//! directly against PostgreSQL and through the gateway, and the two transcripts must be
//! byte-identical.
//!
//! The tests of this binary share one environment: a throwaway cluster, `portcullis
//! serve` from this build with a `conformance` target, and a Portcullis user with a
//! token. It is stopped when the last test using it ends. Directly, a client logs in as
//! the role the gateway uses upstream, over TCP with a password and without TLS. Through
//! the gateway it logs in with the Portcullis user and token, over TLS verified against
//! the gateway's CA and the name `localhost` (sslmode=verify-full).
//!
//! A missing client or toolchain fails its test with the command that installs it:
//! `scripts/install-deps.sh --test` for system packages, `tests/conformance/setup.sh`
//! for the Python and Node libraries. Transcripts are kept in
//! `target/conformance/transcripts/` for reading after a failure.

mod common;

#[allow(dead_code)]
#[path = "../../../tests/conformance/tokio_postgres_check.rs"]
mod tokio_postgres_check;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use common::{free_port, run, Workdir};
use portcullis_cluster::Cluster;

/// Role the gateway logs in as upstream; the direct runs use it too.
const UPSTREAM_ROLE: &str = "conformance_app";
const UPSTREAM_PASSWORD: &str = "conformance-upstream-password";
/// Name of the upstream database and of the gateway target, so that PGDATABASE is the
/// same on both routes.
const DATABASE: &str = "conformance";
/// Portcullis user name, 16 characters like many real ones. The length matters because
/// the gateway puts the user name into the upstream application_name.
const GATEWAY_USER: &str = "conformance_user";
const GATEWAY_ROLE: &str = "conformance";
/// Debian's libpostgresql-jdbc-java installs the driver here.
const PGJDBC_JAR: &str = "/usr/share/java/postgresql.jar";
/// Maximum run time of one client script; each run takes a few seconds on 2 cores.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(300);
/// Lines of `diff -u` output shown when transcripts differ.
const DIFF_LINES: usize = 200;

const INSTALL_PACKAGES: &str = "scripts/install-deps.sh --test";
const INSTALL_LIBRARIES: &str = "tests/conformance/setup.sh";

/// How a client reaches the database.
#[derive(Clone, Copy, Debug)]
enum Route {
    Direct,
    Gateway,
}

impl Route {
    fn name(self) -> &'static str {
        match self {
            Route::Direct => "direct",
            Route::Gateway => "gateway",
        }
    }
}

/// The cluster, the running gateway and the credentials of both routes. Fields drop in
/// order, so `serve` stops before the cluster does.
struct Environment {
    _gateway: common::Gateway,
    workdir: Workdir,
    cluster: Cluster,
    pg_port: u16,
    token: String,
}

impl Environment {
    /// Connection parameters of `route`, as libpq environment variables.
    fn variables(&self, route: Route) -> BTreeMap<&'static str, String> {
        let mut variables = BTreeMap::new();
        variables.insert("PGDATABASE", DATABASE.to_string());
        match route {
            Route::Direct => {
                variables.insert("PGHOST", self.cluster.host().to_string());
                variables.insert("PGPORT", self.cluster.port().to_string());
                variables.insert("PGUSER", UPSTREAM_ROLE.to_string());
                variables.insert("PGPASSWORD", UPSTREAM_PASSWORD.to_string());
                variables.insert("PGSSLMODE", "disable".to_string());
            }
            Route::Gateway => {
                variables.insert("PGHOST", "localhost".to_string());
                variables.insert("PGPORT", self.pg_port.to_string());
                variables.insert("PGUSER", GATEWAY_USER.to_string());
                variables.insert("PGPASSWORD", self.token.clone());
                variables.insert("PGSSLMODE", "verify-full".to_string());
                let ca = self.workdir.dir.join("tls/ca.crt");
                variables.insert("PGSSLROOTCERT", ca.display().to_string());
            }
        }
        variables
    }
}

/// Returns the environment shared by the tests of this binary, starting it when no
/// running test has a reference to it.
fn environment() -> Arc<Environment> {
    static SHARED: OnceLock<Mutex<Weak<Environment>>> = OnceLock::new();
    let slot = SHARED.get_or_init(|| Mutex::new(Weak::new()));
    let mut weak = slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(environment) = weak.upgrade() {
        return environment;
    }
    let environment = Arc::new(start_environment());
    *weak = Arc::downgrade(&environment);
    environment
}

fn start_environment() -> Environment {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("build a Tokio runtime");

    let cluster = Cluster::start().expect("start a throwaway PostgreSQL cluster");
    cluster
        .psql("postgres", &format!("CREATE ROLE {UPSTREAM_ROLE} LOGIN PASSWORD '{UPSTREAM_PASSWORD}'"))
        .expect("create the upstream role");
    cluster
        .psql("postgres", &format!("CREATE DATABASE {DATABASE} OWNER {UPSTREAM_ROLE}"))
        .expect("create the conformance database");

    let workdir = Workdir::init();
    let pg_port = free_port();
    workdir.set_option("postgres", "enabled", "true");
    workdir.set_option("postgres", "listen", &format!("\"127.0.0.1:{pg_port}\""));
    let password_file = workdir.dir.join("conformance-upstream.password");
    fs::write(&password_file, UPSTREAM_PASSWORD).expect("write the upstream password file");
    fs::set_permissions(&password_file, fs::Permissions::from_mode(0o600)).expect("chmod 600 the password file");
    let section = format!("targets.{DATABASE}");
    let settings = [
        ("host", toml_string(cluster.host())),
        ("port", cluster.port().to_string()),
        ("database", toml_string(DATABASE)),
        ("user", toml_string(UPSTREAM_ROLE)),
        ("password_file", toml_string(&password_file.display().to_string())),
        ("tls", toml_string("disable")),
        ("allowed_roles", format!("[{}]", toml_string(GATEWAY_ROLE))),
    ];
    for (key, value) in &settings {
        workdir.set_option(&section, key, value);
    }

    let gateway = runtime.block_on(workdir.serve());
    let account = workdir.add_user(GATEWAY_USER, &[]);
    workdir.run(&["role", "add", GATEWAY_ROLE]).success();
    workdir.run(&["role", "grant", GATEWAY_ROLE, GATEWAY_USER, "--by", "admin"]).success();
    let code = runtime.block_on(account.authenticator.next_code());
    let login = run(workdir
        .command(&["--output", "json", "login", "--user", GATEWAY_USER, "--totp", &code])
        .env("PORTCULLIS_PASSWORD", &account.password))
    .success();
    let token = login.json()["token"]
        .as_str()
        .unwrap_or_else(|| panic!("login printed no token:\n{login}"))
        .to_string();

    Environment {
        _gateway: gateway,
        workdir,
        cluster,
        pg_port,
        token,
    }
}

fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

fn repository_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    fs::canonicalize(&root).unwrap_or(root)
}

fn scripts_dir() -> PathBuf {
    repository_root().join("tests/conformance")
}

/// Directory that `tests/conformance/setup.sh` fills.
fn libraries_dir() -> PathBuf {
    match std::env::var_os("PORTCULLIS_CONFORMANCE_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => repository_root().join("target/conformance"),
    }
}

/// Returns the path of `program` on PATH, or fails the test with the install command.
fn require_program(program: &str, install: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| fs::metadata(candidate).is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0))
        .unwrap_or_else(|| panic!("`{program}` not found on PATH; install it with `{install}`"))
}

/// Fails the test with the install command when `path` does not exist.
fn require_file(path: &Path, install: &str) -> PathBuf {
    assert!(path.exists(), "{} not found; install it with `{install}`", path.display());
    path.to_path_buf()
}

/// Exit status and output of one client run.
struct ClientRun {
    route: Route,
    success: bool,
    status: String,
    stdout: Vec<u8>,
    stderr: String,
}

/// Runs `command` with the connection variables of `route` and a fixed locale and time
/// zone, in a scratch directory that is also its HOME.
fn run_client(environment: &Environment, route: Route, mut command: Command) -> ClientRun {
    let scratch = tempfile::tempdir().expect("create a scratch directory");
    let stdout_path = scratch.path().join("stdout");
    let stderr_path = scratch.path().join("stderr");
    // Variables the caller set (NODE_PATH) survive the env_clear below.
    let own: Vec<(std::ffi::OsString, std::ffi::OsString)> = command
        .get_envs()
        .filter_map(|(name, value)| Some((name.to_os_string(), value?.to_os_string())))
        .collect();
    command
        .env_clear()
        .envs(own)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", scratch.path())
        .env("LANG", "C.UTF-8")
        .env("LC_ALL", "C.UTF-8")
        .env("TZ", "UTC")
        .env("PGCONNECT_TIMEOUT", "30")
        .envs(environment.variables(route))
        .current_dir(scratch.path())
        .stdin(Stdio::null())
        .stdout(fs::File::create(&stdout_path).expect("create the stdout file"))
        .stderr(fs::File::create(&stderr_path).expect("create the stderr file"));
    let description = format!("{command:?}");
    let mut child = command
        .spawn()
        .unwrap_or_else(|error| panic!("starting {description} failed: {error}"));
    let deadline = Instant::now() + CLIENT_TIMEOUT;
    let status: ExitStatus = loop {
        if let Some(status) = child.try_wait().expect("poll the client process") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{} run did not finish within {CLIENT_TIMEOUT:?}: {description}\nstderr:\n{}",
                route.name(),
                fs::read_to_string(&stderr_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    ClientRun {
        route,
        success: status.success(),
        status: status.to_string(),
        stdout: fs::read(&stdout_path).expect("read the client's stdout"),
        stderr: fs::read_to_string(&stderr_path).unwrap_or_default(),
    }
}

/// Runs a client on both routes, one after the other so that runs of the same client
/// never share a LISTEN channel, and compares the transcripts.
fn check_client(client: &str, build: impl Fn() -> Command) {
    let environment = environment();
    let direct = run_client(&environment, Route::Direct, build());
    let gateway = run_client(&environment, Route::Gateway, build());
    compare(client, &direct, &gateway);
}

/// Asserts that the direct run succeeded, then that the gateway run printed the same
/// bytes and succeeded too. Both transcripts are written to the transcripts directory.
fn compare(client: &str, direct: &ClientRun, gateway: &ClientRun) {
    let dir = libraries_dir().join("transcripts");
    fs::create_dir_all(&dir).expect("create the transcripts directory");
    let mut paths = Vec::new();
    for run in [direct, gateway] {
        let path = dir.join(format!("{client}.{}.txt", run.route.name()));
        fs::write(&path, &run.stdout).expect("write a transcript");
        paths.push(path);
    }

    assert!(
        direct.success,
        "the {client} script failed when run directly against PostgreSQL, so the fault is in the \
         script or the machine, not the gateway (a missing library is installed by `{INSTALL_LIBRARIES}`)\n\
         status: {}\ntranscript: {}\nstderr:\n{}",
        direct.status,
        paths[0].display(),
        tail(&direct.stderr, 60)
    );
    assert!(
        direct.stdout == gateway.stdout,
        "{client} observed something different through the gateway than directly\n\
         direct transcript: {}\ngateway transcript: {}\n--- diff -u direct gateway ---\n{}\n\
         --- gateway run status: {}, stderr ---\n{}",
        paths[0].display(),
        paths[1].display(),
        diff(&paths[0], &paths[1]),
        gateway.status,
        tail(&gateway.stderr, 60)
    );
    assert!(
        gateway.success,
        "the {client} script printed the same transcript through the gateway but failed with {}\nstderr:\n{}",
        gateway.status,
        tail(&gateway.stderr, 60)
    );
}

/// Returns the first `DIFF_LINES` lines of `diff -u`.
fn diff(direct: &Path, gateway: &Path) -> String {
    match Command::new("diff").arg("-u").arg(direct).arg(gateway).output() {
        Ok(output) => {
            let text = String::from_utf8_lossy(&output.stdout);
            let lines: Vec<&str> = text.lines().collect();
            let mut excerpt = lines[..lines.len().min(DIFF_LINES)].join("\n");
            if lines.len() > DIFF_LINES {
                excerpt.push_str(&format!("\n... {} more lines", lines.len() - DIFF_LINES));
            }
            excerpt
        }
        Err(error) => format!("(running diff failed: {error})"),
    }
}

fn tail(text: &str, count: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(count)..].join("\n")
}

fn python() -> PathBuf {
    require_file(&libraries_dir().join("venv/bin/python"), INSTALL_LIBRARIES)
}

#[test]
fn psql_same_through_gateway() {
    require_program("psql", INSTALL_PACKAGES);
    let runner = scripts_dir().join("psql_check.sh");
    check_client("psql", || Command::new(&runner));
}

#[test]
fn psycopg_same_through_gateway() {
    let python = python();
    let script = scripts_dir().join("psycopg_check.py");
    check_client("psycopg", || {
        let mut command = Command::new(&python);
        command.arg(&script);
        command
    });
}

#[test]
fn asyncpg_same_through_gateway() {
    let python = python();
    let script = scripts_dir().join("asyncpg_check.py");
    check_client("asyncpg", || {
        let mut command = Command::new(&python);
        command.arg(&script);
        command
    });
}

#[test]
fn pgjdbc_same_through_gateway() {
    let javac = require_program("javac", INSTALL_PACKAGES);
    let java = require_program("java", INSTALL_PACKAGES);
    let jar = require_file(Path::new(PGJDBC_JAR), INSTALL_PACKAGES);
    let classes = tempfile::tempdir().expect("create a directory for the compiled class");
    let compiled = run(Command::new(&javac)
        .arg("-d")
        .arg(classes.path())
        .arg("-cp")
        .arg(&jar)
        .arg(scripts_dir().join("Conformance.java")));
    assert!(compiled.status.success(), "compiling Conformance.java failed:\n{compiled}");

    let class_path = format!("{}:{}", classes.path().display(), jar.display());
    check_client("pgjdbc", || {
        let mut command = Command::new(&java);
        command.arg("-cp").arg(&class_path).arg("Conformance");
        command
    });
}

#[test]
fn node_postgres_same_through_gateway() {
    let node = require_program("node", INSTALL_PACKAGES);
    let modules = require_file(&libraries_dir().join("node_modules"), INSTALL_LIBRARIES);
    require_file(&modules.join("pg"), INSTALL_LIBRARIES);
    let script = scripts_dir().join("pg_check.js");
    check_client("node-postgres", || {
        let mut command = Command::new(&node);
        command.arg(&script).env("NODE_PATH", &modules);
        command
    });
}

#[test]
fn tokio_postgres_same_through_gateway() {
    let environment = environment();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("build a Tokio runtime");
    let mut runs = Vec::new();
    for route in [Route::Direct, Route::Gateway] {
        let variables = environment.variables(route);
        let parameters = tokio_postgres_check::Parameters::from_variables(|name| variables.get(name).cloned())
            .expect("connection parameters of the route");
        let transcript = runtime
            .block_on(async { tokio::time::timeout(CLIENT_TIMEOUT, tokio_postgres_check::run(parameters)).await })
            .unwrap_or_else(|_| panic!("the tokio-postgres {} run did not finish within {CLIENT_TIMEOUT:?}", route.name()));
        runs.push(ClientRun {
            route,
            success: transcript.unexpected.is_empty(),
            status: format!("unexpected errors in steps {:?}", transcript.unexpected),
            stdout: transcript.text.into_bytes(),
            stderr: String::new(),
        });
    }
    compare("tokio-postgres", &runs[0], &runs[1]);
}

/// Runs pgbench through the gateway and returns its standard output; fails on a
/// non-zero exit.
fn pgbench(environment: &Environment, route: Route, args: &[&str]) -> String {
    let program = require_program("pgbench", INSTALL_PACKAGES);
    let mut command = Command::new(program);
    command.args(args).envs(environment.variables(route));
    let output = command.output().expect("run pgbench");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "pgbench {args:?} over the {} route failed\nstdout:\n{stdout}\nstderr:\n{stderr}",
        route.name()
    );
    stdout
}

#[test]
fn pgbench_extended_through_gateway_has_no_errors() {
    let environment = environment();
    // The tables are created directly, as their owner; the benchmark runs through
    // the gateway with the extended protocol, the way drivers with prepared
    // statements talk.
    pgbench(&environment, Route::Direct, &["-i", "-s", "1", "-q"]);
    for script in [&["-S"][..], &[][..]] {
        let mut args = vec!["-M", "extended", "-c", "4", "-j", "2", "-T", "5", "-n"];
        args.extend_from_slice(script);
        let report = pgbench(&environment, Route::Gateway, &args);
        assert!(report.contains("number of failed transactions: 0"), "pgbench {args:?}:\n{report}");
        let processed = report
            .lines()
            .find_map(|line| line.strip_prefix("number of transactions actually processed: "))
            .and_then(|count| count.split('/').next())
            .and_then(|count| count.trim().parse::<u64>().ok())
            .unwrap_or(0);
        assert!(processed > 0, "pgbench {args:?} processed no transaction:\n{report}");
    }
}
