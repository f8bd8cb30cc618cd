//! INSERT, UPDATE, DELETE and MERGE, with ON CONFLICT and RETURNING.

use pg_query::protobuf::node::Node as NodeEnum;
use pg_query::protobuf::{
    CmdType, DeleteStmt, InsertStmt, MergeStmt, MergeWhenClause, Node, RangeVar, UpdateStmt,
};

use crate::error::AnalysisError;
use crate::facts::{Access, ColumnUsage, RelationKind};
use crate::walk::scope::{Item, ItemColumn, Origin, Scope};
use crate::walk::targets::target_column_names;
use crate::walk::{inner, unsupported, Analyzer, Lineage, OutCol};

impl<'c> Analyzer<'c> {
    /// Returns the RETURNING rows (empty without RETURNING).
    pub fn insert(
        &mut self,
        insert: &InsertStmt,
        parent: Option<&Scope<'_, 'c>>,
    ) -> Result<Vec<OutCol>, AnalysisError> {
        let mut scope = Scope::new(parent, false);
        if let Some(with) = &insert.with_clause {
            self.with_clause(with, &mut scope)?;
        }
        let target = self.target_item(insert.relation.as_ref(), Access::Insert, "INSERT")?;
        let rows = match insert.select_stmt.as_deref() {
            Some(source) => self.query(source, Some(&scope), false)?,
            None => Vec::new(),
        };
        let names = target_column_names(&insert.cols)?;
        let sources: Vec<Lineage> = rows.iter().map(|row| row.lineage.clone()).collect();
        let any_star = rows.iter().any(|row| row.star.is_some());
        let written = self.write_columns(&target, &names, &sources, any_star)?;

        scope.items.push(target);
        if let Some(conflict) = insert.on_conflict_clause.as_deref() {
            self.on_conflict(conflict, &scope, &written)?;
        }
        self.returning(insert.returning_clause.as_ref(), &mut scope)
    }

    pub fn update(
        &mut self,
        update: &UpdateStmt,
        parent: Option<&Scope<'_, 'c>>,
    ) -> Result<Vec<OutCol>, AnalysisError> {
        let mut scope = Scope::new(parent, false);
        if let Some(with) = &update.with_clause {
            self.with_clause(with, &mut scope)?;
        }
        let target = self.target_item(update.relation.as_ref(), Access::Update, "UPDATE")?;
        scope.items.push(target);
        for item in &update.from_clause {
            self.add_from_item(item, &mut scope)?;
        }
        let target = scope
            .items
            .first()
            .ok_or_else(|| AnalysisError::unsupported("UPDATE without a target table"))?;
        self.set_clause(&update.target_list, &scope, target)?;
        self.clause(update.where_clause.as_deref(), &scope, ColumnUsage::Filter)?;
        self.returning(update.returning_clause.as_ref(), &mut scope)
    }

    pub fn delete(
        &mut self,
        delete: &DeleteStmt,
        parent: Option<&Scope<'_, 'c>>,
    ) -> Result<Vec<OutCol>, AnalysisError> {
        let mut scope = Scope::new(parent, false);
        if let Some(with) = &delete.with_clause {
            self.with_clause(with, &mut scope)?;
        }
        let target = self.target_item(delete.relation.as_ref(), Access::Delete, "DELETE")?;
        scope.items.push(target);
        for item in &delete.using_clause {
            self.add_from_item(item, &mut scope)?;
        }
        self.clause(delete.where_clause.as_deref(), &scope, ColumnUsage::Filter)?;
        self.returning(delete.returning_clause.as_ref(), &mut scope)
    }

    pub fn merge(
        &mut self,
        merge: &MergeStmt,
        parent: Option<&Scope<'_, 'c>>,
    ) -> Result<Vec<OutCol>, AnalysisError> {
        let mut scope = Scope::new(parent, false);
        if let Some(with) = &merge.with_clause {
            self.with_clause(with, &mut scope)?;
        }
        let clauses = merge_clauses(&merge.merge_when_clauses)?;
        let target = self.target_item(merge.relation.as_ref(), Access::Read, "MERGE")?;
        if let Some((relation, kind)) = &target.relation {
            let via_view = self.via_view().cloned();
            for access in clauses
                .iter()
                .filter_map(|clause| merge_access(clause.command_type))
            {
                self.facts
                    .access(relation, *kind, access, via_view.as_ref());
            }
        }
        scope.items.push(target);
        let source = merge
            .source_relation
            .as_deref()
            .ok_or_else(|| AnalysisError::unsupported("MERGE without USING"))?;
        self.add_from_item(source, &mut scope)?;
        self.clause(
            merge.join_condition.as_deref(),
            &scope,
            ColumnUsage::JoinCondition,
        )?;

        for clause in clauses {
            self.clause(clause.condition.as_deref(), &scope, ColumnUsage::Filter)?;
            self.merge_action(clause, &scope)?;
        }
        self.returning(merge.returning_clause.as_ref(), &mut scope)
    }

    fn merge_action(
        &mut self,
        clause: &MergeWhenClause,
        scope: &Scope<'_, 'c>,
    ) -> Result<(), AnalysisError> {
        match CmdType::try_from(clause.command_type).unwrap_or(CmdType::Undefined) {
            CmdType::CmdUpdate => {
                let target = scope
                    .items
                    .first()
                    .ok_or_else(|| AnalysisError::unsupported("MERGE without a target"))?;
                self.set_clause(&clause.target_list, scope, target)
            }
            CmdType::CmdInsert => {
                let names = target_column_names(&clause.target_list)?;
                let mut sources = Vec::with_capacity(clause.values.len());
                for value in &clause.values {
                    sources.push(self.expr(value, scope)?);
                }
                let target = scope
                    .items
                    .first()
                    .ok_or_else(|| AnalysisError::unsupported("MERGE without a target"))?;
                self.write_columns(target, &names, &sources, false)
                    .map(|_| ())
            }
            CmdType::CmdDelete | CmdType::CmdNothing => Ok(()),
            other => Err(AnalysisError::unsupported(format!(
                "MERGE action {}",
                other.as_str_name()
            ))),
        }
    }

    /// Resolves the table that a DML statement writes. Views are rejected because
    /// writes through updatable views, rules and INSTEAD OF triggers are not analyzed.
    fn target_item(
        &mut self,
        range: Option<&RangeVar>,
        access: Access,
        verb: &str,
    ) -> Result<Item<'c>, AnalysisError> {
        let range = range
            .ok_or_else(|| AnalysisError::unsupported(format!("{verb} without a target table")))?;
        let schema = (!range.schemaname.is_empty()).then_some(range.schemaname.as_str());
        let resolved = crate::resolve::resolve_relation(
            self.catalog,
            &self.search_path,
            schema,
            &range.relname,
        )?;
        if let crate::resolve::ResolvedRelation::Listed(_, def) = &resolved {
            if def.kind == RelationKind::View {
                return Err(AnalysisError::unsupported(format!(
                    "{verb} on a view; write to its base table instead"
                )));
            }
        }
        self.range_var_item(range, &Scope::new(None, false), access)
    }

    /// Records WriteTarget on the written columns and WriteSource on their
    /// values. Returns each target column's new-value lineage, for EXCLUDED.
    fn write_columns(
        &mut self,
        target: &Item<'c>,
        names: &[&str],
        sources: &[Lineage],
        any_star: bool,
    ) -> Result<Vec<(String, Lineage)>, AnalysisError> {
        let columns: Vec<&ItemColumn<'c>> = if names.is_empty() {
            let count = if any_star {
                target.columns.len()
            } else {
                sources.len()
            };
            if count > target.columns.len()
                && !target.columns.iter().any(|column| is_unlisted(&column))
            {
                return Err(AnalysisError::invalid(
                    "INSERT has more expressions than target columns",
                ));
            }
            target.columns.iter().take(count).collect()
        } else {
            names
                .iter()
                .map(|name| target_column(target, name))
                .collect::<Result<_, _>>()?
        };
        if !any_star && !names.is_empty() && !sources.is_empty() {
            if names.len() > sources.len() {
                return Err(AnalysisError::invalid(
                    "INSERT has more target columns than expressions",
                ));
            }
            if names.len() < sources.len() {
                return Err(AnalysisError::invalid(
                    "INSERT has more expressions than target columns",
                ));
            }
        }

        let mut written = Vec::with_capacity(columns.len());
        for (index, column) in columns.iter().enumerate() {
            self.facts
                .record_one(&column.lineage(), ColumnUsage::WriteTarget);
            let source = match (any_star, sources.get(index)) {
                (false, Some(source)) => source.clone(),
                _ => merged(sources),
            };
            written.push((column.name.clone().into_owned(), source));
        }
        for source in sources {
            self.facts.record_one(source, ColumnUsage::WriteSource);
        }
        Ok(written)
    }

    /// Records the SET list (`col = value`, `(a, b) = (...)`) of UPDATE, ON
    /// CONFLICT DO UPDATE or MERGE.
    pub(super) fn set_clause(
        &mut self,
        targets: &[Node],
        scope: &Scope<'_, 'c>,
        target: &Item<'c>,
    ) -> Result<(), AnalysisError> {
        let mut multi: Vec<Lineage> = Vec::new();
        for node in targets {
            let NodeEnum::ResTarget(assignment) = inner(node, "SET item")? else {
                return Err(AnalysisError::unsupported(
                    "a SET item that is not an assignment",
                ));
            };
            let column = target_column(target, &assignment.name)?.lineage();
            self.facts.record_one(&column, ColumnUsage::WriteTarget);
            for step in &assignment.indirection {
                // `SET col.field = ...` names a field; `SET col[i] = ...` has a subscript expression.
                if !matches!(step.node, Some(NodeEnum::String(_))) {
                    self.expr(step, scope)?;
                }
            }

            let value = crate::walk::inner_opt(assignment.val.as_deref(), "SET value")?;
            let lineage = match value {
                NodeEnum::MultiAssignRef(multi_ref) => {
                    if multi_ref.colno == 1 {
                        multi = self.multi_source(multi_ref.source.as_deref(), scope)?;
                    }
                    let index = multi_ref
                        .colno
                        .checked_sub(1)
                        .and_then(|index| usize::try_from(index).ok());
                    let index = index.unwrap_or(usize::MAX);
                    multi.get(index).cloned().ok_or_else(|| {
                        AnalysisError::invalid("number of columns does not match number of values")
                    })?
                }
                other => self.expr_node(other, scope)?,
            };
            self.facts.record_one(&lineage, ColumnUsage::WriteSource);
        }
        Ok(())
    }

    /// Returns the value lineages of `(a, b) = ROW(...)` or `(a, b) = (SELECT ...)`.
    fn multi_source(
        &mut self,
        source: Option<&Node>,
        scope: &Scope<'_, 'c>,
    ) -> Result<Vec<Lineage>, AnalysisError> {
        match crate::walk::inner_opt(source, "multiple-column assignment")? {
            NodeEnum::RowExpr(row) => row.args.iter().map(|arg| self.expr(arg, scope)).collect(),
            NodeEnum::SubLink(link) => {
                let query = link
                    .subselect
                    .as_deref()
                    .ok_or_else(|| AnalysisError::unsupported("an empty subquery"))?;
                let rows = self.query(query, Some(scope), false)?;
                Ok(rows.into_iter().map(|row| row.lineage).collect())
            }
            other => Err(unsupported(other)),
        }
    }
}

fn merge_clauses(nodes: &[Node]) -> Result<Vec<&MergeWhenClause>, AnalysisError> {
    nodes
        .iter()
        .map(|node| match inner(node, "MERGE WHEN clause")? {
            NodeEnum::MergeWhenClause(clause) => Ok(clause.as_ref()),
            other => Err(unsupported(other)),
        })
        .collect()
}

fn merge_access(command: i32) -> Option<Access> {
    match CmdType::try_from(command).ok()? {
        CmdType::CmdUpdate => Some(Access::Update),
        CmdType::CmdInsert => Some(Access::Insert),
        CmdType::CmdDelete => Some(Access::Delete),
        _ => None,
    }
}

fn target_column<'a, 'c>(
    target: &'a Item<'c>,
    name: &str,
) -> Result<&'a ItemColumn<'c>, AnalysisError> {
    let found = target
        .columns
        .iter()
        .find(|column| column.name == name && !is_unlisted(column));
    match found {
        Some(column) => Ok(column),
        None => match target.columns.iter().find(|column| is_unlisted(column)) {
            Some(unlisted) => Ok(unlisted),
            None => {
                let table = target.refname.as_deref().unwrap_or("the target table");
                Err(AnalysisError::UnknownColumn {
                    name: format!("{table}.{name}"),
                })
            }
        },
    }
}

fn is_unlisted(column: &&ItemColumn<'_>) -> bool {
    matches!(column.origin, Origin::UnlistedStar { .. })
}

fn merged(sources: &[Lineage]) -> Lineage {
    let mut lineage = Lineage::default();
    for source in sources {
        lineage.merge(source);
    }
    lineage
}
