//! The demo EHR database behind a gateway with the demo policies, for tests that drive
//! the gateway with real clients: a throwaway cluster loaded from crates/portcullis/demo
//! (schema, synthetic data, row-level security, views), `portcullis serve` with the
//! demo policy set plus the test fixtures, and one logged-in Portcullis user per
//! persona of `portcullis demo`. As in `portcullis demo`, dave holds no standing role
//! and requests `dba` just in time (a security officer approves), and frank holds
//! `on_call`, which may break the glass for `emergency`.
//!
//! Include it next to `mod common;` with `#[path = "support/ehr.rs"] mod ehr;`.

#![allow(dead_code)] // each test binary uses a different subset

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use portcullis_cluster::Cluster;
use tokio_postgres::Client;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::common::{free_port, run, run_with_stdin, Account, Gateway, Workdir};

const SCHEMA_SQL: &str = include_str!("../../demo/schema.sql");
const DATA_SQL: &str = include_str!("../../demo/data.sql");
const RLS_SQL: &str = include_str!("../../demo/rls.sql");
const VIEWS_SQL: &str = include_str!("../../../portcullis-policy/examples/demo/views.sql");

/// The test-only view that tests/fixtures/test_grants.cedar of portcullis-policy grants.
const TEST_VIEW_SQL: &str = "\
    CREATE VIEW public.patient_identity AS \
        SELECT id, mrn, ssn, first_name || ' ' || last_name AS full_name FROM public.patients; \
    GRANT SELECT ON public.patient_identity TO portcullis_gateway;";

/// Target name and upstream database name.
pub const TARGET: &str = "ehr";
/// Role the gateway logs in as upstream (created by rls.sql).
pub const UPSTREAM_ROLE: &str = "portcullis_gateway";
const UPSTREAM_PASSWORD: &str = "ehr-gateway-test-password";

/// How a persona comes to hold the role whose policies apply to its sessions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// A standing member of the role.
    Standing,
    /// Holds no role; requests the role just in time (an `[access.roles.NAME]`
    /// section), and a member of `APPROVER_ROLE` approves.
    JustInTime,
    /// A standing member of the entitlement role, which may break the glass for the
    /// role (the `[break_glass]` section).
    BreakGlass { entitlement: &'static str },
}

/// Role whose members approve just-in-time requests and review break-glass use.
pub const APPROVER_ROLE: &str = "security_officer";

/// One Portcullis user: name, role, `portcullis.department` value, job role and how
/// the user holds the role. The first six are the personas of `portcullis demo`;
/// mallory has a role without policies, and quinn the role of
/// tests/fixtures/mask_probe.cedar.
pub const PERSONAS: [(&str, &str, &str, &str, Access); 8] = [
    ("alice", "clinician", "cardiology", "physician", Access::Standing),
    ("bob", "billing", "*", "billing_specialist", Access::Standing),
    ("carol", "researcher", "*", "analyst", Access::Standing),
    ("dave", "dba", "", "database_administrator", Access::JustInTime),
    ("erin", APPROVER_ROLE, "", "security_officer", Access::Standing),
    ("frank", "emergency", "emergency", "physician", Access::BreakGlass { entitlement: "on_call" }),
    ("mallory", "guest", "", "visitor", Access::Standing),
    ("quinn", "mask_probe", "*", "analyst", Access::Standing),
];

/// Returns the role a persona holds from enrollment on, if any.
fn standing_role(role: &'static str, access: Access) -> Option<&'static str> {
    match access {
        Access::Standing => Some(role),
        Access::JustInTime => None,
        Access::BreakGlass { entitlement } => Some(entitlement),
    }
}

/// Returns the persona entry named `name`.
fn persona(name: &str) -> &'static (&'static str, &'static str, &'static str, &'static str, Access) {
    PERSONAS
        .iter()
        .find(|entry| entry.0 == name)
        .unwrap_or_else(|| panic!("no persona named {name}"))
}

/// The running environment. Fields drop in order, so `serve` stops before the cluster.
pub struct Ehr {
    _gateway: Gateway,
    pub workdir: Workdir,
    pub cluster: Cluster,
    pub pg_port: u16,
    tokens: BTreeMap<&'static str, String>,
    accounts: BTreeMap<&'static str, Account>,
}

impl Ehr {
    /// Starts the cluster and the gateway and logs every persona in.
    pub async fn start() -> Ehr {
        Ehr::start_with_setup("").await
    }

    /// Like `start`, running `setup_sql` on the `ehr` database as the cluster's
    /// superuser before the gateway starts and reads the target's catalog.
    pub async fn start_with_setup(setup_sql: &str) -> Ehr {
        let cluster = tokio::task::block_in_place(load_database);
        if !setup_sql.is_empty() {
            cluster.psql_script("ehr", setup_sql, &[]).expect("run the test's setup SQL");
        }
        let workdir = Workdir::init();
        let pg_port = free_port();
        configure(&workdir, &cluster, pg_port);
        let gateway = workdir.serve().await;

        let mut roles: Vec<&str> = PERSONAS.iter().map(|persona| persona.1).collect();
        roles.extend(PERSONAS.iter().filter_map(|persona| standing_role(persona.1, persona.4)));
        roles.sort_unstable();
        roles.dedup();
        for role in roles {
            workdir.run(&["role", "add", role]).success();
        }
        let mut tokens = BTreeMap::new();
        let mut accounts = BTreeMap::new();
        for (name, role, department, job_role, access) in PERSONAS {
            let account = workdir.add_user(name, &["--department", department, "--job-role", job_role]);
            if let Some(standing) = standing_role(role, access) {
                workdir.run(&["role", "grant", standing, name, "--by", "admin"]).success();
            }
            let code = account.authenticator.next_code().await;
            let login = run(workdir
                .command(&["--output", "json", "login", "--user", name, "--totp", &code])
                .env("PORTCULLIS_PASSWORD", &account.password))
            .success();
            let token = login.json()["token"].as_str().expect("login prints a token").to_owned();
            tokens.insert(name, token);
            accounts.insert(name, account);
        }
        Ehr {
            _gateway: gateway,
            workdir,
            cluster,
            pg_port,
            tokens,
            accounts,
        }
    }

    /// Has persona `name` request its just-in-time role on the target for an hour, and erin
    /// approve the request. The persona's next sessions run on the grant.
    pub fn approve_just_in_time(&self, name: &str) {
        let (_, role, _, _, access) = persona(name);
        assert_eq!(*access, Access::JustInTime, "{name} does not request a role just in time");
        let request = |token: &str, args: &[&str]| {
            let mut full = vec!["--output", "json", "request"];
            full.extend_from_slice(args);
            run(self.workdir.command(&full).env("PORTCULLIS_TOKEN", token)).success()
        };
        let reason = "schema change ticket 1187";
        let created = request(
            self.token(name),
            &["create", "--role", role, "--target", TARGET, "--for", "1h", "--reason", reason],
        );
        let id = created.json()["id"].as_str().expect("request id").to_owned();
        let approved = request(self.token("erin"), &["approve", &id]);
        assert_eq!(approved.json()["state"], "approved", "{approved}");
    }

    /// Has persona `name` break the glass with its password and a fresh TOTP code, and
    /// returns the token `portcullis break-glass` prints. The persona's next sessions
    /// run on the break-glass grant.
    pub async fn break_glass(&self, name: &str) -> String {
        let (_, role, _, _, access) = persona(name);
        assert!(
            matches!(access, Access::BreakGlass { .. }),
            "{name} may not break the glass"
        );
        let account = &self.accounts[name];
        let code = account.authenticator.next_code().await;
        let mut command = self.workdir.command(&[
            "--output", "json", "break-glass", "--user", name, "--reason",
            "EHR outage, patient in resuscitation", "--password-stdin", "--totp", &code,
        ]);
        let granted = tokio::task::block_in_place(|| run_with_stdin(&mut command, &format!("{}\n", account.password)))
            .success();
        let body = granted.json();
        assert_eq!(body["grant"]["role"], *role, "{granted}");
        body["token"].as_str().expect("break-glass prints a token").to_owned()
    }

    pub fn ca_cert(&self) -> PathBuf {
        self.workdir.dir.join("tls/ca.crt")
    }

    /// Returns the libpq environment variables that reach the gateway as `persona`.
    pub fn gateway_variables(&self, persona: &str) -> Vec<(&'static str, String)> {
        vec![
            ("PGHOST", "localhost".to_owned()),
            ("PGPORT", self.pg_port.to_string()),
            ("PGDATABASE", TARGET.to_owned()),
            ("PGUSER", persona.to_owned()),
            ("PGPASSWORD", self.token(persona).to_owned()),
            ("PGSSLMODE", "verify-full".to_owned()),
            ("PGSSLROOTCERT", self.ca_cert().display().to_string()),
        ]
    }

    fn token(&self, persona: &str) -> &str {
        self.tokens
            .get(persona)
            .unwrap_or_else(|| panic!("no persona named {persona}"))
    }

    /// Connects to the gateway as `persona` over TLS verified against the gateway's CA.
    pub async fn connect_gateway(&self, persona: &str) -> Client {
        self.try_connect_gateway(persona)
            .await
            .unwrap_or_else(|error| panic!("connecting to the gateway as {persona} failed: {error:?}"))
    }

    /// Like `connect_gateway`, returning the error of a refused connection.
    pub async fn try_connect_gateway(&self, persona: &str) -> Result<Client, tokio_postgres::Error> {
        self.try_connect_gateway_with(persona, self.token(persona)).await
    }

    /// Connects to the gateway as `persona` with `token`, such as a break-glass token.
    pub async fn try_connect_gateway_with(&self, persona: &str, token: &str) -> Result<Client, tokio_postgres::Error> {
        let mut config = tokio_postgres::Config::new();
        config
            .host("localhost")
            .port(self.pg_port)
            .dbname(TARGET)
            .user(persona)
            .password(token)
            .ssl_mode(tokio_postgres::config::SslMode::Require);
        let (client, connection) = config.connect(tls_connector(&self.ca_cert())).await?;
        tokio::spawn(connection);
        Ok(client)
    }

    /// Connects directly to PostgreSQL as the gateway's upstream role, with the
    /// `portcullis.department` setting the gateway sets for `persona`, so that
    /// row-level security returns the rows the persona sees through the gateway.
    pub async fn connect_direct(&self, persona: &str) -> Client {
        let department = self::persona(persona).2;
        let mut config = tokio_postgres::Config::new();
        config
            .host(self.cluster.host())
            .port(self.cluster.port())
            .dbname(TARGET)
            .user(UPSTREAM_ROLE)
            .password(UPSTREAM_PASSWORD)
            .options(format!("-c portcullis.department={department}"));
        let (client, connection) = config
            .connect(tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|error| panic!("connecting directly as {UPSTREAM_ROLE} failed: {error}"));
        tokio::spawn(connection);
        client
    }
}

fn load_database() -> Cluster {
    let cluster = Cluster::start_with_settings(&[("timezone", "UTC")]).expect("start a throwaway PostgreSQL cluster");
    cluster.psql("postgres", "CREATE DATABASE ehr").expect("create the ehr database");
    cluster.psql_script("ehr", SCHEMA_SQL, &[]).expect("load schema.sql");
    cluster.psql_script("ehr", DATA_SQL, &[]).expect("load data.sql");
    let options = format!("-c portcullis.gateway_password={UPSTREAM_PASSWORD}");
    cluster
        .psql_script("ehr", RLS_SQL, &[("PGOPTIONS", options.as_str())])
        .expect("load rls.sql");
    cluster.psql_script("ehr", VIEWS_SQL, &[]).expect("load views.sql");
    cluster.psql_script("ehr", TEST_VIEW_SQL, &[]).expect("create the test view");
    cluster
}

/// Enables the PostgreSQL front end, adds the `ehr` target and copies the demo
/// policies and the test fixtures into `policies/`.
fn configure(workdir: &Workdir, cluster: &Cluster, pg_port: u16) {
    workdir.set_option("postgres", "enabled", "true");
    workdir.set_option("postgres", "listen", &format!("\"127.0.0.1:{pg_port}\""));
    let password_file = workdir.dir.join("ehr-upstream.password");
    fs::write(&password_file, UPSTREAM_PASSWORD).expect("write the upstream password file");
    fs::set_permissions(&password_file, fs::Permissions::from_mode(0o600)).expect("chmod 600 the password file");

    let roles: Vec<String> = PERSONAS.iter().map(|persona| format!("\"{}\"", persona.1)).collect();
    let section = format!("targets.{TARGET}");
    let settings = [
        ("host", format!("\"{}\"", cluster.host())),
        ("port", cluster.port().to_string()),
        ("database", "\"ehr\"".to_owned()),
        ("user", format!("\"{UPSTREAM_ROLE}\"")),
        ("password_file", format!("\"{}\"", password_file.display())),
        ("tls", "\"disable\"".to_owned()),
        ("allowed_roles", format!("[{}]", roles.join(", "))),
    ];
    for (key, value) in &settings {
        workdir.set_option(&section, key, value);
    }
    workdir.set_option("policy", "dir", "\"policies\"");
    for (name, role, _, _, access) in PERSONAS {
        match access {
            Access::Standing => {}
            Access::JustInTime => {
                let section = format!("access.roles.{role}");
                workdir.set_option(&section, "approvers", &format!("\"{APPROVER_ROLE}\""));
                workdir.set_option(&section, "approvals", "1");
                workdir.set_option(&section, "max_duration", "\"1h\"");
            }
            Access::BreakGlass { entitlement } => {
                assert_eq!(name, "frank", "the configuration has one [break_glass] section");
                workdir.set_option("break_glass", "role", &format!("\"{role}\""));
                workdir.set_option("break_glass", "entitlement", &format!("\"{entitlement}\""));
                workdir.set_option("break_glass", "reviewers", &format!("\"{APPROVER_ROLE}\""));
            }
        }
    }

    let policies = workdir.dir.join("policies");
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    copy_tree(&manifest.join("../portcullis-policy/examples/demo"), &policies);
    for fixture in [
        manifest.join("../portcullis-policy/tests/fixtures/test_grants.cedar"),
        manifest.join("tests/fixtures/mask_probe.cedar"),
    ] {
        let name = fixture.file_name().expect("fixture file name");
        fs::copy(&fixture, policies.join(name)).expect("copy a policy fixture");
    }
    // views.sql is loaded into the database above; it is not a policy file.
    let _ = fs::remove_file(policies.join("views.sql"));
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("create a policy directory");
    for entry in fs::read_dir(from).expect("read a policy directory") {
        let path = entry.expect("directory entry").path();
        let target = to.join(path.file_name().expect("file name"));
        if path.is_dir() {
            copy_tree(&path, &target);
        } else {
            fs::copy(&path, &target).expect("copy a policy file");
        }
    }
}

fn tls_connector(ca_cert: &Path) -> MakeRustlsConnect {
    let mut roots = rustls::RootCertStore::empty();
    let pem = fs::read(ca_cert).expect("read the gateway's CA certificate");
    for certificate in rustls_pemfile::certs(&mut pem.as_slice()) {
        roots.add(certificate.expect("PEM certificate")).expect("add the CA certificate");
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    MakeRustlsConnect::new(config)
}
