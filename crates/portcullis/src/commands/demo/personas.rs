//! The demo's people: each gets an account with TOTP, a role, and a token obtained
//! through `portcullis login`, exactly as a real user would.

use anyhow::{bail, Context as _, Result};
use portcullis_core::totp::{code_at, time_step, TOTP_STEP_SECONDS};
use portcullis_core::TotpSecret;
use serde_json::Value;

use super::environment::Gateway;

/// One demo user.
pub struct Persona {
    pub name: &'static str,
    /// The role whose policies apply to the persona's sessions.
    pub role: &'static str,
    pub access: Access,
    pub department: &'static str,
    pub job_role: &'static str,
    pub description: &'static str,
}

/// Source of a persona's role: standing membership, a just-in-time request or break-glass.
pub enum Access {
    /// A standing member of the role.
    Standing,
    /// Holds no role; requests the role for a short time, and members of `approvers`
    /// approve (an `[access.roles.ROLE]` section).
    JustInTime { approvers: &'static str },
    /// A standing member of `entitlement`, which lets them self-grant the role in an
    /// emergency; members of `reviewers` close the post-incident review (the
    /// `[break_glass]` section).
    BreakGlass { entitlement: &'static str, reviewers: &'static str },
}

/// The cast, in the order the scenario introduces them.
pub const PERSONAS: [Persona; 6] = [
    Persona { name: "alice", role: "clinician", access: Access::Standing, department: "cardiology", job_role: "physician", description: "cardiology clinician" },
    Persona { name: "bob", role: "billing", access: Access::Standing, department: "*", job_role: "billing specialist", description: "billing" },
    Persona { name: "carol", role: "researcher", access: Access::Standing, department: "*", job_role: "researcher", description: "researcher" },
    Persona {
        name: "dave",
        role: "dba",
        access: Access::JustInTime { approvers: "security_officer" },
        department: "",
        job_role: "database administrator",
        description: "DBA",
    },
    Persona { name: "erin", role: "security_officer", access: Access::Standing, department: "", job_role: "security officer", description: "security officer" },
    Persona {
        name: "frank",
        role: "emergency",
        access: Access::BreakGlass { entitlement: "on_call", reviewers: "security_officer" },
        department: "emergency",
        job_role: "emergency physician",
        description: "on-call emergency physician",
    },
];

impl Persona {
    /// Returns the role granted at enrollment, if any.
    pub fn standing_role(&self) -> Option<&'static str> {
        match self.access {
            Access::Standing => Some(self.role),
            Access::JustInTime { .. } => None,
            Access::BreakGlass { entitlement, .. } => Some(entitlement),
        }
    }

    /// Returns how the persona gets its role, for the cast list.
    pub fn access_summary(&self) -> String {
        match self.access {
            Access::Standing => format!("role {}", self.role),
            Access::JustInTime { approvers } => format!("no standing role; requests role {} when needed, {approvers} approves", self.role),
            Access::BreakGlass { entitlement, .. } => format!("role {entitlement}, which may break the glass for role {}", self.role),
        }
    }
}

/// Returns the persona with this name.
pub fn persona(name: &str) -> Result<&'static Persona> {
    PERSONAS.iter().find(|persona| persona.name == name).with_context(|| format!("no demo persona named {name}"))
}

/// A persona's credentials once enrolled and logged in.
pub struct Credentials {
    pub user: String,
    pub password: String,
    pub totp_secret: String,
    pub token: String,
    /// TOTP time step of the code the login used; the gateway accepts each step once.
    pub login_step: u64,
}

/// Creates every role and persona and logs each persona in.
pub fn enroll(gateway: &Gateway, admin: &str) -> Result<Vec<Credentials>> {
    let mut roles: Vec<&str> = Vec::new();
    for persona in &PERSONAS {
        for role in [Some(persona.role), persona.standing_role()].into_iter().flatten() {
            if !roles.contains(&role) {
                roles.push(role);
            }
        }
    }
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
        if let Some(role) = persona.standing_role() {
            run(gateway, &["role", "grant", role, persona.name, "--by", admin])?;
        }
        let password = text(&created, "one_time_password")?;
        let totp_secret = secret_from_uri(&text(&created, "totp_uri")?)?;
        let (token, login_step) = login(gateway, persona.name, &password, &totp_secret)?;
        credentials.push(Credentials {
            user: persona.name.to_string(),
            password,
            totp_secret,
            token,
            login_step,
        });
    }
    Ok(credentials)
}

/// Logs a user in through the API with password and the current TOTP code; returns
/// the token and the TOTP time step used.
pub fn login(gateway: &Gateway, user: &str, password: &str, totp_secret: &str) -> Result<(String, u64)> {
    let step = current_step()?;
    let code = code_for_step(totp_secret, step)?;
    let output = gateway
        .command()?
        .args(["--output", "json", "login", "--user", user, "--totp", &code])
        .env("PORTCULLIS_PASSWORD", password)
        .output()?;
    if !output.status.success() {
        bail!("login of {user} failed: {}", String::from_utf8_lossy(&output.stderr).trim());
    }
    let value: Value = serde_json::from_slice(&output.stdout).context("reading the login answer")?;
    Ok((text(&value, "token")?, step))
}

/// Returns a TOTP code the gateway has not seen from this persona: the code of the step
/// after the login's, which `auth.totp_skew_steps = 1` (the default) accepts early.
/// Waits for the next step when the login's step is not the current one.
pub fn fresh_code(credentials: &Credentials) -> Result<String> {
    let step = (credentials.login_step + 1).max(current_step()?);
    while step > current_step()? + 1 {
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    code_for_step(&credentials.totp_secret, step)
}

fn current_step() -> Result<u64> {
    time_step(time::OffsetDateTime::now_utc()).context("the system clock is before 1970")
}

/// Computes the TOTP code of a time step from a base32 secret, as an authenticator app
/// would.
fn code_for_step(secret_base32: &str, step: u64) -> Result<String> {
    let bytes = totp_rs::Secret::Encoded(secret_base32.to_string())
        .to_bytes()
        .map_err(|error| anyhow::anyhow!("invalid TOTP secret: {error:?}"))?;
    let secret = TotpSecret::from_bytes(bytes)?;
    let seconds = i64::try_from(step * TOTP_STEP_SECONDS).context("TOTP step out of range")?;
    let at = time::OffsetDateTime::from_unix_timestamp(seconds)?;
    code_at(&secret, at).context("computing the TOTP code")
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
