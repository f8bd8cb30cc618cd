//! Calls to a target's user-defined functions need a `call_function` permit,
//! because their statements are invisible to the gateway.

mod common;

use std::fs;
use std::path::Path;

use portcullis_policy::{
    DenyReason, FunctionDef, Outcome, PolicyEngine, PolicySources, Decision,
};

/// The demo tables with `public.leak_ssn`, a function that could return
/// `patients.ssn` unmasked, and a wrapper named like the built-in `set_config`.
fn sources(dir: &Path) -> PolicySources {
    let mut tables = common::demo_tables();
    tables.functions = vec![
        FunctionDef::new("public", "leak_ssn"),
        FunctionDef::new("public", "portcullis_visible_departments"),
        FunctionDef::new("util", "set_config"),
    ];
    PolicySources::new(dir, vec![tables])
}

fn engine(dir: &Path) -> PolicyEngine {
    match PolicyEngine::load(&sources(dir)) {
        Ok(engine) => engine,
        Err(error) => panic!("policy set does not load: {error}"),
    }
}

fn decide(engine: &PolicyEngine, user: &str, sql: &str) -> Decision {
    let (mut session, request) = common::session(engine, user);
    let decision = session.decide(sql, &common::analysis_context(), &request);
    assert_eq!(decision.statements.len(), 1, "{sql}");
    decision.statements[0].clone()
}

#[test]
fn user_defined_call_denied_without_permit() {
    let dir = common::policy_dir(&[]);
    let engine = engine(dir.path());
    for (sql, written) in [
        ("SELECT leak_ssn(1)", "leak_ssn"),
        ("SELECT public.leak_ssn(1)", "public.leak_ssn"),
        ("SELECT other.leak_ssn(1)", "other.leak_ssn"),
        ("SELECT * FROM leak_ssn(1) AS t(ssn text)", "leak_ssn"),
        ("SELECT id FROM patients WHERE leak_ssn(id) IS NOT NULL", "leak_ssn"),
        ("SELECT portcullis_visible_departments()", "portcullis_visible_departments"),
    ] {
        let statement = decide(&engine, "alice", sql);
        assert_eq!(statement.outcome, Outcome::Deny, "{sql}");
        let entity = written.rsplit('.').next().unwrap_or(written);
        let expected = DenyReason::FunctionDenied {
            function: written.to_owned(),
            entity: entity.to_owned(),
            group: "user_defined",
        };
        assert_eq!(statement.reason.as_ref(), Some(&expected), "{sql}");
    }
}

#[test]
fn denial_message_names_function_and_permit() {
    let dir = common::policy_dir(&[]);
    let engine = engine(dir.path());
    let statement = decide(&engine, "alice", "SELECT public.leak_ssn(1)");
    let reason = statement.reason.expect("denied");
    assert_eq!(
        reason.to_string(),
        "permission denied: function public.leak_ssn is guarded (user defined) and your policies do not \
         permit calling it. Calling it needs a policy that permits call_function on \
         Portcullis::Function::\"leak_ssn\""
    );
    assert_eq!(reason.sqlstate(), "42501");
}

#[test]
fn statements_without_user_functions_still_allowed() {
    let dir = common::policy_dir(&[]);
    let engine = engine(dir.path());
    for sql in [
        "SELECT count(*) FROM patients",
        "SELECT lower(reason) FROM encounters",
        "SELECT current_setting('portcullis.department')",
    ] {
        let statement = decide(&engine, "alice", sql);
        assert_eq!(statement.outcome, Outcome::Allow, "{sql}: {:?}", statement.reason);
    }
}

#[test]
fn builtin_group_wins_over_user_defined() {
    let dir = common::policy_dir(&[]);
    let engine = engine(dir.path());
    let statement = decide(&engine, "alice", "SELECT util.set_config('a.b', 'c', false)");
    match statement.reason {
        Some(DenyReason::FunctionDenied { group, .. }) => assert_eq!(group, "settings"),
        other => panic!("expected a function denial, got {other:?}"),
    }
}

#[test]
fn permit_by_name_allows_only_that_function() {
    let dir = common::policy_dir(&[]);
    fs::write(
        dir.path().join("leak.cedar"),
        r#"@id("clinician.call-leak-ssn")
permit (
    principal in Portcullis::Role::"clinician",
    action == Portcullis::Action::"call_function",
    resource == Portcullis::Function::"leak_ssn"
);"#,
    )
    .expect("write policy file");
    let engine = engine(dir.path());

    let allowed = decide(&engine, "alice", "SELECT public.leak_ssn(1)");
    assert_eq!(allowed.outcome, Outcome::Allow, "{:?}", allowed.reason);
    assert!(
        allowed
            .determining_policies
            .contains(&"clinician.call-leak-ssn".to_owned()),
        "{:?}",
        allowed.determining_policies
    );

    let other = decide(&engine, "alice", "SELECT portcullis_visible_departments()");
    assert_eq!(other.outcome, Outcome::Deny);
    let bob = decide(&engine, "bob", "SELECT leak_ssn(1)");
    assert_eq!(bob.outcome, Outcome::Deny);
}

#[test]
fn permit_by_group_allows_every_user_function() {
    let dir = common::policy_dir(&[]);
    fs::write(
        dir.path().join("user_functions.cedar"),
        r#"@id("clinician.call-user-functions")
permit (
    principal in Portcullis::Role::"clinician",
    action == Portcullis::Action::"call_function",
    resource
)
when { resource.group == "user_defined" };"#,
    )
    .expect("write policy file");
    let engine = engine(dir.path());

    for sql in ["SELECT leak_ssn(1)", "SELECT portcullis_visible_departments()"] {
        let statement = decide(&engine, "alice", sql);
        assert_eq!(statement.outcome, Outcome::Allow, "{sql}: {:?}", statement.reason);
    }
    let settings = decide(&engine, "alice", "SELECT util.set_config('a.b', 'c', false)");
    assert_eq!(settings.outcome, Outcome::Deny);
}

#[test]
fn explain_lists_user_function_check() {
    let dir = common::policy_dir(&[]);
    let engine = engine(dir.path());
    let (mut session, request) = common::session(&engine, "alice");
    let explanation = session.explain("SELECT leak_ssn(1)", &common::analysis_context(), &request);
    let statement = &explanation.statements[0];
    assert_eq!(statement.functions.len(), 1);
    assert_eq!(statement.functions[0].function, "leak_ssn");
    assert_eq!(statement.functions[0].group, "user_defined");
    assert!(!statement.functions[0].result.allowed);
    let text = explanation.to_string();
    assert!(text.contains("leak_ssn  user_defined  deny"), "{text}");
}

#[test]
fn target_without_functions_checks_no_calls() {
    let dir = common::policy_dir(&[]);
    let engine = match PolicyEngine::load(&common::sources(dir.path())) {
        Ok(engine) => engine,
        Err(error) => panic!("policy set does not load: {error}"),
    };
    let statement = decide(&engine, "alice", "SELECT leak_ssn(1)");
    assert_eq!(statement.outcome, Outcome::Allow, "{:?}", statement.reason);
}

#[test]
fn permitted_set_config_still_denied() {
    let dir = common::policy_dir(&[]);
    fs::write(
        dir.path().join("settings.cedar"),
        r#"@id("clinician.call-settings")
permit (
    principal in Portcullis::Role::"clinician",
    action == Portcullis::Action::"call_function",
    resource
)
when { resource.group == "settings" };"#,
    )
    .expect("write policy file");
    let engine = engine(dir.path());

    for sql in [
        "SELECT set_config('search_path', 'research, public', false)",
        "SELECT pg_catalog.set_config('standard_conforming_strings', 'off', true)",
    ] {
        let statement = decide(&engine, "alice", sql);
        assert_eq!(statement.reason, Some(DenyReason::SettingsFunction), "{sql}");
    }
}
