//! Access requests, decisions, temporary grants and break-glass reviews.

use std::sync::Arc;

use portcullis_core::access::{
    AccessGrant, AccessRequest, BreakGlassReview, Decision, GrantSource, RequestDecision,
    RequestState,
};
use portcullis_core::{AccessRequestId, GrantId, ReviewId, Role, RoleId, RoleName, User};
use portcullis_store::{DecisionOutcome, Store};
use time::Duration;

use super::{human, TestDb, START};

struct People {
    store: Arc<dyn Store>,
    requester: User,
    first: User,
    second: User,
    role: Role,
}

async fn people(db: &TestDb) -> People {
    let store = db.open().await;
    let requester = store.create_user(&human("dave")).await.expect("dave");
    let first = store.create_user(&human("erin")).await.expect("erin");
    let second = store.create_user(&human("fay")).await.expect("fay");
    let role = Role {
        id: RoleId::new_random(),
        name: RoleName::new("oncall").expect("role name"),
        description: String::new(),
        created_at: START,
    };
    store.create_role(&role).await.expect("role");
    People {
        store,
        requester,
        first,
        second,
        role,
    }
}

fn request(people: &People) -> AccessRequest {
    AccessRequest {
        id: AccessRequestId::new_random(),
        requester_id: people.requester.id,
        role_id: people.role.id,
        role: people.role.name.clone(),
        target: Some("clinic".to_owned()),
        duration: std::time::Duration::from_secs(1800),
        reason: "incident 4711".to_owned(),
        state: RequestState::Pending,
        created_at: START,
        expires_at: START + Duration::hours(1),
    }
}

fn decision(request: &AccessRequest, approver: &User, decision: Decision, minutes: i64) -> RequestDecision {
    RequestDecision {
        request_id: request.id,
        approver_id: approver.id,
        decision,
        decided_at: START + Duration::minutes(minutes),
    }
}

pub async fn approvals_create_grant(db: TestDb) {
    let people = people(&db).await;
    let store = &people.store;
    let request = request(&people);
    store.insert_access_request(&request).await.expect("insert");
    assert_eq!(store.get_access_request(request.id).await.expect("get"), Some(request.clone()));

    let first = decision(&request, &people.first, Decision::Approve, 5);
    assert_eq!(
        store.decide_access_request(&first, 2).await.expect("first approval"),
        DecisionOutcome::AwaitingApprovals { approvals: 1, required: 2 }
    );
    assert_eq!(
        store.decide_access_request(&first, 2).await.expect("repeat"),
        DecisionOutcome::AlreadyDecided
    );

    let second = decision(&request, &people.second, Decision::Approve, 10);
    let DecisionOutcome::Approved(grant) = store.decide_access_request(&second, 2).await.expect("second approval") else {
        panic!("the second approval completes the request");
    };
    assert_eq!(grant.user_id, people.requester.id);
    assert_eq!(grant.source, GrantSource::Jit);
    assert_eq!(grant.starts_at, second.decided_at);
    assert_eq!(grant.ends_at, second.decided_at + Duration::minutes(30));
    assert_eq!(grant.request_id, Some(request.id));

    let stored = store.get_access_request(request.id).await.expect("get").expect("exists");
    assert_eq!(stored.state, RequestState::Approved);
    assert_eq!(store.list_request_decisions(request.id).await.expect("decisions").len(), 2);
    assert_eq!(store.get_request_grant(request.id).await.expect("grant"), Some(grant.clone()));

    let during = START + Duration::minutes(20);
    let active = store.list_active_grants(people.requester.id, during).await.expect("active");
    assert_eq!(active, vec![grant.clone()]);
    let after = START + Duration::minutes(41);
    assert!(store.list_active_grants(people.requester.id, after).await.expect("after").is_empty());

    let late = decision(&request, &people.requester, Decision::Approve, 15);
    assert_eq!(
        store.decide_access_request(&late, 2).await.expect("late"),
        DecisionOutcome::NotPending(RequestState::Approved)
    );
}

pub async fn revoking_grant_marks_request(db: TestDb) {
    let people = people(&db).await;
    let store = &people.store;
    let request = request(&people);
    store.insert_access_request(&request).await.expect("insert");
    let approve = decision(&request, &people.first, Decision::Approve, 1);
    let DecisionOutcome::Approved(grant) = store.decide_access_request(&approve, 1).await.expect("approve") else {
        panic!("one approval is enough");
    };

    let at = START + Duration::minutes(2);
    assert!(store.revoke_grant(grant.id, people.first.id, at).await.expect("revoke"));
    assert!(!store.revoke_grant(grant.id, people.first.id, at).await.expect("repeat"));
    let revoked = store.get_grant(grant.id).await.expect("get").expect("exists");
    assert_eq!(revoked.revoked_at, Some(at));
    assert_eq!(revoked.revoked_by, Some(people.first.id));
    let stored = store.get_access_request(request.id).await.expect("get").expect("exists");
    assert_eq!(stored.state, RequestState::Revoked);
    assert!(store.list_active_grants(people.requester.id, at).await.expect("active").is_empty());
}

pub async fn denial_expiry_and_withdrawal(db: TestDb) {
    let people = people(&db).await;
    let store = &people.store;

    let denied = request(&people);
    store.insert_access_request(&denied).await.expect("insert");
    let deny = decision(&denied, &people.first, Decision::Deny, 1);
    assert_eq!(store.decide_access_request(&deny, 1).await.expect("deny"), DecisionOutcome::Denied);
    assert!(store.get_request_grant(denied.id).await.expect("grant").is_none());

    let overdue = request(&people);
    store.insert_access_request(&overdue).await.expect("insert");
    let late = decision(&overdue, &people.first, Decision::Approve, 61);
    assert_eq!(
        store.decide_access_request(&late, 1).await.expect("late"),
        DecisionOutcome::NotPending(RequestState::Expired)
    );

    let expiring = request(&people);
    store.insert_access_request(&expiring).await.expect("insert");
    let withdrawn = request(&people);
    store.insert_access_request(&withdrawn).await.expect("insert");
    assert!(store.withdraw_access_request(withdrawn.id).await.expect("withdraw"));
    assert!(!store.withdraw_access_request(withdrawn.id).await.expect("repeat"));

    let expired = store.expire_access_requests(START + Duration::hours(1)).await.expect("expire");
    assert_eq!(expired, vec![expiring.id]);
    let states: Vec<(AccessRequestId, RequestState)> = store
        .list_access_requests()
        .await
        .expect("list")
        .into_iter()
        .map(|request| (request.id, request.state))
        .collect();
    for (id, state) in [
        (denied.id, RequestState::Denied),
        (overdue.id, RequestState::Expired),
        (expiring.id, RequestState::Expired),
        (withdrawn.id, RequestState::Revoked),
    ] {
        assert!(states.contains(&(id, state)), "{id} should be {state}: {states:?}");
    }
}

pub async fn disabling_user_revokes_grants(db: TestDb) {
    let people = people(&db).await;
    let store = &people.store;
    let request = request(&people);
    store.insert_access_request(&request).await.expect("insert");
    let approve = decision(&request, &people.first, Decision::Approve, 1);
    let DecisionOutcome::Approved(grant) = store.decide_access_request(&approve, 1).await.expect("approve") else {
        panic!("one approval is enough");
    };

    let at = START + Duration::minutes(2);
    store.set_user_disabled(people.requester.id, true, at).await.expect("disable");
    let revoked = store.get_grant(grant.id).await.expect("get").expect("exists");
    assert_eq!(revoked.revoked_at, Some(at));
    assert_eq!(revoked.revoked_by, None);
    let stored = store.get_access_request(request.id).await.expect("get").expect("exists");
    assert_eq!(stored.state, RequestState::Revoked);

    store.set_user_disabled(people.requester.id, false, at).await.expect("enable");
    assert!(store.list_active_grants(people.requester.id, at).await.expect("active").is_empty());
}

pub async fn break_glass_review_lifecycle(db: TestDb) {
    let people = people(&db).await;
    let store = &people.store;
    let grant = AccessGrant {
        id: GrantId::new_random(),
        user_id: people.requester.id,
        role_id: people.role.id,
        role: people.role.name.clone(),
        target: None,
        source: GrantSource::BreakGlass,
        reason: "ransomware response".to_owned(),
        starts_at: START,
        ends_at: START + Duration::hours(1),
        revoked_at: None,
        revoked_by: None,
        request_id: None,
    };
    let review = BreakGlassReview {
        id: ReviewId::new_random(),
        grant_id: grant.id,
        opened_at: START,
        reviewed_by: None,
        reviewed_at: None,
        notes: None,
    };
    store.insert_break_glass_grant(&grant, &review).await.expect("insert");
    assert_eq!(store.get_grant(grant.id).await.expect("get"), Some(grant.clone()));
    assert_eq!(store.list_open_reviews().await.expect("open"), vec![(review.clone(), grant.clone())]);

    let at = START + Duration::hours(2);
    assert!(store.close_review(review.id, people.first.id, at, "justified").await.expect("close"));
    assert!(!store.close_review(review.id, people.first.id, at, "again").await.expect("repeat"));
    assert!(store.list_open_reviews().await.expect("open").is_empty());
    let (closed, _) = store.get_review(review.id).await.expect("get").expect("exists");
    assert_eq!(closed.reviewed_by, Some(people.first.id));
    assert_eq!(closed.reviewed_at, Some(at));
    assert_eq!(closed.notes.as_deref(), Some("justified"));
}
