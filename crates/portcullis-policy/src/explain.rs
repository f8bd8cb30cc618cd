//! Explanations: every check behind a decision, for `portcullis policy explain`.
//!
//! The evaluator produces an [`Explanation`] for every statement it decides, and
//! a decision is the `decision` field of it, so an explanation and the decision
//! the gateway enforces cannot disagree.

use std::fmt;

use portcullis_mask::MaskMethod;
use portcullis_sql::{ColumnUsage, RelationKind};
use serde::Serialize;

use crate::action::Action;
use crate::decision::{Decision, DenyReason};

/// Every check made for one statement, and the decision.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Explanation {
    /// The statement text.
    pub statement: String,
    /// The statement kind.
    pub kind: &'static str,
    /// The decision, exactly as enforced.
    pub decision: Decision,
    /// Statement-level checks on the target, including protected settings.
    pub statement_checks: Vec<TargetCheck>,
    /// One entry per relation and kind of access.
    pub tables: Vec<TableCheck>,
    /// Guarded built-in and user-defined functions the statement calls.
    pub functions: Vec<FunctionCheck>,
    /// Every base column the statement uses.
    pub columns: Vec<ColumnCheck>,
    /// Every result column, in order.
    pub outputs: Vec<OutputCheck>,
    /// Every failed check, in evaluation order; the decision's reason is the first.
    pub denials: Vec<DenyReason>,
}

/// The result of one Cedar request.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CheckResult {
    /// True when Cedar allowed the request without evaluation errors.
    pub allowed: bool,
    /// The determining policies (Cedar's `diagnostics().reason()`), sorted.
    pub policies: Vec<String>,
    /// Evaluation errors; any error denies the request.
    pub errors: Vec<String>,
}

/// A statement-level check on the target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TargetCheck {
    /// The action, e.g. `session_setting`.
    pub action: Action,
    /// The Cedar result; `None` when a built-in rule denied the statement before
    /// any policy was asked (protected settings).
    pub result: Option<CheckResult>,
    /// The built-in rule that denied it, if any.
    pub rule: Option<String>,
}

/// The outcome of one relation access.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum TableStatus {
    /// Cedar was asked.
    Checked(CheckResult),
    /// The relation is read only through a view, whose own check covers it.
    ViaView {
        /// `schema.view`.
        view: String,
    },
}

/// One relation access.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TableCheck {
    /// `schema.name`.
    pub relation: String,
    /// The relation's kind.
    pub kind: RelationKind,
    /// The action.
    pub action: Action,
    /// The result.
    pub status: TableStatus,
}

/// One guarded built-in or user-defined function.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FunctionCheck {
    /// The function, schema-qualified when the statement qualified it.
    pub function: String,
    /// The group that makes it guarded.
    pub group: &'static str,
    /// The result.
    pub result: CheckResult,
}

/// The use the user may make of a column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ColumnStatus {
    /// The value may be used anywhere and reaches results unchanged.
    Visible,
    /// The value reaches results only masked, and may be used nowhere else.
    Masked {
        /// The method.
        method: MaskMethod,
    },
    /// The column may not be used at all.
    Denied,
    /// The statement only writes the column, so no `read` check applies.
    WriteOnly,
}

impl fmt::Display for ColumnStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ColumnStatus::Visible => f.write_str("visible"),
            ColumnStatus::Masked { method } => write!(f, "masked({method})"),
            ColumnStatus::Denied => f.write_str("denied"),
            ColumnStatus::WriteOnly => f.write_str("write only"),
        }
    }
}

/// One base column.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ColumnCheck {
    /// `schema.table.column`.
    pub column: String,
    /// The statement's usages of it.
    pub usages: Vec<ColumnUsage>,
    /// The outcome.
    pub status: ColumnStatus,
    /// The Cedar result of the `read` request; `None` for write-only columns.
    pub result: Option<CheckResult>,
}

/// One result column.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OutputCheck {
    /// Position, from 0.
    pub position: usize,
    /// The column name.
    pub name: String,
    /// The source of the values, e.g. `public.patients.ssn`,
    /// `computed from public.patients.dob`, `system relation`.
    pub source: String,
    /// The mask, when the result column is masked.
    pub mask: Option<MaskMethod>,
    /// True when this result column causes a denial.
    pub denied: bool,
}

/// The explanation of a whole message.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MessageExplanation {
    /// The message's overall reason when it is denied: the analysis error, a
    /// message-level guardrail, or the first denied statement's reason.
    pub reason: Option<DenyReason>,
    /// One explanation per statement.
    pub statements: Vec<Explanation>,
}

fn yes_no(result: &CheckResult) -> &'static str {
    if result.allowed {
        "allow"
    } else {
        "deny"
    }
}

fn policies(result: &CheckResult) -> String {
    let mut text = result.policies.join(", ");
    if !result.errors.is_empty() {
        if !text.is_empty() {
            text.push_str("; ");
        }
        text.push_str(&format!("{} evaluation error(s)", result.errors.len()));
    }
    if text.is_empty() {
        text.push_str("(no policy)");
    }
    text
}

/// Writes rows as left-aligned columns separated by two spaces.
fn write_table(f: &mut fmt::Formatter<'_>, header: &[&str], rows: &[Vec<String>]) -> fmt::Result {
    let mut widths: Vec<usize> = header.iter().map(|title| title.len()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut line = |cells: Vec<&str>| -> fmt::Result {
        let mut text = String::from("  ");
        for (index, (cell, width)) in cells.iter().zip(&widths).enumerate() {
            text.push_str(cell);
            if index + 1 < cells.len() {
                text.push_str(&" ".repeat(width - cell.chars().count() + 2));
            }
        }
        writeln!(f, "{}", text.trim_end())
    };
    line(header.to_vec())?;
    for row in rows {
        line(row.iter().map(String::as_str).collect())?;
    }
    Ok(())
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "statement: {}", self.statement)?;
        writeln!(f, "kind:      {}", self.kind)?;
        match &self.decision.reason {
            None => writeln!(f, "decision:  ALLOW")?,
            Some(reason) => writeln!(f, "decision:  DENY: {reason}")?,
        }

        if !self.statement_checks.is_empty() {
            writeln!(f, "\nstatement checks on the target:")?;
            let rows: Vec<Vec<String>> = self
                .statement_checks
                .iter()
                .map(|check| match (&check.result, &check.rule) {
                    (_, Some(rule)) => vec![check.action.to_string(), "deny".into(), rule.clone()],
                    (Some(result), None) => vec![
                        check.action.to_string(),
                        yes_no(result).into(),
                        policies(result),
                    ],
                    (None, None) => vec![check.action.to_string(), "-".into(), String::new()],
                })
                .collect();
            write_table(f, &["action", "result", "policies"], &rows)?;
        }

        if !self.tables.is_empty() {
            writeln!(f, "\ntables:")?;
            let rows: Vec<Vec<String>> = self
                .tables
                .iter()
                .map(|table| {
                    let (result, detail) = match &table.status {
                        TableStatus::Checked(result) => {
                            (yes_no(result).to_owned(), policies(result))
                        }
                        TableStatus::ViaView { view } => {
                            ("via view".to_owned(), format!("decided on {view}"))
                        }
                    };
                    vec![
                        table.relation.clone(),
                        table.action.to_string(),
                        result,
                        detail,
                    ]
                })
                .collect();
            write_table(f, &["relation", "action", "result", "policies"], &rows)?;
        }

        if !self.functions.is_empty() {
            writeln!(f, "\nguarded functions:")?;
            let rows: Vec<Vec<String>> = self
                .functions
                .iter()
                .map(|function| {
                    let result = &function.result;
                    vec![
                        function.function.clone(),
                        function.group.to_owned(),
                        yes_no(result).into(),
                        policies(result),
                    ]
                })
                .collect();
            write_table(f, &["function", "group", "result", "policies"], &rows)?;
        }

        if !self.columns.is_empty() {
            writeln!(f, "\ncolumns:")?;
            let rows: Vec<Vec<String>> = self
                .columns
                .iter()
                .map(|column| {
                    let usages: Vec<String> = column
                        .usages
                        .iter()
                        .map(|usage| usage_label(*usage))
                        .collect();
                    let detail = column.result.as_ref().map(policies).unwrap_or_default();
                    vec![
                        column.column.clone(),
                        usages.join(","),
                        column.status.to_string(),
                        detail,
                    ]
                })
                .collect();
            write_table(f, &["column", "usages", "status", "policies"], &rows)?;
        }

        if !self.outputs.is_empty() {
            writeln!(f, "\nresult columns:")?;
            let rows: Vec<Vec<String>> = self
                .outputs
                .iter()
                .map(|output| {
                    let mask = match (output.denied, output.mask) {
                        (true, _) => "denied".to_owned(),
                        (false, Some(method)) => method.to_string(),
                        (false, None) => "-".to_owned(),
                    };
                    vec![
                        output.position.to_string(),
                        output.name.clone(),
                        output.source.clone(),
                        mask,
                    ]
                })
                .collect();
            write_table(f, &["#", "name", "source", "mask"], &rows)?;
        }

        if self.denials.len() > 1 {
            writeln!(f, "\nall denials:")?;
            for denial in &self.denials {
                writeln!(f, "  - {denial}")?;
            }
        }
        if let Some(rows) = self.decision.max_rows {
            writeln!(f, "\nmax rows: {rows}")?;
        }
        writeln!(f, "policy set: {}", self.decision.policy_hash)
    }
}

impl fmt::Display for MessageExplanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(reason) = &self.reason {
            writeln!(f, "message: DENY: {reason}")?;
        }
        for (index, statement) in self.statements.iter().enumerate() {
            if index > 0 || self.reason.is_some() {
                writeln!(f)?;
            }
            write!(f, "{statement}")?;
        }
        Ok(())
    }
}

fn usage_label(usage: ColumnUsage) -> String {
    match serde_json::to_value(usage) {
        Ok(serde_json::Value::String(name)) => name,
        _ => format!("{usage:?}"),
    }
}
