//! `portcullis break-glass` (emergency self-grant), `portcullis break-glass review`
//! and `portcullis access report`. All of them work on the state store directly, so
//! they need neither the HTTP API nor any other system.

use std::io::{BufRead, IsTerminal, Write};
use std::net::{IpAddr, Ipv4Addr};

use anyhow::{bail, Context as _, Result};
use portcullis_access::{BreakGlassInput, OpenReview};
use portcullis_core::ReviewId;
use serde_json::json;

use crate::cli::{BreakGlassArgs, BreakGlassCommand, BreakGlassGrantArgs, BreakGlassReviewArgs, OutputFormat};
use crate::commands::request::{read_token, AccessRun};
use crate::context::Context;
use crate::output::{print_table, rfc3339};

/// Environment variable read for the password when no other source is given.
const PASSWORD_ENV: &str = "PORTCULLIS_PASSWORD";
/// Environment variable read for the TOTP code when `--totp` is not given.
const TOTP_ENV: &str = "PORTCULLIS_TOTP";

pub async fn run(context: &Context, args: &BreakGlassArgs, output: OutputFormat) -> Result<()> {
    match &args.command {
        Some(BreakGlassCommand::Review(review)) => close_review(context, review, output).await,
        None => grant(context, &args.grant, output).await,
    }
}

async fn grant(context: &Context, args: &BreakGlassGrantArgs, output: OutputFormat) -> Result<()> {
    let Some(user) = args.user.clone() else {
        bail!("--user is required: name the Portcullis user breaking the glass");
    };
    let Some(reason) = args.reason.clone() else {
        bail!("--reason is required: say why emergency access is needed");
    };
    let mut stdin = std::io::stdin().lock();
    let password = read_password(args.password_stdin, &mut stdin)?;
    let totp = match (&args.totp, std::env::var(TOTP_ENV)) {
        (Some(code), _) => code.clone(),
        (None, Ok(code)) => code,
        (None, Err(_)) => prompt("TOTP code: ", &mut stdin)?,
    };
    drop(stdin);

    let input = BreakGlassInput {
        user,
        password,
        totp,
        // The command runs on the gateway host; lockouts count it as a local address.
        source: IpAddr::V4(Ipv4Addr::LOCALHOST),
        role: args.role.clone(),
        target: args.target.clone(),
        duration: args.duration,
        reason,
    };
    let run = AccessRun::open(context).await?;
    let result = run.service.break_glass(input).await;
    let finished = run.finish().await;
    let issued = result?;
    finished?;

    let grant = &issued.grant;
    match output {
        OutputFormat::Json => println!(
            "{}",
            json!({
                "token": issued.token.token.expose(),
                "token_id": issued.token.record.id.to_string(),
                "user": issued.token.user.name.as_str(),
                "grant": grant,
                "review_id": issued.review.id.to_string(),
            })
        ),
        _ => {
            println!("{}", issued.token.token.expose());
            eprintln!(
                "Break-glass grant {} gives {} role {} on {} until {}. A critical alert was raised and review {} is open.",
                grant.id,
                issued.token.user.name,
                grant.role,
                grant.target.as_deref().unwrap_or("every target"),
                rfc3339(grant.ends_at),
                issued.review.id
            );
            eprintln!("Use the token above as the password of your database client.");
        }
    }
    Ok(())
}

async fn close_review(context: &Context, args: &BreakGlassReviewArgs, output: OutputFormat) -> Result<()> {
    let id: ReviewId = args
        .id
        .parse()
        .with_context(|| format!("`{}` is not a review id; `portcullis access report` lists them", args.id))?;
    let token = read_token(args.token_stdin)?;
    let run = AccessRun::open(context).await?;
    let result = async {
        let actor = run.service.actor(&token).await?;
        Ok::<_, anyhow::Error>(run.service.close_review(&actor, id, &args.notes).await?)
    }
    .await;
    let finished = run.finish().await;
    let review = result?;
    finished?;
    match output {
        OutputFormat::Json => println!("{}", serde_json::to_string(&review)?),
        _ => println!("Closed break-glass review {}", review.id),
    }
    Ok(())
}

/// `portcullis access report`: the open break-glass reviews.
pub async fn report(context: &Context, output: OutputFormat) -> Result<()> {
    let run = AccessRun::open(context).await?;
    let result = run.service.open_reviews().await;
    let finished = run.finish().await;
    let reviews = result?;
    finished?;
    print_reviews(&reviews, output)
}

fn print_reviews(reviews: &[OpenReview], output: OutputFormat) -> Result<()> {
    if output == OutputFormat::Json {
        println!("{}", serde_json::to_string(reviews)?);
        return Ok(());
    }
    let rows = reviews
        .iter()
        .map(|open| {
            vec![
                open.review.id.to_string(),
                rfc3339(open.review.opened_at),
                open.user.clone(),
                open.grant.role.to_string(),
                open.grant.target.clone().unwrap_or_else(|| "*".to_string()),
                rfc3339(open.grant.revoked_at.unwrap_or(open.grant.ends_at)),
                open.grant.reason.clone(),
            ]
        })
        .collect();
    print_table(&["REVIEW", "OPENED", "USER", "ROLE", "TARGET", "ENDS", "REASON"], rows);
    Ok(())
}

fn read_password(from_stdin: bool, stdin: &mut std::io::StdinLock<'_>) -> Result<String> {
    if from_stdin {
        return read_line(stdin);
    }
    if let Ok(password) = std::env::var(PASSWORD_ENV) {
        return Ok(password);
    }
    if !std::io::stdin().is_terminal() {
        bail!("no password given: use --password-stdin or set {PASSWORD_ENV}");
    }
    // Terminal echo is off while the password is typed, so it does not appear on screen.
    let echo_off = std::process::Command::new("stty").arg("-echo").status().is_ok_and(|status| status.success());
    let password = prompt("Password: ", stdin);
    if echo_off {
        let _ = std::process::Command::new("stty").arg("echo").status();
        eprintln!();
    }
    password
}

fn prompt(label: &str, stdin: &mut std::io::StdinLock<'_>) -> Result<String> {
    eprint!("{label}");
    std::io::stderr().flush().ok();
    read_line(stdin)
}

fn read_line(stdin: &mut std::io::StdinLock<'_>) -> Result<String> {
    let mut line = String::new();
    stdin.read_line(&mut line).context("reading standard input")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}
