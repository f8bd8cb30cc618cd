//! Token records and login-failure records.

use std::net::IpAddr;
use std::sync::Arc;

use portcullis_core::token::generate_token;
use portcullis_core::{AttemptDecision, LockoutPolicy, ScramKeys, TokenId, TokenRecord, UserId};
use portcullis_store::StoreError;
use time::Duration;

use super::{human, TestDb, START};

/// Builds a token record for `user` issued at [`START`].
pub fn random_token(user: UserId, lifetime: Duration) -> TokenRecord {
    let (_, hash) = generate_token();
    TokenRecord {
        id: TokenId::new_random(),
        user_id: user,
        hash,
        issued_at: START,
        expires_at: START + lifetime,
        revoked_at: None,
        mfa_at: START,
        source_addr: Some(IpAddr::from([192, 0, 2, 7])),
    }
}

/// SCRAM keys for cases that do not authenticate with SCRAM.
pub fn unused_keys() -> ScramKeys {
    ScramKeys {
        stored_key: [1; 32],
        server_key: [2; 32],
    }
}

pub async fn token_expiry_and_revocation(db: TestDb) {
    let store = db.open().await;
    let alice = store.create_user(&human("alice")).await.expect("alice");
    let short = random_token(alice.id, Duration::hours(1));
    let long = random_token(alice.id, Duration::hours(8));
    let revoked = random_token(alice.id, Duration::hours(8));
    for token in [&short, &long, &revoked] {
        store
            .insert_token(token, &unused_keys())
            .await
            .expect("insert");
    }

    let found = store
        .get_token_by_hash(&long.hash)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(found, long);

    let at = START + Duration::minutes(10);
    assert!(store.revoke_token(revoked.id, at).await.expect("revoke"));
    assert!(!store
        .revoke_token(revoked.id, at)
        .await
        .expect("revoke twice"));
    assert!(!store
        .revoke_token(TokenId::new_random(), at)
        .await
        .expect("revoke unknown"));
    let stored = store
        .get_token_by_hash(&revoked.hash)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(stored.revoked_at, Some(at));

    let active_ids =
        |tokens: Vec<TokenRecord>| tokens.into_iter().map(|token| token.id).collect::<Vec<_>>();
    let mut expected = vec![short.id, long.id];
    expected.sort();
    let mut active = active_ids(store.list_active_tokens(alice.id, at).await.expect("list"));
    active.sort();
    assert_eq!(active, expected);
    let later = START + Duration::hours(2);
    assert_eq!(
        active_ids(
            store
                .list_active_tokens(alice.id, later)
                .await
                .expect("list")
        ),
        vec![long.id]
    );

    assert_eq!(store.delete_expired_tokens(later).await.expect("delete"), 1);
    assert!(store
        .get_token_by_hash(&short.hash)
        .await
        .expect("get")
        .is_none());
    assert_eq!(
        store
            .delete_expired_tokens(START + Duration::hours(9))
            .await
            .expect("delete"),
        2
    );
}

pub async fn token_for_unknown_user_rejected(db: TestDb) {
    let store = db.open().await;
    let error = store
        .insert_token(
            &random_token(UserId::new_random(), Duration::hours(1)),
            &unused_keys(),
        )
        .await
        .expect_err("no user");
    assert!(
        matches!(error, StoreError::NotFound { entity: "user", .. }),
        "{error}"
    );
}

const POLICY: LockoutPolicy = LockoutPolicy {
    max_failures: 3,
    window: std::time::Duration::from_secs(600),
    lockout: std::time::Duration::from_secs(900),
};

pub async fn lockout_counts_and_expires(db: TestDb) {
    let store = db.open().await;
    let key = "user:alice";
    assert_eq!(store.get_auth_failures(key).await.expect("get"), None);

    for minute in 0..2 {
        let record = store
            .record_auth_failure(key, &POLICY, START + Duration::minutes(minute))
            .await
            .expect("record");
        assert_eq!(record.locked_until, None);
    }
    let third = START + Duration::minutes(2);
    let record = store
        .record_auth_failure(key, &POLICY, third)
        .await
        .expect("record");
    assert_eq!(record.failures, 3);
    assert_eq!(record.window_started_at, START);
    let until = third + Duration::minutes(15);
    assert_eq!(record.locked_until, Some(until));

    let stored = store.get_auth_failures(key).await.expect("get");
    assert_eq!(stored.as_ref(), Some(&record));
    assert_eq!(
        POLICY.check(stored.as_ref(), until - Duration::seconds(1)),
        AttemptDecision::Locked { until }
    );
    assert_eq!(
        POLICY.check(stored.as_ref(), until),
        AttemptDecision::Allowed
    );

    let after = store
        .record_auth_failure(key, &POLICY, until)
        .await
        .expect("record after lockout");
    assert_eq!(after.failures, 1);
    assert_eq!(after.locked_until, None);

    assert_eq!(
        store
            .get_auth_failures("addr:192.0.2.7")
            .await
            .expect("get"),
        None,
        "keys are separate"
    );
    store.clear_auth_failures(key).await.expect("clear");
    assert_eq!(store.get_auth_failures(key).await.expect("get"), None);
}

pub async fn concurrent_failures_all_count(db: TestDb) {
    let store = db.open().await;
    let policy = LockoutPolicy {
        max_failures: 100,
        ..POLICY
    };
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                store
                    .record_auth_failure("addr:192.0.2.7", &policy, START)
                    .await
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task").expect("record");
    }
    let record = store
        .get_auth_failures("addr:192.0.2.7")
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(record.failures, 20);
}
