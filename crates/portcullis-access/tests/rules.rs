//! The rules of just-in-time requests and break-glass, on a SQLite store with a
//! manual clock. The cases cover who may approve, how recent the approver's MFA must
//! be, how long a grant may last, and who may break the glass and close its review.

use std::sync::Arc;
use std::time::Duration;

use portcullis_access::{AccessError, AccessService, Actor, BreakGlassInput, NewRequest};
use portcullis_alert::Alerts;
use portcullis_audit::{generate_signing_key, AuditConfig, AuditLog, PayloadKey};
use portcullis_core::access::RequestState;
use portcullis_core::config::{AccessConfig, BreakGlassConfig, Config, RequestableRole};
use portcullis_core::{
    AccountKind, Clock, ManualClock, MasterKey, PasswordParams, Role, RoleGrant, RoleId, RoleName,
    TotpSecret, User, UserName,
};
use portcullis_store::accounts::{Accounts, AccountsConfig, NewAccount};
use portcullis_store::SqliteStore;
use tempfile::TempDir;
use time::OffsetDateTime;

const SOURCE: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

struct Person {
    user: User,
    password: String,
    secret: TotpSecret,
}

struct Harness {
    _dir: TempDir,
    clock: Arc<ManualClock>,
    accounts: Arc<Accounts>,
    service: AccessService,
}

impl Harness {
    async fn new() -> Harness {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store = Arc::new(SqliteStore::open(&dir.path().join("state.db")).await.expect("store"));
        // Whole seconds, so that stored microseconds compare equal.
        let start = OffsetDateTime::from_unix_timestamp(OffsetDateTime::now_utc().unix_timestamp()).expect("now");
        let clock = Arc::new(ManualClock::new(start));
        let config = AccountsConfig {
            password: PasswordParams {
                memory_kib: 64,
                iterations: 1,
                parallelism: 1,
            },
            ..AccountsConfig::default()
        };
        let accounts = Arc::new(Accounts::new(store, clock.clone(), &MasterKey::from_bytes([7; 32]), config).expect("accounts"));
        let audit = AuditLog::open(AuditConfig::new(dir.path().join("audit")), generate_signing_key(), PayloadKey::derive(&[7; 32]))
            .await
            .expect("audit log");
        let alerts = Alerts::start(&Config::default(), Some(audit.clone())).expect("alerts");

        let mut access = AccessConfig::default();
        access.roles.insert(
            "oncall".to_string(),
            RequestableRole {
                approvers: "approvers".to_string(),
                approvals: 2,
                max_duration: Duration::from_secs(3600),
            },
        );
        let break_glass = BreakGlassConfig {
            role: Some("emergency".to_string()),
            entitlement: Some("responders".to_string()),
            reviewers: "approvers".to_string(),
            max_duration: Duration::from_secs(3600),
        };
        let service = AccessService::new(accounts.clone(), audit, alerts, clock.clone(), access, break_glass)
            .with_config_targets(["clinic".to_string()]);
        let harness = Harness {
            _dir: dir,
            clock,
            accounts,
            service,
        };
        for role in ["oncall", "approvers", "emergency", "responders"] {
            harness.add_role(role).await;
        }
        harness
    }

    async fn add_role(&self, name: &str) {
        let role = Role {
            id: RoleId::new_random(),
            name: RoleName::new(name).expect("role name"),
            description: String::new(),
            created_at: self.clock.now(),
        };
        self.accounts.store().create_role(&role).await.expect("create role");
    }

    async fn person(&self, name: &str, roles: &[&str]) -> Person {
        let created = self
            .accounts
            .create_user(NewAccount {
                name: UserName::new(name).expect("user name"),
                kind: AccountKind::Human,
                display_name: name.to_string(),
                department: None,
                job_role: None,
            })
            .await
            .expect("create user");
        let store = self.accounts.store();
        for role in roles {
            let role = store.get_role_by_name(&RoleName::new(role).expect("name")).await.expect("get").expect("role");
            let grant = RoleGrant {
                user_id: created.user.id,
                role_id: role.id,
                granted_by: created.user.id,
                granted_at: self.clock.now(),
            };
            store.grant_role(&grant).await.expect("grant role");
        }
        let totp = totp_rs::TOTP::from_url(created.totp_uri.expose()).expect("otpauth URI");
        Person {
            user: created.user,
            password: created.one_time_password.expose().to_string(),
            secret: TotpSecret::from_bytes(totp.secret.clone()).expect("secret"),
        }
    }

    fn code(&self, person: &Person) -> String {
        portcullis_core::totp::code_at(&person.secret, self.clock.now()).expect("code")
    }

    /// Logs in with password and TOTP at the current time, then moves the clock to the
    /// next TOTP step so the next login is not a replay.
    async fn login(&self, person: &Person) -> Actor {
        let code = self.code(person);
        let issued = self
            .accounts
            .login(person.user.name.as_str(), &person.password, &code, SOURCE, None)
            .await
            .expect("login");
        self.clock.advance(Duration::from_secs(30));
        self.service.actor(issued.token.expose()).await.expect("actor")
    }

    fn new_request(&self, duration: Duration) -> NewRequest {
        NewRequest {
            role: "oncall".to_string(),
            target: Some("clinic".to_string()),
            duration,
            reason: "pager incident".to_string(),
        }
    }
}

#[tokio::test]
async fn two_approvals_grant_the_role() {
    let harness = Harness::new().await;
    let dave = harness.login(&harness.person("dave", &[]).await).await;
    let erin = harness.login(&harness.person("erin", &["approvers"]).await).await;
    let fay = harness.login(&harness.person("fay", &["approvers"]).await).await;

    let request = harness.service.create_request(&dave, harness.new_request(Duration::from_secs(1800))).await.expect("create");
    let after_first = harness.service.approve(&erin, request.id).await.expect("first approval");
    assert_eq!(after_first.request.state, RequestState::Pending);
    let repeat = harness.service.approve(&erin, request.id).await.expect_err("second approval by the same user");
    assert!(matches!(repeat, AccessError::AlreadyDecided { .. }), "{repeat}");

    let approved = harness.service.approve(&fay, request.id).await.expect("second approval");
    assert_eq!(approved.request.state, RequestState::Approved);
    let grant = approved.grant.expect("grant");
    assert_eq!(grant.ends_at - grant.starts_at, time::Duration::minutes(30));
    assert_eq!(grant.user_id, dave.user.id);
}

#[tokio::test]
async fn self_approval_rejected() {
    let harness = Harness::new().await;
    // Dave is an approver too, but not of his own request.
    let dave = harness.login(&harness.person("dave", &["approvers"]).await).await;
    let request = harness.service.create_request(&dave, harness.new_request(Duration::from_secs(600))).await.expect("create");
    let error = harness.service.approve(&dave, request.id).await.expect_err("self-approval");
    assert!(matches!(error, AccessError::SelfApproval { .. }), "{error}");
    let error = harness.service.deny(&dave, request.id).await.expect_err("self-denial");
    assert!(matches!(error, AccessError::SelfApproval { .. }), "{error}");
}

#[tokio::test]
async fn non_approver_rejected() {
    let harness = Harness::new().await;
    let dave = harness.login(&harness.person("dave", &[]).await).await;
    let mallory = harness.login(&harness.person("mallory", &["oncall"]).await).await;
    let request = harness.service.create_request(&dave, harness.new_request(Duration::from_secs(600))).await.expect("create");
    let error = harness.service.approve(&mallory, request.id).await.expect_err("non-approver");
    assert!(matches!(error, AccessError::NotApprover { .. }), "{error}");
    assert!(error.to_string().contains("does not hold role approvers"), "{error}");
}

#[tokio::test]
async fn stale_mfa_rejected() {
    let harness = Harness::new().await;
    let dave = harness.login(&harness.person("dave", &[]).await).await;
    let erin_person = harness.person("erin", &["approvers"]).await;
    let erin = harness.login(&erin_person).await;
    let request = harness.service.create_request(&dave, harness.new_request(Duration::from_secs(600))).await.expect("create");

    // The default window is 15 minutes; the token itself lives 8 hours.
    harness.clock.advance(Duration::from_secs(16 * 60));
    let error = harness.service.approve(&erin, request.id).await.expect_err("stale MFA");
    assert!(matches!(error, AccessError::MfaTooOld { .. }), "{error}");

    let fresh = harness.login(&erin_person).await;
    let view = harness.service.approve(&fresh, request.id).await.expect("fresh MFA approves");
    assert_eq!(view.decisions.len(), 1);
}

#[tokio::test]
async fn long_and_unlisted_requests_rejected() {
    let harness = Harness::new().await;
    let dave = harness.login(&harness.person("dave", &[]).await).await;
    let error = harness.service.create_request(&dave, harness.new_request(Duration::from_secs(3601))).await.expect_err("too long");
    assert!(matches!(error, AccessError::DurationTooLong { .. }), "{error}");
    let error = harness.service.create_request(&dave, harness.new_request(Duration::ZERO)).await.expect_err("zero");
    assert!(matches!(error, AccessError::ZeroDuration), "{error}");

    let mut unlisted = harness.new_request(Duration::from_secs(60));
    unlisted.role = "emergency".to_string();
    let error = harness.service.create_request(&dave, unlisted).await.expect_err("unlisted role");
    assert!(matches!(error, AccessError::NotRequestable { .. }), "{error}");

    let mut no_reason = harness.new_request(Duration::from_secs(60));
    no_reason.reason = "  ".to_string();
    let error = harness.service.create_request(&dave, no_reason).await.expect_err("no reason");
    assert!(matches!(error, AccessError::MissingReason), "{error}");
}

#[tokio::test]
async fn unanswered_request_expires() {
    let harness = Harness::new().await;
    let dave = harness.login(&harness.person("dave", &[]).await).await;
    let erin = harness.login(&harness.person("erin", &["approvers"]).await).await;
    let request = harness.service.create_request(&dave, harness.new_request(Duration::from_secs(600))).await.expect("create");

    // The default request_ttl is one hour.
    harness.clock.advance(Duration::from_secs(3600));
    let view = harness.service.show_request(&dave, request.id).await.expect("show");
    assert_eq!(view.request.state, RequestState::Expired);
    let error = harness.service.approve(&erin, request.id).await.expect_err("expired");
    assert!(matches!(error, AccessError::NotPending { state: RequestState::Expired, .. }), "{error}");
}

#[tokio::test]
async fn break_glass_requires_entitlement_and_review() {
    let harness = Harness::new().await;
    let responder = harness.person("rita", &["responders"]).await;
    let outsider = harness.person("otto", &[]).await;
    let reviewer = harness.login(&harness.person("erin", &["approvers"]).await).await;

    let input = |person: &Person, duration: Option<Duration>| BreakGlassInput {
        user: person.user.name.to_string(),
        password: person.password.clone(),
        totp: harness.code(person),
        source: SOURCE,
        role: None,
        target: None,
        duration,
        reason: "EHR outage, patient in ER".to_string(),
    };

    let error = harness.service.break_glass(input(&outsider, None)).await.expect_err("no entitlement");
    assert!(matches!(error, AccessError::NotEntitled { .. }), "{error}");
    harness.clock.advance(Duration::from_secs(30));

    let error = harness
        .service
        .break_glass(input(&responder, Some(Duration::from_secs(7200))))
        .await
        .expect_err("longer than max_duration");
    assert!(matches!(error, AccessError::DurationTooLong { .. }), "{error}");

    let issued = harness.service.break_glass(input(&responder, None)).await.expect("break glass");
    harness.clock.advance(Duration::from_secs(30));
    assert_eq!(issued.grant.ends_at - issued.grant.starts_at, time::Duration::hours(1));
    assert_eq!(issued.grant.role.as_str(), "emergency");
    let open = harness.service.open_reviews().await.expect("open reviews");
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].user, "rita");

    let rita = harness.login(&responder).await;
    let error = harness.service.close_review(&rita, issued.review.id, "fine").await.expect_err("self-review");
    assert!(matches!(error, AccessError::SelfReview { .. }), "{error}");
    harness.service.close_review(&reviewer, issued.review.id, "justified by the outage").await.expect("review");
    assert!(harness.service.open_reviews().await.expect("open reviews").is_empty());
}
