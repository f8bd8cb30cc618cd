//! Command-line interface definitions.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Least-privilege access gateway for systems that hold electronic protected health
/// information.
#[derive(Debug, Parser)]
#[command(name = "portcullis", version, about, propagate_version = true)]
pub struct Cli {
    /// Configuration file to read.
    #[arg(short, long, global = true, default_value = "portcullis.toml", env = "PORTCULLIS_CONFIG")]
    pub config: PathBuf,

    /// Output format of commands that print data or credentials.
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,

    #[command(subcommand)]
    pub command: Command,
}

/// How a command prints what it returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Aligned text for people.
    Table,
    /// JSON (one document, or JSON Lines for record streams).
    Json,
    /// Comma-separated values with a header line (`access review` only).
    Csv,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a working directory: configuration, state store, keys, TLS certificate and
    /// the first admin.
    Init(InitArgs),
    /// Run every listener (HTTP API, and the database front ends) until stopped.
    Serve,
    /// Obtain an access token with password and TOTP code; the token is the password
    /// native database clients present.
    Login(LoginArgs),
    /// Revoke an access token.
    Logout(LogoutArgs),
    /// Replace your password, such as a one-time password, with the current password
    /// and a TOTP code.
    Password(PasswordArgs),
    /// Manage users and service accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage roles and role memberships.
    #[command(subcommand)]
    Role(RoleCommand),
    /// Verify, follow and search the audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Check policies and explain decisions.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Propose PHI catalogs for review.
    #[command(subcommand)]
    Catalog(CatalogCommand),
    /// Run the demo: a throwaway PostgreSQL with synthetic patient data behind a
    /// gateway, a scenario through real psql sessions, and audit tamper detection.
    Demo(DemoArgs),
    /// Manage target databases kept in the state store (targets may also be listed in
    /// the configuration file under [targets.NAME]).
    #[command(subcommand)]
    Target(TargetCommand),
    /// Review which users have which access and how they use it.
    #[command(subcommand)]
    Access(AccessCommand),
    /// Request temporary access to a role, and list, show, approve, deny or revoke
    /// requests. Acts as the user whose token is in PORTCULLIS_TOKEN (or --token-stdin),
    /// directly on the state store.
    Request(RequestArgs),
    /// Self-grant the emergency role with password and a fresh TOTP code (holders of
    /// the break-glass entitlement only), or close a post-incident review.
    BreakGlass(BreakGlassArgs),
}

#[derive(Debug, Args)]
pub struct RequestArgs {
    /// Read your token from standard input instead of the PORTCULLIS_TOKEN environment
    /// variable.
    #[arg(long, global = true)]
    pub token_stdin: bool,
    #[command(subcommand)]
    pub command: RequestCommand,
}

#[derive(Debug, Subcommand)]
pub enum RequestCommand {
    /// Ask for a role for a limited time; approvers of the role decide.
    Create(RequestCreateArgs),
    /// List your requests and those you may decide, newest first.
    List,
    /// Show one request with its decisions and grant.
    Show { id: String },
    /// Approve a request (approvers of the role only, with a recent MFA login).
    Approve { id: String },
    /// Deny a request.
    Deny { id: String },
    /// Withdraw a pending request, or revoke the grant of an approved one; live
    /// sessions that depend on it end within a second.
    Revoke { id: String },
}

#[derive(Debug, Args)]
pub struct RequestCreateArgs {
    /// Role to request; it needs an [access.roles.NAME] section in the configuration.
    #[arg(long)]
    pub role: String,
    /// Limit the grant to this target (default: every target).
    #[arg(long)]
    pub target: Option<String>,
    /// How long the grant lasts once approved, such as "2h" or "30m".
    #[arg(long = "for", value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub duration: std::time::Duration,
    /// Reason the access is needed; recorded in the audit log.
    #[arg(long)]
    pub reason: String,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BreakGlassArgs {
    #[command(subcommand)]
    pub command: Option<BreakGlassCommand>,
    #[command(flatten)]
    pub grant: BreakGlassGrantArgs,
}

#[derive(Debug, Subcommand)]
pub enum BreakGlassCommand {
    /// Close a post-incident review with your findings (members of
    /// `break_glass.reviewers` other than the user who broke the glass).
    Review(BreakGlassReviewArgs),
}

#[derive(Debug, Args)]
pub struct BreakGlassGrantArgs {
    /// Your Portcullis user name.
    #[arg(long, short)]
    pub user: Option<String>,
    /// Emergency role; must be `break_glass.role` (the default).
    #[arg(long)]
    pub role: Option<String>,
    /// Limit the grant to this target (default: every target).
    #[arg(long)]
    pub target: Option<String>,
    /// How long the grant lasts, at most `break_glass.max_duration` (the default).
    #[arg(long = "for", value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub duration: Option<std::time::Duration>,
    /// Reason emergency access is needed (required); recorded and sent with the alert.
    #[arg(long)]
    pub reason: Option<String>,
    /// Read the password from standard input (first line) instead of a prompt or the
    /// PORTCULLIS_PASSWORD environment variable.
    #[arg(long)]
    pub password_stdin: bool,
    /// Current 6-digit TOTP code; read from PORTCULLIS_TOTP or prompted for when missing.
    #[arg(long)]
    pub totp: Option<String>,
}

#[derive(Debug, Args)]
pub struct BreakGlassReviewArgs {
    /// Review id, as `portcullis access report` lists it.
    pub id: String,
    /// Findings of the review (required).
    #[arg(long)]
    pub notes: String,
    /// Read your token from standard input instead of PORTCULLIS_TOKEN.
    #[arg(long)]
    pub token_stdin: bool,
}

#[derive(Debug, Subcommand)]
pub enum AccessCommand {
    /// List each role and grant of each user with the last time it was exercised,
    /// according to the audit log, and flag those unused for --unused-days as
    /// candidates for revocation. Supports --output table, csv or json.
    Review(AccessReviewArgs),
    /// List the break-glass post-incident reviews that are still open.
    Report,
}

#[derive(Debug, Args)]
pub struct AccessReviewArgs {
    /// Days without use after which a role or grant is flagged for revocation.
    #[arg(long, default_value_t = 30)]
    pub unused_days: u32,
}

#[derive(Debug, Subcommand)]
pub enum CatalogCommand {
    /// Connect to a target with its configured credentials, classify every table
    /// column from its name and sampled values, and print a proposed catalog file
    /// (`policies/catalogs/TARGET.toml`) for review. Sampled values are never printed.
    Discover {
        /// Target to examine (from the configuration or the state store).
        #[arg(long)]
        target: String,
        /// Rows to sample per table, from 0 (names only) to 10000.
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(0..=10_000))]
        sample: u32,
    },
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Validate the policy directory (`policy.dir`, or --dir) against the Cedar schema
    /// and the targets' tables; prints the policy set's SHA-256.
    Check {
        /// Policy directory to check instead of `policy.dir`.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Validate the policy directory (`policy.dir`) as `check` does, then record the
    /// set's SHA-256 in the state store. Every running `serve` that shares the store
    /// puts the set in force within about a second, open sessions included. An
    /// invalid set is rejected and the set in force stays.
    Reload,
    /// Print the decision for one message of SQL, per statement, table and column,
    /// with the policy ids that decided it, exactly as the gateway would decide it.
    Explain {
        /// Portcullis user whose roles and attributes apply.
        #[arg(long)]
        user: String,
        /// Target the statement would run on.
        #[arg(long)]
        target: String,
        /// The SQL text, one or more statements.
        sql: String,
    },
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep the environment running for your own clients instead of playing the
    /// scenario; stop it with Ctrl-C or SIGTERM.
    #[arg(long)]
    pub serve: bool,
    /// Where `--serve` writes the JSON file with addresses, CA certificate, tokens and
    /// TOTP secrets (default: portcullis-demo.json in the temporary directory).
    #[arg(long, requires = "serve")]
    pub state_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum TargetCommand {
    /// Add a target. Its password is read from --password-env or --password-file,
    /// stored encrypted with the master key, and never printed.
    Add(TargetAddArgs),
    /// List targets from the store and the configuration file.
    List,
    /// Show one target (without its password).
    Show { name: String },
    /// Remove a target from the store.
    Remove { name: String },
}

/// TLS towards an upstream server, as libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TargetTlsArg {
    Disable,
    Require,
    VerifyFull,
}

#[derive(Debug, Args)]
pub struct TargetAddArgs {
    /// Target name; clients send it as the database name.
    pub name: String,
    /// Host name or address of the PostgreSQL server.
    #[arg(long)]
    pub host: String,
    /// Port of the server.
    #[arg(long, default_value_t = 5432)]
    pub port: u16,
    /// Database on the server.
    #[arg(long)]
    pub database: String,
    /// Role the gateway logs in as.
    #[arg(long)]
    pub user: String,
    /// Environment variable holding the role's password.
    #[arg(long, conflicts_with = "password_file")]
    pub password_env: Option<String>,
    /// File holding the role's password.
    #[arg(long)]
    pub password_file: Option<PathBuf>,
    /// TLS towards the server.
    #[arg(long, value_enum, default_value_t = TargetTlsArg::VerifyFull)]
    pub tls: TargetTlsArg,
    /// CA certificate (PEM) for --tls verify-full.
    #[arg(long)]
    pub ca_file: Option<PathBuf>,
    /// Idle timeout of sessions on this target, such as "15m" (default: postgres.idle_timeout).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub idle_timeout: Option<std::time::Duration>,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Directory to create; must not already hold Portcullis files.
    #[arg(long)]
    pub dir: PathBuf,
    /// User name of the first administrator.
    #[arg(long)]
    pub admin: String,
    /// Extra DNS names or addresses the generated TLS certificate is valid for
    /// (localhost, 127.0.0.1 and ::1 are always included). Repeatable.
    #[arg(long = "tls-host", value_name = "HOST")]
    pub tls_hosts: Vec<String>,
    /// Port of the HTTP API written into the new configuration.
    #[arg(long, default_value_t = 8443)]
    pub api_port: u16,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Portcullis user name.
    #[arg(long, short)]
    pub user: String,
    /// Read the password from standard input (first line) instead of a prompt or the
    /// PORTCULLIS_PASSWORD environment variable.
    #[arg(long)]
    pub password_stdin: bool,
    /// Current 6-digit TOTP code; prompted for when missing.
    #[arg(long)]
    pub totp: Option<String>,
    /// Token lifetime, such as "1h" or "30m" (default and maximum come from `auth.*`).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub lifetime: Option<std::time::Duration>,
    /// Base URL of the API; defaults to `api.listen` of the configuration.
    #[arg(long)]
    pub api_url: Option<String>,
}

#[derive(Debug, Args)]
pub struct PasswordArgs {
    /// Portcullis user name.
    #[arg(long, short)]
    pub user: String,
    /// Read the current password (first line) and the new one (second line) from
    /// standard input instead of prompts.
    #[arg(long)]
    pub password_stdin: bool,
    /// Current 6-digit TOTP code; prompted for when missing.
    #[arg(long)]
    pub totp: Option<String>,
    /// Base URL of the API; defaults to `api.listen` of the configuration.
    #[arg(long)]
    pub api_url: Option<String>,
}

#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// Read the token to revoke from standard input instead of PORTCULLIS_TOKEN.
    #[arg(long)]
    pub token_stdin: bool,
    /// Base URL of the API; defaults to `api.listen` of the configuration.
    #[arg(long)]
    pub api_url: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; prints a one-time password and the TOTP enrollment URI once.
    Add(UserAddArgs),
    /// List users.
    List,
    /// Show one user with roles.
    Show { name: String },
    /// Disable a user and revoke all their tokens at once.
    Disable { name: String },
    /// Enable a disabled user.
    Enable { name: String },
    /// Deprovision a user for good: disable the account, revoke its tokens and grants,
    /// and remove its standing roles. The account stays, disabled, so that audit
    /// records keep resolving to a name.
    Delete { name: String },
    /// Replace a user's TOTP secret; prints the new enrollment URI once.
    ResetMfa { name: String },
}

#[derive(Debug, Args)]
pub struct UserAddArgs {
    /// Unique user name (lowercase letters, digits, `_`, `.`, `-`; starts with a letter).
    pub name: String,
    /// Create a service account for a program; requires --owner.
    #[arg(long, requires = "owner")]
    pub service: bool,
    /// Human user accountable for the service account.
    #[arg(long)]
    pub owner: Option<String>,
    /// Full name shown in listings and audit searches.
    #[arg(long)]
    pub display_name: Option<String>,
    /// Department attribute used by policies (for example "cardiology").
    #[arg(long)]
    pub department: Option<String>,
    /// Job role attribute used by policies (for example "physician").
    #[arg(long)]
    pub job_role: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum RoleCommand {
    /// Create a role.
    Add {
        name: String,
        /// What the role is for.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List roles with member counts.
    List,
    /// Add a user to a role.
    Grant {
        role: String,
        user: String,
        /// Administrator recorded as granting the role: an enabled member of role
        /// admin other than USER.
        #[arg(long = "by", value_name = "ADMIN")]
        granted_by: String,
    },
    /// Remove a user from a role.
    Revoke { role: String, user: String },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the hash chain, every checkpoint signature and the anchor; exits 0 when
    /// intact, 1 naming the first bad record otherwise.
    Verify(AuditVerifyArgs),
    /// Print the newest records.
    Tail(AuditTailArgs),
    /// Print the records that match every given filter.
    Search(AuditSearchArgs),
}

#[derive(Debug, Args)]
pub struct AuditVerifyArgs {
    /// Audit directory to verify instead of `audit.dir` (for copies and backups).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct AuditTailArgs {
    /// Number of records to print.
    #[arg(short = 'n', long, default_value_t = 20)]
    pub lines: usize,
    /// Show encrypted payloads (statement text, parameters) in clear; needs the master key.
    #[arg(long)]
    pub decrypt: bool,
}

#[derive(Debug, Args)]
pub struct AuditSearchArgs {
    /// Only records whose actor is this user name.
    #[arg(long)]
    pub user: Option<String>,
    /// Only records whose event type starts with this text (for example "auth.").
    #[arg(long)]
    pub event: Option<String>,
    /// Only records at or after this time (RFC 3339, for example 2026-01-31T08:00:00Z).
    #[arg(long)]
    pub since: Option<String>,
    /// Only records before this time (RFC 3339).
    #[arg(long)]
    pub until: Option<String>,
    /// Only records about this target.
    #[arg(long)]
    pub target: Option<String>,
    /// Only records with this outcome (success, failure, denied, error).
    #[arg(long)]
    pub outcome: Option<String>,
    /// Only records from this client address.
    #[arg(long)]
    pub client: Option<IpAddr>,
    /// Show encrypted payloads in clear; needs the master key.
    #[arg(long)]
    pub decrypt: bool,
    /// Stop after this many records.
    #[arg(long, default_value_t = 1000)]
    pub limit: usize,
}
