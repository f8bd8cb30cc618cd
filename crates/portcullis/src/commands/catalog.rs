//! `portcullis catalog discover`: a proposed PHI catalog for a target, from
//! its column names and sampled values, for a reviewer to edit and commit.

use anyhow::Result;
use portcullis_policy::discover;

use crate::cli::{CatalogCommand, OutputFormat};
use crate::context::Context;

pub async fn run(context: &Context, command: &CatalogCommand, output: OutputFormat) -> Result<()> {
    match command {
        CatalogCommand::Discover { target, sample } => discover_catalog(context, target, *sample, output).await,
    }
}

/// Prints the proposal: the catalog file in table format, or in JSON the
/// proposal per column with the file text. Neither contains a sampled value.
async fn discover_catalog(context: &Context, target: &str, sample: u32, output: OutputFormat) -> Result<()> {
    let store = context.open_store().await?;
    let upstream = crate::gateway::upstream_target(&context.config, store.clone(), &context.master_key, target).await;
    store.close().await;
    let tables = crate::gateway::sample::sample_target(&upstream?, sample).await?;
    let proposal = discover(target, &tables);
    match output {
        OutputFormat::Json => {
            let document = serde_json::json!({
                "target": proposal.target,
                "tables": proposal.tables.iter().map(|((schema, table), columns)| serde_json::json!({
                    "schema": schema,
                    "table": table,
                    "columns": columns,
                })).collect::<Vec<_>>(),
                "catalog_toml": proposal.to_toml(),
            });
            println!("{}", serde_json::to_string_pretty(&document)?);
        }
        OutputFormat::Table | OutputFormat::Csv => print!("{}", proposal.to_toml()),
    }
    Ok(())
}
