//! FROM-clause entries: relations, views, CTE references, subqueries,
//! functions and joins.

use std::borrow::Cow;

use pg_query::protobuf::node::Node as NodeEnum;
use pg_query::protobuf::{Alias, Node, RangeFunction, RangeSubselect, RangeVar};

use crate::error::AnalysisError;
use crate::facts::{Access, RelationKind, RelationName};
use crate::resolve::{resolve_relation, ResolvedRelation};
use crate::walk::scope::{Item, ItemColumn, Origin, Scope};
use crate::walk::select::{rows_to_columns, unlisted_of};
use crate::walk::{inner, string_list, string_value, unsupported, Analyzer, Lineage};

impl<'c> Analyzer<'c> {
    /// Adds one FROM-clause entry to `scope` and returns the index of its item
    /// (for a join, the join's own item).
    pub fn add_from_item(
        &mut self,
        node: &Node,
        scope: &mut Scope<'_, 'c>,
    ) -> Result<usize, AnalysisError> {
        let item = match inner(node, "FROM item")? {
            NodeEnum::RangeVar(range) => self.range_var_item(range, scope, Access::Read)?,
            NodeEnum::RangeSubselect(subselect) => self.subselect_item(subselect, scope)?,
            NodeEnum::RangeFunction(function) => self.function_item(function, scope)?,
            NodeEnum::JoinExpr(join) => return self.join(join, scope),
            NodeEnum::RangeTableSample(sample) => {
                let relation =
                    crate::walk::inner_opt(sample.relation.as_deref(), "TABLESAMPLE relation")?;
                let NodeEnum::RangeVar(range) = relation else {
                    return Err(unsupported(relation));
                };
                self.exprs(&sample.args, scope)?;
                self.expr_opt(sample.repeatable.as_deref(), scope)?;
                self.range_var_item(range, scope, Access::Read)?
            }
            other => return Err(unsupported(other)),
        };
        scope.items.push(item);
        Ok(scope.items.len() - 1)
    }

    /// Builds the item for a relation or CTE name, recording `access` on a relation.
    pub fn range_var_item(
        &mut self,
        range: &RangeVar,
        scope: &Scope<'_, 'c>,
        access: Access,
    ) -> Result<Item<'c>, AnalysisError> {
        let mut item = match self.cte_item(range, scope)? {
            Some(item) => item,
            None => self.relation_item(range, access)?,
        };
        if let Some(alias) = &range.alias {
            item.refname = Some(alias.aliasname.clone());
            item.schema = None;
            rename_columns(&mut item.columns, alias)?;
        }
        Ok(item)
    }

    fn cte_item(
        &mut self,
        range: &RangeVar,
        scope: &Scope<'_, 'c>,
    ) -> Result<Option<Item<'c>>, AnalysisError> {
        if !range.schemaname.is_empty() {
            return Ok(None);
        }
        let Some(cte) = scope.find_cte(&range.relname) else {
            return Ok(None);
        };
        let Some(columns) = &cte.columns else {
            return Err(AnalysisError::unsupported(
                "a WITH RECURSIVE query referenced before its non-recursive term",
            ));
        };
        Ok(Some(Item {
            refname: Some(range.relname.clone()),
            rel_visible: true,
            cols_visible: true,
            columns: columns.clone(),
            unlisted: cte.unlisted.clone(),
            ..Item::default()
        }))
    }

    /// Builds the item for a catalog relation (not a CTE). Views are expanded.
    pub fn relation_item(
        &mut self,
        range: &RangeVar,
        access: Access,
    ) -> Result<Item<'c>, AnalysisError> {
        let schema = (!range.schemaname.is_empty()).then_some(range.schemaname.as_str());
        let resolved = resolve_relation(self.catalog, &self.search_path, schema, &range.relname)?;
        let name = resolved.name().clone();
        let kind = match &resolved {
            ResolvedRelation::Listed(_, def) => def.kind,
            ResolvedRelation::Unlisted(_) => RelationKind::Unlisted,
        };
        let via_view = self.via_view().cloned();
        self.facts.access(&name, kind, access, via_view.as_ref());

        let (columns, table) = match resolved {
            ResolvedRelation::Listed(_, def) if def.kind == RelationKind::View => {
                (self.view_columns(&name, def)?, None)
            }
            ResolvedRelation::Listed(_, def) => {
                let table = self.facts.table(&name, &def.columns);
                let columns = def
                    .columns
                    .iter()
                    .enumerate()
                    .map(|(index, column)| ItemColumn {
                        name: Cow::Borrowed(column.as_str()),
                        origin: Origin::Base(self.facts.column(table, index)),
                    });
                (columns.collect(), Some(table))
            }
            ResolvedRelation::Unlisted(_) => {
                (unlisted_columns(Some(&name), Lineage::default()), None)
            }
        };
        Ok(Item {
            refname: Some(name.name.clone()),
            schema: Some(name.schema.clone()),
            rel_visible: true,
            cols_visible: true,
            unlisted: unlisted_of(&columns),
            columns,
            table,
            relation: Some((name, kind)),
        })
    }

    fn subselect_item(
        &mut self,
        subselect: &RangeSubselect,
        scope: &Scope<'_, 'c>,
    ) -> Result<Item<'c>, AnalysisError> {
        let query = subselect
            .subquery
            .as_deref()
            .ok_or_else(|| AnalysisError::unsupported("a FROM subquery without a query"))?;
        let rows = self.query(query, Some(scope), !subselect.lateral)?;
        let aliases = alias_names(subselect.alias.as_ref());
        let columns = rows_to_columns(rows, &aliases)?;
        Ok(Item {
            refname: subselect
                .alias
                .as_ref()
                .map(|alias| alias.aliasname.clone()),
            rel_visible: subselect.alias.is_some(),
            cols_visible: true,
            unlisted: unlisted_of(&columns),
            columns,
            ..Item::default()
        })
    }

    /// Builds the item for a function in FROM. Its columns are known only from a
    /// column definition list or column aliases, and are unlisted otherwise.
    fn function_item(
        &mut self,
        function: &RangeFunction,
        scope: &Scope<'_, 'c>,
    ) -> Result<Item<'c>, AnalysisError> {
        let mut lineage = Lineage::constant();
        let mut definitions: Vec<&str> = column_definition_names(&function.coldeflist)?;
        let mut first_name = None;
        for entry in &function.functions {
            let NodeEnum::List(parts) = inner(entry, "FROM function")? else {
                return Err(AnalysisError::unsupported(
                    "a FROM function that is not a list",
                ));
            };
            let call = parts
                .items
                .first()
                .ok_or_else(|| AnalysisError::unsupported("an empty FROM function"))?;
            if let Some(NodeEnum::FuncCall(call)) = &call.node {
                first_name = first_name.or_else(|| {
                    call.funcname
                        .last()
                        .and_then(string_value)
                        .map(str::to_owned)
                });
            }
            lineage.merge(&self.expr(call, scope)?);
            if let Some(Some(NodeEnum::List(list))) = parts.items.get(1).map(|node| &node.node) {
                definitions.extend(column_definition_names(&list.items)?);
            }
        }

        let aliases = alias_names(function.alias.as_ref());
        let known: Vec<&str> = if definitions.is_empty() {
            aliases.clone()
        } else {
            definitions.clone()
        };
        let mut columns: Vec<ItemColumn<'c>> = known
            .iter()
            .map(|name| ItemColumn {
                name: Cow::Owned((*name).to_owned()),
                origin: Origin::Derived(lineage.clone()),
            })
            .collect();
        // Without a column definition list, the aliases name the first of an
        // unknown number of columns.
        match (definitions.is_empty(), function.alias.as_ref()) {
            (true, _) => columns.extend(unlisted_columns(None, lineage.clone())),
            (false, Some(alias)) => rename_columns(&mut columns, alias)?,
            (false, None) => {}
        }
        if function.ordinality {
            columns.push(ItemColumn {
                name: Cow::Borrowed("ordinality"),
                origin: Origin::Derived(Lineage::constant()),
            });
        }
        let refname = function
            .alias
            .as_ref()
            .map(|alias| alias.aliasname.clone())
            .or(first_name);
        Ok(Item {
            refname,
            rel_visible: true,
            cols_visible: true,
            unlisted: unlisted_of(&columns),
            columns,
            ..Item::default()
        })
    }
}

/// The columns of a relation or function whose columns are not listed.
fn unlisted_columns<'c>(
    relation: Option<&RelationName>,
    mut lineage: Lineage,
) -> Vec<ItemColumn<'c>> {
    lineage.unlisted = true;
    let origin = Origin::UnlistedStar {
        relation: relation.cloned(),
        lineage,
    };
    vec![ItemColumn {
        name: Cow::Borrowed("*"),
        origin,
    }]
}

fn alias_names(alias: Option<&Alias>) -> Vec<&str> {
    alias
        .map(|alias| alias.colnames.iter().filter_map(string_value).collect())
        .unwrap_or_default()
}

/// Renames the first columns to the alias's column names.
pub(super) fn rename_columns(
    columns: &mut [ItemColumn<'_>],
    alias: &Alias,
) -> Result<(), AnalysisError> {
    let names = string_list(&alias.colnames)?;
    if names.len() > columns.len() {
        let reason = format!(
            "table \"{}\" has {} columns available but {} columns specified",
            alias.aliasname,
            columns.len(),
            names.len()
        );
        return Err(AnalysisError::invalid(reason));
    }
    for (column, name) in columns.iter_mut().zip(names) {
        if matches!(column.origin, Origin::UnlistedStar { .. }) {
            return Err(AnalysisError::unsupported(
                "column aliases over a relation whose columns are not listed",
            ));
        }
        column.name = Cow::Owned(name.to_owned());
    }
    Ok(())
}

fn column_definition_names(definitions: &[Node]) -> Result<Vec<&str>, AnalysisError> {
    definitions
        .iter()
        .map(|node| match inner(node, "column definition")? {
            NodeEnum::ColumnDef(column) => Ok(column.colname.as_str()),
            other => Err(unsupported(other)),
        })
        .collect()
}
