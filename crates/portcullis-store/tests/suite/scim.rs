//! SCIM user records, groups and group members.

use portcullis_store::{ScimGroup, ScimUserRecord, StoreError};
use uuid::Uuid;

use super::{human, TestDb, START};

pub async fn scim_user_upsert_and_unique(db: TestDb) {
    let store = db.open().await;
    let alice = store.create_user(&human("alice")).await.expect("alice");
    let bob = store.create_user(&human("bob")).await.expect("bob");
    assert_eq!(store.get_scim_user(alice.id).await.expect("get"), None);

    let mut record = ScimUserRecord {
        user_id: alice.id,
        user_name: "Alice@Example.com".to_owned(),
        external_id: Some("00u1".to_owned()),
        deleted_at: None,
    };
    store.upsert_scim_user(&record).await.expect("insert");
    assert_eq!(store.get_scim_user(alice.id).await.expect("get"), Some(record.clone()));

    record.external_id = None;
    record.deleted_at = Some(START);
    store.upsert_scim_user(&record).await.expect("update");
    assert_eq!(store.get_scim_user(alice.id).await.expect("get"), Some(record.clone()));

    let clash = ScimUserRecord {
        user_id: bob.id,
        user_name: "alice@example.COM".to_owned(),
        external_id: None,
        deleted_at: None,
    };
    let error = store.upsert_scim_user(&clash).await.expect_err("same userName in another case");
    assert!(matches!(error, StoreError::Duplicate { .. }), "{error}");
    assert_eq!(store.list_scim_users().await.expect("list").len(), 1);
}

pub async fn scim_groups_and_members(db: TestDb) {
    let store = db.open().await;
    let alice = store.create_user(&human("alice")).await.expect("alice");
    let bob = store.create_user(&human("bob")).await.expect("bob");
    let mut group = ScimGroup {
        id: Uuid::new_v4(),
        display_name: "Cardiology Clinicians".to_owned(),
        external_id: Some("grp-1".to_owned()),
        created_at: START,
    };
    store.create_scim_group(&group).await.expect("create");
    let duplicate = ScimGroup {
        id: Uuid::new_v4(),
        ..group.clone()
    };
    let error = store.create_scim_group(&duplicate).await.expect_err("duplicate name");
    assert!(matches!(error, StoreError::Duplicate { .. }), "{error}");

    assert!(store.add_scim_group_member(group.id, alice.id).await.expect("add"));
    assert!(!store.add_scim_group_member(group.id, alice.id).await.expect("add again"));
    assert!(store.add_scim_group_member(group.id, bob.id).await.expect("add bob"));
    assert_eq!(store.list_scim_group_members(group.id).await.expect("members").len(), 2);
    assert_eq!(store.list_user_scim_groups(alice.id).await.expect("groups"), vec![group.clone()]);

    assert!(store.remove_scim_group_member(group.id, alice.id).await.expect("remove"));
    assert!(!store.remove_scim_group_member(group.id, alice.id).await.expect("remove again"));
    assert_eq!(store.list_scim_group_members(group.id).await.expect("members"), vec![bob.id]);

    group.display_name = "Cardiology".to_owned();
    assert!(store.update_scim_group(&group).await.expect("rename"));
    assert_eq!(store.get_scim_group(group.id).await.expect("get"), Some(group.clone()));
    assert_eq!(store.list_scim_groups().await.expect("list"), vec![group.clone()]);

    assert!(store.delete_scim_group(group.id).await.expect("delete"));
    assert!(!store.delete_scim_group(group.id).await.expect("delete again"));
    assert_eq!(store.get_scim_group(group.id).await.expect("get"), None);
    assert!(store.list_user_scim_groups(bob.id).await.expect("groups").is_empty());
}
