//! Roles and role membership.

use portcullis_core::{Role, RoleGrant, RoleId, RoleName, UserId};
use portcullis_store::StoreError;
use time::Duration;

use super::{human, TestDb, START};

fn role(name: &str) -> Role {
    Role {
        id: RoleId::new_random(),
        name: RoleName::new(name).expect("valid role name"),
        description: format!("{name} role"),
        created_at: START,
    }
}

fn grant(user: UserId, role: &Role, by: UserId) -> RoleGrant {
    RoleGrant {
        user_id: user,
        role_id: role.id,
        granted_by: by,
        granted_at: START + Duration::minutes(1),
    }
}

pub async fn roles_grant_revoke_list(db: TestDb) {
    let store = db.open().await;
    let admin = store.create_user(&human("admin")).await.expect("admin");
    let alice = store.create_user(&human("alice")).await.expect("alice");
    let bob = store.create_user(&human("bob")).await.expect("bob");
    let nurse = role("nurse");
    let billing = role("billing");
    store.create_role(&nurse).await.expect("nurse");
    store.create_role(&billing).await.expect("billing");

    let error = store
        .create_role(&role("nurse"))
        .await
        .expect_err("duplicate role");
    assert!(
        matches!(&error, StoreError::Duplicate { entity: "role", name } if name == "nurse"),
        "{error}"
    );
    assert_eq!(
        store.list_roles().await.expect("list"),
        vec![billing.clone(), nurse.clone()]
    );
    assert_eq!(
        store.get_role_by_name(&nurse.name).await.expect("get"),
        Some(nurse.clone())
    );

    assert!(store
        .grant_role(&grant(alice.id, &nurse, admin.id))
        .await
        .expect("grant"));
    assert!(store
        .grant_role(&grant(alice.id, &billing, admin.id))
        .await
        .expect("grant"));
    assert!(store
        .grant_role(&grant(bob.id, &nurse, admin.id))
        .await
        .expect("grant"));
    assert!(!store
        .grant_role(&grant(bob.id, &nurse, alice.id))
        .await
        .expect("grant again"));

    let alice_roles = store.list_user_roles(alice.id).await.expect("list");
    let names: Vec<_> = alice_roles
        .iter()
        .map(|membership| membership.role.name.as_str())
        .collect();
    assert_eq!(names, ["billing", "nurse"]);
    assert_eq!(alice_roles[1].grant, grant(alice.id, &nurse, admin.id));

    let members = store.list_role_members(nurse.id).await.expect("members");
    let names: Vec<_> = members
        .iter()
        .map(|member| member.user.name.as_str())
        .collect();
    assert_eq!(names, ["alice", "bob"]);
    assert_eq!(
        members[1].grant.granted_by, admin.id,
        "a repeated grant keeps the first grant"
    );

    assert!(store.revoke_role(alice.id, nurse.id).await.expect("revoke"));
    assert!(!store
        .revoke_role(alice.id, nurse.id)
        .await
        .expect("revoke twice"));
    let names: Vec<_> = store
        .list_user_roles(alice.id)
        .await
        .expect("list")
        .into_iter()
        .map(|m| m.role.name)
        .collect();
    assert_eq!(names, vec![billing.name.clone()]);
    assert_eq!(
        store
            .list_role_members(nurse.id)
            .await
            .expect("members")
            .len(),
        1
    );
}

pub async fn grant_requires_existing_records(db: TestDb) {
    let store = db.open().await;
    let admin = store.create_user(&human("admin")).await.expect("admin");
    let nurse = role("nurse");
    store.create_role(&nurse).await.expect("nurse");

    let missing_user = UserId::new_random();
    let error = store
        .grant_role(&grant(missing_user, &nurse, admin.id))
        .await
        .expect_err("unknown user");
    assert!(
        matches!(&error, StoreError::NotFound { entity: "user", id } if *id == missing_user.to_string()),
        "{error}"
    );

    let error = store
        .grant_role(&grant(admin.id, &nurse, UserId::new_random()))
        .await
        .expect_err("unknown granter");
    assert!(
        matches!(error, StoreError::NotFound { entity: "user", .. }),
        "{error}"
    );

    let error = store
        .grant_role(&grant(admin.id, &role("ghost"), admin.id))
        .await
        .expect_err("unknown role");
    assert!(
        matches!(error, StoreError::NotFound { entity: "role", .. }),
        "{error}"
    );
}
