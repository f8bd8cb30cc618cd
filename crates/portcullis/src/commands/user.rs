//! `portcullis user add|list|show|disable|enable|reset-mfa`.

use anyhow::{anyhow, Context as _, Result};
use portcullis_audit::{event_types, AuditEvent, AuditLog, Outcome};
use portcullis_core::{AccountKind, User, UserName};
use portcullis_store::accounts::{Accounts, NewAccount};
use serde_json::json;

use crate::cli::{OutputFormat, UserAddArgs, UserCommand};
use crate::context::{operator, Context};
use crate::output::{print_table, rfc3339};

pub async fn run(context: &Context, command: &UserCommand, output: OutputFormat) -> Result<()> {
    let store = context.open_store().await?;
    let accounts = context.accounts(store.clone())?;
    match command {
        UserCommand::List => return list(&accounts, output).await,
        UserCommand::Show { name } => return show(&accounts, name, output).await,
        _ => {}
    }

    let audit = context.open_audit().await?;
    let result = match command {
        UserCommand::Add(args) => add(&accounts, &audit, args, output).await,
        UserCommand::Disable { name } => set_disabled(&accounts, &audit, name, true).await,
        UserCommand::Enable { name } => set_disabled(&accounts, &audit, name, false).await,
        UserCommand::Delete { name } => delete(&accounts, &audit, name).await,
        UserCommand::ResetMfa { name } => reset_mfa(&accounts, &audit, name, output).await,
        UserCommand::List | UserCommand::Show { .. } => Ok(()),
    };
    audit.shutdown().await?;
    result
}

/// Finds a user by name or fails with a message naming it.
pub async fn find_user(accounts: &Accounts, name: &str) -> Result<User> {
    let name = UserName::new(name)?;
    accounts
        .store()
        .get_user_by_name(&name)
        .await?
        .ok_or_else(|| anyhow!("no user named {name}; `portcullis user list` shows the users"))
}

async fn add(accounts: &Accounts, audit: &AuditLog, args: &UserAddArgs, output: OutputFormat) -> Result<()> {
    let name = UserName::new(&args.name)?;
    let kind = match (&args.owner, args.service) {
        (Some(owner), true) => AccountKind::Service {
            owner: find_user(accounts, owner).await?.id,
        },
        (None, true) => return Err(anyhow!("a service account needs --owner naming the person accountable for it")),
        (Some(_), false) => return Err(anyhow!("--owner applies only to service accounts; add --service")),
        (None, false) => AccountKind::Human,
    };
    let created = accounts
        .create_user(NewAccount {
            name: name.clone(),
            kind,
            display_name: args.display_name.clone().unwrap_or_else(|| name.to_string()),
            department: args.department.clone(),
            job_role: args.job_role.clone(),
        })
        .await
        .with_context(|| format!("creating user {name}"))?;
    let mut event = AuditEvent::new(event_types::USER_CREATED, name.to_string(), Outcome::Success)
        .meta("user_id", created.user.id.to_string())
        .meta("operator", operator());
    if let AccountKind::Service { owner } = kind {
        event = event.meta("service_owner", owner.to_string());
    }
    audit.append(event).await?;

    let password = created.one_time_password.expose();
    let uri = created.totp_uri.expose();
    match output {
        OutputFormat::Json => println!(
            "{}",
            json!({"user": name.as_str(), "user_id": created.user.id, "one_time_password": password, "totp_uri": uri})
        ),
        OutputFormat::Table | OutputFormat::Csv => {
            println!("Created user {name} ({})", created.user.id);
            println!("  one-time password: {password}");
            println!("  TOTP enrollment:   {uri}");
            println!("Shown once: hand both to the user over a trusted channel.");
        }
    }
    Ok(())
}

async fn set_disabled(accounts: &Accounts, audit: &AuditLog, name: &str, disabled: bool) -> Result<()> {
    let user = find_user(accounts, name).await?;
    let (event_type, verb) = if disabled {
        (event_types::USER_DISABLED, "disabled")
    } else {
        (event_types::USER_ENABLED, "enabled")
    };
    // The record comes first: a change that cannot be recorded is not made.
    audit
        .append(
            AuditEvent::new(event_type, user.name.to_string(), Outcome::Success)
                .meta("user_id", user.id.to_string())
                .meta("operator", operator()),
        )
        .await?;
    if disabled {
        let revoked = accounts.disable_user(user.id).await?;
        println!("User {} {verb}; {revoked} token(s) revoked", user.name);
    } else {
        accounts.enable_user(user.id).await?;
        println!("User {} {verb}", user.name);
    }
    Ok(())
}

async fn delete(accounts: &Accounts, audit: &AuditLog, name: &str) -> Result<()> {
    let user = find_user(accounts, name).await?;
    let store = accounts.store();
    let memberships = store.list_user_roles(user.id).await?;
    // The record comes first: a change that cannot be recorded is not made.
    audit
        .append(
            AuditEvent::new(event_types::USER_DELETED, user.name.to_string(), Outcome::Success)
                .meta("user_id", user.id.to_string())
                .meta("operator", operator())
                .meta(
                    "roles",
                    memberships.iter().map(|membership| membership.role.name.to_string()).collect::<Vec<_>>(),
                ),
        )
        .await?;
    // Disabling revokes the tokens and the active grants in one transaction, which
    // ends the user's live sessions through the revocation watcher.
    let revoked = accounts.disable_user(user.id).await?;
    for membership in &memberships {
        store.revoke_role(user.id, membership.role.id).await?;
    }
    println!(
        "User {} deleted: disabled, {revoked} token(s) revoked, {} standing role(s) removed",
        user.name,
        memberships.len()
    );
    Ok(())
}

async fn reset_mfa(accounts: &Accounts, audit: &AuditLog, name: &str, output: OutputFormat) -> Result<()> {
    let user = find_user(accounts, name).await?;
    audit
        .append(
            AuditEvent::new(event_types::USER_MFA_RESET, user.name.to_string(), Outcome::Success)
                .meta("user_id", user.id.to_string())
                .meta("operator", operator()),
        )
        .await?;
    let uri = accounts.reset_mfa(user.id).await?;
    match output {
        OutputFormat::Json => println!("{}", json!({"user": user.name.as_str(), "totp_uri": uri.expose()})),
        OutputFormat::Table | OutputFormat::Csv => {
            println!("New TOTP enrollment for {}: {}", user.name, uri.expose());
            println!("Shown once; the previous authenticator entry no longer works.");
        }
    }
    Ok(())
}

async fn list(accounts: &Accounts, output: OutputFormat) -> Result<()> {
    let users = accounts.store().list_users().await?;
    if output == OutputFormat::Json {
        for user in &users {
            println!("{}", user_json(user));
        }
        return Ok(());
    }
    let rows = users
        .iter()
        .map(|user| {
            vec![
                user.name.to_string(),
                kind_label(user),
                if user.disabled { "disabled" } else { "active" }.to_string(),
                if user.mfa.is_enrolled() { "totp" } else { "none" }.to_string(),
                user.department.clone().unwrap_or_default(),
                user.id.to_string(),
            ]
        })
        .collect();
    print_table(&["NAME", "KIND", "STATE", "MFA", "DEPARTMENT", "ID"], rows);
    Ok(())
}

async fn show(accounts: &Accounts, name: &str, output: OutputFormat) -> Result<()> {
    let user = find_user(accounts, name).await?;
    let roles = accounts.store().list_user_roles(user.id).await?;
    let role_names: Vec<String> = roles.iter().map(|membership| membership.role.name.to_string()).collect();
    if output == OutputFormat::Json {
        let mut value = user_json(&user);
        value["roles"] = json!(role_names);
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    println!("name:        {}", user.name);
    println!("id:          {}", user.id);
    println!("kind:        {}", kind_label(&user));
    println!("display:     {}", user.display_name);
    println!("department:  {}", user.department.as_deref().unwrap_or("-"));
    println!("job role:    {}", user.job_role.as_deref().unwrap_or("-"));
    println!("state:       {}", if user.disabled { "disabled" } else { "active" });
    println!("mfa:         {}", if user.mfa.is_enrolled() { "totp" } else { "none" });
    println!("created:     {}", rfc3339(user.created_at));
    println!("roles:       {}", if role_names.is_empty() { "-".to_string() } else { role_names.join(", ") });
    Ok(())
}

fn kind_label(user: &User) -> String {
    match user.kind {
        AccountKind::Human => "human".to_string(),
        AccountKind::Service { owner } => format!("service (owner {owner})"),
    }
}

fn user_json(user: &User) -> serde_json::Value {
    serde_json::to_value(user).unwrap_or_else(|_| json!({"name": user.name.as_str()}))
}
