//! `portcullis catalog discover` on the demo EHR schema: it proposes the PHI
//! categories of the patient columns, prints no sampled value, and its
//! proposal loads with the catalog loader.

mod common;
#[path = "support/ehr.rs"]
mod ehr;

use ehr::Ehr;
use portcullis_policy::PhiCatalog;
use serde_json::Value;

/// Returns the categories proposed for `schema.table.column`.
fn proposed(document: &Value, table: &str, column: &str) -> Vec<String> {
    let table = document["tables"]
        .as_array()
        .expect("tables is an array")
        .iter()
        .find(|entry| entry["schema"] == "public" && entry["table"] == table)
        .unwrap_or_else(|| panic!("table {table} is listed"));
    let column = table["columns"]
        .as_array()
        .expect("columns is an array")
        .iter()
        .find(|entry| entry["name"] == column)
        .unwrap_or_else(|| panic!("column {column} is listed"));
    let mut categories = Vec::new();
    if let Some(name) = column["from_name"].as_str() {
        categories.push(name.to_owned());
    }
    if let Some(values) = column["from_values"]["category"].as_str() {
        categories.push(values.to_owned());
    }
    categories
}

#[tokio::test(flavor = "multi_thread")]
async fn discover_proposes_demo_categories() {
    let ehr = Ehr::start().await;
    let output = ehr
        .workdir
        .run(&["--output", "json", "catalog", "discover", "--target", "ehr", "--sample", "50"])
        .success();
    let document = output.json();
    assert_eq!(document["target"], "ehr");

    let expected = [
        ("ssn", "ssn"),
        ("mrn", "mrn"),
        ("phone", "phone"),
        ("email", "email"),
        ("dob", "date"),
        ("zip", "geographic"),
        ("first_name", "name"),
        ("last_name", "name"),
    ];
    for (column, category) in expected {
        let categories = proposed(&document, "patients", column);
        assert!(
            categories.iter().any(|found| found == category),
            "patients.{column}: expected {category}, proposed {categories:?}"
        );
    }

    // No sampled value reaches the output.
    let direct = ehr.connect_direct("carol").await;
    let row = direct
        .query_one("SELECT ssn, email, phone FROM patients WHERE ssn IS NOT NULL ORDER BY id LIMIT 1", &[])
        .await
        .expect("read one patient directly");
    for index in 0..3 {
        let value: String = row.get(index);
        assert!(!output.stdout.contains(&value), "a sampled value appears in the output");
    }

    // The proposal is a catalog file the loader reads.
    let text = document["catalog_toml"].as_str().expect("catalog_toml is a string");
    let catalog = PhiCatalog::parse(text, "catalogs/ehr.toml").expect("the proposal loads");
    assert_eq!(catalog.target, "ehr");
    assert!(!catalog.column_categories("public", "patients", "ssn").is_empty());

    // Table output prints the same file.
    let table_output = ehr.workdir.run(&["catalog", "discover", "--target", "ehr", "--sample", "50"]).success();
    assert_eq!(table_output.stdout, text);

    let unknown = ehr.workdir.run(&["catalog", "discover", "--target", "nonesuch"]).failure();
    assert!(unknown.stderr.contains("no target named nonesuch"), "{unknown}");
}
