//! The policy engine: the current snapshot, swapped whole on reload.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use serde::Serialize;

use crate::entities::Principal;
use crate::error::{LoadError, SessionError};
use crate::load::{PolicySnapshot, PolicySources};
use crate::session::SessionPolicy;

/// A handle to the gateway's policy set. Clones share the same set; a reload
/// through any clone reaches every session at its next statement.
#[derive(Clone, Debug)]
pub struct PolicyEngine {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    current: RwLock<Arc<PolicySnapshot>>,
    /// Increased under the write lock at every swap, so a session notices a
    /// reload with one atomic load per statement.
    generation: AtomicU64,
}

/// The outcome of a successful reload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReloadReport {
    /// Hash of the policy set before the reload.
    pub previous_hash: String,
    /// Hash of the policy set now in force.
    pub hash: String,
    /// The engine's generation now in force.
    pub generation: u64,
    /// Warnings of the new set.
    pub warnings: Vec<String>,
}

impl PolicyEngine {
    /// Loads a policy directory; see [`PolicySnapshot::load`].
    pub fn load(sources: &PolicySources) -> Result<Self, LoadError> {
        Ok(Self::from_snapshot(PolicySnapshot::load(sources)?))
    }

    /// Wraps a loaded snapshot.
    pub fn from_snapshot(snapshot: PolicySnapshot) -> Self {
        let shared = Shared {
            current: RwLock::new(Arc::new(snapshot)),
            generation: AtomicU64::new(0),
        };
        Self {
            shared: Arc::new(shared),
        }
    }

    /// Loads a new policy set and puts it in force. A set that fails to load
    /// is rejected with its error, and the current set stays in force.
    pub fn reload(&self, sources: &PolicySources) -> Result<ReloadReport, LoadError> {
        let snapshot = PolicySnapshot::load(sources)?;
        Ok(self.replace(snapshot))
    }

    /// Puts a loaded snapshot in force.
    pub fn replace(&self, snapshot: PolicySnapshot) -> ReloadReport {
        let hash = snapshot.policy_hash().to_owned();
        let warnings = snapshot.warnings().to_vec();
        let mut current = self
            .shared
            .current
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let previous_hash = current.policy_hash().to_owned();
        *current = Arc::new(snapshot);
        let generation = self.shared.generation.fetch_add(1, Ordering::AcqRel) + 1;
        ReloadReport {
            previous_hash,
            hash,
            generation,
            warnings,
        }
    }

    /// Returns the snapshot in force.
    pub fn snapshot(&self) -> Arc<PolicySnapshot> {
        self.snapshot_with_generation().0
    }

    /// Returns the snapshot in force and its generation, read together.
    pub(crate) fn snapshot_with_generation(&self) -> (Arc<PolicySnapshot>, u64) {
        let current = self
            .shared
            .current
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        (
            Arc::clone(&current),
            self.shared.generation.load(Ordering::Acquire),
        )
    }

    /// Returns the generation, which increases at every reload.
    pub fn generation(&self) -> u64 {
        self.shared.generation.load(Ordering::Acquire)
    }

    /// Returns the hash of the policy set in force.
    pub fn policy_hash(&self) -> String {
        self.snapshot().policy_hash().to_owned()
    }

    /// Starts deciding for one session of `principal` on `target`: builds the
    /// principal's entities once, so each statement costs only its requests.
    pub fn session(
        &self,
        principal: Principal,
        target: &str,
    ) -> Result<SessionPolicy, SessionError> {
        SessionPolicy::new(self.clone(), principal, target)
    }
}
