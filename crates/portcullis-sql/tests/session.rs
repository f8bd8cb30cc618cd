//! Multi-statement messages, session state (search path, prepared statements,
//! cursors, standard_conforming_strings), the statement cache and errors.

mod common;

use std::sync::Arc;

use common::{analyze_all, catalog, column_key, context, facts, outputs, usages};
use portcullis_sql::{
    analyze, session_effect, AnalysisContext, AnalysisError, ByteRange, Catalog, ColumnUsage,
    SessionEffect, StatementCache, StatementKind, MAX_CACHED_SQL_BYTES,
};

fn context_with_path(path: &[&str]) -> AnalysisContext {
    AnalysisContext::new(
        Arc::new(catalog()),
        path.iter().map(|schema| (*schema).to_owned()).collect(),
    )
}

fn error_of(result: Result<Vec<portcullis_sql::StatementFacts>, AnalysisError>) -> AnalysisError {
    match result {
        Ok(facts) => panic!("expected an error, got {facts:#?}"),
        Err(error) => error,
    }
}

#[test]
fn multi_statement_ranges_and_texts() {
    let sql = "SELECT mrn FROM patients;  SELECT ssn FROM patients ;";
    let all = analyze_all(sql).unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].text, "SELECT mrn FROM patients");
    assert_eq!(all[0].range, ByteRange { start: 0, end: 24 });
    assert_eq!(all[1].text, "SELECT ssn FROM patients");
    assert_eq!(&sql[all[1].range.start..all[1].range.end], all[1].text);
    assert_eq!(usages(&all[1], "patients.ssn"), vec![ColumnUsage::Output]);
}

#[test]
fn empty_message_has_no_statements() {
    assert!(analyze_all("").unwrap().is_empty());
    assert!(analyze_all(" ; ;").unwrap().is_empty());
}

#[test]
fn search_path_order_decides_resolution() {
    let ctx = context_with_path(&["research", "public"]);
    let all = analyze("SELECT zip FROM patients", &ctx).unwrap();
    assert_eq!(
        column_key(&all[0].columns[0].column),
        "research.patients.zip"
    );
    assert!(analyze("SELECT name FROM cohorts", &ctx).is_ok());
}

#[test]
fn pg_catalog_is_searched_first_unless_listed() {
    let mut catalog = catalog();
    catalog.add_table("public", "pg_class", &["secret"]);
    let implicit = AnalysisContext::new(Arc::new(catalog.clone()), vec!["public".into()]);
    let resolved = analyze("SELECT * FROM pg_class", &implicit).unwrap();
    assert_eq!(
        resolved[0].relations[0].relation.to_string(),
        "pg_catalog.pg_class"
    );

    let listed = AnalysisContext::new(
        Arc::new(catalog),
        vec!["public".into(), "pg_catalog".into()],
    );
    let resolved = analyze("SELECT * FROM pg_class", &listed).unwrap();
    assert_eq!(
        resolved[0].relations[0].relation.to_string(),
        "public.pg_class"
    );
}

#[test]
fn set_search_path_within_message() {
    let all = analyze_all("SET search_path = research; SELECT cohort FROM patients").unwrap();
    let expected = SessionEffect::SetSearchPath {
        schemas: vec!["research".into()],
        local: false,
    };
    assert_eq!(session_effect(&all[0]), Some(expected));
    assert_eq!(
        column_key(&all[1].columns[0].column),
        "research.patients.cohort"
    );
}

#[test]
fn set_local_and_reset_search_path() {
    let all = analyze_all(
        "SET LOCAL search_path TO research, public; RESET search_path; SET search_path TO DEFAULT",
    )
    .unwrap();
    let schemas = vec!["research".to_owned(), "public".to_owned()];
    assert_eq!(
        all[0].session_effect,
        Some(SessionEffect::SetSearchPath {
            schemas,
            local: true
        })
    );
    assert_eq!(
        all[1].session_effect,
        Some(SessionEffect::ResetSearchPath { local: false })
    );
    assert_eq!(
        all[2].session_effect,
        Some(SessionEffect::ResetSearchPath { local: false })
    );
}

#[test]
fn dollar_user_in_search_path() {
    let error = error_of(analyze_all(
        "SET search_path = \"$user\", public; SELECT zip FROM patients",
    ));
    assert!(error.to_string().contains("$user"), "{error}");

    let mut ctx = context();
    ctx.current_user = Some("research".into());
    let all = analyze(
        "SET search_path = \"$user\", public; SELECT zip FROM patients",
        &ctx,
    )
    .unwrap();
    assert_eq!(
        column_key(&all[1].columns[0].column),
        "research.patients.zip"
    );
    ctx.apply_session_effect(&all[0]);
    assert_eq!(
        ctx.search_path,
        vec!["research".to_owned(), "public".to_owned()]
    );
}

#[test]
fn applying_effects_updates_the_context() {
    let mut ctx = context();
    let set = analyze("SET search_path = research, public", &ctx).unwrap();
    ctx.apply_session_effect(&set[0]);
    assert_eq!(
        ctx.search_path,
        vec!["research".to_owned(), "public".to_owned()]
    );

    let reset = analyze("RESET ALL", &ctx).unwrap();
    ctx.apply_session_effect(&reset[0]);
    assert_eq!(ctx.search_path, vec!["public".to_owned()]);
}

#[test]
fn prepare_then_execute_across_messages() {
    let mut ctx = context();
    let prepare = analyze(
        "PREPARE q(int) AS SELECT ssn FROM patients WHERE id = $1",
        &ctx,
    )
    .unwrap();
    assert_eq!(
        session_effect(&prepare[0]),
        Some(SessionEffect::Prepare { name: "q".into() })
    );
    ctx.apply_session_effect(&prepare[0]);

    let execute = analyze("EXECUTE q(7)", &ctx).unwrap();
    let StatementKind::Execute { name, statement } = &execute[0].kind else {
        panic!("expected EXECUTE, got {:?}", execute[0].kind);
    };
    assert_eq!(name, "q");
    assert_eq!(**statement, StatementKind::Select);
    assert_eq!(outputs(&execute[0]), vec!["ssn=patients.ssn"]);
    assert!(usages(&execute[0], "patients.id").contains(&ColumnUsage::Filter));

    let deallocate = analyze("DEALLOCATE q", &ctx).unwrap();
    ctx.apply_session_effect(&deallocate[0]);
    let error = error_of(analyze("EXECUTE q(7)", &ctx));
    assert!(matches!(
        error,
        AnalysisError::UnknownPreparedStatement { .. }
    ));
}

#[test]
fn prepare_and_execute_in_one_message() {
    let all =
        analyze_all("PREPARE q AS SELECT ssn FROM patients; EXECUTE q; DEALLOCATE q").unwrap();
    assert_eq!(outputs(&all[1]), vec!["ssn=patients.ssn"]);
    let error = error_of(analyze_all(
        "PREPARE q AS SELECT 1; DEALLOCATE q; EXECUTE q",
    ));
    assert!(matches!(
        error,
        AnalysisError::UnknownPreparedStatement { .. }
    ));
}

#[test]
fn execute_parameter_reading_a_table_is_rejected() {
    let error = error_of(analyze_all(
        "PREPARE q(text) AS SELECT $1; EXECUTE q((SELECT ssn FROM patients LIMIT 1))",
    ));
    assert!(
        matches!(error, AnalysisError::Unsupported { .. }),
        "{error:?}"
    );
}

#[test]
fn explain_execute_uses_the_prepared_statement() {
    let all = analyze_all("PREPARE q AS DELETE FROM claims; EXPLAIN ANALYZE EXECUTE q").unwrap();
    assert_eq!(common::relations(&all[1]), vec!["public.claims:delete"]);
}

#[test]
fn cursors_follow_declare_fetch_move_close() {
    let mut ctx = context();
    let declare = analyze(
        "DECLARE c CURSOR WITH HOLD FOR SELECT ssn FROM patients",
        &ctx,
    )
    .unwrap();
    ctx.apply_session_effect(&declare[0]);

    let fetch = analyze("FETCH 10 FROM c", &ctx).unwrap();
    assert_eq!(outputs(&fetch[0]), vec!["ssn=patients.ssn"]);
    let moved = analyze("MOVE 5 IN c", &ctx).unwrap();
    assert!(moved[0].output_columns.is_empty());
    assert_eq!(
        moved[0].kind,
        StatementKind::Fetch {
            cursor: "c".into(),
            is_move: true
        }
    );

    let close = analyze("CLOSE c", &ctx).unwrap();
    ctx.apply_session_effect(&close[0]);
    assert!(matches!(
        error_of(analyze("FETCH c", &ctx)),
        AnalysisError::UnknownCursor { .. }
    ));
}

#[test]
fn discard_all_drops_prepared_statements_and_cursors() {
    let mut ctx = context();
    for sql in [
        "PREPARE q AS SELECT 1",
        "DECLARE c CURSOR WITH HOLD FOR SELECT 1",
        "DISCARD ALL",
    ] {
        let all = analyze(sql, &ctx).unwrap();
        ctx.apply_session_effect(&all[0]);
    }
    assert!(ctx.prepared.is_empty());
    assert!(ctx.cursors.is_empty());
}

#[test]
fn explain_reports_whether_it_executes() {
    let cases = [
        ("EXPLAIN ANALYZE SELECT 1", true),
        ("EXPLAIN (ANALYZE, BUFFERS) SELECT 1", true),
        ("EXPLAIN (ANALYZE false) SELECT 1", false),
        ("EXPLAIN (FORMAT JSON) SELECT 1", false),
        ("EXPLAIN SELECT 1", false),
    ];
    for (sql, expected) in cases {
        let all = analyze_all(sql).unwrap();
        let StatementKind::Explain { analyze, statement } = &all[0].kind else {
            panic!("{sql}: expected EXPLAIN");
        };
        assert_eq!(*analyze, expected, "{sql}");
        assert_eq!(**statement, StatementKind::Select, "{sql}");
    }
}

#[test]
fn set_config_stops_the_rest_of_the_message() {
    let single = facts("SELECT set_config('search_path', 'research', false)");
    assert_eq!(
        single.session_effect,
        Some(SessionEffect::SettingsChangedByFunction)
    );
    let error = error_of(analyze_all(
        "SELECT set_config('search_path', 'research', false); SELECT zip FROM patients",
    ));
    assert!(error.to_string().contains("set_config"), "{error}");
}

#[test]
fn set_role_stops_the_rest_of_the_message() {
    let error = error_of(analyze_all("SET ROLE admin; SELECT zip FROM patients"));
    assert!(
        matches!(error, AnalysisError::SettingsUnknown { .. }),
        "{error:?}"
    );
}

#[test]
fn standard_conforming_strings_changes_statement_boundaries() {
    let sql = r"SELECT 'a\'; DROP TABLE claims; --'";
    let on = analyze_all(sql).unwrap();
    assert_eq!(on.len(), 2);
    assert_eq!(
        on[1].kind,
        StatementKind::Ddl {
            action: portcullis_sql::DdlAction::Drop,
            object: portcullis_sql::ObjectKind::Table
        }
    );

    let mut ctx = context();
    ctx.standard_conforming_strings = false;
    let off = analyze(sql, &ctx).unwrap();
    assert_eq!(off.len(), 1);
    assert_eq!(off[0].kind, StatementKind::Select);
}

#[test]
fn setting_standard_conforming_strings_is_an_effect() {
    let mut ctx = context();
    let set = analyze("SET standard_conforming_strings = off", &ctx).unwrap();
    assert_eq!(
        set[0].session_effect,
        Some(SessionEffect::SetStandardConformingStrings {
            on: false,
            local: false
        })
    );
    ctx.apply_session_effect(&set[0]);
    assert!(!ctx.standard_conforming_strings);
}

#[test]
fn parse_error_reports_character_position() {
    let error = error_of(analyze_all("SELECT 'é' FROM WHERE"));
    let AnalysisError::Parse { message, position } = error else {
        panic!("expected a parse error");
    };
    assert!(message.contains("WHERE"), "{message}");
    assert_eq!(position, Some(17));
}

#[test]
fn zero_byte_is_a_parse_error() {
    let error = error_of(analyze_all("SELECT 1\0"));
    assert!(
        matches!(
            error,
            AnalysisError::Parse {
                position: Some(9),
                ..
            }
        ),
        "{error:?}"
    );
}

#[test]
fn broken_view_definitions_are_errors() {
    let mut catalog = Catalog::new(1);
    catalog.add_view(
        "public",
        "loop_view",
        &["x"],
        "SELECT x FROM loop_view",
        &["public"],
    );
    catalog.add_view("public", "bad_view", &["x"], "SELEC x", &["public"]);
    catalog.add_view("public", "wide_view", &["x"], "SELECT 1, 2", &["public"]);
    let ctx = AnalysisContext::new(Arc::new(catalog), vec!["public".into()]);
    for sql in [
        "SELECT * FROM loop_view",
        "SELECT * FROM bad_view",
        "SELECT * FROM wide_view",
    ] {
        let error = error_of(analyze(sql, &ctx));
        assert!(
            matches!(error, AnalysisError::InvalidView { .. }),
            "{sql}: {error:?}"
        );
    }
}

#[test]
fn facts_serialize_for_audit_records() {
    let all = analyze_all("SELECT lower(ssn) FROM patients WHERE zip = $1").unwrap();
    let json = serde_json::to_value(&all[0]).unwrap();
    assert_eq!(json["kind"]["type"], "select");
    assert_eq!(json["output_columns"][0]["source"]["type"], "computed");
    let usages = &json["columns"][0]["usages"];
    assert_eq!(
        usages,
        &serde_json::json!(["output", "function_argument", "expression"])
    );
}

#[test]
fn cache_returns_the_same_facts_until_context_changes() {
    let mut cache = StatementCache::new(4);
    let mut ctx = context();
    let first = cache.analyze("SELECT ssn FROM patients", &ctx).unwrap();
    let second = cache.analyze("SELECT ssn FROM patients", &ctx).unwrap();
    assert!(Arc::ptr_eq(&first, &second));

    ctx.search_path = vec!["research".into(), "public".into()];
    let third = cache.analyze("SELECT zip FROM patients", &ctx).unwrap();
    assert_eq!(
        column_key(&third[0].columns[0].column),
        "research.patients.zip"
    );
    assert_eq!(cache.len(), 1);

    let mut newer = catalog();
    newer.version = 2;
    ctx.catalog = Arc::new(newer);
    let fourth = cache.analyze("SELECT zip FROM patients", &ctx).unwrap();
    assert!(!Arc::ptr_eq(&third, &fourth));
}

#[test]
fn cache_is_bounded_and_skips_session_dependent_messages() {
    let mut cache = StatementCache::new(2);
    let mut ctx = context();
    for id in 0..5 {
        cache
            .analyze(&format!("SELECT ssn FROM patients WHERE id = {id}"), &ctx)
            .unwrap();
    }
    assert_eq!(cache.len(), 2);

    cache.clear();
    let prepare = analyze("PREPARE q AS SELECT 1", &ctx).unwrap();
    ctx.apply_session_effect(&prepare[0]);
    cache.analyze("EXECUTE q", &ctx).unwrap();
    assert!(cache.is_empty());

    let long = format!(
        "SELECT ssn FROM patients WHERE mrn = '{}'",
        "x".repeat(MAX_CACHED_SQL_BYTES)
    );
    cache.analyze(&long, &ctx).unwrap();
    assert!(cache.is_empty());
}

#[test]
fn cache_does_not_keep_errors() {
    let mut cache = StatementCache::new(8);
    assert!(cache
        .analyze("SELECT nope FROM patients", &context())
        .is_err());
    assert!(cache.is_empty());
}
