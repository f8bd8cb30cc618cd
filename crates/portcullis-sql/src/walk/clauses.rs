//! ORDER BY, GROUP BY, DISTINCT ON and FOR UPDATE of a SELECT.

use pg_query::protobuf::node::Node as NodeEnum;
use pg_query::protobuf::Node;

use crate::error::AnalysisError;
use crate::facts::{Access, ColumnUsage};
use crate::walk::scope::Scope;
use crate::walk::{inner, Analyzer, Lineage, OutCol};

impl<'c> Analyzer<'c> {
    /// Records an ORDER BY or DISTINCT ON item. A bare name matches a result column
    /// first, an integer is a result column position, anything else is an
    /// expression over the FROM items (PostgreSQL's `findTargetlistEntrySQL92`).
    pub(super) fn order_item(
        &mut self,
        node: Option<&Node>,
        scope: &Scope<'_, 'c>,
        rows: &[OutCol],
        usage: ColumnUsage,
    ) -> Result<(), AnalysisError> {
        let lineage = match output_reference(node, rows) {
            Ok(lineage) => lineage,
            Err(_) => self.expr_opt(node, scope)?,
        };
        self.facts.record_one(&lineage, usage);
        Ok(())
    }

    /// Records a GROUP BY item. A bare name matches a FROM column first, then a result
    /// column; an integer is a result column position.
    pub(super) fn group_item(
        &mut self,
        node: &Node,
        scope: &Scope<'_, 'c>,
        rows: &[OutCol],
    ) -> Result<(), AnalysisError> {
        let lineage = match inner(node, "GROUP BY item")? {
            NodeEnum::GroupingSet(set) => {
                for item in &set.content {
                    self.group_item(item, scope, rows)?;
                }
                return Ok(());
            }
            NodeEnum::List(list) => {
                for item in &list.items {
                    self.group_item(item, scope, rows)?;
                }
                return Ok(());
            }
            NodeEnum::AConst(_) => output_reference(Some(node), rows)?,
            _ => match self.expr(node, scope) {
                Err(AnalysisError::UnknownColumn { name }) => output_reference(Some(node), rows)
                    .map_err(|_| AnalysisError::UnknownColumn { name })?,
                other => other?,
            },
        };
        self.facts.record_one(&lineage, ColumnUsage::GroupBy);
        Ok(())
    }

    /// `FOR UPDATE/SHARE [OF name, ...]`: row locks on the named FROM items, or on all.
    pub(super) fn locking(
        &mut self,
        clauses: &[Node],
        scope: &Scope<'_, 'c>,
    ) -> Result<(), AnalysisError> {
        for clause in clauses {
            let NodeEnum::LockingClause(locking) = inner(clause, "locking clause")? else {
                return Err(AnalysisError::unsupported("a malformed FOR UPDATE clause"));
            };
            let mut relations = Vec::new();
            if locking.locked_rels.is_empty() {
                relations.extend(scope.items.iter().filter_map(|item| item.relation.clone()));
            }
            for locked in &locking.locked_rels {
                let NodeEnum::RangeVar(range) = inner(locked, "FOR UPDATE target")? else {
                    return Err(AnalysisError::unsupported(
                        "a FOR UPDATE target that is not a name",
                    ));
                };
                let item = scope.find_item(None, &range.relname)?.ok_or_else(|| {
                    AnalysisError::invalid(format!(
                        "relation \"{}\" in FOR UPDATE clause not found in FROM clause",
                        range.relname
                    ))
                })?;
                relations.extend(item.relation.clone());
            }
            for (relation, kind) in relations {
                let via_view = self.via_view().cloned();
                self.facts
                    .access(&relation, kind, Access::Lock, via_view.as_ref());
            }
        }
        Ok(())
    }
}

/// Finds the result column that ORDER BY, DISTINCT ON or GROUP BY names or numbers.
pub(super) fn output_reference(
    node: Option<&Node>,
    rows: &[OutCol],
) -> Result<Lineage, AnalysisError> {
    let not_output = || {
        AnalysisError::unsupported(
            "an ORDER BY item that is not a result column name or position here",
        )
    };
    match node.and_then(|node| node.node.as_ref()) {
        Some(NodeEnum::AConst(constant)) => {
            let Some(pg_query::protobuf::a_const::Val::Ival(position)) = &constant.val else {
                return Err(not_output());
            };
            let row = usize::try_from(position.ival)
                .ok()
                .and_then(|position| position.checked_sub(1));
            let row = row.and_then(|index| rows.get(index)).ok_or_else(|| {
                AnalysisError::invalid(format!(
                    "position {} is not in the select list",
                    position.ival
                ))
            })?;
            Ok(row.lineage.clone())
        }
        Some(NodeEnum::ColumnRef(column)) => {
            let (names, star) = crate::walk::expr::column_ref_names(column)?;
            let [name] = names.as_slice() else {
                return Err(not_output());
            };
            let mut matches = rows
                .iter()
                .filter(|row| row.name == *name && !star)
                .peekable();
            if matches.peek().is_none() {
                return Err(not_output());
            }
            let mut lineage = Lineage::default();
            for row in matches {
                lineage.merge(&row.lineage);
            }
            Ok(lineage)
        }
        _ => Err(not_output()),
    }
}
