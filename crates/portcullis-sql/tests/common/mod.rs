//! A small healthcare catalog and helpers shared by the integration tests.

#![allow(dead_code)]

use std::sync::Arc;

use portcullis_sql::{
    analyze, AnalysisContext, AnalysisError, Catalog, ColumnName, ColumnUsage, OutputSource,
    StatementFacts,
};

pub const PATIENTS: &[&str] = &[
    "id",
    "mrn",
    "first_name",
    "last_name",
    "dob",
    "ssn",
    "zip",
    "department_id",
];

/// The `server_version_num` of the test catalog: PostgreSQL 18, the parser's
/// own version, so that no construct is denied for an older upstream.
pub const SERVER_VERSION_NUM: u32 = 180_000;

/// Builds the test catalog of a PostgreSQL 18 upstream. Schema public has patients, encounters,
/// clinical_notes, claims, departments, pgbench_accounts, the view
/// patient_directory and a view over that view. Schema research has another
/// patients table and cohorts.
pub fn catalog() -> Catalog {
    let mut catalog = Catalog::new(1);
    catalog.server_version_num = SERVER_VERSION_NUM;
    catalog.add_table("public", "patients", PATIENTS);
    catalog.add_table(
        "public",
        "encounters",
        &["id", "patient_id", "department_id", "admitted_at", "reason"],
    );
    catalog.add_table(
        "public",
        "clinical_notes",
        &["id", "patient_id", "note_type", "body"],
    );
    catalog.add_table(
        "public",
        "claims",
        &[
            "id",
            "patient_id",
            "encounter_id",
            "amount",
            "diagnosis_code",
            "status",
        ],
    );
    catalog.add_table("public", "departments", &["id", "name"]);
    catalog.add_table(
        "public",
        "pgbench_accounts",
        &["aid", "bid", "abalance", "filler"],
    );
    catalog.add_view(
        "public",
        "patient_directory",
        &["id", "mrn", "full_name", "zip"],
        "SELECT id, mrn, first_name || ' ' || last_name AS full_name, zip FROM patients WHERE ssn IS NOT NULL",
        &["public"],
    );
    catalog.add_view(
        "public",
        "directory_by_zip",
        &["zip", "mrn"],
        "SELECT d.zip, d.mrn FROM public.patient_directory d",
        &[],
    );
    catalog.add_table("research", "patients", &["id", "zip", "cohort"]);
    catalog.add_table("research", "cohorts", &["id", "name"]);
    catalog
}

pub fn context() -> AnalysisContext {
    AnalysisContext::new(Arc::new(catalog()), vec!["public".into()])
}

pub fn analyze_all(sql: &str) -> Result<Vec<StatementFacts>, AnalysisError> {
    analyze(sql, &context())
}

/// Analyzes a message that must hold exactly one statement.
pub fn facts(sql: &str) -> StatementFacts {
    match analyze_all(sql) {
        Ok(mut all) if all.len() == 1 => all.remove(0),
        Ok(all) => panic!("expected one statement in {sql:?}, got {}", all.len()),
        Err(error) => panic!("analysis of {sql:?} failed: {error}"),
    }
}

/// Formats a column as `table.column` for public tables, `schema.table.column` otherwise.
pub fn column_key(column: &ColumnName) -> String {
    if column.schema == "public" {
        format!("{}.{}", column.table, column.column)
    } else {
        format!("{}.{}.{}", column.schema, column.table, column.column)
    }
}

/// Returns the usages of one column, or an empty list when the column is not used.
pub fn usages(facts: &StatementFacts, key: &str) -> Vec<ColumnUsage> {
    let found = facts
        .columns
        .iter()
        .find(|column| column_key(&column.column) == key);
    found
        .map(|column| column.usages.iter().collect())
        .unwrap_or_default()
}

/// Formats the output columns compactly: `name=t.c` passthrough, `name~t.c+t.d`
/// computed, `name?` unlisted, `*?schema.rel` unlisted star.
pub fn outputs(facts: &StatementFacts) -> Vec<String> {
    facts
        .output_columns
        .iter()
        .map(|output| match &output.source {
            OutputSource::Passthrough { columns } => format!("{}={}", output.name, keys(columns)),
            OutputSource::Computed { depends_on } => {
                format!("{}~{}", output.name, keys(depends_on))
            }
            OutputSource::Unlisted => format!("{}?", output.name),
            OutputSource::UnlistedStar { relation } => {
                format!(
                    "*?{}",
                    relation
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default()
                )
            }
        })
        .collect()
}

fn keys(columns: &[ColumnName]) -> String {
    columns.iter().map(column_key).collect::<Vec<_>>().join("+")
}

/// Formats each relation as `schema.name:access,access[@via]`.
pub fn relations(facts: &StatementFacts) -> Vec<String> {
    facts
        .relations
        .iter()
        .map(|relation| {
            let access: Vec<String> = relation
                .access
                .iter()
                .map(|access| format!("{access:?}").to_lowercase())
                .collect();
            let via = relation
                .via_view
                .as_ref()
                .map(|view| format!("@{view}"))
                .unwrap_or_default();
            format!("{}:{}{}", relation.relation, access.join(","), via)
        })
        .collect()
}

/// Returns the `type` tag of the statement kind, e.g. `select`, `copy_to`.
pub fn kind_tag(facts: &StatementFacts) -> String {
    let value = serde_json::to_value(&facts.kind).unwrap_or_default();
    value
        .get("type")
        .and_then(|tag| tag.as_str())
        .unwrap_or_default()
        .to_owned()
}

pub fn function_names(facts: &StatementFacts) -> Vec<String> {
    let names = facts
        .functions
        .iter()
        .map(|function| match &function.schema {
            Some(schema) => format!("{schema}.{}", function.name),
            None => function.name.clone(),
        });
    names.collect()
}
