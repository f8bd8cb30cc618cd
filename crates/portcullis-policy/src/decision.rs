//! Decisions: what the gateway does with a statement, and why.

use std::fmt;
use std::sync::Arc;

use portcullis_mask::MaskMethod;
use portcullis_sql::{ColumnUsage, StatementFacts};
use serde::{Serialize, Serializer};

use crate::action::Action;

/// Allow or deny.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Forward the statement, masking result columns as planned.
    Allow,
    /// Reject the statement with the reason.
    Deny,
}

/// The decision on one statement.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Decision {
    /// Allow or deny.
    pub outcome: Outcome,
    /// The statement kind, as in the request context's `statement_kind`.
    pub statement_kind: &'static str,
    /// Why the statement is denied: the first failed check, in the order
    /// statement kind, relations, functions, columns, result columns,
    /// guardrails. `None` when allowed.
    pub reason: Option<DenyReason>,
    /// Ids of the policies that determined the outcome: for an allowed
    /// statement the permits of every check, for a denied one the policies
    /// (forbids) of the failed checks, which is empty when nothing permitted.
    pub determining_policies: Vec<String>,
    /// Policy evaluation errors. Any error denies the check it occurred in.
    pub errors: Vec<String>,
    /// How to mask each result column.
    pub mask_plan: MaskPlan,
    /// The masked base columns, for the audit record.
    pub masked_columns: Vec<MaskedColumn>,
    /// Maximum number of rows the relay may return, from the guardrails.
    pub max_rows: Option<u64>,
    /// SHA-256 of the policy set that made the decision (hex).
    #[serde(serialize_with = "serialize_arc_str")]
    pub policy_hash: Arc<str>,
}

impl Decision {
    /// Returns whether the statement may be forwarded.
    pub fn is_allowed(&self) -> bool {
        self.outcome == Outcome::Allow
    }

    pub(crate) fn denied(
        statement_kind: &'static str,
        reason: DenyReason,
        policy_hash: Arc<str>,
    ) -> Self {
        Self {
            outcome: Outcome::Deny,
            statement_kind,
            reason: Some(reason),
            determining_policies: Vec::new(),
            errors: Vec::new(),
            mask_plan: MaskPlan::default(),
            masked_columns: Vec::new(),
            max_rows: None,
            policy_hash,
        }
    }
}

/// The mask of each result column, by position.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MaskPlan {
    /// One entry per result column in order: `None` passes values through,
    /// `Some` masks them with the method.
    pub columns: Vec<Option<MaskMethod>>,
    /// True when the result has a `*` over a relation whose columns the
    /// catalog does not list (a system catalog or a set-returning function), so
    /// the number of result columns is unknown. `columns` then stops before that
    /// `*`, and every result column from there on is passed through: the
    /// decision denies any masked column after such a `*`.
    pub open_ended: bool,
}

impl MaskPlan {
    /// Returns the mask of the result column at `position` (0-based).
    pub fn method(&self, position: usize) -> Option<MaskMethod> {
        self.columns.get(position).copied().flatten()
    }

    /// Returns whether any result column is masked.
    pub fn has_masks(&self) -> bool {
        self.columns.iter().any(Option::is_some)
    }
}

/// A base column whose values reach the result masked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MaskedColumn {
    /// `schema.table.column`.
    pub column: String,
    /// The method.
    pub method: MaskMethod,
}

/// The decision on one message: every statement must be allowed.
#[derive(Clone, Debug, Serialize)]
pub struct MessageDecision {
    /// Deny when any statement is denied, the analysis failed or a message-level
    /// guardrail applies.
    pub outcome: Outcome,
    /// The first reason the message is denied.
    pub reason: Option<DenyReason>,
    /// One decision per statement, in order; empty when the analysis failed.
    pub statements: Vec<Decision>,
    /// The analyzed statements, in order; empty when the analysis failed. The
    /// relay applies their session effects after the server ran them.
    #[serde(skip)]
    pub facts: Arc<Vec<StatementFacts>>,
    /// SHA-256 of the policy set (hex).
    #[serde(serialize_with = "serialize_arc_str")]
    pub policy_hash: Arc<str>,
}

impl MessageDecision {
    /// Returns whether the message may be forwarded.
    pub fn is_allowed(&self) -> bool {
        self.outcome == Outcome::Allow
    }
}

/// The reason a statement is denied. `Display` writes the message sent to the
/// client, which names relations, columns, functions and settings, never values.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DenyReason {
    /// The statement could not be analyzed.
    AnalysisFailed {
        /// The analyzer's message.
        message: String,
    },
    /// A statement-level action on the target is not permitted.
    StatementDenied {
        /// The action.
        action: Action,
        /// The statement kind.
        kind: &'static str,
    },
    /// A change of a run-time parameter that the gateway never allows.
    ProtectedSetting {
        /// The parameter.
        name: String,
        /// The reason the parameter is protected.
        explanation: &'static str,
    },
    /// A `set_config()` call, which the gateway never allows: it can change
    /// `search_path` or `standard_conforming_strings` to a value the analyzer
    /// cannot see, whatever the policies permit on the function.
    SettingsFunction,
    /// An action on a relation is not permitted.
    RelationDenied {
        /// `schema.name`.
        relation: String,
        /// The action.
        action: Action,
    },
    /// A guarded built-in or a user-defined function is not permitted.
    FunctionDenied {
        /// The function as written.
        function: String,
        /// The id of its `Function` entity: the name without a schema.
        entity: String,
        /// The group that makes it guarded.
        group: &'static str,
    },
    /// The user may not read a column that the statement uses.
    ColumnDenied {
        /// `schema.table.column`.
        column: String,
        /// The first usage that requires reading it.
        usage: ColumnUsage,
    },
    /// A masked column is used where a masked value cannot stand in for it.
    MaskedColumnMisused {
        /// `schema.table.column`.
        column: String,
        /// The column's mask.
        method: MaskMethod,
        /// The first usage a masked value cannot stand in for.
        usage: ColumnUsage,
    },
    /// A computed result column depends on a masked or denied column.
    ComputedFromProtected {
        /// The result column's name.
        output: String,
        /// `schema.table.column`.
        column: String,
    },
    /// A result column combines a masked column with other base columns: the
    /// branches of UNION, INTERSECT or EXCEPT, or the merged column of JOIN
    /// USING. All but UNION ALL compare the values, which would let a visible
    /// or user-written value test a masked one, and no single mask (or token
    /// key) fits values of several columns.
    MaskedInSetOperation {
        /// The result column's name.
        output: String,
        /// The masked column, `schema.table.column`.
        column: String,
    },
    /// A masked result column follows a `*` of unknown width.
    MaskAfterUnlistedStar {
        /// The result column's name.
        output: String,
    },
    /// A guardrail of the user's role applies.
    Guardrail {
        /// The guardrail setting, e.g. `deny_update_without_where`.
        rule: &'static str,
        /// The part of the statement the guardrail rejects.
        detail: String,
    },
    /// A policy could not be evaluated; the check fails closed.
    EvaluationFailed {
        /// The action of the check.
        action: Action,
        /// The resource, e.g. `public.patients` or `ehr`.
        resource: String,
    },
    /// The session cannot be decided at all (target no longer configured,
    /// entities invalid after a reload).
    SessionInvalid {
        /// The problem.
        message: String,
    },
}

impl DenyReason {
    /// Returns the SQLSTATE to report: 42501 (insufficient_privilege) for policy and
    /// guardrail denials, 42601 for statements that could not be analyzed and
    /// XX000 (internal_error) when evaluation failed.
    pub fn sqlstate(&self) -> &'static str {
        match self {
            DenyReason::AnalysisFailed { .. } => "42601",
            DenyReason::EvaluationFailed { .. } | DenyReason::SessionInvalid { .. } => "XX000",
            _ => "42501",
        }
    }
}

impl fmt::Display for DenyReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DenyReason::AnalysisFailed { message } => write!(f, "{message}"),
            DenyReason::StatementDenied { action, kind } => write!(
                f,
                "permission denied: your policies do not permit {} statements ({action}) on this target",
                kind.replace('_', " ").to_uppercase()
            ),
            DenyReason::ProtectedSetting { name, explanation } => {
                write!(f, "permission denied: parameter \"{name}\" cannot be changed through the gateway, because {explanation}")
            }
            DenyReason::SettingsFunction => write!(
                f,
                "permission denied: set_config() cannot be called through the gateway, because it could change \
                 search_path or standard_conforming_strings, which decide what the gateway checks; \
                 use SET for other parameters"
            ),
            DenyReason::RelationDenied { relation, action } => {
                write!(f, "permission denied: your policies do not permit {action} on {relation}")
            }
            DenyReason::FunctionDenied { function, entity, group } => write!(
                f,
                "permission denied: function {function} is guarded ({}) and your policies do not permit calling it. \
                 Calling it needs a policy that permits call_function on Portcullis::Function::\"{entity}\"",
                group.replace('_', " ")
            ),
            DenyReason::ColumnDenied { column, usage } => write!(
                f,
                "permission denied: your policies do not permit reading column {column}, which the statement uses in {}",
                usage_name(*usage)
            ),
            DenyReason::MaskedColumnMisused { column, method, usage } => write!(
                f,
                "column {column} is masked for you ({method}) and cannot be used in {}; select it only as a plain result column",
                usage_name(*usage)
            ),
            DenyReason::ComputedFromProtected { output, column } => write!(
                f,
                "result column \"{output}\" is computed from column {column}, which is masked or denied for you; \
                 select the column itself instead of an expression over it"
            ),
            DenyReason::MaskedInSetOperation { output, column } => write!(
                f,
                "result column \"{output}\" combines column {column}, which is masked for you, with other columns \
                 (UNION, INTERSECT, EXCEPT or JOIN USING); select the masked column in a statement of its own"
            ),
            DenyReason::MaskAfterUnlistedStar { output } => write!(
                f,
                "result column \"{output}\" is masked but follows a * over a system relation or function, so its position \
                 is unknown; list that relation's columns explicitly"
            ),
            DenyReason::Guardrail { rule, detail } => write!(f, "denied by guardrail {rule}: {detail}"),
            DenyReason::EvaluationFailed { action, resource } => write!(
                f,
                "policy evaluation failed for {action} on {resource}, so the statement is denied; \
                 ask an administrator to check the policy errors in the audit log"
            ),
            DenyReason::SessionInvalid { message } => write!(f, "{message}"),
        }
    }
}

/// Returns the place of a usage in the words of SQL.
pub(crate) fn usage_name(usage: ColumnUsage) -> &'static str {
    match usage {
        ColumnUsage::Output => "the select list",
        ColumnUsage::Filter => "WHERE",
        ColumnUsage::JoinCondition => "JOIN ... ON",
        ColumnUsage::OrderBy => "ORDER BY",
        ColumnUsage::GroupBy => "GROUP BY, DISTINCT, UNION, INTERSECT or EXCEPT",
        ColumnUsage::Having => "HAVING",
        ColumnUsage::Window => "a window definition",
        ColumnUsage::FunctionArgument => "a function or operator argument",
        ColumnUsage::Expression => "a computed result column",
        ColumnUsage::WriteTarget => "the target of a write",
        ColumnUsage::WriteSource => "a value written into a table",
        ColumnUsage::Returning => "RETURNING",
    }
}

fn serialize_arc_str<S: Serializer>(value: &Arc<str>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(value)
}
