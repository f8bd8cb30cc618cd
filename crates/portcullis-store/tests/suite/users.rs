//! Users, credentials, the TOTP replay guard, metadata and migrations.

use portcullis_core::{AccountKind, MfaState, UserId};
use portcullis_store::{OwnerProblem, StoreError};
use time::Duration;

use super::tokens::{random_token, unused_keys};
use super::{human, name, service, TestDb, START};

pub async fn duplicate_user_name_rejected(db: TestDb) {
    let store = db.open().await;
    store
        .create_user(&human("alice"))
        .await
        .expect("first alice");

    let error = store
        .create_user(&human("alice"))
        .await
        .expect_err("second alice");
    assert!(
        matches!(&error, StoreError::Duplicate { entity: "user", name } if name == "alice"),
        "{error}"
    );
    assert_eq!(store.list_users().await.expect("list").len(), 1);
}

pub async fn service_owner_must_exist(db: TestDb) {
    let store = db.open().await;
    let missing = UserId::new_random();

    let error = store
        .create_user(&service("etl", missing))
        .await
        .expect_err("unknown owner");
    assert!(
        matches!(error, StoreError::InvalidOwner { owner, problem: OwnerProblem::NotFound } if owner == missing),
        "{error}"
    );
    assert!(store
        .get_user_by_name(&name("etl"))
        .await
        .expect("get")
        .is_none());
}

pub async fn service_owner_must_be_human(db: TestDb) {
    let store = db.open().await;
    let alice = store.create_user(&human("alice")).await.expect("alice");
    let etl = store
        .create_user(&service("etl", alice.id))
        .await
        .expect("service owned by a human");
    assert_eq!(etl.kind, AccountKind::Service { owner: alice.id });

    let error = store
        .create_user(&service("etl2", etl.id))
        .await
        .expect_err("service-account owner");
    assert!(
        matches!(
            error,
            StoreError::InvalidOwner {
                problem: OwnerProblem::ServiceAccount,
                ..
            }
        ),
        "{error}"
    );
}

pub async fn service_owner_must_be_enabled(db: TestDb) {
    let store = db.open().await;
    let alice = store.create_user(&human("alice")).await.expect("alice");
    store
        .set_user_disabled(alice.id, true, START)
        .await
        .expect("disable");

    let error = store
        .create_user(&service("etl", alice.id))
        .await
        .expect_err("disabled owner");
    assert!(
        matches!(
            error,
            StoreError::InvalidOwner {
                problem: OwnerProblem::Disabled,
                ..
            }
        ),
        "{error}"
    );
}

pub async fn user_fields_round_trip(db: TestDb) {
    let store = db.open().await;
    let mut new = human("bob");
    new.department = Some("oncology".to_owned());
    new.created_at = START + Duration::microseconds(123_456);
    let created = store.create_user(&new).await.expect("create");
    assert_eq!(
        created.mfa,
        MfaState::Totp {
            enrolled_at: new.created_at
        }
    );

    let by_id = store
        .get_user(created.id)
        .await
        .expect("get")
        .expect("exists");
    let by_name = store
        .get_user_by_name(&name("bob"))
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(by_id, created);
    assert_eq!(by_name, created);

    store
        .set_user_attributes(created.id, Some("radiology"), Some("technician"))
        .await
        .expect("attributes");
    let updated = store
        .get_user(created.id)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(updated.department.as_deref(), Some("radiology"));
    assert_eq!(updated.job_role.as_deref(), Some("technician"));

    store
        .set_password_hash(created.id, "$argon2id$new", true)
        .await
        .expect("password");
    let credentials = store
        .get_credentials(created.id)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(credentials.password_hash.as_deref(), Some("$argon2id$new"));
    assert!(credentials.password_change_required);
    assert_eq!(credentials.totp_secret_sealed, Some(vec![1; 45]));

    let missing = UserId::new_random();
    assert!(store.get_user(missing).await.expect("get").is_none());
    let error = store
        .set_user_attributes(missing, None, None)
        .await
        .expect_err("unknown user");
    assert!(
        matches!(error, StoreError::NotFound { entity: "user", .. }),
        "{error}"
    );
}

pub async fn disable_revokes_tokens(db: TestDb) {
    let store = db.open().await;
    let alice = store.create_user(&human("alice")).await.expect("alice");
    let bob = store.create_user(&human("bob")).await.expect("bob");
    for user in [alice.id, alice.id, bob.id] {
        store
            .insert_token(&random_token(user, Duration::hours(8)), &unused_keys())
            .await
            .expect("insert token");
    }

    let at = START + Duration::minutes(5);
    assert_eq!(
        store
            .set_user_disabled(alice.id, true, at)
            .await
            .expect("disable"),
        2
    );
    assert!(
        store
            .get_user(alice.id)
            .await
            .expect("get")
            .expect("exists")
            .disabled
    );
    assert!(store
        .list_active_tokens(alice.id, at)
        .await
        .expect("list")
        .is_empty());
    assert_eq!(
        store
            .list_active_tokens(bob.id, at)
            .await
            .expect("list")
            .len(),
        1
    );

    assert_eq!(
        store
            .set_user_disabled(alice.id, false, at)
            .await
            .expect("enable"),
        0
    );
    assert!(
        !store
            .get_user(alice.id)
            .await
            .expect("get")
            .expect("exists")
            .disabled
    );
    assert!(
        store
            .list_active_tokens(alice.id, at)
            .await
            .expect("list")
            .is_empty(),
        "enabling restores no token"
    );

    let error = store
        .set_user_disabled(UserId::new_random(), true, at)
        .await
        .expect_err("unknown user");
    assert!(matches!(error, StoreError::NotFound { .. }), "{error}");
}

pub async fn totp_step_replay_rejected(db: TestDb) {
    let store = db.open().await;
    let alice = store.create_user(&human("alice")).await.expect("alice");

    assert!(store
        .accept_totp_step(alice.id, 100)
        .await
        .expect("first use"));
    assert!(!store.accept_totp_step(alice.id, 100).await.expect("replay"));
    assert!(!store
        .accept_totp_step(alice.id, 99)
        .await
        .expect("older step"));
    assert!(store
        .accept_totp_step(alice.id, 101)
        .await
        .expect("next step"));
    assert_eq!(
        store
            .get_credentials(alice.id)
            .await
            .expect("get")
            .expect("exists")
            .totp_last_step,
        Some(101)
    );

    store
        .set_totp_secret(alice.id, Some(&[2; 45]), START)
        .await
        .expect("new secret");
    assert!(store
        .accept_totp_step(alice.id, 50)
        .await
        .expect("guard starts over with a new secret"));

    store
        .set_totp_secret(alice.id, None, START)
        .await
        .expect("clear secret");
    let cleared = store
        .get_user(alice.id)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(cleared.mfa, MfaState::NotEnrolled);
    assert!(!store
        .accept_totp_step(alice.id, 200)
        .await
        .expect("no secret"));
    assert!(!store
        .accept_totp_step(UserId::new_random(), 1)
        .await
        .expect("unknown user"));
}

pub async fn meta_round_trip(db: TestDb) {
    let store = db.open().await;
    assert_eq!(store.get_meta("instance").await.expect("get"), None);
    store.set_meta("instance", "a").await.expect("set");
    store.set_meta("instance", "b").await.expect("replace");
    assert_eq!(
        store.get_meta("instance").await.expect("get").as_deref(),
        Some("b")
    );
}

pub async fn migrations_idempotent_on_reopen(db: TestDb) {
    let first = db.open().await;
    let alice = first.create_user(&human("alice")).await.expect("alice");
    first
        .set_meta("schema-test", "kept")
        .await
        .expect("set meta");
    first.close().await;

    for _ in 0..2 {
        let reopened = db.open().await;
        assert_eq!(
            reopened
                .get_user(alice.id)
                .await
                .expect("get")
                .map(|user| user.name),
            Some(name("alice"))
        );
        assert_eq!(
            reopened
                .get_meta("schema-test")
                .await
                .expect("get")
                .as_deref(),
            Some("kept")
        );
        reopened.close().await;
    }
}
