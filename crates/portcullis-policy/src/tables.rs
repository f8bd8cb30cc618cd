//! The relations and user-defined functions of a target, as the caller reads
//! them from the database.

use portcullis_sql::{Catalog, RelationDef, RelationKind, ViewDefinition};
use serde::Serialize;

/// The relations of one target, for building resource entities and the
/// statement analyzer's catalog from the same list.
#[derive(Clone, Debug, Default, Serialize)]
pub struct TargetTables {
    /// The target name (the database name clients connect with).
    pub target: String,
    /// Every relation the analyzer should know, in any order.
    pub tables: Vec<TableDef>,
    /// Every function and procedure outside `pg_catalog` and
    /// `information_schema`, extensions' included. A call to any of them needs
    /// a `call_function` permit, because it runs statements the gateway
    /// cannot see.
    pub functions: Vec<FunctionDef>,
    /// The schemas that the upstream role's sessions search for unqualified
    /// names, in order, as `current_schemas(false)` returns them (`$user`
    /// resolved, schemas that do not exist left out). [`TargetTables::new`]
    /// leaves it empty, so that unqualified names resolve only in pg_catalog.
    pub search_path: Vec<String>,
    /// The upstream server's `server_version_num` (e.g. 150004), or 0 when
    /// unknown. The analyzer denies constructs that servers older than its
    /// PostgreSQL 18 grammar read differently, and treats 0 as the oldest.
    pub server_version_num: u32,
}

/// One user-defined function or procedure of a target. Overloads share a
/// name, so one entry covers them all.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FunctionDef {
    /// Schema name.
    pub schema: String,
    /// Function name.
    pub name: String,
}

impl FunctionDef {
    /// Describes the function `schema.name`.
    pub fn new(schema: &str, name: &str) -> Self {
        Self {
            schema: schema.to_owned(),
            name: name.to_owned(),
        }
    }
}

/// One relation of a target.
#[derive(Clone, Debug, Serialize)]
pub struct TableDef {
    /// Schema name.
    pub schema: String,
    /// Relation name.
    pub name: String,
    /// Table, view, materialized view, foreign table or sequence.
    pub kind: RelationKind,
    /// Column names in table order (`attnum`), without dropped columns.
    pub columns: Vec<String>,
    /// The definition, for views.
    pub view: Option<ViewDefinition>,
}

impl TableDef {
    /// Describes an ordinary table.
    pub fn table(schema: &str, name: &str, columns: &[&str]) -> Self {
        Self {
            schema: schema.to_owned(),
            name: name.to_owned(),
            kind: RelationKind::Table,
            columns: columns.iter().map(|column| (*column).to_owned()).collect(),
            view: None,
        }
    }

    /// Describes a view whose definition resolves names with `search_path`.
    pub fn view(
        schema: &str,
        name: &str,
        columns: &[&str],
        sql: &str,
        search_path: &[&str],
    ) -> Self {
        let view = ViewDefinition {
            sql: sql.to_owned(),
            search_path: search_path
                .iter()
                .map(|schema| (*schema).to_owned())
                .collect(),
        };
        Self {
            kind: RelationKind::View,
            view: Some(view),
            ..Self::table(schema, name, columns)
        }
    }
}

impl TargetTables {
    /// Creates an empty list for `target`.
    pub fn new(target: &str) -> Self {
        Self {
            target: target.to_owned(),
            tables: Vec::new(),
            functions: Vec::new(),
            search_path: Vec::new(),
            server_version_num: 0,
        }
    }

    /// Builds the portcullis-sql catalog of these relations, with `version` as
    /// its [`Catalog::version`].
    pub fn to_sql_catalog(&self, version: u64) -> Catalog {
        let mut catalog = Catalog::new(version);
        catalog.server_version_num = self.server_version_num;
        for table in &self.tables {
            let def = RelationDef {
                kind: table.kind,
                columns: table.columns.clone(),
                view: table.view.clone(),
            };
            catalog.add_relation(&table.schema, &table.name, def);
        }
        catalog
    }
}
