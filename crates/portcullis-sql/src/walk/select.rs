//! SELECT, VALUES, set operations and WITH.

use std::borrow::Cow;

use pg_query::protobuf::node::Node as NodeEnum;
use pg_query::protobuf::{CommonTableExpr, Node, SelectStmt, SetOperation, WithClause};

use crate::error::AnalysisError;
use crate::facts::ColumnUsage;
use crate::kind::StatementKind;
use crate::walk::scope::{Cte, ItemColumn, Origin, Scope, UnlistedColumns};
use crate::walk::{inner, string_value, unsupported, Analyzed, Analyzer, Lineage, OutCol};

/// Maximum number of passes over a recursive term. Each pass that does not
/// settle adds at least one source column, so real queries settle in two or three.
const MAX_RECURSIVE_PASSES: usize = 8;

impl<'c> Analyzer<'c> {
    /// Analyzes a top-level SELECT. SELECT INTO is reported as CREATE TABLE AS.
    pub fn select_statement(&mut self, select: &SelectStmt) -> Result<Analyzed, AnalysisError> {
        if select.into_clause.is_some() {
            return self.select_into(select);
        }
        let rows = self.select(select, None, false)?;
        Ok(Analyzed {
            kind: StatementKind::Select,
            rows,
            returning: false,
            effect: None,
        })
    }

    /// Analyzes a subquery: in FROM, in an expression or in a CTE.
    /// `hide_parent_items` is true for a non-LATERAL subquery in FROM.
    pub fn query(
        &mut self,
        node: &Node,
        parent: Option<&Scope<'_, 'c>>,
        hide_parent_items: bool,
    ) -> Result<Vec<OutCol>, AnalysisError> {
        match inner(node, "subquery")? {
            NodeEnum::SelectStmt(select) => self.select(select, parent, hide_parent_items),
            other => Err(unsupported(other)),
        }
    }

    pub fn select(
        &mut self,
        select: &SelectStmt,
        parent: Option<&Scope<'_, 'c>>,
        hide_parent_items: bool,
    ) -> Result<Vec<OutCol>, AnalysisError> {
        if select.into_clause.is_some() {
            return Err(AnalysisError::unsupported(
                "SELECT INTO inside another statement",
            ));
        }
        let mut scope = Scope::new(parent, hide_parent_items);
        if let Some(with) = &select.with_clause {
            self.with_clause(with, &mut scope)?;
        }
        let op = SetOperation::try_from(select.op).unwrap_or(SetOperation::Undefined);
        if matches!(op, SetOperation::SetopNone | SetOperation::Undefined)
            && select.values_lists.is_empty()
        {
            return self.simple_select(select, &mut scope);
        }

        let rows = if select.values_lists.is_empty() {
            let rows = self.set_operation(select, &scope)?;
            if !select.all {
                // UNION, INTERSECT and EXCEPT without ALL compare whole rows.
                self.record_deduplicated(&rows);
            }
            rows
        } else {
            self.values(&select.values_lists, &scope)?
        };
        for item in &select.sort_clause {
            let sort = crate::walk::expr::sort_by(item)?;
            let lineage = super::clauses::output_reference(sort.node.as_deref(), &rows)?;
            self.facts.record_one(&lineage, ColumnUsage::OrderBy);
        }
        self.clause(select.limit_offset.as_deref(), &scope, ColumnUsage::Filter)?;
        self.clause(select.limit_count.as_deref(), &scope, ColumnUsage::Filter)?;
        if !select.locking_clause.is_empty() {
            return Err(AnalysisError::unsupported(
                "FOR UPDATE/SHARE on a set operation or VALUES",
            ));
        }
        Ok(rows)
    }

    fn simple_select(
        &mut self,
        select: &SelectStmt,
        scope: &mut Scope<'_, 'c>,
    ) -> Result<Vec<OutCol>, AnalysisError> {
        for item in &select.from_clause {
            self.add_from_item(item, scope)?;
        }
        let scope = &*scope;
        let rows = self.target_list(&select.target_list, scope)?;

        self.clause(select.where_clause.as_deref(), scope, ColumnUsage::Filter)?;
        for item in &select.group_clause {
            self.group_item(item, scope, &rows)?;
        }
        self.clause(select.having_clause.as_deref(), scope, ColumnUsage::Having)?;
        for window in &select.window_clause {
            match inner(window, "WINDOW clause")? {
                NodeEnum::WindowDef(window) => self.window_def(window, scope)?,
                other => return Err(unsupported(other)),
            }
        }
        for item in &select.sort_clause {
            let sort = crate::walk::expr::sort_by(item)?;
            self.order_item(sort.node.as_deref(), scope, &rows, ColumnUsage::OrderBy)?;
        }
        // A plain DISTINCT is a list holding one empty node.
        let plain_distinct = matches!(select.distinct_clause.as_slice(), [only] if only.node.is_none());
        if plain_distinct {
            self.record_deduplicated(&rows);
        }
        for item in select
            .distinct_clause
            .iter()
            .filter(|item| item.node.is_some())
        {
            self.order_item(Some(item), scope, &rows, ColumnUsage::GroupBy)?;
        }
        self.clause(select.limit_offset.as_deref(), scope, ColumnUsage::Filter)?;
        self.clause(select.limit_count.as_deref(), scope, ColumnUsage::Filter)?;
        self.locking(&select.locking_clause, scope)?;
        Ok(rows)
    }

    /// Records `GroupBy` on every result column of a DISTINCT or of a set
    /// operation without ALL. They compare exact values (and a sort-based plan
    /// returns rows in value order), as GROUP BY does, which a mask must not
    /// reveal.
    fn record_deduplicated(&mut self, rows: &[OutCol]) {
        for row in rows {
            self.facts.record_one(&row.lineage, ColumnUsage::GroupBy);
        }
    }

    fn set_operation(
        &mut self,
        select: &SelectStmt,
        scope: &Scope<'_, 'c>,
    ) -> Result<Vec<OutCol>, AnalysisError> {
        let (Some(left), Some(right)) = (select.larg.as_deref(), select.rarg.as_deref()) else {
            return Err(AnalysisError::unsupported(
                "a set operation without two queries",
            ));
        };
        let left = self.select(left, Some(scope), false)?;
        let right = self.select(right, Some(scope), false)?;
        combine_branches(left, &right)
    }

    fn values(
        &mut self,
        lists: &[Node],
        scope: &Scope<'_, 'c>,
    ) -> Result<Vec<OutCol>, AnalysisError> {
        let mut rows: Vec<OutCol> = Vec::new();
        for list in lists {
            let NodeEnum::List(list) = inner(list, "VALUES row")? else {
                return Err(AnalysisError::unsupported(
                    "a VALUES row that is not a list",
                ));
            };
            if !rows.is_empty() && rows.len() != list.items.len() {
                return Err(AnalysisError::invalid(
                    "VALUES lists must all be the same length",
                ));
            }
            for (index, item) in list.items.iter().enumerate() {
                let lineage = self.expr(item, scope)?;
                match rows.get_mut(index) {
                    Some(row) => row.lineage.union(&lineage),
                    None => rows.push(OutCol::new(format!("column{}", index + 1), lineage)),
                }
            }
        }
        Ok(rows)
    }

    /// Adds the WITH clause's CTEs to `scope`, analyzing each query.
    pub fn with_clause(
        &mut self,
        with: &WithClause,
        scope: &mut Scope<'_, 'c>,
    ) -> Result<(), AnalysisError> {
        for node in &with.ctes {
            let NodeEnum::CommonTableExpr(cte) = inner(node, "WITH query")? else {
                return Err(AnalysisError::unsupported(
                    "a WITH entry that is not a query",
                ));
            };
            if cte.search_clause.is_some() || cte.cycle_clause.is_some() {
                return Err(AnalysisError::unsupported(
                    "SEARCH or CYCLE in WITH RECURSIVE",
                ));
            }
            if with.recursive {
                // Every name is in scope from the start; a reference to one that is
                // not analyzed yet is rejected (see `Cte::columns`).
                scope.ctes.push(Cte {
                    name: cte.ctename.clone(),
                    columns: None,
                    unlisted: None,
                });
            }
        }
        for node in &with.ctes {
            let NodeEnum::CommonTableExpr(cte) = inner(node, "WITH query")? else {
                continue;
            };
            let rows = self.cte_rows(cte, scope, with.recursive)?;
            let defined = cte_definition(cte, rows)?;
            let pending = scope
                .ctes
                .iter_mut()
                .find(|existing| existing.name == cte.ctename);
            match pending {
                Some(pending) if with.recursive => *pending = defined,
                Some(_) => {
                    return Err(AnalysisError::invalid(format!(
                        "WITH query name \"{}\" specified more than once",
                        cte.ctename
                    )))
                }
                None => scope.ctes.push(defined),
            }
        }
        Ok(())
    }

    fn cte_rows(
        &mut self,
        cte: &CommonTableExpr,
        scope: &mut Scope<'_, 'c>,
        recursive: bool,
    ) -> Result<Vec<OutCol>, AnalysisError> {
        let query = inner_query(cte)?;
        if let (true, NodeEnum::SelectStmt(select)) = (recursive, query) {
            if let Some(rows) = self.recursive_union(cte, select, scope)? {
                return Ok(rows);
            }
        }
        self.cte_query(query, &*scope)
    }

    /// Analyzes `non_recursive UNION [ALL] recursive`. The recursive term reads
    /// the CTE with the columns found so far.
    fn recursive_union(
        &mut self,
        cte: &CommonTableExpr,
        select: &SelectStmt,
        scope: &mut Scope<'_, 'c>,
    ) -> Result<Option<Vec<OutCol>>, AnalysisError> {
        let op = SetOperation::try_from(select.op).unwrap_or(SetOperation::Undefined);
        let plain_union = op == SetOperation::SetopUnion
            && select.with_clause.is_none()
            && select.sort_clause.is_empty();
        let (true, Some(left), Some(right)) =
            (plain_union, select.larg.as_deref(), select.rarg.as_deref())
        else {
            return Ok(None);
        };
        let left_rows = self.select(left, Some(&*scope), false)?;
        let mut combined = left_rows.clone();
        // The recursive term reads its own output, so repeat until the lineage
        // stops growing; it only grows, and is bounded by the columns involved.
        for _ in 0..MAX_RECURSIVE_PASSES {
            let provisional = cte_definition(cte, combined.clone())?;
            if let Some(pending) = scope
                .ctes
                .iter_mut()
                .find(|existing| existing.name == cte.ctename)
            {
                *pending = provisional;
            }
            let right_rows = self.select(right, Some(&*scope), false)?;
            let next = combine_branches(left_rows.clone(), &right_rows)?;
            let stable = next
                .iter()
                .zip(&combined)
                .all(|(next, previous)| next.lineage == previous.lineage);
            combined = next;
            if stable {
                if !select.all {
                    self.record_deduplicated(&combined);
                }
                return Ok(Some(combined));
            }
        }
        Err(AnalysisError::unsupported(
            "a WITH RECURSIVE query whose column sources do not settle",
        ))
    }

    /// A CTE's query; data-modifying statements return their RETURNING rows.
    fn cte_query(
        &mut self,
        query: &NodeEnum,
        scope: &Scope<'_, 'c>,
    ) -> Result<Vec<OutCol>, AnalysisError> {
        match query {
            NodeEnum::SelectStmt(select) => self.select(select, Some(scope), false),
            NodeEnum::InsertStmt(insert) => self.insert(insert, Some(scope)),
            NodeEnum::UpdateStmt(update) => self.update(update, Some(scope)),
            NodeEnum::DeleteStmt(delete) => self.delete(delete, Some(scope)),
            NodeEnum::MergeStmt(merge) => self.merge(merge, Some(scope)),
            other => Err(unsupported(other)),
        }
    }
}

fn inner_query(cte: &CommonTableExpr) -> Result<&NodeEnum, AnalysisError> {
    crate::walk::inner_opt(cte.ctequery.as_deref(), "WITH query")
}

/// Builds the CTE that FROM items reference: its rows, renamed by its column list.
fn cte_definition<'c>(cte: &CommonTableExpr, rows: Vec<OutCol>) -> Result<Cte<'c>, AnalysisError> {
    let aliases: Vec<&str> = cte.aliascolnames.iter().filter_map(string_value).collect();
    let columns = rows_to_columns(rows, &aliases)?;
    let unlisted = unlisted_of(&columns);
    Ok(Cte {
        name: cte.ctename.clone(),
        columns: Some(columns),
        unlisted,
    })
}

/// Converts result rows into the columns of a FROM item, applying column aliases.
pub(crate) fn rows_to_columns<'c>(
    rows: Vec<OutCol>,
    aliases: &[&str],
) -> Result<Vec<ItemColumn<'c>>, AnalysisError> {
    let has_star = rows.iter().any(|row| row.star.is_some());
    if has_star && !aliases.is_empty() {
        return Err(AnalysisError::unsupported(
            "column aliases over a * of a relation whose columns are not listed",
        ));
    }
    if aliases.len() > rows.len() {
        return Err(AnalysisError::invalid(format!(
            "{} column aliases given for {} columns",
            aliases.len(),
            rows.len()
        )));
    }
    let columns = rows.into_iter().enumerate().map(|(index, row)| {
        let name = aliases
            .get(index)
            .map_or(row.name, |alias| (*alias).to_owned());
        let origin = match row.star {
            Some(relation) => Origin::UnlistedStar {
                relation,
                lineage: row.lineage,
            },
            None => Origin::Derived(row.lineage),
        };
        ItemColumn {
            name: Cow::Owned(name),
            origin,
        }
    });
    Ok(columns.collect())
}

/// Collects the unlisted columns of an item built from rows that contain a `*` placeholder.
pub(crate) fn unlisted_of(columns: &[ItemColumn<'_>]) -> Option<UnlistedColumns> {
    let mut found: Option<UnlistedColumns> = None;
    for column in columns {
        if let Origin::UnlistedStar { lineage, .. } = &column.origin {
            found
                .get_or_insert_with(|| UnlistedColumns {
                    lineage: Lineage::default(),
                })
                .lineage
                .merge(lineage);
        }
    }
    found
}

/// Combines set-operation branches column by column.
fn combine_branches(mut left: Vec<OutCol>, right: &[OutCol]) -> Result<Vec<OutCol>, AnalysisError> {
    let has_star = left.iter().chain(right).any(|row| row.star.is_some());
    if has_star {
        // The branches cannot be aligned by position: one placeholder for all.
        let mut lineage = Lineage::default();
        for row in left.iter().chain(right) {
            lineage.merge(&row.lineage);
        }
        return Ok(vec![OutCol {
            name: "*".into(),
            lineage,
            star: Some(None),
        }]);
    }
    if left.len() != right.len() {
        return Err(AnalysisError::invalid(
            "each UNION, INTERSECT or EXCEPT query must have the same number of columns",
        ));
    }
    for (row, other) in left.iter_mut().zip(right) {
        row.lineage.union(&other.lineage);
    }
    Ok(left)
}
