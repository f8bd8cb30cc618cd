//! What most commands need: the configuration, the master key, the store, the account
//! flows and the audit log, each loaded from the paths the configuration names.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use portcullis_audit::{AuditConfig, AuditLog, PayloadKey, VerifyingKey};
use portcullis_core::config::{Config, MASTER_KEY_ENV};
use portcullis_core::{MasterKey, SystemClock};
use portcullis_store::accounts::{Accounts, AccountsConfig};
use portcullis_store::Store;

/// A loaded configuration with its master key.
pub struct Context {
    pub config: Config,
    pub master_key: MasterKey,
}

impl Context {
    /// Loads and validates the configuration file and reads the master key.
    pub fn load(path: &Path) -> Result<Context> {
        let config = Config::load(path)?;
        let master_key = load_master_key(&config)?;
        Ok(Context { config, master_key })
    }

    /// The public half of the audit signing key, from `keys.audit_verifying_key_file`,
    /// so an auditor can verify with a configuration and that file alone.
    pub fn verifying_key_of(config: &Config) -> Result<VerifyingKey> {
        let path = config.resolve(&config.keys.audit_verifying_key_file);
        portcullis_audit::load_verifying_key(&path)
            .with_context(|| format!("loading the audit verifying key {} (keys.audit_verifying_key_file)", path.display()))
    }

    /// Opens the state store and applies pending migrations.
    pub async fn open_store(&self) -> Result<Arc<dyn Store>> {
        let url = self.config.store_url();
        portcullis_store::open_store(&url)
            .await
            .context("opening the state store (store.url)")
    }

    /// Builds the account flows over `store`.
    pub fn accounts(&self, store: Arc<dyn Store>) -> Result<Accounts> {
        let config = AccountsConfig::from(&self.config.auth);
        Accounts::new(store, Arc::new(SystemClock), &self.master_key, config)
            .context("setting up the account flows")
    }

    /// Opens the audit log for appending.
    pub async fn open_audit(&self) -> Result<AuditLog> {
        let key_path = self.config.resolve(&self.config.keys.audit_signing_key_file);
        let signing_key = portcullis_audit::load_signing_key(&key_path)
            .with_context(|| format!("loading the audit signing key {}", key_path.display()))?;
        AuditLog::open(self.audit_config(), signing_key, self.payload_key())
            .await
            .context("opening the audit log")
    }

    /// The audit log's settings, with paths resolved.
    pub fn audit_config(&self) -> AuditConfig {
        let mut config = AuditConfig::new(self.config.resolve(&self.config.audit.dir));
        config.checkpoint_every = self.config.audit.checkpoint_every;
        config.checkpoint_interval = self.config.audit.checkpoint_interval;
        config
    }

    /// The key that encrypts audit payloads (statement text, parameters).
    pub fn payload_key(&self) -> PayloadKey {
        PayloadKey::derive(self.master_key.expose_bytes())
    }

}

/// Reads the master key from `PORTCULLIS_MASTER_KEY` or `keys.master_key_file`.
fn load_master_key(config: &Config) -> Result<MasterKey> {
    if let Ok(text) = std::env::var(MASTER_KEY_ENV) {
        return MasterKey::from_base64(text.trim())
            .with_context(|| format!("{MASTER_KEY_ENV} is not the base64 text of a 32-byte key"));
    }
    let path = config.resolve(&config.keys.master_key_file);
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "reading the master key {} (keys.master_key_file); set {MASTER_KEY_ENV} or fix the path",
            path.display()
        )
    })?;
    MasterKey::from_base64(text.trim())
        .with_context(|| format!("{} does not hold the base64 text of a 32-byte key", path.display()))
}

/// Who runs a local administrative command, for the audit record: the operating-system
/// account (and the one `sudo` was run from), since a local command has no gateway login.
///
/// The account comes from the process's real user id, which the caller cannot change
/// the way it can change `$USER`; `SUDO_USER` is added as a hint, since sudo sets it.
pub fn operator() -> String {
    let uid = nix::unistd::getuid();
    let name = nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map(|user| user.name)
        .unwrap_or_else(|| "unknown".to_string());
    match std::env::var("SUDO_USER") {
        Ok(sudo_user) => format!("os:{name} (uid {uid}, sudo from {sudo_user})"),
        Err(_) => format!("os:{name} (uid {uid})"),
    }
}
