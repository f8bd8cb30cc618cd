//! The access lifecycle steps of the scenario: a just-in-time request, its approval, a
//! session that outlives its grant, break-glass with its alert, and the post-incident
//! review. Each runs the same `portcullis` commands a person would.

use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::environment::TARGET;
use super::personas::{self, Access};
use super::scenario::{first_error_line, psql_command, Outcome, Story};

/// How long after the grant's end the demo waits for the gateway to end the session.
const SESSION_END_LIMIT: Duration = Duration::from_secs(5);

/// One access lifecycle step.
pub enum Lifecycle {
    /// The persona requests their just-in-time role on the demo target.
    RequestAccess { duration: &'static str, reason: &'static str },
    /// The persona approves the request the previous request step created.
    ApproveRequest,
    /// The persona runs `statements` in one session that is still open when the grant
    /// ends; the gateway must end it with a FATAL error.
    OutliveGrant { statements: &'static [&'static str] },
    /// The persona self-grants their emergency role with password and a fresh TOTP code.
    BreakGlass { reason: &'static str },
    /// The persona lists the open break-glass reviews.
    ReportReviews,
    /// The persona closes the review the break-glass step opened.
    CloseReview { notes: &'static str },
}

impl Lifecycle {
    pub fn run(&self, story: &mut Story<'_>, persona: &str) -> Result<Outcome> {
        match self {
            Lifecycle::RequestAccess { duration, reason } => request_access(story, persona, duration, reason),
            Lifecycle::ApproveRequest => approve_request(story, persona),
            Lifecycle::OutliveGrant { statements } => outlive_grant(story, persona, statements),
            Lifecycle::BreakGlass { reason } => break_glass(story, persona, reason),
            Lifecycle::ReportReviews => report_reviews(story),
            Lifecycle::CloseReview { notes } => close_review(story, persona, notes),
        }
    }
}

fn request_access(story: &mut Story<'_>, persona: &str, duration: &str, reason: &str) -> Result<Outcome> {
    let cast = personas::persona(persona)?;
    let Access::JustInTime { approvers } = cast.access else {
        bail!("{persona} has no role to request");
    };
    let args = ["request", "create", "--role", cast.role, "--target", TARGET, "--for", duration, "--reason", reason];
    show_command(&args);
    let view = portcullis_json(story, &args, &[("PORTCULLIS_TOKEN", &story.token(persona)?)])?;
    expect_text(&view, "state", "pending")?;
    let id = text(&view, "id")?;
    story.request_id = Some(id.clone());
    Ok(Outcome {
        verdict: "recorded the request, pending approval".to_string(),
        details: vec![format!(
            "request {id}: role {} on {TARGET} for {duration}, needs {} from role {approvers}",
            cast.role,
            approvals(&view["approvals_required"])
        )],
    })
}

fn approve_request(story: &mut Story<'_>, persona: &str) -> Result<Outcome> {
    let id = story.request_id.clone().context("no earlier step created a request")?;
    let args = ["request", "approve", id.as_str()];
    show_command(&args);
    let view = portcullis_json(story, &args, &[("PORTCULLIS_TOKEN", &story.token(persona)?)])?;
    expect_text(&view, "state", "approved")?;
    let grant = &view["grant"];
    let ends_at = time_field(grant, "ends_at")?;
    story.grant_ends_at = Some(ends_at);
    let alert = story.alerts.verified("access_request_approved")?;
    Ok(Outcome {
        verdict: "approved; the grant starts now".to_string(),
        details: vec![
            format!("grant {}: role {} on {TARGET} for {}, until {}", text(grant, "id")?, text(grant, "role")?, text(&view, "requester")?, clock(ends_at)),
            delivered(story, &alert),
        ],
    })
}

fn outlive_grant(story: &mut Story<'_>, persona: &str, statements: &[&str]) -> Result<Outcome> {
    let ends_at = story.grant_ends_at.context("no earlier step approved a grant")?;
    let mut command = psql_command(story.gateway, persona, &story.token(persona)?);
    for sql in statements {
        println!("      sql: {sql}");
        command.args(["-c", sql]);
    }
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().context("starting psql")?;
    let started = Instant::now();
    let limit = duration_until(ends_at) + SESSION_END_LIMIT;
    while child.try_wait()?.is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            bail!("the session was still open {} s after the grant ended at {}", SESSION_END_LIMIT.as_secs(), clock(ends_at));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let ended_at = OffsetDateTime::now_utc();
    let output = child.wait_with_output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);

    let Some(first_tag) = stdout.lines().next().filter(|line| !line.trim().is_empty()) else {
        bail!("the first statement did not run: {}", first_error_line(&stderr));
    };
    if ended_at < ends_at {
        bail!("the session ended before the grant did: {}", first_error_line(&stderr));
    }
    let fatal = stderr.lines().find(|line| line.contains("FATAL")).with_context(|| format!("psql reported no FATAL error: {}", first_error_line(&stderr)))?;
    if !fatal.contains("expired at") {
        bail!("the FATAL message does not say that the grant expired: {fatal}");
    }
    Ok(Outcome {
        verdict: "allowed while the grant lasted, then ended the session".to_string(),
        details: vec![
            first_tag.to_string(),
            fatal.trim().to_string(),
            format!("the session ended {:.2} s after the grant expired at {}", (ended_at - ends_at).as_seconds_f64(), clock(ends_at)),
        ],
    })
}

fn break_glass(story: &mut Story<'_>, persona: &str, reason: &str) -> Result<Outcome> {
    let credentials = story.credentials(persona)?;
    let code = personas::fresh_code(credentials)?;
    let args = ["break-glass", "--user", persona, "--target", TARGET, "--reason", reason, "--totp"];
    println!("      command: portcullis {} <fresh TOTP code>  (password from PORTCULLIS_PASSWORD)", quote(&args));
    let mut full = args.to_vec();
    full.push(&code);
    let issued = portcullis_json(story, &full, &[("PORTCULLIS_PASSWORD", credentials.password.as_str())])?;
    let grant = &issued["grant"];
    let review_id = text(&issued, "review_id")?;
    story.use_token(persona, text(&issued, "token")?);
    story.review_id = Some(review_id.clone());

    let alert = story.alerts.verified("break_glass_used")?;
    expect_text(&alert, "severity", "critical")?;
    expect_text(&alert, "subject", persona)?;
    if alert["details"]["review_id"] != review_id.as_str() {
        bail!("the break-glass alert names review {}, not {review_id}", alert["details"]["review_id"]);
    }
    Ok(Outcome {
        verdict: "granted emergency access".to_string(),
        details: vec![
            format!(
                "grant {}: role {} on {TARGET} until {}, with a new token valid as long as the grant",
                text(grant, "id")?,
                text(grant, "role")?,
                clock(time_field(grant, "ends_at")?)
            ),
            delivered(story, &alert),
            format!("post-incident review {review_id} is open"),
        ],
    })
}

fn report_reviews(story: &mut Story<'_>) -> Result<Outcome> {
    let review_id = story.review_id.clone().context("no earlier step opened a review")?;
    let args = ["access", "report"];
    show_command(&args);
    let table = portcullis_text(story, &args, &[])?;
    if !table.contains(&review_id) {
        bail!("access report does not list review {review_id}:\n{table}");
    }
    Ok(Outcome {
        verdict: "listed the open review".to_string(),
        details: table.lines().map(str::to_string).collect(),
    })
}

fn close_review(story: &mut Story<'_>, persona: &str, notes: &str) -> Result<Outcome> {
    let review_id = story.review_id.clone().context("no earlier step opened a review")?;
    let args = ["break-glass", "review", review_id.as_str(), "--notes", notes];
    show_command(&args);
    let review = portcullis_json(story, &args, &[("PORTCULLIS_TOKEN", &story.token(persona)?)])?;
    let open = portcullis_json(story, &["access", "report"], &[])?;
    let still_open = open.as_array().is_some_and(|reviews| reviews.iter().any(|open| open["review"]["id"] == review_id.as_str()));
    if still_open {
        bail!("access report still lists review {review_id} after it was closed");
    }
    Ok(Outcome {
        verdict: "closed the review".to_string(),
        details: vec![
            format!("review {review_id} closed by {persona} at {}", clock(time_field(&review, "reviewed_at")?)),
            "portcullis access report: no open reviews".to_string(),
        ],
    })
}

/// Runs `portcullis ARGS` against the demo gateway and returns its standard output.
fn portcullis_text(story: &Story<'_>, args: &[&str], env: &[(&str, &str)]) -> Result<String> {
    let output = story.gateway.command()?.args(args).envs(env.iter().copied()).output()?;
    if !output.status.success() {
        bail!("`portcullis {}` failed: {}", quote(args), String::from_utf8_lossy(&output.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Runs `portcullis --output json ARGS` and parses its output.
fn portcullis_json(story: &Story<'_>, args: &[&str], env: &[(&str, &str)]) -> Result<Value> {
    let mut full = vec!["--output", "json"];
    full.extend_from_slice(args);
    let stdout = portcullis_text(story, &full, env)?;
    serde_json::from_str(&stdout).with_context(|| format!("reading the JSON output of `portcullis {}`", quote(args)))
}

fn show_command(args: &[&str]) {
    println!("      command: portcullis {}", quote(args));
}

/// Joins arguments as a shell would need them, quoting those with spaces.
fn quote(args: &[&str]) -> String {
    let quoted: Vec<String> = args
        .iter()
        .map(|arg| if arg.contains(' ') { format!("\"{arg}\"") } else { (*arg).to_string() })
        .collect();
    quoted.join(" ")
}

fn delivered(story: &Story<'_>, alert: &Value) -> String {
    format!(
        "{} alert {} reached the webhook receiver at {}; its HMAC-SHA256 signature is valid",
        alert["severity"].as_str().unwrap_or("?"),
        alert["kind"].as_str().unwrap_or("?"),
        story.alerts.url
    )
}

fn approvals(count: &Value) -> String {
    match count.as_u64() {
        Some(1) => "1 approval".to_string(),
        _ => format!("{count} approvals"),
    }
}

fn text(value: &Value, key: &str) -> Result<String> {
    value[key].as_str().map(str::to_string).with_context(|| format!("the output has no `{key}`: {value}"))
}

fn expect_text(value: &Value, key: &str, expected: &str) -> Result<()> {
    if value[key] != expected {
        bail!("expected {key} {expected:?}, got {}", value[key]);
    }
    Ok(())
}

fn time_field(value: &Value, key: &str) -> Result<OffsetDateTime> {
    OffsetDateTime::parse(&text(value, key)?, &Rfc3339).with_context(|| format!("`{key}` is not an RFC 3339 time"))
}

fn duration_until(at: OffsetDateTime) -> Duration {
    Duration::try_from(at - OffsetDateTime::now_utc()).unwrap_or(Duration::ZERO)
}

/// Formats a time as `HH:MM:SS UTC` for the narrative.
fn clock(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!("{:02}:{:02}:{:02} UTC", at.hour(), at.minute(), at.second())
}
