//! The policy engine as `serve` holds it: loaded once with every target's tables,
//! and a source of per-session [`PolicyCheck`]s.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, Result};
use portcullis_core::MasterKey;
use portcullis_mask::MaskKey;
use portcullis_pg::{AuthorizeRequest, Denial, StatementCheck};
use portcullis_policy::{LoadError, PolicyEngine, PolicySnapshot, PolicySources, Principal, RequestContext, TargetTables};
use portcullis_sql::{AnalysisContext, Catalog};
use time::OffsetDateTime;

use super::copy_plan::ColumnTypes;
use super::grants::AccessVia;
use super::policy::PolicyCheck;

/// The loaded policy engine and, per target, the analyzer's catalog and the key of
/// deterministic tokens.
pub struct PolicyRuntime {
    pub engine: PolicyEngine,
    dir: PathBuf,
    /// The targets' tables as read at load; a reload validates against them.
    targets: Vec<TargetTables>,
    catalogs: HashMap<String, Arc<Catalog>>,
    mask_keys: HashMap<String, Arc<MaskKey>>,
    /// The upstream role's search path per target, as read at load.
    search_paths: HashMap<String, Vec<String>>,
    /// Column types per target, for masking `COPY … TO STDOUT`.
    column_types: HashMap<String, Arc<ColumnTypes>>,
}

impl PolicyRuntime {
    /// Loads the policy directory for the given targets' tables.
    pub fn load(dir: &Path, targets: Vec<TargetTables>, master_key: &MasterKey) -> Result<PolicyRuntime> {
        let catalogs = targets
            .iter()
            .map(|tables| (tables.target.clone(), Arc::new(tables.to_sql_catalog(1))))
            .collect();
        let mask_keys = targets
            .iter()
            .map(|tables| {
                let key = MaskKey::derive(master_key.expose_bytes(), &tables.target);
                (tables.target.clone(), Arc::new(key))
            })
            .collect();
        let search_paths = targets
            .iter()
            .map(|tables| (tables.target.clone(), tables.search_path.clone()))
            .collect();
        let engine = PolicyEngine::load(&PolicySources::new(dir, targets.clone()))
            .with_context(|| format!("loading the policies in {}", dir.display()))?;
        Ok(PolicyRuntime {
            engine,
            dir: dir.to_path_buf(),
            targets,
            catalogs,
            mask_keys,
            search_paths,
            column_types: HashMap::new(),
        })
    }

    /// Sets the column types of each target. Without them, a COPY of masked
    /// columns is denied.
    pub fn with_column_types(mut self, column_types: HashMap<String, Arc<ColumnTypes>>) -> Self {
        self.column_types = column_types;
        self
    }

    /// Loads the policy directory again, without putting it in force
    /// ([`PolicyEngine::replace`] does that).
    ///
    /// NOTE: the targets' tables and functions are the ones read at start, so
    /// a table or function added to a target since then stays unknown until
    /// `serve` restarts, and calls to such a function need no permit.
    pub fn load_snapshot(&self) -> Result<PolicySnapshot, LoadError> {
        PolicySnapshot::load(&PolicySources::new(&self.dir, self.targets.clone()))
    }

    /// Returns the policy directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The analyzer's catalog of a target.
    pub fn catalog(&self, target: &str) -> Option<Arc<Catalog>> {
        self.catalogs.get(target).cloned()
    }

    /// Returns the search path that sessions on `target` resolve unqualified
    /// names with: the upstream role's default, read at load.
    pub fn search_path(&self, target: &str) -> Vec<String> {
        self.search_paths.get(target).cloned().unwrap_or_default()
    }

    /// Decides whether the principal may connect, and returns the session's check.
    pub fn session_check(
        &self,
        principal: Principal,
        request: &AuthorizeRequest,
        upstream_user: &str,
        mfa_at: OffsetDateTime,
        via: AccessVia,
    ) -> Result<Arc<dyn StatementCheck>, Denial> {
        let target = request.target.as_str();
        let (Some(catalog), Some(mask_key)) = (self.catalogs.get(target), self.mask_keys.get(target)) else {
            return Err(Denial::NotPermitted(format!("target {target} has no tables loaded for policy decisions")));
        };
        let user = principal.user.clone();
        let mut session = self
            .engine
            .session(principal, target)
            .map_err(|error| Denial::NotPermitted(format!("policy session for {user}: {error}")))?;
        let now = OffsetDateTime::now_utc();
        let context = RequestContext {
            now: now.unix_timestamp(),
            client_ip: request.client_addr.ip(),
            session_id: String::new(),
            via_jit: via.jit,
            via_break_glass: via.break_glass,
            mfa_age_seconds: (now - mfa_at).whole_seconds().max(0),
        };
        let connect = session.connect(&context);
        if !connect.is_allowed() {
            let reason = connect.reason.map(|reason| reason.to_string()).unwrap_or_default();
            return Err(Denial::NotPermitted(format!("policy denies connect to {target} for {user}: {reason}")));
        }
        // The upstream session keeps the role's default search path, because
        // the gateway rejects every change of it.
        let mut analysis = AnalysisContext::new(catalog.clone(), self.search_path(target));
        analysis.current_user = Some(upstream_user.to_string());
        Ok(Arc::new(PolicyCheck::new(
            session,
            analysis,
            mask_key.clone(),
            request.client_addr.ip(),
            mfa_at,
        )
        .with_access_via(via)
        .with_column_types(self.column_types.get(target).cloned().unwrap_or_default())))
    }
}
