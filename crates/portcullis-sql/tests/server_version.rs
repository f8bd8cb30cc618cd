//! Constructs that PostgreSQL 18's grammar reads differently from an older
//! upstream: denied below the version that gives them the gateway's meaning.

mod common;

use std::sync::Arc;

use portcullis_sql::{analyze, AnalysisContext, AnalysisError, StatementFacts};

use common::{catalog, column_key, outputs};

const SYSTEM_USER_COLUMN: &str =
    "SELECT system_user FROM (SELECT ssn AS system_user FROM patients) s";

fn analyze_on(server_version_num: u32, sql: &str) -> Result<Vec<StatementFacts>, AnalysisError> {
    let mut catalog = catalog();
    catalog.server_version_num = server_version_num;
    let ctx = AnalysisContext::new(Arc::new(catalog), vec!["public".into()]);
    analyze(sql, &ctx)
}

/// Returns the construct of a version denial, or panics with what happened.
fn denied_construct(server_version_num: u32, sql: &str) -> String {
    match analyze_on(server_version_num, sql) {
        Err(AnalysisError::ServerVersion { construct, .. }) => construct,
        other => {
            panic!("expected a version denial of {sql:?} on {server_version_num}, got {other:?}")
        }
    }
}

#[test]
fn system_user_denied_before_16() {
    assert_eq!(denied_construct(150_004, SYSTEM_USER_COLUMN), "system_user");
    assert_eq!(
        denied_construct(159_999, "SELECT system_user"),
        "system_user"
    );
}

#[test]
fn system_user_denied_when_version_unknown() {
    assert_eq!(denied_construct(0, SYSTEM_USER_COLUMN), "system_user");
}

#[test]
fn system_user_message_names_fix() {
    let error = analyze_on(150_004, SYSTEM_USER_COLUMN).unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("\"system_user\" in double quotes"),
        "{message}"
    );
    assert!(message.contains("server_version_num 150004"), "{message}");
    assert!(message.contains("PostgreSQL 16"), "{message}");
}

#[test]
fn system_user_function_on_16_and_newer() {
    for version in [160_000, 180_001] {
        let facts = analyze_on(version, SYSTEM_USER_COLUMN).unwrap();
        assert_eq!(
            outputs(&facts[0]),
            vec!["system_user~".to_owned()],
            "{version}"
        );
    }
}

#[test]
fn quoted_system_user_is_column_on_15() {
    let sql = "SELECT \"system_user\" FROM (SELECT ssn AS \"system_user\" FROM patients) s";
    let facts = analyze_on(150_004, sql).unwrap();
    let keys: Vec<String> = facts[0]
        .columns
        .iter()
        .map(|c| column_key(&c.column))
        .collect();
    assert!(keys.contains(&"patients.ssn".to_owned()), "{keys:?}");
    assert_eq!(
        outputs(&facts[0]),
        vec!["system_user=patients.ssn".to_owned()]
    );
}

#[test]
fn sql_json_denied_before_16() {
    let cases = [
        (
            "SELECT JSON_OBJECT('k': ssn) FROM patients",
            "JsonObjectConstructor",
        ),
        (
            "SELECT JSON_ARRAY(ssn) FROM patients",
            "JsonArrayConstructor",
        ),
        (
            "SELECT JSON_ARRAY(SELECT ssn FROM patients)",
            "JsonArrayQueryConstructor",
        ),
        (
            "SELECT JSON_OBJECTAGG(mrn: ssn) FROM patients",
            "JsonObjectAgg",
        ),
        ("SELECT JSON_ARRAYAGG(ssn) FROM patients", "JsonArrayAgg"),
        ("SELECT ssn IS JSON FROM patients", "JsonIsPredicate"),
    ];
    for (sql, construct) in cases {
        assert_eq!(denied_construct(150_004, sql), construct, "{sql}");
        assert!(analyze_on(160_000, sql).is_ok(), "{sql} on 16");
    }
}

#[test]
fn sql_json_17_syntax_denied_before_17() {
    let cases = [
        ("SELECT JSON(ssn) FROM patients", "JsonParseExpr"),
        ("SELECT JSON_SCALAR(ssn) FROM patients", "JsonScalarExpr"),
        (
            "SELECT JSON_SERIALIZE(ssn) FROM patients",
            "JsonSerializeExpr",
        ),
        (
            "SELECT JSON_VALUE(ssn::jsonb, '$') FROM patients",
            "JsonFuncExpr",
        ),
        (
            "SELECT JSON_EXISTS(ssn::jsonb, '$') FROM patients",
            "JsonFuncExpr",
        ),
    ];
    for (sql, construct) in cases {
        assert_eq!(denied_construct(160_000, sql), construct, "{sql}");
        assert!(analyze_on(170_000, sql).is_ok(), "{sql} on 17");
    }
}

#[test]
fn merge_action_denied_before_17() {
    let sql = "MERGE INTO patients p USING departments d ON p.department_id = d.id \
               WHEN MATCHED THEN UPDATE SET zip = '1' RETURNING merge_action(), p.id";
    assert_eq!(denied_construct(160_000, sql), "MergeSupportFunc");
}

#[test]
fn returning_options_denied_before_18() {
    let sql = "UPDATE patients SET zip = '1' RETURNING WITH (OLD AS o) o.ssn";
    assert_eq!(denied_construct(170_000, sql), "RETURNING WITH (OLD/NEW)");
    assert!(analyze_on(180_000, sql).is_ok());
}

#[test]
fn returning_old_unknown_before_18() {
    let sql = "UPDATE patients SET zip = '1' RETURNING old.ssn";
    let error = analyze_on(170_000, sql).unwrap_err();
    assert!(
        matches!(error, AnalysisError::UnknownColumn { .. }),
        "{error:?}"
    );
    assert!(analyze_on(180_000, sql).is_ok());
}
