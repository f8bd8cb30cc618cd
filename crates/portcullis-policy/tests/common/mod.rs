//! The demo EHR database's relations, the demo policy set and the demo users,
//! shared by the integration tests and the benchmark.

#![allow(dead_code)]

use std::fs;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use portcullis_policy::{
    PolicyEngine, PolicySources, Principal, RequestContext, SessionPolicy, TableDef, TargetTables,
};
use portcullis_sql::AnalysisContext;

/// Describes the demo target's relations, with columns in table order, as
/// crates/portcullis/demo/schema.sql creates them, plus the view of
/// examples/demo/views.sql.
pub fn demo_tables() -> TargetTables {
    let mut tables = TargetTables::new("ehr");
    tables.tables = vec![
        TableDef::table("public", "departments", &["id", "code", "name"]),
        TableDef::table("public", "staff", &["id", "department_id", "first_name", "last_name", "role", "email"]),
        TableDef::table(
            "public",
            "patients",
            &[
                "id", "external_id", "mrn", "first_name", "last_name", "dob", "sex", "ssn", "address", "city", "state",
                "zip", "phone", "email", "deceased", "primary_department_id",
            ],
        ),
        TableDef::table(
            "public",
            "encounters",
            &["id", "patient_id", "department_id", "attending_staff_id", "admitted_at", "discharged_at", "acuity", "reason"],
        ),
        TableDef::table("public", "diagnoses", &["id", "encounter_id", "icd10_code", "description"]),
        TableDef::table("public", "medications", &["id", "encounter_id", "rxnorm_code", "drug", "dose"]),
        TableDef::table("public", "lab_results", &["id", "encounter_id", "loinc_code", "value", "unit", "resulted_at"]),
        TableDef::table(
            "public",
            "clinical_notes",
            &["id", "encounter_id", "author_staff_id", "note_type", "body", "written_at"],
        ),
        TableDef::table("public", "claims", &["id", "encounter_id", "cpt_code", "amount", "payer", "status"]),
        TableDef::view(
            "public",
            "clinical_notes_general",
            &["id", "encounter_id", "author_staff_id", "note_type", "body", "written_at"],
            "SELECT id, encounter_id, author_staff_id, note_type, body, written_at FROM public.clinical_notes \
             WHERE note_type NOT IN ('psychotherapy', 'substance_use')",
            &["public"],
        ),
        // Test-only: a view that shows SSNs, granted by tests/fixtures/test_grants.cedar.
        TableDef::view(
            "public",
            "patient_identity",
            &["id", "mrn", "ssn", "full_name"],
            "SELECT id, mrn, ssn, first_name || ' ' || last_name AS full_name FROM public.patients",
            &["public"],
        ),
    ];
    tables
}

/// Adds the tables of `pgbench -i`, which the benchmark's statements use, to `tables`.
pub fn with_pgbench(mut tables: TargetTables) -> TargetTables {
    tables.tables.extend([
        TableDef::table("public", "pgbench_accounts", &["aid", "bid", "abalance", "filler"]),
        TableDef::table("public", "pgbench_branches", &["bid", "bbalance", "filler"]),
        TableDef::table("public", "pgbench_tellers", &["tid", "bid", "tbalance", "filler"]),
        TableDef::table("public", "pgbench_history", &["tid", "bid", "aid", "delta", "mtime", "filler"]),
    ]);
    tables
}

pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Copies the demo policy directory and `extra` fixture files into a fresh
/// temporary directory.
pub fn policy_dir(extra: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    copy_dir(&crate_dir().join("examples/demo"), dir.path());
    for name in extra {
        let source = crate_dir().join("tests/fixtures").join(name);
        fs::copy(&source, dir.path().join(name)).expect("copy fixture");
    }
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("create directory");
    for entry in fs::read_dir(from).expect("read directory") {
        let entry = entry.expect("directory entry");
        let path = entry.path();
        let target = to.join(entry.file_name());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            fs::copy(&path, &target).expect("copy file");
        }
    }
}

pub fn sources(dir: &Path) -> PolicySources {
    PolicySources::new(dir, vec![demo_tables()])
}

/// The demo policy set with the test fixture views policy.
pub fn demo_engine() -> (PolicyEngine, tempfile::TempDir) {
    let dir = policy_dir(&["test_grants.cedar"]);
    let engine = match PolicyEngine::load(&sources(dir.path())) {
        Ok(engine) => engine,
        Err(error) => panic!("demo policy set does not load: {error}"),
    };
    (engine, dir)
}

pub fn analysis_context() -> AnalysisContext {
    AnalysisContext::new(
        Arc::new(demo_tables().to_sql_catalog(1)),
        vec!["public".into()],
    )
}

/// Returns a demo user by name: alice (clinician, cardiology), bob (billing), carol
/// (researcher), dave (dba), erin (security officer), frank (emergency),
/// mallory (no role).
pub fn principal(user: &str) -> Principal {
    let (roles, department, job_role): (&[&str], &str, &str) = match user {
        "alice" => (&["clinician"], "cardiology", "physician"),
        "bob" => (&["billing"], "billing", "billing_specialist"),
        "carol" => (&["researcher"], "research", "analyst"),
        "dave" => (&["dba"], "it", "database_administrator"),
        "erin" => (&["security_officer"], "compliance", "security_officer"),
        "frank" => (&["emergency"], "emergency", "physician"),
        _ => (&[], "", ""),
    };
    let mut principal = Principal::new(user, roles);
    principal.department = department.to_owned();
    principal.job_role = job_role.to_owned();
    principal
}

/// 2025-06-15 14:13:20 UTC.
pub const NOW: i64 = 1_750_000_000;

pub fn request() -> RequestContext {
    RequestContext {
        now: NOW,
        client_ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 5)),
        session_id: "session-1".to_owned(),
        via_jit: false,
        via_break_glass: false,
        mfa_age_seconds: 60,
    }
}

/// Starts a session for a user spec: a user name, with `+jit` or `+glass` for a
/// just-in-time or break-glass grant. Returns the session and its context.
pub fn session(engine: &PolicyEngine, spec: &str) -> (SessionPolicy, RequestContext) {
    let (user, grant) = spec.split_once('+').unwrap_or((spec, ""));
    let mut context = request();
    context.via_jit = grant == "jit";
    context.via_break_glass = grant == "glass";
    let session = match engine.session(principal(user), "ehr") {
        Ok(session) => session,
        Err(error) => panic!("session for {spec}: {error}"),
    };
    (session, context)
}
