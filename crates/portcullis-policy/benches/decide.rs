//! Decision latency on the demo policy set, plus a pgbench table.
//!
//! Run with `cargo bench -p portcullis-policy --bench decide`.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use portcullis_policy::{PolicyEngine, PolicySources, Principal};
use portcullis_sql::{analyze, AnalysisContext};

#[path = "../tests/common/mod.rs"]
mod common;

const PGBENCH_SELECT: &str = "SELECT abalance FROM pgbench_accounts WHERE aid = $1";

const BENCH_POLICY: &str = r#"
@id("bench.select")
permit (principal in Portcullis::Role::"bench", action == Portcullis::Action::"select",
        resource == Portcullis::Table::"ehr/public.pgbench_accounts");
@id("bench.read")
permit (principal in Portcullis::Role::"bench", action == Portcullis::Action::"read",
        resource in Portcullis::Table::"ehr/public.pgbench_accounts");
"#;

fn engine() -> (PolicyEngine, tempfile::TempDir) {
    let dir = common::policy_dir(&["test_grants.cedar"]);
    std::fs::write(dir.path().join("bench.cedar"), BENCH_POLICY).expect("write bench policy");
    let sources = PolicySources::new(
        dir.path(),
        vec![common::with_pgbench(common::demo_tables())],
    );
    let engine = PolicyEngine::load(&sources).expect("policies load");
    (engine, dir)
}

fn analysis_context() -> AnalysisContext {
    let catalog = common::with_pgbench(common::demo_tables()).to_sql_catalog(1);
    AnalysisContext::new(Arc::new(catalog), vec!["public".into()])
}

fn decide(c: &mut Criterion) {
    let (engine, _dir) = engine();
    let analysis = analysis_context();
    let request = common::request();
    let mut bench_session = engine
        .session(Principal::new("pgbench", &["bench"]), "ehr")
        .expect("session");
    assert!(bench_session
        .decide(PGBENCH_SELECT, &analysis, &request)
        .is_allowed());

    // A repeated message: one lookup in the decision cache.
    c.bench_function("pgbench select, repeated message", |b| {
        b.iter(|| bench_session.decide(black_box(PGBENCH_SELECT), &analysis, &request))
    });

    // Analyzed facts, with every per-session cache cold: a changed request
    // context (the just-in-time flag flips) means a new Cedar context and three
    // Cedar requests (select on the table, read on two columns). This is the
    // cost of a statement whose checks the session has not made in this hour.
    let facts = analyze(PGBENCH_SELECT, &analysis).expect("analysis");
    let statement = facts.first().expect("one statement").clone();
    let mut fresh = request.clone();
    c.bench_function("pgbench select, evaluation with cold caches", |b| {
        b.iter(|| {
            fresh.via_jit = !fresh.via_jit;
            bench_session.decide_statement(black_box(&statement), &fresh)
        })
    });

    // The same with warm caches: Cedar results are reused, the checks and the
    // explanation are built again.
    c.bench_function("pgbench select, evaluation with warm request cache", |b| {
        b.iter(|| bench_session.decide_statement(black_box(&statement), &request))
    });

    // A message seen for the first time: parse, analysis and evaluation with
    // cold caches.
    c.bench_function("pgbench select, analysis and cold evaluation", |b| {
        b.iter(|| {
            fresh.via_jit = !fresh.via_jit;
            let facts = analyze(black_box(PGBENCH_SELECT), &analysis).expect("analysis");
            facts
                .iter()
                .map(|facts| bench_session.decide_statement(facts, &fresh))
                .count()
        })
    });

    // A wide result with masks: 16 columns of patients for a clinician.
    let (mut alice, alice_request) = common::session(&engine, "alice");
    let wide = analyze("SELECT * FROM patients", &analysis).expect("analysis");
    let wide = wide.first().expect("one statement").clone();
    let mut fresh = alice_request.clone();
    c.bench_function("clinician select star, evaluation with cold caches", |b| {
        b.iter(|| {
            fresh.via_jit = !fresh.via_jit;
            alice.decide_statement(black_box(&wide), &fresh)
        })
    });

    // Session start: the user's entities on a copy of the resource entities,
    // and the user's policy slices.
    c.bench_function("session start", |b| {
        b.iter(|| {
            engine
                .session(common::principal(black_box("alice")), "ehr")
                .expect("session")
        })
    });
}

criterion_group!(benches, decide);
criterion_main!(benches);
