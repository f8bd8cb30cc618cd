//! Loads the demo EHR database (crates/portcullis/demo) into a throwaway cluster and
//! checks its size, its fictional identifiers, its determinism and its row-level
//! security as the gateway role.

use std::time::{Duration, Instant};

use portcullis_cluster::Cluster;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls};

const SCHEMA: &str = include_str!("../../portcullis/demo/schema.sql");
const DATA: &str = include_str!("../../portcullis/demo/data.sql");
const RLS: &str = include_str!("../../portcullis/demo/rls.sql");

const GATEWAY_ROLE: &str = "portcullis_gateway";
const GATEWAY_PASSWORD: &str = "gateway-test-password";

/// Row counts of every table; exact, because the data is deterministic.
const EXPECTED_COUNTS: [(&str, i64); 9] = [
    ("departments", 8),
    ("staff", 120),
    ("patients", 5_000),
    ("encounters", 20_000),
    ("diagnoses", 39_767),
    ("medications", 20_240),
    ("lab_results", 50_046),
    ("clinical_notes", 29_953),
    ("claims", 29_996),
];

/// Tables that row-level security scopes to the session's departments.
const SCOPED_TABLES: [&str; 7] = [
    "patients",
    "encounters",
    "diagnoses",
    "medications",
    "lab_results",
    "clinical_notes",
    "claims",
];

async fn connect(url: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .unwrap_or_else(|error| panic!("connect: {error}"));
    tokio::spawn(connection);
    client
}

fn gateway_url(cluster: &Cluster, database: &str) -> String {
    format!(
        "postgres://{GATEWAY_ROLE}:{GATEWAY_PASSWORD}@{}:{}/{database}",
        cluster.host(),
        cluster.port()
    )
}

/// Creates `database` and loads the three demo files into it in one session, the way
/// `portcullis demo` does; returns how long loading took.
async fn load_demo(cluster: &Cluster, admin: &Client, database: &str) -> Duration {
    admin
        .batch_execute(&format!("CREATE DATABASE {database}"))
        .await
        .unwrap();
    let client = connect(&cluster.superuser_url(database)).await;
    let started = Instant::now();
    client
        .execute(
            "SELECT set_config('portcullis.gateway_password', $1, false)",
            &[&GATEWAY_PASSWORD],
        )
        .await
        .unwrap();
    for (file, sql) in [("schema.sql", SCHEMA), ("data.sql", DATA), ("rls.sql", RLS)] {
        client
            .batch_execute(sql)
            .await
            .unwrap_or_else(|error| panic!("loading {file} into {database}: {error:?}"));
    }
    let elapsed = started.elapsed();
    let leftover: String = client
        .query_one(
            "SELECT coalesce(current_setting('portcullis.gateway_password', true), '')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(leftover, "", "rls.sql must clear the password setting");
    elapsed
}

async fn count(client: &Client, sql: &str) -> i64 {
    client
        .query_one(sql, &[])
        .await
        .unwrap_or_else(|error| panic!("{sql}: {error}"))
        .get(0)
}

/// MD5 over the text of every row of each table, in id order.
async fn checksums(client: &Client) -> Vec<(&'static str, String)> {
    client
        .batch_execute(
            "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, MDY'; SET extra_float_digits = 1",
        )
        .await
        .unwrap();
    let mut checksums = Vec::new();
    for (table, _) in EXPECTED_COUNTS {
        let sql = format!(
            "SELECT md5(string_agg(t::text, E'\\n' ORDER BY t.id)) FROM public.{table} AS t"
        );
        checksums.push((table, client.query_one(&sql, &[]).await.unwrap().get(0)));
    }
    checksums
}

async fn visible_counts(client: &Client, department: Option<&str>) -> Vec<i64> {
    client
        .batch_execute("RESET portcullis.department")
        .await
        .unwrap();
    if let Some(department) = department {
        client
            .execute(
                "SELECT set_config('portcullis.department', $1, false)",
                &[&department],
            )
            .await
            .unwrap();
    }
    let mut counts = Vec::new();
    for table in SCOPED_TABLES {
        counts.push(count(client, &format!("SELECT count(*) FROM public.{table}")).await);
    }
    counts
}

/// Counts, as the owner, the rows that the departments with `codes` may see.
async fn expected_visible(admin: &Client, codes: &[&str]) -> Vec<i64> {
    let codes: Vec<String> = codes.iter().map(|code| code.to_string()).collect();
    let departments = "SELECT id FROM public.departments WHERE code = ANY($1)";
    let encounters =
        format!("SELECT id FROM public.encounters WHERE department_id IN ({departments})");
    let patients = format!(
        "SELECT count(*) FROM public.patients WHERE primary_department_id IN ({departments}) \
         OR id IN (SELECT patient_id FROM public.encounters WHERE department_id IN ({departments}))"
    );
    let mut counts = vec![admin.query_one(&patients, &[&codes]).await.unwrap().get(0)];
    let encounter_count =
        format!("SELECT count(*) FROM public.encounters WHERE department_id IN ({departments})");
    counts.push(
        admin
            .query_one(&encounter_count, &[&codes])
            .await
            .unwrap()
            .get(0),
    );
    for table in &SCOPED_TABLES[2..] {
        let sql =
            format!("SELECT count(*) FROM public.{table} WHERE encounter_id IN ({encounters})");
        counts.push(admin.query_one(&sql, &[&codes]).await.unwrap().get(0));
    }
    counts
}

#[tokio::test]
async fn demo_database_loads_and_scopes_rows() {
    let cluster = Cluster::start().expect("start a throwaway PostgreSQL cluster");
    let admin = connect(&cluster.superuser_url("postgres")).await;

    // Loading twice, into two databases, must produce identical rows.
    let first_load = load_demo(&cluster, &admin, "demo_first").await;
    let second_load = load_demo(&cluster, &admin, "demo_second").await;
    eprintln!("demo load took {first_load:?} and {second_load:?}");
    assert!(
        first_load < Duration::from_secs(30),
        "loading took {first_load:?}"
    );

    let owner = connect(&cluster.superuser_url("demo_first")).await;
    let second_owner = connect(&cluster.superuser_url("demo_second")).await;
    assert_eq!(
        checksums(&owner).await,
        checksums(&second_owner).await,
        "two loads differ"
    );

    check_counts(&owner).await;
    check_fictional_identifiers(&owner).await;
    check_gateway_role(&owner).await;

    let gateway = connect(&gateway_url(&cluster, "demo_first")).await;
    check_row_level_security(&owner, &gateway).await;
    check_gateway_writes(&gateway).await;
}

async fn check_counts(owner: &Client) {
    for (table, expected) in EXPECTED_COUNTS {
        assert_eq!(
            count(owner, &format!("SELECT count(*) FROM public.{table}")).await,
            expected,
            "{table}"
        );
    }
    let codes: Vec<String> = owner
        .query("SELECT code FROM public.departments ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    for required in [
        "cardiology",
        "oncology",
        "emergency",
        "psychiatry",
        "pediatrics",
    ] {
        assert!(
            codes.iter().any(|code| code == required),
            "department {required} missing"
        );
    }
    for note_type in ["progress", "discharge", "psychotherapy", "substance_use"] {
        let notes = count(
            owner,
            &format!("SELECT count(*) FROM public.clinical_notes WHERE note_type = '{note_type}'"),
        )
        .await;
        assert!(notes > 100, "only {notes} {note_type} notes");
    }
}

async fn check_fictional_identifiers(owner: &Client) {
    let with_ssn = count(
        owner,
        "SELECT count(*) FROM public.patients WHERE ssn IS NOT NULL",
    )
    .await;
    assert!(with_ssn > 4_500, "only {with_ssn} patients have an SSN");
    let outside_9xx = count(
        owner,
        r"SELECT count(*) FROM public.patients WHERE ssn !~ '^9\d{2}-\d{2}-\d{4}$'",
    )
    .await;
    assert_eq!(
        outside_9xx, 0,
        "SSNs must use the never-assigned 900-999 area numbers"
    );
    let irs_groups = count(
        owner,
        "SELECT count(*) FROM public.patients WHERE substr(ssn, 5, 2)::int NOT BETWEEN 40 AND 49",
    )
    .await;
    assert_eq!(
        irs_groups, 0,
        "SSN group numbers must avoid the ranges of IRS taxpayer numbers"
    );

    let real_phones = count(
        owner,
        r"SELECT count(*) FROM public.patients WHERE phone !~ '^\(\d{3}\) 555-01\d{2}$'",
    )
    .await;
    assert_eq!(
        real_phones, 0,
        "phone numbers must be in 555-0100 to 555-0199"
    );
    let other_domains = count(
        owner,
        "SELECT (SELECT count(*) FROM public.patients WHERE email NOT LIKE '%@example.org') \
              + (SELECT count(*) FROM public.staff WHERE email NOT LIKE '%@example.org')",
    )
    .await;
    assert_eq!(other_domains, 0, "e-mail addresses must use example.org");

    let restricted_zips = count(
        owner,
        "SELECT count(*) FROM public.patients WHERE left(zip, 3) IN \
         ('036','059','063','102','203','556','692','790','821','823','830','831','878','879','884','890','893')",
    )
    .await;
    assert!(
        restricted_zips > 100,
        "only {restricted_zips} patients in restricted ZIP prefixes"
    );

    let born_after_visit = count(
        owner,
        "SELECT count(*) FROM public.encounters e JOIN public.patients p ON p.id = e.patient_id \
         WHERE e.admitted_at < p.dob",
    )
    .await;
    assert_eq!(born_after_visit, 0);
}

async fn check_gateway_role(owner: &Client) {
    let row = owner
        .query_one(
            "SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb, rolcanlogin FROM pg_roles WHERE rolname = $1",
            &[&GATEWAY_ROLE],
        )
        .await
        .unwrap();
    let flags: (bool, bool, bool, bool, bool) =
        (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
    assert_eq!(
        flags,
        (false, false, false, false, true),
        "superuser, bypassrls, createrole, createdb, login"
    );

    let owned = count(
        owner,
        "SELECT count(*) FROM pg_tables WHERE tableowner = 'portcullis_gateway'",
    )
    .await;
    assert_eq!(
        owned, 0,
        "the gateway must not own tables, or row-level security would not apply to it"
    );
    let unprotected = count(
        owner,
        "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r' \
         AND NOT relrowsecurity AND relname NOT IN ('departments', 'staff')",
    )
    .await;
    assert_eq!(
        unprotected, 0,
        "every table with patient data has row-level security"
    );
}

async fn check_row_level_security(owner: &Client, gateway: &Client) {
    let nothing = vec![0; SCOPED_TABLES.len()];
    assert_eq!(
        visible_counts(gateway, None).await,
        nothing,
        "unset department"
    );
    assert_eq!(
        visible_counts(gateway, Some("")).await,
        nothing,
        "empty department"
    );
    assert_eq!(
        visible_counts(gateway, Some("billing")).await,
        nothing,
        "unknown department"
    );
    assert_eq!(
        count(gateway, "SELECT count(*) FROM public.departments").await,
        8
    );
    assert_eq!(
        count(gateway, "SELECT count(*) FROM public.staff").await,
        120
    );

    for department in ["cardiology", "psychiatry", "pediatrics"] {
        let visible = visible_counts(gateway, Some(department)).await;
        let expected = expected_visible(owner, &[department]).await;
        assert_eq!(visible, expected, "{department}");
        assert!(
            visible.iter().all(|&rows| rows > 0),
            "{department} sees rows in every table: {visible:?}"
        );
        assert!(
            visible[1] < 20_000,
            "{department} sees only some encounters"
        );
        let foreign = count(
            gateway,
            &format!(
                "SELECT count(*) FROM public.encounters WHERE department_id <> \
                 (SELECT id FROM public.departments WHERE code = '{department}')"
            ),
        )
        .await;
        assert_eq!(
            foreign, 0,
            "{department} sees another department's encounters"
        );
    }

    let two = visible_counts(gateway, Some("cardiology,emergency")).await;
    assert_eq!(
        two,
        expected_visible(owner, &["cardiology", "emergency"]).await
    );

    let all = visible_counts(gateway, Some("*")).await;
    let totals: Vec<i64> = SCOPED_TABLES
        .iter()
        .map(|table| {
            EXPECTED_COUNTS
                .iter()
                .find(|(name, _)| name == table)
                .map(|(_, rows)| *rows)
                .unwrap()
        })
        .collect();
    assert_eq!(all, totals, "`*` sees every row");

    // The owner bypasses row-level security whatever the setting.
    owner
        .batch_execute("RESET portcullis.department")
        .await
        .unwrap();
    assert_eq!(
        count(owner, "SELECT count(*) FROM public.encounters").await,
        20_000
    );
}

async fn check_gateway_writes(gateway: &Client) {
    gateway
        .batch_execute("SET portcullis.department = 'cardiology'")
        .await
        .unwrap();

    gateway.batch_execute("BEGIN").await.unwrap();
    let inserted = gateway
        .execute(
            "INSERT INTO public.clinical_notes (encounter_id, author_staff_id, note_type, body, written_at) \
             SELECT id, attending_staff_id, 'progress', 'Test note.', now() FROM public.encounters LIMIT 1",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(inserted, 1);
    gateway.batch_execute("ROLLBACK").await.unwrap();

    let foreign_encounter = gateway
        .batch_execute(
            "INSERT INTO public.encounters (patient_id, department_id, attending_staff_id, admitted_at, reason) \
             VALUES (1, (SELECT id FROM public.departments WHERE code = 'oncology'), 2, now(), 'Test')",
        )
        .await
        .expect_err("inserting into another department must fail");
    assert_eq!(
        foreign_encounter.code(),
        Some(&SqlState::INSUFFICIENT_PRIVILEGE),
        "{foreign_encounter:?}"
    );

    let delete = gateway
        .batch_execute("DELETE FROM public.claims")
        .await
        .expect_err("the gateway may not delete");
    assert_eq!(delete.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE));

    let ddl = gateway
        .batch_execute("ALTER TABLE public.patients DISABLE ROW LEVEL SECURITY")
        .await
        .expect_err("the gateway may not change the schema");
    assert_eq!(ddl.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE));
}
