//! Expressions of the raw parse tree.
//!
//! Each expression returns the [`Lineage`] of its value; the caller records the
//! clause usage (Filter, OrderBy, Output...) on it. Arguments of functions and
//! operators are marked [`ColumnUsage::FunctionArgument`] here.

use pg_query::protobuf::node::Node as NodeEnum;
use pg_query::protobuf::{ColumnRef, FuncCall, Node, SortBy, SubLink, SubLinkType, WindowDef};

use crate::error::AnalysisError;
use crate::facts::ColumnUsage;
use crate::walk::scope::Scope;
use crate::walk::{inner, split_qualified, string_list, unsupported, Analyzer, Lineage};

impl<'c> Analyzer<'c> {
    pub fn expr(&mut self, node: &Node, scope: &Scope<'_, 'c>) -> Result<Lineage, AnalysisError> {
        let node = inner(node, "expression")?;
        self.expr_node(node, scope)
    }

    pub fn expr_opt(
        &mut self,
        node: Option<&Node>,
        scope: &Scope<'_, 'c>,
    ) -> Result<Lineage, AnalysisError> {
        match node {
            Some(node) => self.expr(node, scope),
            None => Ok(Lineage::constant()),
        }
    }

    /// Returns the merged, computed lineage of several expressions.
    pub fn exprs(
        &mut self,
        nodes: &[Node],
        scope: &Scope<'_, 'c>,
    ) -> Result<Lineage, AnalysisError> {
        let mut lineage = Lineage::constant();
        for node in nodes {
            lineage.merge(&self.expr(node, scope)?);
        }
        Ok(lineage)
    }

    /// An expression whose value is passed to a function or operator.
    pub fn argument(
        &mut self,
        node: &Node,
        scope: &Scope<'_, 'c>,
    ) -> Result<Lineage, AnalysisError> {
        let lineage = self.expr(node, scope)?;
        self.facts
            .record_one(&lineage, ColumnUsage::FunctionArgument);
        Ok(lineage.into_computed())
    }

    pub(super) fn arguments(
        &mut self,
        nodes: &[Node],
        scope: &Scope<'_, 'c>,
    ) -> Result<Lineage, AnalysisError> {
        let mut lineage = Lineage::constant();
        for node in nodes {
            lineage.merge(&self.argument(node, scope)?);
        }
        Ok(lineage)
    }

    /// Records `usage` on an expression (a WHERE, HAVING, ON... clause).
    pub fn clause(
        &mut self,
        node: Option<&Node>,
        scope: &Scope<'_, 'c>,
        usage: ColumnUsage,
    ) -> Result<(), AnalysisError> {
        let lineage = self.expr_opt(node, scope)?;
        self.facts.record_one(&lineage, usage);
        Ok(())
    }

    pub fn expr_node(
        &mut self,
        node: &NodeEnum,
        scope: &Scope<'_, 'c>,
    ) -> Result<Lineage, AnalysisError> {
        match node {
            NodeEnum::ColumnRef(column) => self.column_ref(column, scope),
            NodeEnum::AConst(_)
            | NodeEnum::ParamRef(_)
            | NodeEnum::SqlvalueFunction(_)
            | NodeEnum::SetToDefault(_)
            | NodeEnum::CurrentOfExpr(_) => Ok(Lineage::constant()),
            NodeEnum::TypeCast(cast) => {
                Ok(self.expr_opt(cast.arg.as_deref(), scope)?.into_computed())
            }
            // COLLATE changes how values compare, not the value itself.
            NodeEnum::CollateClause(collate) => self.expr_opt(collate.arg.as_deref(), scope),
            NodeEnum::AExpr(op) => {
                let mut lineage = self.argument_opt(op.lexpr.as_deref(), scope)?;
                lineage.merge(&self.argument_opt(op.rexpr.as_deref(), scope)?);
                Ok(lineage)
            }
            NodeEnum::BoolExpr(boolean) => self.exprs(&boolean.args, scope),
            NodeEnum::List(list) => self.exprs(&list.items, scope),
            NodeEnum::FuncCall(call) => self.func_call(call, scope),
            NodeEnum::NamedArgExpr(named) => self.expr_opt(named.arg.as_deref(), scope),
            NodeEnum::SubLink(link) => self.sublink(link, scope),
            NodeEnum::CaseExpr(case) => {
                let mut lineage = self.argument_opt(case.arg.as_deref(), scope)?;
                lineage.merge(&self.exprs(&case.args, scope)?);
                lineage.merge(&self.expr_opt(case.defresult.as_deref(), scope)?);
                Ok(lineage)
            }
            NodeEnum::CaseWhen(when) => {
                let mut lineage = self.expr_opt(when.expr.as_deref(), scope)?;
                lineage.merge(&self.expr_opt(when.result.as_deref(), scope)?);
                Ok(lineage.into_computed())
            }
            NodeEnum::CoalesceExpr(coalesce) => self.exprs(&coalesce.args, scope),
            NodeEnum::MinMaxExpr(min_max) => self.arguments(&min_max.args, scope),
            NodeEnum::NullTest(test) => {
                Ok(self.expr_opt(test.arg.as_deref(), scope)?.into_computed())
            }
            NodeEnum::BooleanTest(test) => {
                Ok(self.expr_opt(test.arg.as_deref(), scope)?.into_computed())
            }
            NodeEnum::RowExpr(row) => self.exprs(&row.args, scope),
            NodeEnum::AArrayExpr(array) => self.exprs(&array.elements, scope),
            NodeEnum::AIndirection(indirection) => self.indirection(indirection, scope),
            NodeEnum::AIndices(indices) => {
                let mut lineage = self.argument_opt(indices.lidx.as_deref(), scope)?;
                lineage.merge(&self.argument_opt(indices.uidx.as_deref(), scope)?);
                Ok(lineage)
            }
            NodeEnum::GroupingFunc(grouping) => self.exprs(&grouping.args, scope),
            NodeEnum::XmlExpr(xml) => {
                let mut lineage = self.arguments(&xml.args, scope)?;
                lineage.merge(&self.arguments(&xml.named_args, scope)?);
                Ok(lineage)
            }
            NodeEnum::XmlSerialize(xml) => self.argument_opt(xml.expr.as_deref(), scope),
            NodeEnum::ResTarget(target) => self.expr_opt(target.val.as_deref(), scope),
            other => {
                self.check_json_syntax(other)?;
                self.json_expr(other, scope)
            }
        }
    }

    pub(super) fn argument_opt(
        &mut self,
        node: Option<&Node>,
        scope: &Scope<'_, 'c>,
    ) -> Result<Lineage, AnalysisError> {
        match node {
            Some(node) => self.argument(node, scope),
            None => Ok(Lineage::constant()),
        }
    }

    fn column_ref(
        &mut self,
        column: &ColumnRef,
        scope: &Scope<'_, 'c>,
    ) -> Result<Lineage, AnalysisError> {
        let (names, star) = column_ref_names(column)?;
        if star {
            return self.whole_row(&names, scope);
        }
        match names.as_slice() {
            [name] => scope.resolve_name(name, &mut self.facts),
            [relation, name] => scope.resolve_qualified(None, relation, name, &mut self.facts),
            [schema, relation, name] | [_, schema, relation, name] => {
                scope.resolve_qualified(Some(schema), relation, name, &mut self.facts)
            }
            _ => Err(AnalysisError::invalid(format!(
                "improper column reference: {}",
                names.join(".")
            ))),
        }
    }

    /// `t.*` or `*` used as a value (e.g. `row_to_json(t.*)`): every column.
    fn whole_row(
        &mut self,
        names: &[&str],
        scope: &Scope<'_, 'c>,
    ) -> Result<Lineage, AnalysisError> {
        let (schema, relation) = match names {
            [] => {
                let mut lineage = Lineage::constant();
                for item in scope.star_items() {
                    lineage.merge(&item.whole_row());
                }
                return Ok(lineage);
            }
            [relation] => (None, *relation),
            [schema, relation] | [_, schema, relation] => (Some(*schema), *relation),
            _ => {
                return Err(AnalysisError::invalid(format!(
                    "improper qualified name: {}.*",
                    names.join(".")
                )))
            }
        };
        match scope.find_item(schema, relation)? {
            Some(item) => Ok(item.whole_row()),
            None => Err(AnalysisError::UnknownColumn {
                name: format!("{}.*", names.join(".")),
            }),
        }
    }

    fn indirection(
        &mut self,
        indirection: &pg_query::protobuf::AIndirection,
        scope: &Scope<'_, 'c>,
    ) -> Result<Lineage, AnalysisError> {
        let mut lineage = self.expr_opt(indirection.arg.as_deref(), scope)?;
        for step in &indirection.indirection {
            match inner(step, "indirection")? {
                NodeEnum::String(_) => {}
                NodeEnum::AIndices(_) => lineage.merge(&self.expr(step, scope)?),
                NodeEnum::AStar(_) => {
                    return Err(AnalysisError::unsupported(
                        "(expression).* outside a select list",
                    ))
                }
                other => return Err(unsupported(other)),
            }
        }
        Ok(lineage.into_computed())
    }

    fn func_call(
        &mut self,
        call: &FuncCall,
        scope: &Scope<'_, 'c>,
    ) -> Result<Lineage, AnalysisError> {
        self.check_sql_syntax_call(call)?;
        let names = string_list(&call.funcname)?;
        let (schema, name) = split_qualified(&names)?;
        self.facts.function(schema, name);

        let lineage = self.arguments(&call.args, scope)?;
        self.sort_items(&call.agg_order, scope, ColumnUsage::OrderBy)?;
        self.clause(call.agg_filter.as_deref(), scope, ColumnUsage::Filter)?;
        if let Some(window) = &call.over {
            self.window_def(window, scope)?;
        }
        Ok(lineage)
    }

    /// Records `usage` on each ORDER BY item of an aggregate or window.
    pub fn sort_items(
        &mut self,
        items: &[Node],
        scope: &Scope<'_, 'c>,
        usage: ColumnUsage,
    ) -> Result<(), AnalysisError> {
        for item in items {
            let sort = sort_by(item)?;
            self.clause(sort.node.as_deref(), scope, usage)?;
        }
        Ok(())
    }

    pub fn window_def(
        &mut self,
        window: &WindowDef,
        scope: &Scope<'_, 'c>,
    ) -> Result<(), AnalysisError> {
        for item in &window.partition_clause {
            self.clause(Some(item), scope, ColumnUsage::Window)?;
        }
        self.sort_items(&window.order_clause, scope, ColumnUsage::Window)?;
        self.clause(window.start_offset.as_deref(), scope, ColumnUsage::Window)?;
        self.clause(window.end_offset.as_deref(), scope, ColumnUsage::Window)
    }

    fn sublink(&mut self, link: &SubLink, scope: &Scope<'_, 'c>) -> Result<Lineage, AnalysisError> {
        let kind = SubLinkType::try_from(link.sub_link_type).unwrap_or(SubLinkType::Undefined);
        let Some(subselect) = link.subselect.as_deref() else {
            return Err(AnalysisError::unsupported("a subquery without a query"));
        };
        let rows = self.query(subselect, Some(scope), false)?;
        match kind {
            SubLinkType::ExistsSublink => Ok(Lineage::constant()),
            SubLinkType::ExprSublink | SubLinkType::ArraySublink => {
                let [row] = rows.as_slice() else {
                    return Err(AnalysisError::invalid(
                        "subquery must return only one column",
                    ));
                };
                let mut lineage = row.lineage.clone();
                lineage.unlisted |= row.star.is_some();
                lineage.computed |= kind == SubLinkType::ArraySublink;
                Ok(lineage)
            }
            SubLinkType::AnySublink | SubLinkType::AllSublink | SubLinkType::RowcompareSublink => {
                let mut lineage = self.argument_opt(link.testexpr.as_deref(), scope)?;
                for row in &rows {
                    self.facts
                        .record_one(&row.lineage, ColumnUsage::FunctionArgument);
                    lineage.merge(&row.lineage);
                    lineage.unlisted |= row.star.is_some();
                }
                Ok(lineage.into_computed())
            }
            _ => Err(AnalysisError::unsupported(format!(
                "a {} subquery in this position",
                kind.as_str_name()
            ))),
        }
    }
}

/// Returns the names of a column reference and whether it ends in `*`.
pub(crate) fn column_ref_names(column: &ColumnRef) -> Result<(Vec<&str>, bool), AnalysisError> {
    let mut names = Vec::with_capacity(column.fields.len());
    let mut star = false;
    for field in &column.fields {
        match inner(field, "column reference")? {
            NodeEnum::String(string) if !star => names.push(string.sval.as_str()),
            NodeEnum::AStar(_) if !star => star = true,
            other => return Err(unsupported(other)),
        }
    }
    Ok((names, star))
}

pub(crate) fn sort_by(node: &Node) -> Result<&SortBy, AnalysisError> {
    match inner(node, "ORDER BY item")? {
        NodeEnum::SortBy(sort) => Ok(sort),
        other => Err(unsupported(other)),
    }
}
