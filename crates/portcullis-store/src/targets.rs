//! Target databases with upstream passwords that only the gateway can read.
//!
//! [`Targets`] seals each password with the master key's target-credentials sub-key
//! before it reaches the [`Store`], so the store and its backups contain no plaintext
//! password. The sealed value is bound to the target's id and fails to open when
//! copied to another target.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use portcullis_core::keys::labels;
use portcullis_core::{
    Clock, KeyError, MasterKey, SecretString, Target, TargetId, TargetName, TargetTls, UserId,
};

use crate::error::StoreError;
use crate::store::{Store, StoredTarget};

/// A target to create, with its upstream password in plaintext.
#[derive(Debug, Clone)]
pub struct NewTarget {
    /// Unique name; clients send it as the PostgreSQL database name.
    pub name: TargetName,
    /// Host name or IP address of the server.
    pub host: String,
    /// TCP port of the server, 1 to 65535.
    pub port: u16,
    /// Database name on the server.
    pub database: String,
    /// Role the gateway logs in as.
    pub user: String,
    /// Password of that role.
    pub password: SecretString,
    /// TLS towards the server.
    pub tls: TargetTls,
    /// Idle timeout of sessions on this target; positive, kept in whole seconds
    /// (rounded up).
    pub idle_timeout: Option<Duration>,
}

/// A target with its opened upstream password, for connecting to it.
#[derive(Clone)]
pub struct TargetCredentials {
    /// The target.
    pub target: Target,
    /// Password of the target's upstream user.
    pub password: SecretString,
}

impl fmt::Debug for TargetCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TargetCredentials")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

/// Errors of the target operations. Messages never contain the password.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// A field of a new target is unusable.
    #[error("invalid target `{name}`: {field} {problem}")]
    Invalid {
        /// Target name.
        name: String,
        /// Field name, such as `"port"`.
        field: &'static str,
        /// The problem and the fix.
        problem: &'static str,
    },
    /// The stored password cannot be opened with this gateway's master key.
    #[error(
        "the stored password of target `{name}` cannot be read: {detail}; \
         create the target again if the master key was replaced"
    )]
    PasswordUnreadable {
        /// Target name.
        name: String,
        /// Cause, without the password.
        detail: String,
    },
    /// The store failed or rejected the change.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The target operations; cheap to share behind an `Arc`.
pub struct Targets {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    key: MasterKey,
}

impl Targets {
    /// Creates the operations over `store`, deriving the sealing key from `master_key`.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, master_key: &MasterKey) -> Targets {
        Targets {
            store,
            clock,
            key: master_key.derive(labels::TARGET_CREDENTIALS),
        }
    }

    /// Checks and stores a new target with its password sealed. Fails with
    /// [`StoreError::Duplicate`] (inside [`TargetError::Store`]) if the name is taken.
    pub async fn create(
        &self,
        new: NewTarget,
        created_by: Option<UserId>,
    ) -> Result<Target, TargetError> {
        validate(&new)?;
        let target = Target {
            id: TargetId::new_random(),
            name: new.name,
            host: new.host,
            port: new.port,
            database: new.database,
            user: new.user,
            tls: new.tls,
            idle_timeout: new.idle_timeout,
            created_at: self.clock.now(),
            created_by,
        };
        let password_sealed = self
            .key
            .seal(new.password.expose().as_bytes(), target.id.0.as_bytes());
        let stored = StoredTarget {
            target,
            password_sealed,
        };
        self.store.create_target(&stored).await?;
        Ok(stored.target)
    }

    /// Reads a target and opens its password, or returns `None` for an unknown name.
    pub async fn credentials(
        &self,
        name: &TargetName,
    ) -> Result<Option<TargetCredentials>, TargetError> {
        let Some(stored) = self.store.get_target_by_name(name).await? else {
            return Ok(None);
        };
        let password = self.open_password(&stored)?;
        Ok(Some(TargetCredentials {
            target: stored.target,
            password,
        }))
    }

    /// Lists all targets, ordered by name, without their passwords.
    pub async fn list(&self) -> Result<Vec<Target>, TargetError> {
        Ok(self.store.list_targets().await?)
    }

    /// Deletes a target; returns `false` if no target has this name.
    pub async fn remove(&self, name: &TargetName) -> Result<bool, TargetError> {
        Ok(self.store.remove_target(name).await?)
    }

    fn open_password(&self, stored: &StoredTarget) -> Result<SecretString, TargetError> {
        let unreadable = |detail: String| TargetError::PasswordUnreadable {
            name: stored.target.name.to_string(),
            detail,
        };
        let opened = self
            .key
            .open(&stored.password_sealed, stored.target.id.0.as_bytes())
            .map_err(|error: KeyError| unreadable(error.to_string()))?;
        let text = std::str::from_utf8(&opened)
            .map_err(|_| unreadable("the opened password is not valid UTF-8".to_owned()))?;
        Ok(SecretString::new(text.to_owned()))
    }
}

/// Rejects fields that could never reach a server, so the mistake shows at creation
/// rather than at the first connection.
fn validate(new: &NewTarget) -> Result<(), TargetError> {
    let invalid = |field, problem| TargetError::Invalid {
        name: new.name.to_string(),
        field,
        problem,
    };
    if new.host.trim().is_empty() {
        return Err(invalid("host", "is empty; give a host name or IP address"));
    }
    if new.port == 0 {
        return Err(invalid("port", "is 0; give a port from 1 to 65535"));
    }
    if new.database.is_empty() {
        return Err(invalid(
            "database",
            "is empty; give the database name on the server",
        ));
    }
    if new.user.is_empty() {
        return Err(invalid(
            "user",
            "is empty; give the role the gateway logs in as",
        ));
    }
    if new.idle_timeout.is_some_and(|timeout| timeout.is_zero()) {
        return Err(invalid(
            "idle_timeout",
            "is zero; give a positive duration or none",
        ));
    }
    Ok(())
}
