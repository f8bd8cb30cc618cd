//! Views: a view's columns come from analyzing its definition.

use pg_query::protobuf::node::Node as NodeEnum;

use crate::context::RelationDef;
use crate::error::AnalysisError;
use crate::facts::RelationName;
use crate::walk::scope::ItemColumn;
use crate::walk::select::rows_to_columns;
use crate::walk::Analyzer;

/// Views within views deeper than this are rejected; PostgreSQL has no such
/// limit, but real schemas stay far below it.
const MAX_VIEW_DEPTH: usize = 16;

impl<'c> Analyzer<'c> {
    /// Expands a view into its base columns by analyzing its definition.
    pub(super) fn view_columns(
        &mut self,
        name: &RelationName,
        def: &'c RelationDef,
    ) -> Result<Vec<ItemColumn<'c>>, AnalysisError> {
        let invalid = |reason: String| AnalysisError::InvalidView {
            view: name.to_string(),
            reason,
        };
        if self.views.contains(name) {
            return Err(invalid("the view refers to itself".into()));
        }
        if self.views.len() >= MAX_VIEW_DEPTH {
            return Err(invalid(format!(
                "views are nested more than {MAX_VIEW_DEPTH} levels deep"
            )));
        }
        let Some(view) = &def.view else {
            return Err(invalid("the catalog has no definition for it".into()));
        };
        let tree =
            crate::parser::parse(&view.sql, true).map_err(|error| invalid(error.to_string()))?;
        let select = match tree.stmts.as_slice() {
            [statement] => match statement
                .stmt
                .as_deref()
                .and_then(|node| node.node.as_ref())
            {
                Some(NodeEnum::SelectStmt(select)) => select,
                _ => return Err(invalid("the definition is not a single SELECT".into())),
            },
            _ => return Err(invalid("the definition is not a single SELECT".into())),
        };

        let saved_path = std::mem::replace(&mut self.search_path, view.search_path.clone());
        self.views.push(name.clone());
        self.facts.suppress();
        let result = self.select(select, None, false);
        self.facts.unsuppress();
        self.views.pop();
        self.search_path = saved_path;

        let rows = result.map_err(|error| invalid(error.to_string()))?;
        let names: Vec<&str> = def.columns.iter().map(String::as_str).collect();
        if !names.is_empty() && names.len() != rows.len() {
            let reason = format!(
                "the definition returns {} columns but the catalog lists {}",
                rows.len(),
                names.len()
            );
            return Err(invalid(reason));
        }
        rows_to_columns(rows, &names)
    }
}
