//! Relation name resolution against the catalog and the search path, as
//! PostgreSQL's `RangeVarGetRelid` does for a session.

use crate::context::{Catalog, RelationDef};
use crate::error::AnalysisError;
use crate::facts::RelationName;
use crate::system::{is_pg_catalog_relation, SYSTEM_SCHEMAS};

/// The target of a relation name.
pub(crate) enum ResolvedRelation<'c> {
    /// A relation the catalog lists.
    Listed(RelationName, &'c RelationDef),
    /// A pg_catalog or information_schema relation that the catalog does not list.
    Unlisted(RelationName),
}

impl ResolvedRelation<'_> {
    pub fn name(&self) -> &RelationName {
        match self {
            ResolvedRelation::Listed(name, _) | ResolvedRelation::Unlisted(name) => name,
        }
    }
}

/// Resolves `[schema.]name`. Unqualified names are searched in pg_catalog first
/// (unless `search_path` lists it), then in `search_path` order.
///
/// pg_temp is not searched: temporary tables are not in the catalog, so a
/// statement that names one is rejected as an unknown relation.
pub(crate) fn resolve_relation<'c>(
    catalog: &'c Catalog,
    search_path: &[String],
    schema: Option<&str>,
    name: &str,
) -> Result<ResolvedRelation<'c>, AnalysisError> {
    if let Some(schema) = schema {
        return resolve_qualified(catalog, search_path, schema, name);
    }
    for schema in effective_search_path(search_path) {
        if let Some(def) = catalog.relation(schema, name) {
            return Ok(ResolvedRelation::Listed(relation_name(schema, name), def));
        }
        if schema == "pg_catalog" && is_pg_catalog_relation(name) {
            return Ok(ResolvedRelation::Unlisted(relation_name(schema, name)));
        }
    }
    Err(unknown_relation(search_path, name.to_owned()))
}

fn resolve_qualified<'c>(
    catalog: &'c Catalog,
    search_path: &[String],
    schema: &str,
    name: &str,
) -> Result<ResolvedRelation<'c>, AnalysisError> {
    if let Some(def) = catalog.relation(schema, name) {
        return Ok(ResolvedRelation::Listed(relation_name(schema, name), def));
    }
    // The server rejects a system relation that does not exist, so any name in
    // these schemas can be reported as that relation.
    if SYSTEM_SCHEMAS.contains(&schema) {
        return Ok(ResolvedRelation::Unlisted(relation_name(schema, name)));
    }
    Err(unknown_relation(search_path, format!("{schema}.{name}")))
}

/// Returns the schemas searched for unqualified names, in order.
pub(crate) fn effective_search_path(search_path: &[String]) -> impl Iterator<Item = &str> {
    let implicit =
        (!search_path.iter().any(|schema| schema == "pg_catalog")).then_some("pg_catalog");
    implicit
        .into_iter()
        .chain(search_path.iter().map(String::as_str))
}

/// Returns the schema that CREATE puts an unqualified new object in: the first
/// schema of the search path that exists (PostgreSQL skips missing ones).
pub(crate) fn creation_schema<'a>(catalog: &Catalog, search_path: &'a [String]) -> Option<&'a str> {
    search_path
        .iter()
        .map(String::as_str)
        .find(|schema| catalog.has_schema(schema))
}

fn relation_name(schema: &str, name: &str) -> RelationName {
    RelationName {
        schema: schema.to_owned(),
        name: name.to_owned(),
    }
}

fn unknown_relation(search_path: &[String], name: String) -> AnalysisError {
    let searched: Vec<&str> = effective_search_path(search_path).collect();
    AnalysisError::UnknownRelation {
        name,
        search_path: searched.join(", "),
    }
}
