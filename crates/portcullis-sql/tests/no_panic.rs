//! Analysis must return a result, never panic, for any input.

mod common;

use common::context;
use portcullis_sql::analyze;
use proptest::prelude::*;

/// Statements that reach most of the walk, cut and mangled below.
const SEEDS: &[&str] = &[
    "WITH RECURSIVE r(v) AS (SELECT mrn FROM patients UNION ALL SELECT p.ssn FROM r JOIN patients p ON p.mrn = r.v) SELECT v FROM r",
    "SELECT p.id, n.body FROM patients p, LATERAL (SELECT body FROM clinical_notes c WHERE c.patient_id = p.id) n ORDER BY 1",
    "INSERT INTO claims (id, status) SELECT id, ssn FROM patients ON CONFLICT (id) DO UPDATE SET status = excluded.status RETURNING *",
    "MERGE INTO claims c USING patients p ON c.patient_id = p.id WHEN MATCHED THEN UPDATE SET status = p.zip WHEN NOT MATCHED THEN INSERT VALUES (p.id)",
    "UPDATE encounters SET (reason, department_id) = (SELECT ssn, department_id FROM patients WHERE patients.id = encounters.patient_id)",
    "SELECT zip, rank() OVER (PARTITION BY ssn ORDER BY dob) FROM patient_directory d JOIN patients USING (zip) GROUP BY ROLLUP (zip)",
    "COPY (SELECT row_to_json(p) FROM patients p WHERE EXISTS (SELECT 1 FROM pg_class)) TO STDOUT",
    "PREPARE q AS SELECT * FROM generate_series(1, 3) WITH ORDINALITY AS g(x); EXECUTE q; DECLARE c CURSOR FOR SELECT 1; FETCH c",
    "SELECT json_object('a': ssn), (SELECT ARRAY(SELECT mrn FROM patients)) FROM patients WHERE ssn IN (SELECT reason FROM encounters)",
    "EXPLAIN (ANALYZE) DELETE FROM encounters e USING patients p WHERE p.id = e.patient_id RETURNING old.id, new.id",
];

fn analyze_quietly(sql: &str) {
    let _ = analyze(sql, &context());
}

#[test]
fn prefixes_and_deletions_never_panic() {
    for seed in SEEDS {
        for (index, _) in seed.char_indices() {
            analyze_quietly(&seed[..index]);
            let mut without = seed.to_string();
            without.remove(index);
            analyze_quietly(&without);
        }
    }
}

const TOKENS: &[&str] = &[
    "SELECT",
    "FROM",
    "WHERE",
    "JOIN",
    "ON",
    "USING",
    "LATERAL",
    "UNION",
    "ALL",
    "WITH",
    "RECURSIVE",
    "AS",
    "(",
    ")",
    ",",
    ";",
    "*",
    ".",
    "=",
    "||",
    "::text",
    "patients",
    "encounters",
    "p",
    "e",
    "ssn",
    "mrn",
    "id",
    "zip",
    "$1",
    "'x'",
    "1",
    "INSERT",
    "INTO",
    "VALUES",
    "UPDATE",
    "SET",
    "DELETE",
    "RETURNING",
    "ORDER",
    "BY",
    "GROUP",
    "HAVING",
    "OVER",
    "PARTITION",
    "EXISTS",
    "IN",
    "NOT",
    "NULL",
    "CASE",
    "WHEN",
    "THEN",
    "END",
    "lower",
    "count",
    "COPY",
    "TO",
    "STDOUT",
    "EXPLAIN",
    "ANALYZE",
    "PREPARE",
    "EXECUTE",
    "DECLARE",
    "CURSOR",
    "FOR",
    "FETCH",
    "pg_class",
    "research",
    "ROW",
    "ARRAY",
    "[",
    "]",
    "DISTINCT",
    "LIMIT",
    "MERGE",
    "MATCHED",
    "DO",
    "NOTHING",
    "CONFLICT",
    "search_path",
    "TABLE",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_text_never_panics(sql in "\\PC{0,200}") {
        analyze_quietly(&sql);
    }

    #[test]
    fn random_token_sequences_never_panic(tokens in proptest::collection::vec(proptest::sample::select(TOKENS), 1..40)) {
        analyze_quietly(&tokens.join(" "));
    }

    #[test]
    fn random_bytes_as_text_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
        analyze_quietly(&String::from_utf8_lossy(&bytes));
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let deep = format!(
        "SELECT {}ssn{} FROM patients",
        "lower(".repeat(5000),
        ")".repeat(5000)
    );
    assert!(analyze(&deep, &context()).is_err());
}

#[test]
fn moderate_nesting_is_analyzed() {
    let nested = format!(
        "SELECT {}ssn{} FROM patients",
        "lower(".repeat(45),
        ")".repeat(45)
    );
    assert!(analyze(&nested, &context()).is_ok());
    let chain = format!("SELECT {} FROM patients", vec!["ssn"; 45].join(" || "));
    assert!(analyze(&chain, &context()).is_ok());
}

#[test]
fn long_operator_chain_does_not_crash() {
    let chain = format!("SELECT {} FROM patients", vec!["ssn"; 2000].join(" || "));
    let _ = analyze(&chain, &context());
}
