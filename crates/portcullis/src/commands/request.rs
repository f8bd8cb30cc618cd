//! `portcullis request create|list|show|approve|deny|revoke`: just-in-time access
//! requests, acting as the user whose token is given, directly on the state store so
//! they work while the HTTP API is down.

use std::io::BufRead;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use portcullis_access::{AccessService, NewRequest, RequestView};
use portcullis_alert::Alerts;
use portcullis_audit::AuditLog;
use portcullis_core::{AccessRequestId, SystemClock};

use crate::cli::{OutputFormat, RequestArgs, RequestCommand};
use crate::commands::alerting;
use crate::context::Context;
use crate::output::{print_table, rfc3339};

/// Environment variable holding the acting user's token.
const TOKEN_ENV: &str = "PORTCULLIS_TOKEN";

/// The access flows with the audit log and alert sinks they write to, for one command.
pub struct AccessRun {
    pub service: AccessService,
    audit: AuditLog,
    alerts: Alerts,
}

impl AccessRun {
    /// Opens the store, the audit log and the alert sinks.
    pub async fn open(context: &Context) -> Result<AccessRun> {
        let store = context.open_store().await?;
        let accounts = Arc::new(context.accounts(store)?);
        let audit = context.open_audit().await?;
        let alerts = alerting::start(&context.config, Some(&audit))?;
        let service = AccessService::new(
            accounts,
            audit.clone(),
            alerts.clone(),
            Arc::new(SystemClock),
            context.config.access.clone(),
            context.config.break_glass.clone(),
        )
        .with_config_targets(context.config.targets.keys().cloned());
        Ok(AccessRun { service, audit, alerts })
    }

    /// Delivers pending alerts and closes the audit log.
    pub async fn finish(self) -> Result<()> {
        alerting::flush(&self.alerts).await;
        self.audit.shutdown().await.context("closing the audit log")
    }
}

pub async fn run(context: &Context, args: &RequestArgs, output: OutputFormat) -> Result<()> {
    let token = read_token(args.token_stdin)?;
    let run = AccessRun::open(context).await?;
    let result = execute(&run.service, &token, &args.command, output).await;
    let finished = run.finish().await;
    result.and(finished)
}

async fn execute(service: &AccessService, token: &str, command: &RequestCommand, output: OutputFormat) -> Result<()> {
    let actor = service.actor(token).await?;
    let view = match command {
        RequestCommand::Create(create) => {
            let new = NewRequest {
                role: create.role.clone(),
                target: create.target.clone(),
                duration: create.duration,
                reason: create.reason.clone(),
            };
            let request = service.create_request(&actor, new).await?;
            service.show_request(&actor, request.id).await?
        }
        RequestCommand::List => {
            let views = service.list_requests(&actor).await?;
            print_requests(&views, output);
            return Ok(());
        }
        RequestCommand::Show { id } => service.show_request(&actor, parse_id(id)?).await?,
        RequestCommand::Approve { id } => service.approve(&actor, parse_id(id)?).await?,
        RequestCommand::Deny { id } => service.deny(&actor, parse_id(id)?).await?,
        RequestCommand::Revoke { id } => service.revoke(&actor, parse_id(id)?).await?,
    };
    print_request(&view, output);
    Ok(())
}

fn parse_id(text: &str) -> Result<AccessRequestId> {
    text.parse()
        .with_context(|| format!("`{text}` is not a request id; `portcullis request list` shows the ids"))
}

/// Reads the acting user's token from standard input or [`TOKEN_ENV`].
pub fn read_token(from_stdin: bool) -> Result<String> {
    let token = if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).context("reading the token from standard input")?;
        line
    } else {
        std::env::var(TOKEN_ENV).with_context(|| format!("no token given: set {TOKEN_ENV} or pass --token-stdin"))?
    };
    Ok(token.trim().to_string())
}

fn print_requests(views: &[RequestView], output: OutputFormat) {
    if output == OutputFormat::Json {
        println!("{}", serde_json::to_string(views).unwrap_or_default());
        return;
    }
    let rows = views.iter().map(row).collect();
    print_table(&["ID", "STATE", "REQUESTER", "ROLE", "TARGET", "FOR", "APPROVALS", "ENDS"], rows);
}

fn print_request(view: &RequestView, output: OutputFormat) {
    if output == OutputFormat::Json {
        println!("{}", serde_json::to_string(view).unwrap_or_default());
        return;
    }
    print_table(&["ID", "STATE", "REQUESTER", "ROLE", "TARGET", "FOR", "APPROVALS", "ENDS"], vec![row(view)]);
    println!("reason: {}", crate::output::escape_controls(&view.request.reason));
}

fn row(view: &RequestView) -> Vec<String> {
    let request = &view.request;
    let approvals = view
        .decisions
        .iter()
        .filter(|decision| decision.decision.decision == portcullis_core::access::Decision::Approve)
        .count();
    let ends = match &view.grant {
        Some(grant) => rfc3339(grant.revoked_at.unwrap_or(grant.ends_at)),
        None if request.state == portcullis_core::access::RequestState::Pending => {
            format!("(request expires {})", rfc3339(request.expires_at))
        }
        None => "-".to_string(),
    };
    vec![
        request.id.to_string(),
        request.state.to_string(),
        view.requester.clone(),
        request.role.to_string(),
        request.target.clone().unwrap_or_else(|| "*".to_string()),
        humantime::format_duration(request.duration).to_string(),
        format!("{approvals}/{}", view.approvals_required),
        ends,
    ]
}
