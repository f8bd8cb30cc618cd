//! PHI catalogs, catalog discovery and guardrail files.

use portcullis_mask::PhiCategory;
use portcullis_policy::{
    discover, phi_category_names, ColumnSample, GuardrailSet, PhiCatalog, TableSample,
};

fn column(name: &str, values: &[&str]) -> ColumnSample {
    ColumnSample {
        name: name.to_owned(),
        values: values.iter().map(|value| (*value).to_owned()).collect(),
    }
}

fn sample() -> Vec<TableSample> {
    vec![
        TableSample {
            schema: "public".into(),
            name: "patients".into(),
            columns: vec![
                column("id", &["1", "2", "3"]),
                column("ssn", &["900-41-1234", "900-42-2345", "900-43-3456"]),
                column("first_name", &[]),
                column(
                    "contact",
                    &[
                        "ann@example.org",
                        "bo@example.org",
                        "cy@example.org",
                        "dee@example.org",
                    ],
                ),
                column("sex", &["F", "M", "X"]),
            ],
        },
        TableSample {
            schema: "public".into(),
            name: "departments".into(),
            columns: vec![column("code", &["cardiology"])],
        },
    ]
}

#[test]
fn discover_proposes_from_names_and_values() {
    let proposed = discover("ehr", &sample());
    let patients = &proposed.tables[0].1;
    let by_name = |name: &str| {
        patients
            .iter()
            .find(|column| column.name == name)
            .expect("column")
    };

    assert_eq!(by_name("ssn").categories(), vec![PhiCategory::Ssn]);
    assert_eq!(by_name("ssn").from_name, Some(PhiCategory::Ssn));
    assert_eq!(
        by_name("ssn")
            .from_values
            .map(|values| (values.matched, values.sampled)),
        Some((3, 3))
    );
    assert_eq!(by_name("first_name").categories(), vec![PhiCategory::Name]);
    assert_eq!(by_name("first_name").from_values, None);
    assert_eq!(by_name("contact").from_name, None);
    assert_eq!(by_name("contact").categories(), vec![PhiCategory::Email]);
    assert!(by_name("id").categories().is_empty());
}

#[test]
fn discovered_toml_is_commented_and_loads() {
    let proposed = discover("ehr", &sample());
    let text = proposed.to_toml();
    assert!(text.contains("target = \"ehr\""), "{text}");
    assert!(
        text.contains("[tables.\"public.patients\".columns]"),
        "{text}"
    );
    assert!(
        text.contains("ssn = [\"ssn\"]  # proposed from name and sampled values (3/3 matched)"),
        "{text}"
    );
    assert!(
        text.contains("first_name = [\"name\"]  # proposed from name\n"),
        "{text}"
    );
    assert!(
        text.contains("contact = [\"email\"]  # proposed from sampled values (4/4 matched)"),
        "{text}"
    );
    assert!(
        text.contains("# id: nothing detected from the name or 3 sampled values"),
        "{text}"
    );
    assert!(
        text.contains("[tables.\"public.departments\".columns]"),
        "{text}"
    );

    let loaded = PhiCatalog::parse(&text, "proposed.toml").expect("the proposal loads");
    assert_eq!(loaded, proposed.to_catalog());
    assert_eq!(
        loaded.column_categories("public", "patients", "ssn"),
        &[PhiCategory::Ssn]
    );
}

#[test]
fn discovered_toml_quotes_odd_names() {
    let tables = vec![TableSample {
        schema: "Clinic Data".into(),
        name: "Patient \"Index\"".into(),
        columns: vec![column("Home Phone", &[])],
    }];
    let text = discover("ehr", &tables).to_toml();
    let loaded = PhiCatalog::parse(&text, "proposed.toml").expect("quoted names load");
    assert_eq!(
        loaded.column_categories("Clinic Data", "Patient \"Index\"", "Home Phone"),
        &[PhiCategory::Phone]
    );
}

#[test]
fn catalog_table_categories_are_the_union() {
    let text = "target = \"ehr\"\n[tables.\"public.patients\"]\ncolumns = { ssn = [\"ssn\"], dob = [\"date\"], sex = [] }\n";
    let catalog = PhiCatalog::parse(text, "ehr.toml").expect("catalog");
    let categories: Vec<PhiCategory> = catalog
        .table_categories("public", "patients")
        .into_iter()
        .collect();
    assert_eq!(categories, vec![PhiCategory::Date, PhiCategory::Ssn]);
    assert!(catalog
        .column_categories("public", "patients", "sex")
        .is_empty());
    assert!(catalog
        .column_categories("public", "patients", "unlisted")
        .is_empty());
}

#[test]
fn category_names_come_from_mask_crate() {
    let names = phi_category_names();
    assert_eq!(names.len(), 24);
    assert_eq!(names.first(), Some(&"name"));
    assert!(names.contains(&"health_plan_number"));
    assert!(names.contains(&"substance_use_record"));
}

#[test]
fn guardrails_combine_matching_sections() {
    let text = r#"
[[guardrails]]
target = "*"
max_rows = 5000
deny_multi_statement = true

[[guardrails]]
target = "ehr"
roles = ["analyst"]
max_rows = 1000
deny_ddl = true

[[guardrails]]
target = "billing"
roles = ["analyst"]
read_only = true
"#;
    let set = GuardrailSet::parse(text, "guardrails.toml").expect("guardrails");
    let analyst = set.resolve("ehr", &["analyst".to_owned()]);
    assert_eq!(analyst.max_rows, Some(1000));
    assert!(analyst.deny_ddl);
    assert!(analyst.deny_multi_statement);
    assert!(
        !analyst.read_only,
        "the billing section does not apply to ehr"
    );

    let other = set.resolve("ehr", &["clinician".to_owned()]);
    assert_eq!(other.max_rows, Some(5000));
    assert!(!other.deny_ddl);
}
