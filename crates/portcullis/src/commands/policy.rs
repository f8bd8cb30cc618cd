//! `portcullis policy check|explain`.

use std::process::ExitCode;

use anyhow::{anyhow, bail, Context as _, Result};
use portcullis_core::UserName;
use portcullis_policy::{Principal, RequestContext};
use portcullis_sql::AnalysisContext;

use crate::cli::{OutputFormat, PolicyCommand};
use crate::context::Context;
use crate::gateway::policy_runtime::PolicyRuntime;

pub async fn run(context: &Context, command: &PolicyCommand, output: OutputFormat) -> Result<ExitCode> {
    match command {
        PolicyCommand::Check { dir } => check(context, dir.as_deref(), output).await,
        PolicyCommand::Explain { user, target, sql } => explain(context, user, target, sql, output).await,
    }
}

async fn load(context: &Context, dir: Option<&std::path::Path>) -> Result<PolicyRuntime> {
    let mut config = context.config.clone();
    if let Some(dir) = dir {
        config.policy.dir = Some(dir.to_path_buf());
    }
    if config.policy.dir.is_none() {
        bail!("no policy directory: set policy.dir in the configuration or pass --dir");
    }
    let runtime = crate::gateway::load_policy(&config, &context.master_key)
        .await?
        .ok_or_else(|| anyhow!("no policy directory configured"))?;
    Arc::try_unwrap(runtime).map_err(|_| anyhow!("the policy engine is shared unexpectedly"))
}

use std::sync::Arc;

async fn check(context: &Context, dir: Option<&std::path::Path>, output: OutputFormat) -> Result<ExitCode> {
    match load(context, dir).await {
        Ok(runtime) => {
            let hash = runtime.engine.policy_hash();
            match output {
                OutputFormat::Json => println!("{}", serde_json::json!({"valid": true, "policy_sha256": hash})),
                OutputFormat::Table => println!("policies valid; policy set SHA-256 {hash}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            match output {
                OutputFormat::Json => println!("{}", serde_json::json!({"valid": false, "error": format!("{error:#}")})),
                OutputFormat::Table => eprintln!("policies invalid: {error:#}"),
            }
            Ok(ExitCode::from(1))
        }
    }
}

async fn explain(context: &Context, user: &str, target: &str, sql: &str, output: OutputFormat) -> Result<ExitCode> {
    let runtime = load(context, None).await?;
    let store = context.open_store().await?;
    let name = UserName::new(user)?;
    let account = store
        .get_user_by_name(&name)
        .await?
        .ok_or_else(|| anyhow!("no user named {name}; `portcullis user list` shows the users"))?;
    let roles = store.list_user_roles(account.id).await?;
    let principal = Principal {
        user: account.name.to_string(),
        department: account.department.clone().unwrap_or_default(),
        job_role: account.job_role.clone().unwrap_or_default(),
        roles: roles.iter().map(|membership| membership.role.name.to_string()).collect(),
    };
    let catalog = runtime
        .catalog(target)
        .ok_or_else(|| anyhow!("no target named {target} with loaded tables"))?;
    let mut session = runtime
        .engine
        .session(principal, target)
        .with_context(|| format!("starting a policy session for {user} on {target}"))?;
    let request = RequestContext {
        now: time::OffsetDateTime::now_utc().unix_timestamp(),
        client_ip: std::net::IpAddr::from([127, 0, 0, 1]),
        session_id: "explain".to_string(),
        via_jit: false,
        via_break_glass: false,
        mfa_age_seconds: 0,
    };
    let analysis = AnalysisContext::new(catalog, vec![user.to_string(), "public".to_string()]);
    let explanation = session.explain(sql, &analysis, &request);
    match output {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&explanation)?),
        OutputFormat::Table => print!("{explanation}"),
    }
    Ok(ExitCode::SUCCESS)
}
