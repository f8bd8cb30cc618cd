//! Account flows: login, tokens, disabling, MFA and password resets.

use std::net::IpAddr;
use std::time::Duration;

use portcullis_core::{Clock, LockoutPolicy, MfaState};
use portcullis_store::accounts::{AccountsConfig, LoginError, TokenError};

use super::tokens::{random_token, unused_keys};
use super::{secret_from_uri, test_config, Harness, TestDb, START};

const ADDRESS: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 7));
const GENERIC: &str = "sign-in failed: invalid user name, password or one-time code";

pub async fn created_user_can_log_in(db: TestDb) {
    let h = Harness::new(&db).await;
    let (created, secret) = h.create_human("alice").await;
    assert!(created
        .totp_uri
        .expose()
        .starts_with("otpauth://totp/Portcullis:alice?secret="));
    assert_eq!(created.user.mfa, MfaState::Totp { enrolled_at: START });

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
    assert!(issued.password_change_required);
    assert_eq!(issued.user.id, created.user.id);
    assert_eq!(issued.record.mfa_at, START);
    assert_eq!(issued.record.source_addr, Some(ADDRESS));

    let authenticated = h
        .accounts
        .authenticate_token(issued.token.expose())
        .await
        .expect("authenticate");
    assert_eq!(authenticated.user().id, created.user.id);
    assert_eq!(authenticated.token().id, issued.record.id);
}

pub async fn wrong_password_is_generic(db: TestDb) {
    let h = Harness::new(&db).await;
    let (_, secret) = h.create_human("alice").await;

    let error = h
        .accounts
        .login("alice", "wrong", &h.code(&secret), ADDRESS, None)
        .await
        .expect_err("wrong password");
    assert!(matches!(error, LoginError::WrongPassword { .. }), "{error}");
    assert_eq!(error.client_message(), GENERIC);
}

pub async fn unknown_user_is_generic(db: TestDb) {
    let h = Harness::new(&db).await;

    let error = h
        .accounts
        .login("mallory", "guess", "123456", ADDRESS, None)
        .await
        .expect_err("unknown user");
    assert!(
        matches!(&error, LoginError::UnknownUser { name } if name == "mallory"),
        "{error}"
    );
    assert_eq!(error.client_message(), GENERIC);

    let error = h
        .accounts
        .login("Hunter2!", "guess", "123456", ADDRESS, None)
        .await
        .expect_err("invalid name");
    assert!(
        matches!(error, LoginError::InvalidName { length: 8 }),
        "{error}"
    );
    assert!(!error.to_string().contains("Hunter2!"), "{error}");
    assert_eq!(error.client_message(), GENERIC);
}

pub async fn disabled_user_is_generic(db: TestDb) {
    let h = Harness::new(&db).await;
    let (created, secret) = h.create_human("alice").await;
    h.accounts
        .disable_user(created.user.id)
        .await
        .expect("disable");

    let password = created.one_time_password.expose();
    let error = h
        .accounts
        .login("alice", password, &h.code(&secret), ADDRESS, None)
        .await
        .expect_err("disabled");
    assert!(matches!(error, LoginError::Disabled { .. }), "{error}");
    assert_eq!(error.client_message(), GENERIC);
}

pub async fn replayed_totp_rejected(db: TestDb) {
    let h = Harness::new(&db).await;
    let (created, secret) = h.create_human("alice").await;
    let password = created.one_time_password.expose();
    let code = h.code(&secret);
    h.accounts
        .login("alice", password, &code, ADDRESS, None)
        .await
        .expect("first login");

    h.clock.advance(Duration::from_secs(5));
    let error = h
        .accounts
        .login("alice", password, &code, ADDRESS, None)
        .await
        .expect_err("replay");
    assert!(matches!(error, LoginError::TotpReplayed { .. }), "{error}");
    assert_eq!(error.client_message(), GENERIC);

    h.next_step();
    h.accounts
        .login("alice", password, &h.code(&secret), ADDRESS, None)
        .await
        .expect("next step's code");
}

pub async fn wrong_totp_rejected(db: TestDb) {
    let h = Harness::new(&db).await;
    let (created, secret) = h.create_human("alice").await;
    let password = created.one_time_password.expose();

    let now = h.clock.now();
    let window: Vec<String> = [-30, 0, 30]
        .iter()
        .map(|offset| {
            portcullis_core::totp::code_at(&secret, now + time::Duration::seconds(*offset))
                .expect("code")
        })
        .collect();
    let wrong = ["000000", "000001", "000002", "000003"]
        .into_iter()
        .find(|candidate| !window.iter().any(|code| code == candidate))
        .expect("a code outside the window");
    let error = h
        .accounts
        .login("alice", password, wrong, ADDRESS, None)
        .await
        .expect_err("wrong code");
    assert!(matches!(error, LoginError::WrongTotp { .. }), "{error}");
    assert_eq!(error.client_message(), GENERIC);

    let old = h.code(&secret);
    h.clock.advance(Duration::from_secs(90));
    let error = h
        .accounts
        .login("alice", password, &old, ADDRESS, None)
        .await
        .expect_err("code outside window");
    assert!(matches!(error, LoginError::WrongTotp { .. }), "{error}");
}

pub async fn login_without_mfa_rejected(db: TestDb) {
    let h = Harness::new(&db).await;
    let (created, secret) = h.create_human("alice").await;
    h.store
        .set_totp_secret(created.user.id, None, START)
        .await
        .expect("clear MFA");

    let password = created.one_time_password.expose();
    let error = h
        .accounts
        .login("alice", password, &h.code(&secret), ADDRESS, None)
        .await
        .expect_err("no MFA");
    assert!(
        matches!(error, LoginError::MfaNotEnrolled { .. }),
        "{error}"
    );
    assert!(error
        .client_message()
        .contains("MFA is mandatory for every account with access to ePHI"));
}

pub async fn user_lockout_and_expiry(db: TestDb) {
    let config = AccountsConfig {
        user_lockout: LockoutPolicy {
            max_failures: 3,
            window: Duration::from_secs(600),
            lockout: Duration::from_secs(900),
        },
        ..test_config()
    };
    let h = Harness::with_config(&db, config).await;
    let (created, secret) = h.create_human("alice").await;
    let password = created.one_time_password.expose();

    for _ in 0..3 {
        h.accounts
            .login("alice", "wrong", "000000", ADDRESS, None)
            .await
            .expect_err("wrong password");
    }
    let locked_at = h.clock.now();
    let error = h
        .accounts
        .login("alice", password, &h.code(&secret), ADDRESS, None)
        .await
        .expect_err("locked");
    assert!(
        matches!(&error, LoginError::UserLocked { name, .. } if name == "alice"),
        "{error}"
    );
    assert!(
        error
            .client_message()
            .starts_with("too many failed sign-in attempts"),
        "{}",
        error.client_message()
    );

    h.clock.advance(Duration::from_secs(899));
    let error = h
        .accounts
        .login("alice", password, &h.code(&secret), ADDRESS, None)
        .await
        .expect_err("still locked");
    assert!(
        matches!(error, LoginError::UserLocked { until, .. } if until == locked_at + Duration::from_secs(900))
    );

    h.clock.advance(Duration::from_secs(1));
    h.accounts
        .login("alice", password, &h.code(&secret), ADDRESS, None)
        .await
        .expect("lockout over");
    assert_eq!(
        h.store.get_auth_failures("user:alice").await.expect("get"),
        None,
        "success clears the count"
    );
}

pub async fn address_lockout_spans_names(db: TestDb) {
    let config = AccountsConfig {
        address_lockout: LockoutPolicy {
            max_failures: 4,
            window: Duration::from_secs(600),
            lockout: Duration::from_secs(600),
        },
        ..test_config()
    };
    let h = Harness::with_config(&db, config).await;
    let (created, secret) = h.create_human("alice").await;

    for name in ["bob", "carol", "dave", "erin"] {
        h.accounts
            .login(name, "guess", "000000", ADDRESS, None)
            .await
            .expect_err("unknown user");
    }
    let password = created.one_time_password.expose();
    let error = h
        .accounts
        .login("alice", password, &h.code(&secret), ADDRESS, None)
        .await
        .expect_err("address locked");
    assert!(
        matches!(&error, LoginError::AddressLocked { key, .. } if key == "addr:192.0.2.7"),
        "{error}"
    );

    let other: IpAddr = "2001:db8::1".parse().expect("address");
    h.accounts
        .login("alice", password, &h.code(&secret), other, None)
        .await
        .expect("another address");
}

pub async fn token_lifetime_default_and_cap(db: TestDb) {
    let h = Harness::new(&db).await;
    let (created, secret) = h.create_human("alice").await;
    let password = created.one_time_password.expose();

    let default = h
        .accounts
        .login("alice", password, &h.code(&secret), ADDRESS, None)
        .await
        .expect("login");
    assert_eq!(
        default.record.expires_at - default.record.issued_at,
        time::Duration::hours(8)
    );

    h.next_step();
    let day = Some(Duration::from_secs(24 * 3600));
    let capped = h
        .accounts
        .login("alice", password, &h.code(&secret), ADDRESS, day)
        .await
        .expect("login");
    assert_eq!(
        capped.record.expires_at - capped.record.issued_at,
        time::Duration::hours(12)
    );

    h.next_step();
    let hour = Some(Duration::from_secs(3600));
    let short = h
        .accounts
        .login("alice", password, &h.code(&secret), ADDRESS, hour)
        .await
        .expect("login");
    assert_eq!(
        short.record.expires_at - short.record.issued_at,
        time::Duration::hours(1)
    );

    h.next_step();
    let zero = Some(Duration::ZERO);
    let error = h
        .accounts
        .login("alice", password, &h.code(&secret), ADDRESS, zero)
        .await
        .expect_err("zero");
    assert!(
        matches!(error, LoginError::InvalidLifetime { .. }),
        "{error}"
    );
}

pub async fn token_expires_with_clock(db: TestDb) {
    let h = Harness::new(&db).await;
    let (created, secret) = h.create_human("alice").await;
    let password = created.one_time_password.expose();
    let hour = Some(Duration::from_secs(3600));
    let issued = h
        .accounts
        .login("alice", password, &h.code(&secret), ADDRESS, hour)
        .await
        .expect("login");

    h.clock.advance(Duration::from_secs(3599));
    h.accounts
        .authenticate_token(issued.token.expose())
        .await
        .expect("still valid");
    h.clock.advance(Duration::from_secs(1));
    let error = h
        .accounts
        .authenticate_token(issued.token.expose())
        .await
        .expect_err("expired");
    assert!(
        matches!(error, TokenError::Expired(at) if at == issued.record.expires_at),
        "{error}"
    );
}

pub async fn logout_revokes_token(db: TestDb) {
    let h = Harness::new(&db).await;
    let (created, secret) = h.create_human("alice").await;
    let password = created.one_time_password.expose();
    let issued = h
        .accounts
        .login("alice", password, &h.code(&secret), ADDRESS, None)
        .await
        .expect("login");

    h.accounts
        .logout(issued.token.expose())
        .await
        .expect("logout");
    let error = h
        .accounts
        .authenticate_token(issued.token.expose())
        .await
        .expect_err("revoked");
    assert!(matches!(error, TokenError::Revoked(_)), "{error}");
    h.accounts
        .logout(issued.token.expose())
        .await
        .expect("second logout is harmless");
}

pub async fn disable_user_revokes_tokens(db: TestDb) {
    let h = Harness::new(&db).await;
    let (created, secret) = h.create_human("alice").await;
    let password = created.one_time_password.expose();
    let issued = h
        .accounts
        .login("alice", password, &h.code(&secret), ADDRESS, None)
        .await
        .expect("login");

    assert_eq!(
        h.accounts
            .disable_user(created.user.id)
            .await
            .expect("disable"),
        1
    );
    let error = h
        .accounts
        .authenticate_token(issued.token.expose())
        .await
        .expect_err("revoked");
    assert!(matches!(error, TokenError::Revoked(_)), "{error}");

    h.accounts
        .enable_user(created.user.id)
        .await
        .expect("enable");
    let error = h
        .accounts
        .authenticate_token(issued.token.expose())
        .await
        .expect_err("still revoked");
    assert!(matches!(error, TokenError::Revoked(_)), "{error}");
}

pub async fn reset_mfa_replaces_secret(db: TestDb) {
    let h = Harness::new(&db).await;
    let (created, old_secret) = h.create_human("alice").await;
    let password = created.one_time_password.expose();

    let uri = h
        .accounts
        .reset_mfa(created.user.id)
        .await
        .expect("reset MFA");
    let new_secret = secret_from_uri(uri.expose());
    assert_ne!(new_secret.as_bytes(), old_secret.as_bytes());

    let error = h
        .accounts
        .login("alice", password, &h.code(&old_secret), ADDRESS, None)
        .await
        .expect_err("old code");
    assert!(matches!(error, LoginError::WrongTotp { .. }), "{error}");
    h.accounts
        .login("alice", password, &h.code(&new_secret), ADDRESS, None)
        .await
        .expect("new code");
}

pub async fn reset_password_requires_change(db: TestDb) {
    let h = Harness::new(&db).await;
    let (created, secret) = h.create_human("alice").await;
    let new_password = h
        .accounts
        .reset_password(created.user.id)
        .await
        .expect("reset password");

    let old = created.one_time_password.expose();
    let error = h
        .accounts
        .login("alice", old, &h.code(&secret), ADDRESS, None)
        .await
        .expect_err("old password");
    assert!(matches!(error, LoginError::WrongPassword { .. }), "{error}");
    let issued = h
        .accounts
        .login(
            "alice",
            new_password.expose(),
            &h.code(&secret),
            ADDRESS,
            None,
        )
        .await
        .expect("new password");
    assert!(issued.password_change_required);
}

pub async fn malformed_token_rejected(db: TestDb) {
    let h = Harness::new(&db).await;
    let error = h
        .accounts
        .authenticate_token("pct_short")
        .await
        .expect_err("malformed");
    assert!(matches!(error, TokenError::Malformed), "{error}");

    let (unknown, _) = portcullis_core::token::generate_token();
    let error = h
        .accounts
        .authenticate_token(unknown.expose())
        .await
        .expect_err("unknown");
    assert!(matches!(error, TokenError::Unknown), "{error}");
    assert_eq!(
        error.client_message(),
        "invalid, expired or revoked token; sign in again with `portcullis login`"
    );
}

pub async fn token_for_named_user_checks_owner(db: TestDb) {
    let h = Harness::new(&db).await;
    let (alice, secret) = h.create_human("alice").await;
    let (bob, _) = h.create_human("bob").await;
    let issued = h
        .accounts
        .login(
            "alice",
            alice.one_time_password.expose(),
            &h.code(&secret),
            ADDRESS,
            None,
        )
        .await
        .expect("login");
    let token = issued.token.expose();

    let authenticated = h
        .accounts
        .authenticate_token_for("alice", token)
        .await
        .expect("owner's name");
    assert_eq!(authenticated.user().id, alice.user.id);
    assert_eq!(authenticated.token().id, issued.record.id);

    for other in ["bob", "Alice", "alice "] {
        let error = h
            .accounts
            .authenticate_token_for(other, token)
            .await
            .expect_err(other);
        assert!(
            matches!(&error, TokenError::WrongUser { name, owner } if name == other && *owner == alice.user.id),
            "{other:?}: {error}"
        );
        assert_eq!(
            error.client_message(),
            "invalid, expired or revoked token; sign in again with `portcullis login`"
        );
    }

    let error = h
        .accounts
        .authenticate_token_for(&"x".repeat(1_000), token)
        .await
        .expect_err("long name");
    assert!(
        matches!(&error, TokenError::WrongUser { name, .. } if name.len() == 63),
        "{error}"
    );

    let error = h
        .accounts
        .authenticate_token_for("bob", "pct_short")
        .await
        .expect_err("malformed");
    assert!(matches!(error, TokenError::Malformed), "{error}");

    h.accounts.logout(token).await.expect("logout");
    let error = h
        .accounts
        .authenticate_token_for("alice", token)
        .await
        .expect_err("revoked");
    assert!(matches!(error, TokenError::Revoked(_)), "{error}");
    let error = h
        .accounts
        .authenticate_token_for("bob", token)
        .await
        .expect_err("revoked, other name");
    assert!(
        matches!(error, TokenError::WrongUser { owner, .. } if owner == alice.user.id),
        "ownership is checked before state: {error}"
    );
    assert_ne!(bob.user.id, alice.user.id);
}

pub async fn token_for_disabled_user_rejected(db: TestDb) {
    let h = Harness::new(&db).await;
    let (alice, _) = h.create_human("alice").await;
    h.accounts
        .disable_user(alice.user.id)
        .await
        .expect("disable");

    // Disabling revokes every token, so an unrevoked token of a disabled user comes
    // from inserting one afterwards, as a damaged or hand-edited store could hold.
    let (text, hash) = portcullis_core::token::generate_token();
    let record = portcullis_core::TokenRecord {
        hash,
        ..random_token(alice.user.id, time::Duration::hours(8))
    };
    h.store
        .insert_token(&record, &unused_keys())
        .await
        .expect("insert token");

    let error = h
        .accounts
        .authenticate_token_for("alice", text.expose())
        .await
        .expect_err("disabled");
    assert!(
        matches!(error, TokenError::UserDisabled(id) if id == alice.user.id),
        "{error}"
    );
}
