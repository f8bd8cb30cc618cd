//! ON CONFLICT and RETURNING of data-modifying statements.

use pg_query::protobuf::node::Node as NodeEnum;
use pg_query::protobuf::{
    OnConflictAction, OnConflictClause, ReturningClause, ReturningOptionKind,
};

use crate::error::AnalysisError;
use crate::facts::{Access, ColumnUsage};
use crate::walk::scope::{Item, ItemColumn, Origin, Scope};
use crate::walk::server_version::PG18;
use crate::walk::{inner, Analyzer, Lineage, OutCol};

impl<'c> Analyzer<'c> {
    pub(super) fn on_conflict(
        &mut self,
        conflict: &OnConflictClause,
        scope: &Scope<'_, 'c>,
        written: &[(String, Lineage)],
    ) -> Result<(), AnalysisError> {
        let target = scope
            .items
            .last()
            .ok_or_else(|| AnalysisError::unsupported("ON CONFLICT without a target"))?;
        let excluded_columns = target.columns.iter().map(|column| {
            let value = written
                .iter()
                .find(|(name, _)| *name == column.name)
                .map(|(_, lineage)| lineage.clone());
            ItemColumn {
                name: column.name.clone(),
                origin: Origin::Derived(value.unwrap_or_else(Lineage::constant)),
            }
        });
        let mut conflict_scope = Scope::new(Some(scope), false);
        conflict_scope.items.push(Item {
            refname: Some("excluded".into()),
            rel_visible: true,
            columns: excluded_columns.collect(),
            ..Item::default()
        });

        if let Some(infer) = conflict.infer.as_deref() {
            for element in &infer.index_elems {
                let NodeEnum::IndexElem(element) = inner(element, "ON CONFLICT column")? else {
                    return Err(AnalysisError::unsupported(
                        "an ON CONFLICT target that is not a column",
                    ));
                };
                let lineage = match element.expr.as_deref() {
                    Some(expr) => self.expr(expr, &conflict_scope)?,
                    None => conflict_scope.resolve_name(&element.name, &mut self.facts)?,
                };
                self.facts.record_one(&lineage, ColumnUsage::Filter);
            }
            self.clause(
                infer.where_clause.as_deref(),
                &conflict_scope,
                ColumnUsage::Filter,
            )?;
        }
        if conflict.action == OnConflictAction::OnconflictUpdate as i32 {
            if let Some((relation, kind)) = &target.relation {
                let via_view = self.via_view().cloned();
                self.facts
                    .access(relation, *kind, Access::Update, via_view.as_ref());
            }
            self.set_clause(&conflict.target_list, &conflict_scope, target)?;
            self.clause(
                conflict.where_clause.as_deref(),
                &conflict_scope,
                ColumnUsage::Filter,
            )?;
        }
        Ok(())
    }

    /// RETURNING: the rows a DML statement sends back, seen through the target,
    /// the other FROM items, and the `old`/`new` aliases of the target when the
    /// upstream runs PostgreSQL 18 or newer.
    pub(super) fn returning(
        &mut self,
        clause: Option<&ReturningClause>,
        scope: &mut Scope<'_, 'c>,
    ) -> Result<Vec<OutCol>, AnalysisError> {
        let Some(clause) = clause.filter(|clause| !clause.exprs.is_empty()) else {
            return Ok(Vec::new());
        };
        let Some(target) = scope.items.first().cloned() else {
            return Err(AnalysisError::unsupported(
                "RETURNING without a target table",
            ));
        };
        if self.catalog.server_version_num < PG18 {
            // Before PostgreSQL 18, `old` and `new` in RETURNING name only FROM
            // items, as the scope without the aliases resolves them.
            if !clause.options.is_empty() {
                self.require_server(
                    PG18,
                    "RETURNING WITH (OLD/NEW)",
                    "PostgreSQL 17 and older reject it; remove the WITH options",
                )?;
            }
            return self.target_list(&clause.exprs, scope);
        }
        let mut old_name = "old".to_owned();
        let mut new_name = "new".to_owned();
        for option in &clause.options {
            let NodeEnum::ReturningOption(option) = inner(option, "RETURNING option")? else {
                return Err(AnalysisError::unsupported(
                    "a RETURNING option that is not OLD or NEW",
                ));
            };
            match ReturningOptionKind::try_from(option.option)
                .unwrap_or(ReturningOptionKind::Undefined)
            {
                ReturningOptionKind::ReturningOptionOld => old_name.clone_from(&option.value),
                ReturningOptionKind::ReturningOptionNew => new_name.clone_from(&option.value),
                ReturningOptionKind::Undefined => {
                    return Err(AnalysisError::unsupported("an unknown RETURNING option"))
                }
            }
        }
        for name in [old_name, new_name] {
            let alias = Item {
                refname: Some(name),
                schema: None,
                cols_visible: false,
                relation: None,
                ..target.clone()
            };
            scope.items.push(alias);
        }
        self.target_list(&clause.exprs, scope)
    }
}
