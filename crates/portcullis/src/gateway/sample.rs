//! Sampling a target's column values for `portcullis catalog discover`. The
//! values go to the PHI detectors only and are never printed or logged.

use anyhow::{Context as _, Result};
use portcullis_pg::UpstreamTarget;
use portcullis_policy::{ColumnSample, TableSample};

use super::catalog::connect;

/// Ordinary and partitioned tables of the user schemas, with their columns in order.
const TABLE_COLUMNS_SQL: &str = "\
    SELECT n.nspname, c.relname, a.attname \
    FROM pg_catalog.pg_class c \
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
    JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
    WHERE c.relkind IN ('r', 'p') \
      AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' \
      AND n.nspname NOT LIKE 'pg_temp%' \
    ORDER BY n.nspname, c.relname, a.attnum";

/// Connects to the target as the gateway's role and reads up to `rows` rows
/// of every table, each value in text format.
///
/// The rows are the first ones the server returns, not a random sample, and
/// row-level security applies to the gateway's role as it does to sessions.
pub async fn sample_target(target: &UpstreamTarget, rows: u32) -> Result<Vec<TableSample>> {
    let client = connect(target).await?;
    let listing = client
        .query(TABLE_COLUMNS_SQL, &[])
        .await
        .with_context(|| format!("listing the tables of target {}", target.name))?;

    let mut tables: Vec<TableSample> = Vec::new();
    for row in listing {
        let schema: String = row.get(0);
        let name: String = row.get(1);
        let column = ColumnSample {
            name: row.get(2),
            values: Vec::new(),
        };
        match tables.last_mut() {
            Some(table) if table.schema == schema && table.name == name => table.columns.push(column),
            _ => tables.push(TableSample {
                schema,
                name,
                columns: vec![column],
            }),
        }
    }

    for table in &mut tables {
        sample_table(&client, table, rows)
            .await
            .with_context(|| format!("sampling {}.{} of target {}", table.schema, table.name, target.name))?;
    }
    Ok(tables)
}

async fn sample_table(client: &tokio_postgres::Client, table: &mut TableSample, rows: u32) -> Result<()> {
    let columns: Vec<String> = table
        .columns
        .iter()
        .map(|column| format!("{}::text", quote_identifier(&column.name)))
        .collect();
    let sql = format!(
        "SELECT {} FROM {}.{} LIMIT {rows}",
        columns.join(", "),
        quote_identifier(&table.schema),
        quote_identifier(&table.name)
    );
    for row in client.query(&sql, &[]).await? {
        for (index, column) in table.columns.iter_mut().enumerate() {
            if let Some(value) = row.get::<_, Option<String>>(index) {
                column.values.push(value);
            }
        }
    }
    Ok(())
}

fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
