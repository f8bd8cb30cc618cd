//! The evaluation of one statement: every check, in a fixed order, recorded in
//! an [`Explanation`] whose `decision` field is the decision itself.
//!
//! Order: statement-level actions and protected settings, relations,
//! guarded and user-defined functions, columns, result columns, guardrails. Every check runs
//! even after a denial, so an explanation lists every reason; the decision's
//! reason is the first.
//!
//! Columns the catalog does not list (`unlisted_columns`, `Unlisted` and
//! `UnlistedStar` result columns) belong to system relations, which the
//! relation checks cover, or to set-returning functions, of which the guarded
//! and user-defined ones are checked. They carry no PHI category, so they are not masked.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::mem;

use cedar_policy::{
    Authorizer, Context, Decision as CedarDecision, Entities, EntityUid, PolicySet, Request,
};
use portcullis_mask::MaskMethod;
use portcullis_sql::{
    ColumnName, ColumnUsage, OutputSource, StatementFacts, StatementKind, UsageSet,
};

use crate::action::{kind_tag, target_actions, Action};
use crate::context::{RequestCache, RequestContext};
use crate::decision::{Decision, DenyReason, MaskPlan, MaskedColumn, Outcome};
use crate::entities::{
    column_entity, function_entity, schema_entity, table_entity, TableResource, TargetResource,
};
use crate::explain::{
    CheckResult, ColumnCheck, ColumnStatus, Explanation, FunctionCheck, OutputCheck, TableCheck,
    TableStatus, TargetCheck,
};
use crate::function::{function_group, FunctionGroup};
use crate::guardrail::Guardrails;
use crate::load::PolicySnapshot;
use crate::setting::protected_setting;

/// Entities of one session: the resource entities, the principal, and the
/// relations, columns and functions first seen in this session's statements
/// (system catalogs, relations a DDL statement creates, system columns).
pub(crate) struct SessionEntities {
    pub entities: Entities,
    pub requests: RefCell<RequestCache>,
    pub extra_schemas: HashSet<String>,
    pub extra_tables: HashMap<String, HashMap<String, TableResource>>,
    pub extra_functions: HashMap<String, EntityUid>,
}

/// Evaluates statements of one session against one snapshot.
pub(crate) struct Evaluator<'a> {
    pub snapshot: &'a PolicySnapshot,
    pub target_name: &'a str,
    pub target: &'a TargetResource,
    pub principal: &'a EntityUid,
    /// The session's policy slices, indexed by `Action as usize`.
    pub policies: &'a [PolicySet],
    pub session: &'a mut SessionEntities,
    pub guardrails: &'a Guardrails,
}

/// The statement kind and Cedar context the checks of one statement share.
struct Ask {
    kind: &'static str,
    context: Context,
}

/// Usages in the order a denial message names them: the most telling first.
const USAGE_PRIORITY: [ColumnUsage; 11] = [
    ColumnUsage::Filter,
    ColumnUsage::JoinCondition,
    ColumnUsage::GroupBy,
    ColumnUsage::Having,
    ColumnUsage::OrderBy,
    ColumnUsage::Window,
    ColumnUsage::WriteSource,
    ColumnUsage::Expression,
    ColumnUsage::FunctionArgument,
    ColumnUsage::Returning,
    ColumnUsage::Output,
];

/// Usages a masked column may have: its value reaches the result in place,
/// where the masker replaces it, or it is only written.
fn allowed_for_masked(usage: ColumnUsage) -> bool {
    matches!(
        usage,
        ColumnUsage::Output | ColumnUsage::Returning | ColumnUsage::WriteTarget
    )
}

/// Ranks masks by how much they reveal. When several permits mask one column,
/// the largest wins: partial (more kept characters first), year, zip3, token,
/// redact, null.
fn revealing_rank(method: MaskMethod) -> (u8, u8) {
    match method {
        MaskMethod::Partial { keep_last } => (6, keep_last),
        MaskMethod::Year => (5, 0),
        MaskMethod::Zip3 => (4, 0),
        MaskMethod::Token => (3, 0),
        MaskMethod::Redact => (2, 0),
        MaskMethod::Null => (1, 0),
    }
}

/// Collects the pieces of an explanation while the checks run.
struct Trace {
    explanation: Explanation,
    allowed_policies: BTreeSet<String>,
    failed_policies: BTreeSet<String>,
    errors: Vec<String>,
}

impl Trace {
    /// Records a Cedar result; returns whether it allowed.
    fn record(&mut self, result: &CheckResult) -> bool {
        let target = if result.allowed {
            &mut self.allowed_policies
        } else {
            &mut self.failed_policies
        };
        target.extend(result.policies.iter().cloned());
        self.errors.extend(result.errors.iter().cloned());
        result.allowed
    }

    fn deny(&mut self, reason: DenyReason) {
        self.explanation.denials.push(reason);
    }
}

impl Evaluator<'_> {
    /// Evaluates one statement.
    pub(crate) fn evaluate(
        &mut self,
        facts: &StatementFacts,
        request: &RequestContext,
    ) -> Explanation {
        let kind = kind_tag(&facts.kind);
        let hash = self.snapshot.hash.clone();
        let failed = |message: String| {
            let mut decision = Decision::denied(
                kind,
                DenyReason::SessionInvalid {
                    message: message.clone(),
                },
                hash.clone(),
            );
            decision.errors.push(message);
            empty_explanation(facts, kind, decision)
        };
        let context = match self.session.requests.get_mut().context(
            request,
            self.snapshot.volatile_context,
            kind,
        ) {
            Ok(context) => Ask { kind, context },
            Err(message) => return failed(format!("cannot build the request context: {message}")),
        };
        if let Err(message) = self.add_missing_entities(facts) {
            return failed(format!(
                "cannot build entities for the statement: {message}"
            ));
        }

        let decision = Decision::denied(
            kind,
            DenyReason::SessionInvalid {
                message: String::new(),
            },
            hash,
        );
        let mut trace = Trace {
            explanation: empty_explanation(facts, kind, decision),
            allowed_policies: BTreeSet::new(),
            failed_policies: BTreeSet::new(),
            errors: Vec::new(),
        };

        self.check_statement(facts, &context, &mut trace);
        self.check_relations(facts, &context, &mut trace);
        self.check_functions(facts, &context, &mut trace);
        let statuses = self.check_columns(facts, &context, &mut trace);
        let plan = check_outputs(facts, &statuses, &mut trace);
        for reason in self.guardrails.check(facts) {
            trace.deny(reason);
        }

        finish(trace, plan, &statuses, self.guardrails.max_rows)
    }

    /// Decides the `connect` action on the target.
    pub(crate) fn connect(&mut self, request: &RequestContext) -> (Decision, CheckResult) {
        let hash = self.snapshot.hash.clone();
        let context = match self.session.requests.get_mut().context(
            request,
            self.snapshot.volatile_context,
            "",
        ) {
            Ok(context) => Ask { kind: "", context },
            Err(message) => {
                let mut decision = Decision::denied(
                    "connect",
                    DenyReason::SessionInvalid {
                        message: message.clone(),
                    },
                    hash,
                );
                decision.errors.push(message);
                return (decision, CheckResult::default());
            }
        };
        let result = self.authorize(Action::Connect, &self.target.uid, &context);
        let mut decision = Decision {
            outcome: Outcome::Allow,
            statement_kind: "connect",
            reason: None,
            determining_policies: result.policies.clone(),
            errors: result.errors.clone(),
            mask_plan: MaskPlan::default(),
            masked_columns: Vec::new(),
            max_rows: None,
            policy_hash: hash,
        };
        if !result.allowed {
            decision.outcome = Outcome::Deny;
            decision.reason = Some(if result.errors.is_empty() {
                DenyReason::StatementDenied {
                    action: Action::Connect,
                    kind: "connect",
                }
            } else {
                DenyReason::EvaluationFailed {
                    action: Action::Connect,
                    resource: self.target_name.to_owned(),
                }
            });
        }
        (decision, result)
    }

    /// Asks Cedar whether the principal may take `action` on `resource`, or
    /// returns the session's stored result of the same request.
    fn authorize(&self, action: Action, resource: &EntityUid, ask: &Ask) -> CheckResult {
        let index = action as usize;
        let (Some(action_uid), Some(policies)) = (
            self.snapshot.resources.actions.get(index),
            self.policies.get(index),
        ) else {
            return failed_check(format!("unknown action {action}"));
        };
        if policies.is_empty() {
            // No policy can permit it: Cedar's default deny, without building a request.
            return CheckResult::default();
        }
        let stored = self
            .session
            .requests
            .borrow()
            .result(ask.kind, action, resource);
        if let Some(result) = stored {
            return result;
        }

        let principal = self.principal.clone();
        let request = Request::new(
            principal,
            action_uid.clone(),
            resource.clone(),
            ask.context.clone(),
            None,
        );
        let request = match request {
            Ok(request) => request,
            Err(error) => return failed_check(error.to_string()),
        };
        let response = Authorizer::new().is_authorized(&request, policies, &self.session.entities);

        let diagnostics = response.diagnostics();
        let errors: Vec<String> = diagnostics.errors().map(ToString::to_string).collect();
        let mut policies: Vec<String> = diagnostics.reason().map(ToString::to_string).collect();
        policies.sort_unstable();
        let allowed = response.decision() == CedarDecision::Allow && errors.is_empty();
        let result = CheckResult {
            allowed,
            policies,
            errors,
        };

        let mut requests = self.session.requests.borrow_mut();
        requests.store(ask.kind, action, resource, &result);
        result
    }

    fn check_statement(&self, facts: &StatementFacts, ask: &Ask, trace: &mut Trace) {
        if let StatementKind::SessionSetting { action, name, .. } = &facts.kind {
            let effect = facts.session_effect.as_ref();
            if let Some(protected) = protected_setting(*action, name.as_deref(), effect) {
                trace.explanation.statement_checks.push(TargetCheck {
                    action: Action::SessionSetting,
                    result: None,
                    rule: Some(format!("protected parameter: {}", protected.explanation())),
                });
                let name = name.clone().unwrap_or_default();
                trace.deny(DenyReason::ProtectedSetting {
                    name,
                    explanation: protected.explanation(),
                });
            }
        }

        let mut actions = Vec::new();
        let has_access = |access| {
            facts
                .relations
                .iter()
                .any(|relation| relation.access.contains(&access))
        };
        target_actions(&facts.kind, &has_access, &mut actions);
        for action in actions {
            let result = self.authorize(action, &self.target.uid, ask);
            if !trace.record(&result) {
                let reason = if result.errors.is_empty() {
                    DenyReason::StatementDenied {
                        action,
                        kind: trace.explanation.kind,
                    }
                } else {
                    DenyReason::EvaluationFailed {
                        action,
                        resource: self.target_name.to_owned(),
                    }
                };
                trace.deny(reason);
            }
            trace.explanation.statement_checks.push(TargetCheck {
                action,
                result: Some(result),
                rule: None,
            });
        }
    }

    fn check_relations(&self, facts: &StatementFacts, ask: &Ask, trace: &mut Trace) {
        for relation in &facts.relations {
            let name = relation.relation.to_string();
            let uid = self.table_uid(&relation.relation.schema, &relation.relation.name);
            for access in &relation.access {
                let action = Action::for_access(*access);
                if let Some(view) = &relation.via_view {
                    let status = TableStatus::ViaView {
                        view: view.to_string(),
                    };
                    trace.explanation.tables.push(TableCheck {
                        relation: name.clone(),
                        kind: relation.kind,
                        action,
                        status,
                    });
                    continue;
                }
                let result = match uid {
                    Some(uid) => self.authorize(action, uid, ask),
                    None => missing_entity(&name),
                };
                if !trace.record(&result) {
                    let reason = if result.errors.is_empty() {
                        DenyReason::RelationDenied {
                            relation: name.clone(),
                            action,
                        }
                    } else {
                        DenyReason::EvaluationFailed {
                            action,
                            resource: name.clone(),
                        }
                    };
                    trace.deny(reason);
                }
                let status = TableStatus::Checked(result);
                trace.explanation.tables.push(TableCheck {
                    relation: name.clone(),
                    kind: relation.kind,
                    action,
                    status,
                });
            }
        }
    }

    fn check_functions(&self, facts: &StatementFacts, ask: &Ask, trace: &mut Trace) {
        for function in &facts.functions {
            let Some(group) = self.function_group(&function.name) else {
                continue;
            };
            let written = match &function.schema {
                Some(schema) => format!("{schema}.{}", function.name),
                None => function.name.clone(),
            };
            let result = match self.function_uid(&function.name) {
                Some(uid) => self.authorize(Action::CallFunction, uid, ask),
                None => missing_entity(&written),
            };
            if !trace.record(&result) {
                let reason = if result.errors.is_empty() {
                    DenyReason::FunctionDenied {
                        function: written.clone(),
                        entity: function.name.clone(),
                        group: group.as_str(),
                    }
                } else {
                    DenyReason::EvaluationFailed {
                        action: Action::CallFunction,
                        resource: written.clone(),
                    }
                };
                trace.deny(reason);
            } else if group == FunctionGroup::Settings {
                // A permit does not help: the analyzer cannot follow the change.
                trace.deny(DenyReason::SettingsFunction);
            }
            trace.explanation.functions.push(FunctionCheck {
                function: written,
                group: group.as_str(),
                result,
            });
        }
    }

    fn check_columns<'f>(
        &self,
        facts: &'f StatementFacts,
        ask: &Ask,
        trace: &mut Trace,
    ) -> HashMap<&'f ColumnName, ColumnStatus> {
        let mut statuses = HashMap::with_capacity(facts.columns.len());
        for column in &facts.columns {
            let name = column.column.to_string();
            let usages: Vec<ColumnUsage> = column.usages.iter().collect();
            if usages
                .iter()
                .all(|usage| *usage == ColumnUsage::WriteTarget)
            {
                statuses.insert(&column.column, ColumnStatus::WriteOnly);
                let check = ColumnCheck {
                    column: name,
                    usages,
                    status: ColumnStatus::WriteOnly,
                    result: None,
                };
                trace.explanation.columns.push(check);
                continue;
            }

            let result = match self.column_uid(&column.column) {
                Some(uid) => self.authorize(Action::Read, uid, ask),
                None => missing_entity(&name),
            };
            let status = if trace.record(&result) {
                self.mask_status(&result)
            } else {
                ColumnStatus::Denied
            };
            match status {
                ColumnStatus::Denied if !result.errors.is_empty() => {
                    trace.deny(DenyReason::EvaluationFailed {
                        action: Action::Read,
                        resource: name.clone(),
                    });
                }
                ColumnStatus::Denied => {
                    let usage = first_usage(column.usages, |_| true).unwrap_or(ColumnUsage::Output);
                    trace.deny(DenyReason::ColumnDenied {
                        column: name.clone(),
                        usage,
                    });
                }
                ColumnStatus::Masked { method } => {
                    if let Some(usage) =
                        first_usage(column.usages, |usage| !allowed_for_masked(usage))
                    {
                        trace.deny(DenyReason::MaskedColumnMisused {
                            column: name.clone(),
                            method,
                            usage,
                        });
                    }
                }
                ColumnStatus::Visible | ColumnStatus::WriteOnly => {}
            }
            statuses.insert(&column.column, status);
            trace.explanation.columns.push(ColumnCheck {
                column: name,
                usages,
                status,
                result: Some(result),
            });
        }
        statuses
    }

    /// Visible when a determining permit has no `@mask`; otherwise masked with
    /// the most revealing of their methods.
    fn mask_status(&self, result: &CheckResult) -> ColumnStatus {
        let mut strongest: Option<MaskMethod> = None;
        for policy in &result.policies {
            match self.snapshot.masks.get(policy) {
                None => return ColumnStatus::Visible,
                Some(method) => {
                    if strongest
                        .is_none_or(|current| revealing_rank(*method) > revealing_rank(current))
                    {
                        strongest = Some(*method);
                    }
                }
            }
        }
        match strongest {
            Some(method) => ColumnStatus::Masked { method },
            // Cedar allows only through a satisfied permit, so this is unreachable;
            // deny rather than show the column if it ever happens.
            None => ColumnStatus::Denied,
        }
    }

    fn table_uid(&self, schema: &str, name: &str) -> Option<&EntityUid> {
        if let Some(table) = self.target.table(schema, name) {
            return Some(&table.uid);
        }
        self.session
            .extra_tables
            .get(schema)?
            .get(name)
            .map(|table| &table.uid)
    }

    fn column_uid(&self, column: &ColumnName) -> Option<&EntityUid> {
        let known = self
            .target
            .table(&column.schema, &column.table)
            .and_then(|table| table.columns.get(&column.column));
        if known.is_some() {
            return known;
        }
        self.session
            .extra_tables
            .get(&column.schema)?
            .get(&column.table)?
            .columns
            .get(&column.column)
    }

    /// Returns the group of a function that needs a `call_function` permit on
    /// this target, or `None`.
    fn function_group(&self, name: &str) -> Option<FunctionGroup> {
        function_group(name, &self.target.functions)
    }

    fn function_uid(&self, name: &str) -> Option<&EntityUid> {
        let known = self.snapshot.resources.functions.get(name);
        known.or_else(|| self.session.extra_functions.get(name))
    }

    /// Adds entities for the statement's relations, columns and guarded or
    /// user-defined functions that the session does not have yet, in one batch.
    fn add_missing_entities(&mut self, facts: &StatementFacts) -> Result<(), String> {
        let types = &self.snapshot.resources.types;
        let target = self.target_name;
        let mut added = Vec::new();

        for relation in &facts.relations {
            let (schema, name) = (&relation.relation.schema, &relation.relation.name);
            if self.table_uid(schema, name).is_some() {
                continue;
            }
            if !self.target.schemas.contains(schema)
                && self.session.extra_schemas.insert(schema.clone())
            {
                added.push(schema_entity(types, target, schema)?);
            }
            let (uid, entity) = table_entity(types, target, schema, name, Vec::new())?;
            added.push(entity);
            let table = TableResource {
                uid,
                columns: HashMap::new(),
            };
            self.session
                .extra_tables
                .entry(schema.clone())
                .or_default()
                .insert(name.clone(), table);
        }

        for column in &facts.columns {
            if self.column_uid(&column.column).is_some() {
                continue;
            }
            let ColumnName {
                schema,
                table,
                column,
            } = &column.column;
            let Some(table_uid) = self.table_uid(schema, table).cloned() else {
                return Err(format!(
                    "column {schema}.{table}.{column} belongs to no relation of the statement"
                ));
            };
            let (uid, entity) =
                column_entity(types, &table_uid, target, schema, table, column, Vec::new())?;
            added.push(entity);
            let tables = self.session.extra_tables.entry(schema.clone()).or_default();
            let extra = tables
                .entry(table.clone())
                .or_insert_with(|| TableResource {
                    uid: table_uid,
                    columns: HashMap::new(),
                });
            extra.columns.insert(column.clone(), uid);
        }

        for function in &facts.functions {
            let Some(group) = self.function_group(&function.name) else {
                continue;
            };
            if self.function_uid(&function.name).is_some() {
                continue;
            }
            let (uid, entity) = function_entity(types, &function.name, group)?;
            added.push(entity);
            self.session
                .extra_functions
                .insert(function.name.clone(), uid);
        }

        if added.is_empty() {
            return Ok(());
        }
        let entities = mem::replace(&mut self.session.entities, Entities::empty());
        let backup = entities.clone();
        match entities.add_entities(added, Some(&self.snapshot.schema)) {
            Ok(entities) => {
                self.session.entities = entities;
                self.session.requests.get_mut().clear_results();
                Ok(())
            }
            Err(error) => {
                self.session.entities = backup;
                Err(error.to_string())
            }
        }
    }
}

/// Returns the first usage in [`USAGE_PRIORITY`] order that `accept` accepts.
fn first_usage(usages: UsageSet, accept: impl Fn(ColumnUsage) -> bool) -> Option<ColumnUsage> {
    USAGE_PRIORITY
        .into_iter()
        .find(|usage| usages.contains(*usage) && accept(*usage))
}

/// Returns a denied check with one error.
fn failed_check(error: String) -> CheckResult {
    CheckResult {
        allowed: false,
        policies: Vec::new(),
        errors: vec![error],
    }
}

fn missing_entity(name: &str) -> CheckResult {
    failed_check(format!("no entity for {name}"))
}

fn empty_explanation(
    facts: &StatementFacts,
    kind: &'static str,
    decision: Decision,
) -> Explanation {
    Explanation {
        statement: facts.text.clone(),
        kind,
        decision,
        statement_checks: Vec::new(),
        tables: Vec::new(),
        functions: Vec::new(),
        columns: Vec::new(),
        outputs: Vec::new(),
        denials: Vec::new(),
    }
}

/// Plans the mask of every result column and denies result columns that
/// reveal masked or denied values.
fn check_outputs(
    facts: &StatementFacts,
    statuses: &HashMap<&ColumnName, ColumnStatus>,
    trace: &mut Trace,
) -> MaskPlan {
    let mut plan = MaskPlan::default();
    for (position, output) in facts.output_columns.iter().enumerate() {
        let mut mask = None;
        let mut reasons = Vec::new();
        let source = match &output.source {
            OutputSource::Passthrough { columns } => {
                let mut methods: Vec<MaskMethod> = Vec::new();
                for column in columns {
                    match statuses.get(column) {
                        Some(ColumnStatus::Visible) => {}
                        Some(ColumnStatus::Masked { method }) => {
                            if !methods.contains(method) {
                                methods.push(*method);
                            }
                        }
                        // The column check already denied it (Output usage).
                        Some(ColumnStatus::Denied) => reasons.push(None),
                        Some(ColumnStatus::WriteOnly) | None => {
                            reasons.push(Some(DenyReason::ColumnDenied {
                                column: column.to_string(),
                                usage: ColumnUsage::Output,
                            }))
                        }
                    }
                }
                // NOTE: the facts do not tell UNION ALL, which compares nothing,
                // from UNION, INTERSECT and EXCEPT, so every combination is denied.
                match methods.as_slice() {
                    [] => {}
                    [method] if columns.len() == 1 => mask = Some(*method),
                    _ => {
                        let masked = columns.iter().find(|column| {
                            matches!(statuses.get(column), Some(ColumnStatus::Masked { .. }))
                        });
                        reasons.push(Some(DenyReason::MaskedInSetOperation {
                            output: output.name.clone(),
                            column: masked.map(ToString::to_string).unwrap_or_default(),
                        }));
                    }
                }
                join_columns(columns)
            }
            OutputSource::Computed { depends_on } => {
                let protected = depends_on
                    .iter()
                    .find(|column| !matches!(statuses.get(column), Some(ColumnStatus::Visible)));
                if let Some(column) = protected {
                    reasons.push(Some(DenyReason::ComputedFromProtected {
                        output: output.name.clone(),
                        column: column.to_string(),
                    }));
                }
                if depends_on.is_empty() {
                    "computed".to_owned()
                } else {
                    format!("computed from {}", join_columns(depends_on))
                }
            }
            OutputSource::Unlisted => "column of a system relation or function".to_owned(),
            OutputSource::UnlistedStar { relation } => {
                plan.open_ended = true;
                match relation {
                    Some(relation) => format!("* over {relation}"),
                    None => "* over a function".to_owned(),
                }
            }
        };

        let after_star =
            plan.open_ended && !matches!(output.source, OutputSource::UnlistedStar { .. });
        if after_star && mask.is_some() {
            reasons.push(Some(DenyReason::MaskAfterUnlistedStar {
                output: output.name.clone(),
            }));
        }
        if !plan.open_ended {
            plan.columns.push(mask);
        }
        let denied = !reasons.is_empty();
        for reason in reasons.into_iter().flatten() {
            trace.deny(reason);
        }
        let name = output.name.clone();
        trace.explanation.outputs.push(OutputCheck {
            position,
            name,
            source,
            mask,
            denied,
        });
    }
    plan
}

fn join_columns(columns: &[ColumnName]) -> String {
    let names: Vec<String> = columns.iter().map(ToString::to_string).collect();
    names.join(" | ")
}

/// Turns the trace into the decision.
fn finish(
    mut trace: Trace,
    plan: MaskPlan,
    statuses: &HashMap<&ColumnName, ColumnStatus>,
    max_rows: Option<u64>,
) -> Explanation {
    let decision = &mut trace.explanation.decision;
    decision.errors = mem::take(&mut trace.errors);
    decision.max_rows = max_rows;
    match trace.explanation.denials.first() {
        Some(reason) => {
            decision.outcome = Outcome::Deny;
            decision.reason = Some(reason.clone());
            decision.determining_policies = trace.failed_policies.into_iter().collect();
        }
        None => {
            decision.outcome = Outcome::Allow;
            decision.reason = None;
            decision.determining_policies = trace.allowed_policies.into_iter().collect();
            decision.mask_plan = plan;
            let mut masked: Vec<MaskedColumn> = statuses
                .iter()
                .filter_map(|(column, status)| match status {
                    ColumnStatus::Masked { method } => Some(MaskedColumn {
                        column: column.to_string(),
                        method: *method,
                    }),
                    _ => None,
                })
                .collect();
            masked.sort_by(|a, b| a.column.cmp(&b.column));
            decision.masked_columns = masked;
        }
    }
    trace.explanation
}
