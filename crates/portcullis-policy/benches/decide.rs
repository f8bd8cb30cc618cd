//! Analysis plus decision per statement on the demo policy set, for the statements of
//! pgbench's select-only and TPC-B-like scripts and for queries of the demo personas.
//!
//! Each statement is measured twice:
//! - first check: a session that has just started the way the gateway starts one
//!   (built, then the `connect` action decided) parses, analyzes and decides the
//!   message, with every Cedar request evaluated. Starting and dropping the session
//!   are outside the measured time;
//! - repeated: the same session decides the same message again, which the decision
//!   cache answers.
//!
//! Run with `cargo bench -p portcullis-policy --bench decide`. BENCHMARKS.md records
//! the figures and the goal (median at most 20 µs for the pgbench statements).

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use portcullis_policy::{PolicyEngine, PolicySources, Principal, RequestContext, SessionPolicy};
use portcullis_sql::{analyze, AnalysisContext};

#[path = "../tests/common/mod.rs"]
mod common;

/// The statements of `pgbench -S` and of pgbench's built-in TPC-B-like script, as
/// pgbench sends them with `-M extended` (parameters as `$n`).
const PGBENCH_STATEMENTS: [(&str, &str); 5] = [
    ("select abalance", "SELECT abalance FROM pgbench_accounts WHERE aid = $1"),
    ("update accounts", "UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2"),
    ("update tellers", "UPDATE pgbench_tellers SET tbalance = tbalance + $1 WHERE tid = $2"),
    ("update branches", "UPDATE pgbench_branches SET bbalance = bbalance + $1 WHERE bid = $2"),
    (
        "insert history",
        "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES ($1, $2, $3, $4, CURRENT_TIMESTAMP)",
    ),
];

/// Queries of `portcullis demo`'s scenario, by persona.
const PERSONA_STATEMENTS: [(&str, &str, &str); 4] = [
    ("clinician masked ssn", "alice", "SELECT mrn, first_name, last_name, ssn FROM patients ORDER BY id LIMIT 3"),
    ("clinician select star", "alice", "SELECT * FROM patients"),
    (
        "billing claims join",
        "bob",
        "SELECT c.cpt_code, c.amount, p.first_name, p.last_name FROM claims c \
         JOIN encounters e ON e.id = c.encounter_id JOIN patients p ON p.id = e.patient_id ORDER BY c.id LIMIT 3",
    ),
    ("researcher safe harbor", "carol", "SELECT mrn, dob, zip FROM patients ORDER BY id LIMIT 3"),
];

/// Lets the role `bench` connect and run pgbench's statements, as the benchmark
/// target of bench/run.sh does.
const BENCH_POLICY: &str = r#"
@id("bench.connect")
permit (
    principal in Portcullis::Role::"bench",
    action == Portcullis::Action::"connect",
    resource == Portcullis::Target::"ehr"
);

@id("bench.pgbench")
permit (
    principal in Portcullis::Role::"bench",
    action in [Portcullis::Action::"select", Portcullis::Action::"update",
               Portcullis::Action::"insert", Portcullis::Action::"read"],
    resource
)
when {
    resource in Portcullis::Table::"ehr/public.pgbench_accounts" ||
    resource in Portcullis::Table::"ehr/public.pgbench_branches" ||
    resource in Portcullis::Table::"ehr/public.pgbench_tellers" ||
    resource in Portcullis::Table::"ehr/public.pgbench_history"
};
"#;

fn engine() -> (PolicyEngine, tempfile::TempDir) {
    let dir = common::policy_dir(&["test_grants.cedar"]);
    std::fs::write(dir.path().join("bench.cedar"), BENCH_POLICY).expect("write bench policy");
    let sources = PolicySources::new(dir.path(), vec![common::with_pgbench(common::demo_tables())]);
    let engine = PolicyEngine::load(&sources).expect("policies load");
    (engine, dir)
}

fn analysis_context() -> AnalysisContext {
    let catalog = common::with_pgbench(common::demo_tables()).to_sql_catalog(1);
    AnalysisContext::new(Arc::new(catalog), vec!["public".into()])
}

fn principal(user: &str) -> Principal {
    match user {
        "pgbench" => Principal::new("pgbench", &["bench"]),
        other => common::principal(other),
    }
}

/// Starts a session for `user` as the gateway does: builds it, then decides the
/// `connect` action with the same request context as the statements.
fn started_session(engine: &PolicyEngine, user: &str, request: &RequestContext) -> SessionPolicy {
    let mut session = engine.session(principal(user), "ehr").expect("session");
    let connect = session.connect(request);
    assert!(connect.is_allowed(), "{user} may not connect: {:?}", connect.reason);
    session
}

/// Measures the first check and the repeated check of `sql` for `user`.
fn bench_statement(
    c: &mut Criterion,
    label: &str,
    engine: &PolicyEngine,
    user: &str,
    sql: &str,
    analysis: &AnalysisContext,
    request: &RequestContext,
) {
    let new_session = || started_session(engine, user, request);
    let mut session = new_session();
    let decision = session.decide(sql, analysis, request);
    assert!(decision.is_allowed(), "{label}: the statement is denied: {:?}", decision.reason);

    c.bench_function(&format!("{label}, first check"), |b| {
        b.iter_batched_ref(
            new_session,
            |session| session.decide(black_box(sql), analysis, request),
            BatchSize::SmallInput,
        )
    });
    c.bench_function(&format!("{label}, repeated"), |b| {
        b.iter(|| session.decide(black_box(sql), analysis, request))
    });
}

fn decide(c: &mut Criterion) {
    let (engine, _dir) = engine();
    let analysis = analysis_context();
    let request = common::request();

    for (label, sql) in PGBENCH_STATEMENTS {
        bench_statement(c, &format!("pgbench {label}"), &engine, "pgbench", sql, &analysis, &request);
    }
    for (label, user, sql) in PERSONA_STATEMENTS {
        bench_statement(c, label, &engine, user, sql, &analysis, &request);
    }

    // The two parts of the pgbench select's first check, for the profile in
    // BENCHMARKS.md: parsing and analysis alone, then evaluation alone in a session
    // that has just started.
    let (_, select) = PGBENCH_STATEMENTS[0];
    c.bench_function("pgbench select abalance, analysis only", |b| {
        b.iter(|| analyze(black_box(select), &analysis).expect("analysis"))
    });
    let facts = Arc::new(analyze(select, &analysis).expect("analysis"));
    c.bench_function("pgbench select abalance, evaluation only, first check", |b| {
        b.iter_batched_ref(
            || started_session(&engine, "pgbench", &request),
            |session| session.decide_facts(Arc::clone(black_box(&facts)), &request),
            BatchSize::SmallInput,
        )
    });
    // Evaluation alone in one session whose request context changes every time (the
    // just-in-time flag flips), so no Cedar result is reused but the session's entities
    // and policy slices are. This isolates Cedar evaluation for a profiler.
    let mut session = engine.session(principal("pgbench"), "ehr").expect("session");
    let mut fresh = request.clone();
    c.bench_function("pgbench select abalance, evaluation only, new request context", |b| {
        b.iter(|| {
            fresh.via_jit = !fresh.via_jit;
            session.decide_facts(Arc::clone(black_box(&facts)), &fresh)
        })
    });

    // Session start: the user's entities on a copy of the resource entities, and the
    // user's policy slices. Not part of a statement's check.
    c.bench_function("session start", |b| {
        b.iter(|| engine.session(common::principal(black_box("alice")), "ehr").expect("session"))
    });
}

criterion_group!(benches, decide);
criterion_main!(benches);
