//! JOIN: the ON scope, USING and NATURAL column merging, and aliases.

use std::borrow::Cow;

use pg_query::protobuf::JoinExpr;

use crate::error::AnalysisError;
use crate::facts::ColumnUsage;
use crate::walk::from::rename_columns;
use crate::walk::scope::{Item, ItemColumn, Origin, Scope};
use crate::walk::select::unlisted_of;
use crate::walk::{string_list, Analyzer};

impl<'c> Analyzer<'c> {
    pub(super) fn join(
        &mut self,
        join: &JoinExpr,
        scope: &mut Scope<'_, 'c>,
    ) -> Result<usize, AnalysisError> {
        let start = scope.items.len();
        let (Some(left), Some(right)) = (join.larg.as_deref(), join.rarg.as_deref()) else {
            return Err(AnalysisError::unsupported("a JOIN without two sides"));
        };
        let left = self.add_from_item(left, scope)?;
        let right = self.add_from_item(right, scope)?;

        let left_columns = scope
            .items
            .get(left)
            .map(|item| item.columns.clone())
            .unwrap_or_default();
        let right_columns = scope
            .items
            .get(right)
            .map(|item| item.columns.clone())
            .unwrap_or_default();
        let using = using_names(join, &left_columns, &right_columns)?;
        let (mut columns, using_columns) =
            self.join_columns(&using, left_columns, right_columns)?;

        let saved = scope.visible_from;
        scope.visible_from = start;
        let on = self.clause(join.quals.as_deref(), scope, ColumnUsage::JoinCondition);
        scope.visible_from = saved;
        on?;

        for item in scope.items.iter_mut().skip(start) {
            item.cols_visible = false;
            item.rel_visible &= join.alias.is_none();
        }
        if let Some(alias) = &join.alias {
            rename_columns(&mut columns, alias)?;
        }
        scope.items.push(Item {
            refname: join.alias.as_ref().map(|alias| alias.aliasname.clone()),
            rel_visible: join.alias.is_some(),
            cols_visible: true,
            unlisted: unlisted_of(&columns),
            columns,
            ..Item::default()
        });
        let join_index = scope.items.len() - 1;
        if let Some(alias) = &join.join_using_alias {
            scope.items.push(Item {
                refname: Some(alias.aliasname.clone()),
                rel_visible: true,
                columns: using_columns,
                ..Item::default()
            });
        }
        Ok(join_index)
    }

    /// Builds the join's columns: merged USING columns first, then the rest of
    /// each side (PostgreSQL's `transformFromClauseItem`). Also returns the merged ones.
    fn join_columns(
        &mut self,
        using: &[String],
        left: Vec<ItemColumn<'c>>,
        right: Vec<ItemColumn<'c>>,
    ) -> Result<(Vec<ItemColumn<'c>>, Vec<ItemColumn<'c>>), AnalysisError> {
        let mut merged = Vec::with_capacity(using.len());
        for name in using {
            let left_column = single_column(&left, name, "left")?;
            let right_column = single_column(&right, name, "right")?;
            let mut lineage = left_column.lineage();
            lineage.merge(&right_column.lineage());
            self.facts.record_one(&lineage, ColumnUsage::JoinCondition);
            merged.push(ItemColumn {
                name: Cow::Owned(name.clone()),
                origin: Origin::Derived(lineage),
            });
        }
        let rest = left
            .into_iter()
            .chain(right)
            .filter(|column| !using.iter().any(|name| *name == column.name));
        let columns = merged.iter().cloned().chain(rest).collect();
        Ok((columns, merged))
    }
}

/// Returns the USING column names, or for NATURAL joins the names both sides share.
fn using_names(
    join: &JoinExpr,
    left: &[ItemColumn<'_>],
    right: &[ItemColumn<'_>],
) -> Result<Vec<String>, AnalysisError> {
    if !join.is_natural {
        return Ok(string_list(&join.using_clause)?
            .into_iter()
            .map(str::to_owned)
            .collect());
    }
    let unlisted = |columns: &[ItemColumn<'_>]| {
        columns
            .iter()
            .any(|column| matches!(column.origin, Origin::UnlistedStar { .. }))
    };
    if unlisted(left) || unlisted(right) {
        return Err(AnalysisError::unsupported(
            "NATURAL JOIN with a relation whose columns are not listed",
        ));
    }
    let shared = left
        .iter()
        .filter(|column| right.iter().any(|other| other.name == column.name));
    Ok(shared
        .map(|column| column.name.clone().into_owned())
        .collect())
}

fn single_column<'a, 'c>(
    columns: &'a [ItemColumn<'c>],
    name: &str,
    side: &str,
) -> Result<&'a ItemColumn<'c>, AnalysisError> {
    let mut matches = columns.iter().filter(|column| column.name == name);
    match (matches.next(), matches.next()) {
        (Some(column), None) => Ok(column),
        (Some(_), Some(_)) => Err(AnalysisError::AmbiguousColumn {
            name: name.to_owned(),
        }),
        (None, _)
            if columns
                .iter()
                .any(|column| matches!(column.origin, Origin::UnlistedStar { .. })) =>
        {
            Err(AnalysisError::unsupported(
                "JOIN USING with a relation whose columns are not listed",
            ))
        }
        (None, _) => Err(AnalysisError::UnknownColumn {
            name: format!("{name} (in the {side} side of JOIN USING)"),
        }),
    }
}
