//! Per-session deciding: the principal's entities, built once, and caches of
//! analyses and decisions keyed by message text.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use cedar_policy::{Effect, EntityUid, Policy, PolicyId, PolicySet, PrincipalConstraint};
use portcullis_sql::{AnalysisContext, StatementCache, StatementFacts, MAX_CACHED_SQL_BYTES};

use crate::action::reads_session_statements;
use crate::context::{ContextFingerprint, RequestCache, RequestContext};
use crate::decision::{Decision, DenyReason, MessageDecision, Outcome};
use crate::engine::PolicyEngine;
use crate::entities::{session_entities, Principal};
use crate::error::SessionError;
use crate::evaluate::{Evaluator, SessionEntities};
use crate::explain::{Explanation, MessageExplanation};
use crate::guardrail::Guardrails;
use crate::load::PolicySnapshot;
use crate::slice::slice_policies;

/// Messages whose analysis a session caches.
pub const ANALYSIS_CACHE_CAPACITY: usize = 256;

/// Messages whose decision a session caches.
pub const DECISION_CACHE_CAPACITY: usize = 1024;

/// The policy side of one gateway session.
pub struct SessionPolicy {
    engine: PolicyEngine,
    principal: Principal,
    target: String,
    snapshot: Arc<PolicySnapshot>,
    generation: u64,
    /// The principal's entities on the current snapshot, or why they could not
    /// be built after a reload (then every statement is denied).
    state: Result<SessionState, String>,
    analyses: StatementCache,
    decisions: DecisionCache,
}

struct SessionState {
    principal: EntityUid,
    /// The policies that can apply to the principal, per action (`Action as usize`).
    policies: Vec<PolicySet>,
    entities: SessionEntities,
    guardrails: Guardrails,
}

impl std::fmt::Debug for SessionPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionPolicy")
            .field("user", &self.principal.user)
            .field("target", &self.target)
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

impl SessionPolicy {
    pub(crate) fn new(
        engine: PolicyEngine,
        principal: Principal,
        target: &str,
    ) -> Result<Self, SessionError> {
        let (snapshot, generation) = engine.snapshot_with_generation();
        let state = build_state(&snapshot, &principal, target)?;
        Ok(Self {
            engine,
            principal,
            target: target.to_owned(),
            snapshot,
            generation,
            state: Ok(state),
            analyses: StatementCache::new(ANALYSIS_CACHE_CAPACITY),
            decisions: DecisionCache::new(DECISION_CACHE_CAPACITY),
        })
    }

    /// Returns the principal the session decides for.
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// Returns the guardrails in force for the session, or `None` when the session
    /// cannot decide (every statement is denied).
    pub fn guardrails(&self) -> Option<Guardrails> {
        self.state.as_ref().ok().map(|state| state.guardrails)
    }

    /// Returns the hash of the policy set the session decides with.
    pub fn policy_hash(&self) -> &str {
        self.snapshot.policy_hash()
    }

    /// Returns the principal's roles that the given permit policies name in
    /// their principal scope (`principal in Role::"r"`), directly or as a
    /// parent role, in the principal's order. Forbids, unknown ids and
    /// policies scoped to a user or to any principal add no role.
    pub fn roles_used(&self, policy_ids: &[String]) -> Vec<String> {
        let scoped: Vec<String> = policy_ids
            .iter()
            .filter_map(|id| self.snapshot.policies.policy(&PolicyId::new(id)))
            .filter(|policy| policy.effect() == Effect::Permit)
            .filter_map(scope_role)
            .collect();
        self.principal
            .roles
            .iter()
            .filter(|role| {
                scoped
                    .iter()
                    .any(|named| role_reaches(role, named, &self.snapshot.role_parents))
            })
            .cloned()
            .collect()
    }

    /// Decides the `connect` action on the session's target.
    pub fn connect(&mut self, request: &RequestContext) -> Decision {
        self.refresh();
        let snapshot = Arc::clone(&self.snapshot);
        let target = self.target.clone();
        let Some(mut evaluator) = self.evaluator(&snapshot, &target) else {
            return self.invalid_decision("connect");
        };
        evaluator.connect(request).0
    }

    /// Decides a query message: analyzes it (through the session's analysis
    /// cache) and decides every statement. A repeated message with the same
    /// search path, catalog and request context costs one hash lookup.
    pub fn decide(
        &mut self,
        sql: &str,
        analysis: &AnalysisContext,
        request: &RequestContext,
    ) -> Arc<MessageDecision> {
        self.refresh();
        let volatile = self.snapshot.volatile_context;
        if let Some(cached) = self
            .decisions
            .get(sql, analysis, request, self.generation, volatile)
        {
            return cached;
        }

        let facts = match self.analyses.analyze(sql, analysis) {
            Ok(facts) => facts,
            Err(error) => {
                let reason = DenyReason::AnalysisFailed {
                    message: error.to_string(),
                };
                return Arc::new(self.denied_message(reason));
            }
        };
        let (decision, _) = self.evaluate_message(facts, request);
        let decision = Arc::new(decision);
        let cacheable = !decision
            .facts
            .iter()
            .any(|facts| reads_session_statements(&facts.kind));
        if cacheable && sql.len() <= MAX_CACHED_SQL_BYTES {
            self.decisions.insert(sql, Arc::clone(&decision));
        }
        decision
    }

    /// Decides already analyzed statements of one message, without caches.
    pub fn decide_facts(
        &mut self,
        facts: Arc<Vec<StatementFacts>>,
        request: &RequestContext,
    ) -> MessageDecision {
        self.refresh();
        self.evaluate_message(facts, request).0
    }

    /// Explains a query message: the same evaluation as [`SessionPolicy::decide`],
    /// without the decision cache, with every check kept.
    pub fn explain(
        &mut self,
        sql: &str,
        analysis: &AnalysisContext,
        request: &RequestContext,
    ) -> MessageExplanation {
        self.refresh();
        match self.analyses.analyze(sql, analysis) {
            Ok(facts) => self.evaluate_message(facts, request).1,
            Err(error) => {
                let reason = DenyReason::AnalysisFailed {
                    message: error.to_string(),
                };
                MessageExplanation {
                    reason: Some(reason),
                    statements: Vec::new(),
                }
            }
        }
    }

    /// Explains one analyzed statement.
    pub fn explain_statement(
        &mut self,
        facts: &StatementFacts,
        request: &RequestContext,
    ) -> Explanation {
        self.refresh();
        self.evaluate_statement(facts, request)
    }

    /// Decides one analyzed statement, without the message-level guardrails.
    pub fn decide_statement(
        &mut self,
        facts: &StatementFacts,
        request: &RequestContext,
    ) -> Decision {
        self.explain_statement(facts, request).decision
    }

    /// Rebuilds the principal's entities when the engine has reloaded.
    fn refresh(&mut self) {
        if self.engine.generation() == self.generation {
            return;
        }
        let (snapshot, generation) = self.engine.snapshot_with_generation();
        self.state = build_state(&snapshot, &self.principal, &self.target)
            .map_err(|error| error.to_string());
        self.snapshot = snapshot;
        self.generation = generation;
        self.decisions.clear();
    }

    fn evaluator<'a>(
        &'a mut self,
        snapshot: &'a PolicySnapshot,
        target: &'a str,
    ) -> Option<Evaluator<'a>> {
        let state = self.state.as_mut().ok()?;
        let target_resource = snapshot.resources.targets.get(target)?;
        Some(Evaluator {
            snapshot,
            target_name: target,
            target: target_resource,
            principal: &state.principal,
            policies: &state.policies,
            session: &mut state.entities,
            guardrails: &state.guardrails,
        })
    }

    fn evaluate_statement(
        &mut self,
        facts: &StatementFacts,
        request: &RequestContext,
    ) -> Explanation {
        let snapshot = Arc::clone(&self.snapshot);
        let target = self.target.clone();
        match self.evaluator(&snapshot, &target) {
            Some(mut evaluator) => evaluator.evaluate(facts, request),
            None => {
                let decision = self.invalid_decision(crate::action::kind_tag(&facts.kind));
                Explanation {
                    statement: facts.text.clone(),
                    kind: decision.statement_kind,
                    denials: decision.reason.iter().cloned().collect(),
                    decision,
                    statement_checks: Vec::new(),
                    tables: Vec::new(),
                    functions: Vec::new(),
                    columns: Vec::new(),
                    outputs: Vec::new(),
                }
            }
        }
    }

    fn evaluate_message(
        &mut self,
        facts: Arc<Vec<StatementFacts>>,
        request: &RequestContext,
    ) -> (MessageDecision, MessageExplanation) {
        let explanations: Vec<Explanation> = facts
            .iter()
            .map(|statement| self.evaluate_statement(statement, request))
            .collect();

        let deny_multi = self
            .guardrails()
            .is_some_and(|guardrails| guardrails.deny_multi_statement);
        let reason = if deny_multi && facts.len() > 1 {
            Some(DenyReason::Guardrail {
                rule: "deny_multi_statement",
                detail: format!(
                    "the message has {} statements; send them one at a time",
                    facts.len()
                ),
            })
        } else {
            explanations
                .iter()
                .find_map(|explanation| explanation.decision.reason.clone())
        };
        let decision = MessageDecision {
            outcome: if reason.is_some() {
                Outcome::Deny
            } else {
                Outcome::Allow
            },
            reason: reason.clone(),
            statements: explanations
                .iter()
                .map(|explanation| explanation.decision.clone())
                .collect(),
            facts,
            policy_hash: Arc::clone(&self.snapshot.hash),
        };
        (
            decision,
            MessageExplanation {
                reason,
                statements: explanations,
            },
        )
    }

    fn invalid_decision(&self, kind: &'static str) -> Decision {
        let message = match &self.state {
            Err(message) => format!("the session's policy context is invalid after a policy reload: {message}; reconnect"),
            Ok(_) => format!("target \"{}\" is no longer in the policy set; reconnect", self.target),
        };
        let mut decision = Decision::denied(
            kind,
            DenyReason::SessionInvalid {
                message: message.clone(),
            },
            Arc::clone(&self.snapshot.hash),
        );
        decision.errors.push(message);
        decision
    }

    fn denied_message(&self, reason: DenyReason) -> MessageDecision {
        MessageDecision {
            outcome: Outcome::Deny,
            reason: Some(reason),
            statements: Vec::new(),
            facts: Arc::new(Vec::new()),
            policy_hash: Arc::clone(&self.snapshot.hash),
        }
    }
}

fn build_state(
    snapshot: &PolicySnapshot,
    principal: &Principal,
    target: &str,
) -> Result<SessionState, SessionError> {
    if !snapshot.resources.targets.contains_key(target) {
        return Err(SessionError::UnknownTarget {
            target: target.to_owned(),
        });
    }
    let (uid, entities) = session_entities(
        &snapshot.schema,
        &snapshot.resources,
        &snapshot.role_parents,
        principal,
    )
    .map_err(|message| SessionError::Principal {
        user: principal.user.clone(),
        message,
    })?;
    let policies = slice_policies(
        &snapshot.policies,
        &entities,
        &uid,
        &snapshot.resources.actions,
    )
    .map_err(|message| SessionError::Principal {
        user: principal.user.clone(),
        message,
    })?;
    Ok(SessionState {
        principal: uid,
        policies,
        entities: SessionEntities {
            entities,
            requests: RefCell::new(RequestCache::default()),
            extra_schemas: HashSet::new(),
            extra_tables: HashMap::new(),
            extra_functions: HashMap::new(),
        },
        guardrails: snapshot.guardrails.resolve(target, &principal.roles),
    })
}

/// Decisions by message text, valid for one combination of policy
/// generation, analysis inputs and request context. Any change drops every
/// entry; a full cache evicts an arbitrary entry.
struct DecisionCache {
    capacity: usize,
    key: Option<DecisionKey>,
    entries: HashMap<String, Arc<MessageDecision>>,
}

struct DecisionKey {
    generation: u64,
    catalog_version: u64,
    search_path: Vec<String>,
    default_search_path: Vec<String>,
    standard_conforming_strings: bool,
    context: ContextFingerprint,
}

impl DecisionKey {
    fn matches(
        &self,
        analysis: &AnalysisContext,
        request: &RequestContext,
        generation: u64,
    ) -> bool {
        self.generation == generation
            && self.catalog_version == analysis.catalog.version
            && self.standard_conforming_strings == analysis.standard_conforming_strings
            && self.search_path == analysis.search_path
            && self.default_search_path == analysis.default_search_path
            && self.context.matches(request)
    }
}

impl DecisionCache {
    fn new(capacity: usize) -> Self {
        Self {
            capacity,
            key: None,
            entries: HashMap::new(),
        }
    }

    fn get(
        &mut self,
        sql: &str,
        analysis: &AnalysisContext,
        request: &RequestContext,
        generation: u64,
        volatile: bool,
    ) -> Option<Arc<MessageDecision>> {
        if !self
            .key
            .as_ref()
            .is_some_and(|key| key.matches(analysis, request, generation))
        {
            self.entries.clear();
            self.key = Some(DecisionKey {
                generation,
                catalog_version: analysis.catalog.version,
                search_path: analysis.search_path.clone(),
                default_search_path: analysis.default_search_path.clone(),
                standard_conforming_strings: analysis.standard_conforming_strings,
                context: request.fingerprint(volatile),
            });
            return None;
        }
        self.entries.get(sql).cloned()
    }

    fn insert(&mut self, sql: &str, decision: Arc<MessageDecision>) {
        if self.capacity == 0 {
            return;
        }
        if self.entries.len() >= self.capacity {
            let victim = self.entries.keys().next().cloned();
            if let Some(victim) = victim {
                self.entries.remove(&victim);
            }
        }
        self.entries.insert(sql.to_owned(), decision);
    }

    fn clear(&mut self) {
        self.entries.clear();
        self.key = None;
    }
}

/// Returns the role a policy's principal scope names, if it names one.
fn scope_role(policy: &Policy) -> Option<String> {
    let uid = match policy.principal_constraint() {
        PrincipalConstraint::In(uid) | PrincipalConstraint::IsIn(_, uid) => uid,
        PrincipalConstraint::Any | PrincipalConstraint::Eq(_) | PrincipalConstraint::Is(_) => {
            return None
        }
    };
    (uid.type_name().basename() == "Role").then(|| uid.id().unescaped().to_owned())
}

/// Returns whether `role` is `target` or has it as an ancestor in the role
/// hierarchy.
fn role_reaches(role: &str, target: &str, parents: &HashMap<String, Vec<String>>) -> bool {
    let mut seen: HashSet<&str> = HashSet::new();
    let mut pending = vec![role];
    while let Some(current) = pending.pop() {
        if current == target {
            return true;
        }
        if seen.insert(current) {
            pending.extend(parents.get(current).into_iter().flatten().map(String::as_str));
        }
    }
    false
}
