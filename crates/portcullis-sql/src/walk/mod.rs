//! The parse-tree walk that turns one raw statement into facts.
//!
//! Every node type that is not handled explicitly fails the analysis with
//! [`AnalysisError::Unsupported`]: nothing passes unanalyzed.

mod builder;
mod clauses;
mod ddl;
mod ddl_kinds;
mod dml;
mod expr;
mod from;
mod join;
mod json;
mod returning;
mod scope;
mod select;
mod server_version;
mod settings;
mod stored;
mod targets;
mod utility;
mod view;

use pg_query::protobuf::node::Node as NodeEnum;
use pg_query::protobuf::Node;

pub(crate) use builder::{FactsBuilder, Lineage};
pub(crate) use stored::StoredStatements;

use crate::context::Catalog;
use crate::error::AnalysisError;
use crate::facts::{ColumnUsage, OutputColumn, RelationName, UsageSet};
use crate::kind::StatementKind;
use crate::session::SessionEffect;

/// One result column while the statement is analyzed.
#[derive(Clone, Debug)]
pub(crate) struct OutCol {
    pub name: String,
    pub lineage: Lineage,
    /// Set for a `*` over a relation whose columns are not listed: the entry
    /// stands for zero or more columns of that relation (`None` for a function).
    pub star: Option<Option<RelationName>>,
}

impl OutCol {
    pub fn new(name: impl Into<String>, lineage: Lineage) -> Self {
        Self {
            name: name.into(),
            lineage,
            star: None,
        }
    }
}

/// A statement's kind, its result columns before output usages are applied, and
/// its effect on the session.
pub(crate) struct Analyzed {
    pub kind: StatementKind,
    pub rows: Vec<OutCol>,
    /// True when `rows` come from RETURNING.
    pub returning: bool,
    pub effect: Option<SessionEffect>,
}

impl Analyzed {
    pub fn new(kind: StatementKind) -> Self {
        Self {
            kind,
            rows: Vec::new(),
            returning: false,
            effect: None,
        }
    }
}

/// Walks one statement. Lives for one statement; `'c` is the catalog's lifetime.
pub(crate) struct Analyzer<'c> {
    pub catalog: &'c Catalog,
    /// The search path in effect: the session's, or a view definition's.
    pub search_path: Vec<String>,
    pub facts: FactsBuilder<'c>,
    /// Views being expanded, outermost first.
    pub views: Vec<RelationName>,
    /// Prepared statements and cursors, for EXECUTE and FETCH.
    pub stored: &'c dyn StoredStatements,
}

impl<'c> Analyzer<'c> {
    pub fn new(
        catalog: &'c Catalog,
        search_path: &[String],
        stored: &'c dyn StoredStatements,
    ) -> Self {
        Self {
            catalog,
            search_path: search_path.to_vec(),
            facts: FactsBuilder::default(),
            views: Vec::new(),
            stored,
        }
    }

    /// Analyzes a statement without applying output usages to its result columns.
    pub fn statement(&mut self, node: &NodeEnum) -> Result<Analyzed, AnalysisError> {
        match node {
            NodeEnum::SelectStmt(select) => self.select_statement(select),
            NodeEnum::InsertStmt(insert) => {
                Ok(returning(StatementKind::Insert, self.insert(insert, None)?))
            }
            NodeEnum::UpdateStmt(update) => {
                Ok(returning(StatementKind::Update, self.update(update, None)?))
            }
            NodeEnum::DeleteStmt(delete) => {
                Ok(returning(StatementKind::Delete, self.delete(delete, None)?))
            }
            NodeEnum::MergeStmt(merge) => {
                Ok(returning(StatementKind::Merge, self.merge(merge, None)?))
            }
            other => self.utility(other),
        }
    }

    /// Applies the usages of a statement's result to its columns and converts
    /// them into output columns.
    pub fn finish_rows(&mut self, analyzed: &Analyzed) -> Vec<OutputColumn> {
        let mut usages = UsageSet::from_iter([ColumnUsage::Output]);
        if analyzed.returning {
            usages.insert(ColumnUsage::Returning);
        }
        for row in &analyzed.rows {
            self.facts.record(&row.lineage, usages);
            if row.star.is_some() {
                self.facts.note_unlisted();
            }
        }
        let rows = analyzed.rows.iter();
        rows.map(|row| {
            self.facts
                .output_column(&row.name, &row.lineage, row.star.as_ref())
        })
        .collect()
    }

    /// Returns the view that relations found now are reached through.
    pub fn via_view(&self) -> Option<&RelationName> {
        self.views.first()
    }
}

fn returning(kind: StatementKind, rows: Vec<OutCol>) -> Analyzed {
    Analyzed {
        kind,
        rows,
        returning: true,
        effect: None,
    }
}

/// Returns the node's type name, e.g. `JsonTable`, for error messages. The
/// name never includes the node's contents, which may hold ePHI.
pub(crate) fn node_name(node: &NodeEnum) -> String {
    match serde_json::to_value(node) {
        Ok(serde_json::Value::Object(map)) => map
            .keys()
            .next()
            .cloned()
            .unwrap_or_else(|| "an unknown node".into()),
        _ => "an unknown node".into(),
    }
}

pub(crate) fn unsupported(node: &NodeEnum) -> AnalysisError {
    AnalysisError::unsupported(node_name(node))
}

/// Returns the inner node, or an error naming the missing part.
pub(crate) fn inner<'n>(node: &'n Node, part: &str) -> Result<&'n NodeEnum, AnalysisError> {
    node.node
        .as_ref()
        .ok_or_else(|| AnalysisError::unsupported(format!("an empty {part}")))
}

pub(crate) fn inner_opt<'n>(
    node: Option<&'n Node>,
    part: &str,
) -> Result<&'n NodeEnum, AnalysisError> {
    node.and_then(|node| node.node.as_ref())
        .ok_or_else(|| AnalysisError::unsupported(format!("a missing {part}")))
}

/// Returns the text of a `String` node.
pub(crate) fn string_value(node: &Node) -> Option<&str> {
    match node.node.as_ref()? {
        NodeEnum::String(string) => Some(&string.sval),
        _ => None,
    }
}

/// Returns the texts of a list of `String` nodes, e.g. a qualified name.
pub(crate) fn string_list(nodes: &[Node]) -> Result<Vec<&str>, AnalysisError> {
    nodes
        .iter()
        .map(|node| {
            string_value(node)
                .ok_or_else(|| AnalysisError::unsupported("a name that is not a string"))
        })
        .collect()
}

/// Splits a qualified name into schema and object, dropping a leading database
/// name (PostgreSQL rejects any database but the current one).
pub(crate) fn split_qualified<'n>(
    parts: &[&'n str],
) -> Result<(Option<&'n str>, &'n str), AnalysisError> {
    match parts {
        [name] => Ok((None, name)),
        [schema, name] | [_, schema, name] => Ok((Some(schema), name)),
        _ => Err(AnalysisError::invalid(format!(
            "improper qualified name (too many dotted names): {}",
            parts.join(".")
        ))),
    }
}
