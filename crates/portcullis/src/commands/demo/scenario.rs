//! The demo's scenario: each step is one `psql` invocation through the gateway with
//! the expected outcome, and a short narrative of what happened.

use std::process::Command;

use anyhow::{bail, Result};

use super::environment::{Gateway, TARGET};
use super::personas::Credentials;

/// What a step expects from the gateway.
pub enum Expect {
    /// The statement runs; the output contains every `contains` text and none of `absent`.
    Rows { contains: &'static [&'static str], absent: &'static [&'static str] },
    /// The gateway refuses; the error text contains this.
    Refused { error: &'static str },
}

/// One step of the scenario.
pub struct Step {
    pub persona: &'static str,
    pub action: &'static str,
    pub sql: &'static str,
    pub expect: Expect,
    /// Why the gateway decides as it does, for the narrative.
    pub why: &'static str,
}

/// Output of one `psql` run.
pub struct PsqlOutput {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Runs SQL through the gateway as `user` with `token` as the password, the way a
/// person at a terminal would: TLS verified against the gateway's CA.
pub fn psql(gateway: &Gateway, user: &str, token: &str, sql: &str) -> Result<PsqlOutput> {
    let connection = format!(
        "host=localhost port={} dbname={TARGET} user={user} sslmode=verify-full sslrootcert={} application_name=demo",
        gateway.pg_port,
        gateway.ca_cert.display()
    );
    let output = Command::new("psql")
        .args(["-X", "-q", "-A", "-F", " | ", "-P", "footer=off", "-v", "ON_ERROR_STOP=1"])
        .arg(connection)
        .args(["-c", sql])
        .env("PGPASSWORD", token)
        .env("PGCONNECT_TIMEOUT", "10")
        .output()?;
    Ok(PsqlOutput {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}

/// Runs one step, prints its narrative, and fails when the gateway did not behave as
/// expected.
pub fn run_step(gateway: &Gateway, number: usize, total: usize, step: &Step, credentials: &[Credentials]) -> Result<()> {
    let Some(persona) = credentials.iter().find(|c| c.user == step.persona) else {
        bail!("step {number}: no credentials for {}", step.persona);
    };
    println!("[{number}/{total}] {} {}", step.persona, step.action);
    println!("      sql: {}", step.sql);
    let output = psql(gateway, &persona.user, &persona.token, step.sql)?;
    check(number, step, &output)?;
    match step.expect {
        Expect::Rows { .. } => {
            println!("      gateway: allowed. {}", step.why);
            for line in output.stdout.lines().take(4) {
                println!("        {line}");
            }
        }
        Expect::Refused { .. } => {
            println!("      gateway: refused. {}", step.why);
            println!("        {}", first_error_line(&output.stderr));
        }
    }
    println!();
    Ok(())
}

fn check(number: usize, step: &Step, output: &PsqlOutput) -> Result<()> {
    match &step.expect {
        Expect::Rows { contains, absent } => {
            if !output.success {
                bail!("step {number} ({} {}): expected rows, got an error: {}", step.persona, step.action, first_error_line(&output.stderr));
            }
            for text in *contains {
                if !output.stdout.contains(text) {
                    bail!("step {number} ({} {}): expected {text:?} in the result", step.persona, step.action);
                }
            }
            for text in *absent {
                if output.stdout.contains(text) {
                    bail!("step {number} ({} {}): {text:?} must not appear in the result", step.persona, step.action);
                }
            }
        }
        Expect::Refused { error } => {
            if output.success {
                bail!("step {number} ({} {}): expected a refusal, but the statement ran", step.persona, step.action);
            }
            if !output.stderr.contains(error) {
                bail!(
                    "step {number} ({} {}): expected an error containing {error:?}, got: {}",
                    step.persona,
                    step.action,
                    first_error_line(&output.stderr)
                );
            }
        }
    }
    Ok(())
}

fn first_error_line(stderr: &str) -> &str {
    stderr.lines().find(|line| !line.trim().is_empty()).unwrap_or("(no message)")
}

/// The scenario, in order.
pub fn steps() -> Vec<Step> {
    vec![
        Step {
            persona: "alice",
            action: "counts encounters per department",
            sql: "SELECT d.code, count(*) FROM encounters e JOIN departments d ON d.id = e.department_id GROUP BY d.code ORDER BY d.code",
            expect: Expect::Rows { contains: &["cardiology"], absent: &["oncology", "psychiatry"] },
            why: "The gateway set portcullis.department = cardiology on her upstream session, so the database's row-level security shows only cardiology encounters.",
        },
        Step {
            persona: "alice",
            action: "reads her patients, SSN included",
            sql: "SELECT mrn, first_name, last_name, ssn FROM patients ORDER BY id LIMIT 3",
            expect: Expect::Rows { contains: &["****"], absent: &[] },
            why: "Policy clinician.ssn-last-four lets clinicians see only the last four digits of an SSN; the gateway masked the column in every row.",
        },
        Step {
            persona: "alice",
            action: "writes a progress note",
            sql: "INSERT INTO clinical_notes (encounter_id, author_staff_id, note_type, body, written_at) \
                  SELECT e.id, e.attending_staff_id, 'progress', 'Patient stable; continue current plan.', now() \
                  FROM encounters e ORDER BY e.id LIMIT 1",
            expect: Expect::Rows { contains: &[], absent: &[] },
            why: "Policy clinician.write-notes permits inserting notes; row-level security keeps them in her department.",
        },
        Step {
            persona: "alice",
            action: "tries to read psychotherapy notes",
            sql: "SELECT body FROM clinical_notes WHERE note_type = 'psychotherapy' LIMIT 1",
            expect: Expect::Refused { error: "permission denied by the gateway" },
            why: "Clinicians read notes only through clinical_notes_general, which leaves out psychotherapy and substance-use notes.",
        },
        Step {
            persona: "bob",
            action: "reads claims with patient names",
            sql: "SELECT c.cpt_code, c.amount, p.first_name, p.last_name FROM claims c \
                  JOIN encounters e ON e.id = c.encounter_id JOIN patients p ON p.id = e.patient_id ORDER BY c.id LIMIT 3",
            expect: Expect::Rows { contains: &["cpt_code"], absent: &[] },
            why: "Billing sees claims with the patient's name and address, across departments.",
        },
        Step {
            persona: "bob",
            action: "tries to read clinical notes",
            sql: "SELECT body FROM clinical_notes LIMIT 1",
            expect: Expect::Refused { error: "permission denied by the gateway" },
            why: "Policy billing.forbid-note-tables keeps clinical notes from billing.",
        },
        Step {
            persona: "carol",
            action: "reads patients for a study",
            sql: "SELECT mrn, dob, zip FROM patients ORDER BY id LIMIT 3",
            expect: Expect::Rows { contains: &["tok_", "-01-01"], absent: &[] },
            why: "Safe Harbor de-identification: identifiers become keyed tokens, dates their year, ZIP codes their first three digits.",
        },
        Step {
            persona: "carol",
            action: "tries to find patients by SSN",
            sql: "SELECT count(*) FROM patients WHERE ssn LIKE '900%'",
            expect: Expect::Refused { error: "permission denied by the gateway" },
            why: "A masked column cannot appear in WHERE: the filter would reveal what the mask hides.",
        },
        Step {
            persona: "dave",
            action: "tries to connect without a just-in-time grant",
            sql: "SELECT first_name FROM patients LIMIT 1",
            expect: Expect::Refused { error: "password authentication failed" },
            why: "Policy dba.connect-jit lets DBAs connect only through a just-in-time grant, which dave does not hold. The client message is the same as for a wrong token, so it reveals nothing about accounts or targets; the audit log has the real reason.",
        },
        Step {
            persona: "erin",
            action: "tries to read patient records",
            sql: "SELECT count(*) FROM patients",
            expect: Expect::Refused { error: "permission denied by the gateway" },
            why: "The security officer reviews the audit log, not PHI.",
        },
    ]
}
