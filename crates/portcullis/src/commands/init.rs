//! `portcullis init`: a new working directory with everything `serve` needs.

use std::path::Path;

use anyhow::{bail, Context as _, Result};
use portcullis_audit::{event_types, AuditEvent, Outcome};
use portcullis_core::config::Config;
use portcullis_core::{AccountKind, MasterKey, Role, RoleGrant, RoleId, RoleName, UserName};
use portcullis_store::accounts::NewAccount;
use serde_json::json;

use crate::cli::{InitArgs, OutputFormat};
use crate::context::{operator, Context};
use crate::files::{create_dir, write_new, PUBLIC_MODE, SECRET_MODE};
use crate::tls;

const CONFIG_FILE: &str = "portcullis.toml";
const CONFIG_TEMPLATE: &str = include_str!("../config_template.toml");
/// Role of the administrators created by `init`.
pub const ADMIN_ROLE: &str = "admin";

pub async fn run(args: &InitArgs, output: OutputFormat) -> Result<()> {
    let (config_path, created) = initialize(args).await?;
    print_admin(&config_path, &created, output)
}

/// Creates the working directory and the first admin; returns the configuration path
/// and the admin's one-time credentials.
pub async fn initialize(args: &InitArgs) -> Result<(std::path::PathBuf, CreatedAdmin)> {
    let admin_name = UserName::new(&args.admin)?;
    refuse_existing(&args.dir)?;
    create_layout(&args.dir)?;
    write_keys(&args.dir)?;
    write_tls(&args.dir, &args.tls_hosts)?;

    let config_text = CONFIG_TEMPLATE.replace("{api_listen}", &format!("127.0.0.1:{}", args.api_port));
    let config_path = args.dir.join(CONFIG_FILE);
    write_new(&config_path, config_text.as_bytes(), PUBLIC_MODE)?;

    let context = Context::load(&config_path)?;
    let created = create_admin(&context, admin_name).await?;
    Ok((config_path, created))
}

/// Refuses a directory that already holds any file.
fn refuse_existing(dir: &Path) -> Result<()> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                bail!(
                    "{} is not empty; init refuses to overwrite existing files. Choose a new or empty directory",
                    dir.display()
                );
            }
            Ok(())
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(error).with_context(|| format!("reading {}", dir.display())),
    }
}

fn create_layout(dir: &Path) -> Result<()> {
    create_dir(dir, 0o750)?;
    create_dir(&dir.join("keys"), 0o700)?;
    create_dir(&dir.join("tls"), 0o750)?;
    create_dir(&dir.join("state"), 0o700)?;
    create_dir(&dir.join("audit"), 0o700)?;
    Ok(())
}

fn write_keys(dir: &Path) -> Result<()> {
    let master_key = MasterKey::generate();
    let mut text = master_key.to_base64().expose().to_string();
    text.push('\n');
    write_new(&dir.join("keys/master.key"), text.as_bytes(), SECRET_MODE)?;

    let signing_key = portcullis_audit::generate_signing_key();
    portcullis_audit::write_signing_key(&dir.join("keys/audit-signing.pem"), &signing_key)?;
    portcullis_audit::write_verifying_key(&dir.join("keys/audit-verifying.pem"), &signing_key.verifying_key())?;
    Ok(())
}

fn write_tls(dir: &Path, hosts: &[String]) -> Result<()> {
    let generated = tls::generate(hosts)?;
    write_new(&dir.join("tls/ca.crt"), generated.ca_cert_pem.as_bytes(), PUBLIC_MODE)?;
    write_new(&dir.join("tls/server.crt"), generated.server_cert_pem.as_bytes(), PUBLIC_MODE)?;
    write_new(&dir.join("tls/server.key"), generated.server_key_pem.as_bytes(), SECRET_MODE)?;
    Ok(())
}

/// The first admin's identity and one-time credentials.
pub struct CreatedAdmin {
    pub user_id: String,
    pub name: String,
    pub one_time_password: String,
    pub totp_uri: String,
}

async fn create_admin(context: &Context, name: UserName) -> Result<CreatedAdmin> {
    let store = context.open_store().await?;
    let accounts = context.accounts(store.clone())?;
    let audit = context.open_audit().await?;
    let operator = operator();

    audit
        .append(
            AuditEvent::new(event_types::GATEWAY_INITIALIZED, "working directory created", Outcome::Success)
                .meta("operator", operator.clone())
                .meta("config_sha256", config_hash(&context.config)?),
        )
        .await?;

    let created = accounts
        .create_user(NewAccount {
            name: name.clone(),
            kind: AccountKind::Human,
            display_name: name.to_string(),
            department: None,
            job_role: Some("administrator".to_string()),
        })
        .await?;
    audit
        .append(
            AuditEvent::new(event_types::USER_CREATED, name.to_string(), Outcome::Success)
                .meta("user_id", created.user.id.to_string())
                .meta("operator", operator.clone()),
        )
        .await?;

    let now = time::OffsetDateTime::now_utc();
    let role = Role {
        id: RoleId::new_random(),
        name: RoleName::new(ADMIN_ROLE)?,
        description: "Administers Portcullis: users, roles, targets and policies".to_string(),
        created_at: now,
    };
    store.create_role(&role).await?;
    store
        .grant_role(&RoleGrant {
            user_id: created.user.id,
            role_id: role.id,
            granted_by: created.user.id,
            granted_at: now,
        })
        .await?;
    audit
        .append(
            AuditEvent::new(event_types::ROLE_GRANTED, format!("{ADMIN_ROLE} to {name}"), Outcome::Success)
                .meta("user_id", created.user.id.to_string())
                .meta("role", ADMIN_ROLE)
                .meta("operator", operator),
        )
        .await?;
    audit.shutdown().await?;
    store.close().await;

    Ok(CreatedAdmin {
        user_id: created.user.id.to_string(),
        name: name.to_string(),
        one_time_password: created.one_time_password.expose().to_string(),
        totp_uri: created.totp_uri.expose().to_string(),
    })
}

/// SHA-256 of the loaded configuration, so audit records name the settings in force.
pub fn config_hash(config: &Config) -> Result<String> {
    use sha2::Digest;
    let canonical = toml::to_string(config).context("serializing the configuration")?;
    Ok(hex::encode(sha2::Sha256::digest(canonical.as_bytes())))
}

fn print_admin(config_path: &Path, admin: &CreatedAdmin, output: OutputFormat) -> Result<()> {
    match output {
        OutputFormat::Json => {
            let value = json!({
                "config": config_path,
                "admin": {
                    "user": admin.name,
                    "user_id": admin.user_id,
                    "one_time_password": admin.one_time_password,
                    "totp_uri": admin.totp_uri,
                }
            });
            println!("{}", serde_json::to_string_pretty(&value)?);
        }
        OutputFormat::Table | OutputFormat::Csv => {
            println!("Created {}", config_path.display());
            println!();
            println!("Administrator {} ({})", admin.name, admin.user_id);
            println!("  one-time password: {}", admin.one_time_password);
            println!("  TOTP enrollment:   {}", admin.totp_uri);
            println!();
            println!("These are shown once. Add the TOTP URI to an authenticator app, then run");
            println!("  portcullis -c {} serve", config_path.display());
        }
    }
    Ok(())
}
