//! Upgrading a database created by an older schema version.

use portcullis_core::scram::{DEFAULT_SCRAM_ITERATIONS, SCRAM_SALT_LEN};
use portcullis_core::{TokenHash, UserId};

use super::{human, name, TestDb};

const ALICE: &str = "6f1c1a3e-8a44-4c57-9a4e-0c3b1f0e2a11";
const BOB: &str = "0d7e5f7b-2b9e-4a0c-8f55-3c1d2e4f6a22";
const TOKEN: &str = "2a9b8c7d-6e5f-4a3b-9c1d-0e2f3a4b5c33";

/// Times in the old rows, in unix microseconds: 2030-01-01 and eight hours later.
const ISSUED_AT: i64 = 1_893_456_000_000_000;
const EXPIRES_AT: i64 = ISSUED_AT + 8 * 3_600_000_000;

pub async fn migration_0002_upgrades_existing_rows(db: TestDb) {
    let raw = db.raw().await;
    raw.apply_first_migration().await;
    let token_hash = [9u8; 32];
    raw.execute(&format!(
        "INSERT INTO users (id, name, kind, display_name, created_at) VALUES \
         ('{ALICE}', 'alice', 'human', 'Alice', {ISSUED_AT}), \
         ('{BOB}', 'bob', 'human', 'Bob', {ISSUED_AT}); \
         INSERT INTO tokens (id, user_id, hash, issued_at, expires_at, mfa_at) VALUES \
         ('{TOKEN}', '{ALICE}', {}, {ISSUED_AT}, {EXPIRES_AT}, {ISSUED_AT});",
        raw.bytes_literal(&token_hash)
    ))
    .await;
    raw.close().await;

    let store = db.open().await;
    let alice: UserId = ALICE.parse().expect("uuid");
    let bob: UserId = BOB.parse().expect("uuid");
    let mut salts = Vec::new();
    for user in [alice, bob] {
        let credentials = store
            .get_credentials(user)
            .await
            .expect("get credentials")
            .expect("user kept");
        assert_eq!(credentials.scram_iterations, DEFAULT_SCRAM_ITERATIONS);
        assert_ne!(credentials.scram_salt, [0; SCRAM_SALT_LEN]);
        salts.push(credentials.scram_salt);
    }
    assert_ne!(salts[0], salts[1], "each existing user gets its own salt");

    let old_token = store
        .get_token_by_hash(&TokenHash(token_hash))
        .await
        .expect("get token")
        .expect("token kept");
    assert_eq!(old_token.user_id, alice);
    let now = old_token.issued_at;
    let verifiers = store
        .scram_verifiers(&name("alice"), now)
        .await
        .expect("read verifiers")
        .expect("alice is enabled");
    assert_eq!(verifiers.salt, salts[0]);
    assert!(
        verifiers.tokens.is_empty(),
        "a token without SCRAM keys is left out"
    );

    store
        .create_user(&human("carol"))
        .await
        .expect("create a user after the upgrade");
    store.close().await;

    let reopened = db.open().await;
    let credentials = reopened
        .get_credentials(alice)
        .await
        .expect("get credentials")
        .expect("exists");
    assert_eq!(credentials.scram_salt, salts[0], "reopening keeps salts");
    reopened.close().await;
}

pub async fn insert_without_salt_rejected(db: TestDb) {
    let store = db.open().await;
    store.close().await;

    // Only the store's own insert supplies a salt; any other insert must fail rather
    // than leave a user with a shared placeholder salt.
    let raw = db.raw().await;
    let error = raw
        .try_execute(&format!(
            "INSERT INTO users (id, name, kind, display_name, created_at) \
             VALUES ('{ALICE}', 'alice', 'human', 'Alice', 0)"
        ))
        .await
        .expect_err("insert without salt");
    assert!(error.as_database_error().is_some(), "{error}");
    raw.close().await;
}
