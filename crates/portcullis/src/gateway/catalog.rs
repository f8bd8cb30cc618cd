//! Reading each target's tables, views and columns, which the statement analyzer
//! needs to expand `SELECT *`, resolve unqualified names and follow views, and which
//! the policy engine turns into Cedar resource entities, and the names of its
//! user-defined functions, whose calls need a `call_function` permit.

use anyhow::{bail, Context as _, Result};
use portcullis_pg::{UpstreamTarget, UpstreamTls};
use portcullis_policy::{FunctionDef, TableDef, TargetTables};
use portcullis_sql::ColumnName;

use super::copy_plan::ColumnTypes;

/// Relations of the user schemas with their columns in order and their types,
/// and view definitions.
const COLUMNS_SQL: &str = "\
    SELECT n.nspname, c.relname, c.relkind::text, a.attname, \
           CASE WHEN c.relkind IN ('v', 'm') THEN pg_catalog.pg_get_viewdef(c.oid) END, \
           a.atttypid \
    FROM pg_catalog.pg_class c \
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
    JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') \
      AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' \
      AND n.nspname NOT LIKE 'pg_temp%' \
    ORDER BY n.nspname, c.relname, a.attnum";

/// Functions and procedures outside the system schemas, extensions' included.
/// A call to any of them needs a `call_function` permit, because it runs
/// statements the gateway cannot see.
const FUNCTIONS_SQL: &str = "\
    SELECT DISTINCT n.nspname, p.proname \
    FROM pg_catalog.pg_proc p \
    JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace \
    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') \
    ORDER BY n.nspname, p.proname";

/// Connects to the target as the gateway's role and reads its relations, the
/// type of each column and its user-defined functions.
pub async fn read_target_tables(target: &UpstreamTarget) -> Result<(TargetTables, ColumnTypes)> {
    let client = connect(target).await?;
    let server_version_num = read_server_version_num(&client, &target.name).await?;
    let search_path = read_search_path(&client, &target.name).await?;
    // pg_get_viewdef qualifies names that this search path does not find.
    client
        .batch_execute("SET search_path = public")
        .await
        .context("setting the search path for reading view definitions")?;
    let rows = client
        .query(COLUMNS_SQL, &[])
        .await
        .with_context(|| format!("reading the tables of target {}", target.name))?;

    let mut tables: Vec<TableDef> = Vec::new();
    let mut column_types = ColumnTypes::new();
    let mut current: Option<(String, String, String, Option<String>, Vec<String>)> = None;
    for row in rows {
        let schema: String = row.get(0);
        let name: String = row.get(1);
        let kind: String = row.get(2);
        let column: String = row.get(3);
        let definition: Option<String> = row.get(4);
        let type_oid: u32 = row.get(5);
        let name_of_column = ColumnName {
            schema: schema.clone(),
            table: name.clone(),
            column: column.clone(),
        };
        column_types.insert(name_of_column, type_oid);
        match &mut current {
            Some((s, n, _, _, columns)) if *s == schema && *n == name => columns.push(column),
            _ => {
                if let Some(done) = current.take() {
                    tables.push(table_def(done));
                }
                current = Some((schema, name, kind, definition, vec![column]));
            }
        }
    }
    if let Some(done) = current.take() {
        tables.push(table_def(done));
    }
    let mut target_tables = TargetTables::new(&target.name);
    target_tables.tables = tables;
    target_tables.functions = read_functions(&client, &target.name).await?;
    target_tables.search_path = search_path;
    target_tables.server_version_num = server_version_num;
    Ok((target_tables, column_types))
}

/// Reads the upstream's `server_version_num`, which the analyzer compares
/// with the versions that changed the grammar.
///
/// NOTE: the analyzer parses with PostgreSQL 18's grammar. Constructs that
/// older servers read differently (such as bare `system_user`, a column
/// reference before PostgreSQL 16) are denied case by case in portcullis-sql
/// (`walk/server_version.rs`), so a newly found difference needs a new case
/// there. Like the search path, the version is read when the tables are
/// loaded, so restart `serve` after a server upgrade.
async fn read_server_version_num(client: &tokio_postgres::Client, target: &str) -> Result<u32> {
    let row = client
        .query_one("SELECT pg_catalog.current_setting('server_version_num')", &[])
        .await
        .with_context(|| format!("reading the server_version_num of target {target}"))?;
    let text: String = row.get(0);
    text.parse().with_context(|| {
        format!("target {target} reported server_version_num {text:?}, which is not a number")
    })
}

/// Reads the schemas that a new session of the gateway's role searches, which
/// the analyzer resolves unqualified names with. Clients cannot change the
/// search path through the gateway, so it stays this value for the session.
///
/// NOTE: it is read once, when `serve` starts. After an `ALTER ROLE ... SET
/// search_path` or `ALTER DATABASE ... SET search_path` on the target, or a
/// new schema on the path, restart `serve`, or the gateway checks other
/// tables than the server reads.
async fn read_search_path(client: &tokio_postgres::Client, target: &str) -> Result<Vec<String>> {
    let row = client
        .query_one("SELECT pg_catalog.current_schemas(false)", &[])
        .await
        .with_context(|| format!("reading the search_path of target {target}"))?;
    Ok(row.get(0))
}

async fn read_functions(client: &tokio_postgres::Client, target: &str) -> Result<Vec<FunctionDef>> {
    let rows = client
        .query(FUNCTIONS_SQL, &[])
        .await
        .with_context(|| format!("reading the user-defined functions of target {target}"))?;
    Ok(rows
        .iter()
        .map(|row| FunctionDef::new(row.get(0), row.get(1)))
        .collect())
}

fn table_def((schema, name, kind, definition, columns): (String, String, String, Option<String>, Vec<String>)) -> TableDef {
    let columns: Vec<&str> = columns.iter().map(String::as_str).collect();
    match (kind.as_str(), definition) {
        ("v", Some(sql)) => TableDef::view(&schema, &name, &columns, sql.trim_end_matches(';'), &["public"]),
        _ => TableDef::table(&schema, &name, &columns),
    }
}

pub(super) async fn connect(target: &UpstreamTarget) -> Result<tokio_postgres::Client> {
    let mut config = tokio_postgres::Config::new();
    config
        .host(&target.host)
        .port(target.port)
        .dbname(&target.database)
        .user(&target.user)
        .password(target.password.as_bytes())
        .application_name("portcullis:catalog")
        .connect_timeout(std::time::Duration::from_secs(10));
    match &target.tls {
        UpstreamTls::Disable => {
            let (client, connection) = config
                .connect(tokio_postgres::NoTls)
                .await
                .with_context(|| format!("connecting to target {} to read its tables", target.name))?;
            tokio::spawn(connection);
            Ok(client)
        }
        UpstreamTls::VerifyFull { ca_file } => {
            let roots = crate::tls::load_certs(ca_file)?;
            let mut store = rustls::RootCertStore::empty();
            for cert in roots {
                store.add(cert).context("adding the target CA certificate")?;
            }
            let tls_config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
                rustls::crypto::aws_lc_rs::default_provider(),
            ))
            .with_safe_default_protocol_versions()?
            .with_root_certificates(store)
            .with_no_client_auth();
            config.ssl_mode(tokio_postgres::config::SslMode::Require);
            let (client, connection) = config
                .connect(tokio_postgres_rustls::MakeRustlsConnect::new(tls_config))
                .await
                .with_context(|| format!("connecting to target {} to read its tables", target.name))?;
            tokio::spawn(connection);
            Ok(client)
        }
        // NOTE: reading the catalog over TLS without verification is not built;
        // targets with tls = "require" need tls = "verify-full" when policies are on.
        UpstreamTls::Require => bail!(
            "target {}: reading its tables for the policy engine needs tls = \"verify-full\" (with ca_file) or \"disable\"",
            target.name
        ),
    }
}
