//! Persistent state of Portcullis behind one [`Store`] trait, with a SQLite backend
//! (embedded, the default) and a PostgreSQL backend (several gateway instances sharing
//! state), plus the account flows in [`accounts`] and the target operations in
//! [`targets`] built on it. Nothing here depends on
//! a wire protocol.

pub mod accounts;
mod columns;
mod error;
mod migrations;
mod postgres;
mod scim;
mod sqlite;
mod store;
pub mod targets;

use std::path::Path;
use std::sync::Arc;

pub use error::{OwnerProblem, StoreError};
pub use postgres::PgStore;
pub use scim::{ScimGroup, ScimUserRecord};
pub use sqlite::SqliteStore;
pub use store::{
    Credentials, DecisionOutcome, NewUser, RoleMember, RoleMembership, Store, StoredTarget, TokenScramVerifier,
    UserScramVerifiers,
};

/// Opens the store at `location` and applies pending migrations.
///
/// `postgres://…` or `postgresql://…` selects PostgreSQL; `sqlite://PATH`,
/// `sqlite:PATH` or a plain file path selects SQLite. Other `scheme://` prefixes are
/// rejected.
pub async fn open_store(location: &str) -> Result<Arc<dyn Store>, StoreError> {
    if location.starts_with("postgres://") || location.starts_with("postgresql://") {
        return Ok(Arc::new(PgStore::connect(location).await?));
    }
    let path = sqlite_path(location)?;
    Ok(Arc::new(SqliteStore::open(Path::new(path)).await?))
}

fn sqlite_path(location: &str) -> Result<&str, StoreError> {
    let path = location
        .strip_prefix("sqlite://")
        .or_else(|| location.strip_prefix("sqlite:"))
        .unwrap_or(location);
    if path.is_empty() || path.contains("://") || path.starts_with(':') {
        return Err(StoreError::UnsupportedLocation(postgres::redact_password(
            location,
        )));
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::sqlite_path;

    #[test]
    fn sqlite_locations_resolve_to_paths() {
        assert_eq!(
            sqlite_path("sqlite:///var/lib/portcullis/state.db").ok(),
            Some("/var/lib/portcullis/state.db")
        );
        assert_eq!(sqlite_path("sqlite://state.db").ok(), Some("state.db"));
        assert_eq!(sqlite_path("sqlite:state.db").ok(), Some("state.db"));
        assert_eq!(sqlite_path("./state.db").ok(), Some("./state.db"));
    }

    #[test]
    fn other_locations_are_rejected() {
        for location in ["mysql://db/x", "", "sqlite://", "sqlite::memory:"] {
            assert!(sqlite_path(location).is_err(), "{location:?}");
        }
    }
}
