//! The store test suite, run once against SQLite and once against PostgreSQL.
//!
//! Every case is an async function taking a fresh, empty [`suite::TestDb`]. The
//! SQLite run gives each case its own file in a temporary directory. The PostgreSQL
//! run starts one throwaway cluster and gives each case its own database, so the
//! PostgreSQL server binaries must be installed. Set `PORTCULLIS_STORE_CASE` to a substring of a
//! case name to run only matching cases.

mod suite;

use std::future::Future;
use std::pin::Pin;

use portcullis_cluster::Cluster;
use suite::TestDb;

type CaseFuture = Pin<Box<dyn Future<Output = ()> + Send>>;
type Case = (&'static str, fn(TestDb) -> CaseFuture);

macro_rules! cases {
    ($($case:path),* $(,)?) => {
        &[$((stringify!($case), |db: TestDb| -> CaseFuture { Box::pin($case(db)) })),*]
    };
}

const CASES: &[Case] = cases![
    suite::users::duplicate_user_name_rejected,
    suite::users::service_owner_must_exist,
    suite::users::service_owner_must_be_human,
    suite::users::service_owner_must_be_enabled,
    suite::users::user_fields_round_trip,
    suite::users::disable_revokes_tokens,
    suite::users::totp_step_replay_rejected,
    suite::users::meta_round_trip,
    suite::users::migrations_idempotent_on_reopen,
    suite::roles::roles_grant_revoke_list,
    suite::roles::grant_requires_existing_records,
    suite::tokens::token_expiry_and_revocation,
    suite::tokens::token_for_unknown_user_rejected,
    suite::tokens::lockout_counts_and_expires,
    suite::tokens::concurrent_failures_all_count,
    suite::login::created_user_can_log_in,
    suite::login::wrong_password_is_generic,
    suite::login::unknown_user_is_generic,
    suite::login::disabled_user_is_generic,
    suite::login::replayed_totp_rejected,
    suite::login::wrong_totp_rejected,
    suite::login::login_without_mfa_rejected,
    suite::login::user_lockout_and_expiry,
    suite::login::address_lockout_spans_names,
    suite::login::token_lifetime_default_and_cap,
    suite::login::token_expires_with_clock,
    suite::login::logout_revokes_token,
    suite::login::disable_user_revokes_tokens,
    suite::login::reset_mfa_replaces_secret,
    suite::login::reset_password_requires_change,
    suite::login::malformed_token_rejected,
    suite::login::token_for_named_user_checks_owner,
    suite::login::token_for_disabled_user_rejected,
    suite::scram::login_stores_derived_scram_keys,
    suite::scram::scram_verifiers_only_live_tokens,
    suite::scram::scram_verifiers_none_when_disabled,
    suite::scram::users_get_distinct_salts,
    suite::targets::targets_create_get_list_remove,
    suite::targets::duplicate_target_name_rejected,
    suite::targets::target_password_sealed_at_rest,
    suite::targets::target_fields_validated,
    suite::migrations::migration_0002_upgrades_existing_rows,
    suite::migrations::insert_without_salt_rejected,
    suite::access::approvals_create_grant,
    suite::access::revoking_grant_marks_request,
    suite::access::denial_expiry_and_withdrawal,
    suite::access::break_glass_review_lifecycle,
    suite::access::disabling_user_revokes_grants,
    suite::scim::scim_user_upsert_and_unique,
    suite::scim::scim_groups_and_members,
];

fn selected_cases() -> impl Iterator<Item = &'static Case> {
    let filter = std::env::var("PORTCULLIS_STORE_CASE").unwrap_or_default();
    CASES.iter().filter(move |(name, _)| name.contains(&filter))
}

/// Runs each case as its own task so that one failing case does not hide the others,
/// then fails with the list of failed cases.
fn run_all(backend: &str, mut next_db: impl FnMut(usize) -> TestDb) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("build tokio runtime");

    let mut failed = Vec::new();
    for (index, (name, case)) in selected_cases().enumerate() {
        let db = next_db(index);
        let outcome = runtime.block_on(runtime.spawn(case(db)));
        match outcome {
            Ok(()) => eprintln!("{backend}: {name} ... ok"),
            Err(_) => {
                eprintln!("{backend}: {name} ... FAILED");
                failed.push(*name);
            }
        }
    }
    assert!(
        failed.is_empty(),
        "{backend}: {} case(s) failed: {failed:#?}",
        failed.len()
    );
}

#[test]
fn sqlite_backend() {
    run_all("sqlite", |_| TestDb::sqlite());
}

#[test]
fn postgres_backend() {
    let cluster = Cluster::start().expect("start a throwaway PostgreSQL cluster");
    run_all("postgres", |index| {
        let database = format!("case_{index}");
        cluster
            .psql("postgres", &format!("CREATE DATABASE {database}"))
            .expect("create database");
        TestDb::postgres(cluster.superuser_url(&database))
    });
}
