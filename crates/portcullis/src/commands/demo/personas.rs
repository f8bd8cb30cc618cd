//! The demo's people: each gets an account with TOTP, a role, and a token obtained
//! through `portcullis login`, exactly as a real user would.

use anyhow::{bail, Context as _, Result};
use portcullis_core::totp::code_at;
use portcullis_core::TotpSecret;
use serde_json::Value;

use super::environment::Gateway;

/// One demo user.
pub struct Persona {
    pub name: &'static str,
    pub role: &'static str,
    pub department: &'static str,
    pub job_role: &'static str,
    pub description: &'static str,
}

/// The cast, in the order the scenario introduces them.
pub const PERSONAS: [Persona; 6] = [
    Persona { name: "alice", role: "clinician", department: "cardiology", job_role: "physician", description: "cardiology clinician" },
    Persona { name: "bob", role: "billing", department: "*", job_role: "billing specialist", description: "billing" },
    Persona { name: "carol", role: "researcher", department: "*", job_role: "researcher", description: "researcher" },
    Persona { name: "dave", role: "dba", department: "", job_role: "database administrator", description: "DBA" },
    Persona { name: "erin", role: "security_officer", department: "", job_role: "security officer", description: "security officer" },
    Persona { name: "frank", role: "emergency", department: "emergency", job_role: "emergency physician", description: "on-call emergency physician" },
];

/// A persona's credentials once enrolled and logged in.
pub struct Credentials {
    pub user: String,
    pub password: String,
    pub totp_secret: String,
    pub token: String,
}

/// Creates every role and persona and logs each persona in.
pub fn enroll(gateway: &Gateway, admin: &str) -> Result<Vec<Credentials>> {
    let mut roles: Vec<&str> = PERSONAS.iter().map(|persona| persona.role).collect();
    roles.dedup();
    for role in roles {
        run(gateway, &["role", "add", role, "--description", &format!("demo role {role}")])?;
    }
    let mut credentials = Vec::new();
    for persona in &PERSONAS {
        let created = run_json(
            gateway,
            &[
                "--output", "json", "user", "add", persona.name,
                "--department", persona.department,
                "--job-role", persona.job_role,
                "--display-name", persona.description,
            ],
        )?;
        run(gateway, &["role", "grant", persona.role, persona.name, "--by", admin])?;
        let password = text(&created, "one_time_password")?;
        let totp_secret = secret_from_uri(&text(&created, "totp_uri")?)?;
        let token = login(gateway, persona.name, &password, &totp_secret)?;
        credentials.push(Credentials {
            user: persona.name.to_string(),
            password,
            totp_secret,
            token,
        });
    }
    Ok(credentials)
}

/// Logs a user in through the API with password and the current TOTP code.
pub fn login(gateway: &Gateway, user: &str, password: &str, totp_secret: &str) -> Result<String> {
    let code = current_code(totp_secret)?;
    let output = gateway
        .command()?
        .args(["--output", "json", "login", "--user", user, "--totp", &code])
        .env("PORTCULLIS_PASSWORD", password)
        .output()?;
    if !output.status.success() {
        bail!("login of {user} failed: {}", String::from_utf8_lossy(&output.stderr).trim());
    }
    let value: Value = serde_json::from_slice(&output.stdout).context("reading the login answer")?;
    text(&value, "token")
}

/// Computes the current TOTP code from a base32 secret, as an authenticator app would.
pub fn current_code(secret_base32: &str) -> Result<String> {
    let bytes = totp_rs::Secret::Encoded(secret_base32.to_string())
        .to_bytes()
        .map_err(|error| anyhow::anyhow!("invalid TOTP secret: {error:?}"))?;
    let secret = TotpSecret::from_bytes(bytes)?;
    code_at(&secret, time::OffsetDateTime::now_utc()).context("computing the TOTP code")
}

fn secret_from_uri(uri: &str) -> Result<String> {
    uri.split(['?', '&'])
        .find_map(|part| part.strip_prefix("secret="))
        .map(str::to_string)
        .context("the otpauth URI has no secret")
}

fn text(value: &Value, key: &str) -> Result<String> {
    value[key]
        .as_str()
        .map(str::to_string)
        .with_context(|| format!("the answer has no `{key}`"))
}

/// Runs a `portcullis` command and fails with its standard error when it fails.
pub fn run(gateway: &Gateway, args: &[&str]) -> Result<String> {
    let output = gateway.command()?.args(args).output()?;
    if !output.status.success() {
        bail!("`portcullis {}` failed: {}", args.join(" "), String::from_utf8_lossy(&output.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn run_json(gateway: &Gateway, args: &[&str]) -> Result<Value> {
    let stdout = run(gateway, args)?;
    serde_json::from_str(&stdout).with_context(|| format!("reading the JSON output of `portcullis {}`", args.join(" ")))
}
