//! Shared helpers of the store test suite.

pub mod access;
pub mod login;
pub mod migrations;
pub mod raw;
pub mod roles;
pub mod scim;
pub mod scram;
pub mod targets;
pub mod tokens;
pub mod users;

use std::sync::Arc;

use portcullis_core::{
    AccountKind, ManualClock, MasterKey, PasswordParams, TotpSecret, UserId, UserName,
};
use portcullis_store::accounts::{Accounts, AccountsConfig, CreatedUser, NewAccount};
use portcullis_store::{open_store, NewUser, Store};
use tempfile::TempDir;
use time::macros::datetime;
use time::OffsetDateTime;

/// Time at which every case's clock starts.
pub const START: OffsetDateTime = datetime!(2030-01-01 00:00 UTC);

/// A fresh, empty store location for one case.
pub struct TestDb {
    location: String,
    _dir: Option<TempDir>,
}

impl TestDb {
    /// Creates a location for a SQLite file in a new temporary directory.
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("create temporary directory");
        let location = format!("sqlite://{}", dir.path().join("state.db").display());
        TestDb {
            location,
            _dir: Some(dir),
        }
    }

    /// Wraps the URL of an empty PostgreSQL database.
    pub fn postgres(url: String) -> TestDb {
        TestDb {
            location: url,
            _dir: None,
        }
    }

    /// Opens the store, applying migrations.
    pub async fn open(&self) -> Arc<dyn Store> {
        open_store(&self.location).await.expect("open store")
    }
}

pub fn name(text: &str) -> UserName {
    UserName::new(text).expect("valid user name")
}

/// Builds a human user record with placeholder credentials.
pub fn human(text: &str) -> NewUser {
    NewUser {
        id: UserId::new_random(),
        name: name(text),
        kind: AccountKind::Human,
        display_name: format!("{text} (test)"),
        department: None,
        job_role: None,
        created_at: START,
        password_hash: Some("$argon2id$placeholder".to_owned()),
        password_change_required: false,
        totp_secret_sealed: Some(vec![1; 45]),
    }
}

/// Builds a service account record owned by `owner`.
pub fn service(text: &str, owner: UserId) -> NewUser {
    NewUser {
        kind: AccountKind::Service { owner },
        ..human(text)
    }
}

/// The account flows over a store, with a manual clock and fast password hashing.
pub struct Harness {
    pub store: Arc<dyn Store>,
    pub clock: Arc<ManualClock>,
    pub accounts: Accounts,
}

impl Harness {
    pub async fn new(db: &TestDb) -> Harness {
        Harness::with_config(db, test_config()).await
    }

    pub async fn with_config(db: &TestDb, config: AccountsConfig) -> Harness {
        let store = db.open().await;
        let clock = Arc::new(ManualClock::new(START));
        let accounts = Accounts::new(
            store.clone(),
            clock.clone(),
            &MasterKey::from_bytes([42; 32]),
            config,
        )
        .expect("accounts");
        Harness {
            store,
            clock,
            accounts,
        }
    }

    /// Creates a human user and returns it with its TOTP secret.
    pub async fn create_human(&self, text: &str) -> (CreatedUser, TotpSecret) {
        let created = self
            .accounts
            .create_user(NewAccount {
                name: name(text),
                kind: AccountKind::Human,
                display_name: text.to_owned(),
                department: Some("cardiology".to_owned()),
                job_role: Some("nurse".to_owned()),
            })
            .await
            .expect("create user");
        let secret = secret_from_uri(created.totp_uri.expose());
        (created, secret)
    }

    /// Computes the current TOTP code for `secret`.
    pub fn code(&self, secret: &TotpSecret) -> String {
        portcullis_core::totp::code_at(secret, portcullis_core::Clock::now(self.clock.as_ref()))
            .expect("code")
    }

    /// Moves the clock to the next TOTP step, so the next code is not a replay.
    pub fn next_step(&self) {
        self.clock.advance(std::time::Duration::from_secs(30));
    }
}

/// Settings with cheap Argon2 parameters, so tests run quickly in debug builds.
pub fn test_config() -> AccountsConfig {
    AccountsConfig {
        password: PasswordParams {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        },
        ..AccountsConfig::default()
    }
}

/// Reads the secret from an `otpauth://` URI, as an authenticator app does.
pub fn secret_from_uri(uri: &str) -> TotpSecret {
    let totp = totp_rs::TOTP::from_url(uri).expect("parse otpauth URI");
    TotpSecret::from_bytes(totp.secret.clone()).expect("secret length")
}
