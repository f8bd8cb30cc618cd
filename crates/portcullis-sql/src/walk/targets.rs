//! Select lists, RETURNING lists and `*` expansion.

use pg_query::protobuf::node::Node as NodeEnum;
use pg_query::protobuf::{MinMaxOp, Node, SqlValueFunctionOp, SubLinkType, XmlExprOp};

use crate::error::AnalysisError;
use crate::walk::expr::column_ref_names;
use crate::walk::scope::{Item, Origin, Scope};
use crate::walk::{inner, string_value, unsupported, Analyzer, OutCol};

impl<'c> Analyzer<'c> {
    /// Returns the result columns of a select or RETURNING list, with `*` expanded.
    pub fn target_list(
        &mut self,
        targets: &[Node],
        scope: &Scope<'_, 'c>,
    ) -> Result<Vec<OutCol>, AnalysisError> {
        let mut rows = Vec::with_capacity(targets.len());
        for node in targets {
            let NodeEnum::ResTarget(target) = inner(node, "select list item")? else {
                return Err(AnalysisError::unsupported(
                    "a select list item that is not a target",
                ));
            };
            let value = crate::walk::inner_opt(target.val.as_deref(), "select list value")?;
            if let Some((names, star)) = star_reference(value, scope)? {
                if star {
                    expand_star(&names, scope, &mut rows)?;
                    continue;
                }
            }
            let lineage = self.select_list_value(value, scope)?;
            let name = if target.name.is_empty() {
                figure_column_name(value)
            } else {
                target.name.clone()
            };
            rows.push(OutCol::new(name, lineage));
        }
        Ok(rows)
    }

    fn select_list_value(
        &mut self,
        value: &NodeEnum,
        scope: &Scope<'_, 'c>,
    ) -> Result<crate::walk::Lineage, AnalysisError> {
        if let NodeEnum::AIndirection(indirection) = value {
            let star = indirection
                .indirection
                .iter()
                .any(|step| matches!(step.node, Some(NodeEnum::AStar(_))));
            if star {
                // `(composite).*` expands to as many columns as the composite type has, which the catalog does not record.
                return Err(AnalysisError::unsupported(
                    "(expression).* in a select list",
                ));
            }
        }
        self.expr_node(value, scope)
    }
}

/// Returns the names of a column reference, and whether it is a `*` to expand:
/// `*`, `t.*`, or `(t).*` where `t` names a FROM item rather than a column.
fn star_reference<'v>(
    value: &'v NodeEnum,
    scope: &Scope<'_, '_>,
) -> Result<Option<(Vec<&'v str>, bool)>, AnalysisError> {
    match value {
        NodeEnum::ColumnRef(column) => column_ref_names(column).map(Some),
        NodeEnum::AIndirection(indirection) => {
            let [step] = indirection.indirection.as_slice() else {
                return Ok(None);
            };
            let Some(NodeEnum::ColumnRef(column)) =
                indirection.arg.as_deref().and_then(|arg| arg.node.as_ref())
            else {
                return Ok(None);
            };
            let (names, star) = column_ref_names(column)?;
            let is_item = match names.as_slice() {
                [name] => {
                    !star && scope.find_item(None, name)?.is_some() && !names_a_column(scope, name)
                }
                _ => false,
            };
            Ok((is_item && matches!(step.node, Some(NodeEnum::AStar(_)))).then_some((names, true)))
        }
        _ => Ok(None),
    }
}

/// Returns whether some visible FROM item has a column called `name`, which
/// PostgreSQL prefers over a whole-row reference.
fn names_a_column(scope: &Scope<'_, '_>, name: &str) -> bool {
    scope
        .star_items()
        .any(|item| item.columns.iter().any(|column| column.name == name))
}

/// Appends the columns that `*`, `t.*` or `schema.t.*` stands for.
fn expand_star(
    names: &[&str],
    scope: &Scope<'_, '_>,
    rows: &mut Vec<OutCol>,
) -> Result<(), AnalysisError> {
    let (schema, relation) = match names {
        [] => {
            let mut any = false;
            for item in scope.star_items() {
                push_item_columns(item, rows);
                any = true;
            }
            if !any {
                return Err(AnalysisError::invalid(
                    "SELECT * with no tables specified is not valid",
                ));
            }
            return Ok(());
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
    let item = scope
        .find_item(schema, relation)?
        .ok_or_else(|| AnalysisError::UnknownColumn {
            name: format!("{}.*", names.join(".")),
        })?;
    push_item_columns(item, rows);
    Ok(())
}

fn push_item_columns(item: &Item<'_>, rows: &mut Vec<OutCol>) {
    for column in &item.columns {
        let row = match &column.origin {
            Origin::UnlistedStar { relation, .. } => OutCol {
                name: "*".into(),
                lineage: column.lineage(),
                star: Some(relation.clone()),
            },
            _ => OutCol::new(column.name.clone().into_owned(), column.lineage()),
        };
        rows.push(row);
    }
}

/// Returns the column name PostgreSQL gives an unnamed select-list expression
/// (`FigureColnameInternal` in `parse_target.c`), or `?column?`.
pub(crate) fn figure_column_name(node: &NodeEnum) -> String {
    figure(node).unwrap_or_else(|| "?column?".to_owned())
}

fn figure(node: &NodeEnum) -> Option<String> {
    let fixed = |name: &str| Some(name.to_owned());
    match node {
        NodeEnum::ColumnRef(column) => column
            .fields
            .last()
            .and_then(string_value)
            .map(str::to_owned),
        NodeEnum::AIndirection(indirection) => {
            let field = indirection.indirection.iter().rev().find_map(string_value);
            field
                .map(str::to_owned)
                .or_else(|| figure(indirection.arg.as_deref()?.node.as_ref()?))
        }
        NodeEnum::FuncCall(call) => call
            .funcname
            .last()
            .and_then(string_value)
            .map(str::to_owned),
        NodeEnum::AExpr(op) if op.kind == pg_query::protobuf::AExprKind::AexprNullif as i32 => {
            fixed("nullif")
        }
        NodeEnum::TypeCast(cast) => cast
            .arg
            .as_deref()
            .and_then(|arg| figure(arg.node.as_ref()?))
            .or_else(|| {
                cast.type_name
                    .as_ref()?
                    .names
                    .last()
                    .and_then(string_value)
                    .map(str::to_owned)
            }),
        NodeEnum::CollateClause(collate) => figure(collate.arg.as_deref()?.node.as_ref()?),
        NodeEnum::GroupingFunc(_) => fixed("grouping"),
        NodeEnum::SubLink(link) => sublink_name(link),
        NodeEnum::CaseExpr(_) => fixed("case"),
        NodeEnum::AArrayExpr(_) => fixed("array"),
        NodeEnum::RowExpr(_) => fixed("row"),
        NodeEnum::CoalesceExpr(_) => fixed("coalesce"),
        NodeEnum::MinMaxExpr(min_max) => fixed(if min_max.op == MinMaxOp::IsGreatest as i32 {
            "greatest"
        } else {
            "least"
        }),
        NodeEnum::SqlvalueFunction(function) => sql_value_function_name(function.op),
        NodeEnum::XmlExpr(xml) => xml_name(xml.op),
        NodeEnum::XmlSerialize(_) => fixed("xmlserialize"),
        NodeEnum::JsonObjectConstructor(_) => fixed("json_object"),
        NodeEnum::JsonArrayConstructor(_) => fixed("json_array"),
        NodeEnum::JsonParseExpr(_) => fixed("json"),
        NodeEnum::JsonScalarExpr(_) => fixed("json_scalar"),
        NodeEnum::JsonSerializeExpr(_) => fixed("json_serialize"),
        _ => None,
    }
}

fn sublink_name(link: &pg_query::protobuf::SubLink) -> Option<String> {
    match SubLinkType::try_from(link.sub_link_type).ok()? {
        SubLinkType::ExistsSublink => Some("exists".into()),
        SubLinkType::ArraySublink => Some("array".into()),
        SubLinkType::ExprSublink => {
            let Some(NodeEnum::SelectStmt(select)) = link.subselect.as_deref()?.node.as_ref()
            else {
                return None;
            };
            let Some(NodeEnum::ResTarget(target)) = select.target_list.first()?.node.as_ref()
            else {
                return None;
            };
            if !target.name.is_empty() {
                return Some(target.name.clone());
            }
            figure(target.val.as_deref()?.node.as_ref()?)
        }
        _ => None,
    }
}

fn sql_value_function_name(op: i32) -> Option<String> {
    let name = match SqlValueFunctionOp::try_from(op).ok()? {
        SqlValueFunctionOp::SvfopCurrentDate => "current_date",
        SqlValueFunctionOp::SvfopCurrentTime | SqlValueFunctionOp::SvfopCurrentTimeN => {
            "current_time"
        }
        SqlValueFunctionOp::SvfopCurrentTimestamp | SqlValueFunctionOp::SvfopCurrentTimestampN => {
            "current_timestamp"
        }
        SqlValueFunctionOp::SvfopLocaltime | SqlValueFunctionOp::SvfopLocaltimeN => "localtime",
        SqlValueFunctionOp::SvfopLocaltimestamp | SqlValueFunctionOp::SvfopLocaltimestampN => {
            "localtimestamp"
        }
        SqlValueFunctionOp::SvfopCurrentRole => "current_role",
        SqlValueFunctionOp::SvfopCurrentUser => "current_user",
        SqlValueFunctionOp::SvfopUser => "user",
        SqlValueFunctionOp::SvfopSessionUser => "session_user",
        SqlValueFunctionOp::SvfopCurrentCatalog => "current_catalog",
        SqlValueFunctionOp::SvfopCurrentSchema => "current_schema",
        SqlValueFunctionOp::SqlvalueFunctionOpUndefined => return None,
    };
    Some(name.to_owned())
}

fn xml_name(op: i32) -> Option<String> {
    let name = match XmlExprOp::try_from(op).ok()? {
        XmlExprOp::IsXmlconcat => "xmlconcat",
        XmlExprOp::IsXmlelement => "xmlelement",
        XmlExprOp::IsXmlforest => "xmlforest",
        XmlExprOp::IsXmlparse => "xmlparse",
        XmlExprOp::IsXmlpi => "xmlpi",
        XmlExprOp::IsXmlroot => "xmlroot",
        XmlExprOp::IsXmlserialize => "xmlserialize",
        XmlExprOp::IsDocument | XmlExprOp::Undefined => return None,
    };
    Some(name.to_owned())
}

/// Returns the column names of INSERT or UPDATE targets (`ResTarget.name`).
/// Subscripts and field selections (`col[1]`, `col.field`) name their base column.
pub(crate) fn target_column_names(targets: &[Node]) -> Result<Vec<&str>, AnalysisError> {
    targets
        .iter()
        .map(|node| match inner(node, "target column")? {
            NodeEnum::ResTarget(target) => Ok(target.name.as_str()),
            other => Err(unsupported(other)),
        })
        .collect()
}
