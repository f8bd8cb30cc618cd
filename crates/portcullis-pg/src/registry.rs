//! Live sessions: termination from outside, the per-user connection limit,
//! and the cancel keys the gateway issued.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use rand::{Rng, RngCore};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;
use tokio::sync::watch;

use crate::authority::{SessionId, UpstreamTarget};
use crate::error::LimitError;

/// The sessions of one listener. Cheap to share: wrap it in an [`Arc`].
#[derive(Default)]
pub struct SessionRegistry {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    sessions: HashMap<SessionId, Entry>,
    cancel_keys: HashMap<i32, CancelEntry>,
}

struct Entry {
    summary: SessionSummary,
    terminate: watch::Sender<Option<String>>,
}

/// A live session as listed by [`SessionRegistry::sessions`].
#[derive(Clone, Debug)]
pub struct SessionSummary {
    /// Session id.
    pub session: SessionId,
    /// User id from the grant.
    pub user_id: String,
    /// User name.
    pub user_name: String,
    /// Token that opened the session.
    pub token: crate::authority::TokenId,
    /// Target name.
    pub target: String,
    /// When the session was authorized.
    pub started_at: OffsetDateTime,
    /// Temporary access grants the session depends on (see
    /// [`crate::SessionIdentity::access_grants`]).
    pub access_grants: Vec<String>,
}

/// Upstream address and key for canceling a query on the upstream server.
#[derive(Clone)]
pub(crate) struct UpstreamCancel {
    pub(crate) target: UpstreamTarget,
    pub(crate) connect_timeout: std::time::Duration,
    pub(crate) process_id: i32,
    pub(crate) secret_key: Bytes,
}

struct CancelEntry {
    session: SessionId,
    secret_key: Vec<u8>,
    upstream: UpstreamCancel,
}

impl SessionRegistry {
    /// Creates an empty registry.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain maps behind, which stay consistent.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Ends a session with FATAL 57P01 and `reason`, within the relay's next
    /// turn (immediately unless it is blocked writing to a slow client).
    /// Returns whether the session was live.
    pub fn terminate(&self, session: SessionId, reason: &str) -> bool {
        let state = self.lock();
        match state.sessions.get(&session) {
            Some(entry) => {
                entry.terminate.send_replace(Some(reason.to_owned()));
                true
            }
            None => false,
        }
    }

    /// Ends every session of the user with id `user_id`; returns how many.
    pub fn terminate_user(&self, user_id: &str, reason: &str) -> usize {
        let state = self.lock();
        let mut count = 0;
        for entry in state
            .sessions
            .values()
            .filter(|entry| entry.summary.user_id == user_id)
        {
            entry.terminate.send_replace(Some(reason.to_owned()));
            count += 1;
        }
        count
    }

    /// Ends every live session; returns how many.
    pub fn terminate_all(&self, reason: &str) -> usize {
        let state = self.lock();
        for entry in state.sessions.values() {
            entry.terminate.send_replace(Some(reason.to_owned()));
        }
        state.sessions.len()
    }

    /// Lists the live sessions.
    pub fn sessions(&self) -> Vec<SessionSummary> {
        self.lock()
            .sessions
            .values()
            .map(|entry| entry.summary.clone())
            .collect()
    }

    /// Adds a session unless its user already has `max_per_user` sessions.
    pub(crate) fn register(
        self: &Arc<Self>,
        summary: SessionSummary,
        max_per_user: usize,
    ) -> Result<Registration, LimitError> {
        let mut state = self.lock();
        let open = state
            .sessions
            .values()
            .filter(|entry| entry.summary.user_id == summary.user_id)
            .count();
        if open >= max_per_user {
            return Err(LimitError::TooManyUserConnections {
                user: summary.user_name,
                max: max_per_user,
            });
        }
        let (sender, receiver) = watch::channel(None);
        let session = summary.session;
        state.sessions.insert(
            session,
            Entry {
                summary,
                terminate: sender,
            },
        );
        Ok(Registration {
            registry: Arc::clone(self),
            session,
            terminated: receiver,
            cancel_process_id: None,
        })
    }

    /// Returns the session and upstream key for a CancelRequest, or `None`
    /// when no key matches. The secret is compared in constant time.
    pub(crate) fn cancel_target(
        &self,
        process_id: i32,
        secret_key: &[u8],
    ) -> Option<(SessionId, UpstreamCancel)> {
        let state = self.lock();
        let entry = state.cancel_keys.get(&process_id)?;
        let matches = entry.secret_key.len() == secret_key.len()
            && bool::from(entry.secret_key.as_slice().ct_eq(secret_key));
        matches.then(|| (entry.session, entry.upstream.clone()))
    }
}

/// A session's place in the registry; removed on drop.
pub(crate) struct Registration {
    registry: Arc<SessionRegistry>,
    session: SessionId,
    terminated: watch::Receiver<Option<String>>,
    cancel_process_id: Option<i32>,
}

impl Registration {
    /// Issues the gateway's own cancel key for this session and maps it to
    /// the upstream key. Returns the process id and secret key to send in
    /// BackendKeyData; `key_len` is 4 for protocol 3.0 and 32 from 3.2 on.
    pub(crate) fn issue_cancel_key(
        &mut self,
        upstream: UpstreamCancel,
        key_len: usize,
    ) -> (i32, Vec<u8>) {
        let mut rng = rand::thread_rng();
        let mut secret_key = vec![0u8; key_len];
        rng.fill_bytes(&mut secret_key);

        let mut state = self.registry.lock();
        let process_id = loop {
            let candidate = rng.gen_range(1..i32::MAX);
            if !state.cancel_keys.contains_key(&candidate) {
                break candidate;
            }
        };
        state.cancel_keys.insert(
            process_id,
            CancelEntry {
                session: self.session,
                secret_key: secret_key.clone(),
                upstream,
            },
        );
        self.cancel_process_id = Some(process_id);
        (process_id, secret_key)
    }

    /// Waits until the session is terminated through the registry; returns the reason.
    pub(crate) async fn terminated(&mut self) -> String {
        loop {
            if let Some(reason) = self.terminated.borrow_and_update().clone() {
                return reason;
            }
            if self.terminated.changed().await.is_err() {
                // The sender lives in the registry entry, which outlives this guard.
                std::future::pending::<()>().await;
            }
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut state = self.registry.lock();
        state.sessions.remove(&self.session);
        if let Some(process_id) = self.cancel_process_id {
            state.cancel_keys.remove(&process_id);
        }
    }
}
