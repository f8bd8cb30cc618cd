//! PostgreSQL backend, for several gateway instances sharing one state.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use crate::error::StoreError;
use crate::migrations;

/// Connections in the pool of each gateway instance.
const MAX_CONNECTIONS: u32 = 10;
/// How long a request waits for a free connection before failing.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// A store in a PostgreSQL database.
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to `url` (`postgres://USER:PASSWORD@HOST:PORT/DATABASE`) and applies
    /// pending migrations.
    pub async fn connect(url: &str) -> Result<PgStore, StoreError> {
        let open_error = |source| StoreError::Open {
            backend: "PostgreSQL",
            location: redact_password(url),
            source,
        };
        let options = PgConnectOptions::from_str(url).map_err(open_error)?;
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(open_error)?;

        migrations::migrator(migrations::POSTGRES)
            .await?
            .run(&pool)
            .await?;
        Ok(PgStore { pool })
    }
}

/// Replaces the password in a URL's user information with `***` for messages.
pub(crate) fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    match rest[..at].split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***{}", &rest[at..]),
        None => url.to_owned(),
    }
}

/// PostgreSQL specifics of the shared queries.
mod backend {
    use sqlx::Row as _;
    use uuid::Uuid;

    use crate::error::StoreError;

    pub(super) type Db = sqlx::Postgres;
    pub(super) type Row = sqlx::postgres::PgRow;
    pub(super) type BackendStore = super::PgStore;

    pub(super) const BEGIN_WRITE: &str = "BEGIN";
    /// Keeps a referenced row from changing until the transaction ends.
    pub(super) const FOR_SHARE: &str = " FOR SHARE";
    /// Serializes read-modify-write of one row across gateway instances.
    pub(super) const FOR_UPDATE: &str = " FOR UPDATE";

    /// Ids are stored in native `uuid` columns.
    pub(super) fn uuid_param(id: Uuid) -> Uuid {
        id
    }

    pub(super) fn uuid_column(row: &Row, column: &'static str) -> Result<Uuid, StoreError> {
        row.try_get(column).map_err(|error| corrupt(column, error))
    }

    pub(super) fn uuid_column_opt(
        row: &Row,
        column: &'static str,
    ) -> Result<Option<Uuid>, StoreError> {
        row.try_get(column).map_err(|error| corrupt(column, error))
    }

    fn corrupt(column: &'static str, error: sqlx::Error) -> StoreError {
        StoreError::Corrupt {
            column,
            detail: error.to_string(),
        }
    }
}

#[allow(
    clippy::duplicate_mod,
    reason = "compiled once per backend on purpose; see sql/mod.rs"
)]
#[path = "sql/mod.rs"]
mod sql;

#[cfg(test)]
mod tests {
    use super::redact_password;

    #[test]
    fn redacts_password_only() {
        assert_eq!(
            redact_password("postgres://app:s3cret@db:5432/portcullis"),
            "postgres://app:***@db:5432/portcullis"
        );
        assert_eq!(
            redact_password("postgres://app@db/portcullis"),
            "postgres://app@db/portcullis"
        );
        assert_eq!(redact_password("postgres://db/p@x"), "postgres://db/p@x");
    }
}
