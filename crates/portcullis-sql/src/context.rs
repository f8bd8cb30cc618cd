//! The catalog and session state that name resolution needs.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;

use crate::facts::{RelationKind, StatementFacts};

/// Schemas, their relations and each relation's ordered columns, as the upstream
/// database has them. Names are stored exactly as in `pg_class` and
/// `pg_attribute` (unquoted identifiers are lower case).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Catalog {
    /// Increase it whenever the contents change; [`crate::StatementCache`]
    /// drops its entries when the version differs.
    pub version: u64,
    /// The upstream server's `server_version_num`, e.g. 150004 for 15.4, or 0
    /// when unknown. The analyzer parses with PostgreSQL 18's grammar and
    /// denies the constructs that servers older than that read differently.
    /// 0 counts as older than every version, so those constructs are denied.
    pub server_version_num: u32,
    schemas: HashMap<String, HashMap<String, RelationDef>>,
}

/// One relation in the catalog.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RelationDef {
    /// Table, view, materialized view, foreign table or sequence.
    pub kind: RelationKind,
    /// Column names in table order (`attnum`), without dropped columns.
    pub columns: Vec<String>,
    /// The definition, for views.
    pub view: Option<ViewDefinition>,
}

/// A view's defining query.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ViewDefinition {
    /// The SELECT text, e.g. from `pg_get_viewdef(oid)`.
    pub sql: String,
    /// The search path to resolve the definition's unqualified names with.
    /// `pg_get_viewdef` qualifies every name that the search path in effect when
    /// it ran could not find, so pass that search path here.
    pub search_path: Vec<String>,
}

impl Catalog {
    /// Creates an empty catalog with the given version.
    pub fn new(version: u64) -> Self {
        Self {
            version,
            server_version_num: 0,
            schemas: HashMap::new(),
        }
    }

    /// Adds or replaces a table.
    pub fn add_table(&mut self, schema: &str, name: &str, columns: &[&str]) {
        let def = RelationDef {
            kind: RelationKind::Table,
            columns: owned(columns),
            view: None,
        };
        self.add_relation(schema, name, def);
    }

    /// Adds or replaces a view whose definition resolves names with `search_path`.
    pub fn add_view(
        &mut self,
        schema: &str,
        name: &str,
        columns: &[&str],
        sql: &str,
        search_path: &[&str],
    ) {
        let view = ViewDefinition {
            sql: sql.to_owned(),
            search_path: owned(search_path),
        };
        let def = RelationDef {
            kind: RelationKind::View,
            columns: owned(columns),
            view: Some(view),
        };
        self.add_relation(schema, name, def);
    }

    /// Adds or replaces any relation.
    pub fn add_relation(&mut self, schema: &str, name: &str, def: RelationDef) {
        self.schemas
            .entry(schema.to_owned())
            .or_default()
            .insert(name.to_owned(), def);
    }

    /// Adds an empty schema, so that it counts as existing.
    pub fn add_schema(&mut self, schema: &str) {
        self.schemas.entry(schema.to_owned()).or_default();
    }

    /// Returns the relation `schema.name`, if listed.
    pub fn relation(&self, schema: &str, name: &str) -> Option<&RelationDef> {
        self.schemas.get(schema)?.get(name)
    }

    /// Returns whether the schema is listed.
    pub fn has_schema(&self, schema: &str) -> bool {
        self.schemas.contains_key(schema)
    }
}

fn owned(names: &[&str]) -> Vec<String> {
    names.iter().map(|name| (*name).to_owned()).collect()
}

/// The session state that statement analysis depends on.
#[derive(Clone, Debug)]
pub struct AnalysisContext {
    /// The upstream database's catalog.
    pub catalog: Arc<Catalog>,
    /// The session's current search path, with `$user` already replaced by the
    /// session user's name. pg_catalog is searched first unless it is listed.
    pub search_path: Vec<String>,
    /// The search path that `RESET search_path` and `SET search_path TO DEFAULT`
    /// restore (the value at connection start).
    pub default_search_path: Vec<String>,
    /// The role that `$user` means in a `SET search_path` (PostgreSQL's
    /// `current_user`). While it is `None`, a statement after such a SET in the
    /// same message is rejected. [`AnalysisContext::apply_session_effect`] then
    /// keeps `$user` literally, so it matches no schema. Set this field whenever
    /// the user may own a schema named after them.
    pub current_user: Option<String>,
    /// The session's `standard_conforming_strings` setting (on by default since
    /// PostgreSQL 9.1); it changes how string literals parse.
    pub standard_conforming_strings: bool,
    /// SQL-level prepared statements of this session (`PREPARE`), by name.
    pub prepared: HashMap<String, StatementFacts>,
    /// Open cursors of this session (`DECLARE`), by name.
    pub cursors: HashMap<String, StatementFacts>,
}

impl AnalysisContext {
    /// Creates a context for a new session with the given search path.
    pub fn new(catalog: Arc<Catalog>, search_path: Vec<String>) -> Self {
        Self {
            catalog,
            default_search_path: search_path.clone(),
            search_path,
            current_user: None,
            standard_conforming_strings: true,
            prepared: HashMap::new(),
            cursors: HashMap::new(),
        }
    }
}
