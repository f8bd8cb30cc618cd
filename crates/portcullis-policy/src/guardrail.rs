//! Guardrails: per-target, per-role limits that hold whatever the policies permit.
//!
//! ```toml
//! [[guardrails]]
//! target = "ehr"                    # or "*" for every target
//! roles = ["analyst"]               # empty or absent: every user
//! deny_update_without_where = true
//! deny_delete_without_where = true  # TRUNCATE counts as a DELETE without WHERE
//! deny_ddl = true
//! deny_multi_statement = true       # one statement per simple-query message
//! read_only = true                  # no write, DDL, GRANT, maintenance, COPY FROM, CALL, DO,
//!                                   # nextval, setval, pg_notify or advisory lock
//! max_rows = 1000                   # returned in the decision for the relay to enforce
//! ```
//!
//! Every section that matches the session's target and one of its roles
//! applies: the `deny_*` and `read_only` settings add up, and the smallest
//! `max_rows` wins.
//!
//! A statement counts as having a WHERE clause for a written relation when one
//! of that relation's columns has a `Filter` usage: portcullis-sql reports no
//! WHERE fact of its own. A filter in a subquery over another reference to the
//! same table counts too, so the check stops accidents, not deliberate evasion.

use portcullis_sql::{Access, ColumnUsage, StatementFacts, StatementKind};
use serde::{Deserialize, Serialize};

use crate::decision::DenyReason;
use crate::error::LoadError;
use crate::function::{guarded_function, FunctionGroup};

/// One `[[guardrails]]` section.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GuardrailRule {
    /// The target name, or `*` for every target.
    pub target: String,
    /// The roles it applies to; empty for every user.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Deny UPDATE without a WHERE clause on the updated table.
    #[serde(default)]
    pub deny_update_without_where: bool,
    /// Deny DELETE without a WHERE clause on the table, and TRUNCATE.
    #[serde(default)]
    pub deny_delete_without_where: bool,
    /// Deny DDL, including CREATE EXTENSION.
    #[serde(default)]
    pub deny_ddl: bool,
    /// Deny messages with more than one statement.
    #[serde(default)]
    pub deny_multi_statement: bool,
    /// Deny every statement that changes data, schema or privileges.
    #[serde(default)]
    pub read_only: bool,
    /// Maximum number of rows per result.
    #[serde(default)]
    pub max_rows: Option<u64>,
}

/// The guardrails file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GuardrailSet {
    /// The sections, in file order.
    #[serde(default)]
    pub guardrails: Vec<GuardrailRule>,
}

impl GuardrailSet {
    /// Parses a guardrails file. `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Self, LoadError> {
        let invalid = |message: String| LoadError::Guardrails {
            file: file.to_owned(),
            message,
        };
        let set: GuardrailSet = toml::from_str(text).map_err(|error| invalid(error.to_string()))?;
        for (index, rule) in set.guardrails.iter().enumerate() {
            if rule.target.is_empty() {
                return Err(invalid(format!(
                    "section {} has an empty target; use \"*\" for every target",
                    index + 1
                )));
            }
            if rule.max_rows == Some(0) {
                return Err(invalid(format!(
                    "section {} sets max_rows = 0, which would deny every result",
                    index + 1
                )));
            }
        }
        Ok(set)
    }

    /// Combines the sections that apply to a session on `target` with `roles`.
    pub fn resolve(&self, target: &str, roles: &[String]) -> Guardrails {
        let mut resolved = Guardrails::default();
        let applies = |rule: &GuardrailRule| {
            (rule.target == "*" || rule.target == target)
                && (rule.roles.is_empty() || rule.roles.iter().any(|role| roles.contains(role)))
        };
        for rule in self.guardrails.iter().filter(|rule| applies(rule)) {
            resolved.deny_update_without_where |= rule.deny_update_without_where;
            resolved.deny_delete_without_where |= rule.deny_delete_without_where;
            resolved.deny_ddl |= rule.deny_ddl;
            resolved.deny_multi_statement |= rule.deny_multi_statement;
            resolved.read_only |= rule.read_only;
            resolved.max_rows = match (resolved.max_rows, rule.max_rows) {
                (Some(current), Some(limit)) => Some(current.min(limit)),
                (current, limit) => current.or(limit),
            };
        }
        resolved
    }
}

/// The guardrails of one session.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Guardrails {
    /// See [`GuardrailRule::deny_update_without_where`].
    pub deny_update_without_where: bool,
    /// See [`GuardrailRule::deny_delete_without_where`].
    pub deny_delete_without_where: bool,
    /// See [`GuardrailRule::deny_ddl`].
    pub deny_ddl: bool,
    /// See [`GuardrailRule::deny_multi_statement`].
    pub deny_multi_statement: bool,
    /// See [`GuardrailRule::read_only`].
    pub read_only: bool,
    /// See [`GuardrailRule::max_rows`].
    pub max_rows: Option<u64>,
}

impl Guardrails {
    /// Returns every guardrail the statement breaks, in a fixed order.
    pub(crate) fn check(&self, facts: &StatementFacts) -> Vec<DenyReason> {
        let mut broken = Vec::new();
        let kind = innermost_kind(&facts.kind);

        if self.read_only {
            if let Some(detail) = write_in(facts, kind) {
                broken.push(DenyReason::Guardrail {
                    rule: "read_only",
                    detail,
                });
            }
        }
        if self.deny_ddl {
            let ddl_relation = facts
                .relations
                .iter()
                .find(|relation| relation.access.contains(&Access::Ddl));
            if let Some(relation) = ddl_relation {
                let detail = format!(
                    "the statement changes the definition of {}",
                    relation.relation
                );
                broken.push(DenyReason::Guardrail {
                    rule: "deny_ddl",
                    detail,
                });
            } else if matches!(
                kind,
                StatementKind::Ddl { .. } | StatementKind::CreateExtension { .. }
            ) {
                broken.push(DenyReason::Guardrail {
                    rule: "deny_ddl",
                    detail: "the statement is DDL".to_owned(),
                });
            }
        }
        if self.deny_update_without_where {
            if let Some(relation) = unfiltered_write(facts, kind, Access::Update) {
                let detail = format!("UPDATE of {relation} has no WHERE condition on its columns");
                broken.push(DenyReason::Guardrail {
                    rule: "deny_update_without_where",
                    detail,
                });
            }
        }
        if self.deny_delete_without_where {
            if let Some(relation) = unfiltered_write(facts, kind, Access::Delete) {
                let detail =
                    format!("DELETE from {relation} has no WHERE condition on its columns");
                broken.push(DenyReason::Guardrail {
                    rule: "deny_delete_without_where",
                    detail,
                });
            } else if let Some(relation) = facts
                .relations
                .iter()
                .find(|r| r.access.contains(&Access::Truncate))
            {
                let detail = format!("TRUNCATE of {} removes every row", relation.relation);
                broken.push(DenyReason::Guardrail {
                    rule: "deny_delete_without_where",
                    detail,
                });
            }
        }
        broken
    }
}

/// The kind of the statement a wrapper (PREPARE, EXECUTE, EXPLAIN) runs.
fn innermost_kind(kind: &StatementKind) -> &StatementKind {
    match kind {
        StatementKind::Prepare { statement, .. }
        | StatementKind::Execute { statement, .. }
        | StatementKind::Explain { statement, .. } => innermost_kind(statement),
        other => other,
    }
}

/// Returns the first relation with `access` whose columns have no `Filter` usage.
/// Upserts (an insert that may update) and MERGE are exempt: they touch only
/// the rows that conflict with or match their input.
fn unfiltered_write(
    facts: &StatementFacts,
    kind: &StatementKind,
    access: Access,
) -> Option<String> {
    if matches!(kind, StatementKind::Merge) {
        return None;
    }
    let relation = facts.relations.iter().find(|relation| {
        relation.access.contains(&access)
            && !relation.access.contains(&Access::Insert)
            && !facts.columns.iter().any(|column| {
                column.column.schema == relation.relation.schema
                    && column.column.table == relation.relation.name
                    && column.usages.contains(ColumnUsage::Filter)
            })
    })?;
    Some(relation.relation.to_string())
}

/// Describes what the statement writes, for `read_only`, or returns `None`
/// when it only reads.
fn write_in(facts: &StatementFacts, kind: &StatementKind) -> Option<String> {
    let written = facts.relations.iter().find_map(|relation| {
        let access = relation
            .access
            .iter()
            .find(|access| **access != Access::Read)?;
        let action = crate::action::Action::for_access(*access);
        Some(format!(
            "the statement needs {action} on {}",
            relation.relation
        ))
    });
    if written.is_some() {
        return written;
    }
    let writing_function = facts
        .functions
        .iter()
        .find(|function| guarded_function(&function.name) == Some(FunctionGroup::Writes));
    if let Some(function) = writing_function {
        return Some(format!(
            "function {} changes sequences, notifies other sessions or takes locks",
            function.name
        ));
    }
    let writes = matches!(
        kind,
        StatementKind::Ddl { .. }
            | StatementKind::Grant { .. }
            | StatementKind::Revoke { .. }
            | StatementKind::AlterSystem { .. }
            | StatementKind::CreateExtension { .. }
            | StatementKind::Load { .. }
            | StatementKind::Call
            | StatementKind::DoBlock { .. }
            | StatementKind::CopyFrom
            | StatementKind::CopyProgram { .. }
            | StatementKind::CopyFile { .. }
            | StatementKind::Vacuum
            | StatementKind::Analyze
            | StatementKind::Truncate
            | StatementKind::Lock
    );
    writes.then(|| {
        format!(
            "{} statements can change data or the server",
            crate::action::kind_tag(kind)
        )
    })
}
