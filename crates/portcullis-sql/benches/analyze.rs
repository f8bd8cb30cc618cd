//! Statement analysis cost on the hot path: parsing alone, full analysis, and
//! a cache hit, for the pgbench statements and one larger healthcare query.
//!
//! Run with `cargo bench -p portcullis-sql --bench analyze`.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use portcullis_sql::{analyze, AnalysisContext, Catalog, StatementCache};

const PGBENCH_SELECT: &str = "SELECT abalance FROM pgbench_accounts WHERE aid = $1";
const PGBENCH_UPDATE: &str = "UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2";
const CLINICAL: &str = "WITH recent AS (SELECT patient_id, max(admitted_at) AS last_seen FROM encounters GROUP BY patient_id) \
    SELECT d.mrn, d.full_name, r.last_seen, (SELECT count(*) FROM clinical_notes n WHERE n.patient_id = d.id) AS notes \
    FROM patient_directory d JOIN recent r ON r.patient_id = d.id WHERE d.zip LIKE '021%' ORDER BY r.last_seen DESC LIMIT 50";

fn context() -> AnalysisContext {
    let mut catalog = Catalog::new(1);
    catalog.add_table(
        "public",
        "pgbench_accounts",
        &["aid", "bid", "abalance", "filler"],
    );
    catalog.add_table(
        "public",
        "patients",
        &[
            "id",
            "mrn",
            "first_name",
            "last_name",
            "dob",
            "ssn",
            "zip",
            "department_id",
        ],
    );
    catalog.add_table(
        "public",
        "encounters",
        &["id", "patient_id", "department_id", "admitted_at", "reason"],
    );
    catalog.add_table(
        "public",
        "clinical_notes",
        &["id", "patient_id", "note_type", "body"],
    );
    catalog.add_view(
        "public",
        "patient_directory",
        &["id", "mrn", "full_name", "zip"],
        "SELECT id, mrn, first_name || ' ' || last_name AS full_name, zip FROM patients",
        &["public"],
    );
    AnalysisContext::new(Arc::new(catalog), vec!["public".into()])
}

fn bench_analysis(c: &mut Criterion) {
    let ctx = context();
    for (name, sql) in [
        ("pgbench_select", PGBENCH_SELECT),
        ("pgbench_update", PGBENCH_UPDATE),
        ("clinical_view_cte", CLINICAL),
    ] {
        c.bench_function(&format!("pg_query_parse/{name}"), |b| {
            b.iter(|| pg_query::parse(black_box(sql), 0))
        });
        c.bench_function(&format!("analyze/{name}"), |b| {
            b.iter(|| analyze(black_box(sql), &ctx))
        });
        let mut cache = StatementCache::new(1024);
        c.bench_function(&format!("cache_hit/{name}"), |b| {
            b.iter(|| cache.analyze(black_box(sql), &ctx))
        });
    }
}

criterion_group!(benches, bench_analysis);
criterion_main!(benches);
