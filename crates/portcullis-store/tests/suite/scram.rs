//! SCRAM verifiers of tokens: derived at login, returned only for live tokens of
//! enabled users.

use std::net::IpAddr;

use portcullis_core::scram::{derive_scram_keys, DEFAULT_SCRAM_ITERATIONS, SCRAM_SALT_LEN};
use portcullis_core::token::generate_token;
use portcullis_core::{Clock, TokenId, TokenRecord, UserId};
use portcullis_store::{Store, UserScramVerifiers};
use time::{Duration, OffsetDateTime};

use super::tokens::random_token;
use super::{human, name, Harness, TestDb, START};

const ADDRESS: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 7));

/// Reads the verifiers of a user that must exist and be enabled.
async fn verifiers_of(store: &dyn Store, user: &str, now: OffsetDateTime) -> UserScramVerifiers {
    store
        .scram_verifiers(&name(user), now)
        .await
        .expect("read verifiers")
        .expect("user exists and is enabled")
}

fn token_ids(verifiers: &UserScramVerifiers) -> Vec<TokenId> {
    verifiers
        .tokens
        .iter()
        .map(|token| token.token_id)
        .collect()
}

/// Inserts a token issued at `issued_at` whose SCRAM keys derive from its text with
/// the owner's salt, and returns the record and the text.
async fn insert_derived_token(
    store: &dyn Store,
    user: UserId,
    issued_at: OffsetDateTime,
    lifetime: Duration,
) -> (TokenRecord, String) {
    let credentials = store
        .get_credentials(user)
        .await
        .expect("get credentials")
        .expect("user exists");
    let (text, hash) = generate_token();
    let record = TokenRecord {
        hash,
        issued_at,
        expires_at: issued_at + lifetime,
        mfa_at: issued_at - Duration::minutes(5),
        ..random_token(user, lifetime)
    };
    let keys = derive_scram_keys(
        text.expose(),
        &credentials.scram_salt,
        credentials.scram_iterations,
    );
    store
        .insert_token(&record, &keys)
        .await
        .expect("insert token");
    (record, text.expose().to_owned())
}

pub async fn login_stores_derived_scram_keys(db: TestDb) {
    let h = Harness::new(&db).await;
    let (created, secret) = h.create_human("alice").await;
    let issued = h
        .accounts
        .login(
            "alice",
            created.one_time_password.expose(),
            &h.code(&secret),
            ADDRESS,
            None,
        )
        .await
        .expect("login");

    let verifiers = verifiers_of(h.store.as_ref(), "alice", h.clock.now()).await;
    assert_eq!(verifiers.user_id, created.user.id);
    assert_eq!(verifiers.iterations, DEFAULT_SCRAM_ITERATIONS);
    assert_eq!(token_ids(&verifiers), vec![issued.record.id]);

    let credentials = h
        .store
        .get_credentials(created.user.id)
        .await
        .expect("get credentials")
        .expect("exists");
    assert_eq!(verifiers.salt, credentials.scram_salt);
    assert_eq!(verifiers.iterations, credentials.scram_iterations);

    let token = &verifiers.tokens[0];
    assert_eq!(token.expires_at, issued.record.expires_at);
    assert_eq!(token.mfa_at, issued.record.mfa_at);
    let expected = derive_scram_keys(issued.token.expose(), &verifiers.salt, verifiers.iterations);
    assert_eq!(token.keys, expected);
}

pub async fn scram_verifiers_only_live_tokens(db: TestDb) {
    let store = db.open().await;
    let alice = store.create_user(&human("alice")).await.expect("alice");
    let bob = store.create_user(&human("bob")).await.expect("bob");
    let store = store.as_ref();

    let (older, older_text) =
        insert_derived_token(store, alice.id, START, Duration::hours(8)).await;
    let newer_at = START + Duration::minutes(1);
    let (newer, _) = insert_derived_token(store, alice.id, newer_at, Duration::hours(8)).await;
    let (short, _) = insert_derived_token(store, alice.id, START, Duration::hours(1)).await;
    let (revoked, _) = insert_derived_token(store, alice.id, START, Duration::hours(8)).await;
    insert_derived_token(store, bob.id, START, Duration::hours(8)).await;

    let now = START + Duration::minutes(30);
    assert!(store.revoke_token(revoked.id, now).await.expect("revoke"));

    let verifiers = verifiers_of(store, "alice", now).await;
    let mut expected_older = vec![older.id, short.id];
    expected_older.sort();
    let ids = token_ids(&verifiers);
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert_eq!(ids[0], newer.id, "newest first");
    let mut rest = ids[1..].to_vec();
    rest.sort();
    assert_eq!(rest, expected_older);

    let older_keys = verifiers
        .tokens
        .iter()
        .find(|token| token.token_id == older.id)
        .expect("older token listed");
    assert_eq!(
        older_keys.keys,
        derive_scram_keys(&older_text, &verifiers.salt, verifiers.iterations)
    );
    assert_eq!(older_keys.mfa_at, older.mfa_at);

    let after_short = START + Duration::hours(1);
    let ids = token_ids(&verifiers_of(store, "alice", after_short).await);
    assert_eq!(ids, vec![newer.id, older.id], "expired at exactly its end");

    let after_all = START + Duration::hours(9);
    assert!(verifiers_of(store, "alice", after_all)
        .await
        .tokens
        .is_empty());
}

pub async fn scram_verifiers_none_when_disabled(db: TestDb) {
    let store = db.open().await;
    let alice = store.create_user(&human("alice")).await.expect("alice");
    let now = START + Duration::minutes(1);

    let empty = verifiers_of(store.as_ref(), "alice", now).await;
    assert_eq!(empty.user_id, alice.id);
    assert!(empty.tokens.is_empty());

    insert_derived_token(store.as_ref(), alice.id, START, Duration::hours(8)).await;
    assert_eq!(
        verifiers_of(store.as_ref(), "alice", now)
            .await
            .tokens
            .len(),
        1
    );

    store
        .set_user_disabled(alice.id, true, now)
        .await
        .expect("disable");
    assert_eq!(
        store
            .scram_verifiers(&name("alice"), now)
            .await
            .expect("read"),
        None
    );

    store
        .set_user_disabled(alice.id, false, now)
        .await
        .expect("enable");
    let enabled = verifiers_of(store.as_ref(), "alice", now).await;
    assert!(enabled.tokens.is_empty(), "disabling revoked the token");

    assert_eq!(
        store
            .scram_verifiers(&name("mallory"), now)
            .await
            .expect("read"),
        None
    );
}

pub async fn users_get_distinct_salts(db: TestDb) {
    let store = db.open().await;
    let mut salts = Vec::new();
    for user in ["alice", "bob", "carol"] {
        let created = store.create_user(&human(user)).await.expect("create");
        let credentials = store
            .get_credentials(created.id)
            .await
            .expect("get")
            .expect("exists");
        assert_eq!(credentials.scram_iterations, DEFAULT_SCRAM_ITERATIONS);
        assert_ne!(credentials.scram_salt, [0; SCRAM_SALT_LEN], "{user}");
        salts.push(credentials.scram_salt);
    }
    salts.sort();
    salts.dedup();
    assert_eq!(salts.len(), 3);
}
