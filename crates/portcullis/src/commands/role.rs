//! `portcullis role add|list|grant|revoke`.

use anyhow::{anyhow, bail, Result};
use portcullis_alert::{Alert, AlertKind, Severity};
use portcullis_audit::{event_types, AuditEvent, Outcome};
use portcullis_core::{Role, RoleGrant, RoleId, RoleName, User, UserId};
use portcullis_store::Store;

use crate::cli::{OutputFormat, RoleCommand};
use crate::commands::alerting;
use crate::commands::init::ADMIN_ROLE;
use crate::commands::user::find_user;
use crate::context::{operator, Context};
use crate::output::print_table;

pub async fn run(context: &Context, command: &RoleCommand, output: OutputFormat) -> Result<()> {
    let store = context.open_store().await?;
    if let RoleCommand::List = command {
        return list(store.as_ref(), output).await;
    }
    let accounts = context.accounts(store.clone())?;
    let audit = context.open_audit().await?;
    let alerts = alerting::start(&context.config, Some(&audit))?;
    let operator = operator();

    let result = async {
        match command {
            RoleCommand::Add { name, description } => {
                let role = Role {
                    id: RoleId::new_random(),
                    name: RoleName::new(name)?,
                    description: description.clone(),
                    created_at: time::OffsetDateTime::now_utc(),
                };
                audit
                    .append(
                        AuditEvent::new(event_types::ROLE_CREATED, role.name.to_string(), Outcome::Success)
                            .meta("role_id", role.id.to_string())
                            .meta("operator", operator.clone()),
                    )
                    .await?;
                store.create_role(&role).await?;
                println!("Created role {}", role.name);
            }
            RoleCommand::Grant { role, user, granted_by } => {
                let role = find_role(store.as_ref(), role).await?;
                let user = find_user(&accounts, user).await?;
                let admin = find_user(&accounts, granted_by).await?;
                check_grantor(store.as_ref(), &admin, &user, &role).await?;
                if holds_role(store.as_ref(), &user, &role).await? {
                    println!("{} already holds role {}", user.name, role.name);
                    return Ok(());
                }
                audit
                    .append(
                        AuditEvent::new(event_types::ROLE_GRANTED, format!("{} to {}", role.name, user.name), Outcome::Success)
                            .meta("user_id", user.id.to_string())
                            .meta("role", role.name.to_string())
                            .meta("operator", operator.clone())
                            .actor(admin.id.0),
                    )
                    .await?;
                let grant = RoleGrant {
                    user_id: user.id,
                    role_id: role.id,
                    granted_by: admin.id,
                    granted_at: time::OffsetDateTime::now_utc(),
                };
                if store.grant_role(&grant).await? {
                    println!("Granted role {} to {}", role.name, user.name);
                    alerts.raise(role_granted_alert(context, &role, &user, &admin)).await?;
                } else {
                    println!("{} already holds role {}", user.name, role.name);
                }
            }
            RoleCommand::Revoke { role, user } => {
                let role = find_role(store.as_ref(), role).await?;
                let user = find_user(&accounts, user).await?;
                if !holds_role(store.as_ref(), &user, &role).await? {
                    bail!("{} does not hold role {}", user.name, role.name);
                }
                audit
                    .append(
                        AuditEvent::new(event_types::ROLE_REVOKED, format!("{} from {}", role.name, user.name), Outcome::Success)
                            .meta("user_id", user.id.to_string())
                            .meta("role", role.name.to_string())
                            .meta("operator", operator.clone()),
                    )
                    .await?;
                if !store.revoke_role(user.id, role.id).await? {
                    bail!("{} does not hold role {}", user.name, role.name);
                }
                println!("Revoked role {} from {}", role.name, user.name);
            }
            RoleCommand::List => {}
        }
        Ok::<(), anyhow::Error>(())
    }
    .await;
    alerting::flush(&alerts).await;
    audit.shutdown().await?;
    result
}

/// A warning, or a critical alert when the role is one of `alerts.admin_roles`.
fn role_granted_alert(context: &Context, role: &Role, user: &portcullis_core::User, admin: &portcullis_core::User) -> Alert {
    let is_admin_role = context.config.alerts.admin_roles.iter().any(|name| name == role.name.as_str());
    let (kind, severity) = if is_admin_role {
        (AlertKind::AdminRoleGranted, Severity::Critical)
    } else {
        (AlertKind::RoleGranted, Severity::Warning)
    };
    Alert::new(kind, severity, user.name.to_string())
        .detail("role", role.name.to_string())
        .detail("granted_by", admin.name.to_string())
        .detail("operator", operator())
}

/// Checks the administrator named by `role grant --by`, who must be an enabled
/// member of the admin role other than the grantee. The one exception starts a
/// store without administrators, such as a new PostgreSQL store. While no enabled
/// user is a member of the admin role, a user may grant that role to themselves.
async fn check_grantor(store: &dyn Store, admin: &User, grantee: &User, role: &Role) -> Result<()> {
    let admins = enabled_admins(store).await?;
    if admins.is_empty() && role.name.as_str() == ADMIN_ROLE && admin.id == grantee.id && !admin.disabled {
        return Ok(());
    }
    if admin.disabled {
        bail!("user {} is disabled and cannot grant roles; name an enabled administrator with --by", admin.name);
    }
    if !admins.iter().any(|id| *id == admin.id) {
        bail!(
            "user {} does not hold role {ADMIN_ROLE} and cannot grant roles; name an administrator with --by \
             (`portcullis role list` shows the members of {ADMIN_ROLE})",
            admin.name
        );
    }
    if admin.id == grantee.id {
        bail!("user {} cannot grant a role to themselves; another administrator must grant it with --by", admin.name);
    }
    Ok(())
}

/// Returns the ids of the enabled users who hold the admin role.
async fn enabled_admins(store: &dyn Store) -> Result<Vec<UserId>> {
    let Some(role) = store.get_role_by_name(&RoleName::new(ADMIN_ROLE)?).await? else {
        return Ok(Vec::new());
    };
    let members = store.list_role_members(role.id).await?;
    Ok(members
        .iter()
        .filter(|member| !member.user.disabled)
        .map(|member| member.user.id)
        .collect())
}

async fn holds_role(store: &dyn Store, user: &portcullis_core::User, role: &Role) -> Result<bool> {
    let memberships = store.list_user_roles(user.id).await?;
    Ok(memberships.iter().any(|membership| membership.role.id == role.id))
}

async fn find_role(store: &dyn Store, name: &str) -> Result<Role> {
    let name = RoleName::new(name)?;
    store
        .get_role_by_name(&name)
        .await?
        .ok_or_else(|| anyhow!("no role named {name}; `portcullis role list` shows the roles"))
}

async fn list(store: &dyn Store, output: OutputFormat) -> Result<()> {
    let roles = store.list_roles().await?;
    let mut rows = Vec::new();
    for role in &roles {
        let members = store.list_role_members(role.id).await?;
        let names: Vec<String> = members.iter().map(|member| member.user.name.to_string()).collect();
        if output == OutputFormat::Json {
            println!(
                "{}",
                serde_json::json!({"role": role.name.as_str(), "description": role.description, "members": names})
            );
        } else {
            rows.push(vec![role.name.to_string(), names.join(","), role.description.clone()]);
        }
    }
    if output == OutputFormat::Table {
        print_table(&["ROLE", "MEMBERS", "DESCRIPTION"], rows);
    }
    Ok(())
}
