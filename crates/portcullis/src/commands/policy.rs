//! `portcullis policy check|reload|explain`.

use std::process::ExitCode;

use anyhow::{anyhow, bail, Context as _, Result};
use portcullis_core::UserName;
use portcullis_policy::{Principal, RequestContext};
use portcullis_sql::AnalysisContext;

use crate::cli::{OutputFormat, PolicyCommand};
use crate::context::Context;
use crate::gateway::policy_reload::{record_policy_set_changed, POLICY_HASH_KEY};
use crate::gateway::policy_runtime::PolicyRuntime;

pub async fn run(context: &Context, command: &PolicyCommand, output: OutputFormat) -> Result<ExitCode> {
    match command {
        PolicyCommand::Check { dir } => check(context, dir.as_deref(), output).await,
        PolicyCommand::Reload => reload(context, output).await,
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
                OutputFormat::Table | OutputFormat::Csv => println!("policies valid; policy set SHA-256 {hash}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            match output {
                OutputFormat::Json => println!("{}", serde_json::json!({"valid": false, "error": format!("{error:#}")})),
                OutputFormat::Table | OutputFormat::Csv => eprintln!("policies invalid: {error:#}"),
            }
            Ok(ExitCode::from(1))
        }
    }
}

/// Validates `policy.dir` and records its hash for every `serve` instance (see
/// `gateway::policy_reload`).
async fn reload(context: &Context, output: OutputFormat) -> Result<ExitCode> {
    let runtime = match load(context, None).await {
        Ok(runtime) => runtime,
        Err(error) => {
            match output {
                OutputFormat::Json => println!("{}", serde_json::json!({"reloaded": false, "error": format!("{error:#}")})),
                OutputFormat::Table | OutputFormat::Csv => eprintln!("policy set rejected, the set in force stays: {error:#}"),
            }
            return Ok(ExitCode::from(1));
        }
    };
    let hash = runtime.engine.policy_hash();
    let store = context.open_store().await?;
    let previous = store
        .get_meta(POLICY_HASH_KEY)
        .await
        .context("reading the recorded policy set from the state store")?;
    let changed = previous.as_deref() != Some(hash.as_str());
    if changed {
        let audit = context.open_audit().await?;
        // The change is audited before any gateway can see it.
        record_policy_set_changed(&audit, previous.as_deref(), &hash, &crate::context::operator()).await?;
        crate::commands::alerting::raise_and_flush(context, &audit, policy_changed_alert(previous.as_deref(), &hash)).await?;
        audit.shutdown().await.context("closing the audit log")?;
        store
            .set_meta(POLICY_HASH_KEY, &hash)
            .await
            .context("recording the new policy set in the state store")?;
    }
    store.close().await;
    match output {
        OutputFormat::Json => println!(
            "{}",
            serde_json::json!({"reloaded": changed, "previous_sha256": previous, "policy_sha256": hash})
        ),
        OutputFormat::Table | OutputFormat::Csv if changed => println!(
            "policy set {hash} recorded; running gateways put it in force within about 1 s (previous: {})",
            previous.as_deref().unwrap_or("none recorded")
        ),
        OutputFormat::Table | OutputFormat::Csv => println!(
            "policy set {hash} is already the recorded set; a running gateway that enforces another set \
             loads its policy directory again within about 5 s"
        ),
    }
    Ok(ExitCode::SUCCESS)
}

fn policy_changed_alert(previous: Option<&str>, hash: &str) -> portcullis_alert::Alert {
    use portcullis_alert::{Alert, AlertKind, Severity};
    Alert::new(AlertKind::PolicySetChanged, Severity::Warning, crate::context::operator())
        .detail("policy_sha256", hash.to_owned())
        .detail("previous_sha256", previous.map(str::to_owned))
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
    let analysis = AnalysisContext::new(catalog, runtime.search_path(target));
    let explanation = session.explain(sql, &analysis, &request);
    match output {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&explanation)?),
        OutputFormat::Table | OutputFormat::Csv => print!("{explanation}"),
    }
    Ok(ExitCode::SUCCESS)
}
