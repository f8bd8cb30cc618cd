//! The policy engine beyond single decisions: loading and its errors, reload,
//! hashes, caches, session state, fail-closed evaluation and connect.

mod common;

use std::fs;
use std::path::Path;
use std::sync::Arc;

use portcullis_policy::{
    ColumnStatus, DenyReason, LoadError, MaskPlan, Outcome, PolicyEngine, PolicySnapshot,
    PolicySources, Principal,
};
use portcullis_sql::analyze;

fn write(dir: &Path, name: &str, text: &str) {
    fs::write(dir.join(name), text).expect("write policy file");
}

fn load_error(dir: &Path) -> LoadError {
    match PolicySnapshot::load(&common::sources(dir)) {
        Ok(_) => panic!("the policy set in {} loaded", dir.display()),
        Err(error) => error,
    }
}

const SSN_SELECT: &str = "SELECT mrn, ssn FROM patients";

#[test]
fn demo_policies_pass_check() {
    let dir = common::policy_dir(&[]);
    let snapshot = PolicySnapshot::load(&common::sources(dir.path())).expect("demo policies load");
    assert!(snapshot
        .policy_ids()
        .contains_key("clinician.ssn-last-four"));
    assert_eq!(
        snapshot
            .policy_ids()
            .get("clinician.ssn-last-four")
            .map(String::as_str),
        Some("clinician.cedar")
    );
    assert!(
        snapshot.warnings().is_empty(),
        "warnings: {:?}",
        snapshot.warnings()
    );
    assert!(snapshot
        .files()
        .iter()
        .any(|file| file == "catalogs/ehr.toml"));
    assert!(snapshot
        .files()
        .iter()
        .any(|file| file == "guardrails.toml"));
    assert_eq!(snapshot.policy_hash().len(), 64);
}

#[test]
fn hash_is_stable_and_covers_every_file() {
    let dir = common::policy_dir(&[]);
    let first = PolicySnapshot::load(&common::sources(dir.path())).expect("load");
    let second = PolicySnapshot::load(&common::sources(dir.path())).expect("load");
    assert_eq!(first.policy_hash(), second.policy_hash());

    let catalog = dir.path().join("catalogs/ehr.toml");
    let text = fs::read_to_string(&catalog).expect("read catalog");
    fs::write(
        &catalog,
        text.replace("sex = []", "sex = [\"other_unique_id\"]"),
    )
    .expect("write catalog");
    let changed = PolicySnapshot::load(&common::sources(dir.path())).expect("load");
    assert_ne!(first.policy_hash(), changed.policy_hash());

    // The hash depends on contents, not on the directory's path.
    let other = common::policy_dir(&[]);
    let copy = PolicySnapshot::load(&common::sources(other.path())).expect("load");
    assert_eq!(first.policy_hash(), copy.policy_hash());
}

#[test]
fn validation_error_names_file_and_policy() {
    let dir = common::policy_dir(&[]);
    write(
        dir.path(),
        "broken.cedar",
        r#"@id("broken.first")
permit (principal, action == Portcullis::Action::"read", resource) when { resource.no_such_attribute == "x" };
@id("broken.second")
permit (principal, action == Portcullis::Action::"select", resource) when { principal.department == 7 };"#,
    );
    let error = load_error(dir.path());
    let LoadError::Validation(issues) = &error else {
        panic!("expected validation errors, got {error}");
    };
    assert_eq!(issues.len(), 2, "{error}");
    assert_eq!(issues[0].file, "broken.cedar");
    assert_eq!(issues[0].policy_id, "broken.first");
    assert_eq!(issues[1].policy_id, "broken.second");
    let message = error.to_string();
    assert!(message.starts_with("2 policy errors"), "{message}");
    assert!(
        message.contains("broken.cedar, policy broken.second"),
        "{message}"
    );
}

#[test]
fn policy_without_id_is_rejected() {
    let dir = common::policy_dir(&[]);
    write(
        dir.path(),
        "anonymous.cedar",
        r#"permit (principal, action == Portcullis::Action::"connect", resource);"#,
    );
    let message = load_error(dir.path()).to_string();
    assert!(
        message.contains("anonymous.cedar, policy anonymous.cedar#1: the policy has no @id"),
        "{message}"
    );
}

#[test]
fn parse_error_names_file() {
    let dir = common::policy_dir(&[]);
    write(
        dir.path(),
        "typo.cedar",
        "permit (principal, action, resource) when { ",
    );
    let error = load_error(dir.path());
    assert!(
        matches!(&error, LoadError::Parse { file, .. } if file == "typo.cedar"),
        "{error}"
    );
}

#[test]
fn mask_annotation_is_checked() {
    let cases = [
        (
            r#"@mask("blur") permit (principal, action == Portcullis::Action::"read", resource);"#,
            "invalid mask method `blur`",
        ),
        (
            r#"@mask("redact") forbid (principal, action == Portcullis::Action::"read", resource);"#,
            "only to permit",
        ),
        (
            r#"@mask("redact") permit (principal, action == Portcullis::Action::"select", resource);"#,
            "only on the read action",
        ),
    ];
    for (policy, expected) in cases {
        let dir = common::policy_dir(&[]);
        write(dir.path(), "mask.cedar", &format!("@id(\"mask\") {policy}"));
        let message = load_error(dir.path()).to_string();
        assert!(message.contains(expected), "{policy}: {message}");
        assert!(message.contains("mask.cedar, policy mask: "), "{message}");
    }
}

#[test]
fn duplicate_policy_id_is_rejected() {
    let dir = common::policy_dir(&[]);
    write(
        dir.path(),
        "again.cedar",
        r#"@id("clinician.read") permit (principal, action, resource);"#,
    );
    let message = load_error(dir.path()).to_string();
    // Files load in name order, so the second use is the one in clinician.cedar.
    assert!(message.contains("clinician.cedar, policy clinician.read: the id is already used by a policy in again.cedar"), "{message}");
}

#[test]
fn empty_directory_is_rejected() {
    let dir = tempfile::tempdir().expect("temporary directory");
    assert!(matches!(
        load_error(dir.path()),
        LoadError::NoPolicies { .. }
    ));
}

#[test]
fn unknown_phi_category_lists_valid_ones() {
    let dir = common::policy_dir(&[]);
    let catalog = dir.path().join("catalogs/ehr.toml");
    let text = fs::read_to_string(&catalog).expect("read catalog");
    fs::write(
        &catalog,
        text.replace("ssn = [\"ssn\"]", "ssn = [\"social_security\"]"),
    )
    .expect("write catalog");
    let message = load_error(dir.path()).to_string();
    assert!(message.contains("catalogs/ehr.toml"), "{message}");
    assert!(
        message.contains(
            "column ssn of table public.patients has unknown PHI category \"social_security\""
        ),
        "{message}"
    );
    assert!(
        message.contains("valid categories are: name, geographic, date,"),
        "{message}"
    );
    assert!(message.contains("psychotherapy_note"), "{message}");
}

#[test]
fn unqualified_catalog_table_is_rejected() {
    let dir = common::policy_dir(&[]);
    fs::write(
        dir.path().join("catalogs/ehr.toml"),
        "target = \"ehr\"\n[tables.patients]\ncolumns = { ssn = [\"ssn\"] }\n",
    )
    .expect("write catalog");
    let message = load_error(dir.path()).to_string();
    assert!(
        message.contains("write it as \"public.patients\""),
        "{message}"
    );
}

#[test]
fn catalog_entries_missing_from_database_warn() {
    let dir = common::policy_dir(&[]);
    let catalog = dir.path().join("catalogs/ehr.toml");
    let mut text = fs::read_to_string(&catalog).expect("read catalog");
    text.push_str("\n[tables.\"public.old_patients\".columns]\nssn = [\"ssn\"]\n");
    fs::write(
        &catalog,
        text.replace("deceased = []", "deceased = []\nnickname = [\"name\"]"),
    )
    .expect("write catalog");
    let snapshot = PolicySnapshot::load(&common::sources(dir.path())).expect("load");
    let warnings = snapshot.warnings().join("\n");
    assert!(
        warnings.contains("column nickname of public.patients, which the database does not have"),
        "{warnings}"
    );
    assert!(
        warnings.contains("table public.old_patients, which the database does not have"),
        "{warnings}"
    );
}

#[test]
fn guardrails_file_is_checked() {
    let dir = common::policy_dir(&[]);
    write(
        dir.path(),
        "guardrails.toml",
        "[[guardrails]]\ntarget = \"ehr\"\nmax_rows = 0\n",
    );
    assert!(load_error(dir.path()).to_string().contains("max_rows = 0"));
    write(
        dir.path(),
        "guardrails.toml",
        "[[guardrails]]\ntarget = \"ehr\"\ndeny_everything = true\n",
    );
    assert!(load_error(dir.path())
        .to_string()
        .contains("deny_everything"));
}

#[test]
fn reload_swaps_and_bad_set_keeps_old() {
    let dir = common::policy_dir(&["test_grants.cedar"]);
    let sources = common::sources(dir.path());
    let engine = PolicyEngine::load(&sources).expect("load");
    let (mut session, request) = common::session(&engine, "alice");
    let analysis = common::analysis_context();
    let before = engine.policy_hash();
    assert!(session.decide(SSN_SELECT, &analysis, &request).is_allowed());

    // A set that does not validate is rejected and the old one stays.
    write(
        dir.path(),
        "broken.cedar",
        "@id(\"broken\") permit (principal, action, resource) when { resource.nope };",
    );
    assert!(engine.reload(&sources).is_err());
    assert_eq!(engine.policy_hash(), before);
    assert_eq!(engine.generation(), 0);
    let decision = session.decide(SSN_SELECT, &analysis, &request);
    assert!(decision.is_allowed());
    assert_eq!(&*decision.policy_hash, before.as_str());

    // A valid set that forbids SSNs takes effect at the session's next statement.
    write(
        dir.path(),
        "broken.cedar",
        r#"@id("forbid-ssn") forbid (principal, action == Portcullis::Action::"read", resource) when { resource.phi.contains("ssn") };"#,
    );
    let report = engine.reload(&sources).expect("reload");
    assert_eq!(report.previous_hash, before);
    assert_ne!(report.hash, before);
    assert_eq!(report.generation, 1);
    let decision = session.decide(SSN_SELECT, &analysis, &request);
    assert!(!decision.is_allowed());
    assert_eq!(&*decision.policy_hash, report.hash.as_str());
    assert_eq!(
        decision.statements[0].determining_policies,
        vec!["forbid-ssn".to_owned()]
    );
    assert_eq!(session.policy_hash(), report.hash);
}

#[test]
fn reload_that_drops_target_denies_sessions() {
    let dir = common::policy_dir(&[]);
    let engine = PolicyEngine::load(&common::sources(dir.path())).expect("load");
    let (mut session, request) = common::session(&engine, "alice");
    fs::remove_file(dir.path().join("catalogs/ehr.toml")).expect("remove catalog");
    engine
        .reload(&PolicySources::new(dir.path(), Vec::new()))
        .expect("reload without targets");
    let decision = session.decide("SELECT 1", &common::analysis_context(), &request);
    let Some(DenyReason::SessionInvalid { message }) = &decision.reason else {
        panic!("expected an invalid session, got {:?}", decision.reason);
    };
    assert!(message.contains("reconnect"), "{message}");
}

#[test]
fn evaluation_error_fails_closed() {
    let dir = common::policy_dir(&[]);
    // Valid under strict validation, but overflows at run time for any now > 0.
    write(
        dir.path(),
        "overflow.cedar",
        r#"@id("overflow") permit (principal, action == Portcullis::Action::"read", resource) when { context.now + 9223372036854775807 > 0 };"#,
    );
    let engine = PolicyEngine::load(&common::sources(dir.path())).expect("load");
    let (mut session, request) = common::session(&engine, "alice");

    // clinician.read alone would allow first_name; the erroring policy denies it.
    let decision = session.decide(
        "SELECT first_name FROM patients",
        &common::analysis_context(),
        &request,
    );
    assert_eq!(decision.outcome, Outcome::Deny);

    let statement = &decision.statements[0];
    assert!(
        matches!(&statement.reason, Some(DenyReason::EvaluationFailed { resource, .. }) if resource == "public.patients.first_name"),
        "{:?}",
        statement.reason
    );
    assert!(
        statement
            .errors
            .iter()
            .any(|error| error.contains("overflow")),
        "{:?}",
        statement.errors
    );
    assert_eq!(
        statement.reason.as_ref().map(DenyReason::sqlstate),
        Some("XX000")
    );
}

#[test]
fn volatile_context_bounds_cache_to_one_second() {
    let dir = common::policy_dir(&[]);
    write(
        dir.path(),
        "window.cedar",
        r#"@id("until") forbid (principal, action == Portcullis::Action::"select", resource) when { context.now >= 1750000001 };"#,
    );
    let engine = PolicyEngine::load(&common::sources(dir.path())).expect("load");
    let (mut session, mut request) = common::session(&engine, "alice");
    let analysis = common::analysis_context();
    assert!(session.decide(SSN_SELECT, &analysis, &request).is_allowed());
    request.now += 1;
    assert!(!session.decide(SSN_SELECT, &analysis, &request).is_allowed());
}

#[test]
fn decision_cache_reuses_and_invalidates() {
    let (engine, _dir) = common::demo_engine();
    let (mut session, mut request) = common::session(&engine, "alice");
    let mut analysis = common::analysis_context();
    let first = session.decide(SSN_SELECT, &analysis, &request);
    let second = session.decide(SSN_SELECT, &analysis, &request);
    assert!(
        Arc::ptr_eq(&first, &second),
        "a repeated message is served from the cache"
    );

    // The time of day changes nothing the demo policies read within the hour.
    request.now += 30;
    assert!(Arc::ptr_eq(
        &first,
        &session.decide(SSN_SELECT, &analysis, &request)
    ));

    // A break-glass grant starts a new cache.
    request.via_break_glass = true;
    assert!(!Arc::ptr_eq(
        &first,
        &session.decide(SSN_SELECT, &analysis, &request)
    ));
    request.via_break_glass = false;

    // A different search path resolves names differently.
    analysis.search_path = vec!["pg_catalog".into(), "public".into()];
    let other = session.decide(SSN_SELECT, &analysis, &request);
    assert!(!Arc::ptr_eq(&first, &other));
    assert_eq!(first.statements, other.statements);
}

#[test]
fn execute_and_fetch_use_session_state() {
    let (engine, _dir) = common::demo_engine();
    let (mut session, request) = common::session(&engine, "alice");
    let mut analysis = common::analysis_context();

    let prepare = "PREPARE q(int) AS SELECT mrn, ssn FROM patients WHERE id = $1";
    let decision = session.decide(prepare, &analysis, &request);
    assert!(decision.is_allowed());
    for facts in decision.facts.iter() {
        analysis.apply_session_effect(facts);
    }
    let execute = session.decide("EXECUTE q(1)", &analysis, &request);
    assert!(execute.is_allowed(), "{:?}", execute.reason);
    assert_eq!(
        execute.statements[0].mask_plan.columns,
        vec![None, "partial:4".parse().ok()]
    );

    // EXECUTE is decided again each time: after a new PREPARE under the same
    // name, the same text reaches another decision.
    let deallocate = session.decide("DEALLOCATE q", &analysis, &request);
    for facts in deallocate.facts.iter() {
        analysis.apply_session_effect(facts);
    }
    let reprepare = session.decide(
        "PREPARE q(int) AS SELECT id FROM patients WHERE ssn = 'x'",
        &analysis,
        &request,
    );
    assert!(
        !reprepare.is_allowed(),
        "a PREPARE that filters on a masked column is denied"
    );
    let retry = session.decide("EXECUTE q(1)", &analysis, &request);
    assert!(
        !retry.is_allowed(),
        "EXECUTE of a statement never prepared through the gateway is denied"
    );

    let declare = session.decide(
        "DECLARE c CURSOR FOR SELECT ssn, first_name FROM patients",
        &analysis,
        &request,
    );
    for facts in declare.facts.iter() {
        analysis.apply_session_effect(facts);
    }
    let fetch = session.decide("FETCH 5 FROM c", &analysis, &request);
    assert!(fetch.is_allowed(), "{:?}", fetch.reason);
    assert_eq!(
        fetch.statements[0].mask_plan.columns,
        vec!["partial:4".parse().ok(), None]
    );
}

#[test]
fn connect_decisions() {
    let (engine, _dir) = common::demo_engine();
    let cases = [
        ("alice", true),
        ("bob", true),
        ("carol", true),
        ("erin", true),
        ("frank", true),
        ("dave", false),
        ("dave+jit", true),
        ("mallory", false),
    ];
    for (spec, allowed) in cases {
        let (mut session, request) = common::session(&engine, spec);
        let decision = session.connect(&request);
        assert_eq!(
            decision.is_allowed(),
            allowed,
            "{spec}: {:?}",
            decision.reason
        );
        assert_eq!(decision.statement_kind, "connect");
    }
}

#[test]
fn unknown_target_is_an_error() {
    let (engine, _dir) = common::demo_engine();
    let error = engine
        .session(common::principal("alice"), "billing-db")
        .expect_err("unknown target");
    assert!(
        error
            .to_string()
            .contains("target \"billing-db\" is not configured"),
        "{error}"
    );
}

#[test]
fn role_hierarchy_grants_parent_permissions() {
    let dir = common::policy_dir(&[]);
    let mut sources = common::sources(dir.path());
    sources
        .role_parents
        .insert("attending".into(), vec!["clinician".into()]);
    let engine = PolicyEngine::load(&sources).expect("load");
    let mut session = engine
        .session(Principal::new("grace", &["attending"]), "ehr")
        .expect("session");
    let decision = session.decide(SSN_SELECT, &common::analysis_context(), &common::request());
    assert!(decision.is_allowed(), "{:?}", decision.reason);
    assert_eq!(
        decision.statements[0].mask_plan.method(1),
        "partial:4".parse().ok()
    );
}

#[test]
fn roles_used_follow_role_hierarchy() {
    let dir = common::policy_dir(&[]);
    let mut sources = common::sources(dir.path());
    sources
        .role_parents
        .insert("attending".into(), vec!["clinician".into()]);
    let engine = PolicyEngine::load(&sources).expect("load");
    let mut session = engine
        .session(Principal::new("grace", &["attending", "guest"]), "ehr")
        .expect("session");
    let decision = session.decide(SSN_SELECT, &common::analysis_context(), &common::request());
    assert!(decision.is_allowed(), "{:?}", decision.reason);
    let ids = &decision.statements[0].determining_policies;
    assert!(ids.iter().any(|id| id == "clinician.ssn-last-four"), "{ids:?}");
    assert_eq!(session.roles_used(ids), vec!["attending".to_owned()]);
    assert!(session.roles_used(&["billing.select".to_owned()]).is_empty());
    assert!(session.roles_used(&["no-such-policy".to_owned()]).is_empty());
}

#[test]
fn most_revealing_mask_wins_and_unmasked_permit_shows() {
    let dir = common::policy_dir(&[]);
    write(
        dir.path(),
        "masks.cedar",
        r#"
@id("dob-null") @mask("null")
permit (principal in Portcullis::Role::"researcher", action == Portcullis::Action::"read", resource == Portcullis::Column::"ehr/public.patients.dob");
@id("dob-redact") @mask("redact")
permit (principal in Portcullis::Role::"researcher", action == Portcullis::Action::"read", resource == Portcullis::Column::"ehr/public.patients.dob");
@id("mrn-partial-2") @mask("partial:2")
permit (principal in Portcullis::Role::"researcher", action == Portcullis::Action::"read", resource == Portcullis::Column::"ehr/public.patients.mrn");
@id("mrn-partial-3") @mask("partial:3")
permit (principal in Portcullis::Role::"researcher", action == Portcullis::Action::"read", resource == Portcullis::Column::"ehr/public.patients.mrn");
@id("sex-unmasked")
permit (principal in Portcullis::Role::"researcher", action == Portcullis::Action::"read", resource == Portcullis::Column::"ehr/public.patients.first_name");
"#,
    );
    let engine = PolicyEngine::load(&common::sources(dir.path())).expect("load");
    let (mut session, request) = common::session(&engine, "carol");
    let analysis = common::analysis_context();
    let explanation = session.explain(
        "SELECT dob, mrn, first_name FROM patients",
        &analysis,
        &request,
    );
    let statement = &explanation.statements[0];
    let plan: Vec<String> = statement
        .decision
        .mask_plan
        .columns
        .iter()
        .map(|m| m.map(|m| m.to_string()).unwrap_or_default())
        .collect();
    // dob: year (from the demo) beats redact and null; mrn: partial:3 beats
    // partial:2 and token; first_name: the unmasked permit makes it visible.
    assert_eq!(plan, vec!["year", "partial:3", ""]);
    let first_name = statement
        .columns
        .iter()
        .find(|c| c.column == "public.patients.first_name")
        .expect("column");
    assert_eq!(first_name.status, ColumnStatus::Visible);
    let policies = &first_name.result.as_ref().expect("read result").policies;
    assert_eq!(
        policies,
        &vec![
            "researcher.token-identifiers".to_owned(),
            "sex-unmasked".to_owned()
        ]
    );
}

#[test]
fn decision_carries_audit_fields() {
    let (engine, _dir) = common::demo_engine();
    let (mut session, request) = common::session(&engine, "carol");
    let decision = session.decide(
        "SELECT mrn, sex FROM patients",
        &common::analysis_context(),
        &request,
    );
    let statement = &decision.statements[0];
    assert_eq!(statement.outcome, Outcome::Allow);
    assert_eq!(statement.statement_kind, "select");
    assert_eq!(
        statement.determining_policies,
        vec![
            "researcher.read-clinical",
            "researcher.select",
            "researcher.token-identifiers"
        ]
    );
    assert!(statement.errors.is_empty());
    assert_eq!(statement.max_rows, Some(1000));
    assert_eq!(statement.masked_columns.len(), 1);
    assert_eq!(statement.masked_columns[0].column, "public.patients.mrn");
    assert_eq!(&*statement.policy_hash, engine.policy_hash().as_str());

    let json = serde_json::to_value(&*decision).expect("decision serializes");
    assert_eq!(json["outcome"], "allow");
    assert_eq!(json["statements"][0]["mask_plan"]["columns"][0], "token");
    assert_eq!(json["statements"][0]["policy_hash"], engine.policy_hash());
}

#[test]
fn denial_reason_names_column_and_usage_not_values() {
    let (engine, _dir) = common::demo_engine();
    let (mut session, request) = common::session(&engine, "alice");
    let sql = "SELECT id FROM patients WHERE ssn = '900-41-1234'";
    let decision = session.decide(sql, &common::analysis_context(), &request);
    let reason = decision.reason.as_ref().expect("denied");
    let message = reason.to_string();
    assert_eq!(
        message,
        "column public.patients.ssn is masked for you (partial:4) and cannot be used in WHERE; \
         select it only as a plain result column"
    );
    assert!(!message.contains("900-41"));
    assert_eq!(reason.sqlstate(), "42501");
}

#[test]
fn guardrails_report_every_broken_rule() {
    let (engine, _dir) = common::demo_engine();
    let (mut session, request) = common::session(&engine, "alice");
    let explanation = session.explain(
        "CREATE INDEX ON clinical_notes (written_at)",
        &common::analysis_context(),
        &request,
    );
    let denials = &explanation.statements[0].denials;
    assert!(
        matches!(&denials[0], DenyReason::RelationDenied { .. }),
        "{denials:?}"
    );
    assert!(
        denials.iter().any(|d| matches!(
            d,
            DenyReason::Guardrail {
                rule: "deny_ddl",
                ..
            }
        )),
        "{denials:?}"
    );

    let (mut session, request) = common::session(&engine, "carol");
    let explanation = session.explain(
        "DELETE FROM diagnoses",
        &common::analysis_context(),
        &request,
    );
    let denials = &explanation.statements[0].denials;
    assert!(
        denials.iter().any(|d| matches!(
            d,
            DenyReason::Guardrail {
                rule: "read_only",
                ..
            }
        )),
        "{denials:?}"
    );
    assert_eq!(session.guardrails().and_then(|g| g.max_rows), Some(1000));
}

#[test]
fn read_only_denies_writing_functions() {
    let (engine, _dir) = common::demo_engine();
    let (mut session, request) = common::session(&engine, "carol");
    for sql in [
        "SELECT nextval('patients_id_seq')",
        "SELECT setval('patients_id_seq', 1)",
        "SELECT pg_notify('channel', 'payload')",
        "SELECT pg_advisory_lock(1)",
    ] {
        let explanation = session.explain(sql, &common::analysis_context(), &request);
        let denials = &explanation.statements[0].denials;
        assert!(
            denials.iter().any(|d| matches!(
                d,
                DenyReason::FunctionDenied { group: "writes", .. }
            )),
            "{sql}: {denials:?}"
        );
        assert!(
            denials.iter().any(|d| matches!(
                d,
                DenyReason::Guardrail {
                    rule: "read_only",
                    ..
                }
            )),
            "{sql}: {denials:?}"
        );
    }
}

#[test]
fn truncate_counts_as_delete_without_where() {
    let (engine, _dir) = common::demo_engine();
    let (mut session, request) = common::session(&engine, "bob");
    let explanation = session.explain("TRUNCATE claims", &common::analysis_context(), &request);
    let denials = &explanation.statements[0].denials;
    assert!(
        denials.iter().any(|d| matches!(
            d,
            DenyReason::Guardrail {
                rule: "deny_delete_without_where",
                ..
            }
        )),
        "{denials:?}"
    );
}

#[test]
fn unlisted_star_plan_is_open_ended() {
    let (engine, _dir) = common::demo_engine();
    let (mut session, request) = common::session(&engine, "alice");
    let decision = session.decide(
        "SELECT p.ssn, c.* FROM patients p, pg_class c",
        &common::analysis_context(),
        &request,
    );
    assert!(decision.is_allowed(), "{:?}", decision.reason);
    let plan = &decision.statements[0].mask_plan;
    assert_eq!(
        plan,
        &MaskPlan {
            columns: vec!["partial:4".parse().ok()],
            open_ended: true
        }
    );
    assert_eq!(plan.method(0), "partial:4".parse().ok());
    assert_eq!(plan.method(7), None);
}

#[test]
fn explain_prints_checks() {
    let (engine, _dir) = common::demo_engine();
    let (mut session, request) = common::session(&engine, "alice");
    let explanation = session.explain(
        "SELECT ssn FROM patients ORDER BY ssn",
        &common::analysis_context(),
        &request,
    );
    let text = explanation.to_string();
    assert!(
        text.contains("DENY: column public.patients.ssn is masked"),
        "{text}"
    );
    assert!(
        text.contains("public.patients  select  allow   clinician.select"),
        "{text}"
    );
    assert!(
        text.contains(
            "public.patients.ssn  output,order_by  masked(partial:4)  clinician.ssn-last-four"
        ),
        "{text}"
    );
    let json = serde_json::to_value(&explanation).expect("explanation serializes");
    assert_eq!(
        json["statements"][0]["columns"][0]["status"]["status"],
        "masked"
    );
    assert_eq!(
        json["statements"][0]["tables"][0]["status"]["status"],
        "checked"
    );
}

#[test]
fn explain_equals_decide_for_statement_facts() {
    let (engine, _dir) = common::demo_engine();
    let (mut session, request) = common::session(&engine, "carol");
    let analysis = common::analysis_context();
    for sql in [
        "SELECT * FROM patients",
        "SELECT reason FROM encounters",
        "SELECT set_config('a.b', 'c', false)",
    ] {
        for facts in analyze(sql, &analysis).expect("analysis") {
            let decision = session.decide_statement(&facts, &request);
            let explanation = session.explain_statement(&facts, &request);
            assert_eq!(decision, explanation.decision, "{sql}");
        }
    }
}
