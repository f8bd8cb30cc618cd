//! Target databases and their sealed upstream passwords.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use portcullis_core::{
    ManualClock, MasterKey, SecretString, Target, TargetName, TargetTls, UserId,
};
use portcullis_store::targets::{NewTarget, TargetError, Targets};
use portcullis_store::{Store, StoreError};

use super::{human, TestDb, START};

const PASSWORD: &str = "upstream-Secret-7f3a";

fn target_name(text: &str) -> TargetName {
    TargetName::new(text).expect("valid target name")
}

/// Creates the target operations over `store` with the suite's master key.
fn targets(store: &Arc<dyn Store>) -> Targets {
    targets_with_key(store, &MasterKey::from_bytes([42; 32]))
}

fn targets_with_key(store: &Arc<dyn Store>, key: &MasterKey) -> Targets {
    Targets::new(store.clone(), Arc::new(ManualClock::new(START)), key)
}

fn new_target(name: &str) -> NewTarget {
    NewTarget {
        name: target_name(name),
        host: "db.example.internal".to_owned(),
        port: 5432,
        database: "ehr".to_owned(),
        user: "portcullis_gateway".to_owned(),
        password: SecretString::new(PASSWORD.to_owned()),
        tls: TargetTls::VerifyFull {
            ca_file: PathBuf::from("/etc/portcullis/ehr-ca.pem"),
        },
        idle_timeout: Some(Duration::from_secs(900)),
    }
}

pub async fn targets_create_get_list_remove(db: TestDb) {
    let store = db.open().await;
    let admin = store.create_user(&human("admin")).await.expect("admin");
    let targets = targets(&store);

    let ehr = targets
        .create(new_target("ehr-prod"), Some(admin.id))
        .await
        .expect("create ehr-prod");
    assert_eq!(ehr.created_at, START);
    assert_eq!(ehr.created_by, Some(admin.id));
    let billing = targets
        .create(
            NewTarget {
                port: 6432,
                tls: TargetTls::Disable,
                idle_timeout: Some(Duration::from_millis(1_500)),
                ..new_target("billing")
            },
            None,
        )
        .await
        .expect("create billing");
    let analytics = targets
        .create(
            NewTarget {
                tls: TargetTls::Require,
                idle_timeout: None,
                ..new_target("analytics")
            },
            None,
        )
        .await
        .expect("create analytics");

    let read = targets
        .credentials(&target_name("ehr-prod"))
        .await
        .expect("read ehr-prod")
        .expect("exists");
    assert_eq!(read.target, ehr);
    assert_eq!(read.password.expose(), PASSWORD);

    let listed = targets.list().await.expect("list");
    let names: Vec<&str> = listed.iter().map(|target| target.name.as_str()).collect();
    assert_eq!(names, ["analytics", "billing", "ehr-prod"]);
    assert_eq!(listed[0], analytics);
    assert_eq!(
        listed[1],
        Target {
            idle_timeout: Some(Duration::from_secs(2)),
            ..billing
        },
        "a fraction of a second is rounded up"
    );

    assert!(targets
        .remove(&target_name("billing"))
        .await
        .expect("remove"));
    assert!(!targets
        .remove(&target_name("billing"))
        .await
        .expect("remove twice"));
    assert!(targets
        .credentials(&target_name("billing"))
        .await
        .expect("read removed")
        .is_none());
    assert_eq!(targets.list().await.expect("list").len(), 2);
}

pub async fn duplicate_target_name_rejected(db: TestDb) {
    let store = db.open().await;
    let targets = targets(&store);
    targets
        .create(new_target("ehr-prod"), None)
        .await
        .expect("first");

    let error = targets
        .create(new_target("ehr-prod"), None)
        .await
        .expect_err("duplicate");
    assert!(
        matches!(
            &error,
            TargetError::Store(StoreError::Duplicate { entity: "target", name }) if name == "ehr-prod"
        ),
        "{error}"
    );
    assert_eq!(
        error.to_string(),
        "target `ehr-prod` already exists; choose another name"
    );
}

pub async fn target_password_sealed_at_rest(db: TestDb) {
    let store = db.open().await;
    let targets = targets(&store);
    targets
        .create(new_target("ehr-prod"), None)
        .await
        .expect("create ehr-prod");
    targets
        .create(
            NewTarget {
                password: SecretString::new("other-password".to_owned()),
                ..new_target("billing")
            },
            None,
        )
        .await
        .expect("create billing");

    let raw = db.raw().await;
    let sealed = raw
        .fetch_bytes("SELECT password_sealed FROM targets WHERE name = 'ehr-prod'")
        .await;
    assert_eq!(sealed.len(), 1);
    assert!(
        !sealed[0]
            .windows(PASSWORD.len())
            .any(|window| window == PASSWORD.as_bytes()),
        "sealed column contains the plaintext"
    );
    let stored = store
        .get_target_by_name(&target_name("ehr-prod"))
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(stored.password_sealed, sealed[0]);
    assert!(!format!("{stored:?}").contains(PASSWORD));
    let json = serde_json::to_string(&stored.target).expect("serialize");
    assert!(!json.contains(PASSWORD), "{json}");

    let foreign = targets_with_key(&store, &MasterKey::from_bytes([7; 32]));
    let error = foreign
        .credentials(&target_name("ehr-prod"))
        .await
        .expect_err("another master key");
    assert!(
        matches!(&error, TargetError::PasswordUnreadable { name, .. } if name == "ehr-prod"),
        "{error}"
    );
    assert!(!error.to_string().contains(PASSWORD), "{error}");

    // A sealed password copied to another target's row fails to open there, because
    // it is bound to the target id.
    raw.execute(
        "UPDATE targets SET password_sealed = \
         (SELECT password_sealed FROM targets WHERE name = 'ehr-prod') WHERE name = 'billing'",
    )
    .await;
    raw.close().await;
    let error = targets
        .credentials(&target_name("billing"))
        .await
        .expect_err("copied sealed password");
    assert!(
        matches!(error, TargetError::PasswordUnreadable { .. }),
        "{error}"
    );
}

pub async fn target_fields_validated(db: TestDb) {
    let store = db.open().await;
    let targets = targets(&store);

    let cases = [
        (
            NewTarget {
                host: " ".to_owned(),
                ..new_target("bad")
            },
            "host",
        ),
        (
            NewTarget {
                port: 0,
                ..new_target("bad")
            },
            "port",
        ),
        (
            NewTarget {
                database: String::new(),
                ..new_target("bad")
            },
            "database",
        ),
        (
            NewTarget {
                user: String::new(),
                ..new_target("bad")
            },
            "user",
        ),
        (
            NewTarget {
                idle_timeout: Some(Duration::ZERO),
                ..new_target("bad")
            },
            "idle_timeout",
        ),
    ];
    for (new, expected) in cases {
        let error = targets.create(new, None).await.expect_err(expected);
        assert!(
            matches!(error, TargetError::Invalid { field, .. } if field == expected),
            "{expected}: {error}"
        );
    }

    let error = targets
        .create(new_target("orphan"), Some(UserId::new_random()))
        .await
        .expect_err("unknown creator");
    assert!(
        matches!(
            error,
            TargetError::Store(StoreError::NotFound { entity: "user", .. })
        ),
        "{error}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;

        let path = std::ffi::OsStr::from_bytes(b"/etc/portcullis/\xff.pem");
        let error = targets
            .create(
                NewTarget {
                    tls: TargetTls::VerifyFull {
                        ca_file: PathBuf::from(path),
                    },
                    ..new_target("latin1")
                },
                None,
            )
            .await
            .expect_err("non-UTF-8 CA file path");
        assert!(
            matches!(
                error,
                TargetError::Store(StoreError::InvalidValue {
                    column: "ca_file",
                    ..
                })
            ),
            "{error}"
        );
    }
    assert!(targets.list().await.expect("list").is_empty());
}
