//! SQL/JSON expressions (PostgreSQL 16 and later). Each acts as a function of
//! its inputs, so every input is a function argument.

use pg_query::protobuf::node::Node as NodeEnum;
use pg_query::protobuf::{
    JsonAggConstructor, JsonBehavior, JsonFuncExpr, JsonKeyValue, JsonValueExpr,
};

use crate::error::AnalysisError;
use crate::facts::ColumnUsage;
use crate::walk::scope::Scope;
use crate::walk::{inner, unsupported, Analyzer, Lineage};

impl<'c> Analyzer<'c> {
    pub(super) fn json_expr(
        &mut self,
        node: &NodeEnum,
        scope: &Scope<'_, 'c>,
    ) -> Result<Lineage, AnalysisError> {
        match node {
            NodeEnum::JsonValueExpr(value) => self.json_value(Some(value), scope),
            NodeEnum::JsonIsPredicate(predicate) => {
                self.argument_opt(predicate.expr.as_deref(), scope)
            }
            NodeEnum::JsonScalarExpr(scalar) => self.argument_opt(scalar.expr.as_deref(), scope),
            NodeEnum::JsonSerializeExpr(serialize) => {
                self.json_value(serialize.expr.as_deref(), scope)
            }
            NodeEnum::JsonParseExpr(parse) => self.json_value(parse.expr.as_deref(), scope),
            NodeEnum::JsonKeyValue(pair) => self.json_key_value(Some(pair), scope),
            NodeEnum::JsonObjectConstructor(object) => self.arguments(&object.exprs, scope),
            NodeEnum::JsonArrayConstructor(array) => self.arguments(&array.exprs, scope),
            NodeEnum::JsonArrayQueryConstructor(array) => {
                let query = array
                    .query
                    .as_deref()
                    .ok_or_else(|| AnalysisError::unsupported("JSON_ARRAY without a query"))?;
                let mut lineage = Lineage::constant();
                for row in self.query(query, Some(scope), false)? {
                    self.facts
                        .record_one(&row.lineage, ColumnUsage::FunctionArgument);
                    lineage.merge(&row.lineage);
                    lineage.unlisted |= row.star.is_some();
                }
                Ok(lineage.into_computed())
            }
            NodeEnum::JsonFuncExpr(function) => self.json_function(function, scope),
            NodeEnum::JsonObjectAgg(aggregate) => {
                let lineage = self.json_key_value(aggregate.arg.as_deref(), scope)?;
                self.json_aggregate(aggregate.constructor.as_deref(), scope)?;
                Ok(lineage)
            }
            NodeEnum::JsonArrayAgg(aggregate) => {
                let lineage = self.json_value(aggregate.arg.as_deref(), scope)?;
                self.json_aggregate(aggregate.constructor.as_deref(), scope)?;
                Ok(lineage)
            }
            other => Err(unsupported(other)),
        }
    }

    fn json_value(
        &mut self,
        value: Option<&JsonValueExpr>,
        scope: &Scope<'_, 'c>,
    ) -> Result<Lineage, AnalysisError> {
        match value {
            Some(value) => self.argument_opt(value.raw_expr.as_deref(), scope),
            None => Ok(Lineage::constant()),
        }
    }

    fn json_key_value(
        &mut self,
        pair: Option<&JsonKeyValue>,
        scope: &Scope<'_, 'c>,
    ) -> Result<Lineage, AnalysisError> {
        let Some(pair) = pair else {
            return Ok(Lineage::constant());
        };
        let mut lineage = self.argument_opt(pair.key.as_deref(), scope)?;
        lineage.merge(&self.json_value(pair.value.as_deref(), scope)?);
        Ok(lineage)
    }

    /// JSON_EXISTS, JSON_QUERY and JSON_VALUE.
    fn json_function(
        &mut self,
        function: &JsonFuncExpr,
        scope: &Scope<'_, 'c>,
    ) -> Result<Lineage, AnalysisError> {
        let mut lineage = self.json_value(function.context_item.as_deref(), scope)?;
        lineage.merge(&self.argument_opt(function.pathspec.as_deref(), scope)?);
        for argument in &function.passing {
            let NodeEnum::JsonArgument(argument) = inner(argument, "PASSING argument")? else {
                return Err(AnalysisError::unsupported(
                    "a PASSING argument that is not a value",
                ));
            };
            lineage.merge(&self.json_value(argument.val.as_deref(), scope)?);
        }
        for behavior in [function.on_empty.as_deref(), function.on_error.as_deref()] {
            lineage.merge(&self.json_behavior(behavior, scope)?);
        }
        Ok(lineage)
    }

    fn json_behavior(
        &mut self,
        behavior: Option<&JsonBehavior>,
        scope: &Scope<'_, 'c>,
    ) -> Result<Lineage, AnalysisError> {
        match behavior {
            Some(behavior) => self.argument_opt(behavior.expr.as_deref(), scope),
            None => Ok(Lineage::constant()),
        }
    }

    /// Records the FILTER, ORDER BY and OVER parts of JSON_OBJECTAGG and JSON_ARRAYAGG.
    fn json_aggregate(
        &mut self,
        constructor: Option<&JsonAggConstructor>,
        scope: &Scope<'_, 'c>,
    ) -> Result<(), AnalysisError> {
        let Some(constructor) = constructor else {
            return Ok(());
        };
        self.sort_items(&constructor.agg_order, scope, ColumnUsage::OrderBy)?;
        self.clause(
            constructor.agg_filter.as_deref(),
            scope,
            ColumnUsage::Filter,
        )?;
        if let Some(window) = &constructor.over {
            self.window_def(window, scope)?;
        }
        Ok(())
    }
}
