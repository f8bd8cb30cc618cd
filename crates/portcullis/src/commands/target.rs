//! `portcullis target add|list|show|remove`.

use anyhow::{anyhow, bail, Context as _, Result};
use portcullis_audit::{event_types, AuditEvent, Outcome};
use std::sync::Arc;

use portcullis_core::target::{Target, TargetTls};
use portcullis_core::{SecretString, SystemClock, TargetName};
use portcullis_store::targets::{NewTarget, Targets};
use serde_json::json;
use zeroize::Zeroizing;

use crate::cli::{OutputFormat, TargetAddArgs, TargetCommand, TargetTlsArg};
use crate::context::{operator, Context};
use crate::output::print_table;

pub async fn run(context: &Context, command: &TargetCommand, output: OutputFormat) -> Result<()> {
    let store = context.open_store().await?;
    match command {
        TargetCommand::List => {
            let mut targets: Vec<serde_json::Value> = store
                .list_targets()
                .await?
                .iter()
                .map(|target| target_json(target, "store"))
                .collect();
            for (name, target) in &context.config.targets {
                targets.push(json!({
                    "name": name, "host": target.host, "port": target.port, "database": target.database,
                    "user": target.user, "tls": {"mode": format!("{:?}", target.tls).to_lowercase()}, "source": "config",
                }));
            }
            print_targets(&targets, output);
            Ok(())
        }
        TargetCommand::Show { name } => {
            let target = match context.config.targets.get(name) {
                Some(target) => serde_json::to_value(target)?,
                None => {
                    let name = TargetName::new(name)?;
                    let stored = store
                        .get_target_by_name(&name)
                        .await?
                        .ok_or_else(|| anyhow!("no target named {name}; `portcullis target list` shows the targets"))?;
                    target_json(&stored.target, "store")
                }
            };
            println!("{}", serde_json::to_string_pretty(&target)?);
            Ok(())
        }
        TargetCommand::Add(args) => {
            let audit = context.open_audit().await?;
            let result = add(context, store.clone(), &audit, args).await;
            audit.shutdown().await?;
            result
        }
        TargetCommand::Remove { name } => {
            let name = TargetName::new(name)?;
            let audit = context.open_audit().await?;
            audit
                .append(
                    AuditEvent::new(event_types::TARGET_REMOVED, name.to_string(), Outcome::Success)
                        .target(name.to_string())
                        .meta("operator", operator()),
                )
                .await?;
            audit.shutdown().await?;
            if !store.remove_target(&name).await? {
                bail!("no target named {name} in the store");
            }
            println!("Removed target {name}");
            Ok(())
        }
    }
}

async fn add(
    context: &Context,
    store: Arc<dyn portcullis_store::Store>,
    audit: &portcullis_audit::AuditLog,
    args: &TargetAddArgs,
) -> Result<()> {
    let name = TargetName::new(&args.name)?;
    if context.config.targets.contains_key(name.as_str()) {
        bail!("target {name} is already defined in the configuration file");
    }
    let password = read_password(args)?;
    let tls = match (args.tls, &args.ca_file) {
        (TargetTlsArg::Disable, _) => TargetTls::Disable,
        (TargetTlsArg::Require, _) => TargetTls::Require,
        (TargetTlsArg::VerifyFull, Some(ca_file)) => TargetTls::VerifyFull { ca_file: ca_file.clone() },
        (TargetTlsArg::VerifyFull, None) => {
            bail!("--tls verify-full needs --ca-file to check the server certificate; or pass --tls require")
        }
    };
    let target = NewTarget {
        name: name.clone(),
        host: args.host.clone(),
        port: args.port,
        database: args.database.clone(),
        user: args.user.clone(),
        password: SecretString::new(password.to_string()),
        tls,
        idle_timeout: args.idle_timeout,
    };
    audit
        .append(
            AuditEvent::new(event_types::TARGET_ADDED, name.to_string(), Outcome::Success)
                .target(name.to_string())
                .meta("host", args.host.clone())
                .meta("database", args.database.clone())
                .meta("upstream_user", args.user.clone())
                .meta("tls", target.tls.mode_name())
                .meta("operator", operator()),
        )
        .await?;
    Targets::new(store, Arc::new(SystemClock), &context.master_key)
        .create(target, None)
        .await
        .with_context(|| format!("adding target {name}"))?;
    println!("Added target {name}");
    Ok(())
}

fn read_password(args: &TargetAddArgs) -> Result<Zeroizing<String>> {
    if let Some(variable) = &args.password_env {
        return std::env::var(variable)
            .map(Zeroizing::new)
            .with_context(|| format!("environment variable {variable} (--password-env) is not set"));
    }
    if let Some(path) = &args.password_file {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        return Ok(Zeroizing::new(text.trim_end_matches(['\r', '\n']).to_string()));
    }
    bail!("give the upstream password with --password-env VAR or --password-file FILE")
}

fn target_json(target: &Target, source: &str) -> serde_json::Value {
    let mut value = serde_json::to_value(target).unwrap_or_else(|_| json!({"name": target.name.as_str()}));
    value["source"] = json!(source);
    value
}

fn print_targets(targets: &[serde_json::Value], output: OutputFormat) {
    if output == OutputFormat::Json {
        for target in targets {
            println!("{target}");
        }
        return;
    }
    let text = |value: &serde_json::Value| match value {
        serde_json::Value::String(text) => text.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    };
    let rows = targets
        .iter()
        .map(|target| {
            vec![
                text(&target["name"]),
                format!("{}:{}", text(&target["host"]), text(&target["port"])),
                text(&target["database"]),
                text(&target["user"]),
                text(&target["tls"]["mode"]),
                text(&target["source"]),
            ]
        })
        .collect();
    print_table(&["NAME", "ADDRESS", "DATABASE", "USER", "TLS", "SOURCE"], rows);
}
