//! Schema migrations embedded in the binary.
//!
//! Each backend has its own numbered SQL files under `migrations/<backend>/`, named
//! `NNNN_description.sql`; the number is the migration's version. They run through
//! sqlx's migrator, which records applied versions and checksums in
//! `_sqlx_migrations`, skips applied ones, refuses a changed file, and on PostgreSQL
//! holds an advisory lock so gateway instances starting together migrate once.
//! Add a migration by adding a file and a line to the list here, and a test checks
//! that the two agree. Never edit a migration that has been applied.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};

use crate::error::StoreError;

/// One embedded migration: version, description, SQL.
type Embedded = (i64, &'static str, &'static str);

/// SQLite migrations in order.
pub(crate) const SQLITE: &[Embedded] = &[
    (
        1,
        "init",
        include_str!("../migrations/sqlite/0001_init.sql"),
    ),
    (
        2,
        "scram_targets",
        include_str!("../migrations/sqlite/0002_scram_targets.sql"),
    ),
    (
        3,
        "access_grants",
        include_str!("../migrations/sqlite/0003_access_grants.sql"),
    ),
    (
        4,
        "scim",
        include_str!("../migrations/sqlite/0004_scim.sql"),
    ),
];

/// PostgreSQL migrations in order.
pub(crate) const POSTGRES: &[Embedded] = &[
    (
        1,
        "init",
        include_str!("../migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        "scram_targets",
        include_str!("../migrations/postgres/0002_scram_targets.sql"),
    ),
    (
        3,
        "access_grants",
        include_str!("../migrations/postgres/0003_access_grants.sql"),
    ),
    (
        4,
        "scim",
        include_str!("../migrations/postgres/0004_scim.sql"),
    ),
];

#[derive(Debug)]
struct EmbeddedSource(&'static [Embedded]);

impl<'s> MigrationSource<'s> for EmbeddedSource {
    fn resolve(
        self,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 's>> {
        let migrations = self
            .0
            .iter()
            .map(|(version, description, sql)| {
                Migration::new(
                    *version,
                    Cow::Borrowed(*description),
                    MigrationType::Simple,
                    Cow::Borrowed(*sql),
                    false,
                )
            })
            .collect();
        Box::pin(async move { Ok(migrations) })
    }
}

/// Builds the migrator for one backend's list.
pub(crate) async fn migrator(list: &'static [Embedded]) -> Result<Migrator, StoreError> {
    Ok(Migrator::new(EmbeddedSource(list)).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn files_in(backend: &str) -> Vec<(i64, String)> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(backend);
        let mut files: Vec<(i64, String)> = std::fs::read_dir(&dir)
            .expect("read migrations directory")
            .map(|entry| {
                entry
                    .expect("directory entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .map(|name| {
                let (number, rest) = name.split_once('_').expect("NNNN_description.sql");
                let description = rest.strip_suffix(".sql").expect(".sql suffix").to_owned();
                (number.parse().expect("numeric version"), description)
            })
            .collect();
        files.sort();
        files
    }

    fn listed(list: &[Embedded]) -> Vec<(i64, String)> {
        list.iter()
            .map(|(version, description, _)| (*version, (*description).to_owned()))
            .collect()
    }

    #[test]
    fn sqlite_list_matches_files() {
        assert_eq!(listed(SQLITE), files_in("sqlite"));
    }

    #[test]
    fn postgres_list_matches_files() {
        assert_eq!(listed(POSTGRES), files_in("postgres"));
    }

    #[test]
    fn both_backends_have_same_versions() {
        let versions = |list: &[Embedded]| {
            list.iter()
                .map(|(version, ..)| *version)
                .collect::<Vec<_>>()
        };
        assert_eq!(versions(SQLITE), versions(POSTGRES));
    }
}
