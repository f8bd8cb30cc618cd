//! The demo's scenario: each step is one `psql` invocation through the gateway, or one
//! part of the access lifecycle (a request, an approval, break-glass, a review), with
//! the expected outcome and a short narrative of what happened.

use std::collections::HashMap;
use std::process::Command;

use anyhow::{anyhow, bail, Context as _, Result};
use time::OffsetDateTime;

use super::alert_receiver::AlertReceiver;
use super::environment::{Gateway, TARGET};
use super::lifecycle::Lifecycle;
use super::personas::Credentials;

/// Expected outcome of a statement step.
pub enum Expect {
    /// The statement runs; the output contains every `contains` text and none of `absent`.
    Rows { contains: &'static [&'static str], absent: &'static [&'static str] },
    /// The gateway refuses; the error text contains this.
    Refused { error: &'static str },
}

/// Work of a step.
pub enum Work {
    /// Runs one statement through psql.
    Sql { sql: &'static str, expect: Expect },
    /// Runs `portcullis` commands or a longer session of the access lifecycle.
    Lifecycle(Lifecycle),
}

/// One step of the scenario.
pub struct Step {
    pub persona: &'static str,
    pub action: &'static str,
    pub work: Work,
    /// Why the gateway decides as it does, for the narrative.
    pub why: &'static str,
}

/// Result of a step, for the narrative.
pub struct Outcome {
    /// The gateway's decision in a few words, such as "allowed" or "refused".
    pub verdict: String,
    /// Result rows, messages or records that show the decision.
    pub details: Vec<String>,
}

/// The environment the steps act on, and what earlier steps left for later ones.
pub struct Story<'a> {
    pub gateway: &'a Gateway,
    pub alerts: &'a AlertReceiver,
    credentials: &'a [Credentials],
    /// Tokens that replace a persona's login token, such as a break-glass token.
    tokens: HashMap<String, String>,
    /// The access request the last request step created.
    pub request_id: Option<String>,
    /// End of the grant the last approval created.
    pub grant_ends_at: Option<OffsetDateTime>,
    /// The break-glass review the last break-glass step opened.
    pub review_id: Option<String>,
}

impl<'a> Story<'a> {
    pub fn new(gateway: &'a Gateway, alerts: &'a AlertReceiver, credentials: &'a [Credentials]) -> Story<'a> {
        Story {
            gateway,
            alerts,
            credentials,
            tokens: HashMap::new(),
            request_id: None,
            grant_ends_at: None,
            review_id: None,
        }
    }

    pub fn credentials(&self, persona: &str) -> Result<&'a Credentials> {
        self.credentials
            .iter()
            .find(|credentials| credentials.user == persona)
            .with_context(|| format!("no credentials for {persona}"))
    }

    /// Returns the token the persona connects and acts with now.
    pub fn token(&self, persona: &str) -> Result<String> {
        match self.tokens.get(persona) {
            Some(token) => Ok(token.clone()),
            None => Ok(self.credentials(persona)?.token.clone()),
        }
    }

    /// Makes the persona act with `token` from now on.
    pub fn use_token(&mut self, persona: &str, token: String) {
        self.tokens.insert(persona.to_string(), token);
    }
}

/// Output of one `psql` run.
pub struct PsqlOutput {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Builds a psql command that connects through the gateway as `user` with `token` as
/// the password, the way a person at a terminal would: TLS verified against the
/// gateway's CA, and psql stops at the first error.
pub fn psql_command(gateway: &Gateway, user: &str, token: &str) -> Command {
    let connection = format!(
        "host=localhost port={} dbname={TARGET} user={user} sslmode=verify-full sslrootcert={} application_name=demo",
        gateway.pg_port,
        gateway.ca_cert.display()
    );
    let mut command = Command::new("psql");
    command
        .args(["-X", "-A", "-F", " | ", "-P", "footer=off", "-v", "ON_ERROR_STOP=1"])
        .arg(connection)
        .env("PGPASSWORD", token)
        .env("PGCONNECT_TIMEOUT", "10");
    command
}

/// Runs one statement through the gateway, printing no command tags.
pub fn psql(gateway: &Gateway, user: &str, token: &str, sql: &str) -> Result<PsqlOutput> {
    let output = psql_command(gateway, user, token).args(["-q", "-c", sql]).output()?;
    Ok(PsqlOutput {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}

/// Runs one step, prints its narrative, and fails, naming the step, when the gateway
/// did not behave as expected.
pub fn run_step(story: &mut Story<'_>, number: usize, total: usize, step: &Step) -> Result<()> {
    println!("[{number}/{total}] {} {}", step.persona, step.action);
    let outcome = match &step.work {
        Work::Sql { sql, expect } => {
            println!("      sql: {sql}");
            run_sql(story, step.persona, sql, expect)
        }
        Work::Lifecycle(lifecycle) => lifecycle.run(story, step.persona),
    }
    .map_err(|error| anyhow!("step {number} ({} {}): {error:#}", step.persona, step.action))?;
    println!("      gateway: {}. {}", outcome.verdict, step.why);
    for line in &outcome.details {
        println!("        {line}");
    }
    println!();
    Ok(())
}

fn run_sql(story: &Story<'_>, persona: &str, sql: &str, expect: &Expect) -> Result<Outcome> {
    let output = psql(story.gateway, persona, &story.token(persona)?, sql)?;
    check(expect, &output)?;
    Ok(match expect {
        Expect::Rows { .. } => Outcome {
            verdict: "allowed".to_string(),
            details: output.stdout.lines().take(4).map(str::to_string).collect(),
        },
        Expect::Refused { .. } => Outcome {
            verdict: "refused".to_string(),
            details: vec![first_error_line(&output.stderr).to_string()],
        },
    })
}

fn check(expect: &Expect, output: &PsqlOutput) -> Result<()> {
    match expect {
        Expect::Rows { contains, absent } => {
            if !output.success {
                bail!("expected rows, got an error: {}", first_error_line(&output.stderr));
            }
            for text in *contains {
                if !output.stdout.contains(text) {
                    bail!("expected {text:?} in the result");
                }
            }
            for text in *absent {
                if output.stdout.contains(text) {
                    bail!("{text:?} must not appear in the result");
                }
            }
        }
        Expect::Refused { error } => {
            if output.success {
                bail!("expected a refusal, but the statement ran");
            }
            if !output.stderr.contains(error) {
                bail!("expected an error containing {error:?}, got: {}", first_error_line(&output.stderr));
            }
        }
    }
    Ok(())
}

pub fn first_error_line(stderr: &str) -> &str {
    stderr.lines().find(|line| !line.trim().is_empty()).unwrap_or("(no message)")
}
