//! Name scopes of one query level and column lookup, following PostgreSQL's
//! rules in `parse_relation.c` (`colNameToVar`, `refnameNamespaceItem`).

use std::borrow::Cow;

use crate::error::AnalysisError;
use crate::facts::{RelationKind, RelationName};
use crate::walk::builder::{ColumnId, FactsBuilder, Lineage};

/// System columns that every table has besides its listed columns.
const SYSTEM_COLUMNS: [&str; 6] = ["tableoid", "ctid", "xmin", "cmin", "xmax", "cmax"];

/// The origin of a FROM item column's values.
#[derive(Clone, Debug)]
pub(crate) enum Origin {
    Base(ColumnId),
    Derived(Lineage),
    /// A placeholder for zero or more columns that the catalog does not list
    /// (a system relation, or a `*` over one inside a subquery). Never matches a name.
    UnlistedStar {
        relation: Option<RelationName>,
        lineage: Lineage,
    },
}

#[derive(Clone, Debug)]
pub(crate) struct ItemColumn<'c> {
    pub name: Cow<'c, str>,
    pub origin: Origin,
}

impl ItemColumn<'_> {
    pub fn lineage(&self) -> Lineage {
        match &self.origin {
            Origin::Base(id) => Lineage::column(*id),
            Origin::Derived(lineage) => lineage.clone(),
            Origin::UnlistedStar { lineage, .. } => {
                let mut lineage = lineage.clone();
                lineage.unlisted = true;
                lineage
            }
        }
    }
}

/// Columns of an item that the catalog does not list.
#[derive(Clone, Debug)]
pub(crate) struct UnlistedColumns {
    /// The lineage of any of those columns (for a function, its arguments).
    pub lineage: Lineage,
}

/// One FROM-clause entry (PostgreSQL's `ParseNamespaceItem`).
#[derive(Clone, Debug, Default)]
pub(crate) struct Item<'c> {
    /// The alias, or the relation or CTE name.
    pub refname: Option<String>,
    /// The schema, for an unaliased catalog relation (`schema.table.column`).
    pub schema: Option<String>,
    /// Whether `refname` can qualify a column.
    pub rel_visible: bool,
    /// Whether unqualified column names see this item's columns.
    pub cols_visible: bool,
    pub columns: Vec<ItemColumn<'c>>,
    pub unlisted: Option<UnlistedColumns>,
    /// The builder's table, for system columns of a base table.
    pub table: Option<u32>,
    /// The catalog relation this item reads, for row locking.
    pub relation: Option<(RelationName, RelationKind)>,
}

impl Item<'_> {
    /// Returns the lineage of a whole-row reference: every column, computed.
    pub fn whole_row(&self) -> Lineage {
        let mut lineage = Lineage::constant();
        for column in &self.columns {
            lineage.merge(&column.lineage());
        }
        if let Some(unlisted) = &self.unlisted {
            lineage.merge(&unlisted.lineage);
            lineage.unlisted = true;
        }
        lineage
    }
}

/// A WITH-clause entry. `columns` is `None` while a recursive CTE's own
/// non-recursive term is being analyzed.
#[derive(Clone, Debug)]
pub(crate) struct Cte<'c> {
    pub name: String,
    pub columns: Option<Vec<ItemColumn<'c>>>,
    pub unlisted: Option<UnlistedColumns>,
}

/// The names visible at one query level, linked to the enclosing levels.
pub(crate) struct Scope<'p, 'c> {
    pub parent: Option<&'p Scope<'p, 'c>>,
    /// True for a non-LATERAL subquery in FROM, which cannot see its siblings.
    pub hide_parent_items: bool,
    pub items: Vec<Item<'c>>,
    /// Items before this index are out of scope (used for JOIN ... ON).
    pub visible_from: usize,
    pub ctes: Vec<Cte<'c>>,
}

impl<'p, 'c> Scope<'p, 'c> {
    pub fn new(parent: Option<&'p Scope<'p, 'c>>, hide_parent_items: bool) -> Self {
        Self {
            parent,
            hide_parent_items,
            items: Vec::new(),
            visible_from: 0,
            ctes: Vec::new(),
        }
    }

    /// Iterates over the visible items of each level, innermost first.
    fn levels(&self) -> impl Iterator<Item = &[Item<'c>]> {
        let mut level = Some(self);
        let mut hidden = false;
        std::iter::from_fn(move || {
            let scope = level?;
            let items: &[Item<'c>] = if hidden {
                &[]
            } else {
                scope.items.get(scope.visible_from..).unwrap_or(&[])
            };
            hidden = scope.hide_parent_items;
            level = scope.parent;
            Some(items)
        })
    }

    /// Finds the innermost CTE named `name`.
    pub fn find_cte(&self, name: &str) -> Option<&Cte<'c>> {
        let mut level = Some(self);
        while let Some(scope) = level {
            if let Some(cte) = scope.ctes.iter().rev().find(|cte| cte.name == name) {
                return Some(cte);
            }
            level = scope.parent;
        }
        None
    }

    /// Finds the innermost item that `schema.name` (or `name`) qualifies.
    pub fn find_item(
        &self,
        schema: Option<&str>,
        name: &str,
    ) -> Result<Option<&Item<'c>>, AnalysisError> {
        for items in self.levels() {
            let mut matches = items.iter().filter(|item| qualifies(item, schema, name));
            if let Some(item) = matches.next() {
                if matches.next().is_some() {
                    return Err(AnalysisError::AmbiguousColumn {
                        name: name.to_owned(),
                    });
                }
                return Ok(Some(item));
            }
        }
        Ok(None)
    }

    /// Iterates over the items of this level that `*` expands, in FROM order.
    pub fn star_items(&self) -> impl Iterator<Item = &Item<'c>> {
        self.items
            .iter()
            .skip(self.visible_from)
            .filter(|item| item.cols_visible)
    }

    /// Resolves an unqualified column name, or a whole-row reference to a FROM item.
    pub fn resolve_name(
        &self,
        name: &str,
        facts: &mut FactsBuilder<'c>,
    ) -> Result<Lineage, AnalysisError> {
        let mut maybe_unlisted: Option<Lineage> = None;
        for items in self.levels() {
            if let Some(mut lineage) = find_column_at_level(items, name, facts)? {
                if let Some(unlisted) = &maybe_unlisted {
                    lineage.merge(unlisted);
                }
                return Ok(lineage);
            }
            // An item with unlisted columns may hold `name`. Keep looking outward as
            // well, so that an outer column the server might pick still gets its usage.
            for item in items.iter().filter(|item| item.cols_visible) {
                if let Some(unlisted) = &item.unlisted {
                    let mut lineage = unlisted.lineage.clone();
                    lineage.unlisted = true;
                    maybe_unlisted
                        .get_or_insert_with(Lineage::default)
                        .merge(&lineage);
                }
            }
            if let Some(item) = items
                .iter()
                .find(|item| item.rel_visible && item.refname.as_deref() == Some(name))
            {
                let mut lineage = item.whole_row();
                if let Some(unlisted) = &maybe_unlisted {
                    lineage.merge(unlisted);
                }
                return Ok(lineage);
            }
        }
        maybe_unlisted.ok_or_else(|| AnalysisError::UnknownColumn {
            name: name.to_owned(),
        })
    }

    /// Resolves `[schema.]relation.column`.
    pub fn resolve_qualified(
        &self,
        schema: Option<&str>,
        relation: &str,
        column: &str,
        facts: &mut FactsBuilder<'c>,
    ) -> Result<Lineage, AnalysisError> {
        let written = match schema {
            Some(schema) => format!("{schema}.{relation}.{column}"),
            None => format!("{relation}.{column}"),
        };
        let Some(item) = self.find_item(schema, relation)? else {
            if schema.is_some() {
                return Err(AnalysisError::UnknownColumn { name: written });
            }
            // `composite_column.field`: PostgreSQL tries a column named `relation`.
            return match self.resolve_name(relation, facts) {
                Ok(lineage) => Ok(lineage.into_computed()),
                Err(AnalysisError::UnknownColumn { .. }) => {
                    Err(AnalysisError::UnknownColumn { name: written })
                }
                Err(error) => Err(error),
            };
        };
        match find_in_item(item, column, facts) {
            Found::One(lineage) => Ok(lineage),
            Found::Many => Err(AnalysisError::AmbiguousColumn { name: written }),
            Found::None => match &item.unlisted {
                Some(unlisted) => {
                    let mut lineage = unlisted.lineage.clone();
                    lineage.unlisted = true;
                    Ok(lineage)
                }
                None => Err(AnalysisError::UnknownColumn { name: written }),
            },
        }
    }
}

fn qualifies(item: &Item<'_>, schema: Option<&str>, name: &str) -> bool {
    if !item.rel_visible || item.refname.as_deref() != Some(name) {
        return false;
    }
    match schema {
        Some(schema) => item.schema.as_deref() == Some(schema),
        None => true,
    }
}

enum Found {
    None,
    One(Lineage),
    Many,
}

fn find_in_item<'c>(item: &Item<'c>, name: &str, facts: &mut FactsBuilder<'c>) -> Found {
    let named = |column: &&ItemColumn<'_>| {
        column.name == name && !matches!(column.origin, Origin::UnlistedStar { .. })
    };
    let mut matches = item.columns.iter().filter(named);
    match (matches.next(), matches.next()) {
        (Some(column), None) => return Found::One(column.lineage()),
        (Some(_), Some(_)) => return Found::Many,
        _ => {}
    }
    match item.table {
        Some(table) if SYSTEM_COLUMNS.contains(&name) => {
            Found::One(Lineage::column(facts.system_column(table, name)))
        }
        _ => Found::None,
    }
}

fn find_column_at_level<'c>(
    items: &[Item<'c>],
    name: &str,
    facts: &mut FactsBuilder<'c>,
) -> Result<Option<Lineage>, AnalysisError> {
    let mut found = None;
    for item in items.iter().filter(|item| item.cols_visible) {
        match find_in_item(item, name, facts) {
            Found::None => {}
            Found::Many => {
                return Err(AnalysisError::AmbiguousColumn {
                    name: name.to_owned(),
                })
            }
            Found::One(lineage) => {
                if found.is_some() {
                    return Err(AnalysisError::AmbiguousColumn {
                        name: name.to_owned(),
                    });
                }
                found = Some(lineage);
            }
        }
    }
    Ok(found)
}
