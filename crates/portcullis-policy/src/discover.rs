//! Proposing a PHI catalog from column names and sampled values, for review.
//!
//! The caller samples the database (for example `SELECT col FROM t TABLESAMPLE
//! SYSTEM (1) LIMIT 100`). This module runs portcullis-mask's detectors and
//! renders a catalog file in which every entry names its source. The
//! detectors suggest, a reviewer decides: a column they miss is not thereby
//! free of PHI.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use portcullis_mask::{classify_column_name, classify_values, PhiCategory, ValueClassification};
use serde::Serialize;

use crate::catalog::{phi_category_name, PhiCatalog};

/// Sampled values of one column.
#[derive(Clone, Debug, Default)]
pub struct ColumnSample {
    /// The column name.
    pub name: String,
    /// Sampled values in text format; NULLs left out.
    pub values: Vec<String>,
}

/// The sampled columns of one relation, in table order.
#[derive(Clone, Debug, Default)]
pub struct TableSample {
    /// Schema name.
    pub schema: String,
    /// Relation name.
    pub name: String,
    /// The columns.
    pub columns: Vec<ColumnSample>,
}

/// A proposed catalog entry for one column.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProposedColumn {
    /// The column name.
    pub name: String,
    /// The category the name suggests.
    pub from_name: Option<PhiCategory>,
    /// The category the sampled values suggest, with the counts.
    pub from_values: Option<ProposedFromValues>,
    /// Non-empty values sampled.
    pub sampled: usize,
}

/// A category suggested by sampled values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ProposedFromValues {
    /// The category.
    pub category: PhiCategory,
    /// Values that matched it.
    pub matched: usize,
    /// Non-empty values sampled.
    pub sampled: usize,
}

impl ProposedColumn {
    /// Returns the proposed categories: the name's, then the values' when different.
    pub fn categories(&self) -> Vec<PhiCategory> {
        let mut categories: Vec<PhiCategory> = self.from_name.into_iter().collect();
        if let Some(values) = self.from_values {
            if !categories.contains(&values.category) {
                categories.push(values.category);
            }
        }
        categories
    }
}

/// A proposed catalog for one target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProposedCatalog {
    /// The target.
    pub target: String,
    /// Relations in the order given, each with its columns in order.
    pub tables: Vec<((String, String), Vec<ProposedColumn>)>,
}

/// Proposes categories for every sampled column of `target`.
pub fn discover(target: &str, tables: &[TableSample]) -> ProposedCatalog {
    let mut proposed = Vec::with_capacity(tables.len());
    for table in tables {
        let columns = table
            .columns
            .iter()
            .map(|column| {
                let from_name = classify_column_name(Some(&table.name), &column.name);
                let values = classify_values(column.values.iter().map(String::as_str));
                let sampled = column
                    .values
                    .iter()
                    .filter(|value| !value.trim().is_empty())
                    .count();
                let from_values = values.map(
                    |ValueClassification {
                         category,
                         matched,
                         sampled,
                     }| ProposedFromValues {
                        category,
                        matched,
                        sampled,
                    },
                );
                ProposedColumn {
                    name: column.name.clone(),
                    from_name,
                    from_values,
                    sampled,
                }
            })
            .collect();
        proposed.push(((table.schema.clone(), table.name.clone()), columns));
    }
    ProposedCatalog {
        target: target.to_owned(),
        tables: proposed,
    }
}

impl ProposedCatalog {
    /// Returns the catalog as it would load, with every proposal accepted.
    pub fn to_catalog(&self) -> PhiCatalog {
        let mut tables = BTreeMap::new();
        for (key, columns) in &self.tables {
            let entries = columns
                .iter()
                .filter(|column| !column.categories().is_empty())
                .map(|column| (column.name.clone(), column.categories()))
                .collect();
            tables.insert(key.clone(), entries);
        }
        PhiCatalog {
            target: self.target.clone(),
            tables,
        }
    }

    /// Renders the catalog file for review: every proposed entry carries a
    /// comment saying where it came from, and every column without a proposal
    /// is listed as a comment.
    pub fn to_toml(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# PHI catalog of target \"{}\", proposed by the gateway's detectors.",
            self.target
        );
        out.push_str("# Review every entry before loading it: the detectors suggest and can miss a column.\n");
        out.push_str(
            "# A category list records the column's PHI; an empty list records that it has none.\n",
        );
        let _ = writeln!(out, "target = {}", toml_string(&self.target));

        for ((schema, table), columns) in &self.tables {
            let _ = writeln!(
                out,
                "\n[tables.{}.columns]",
                toml_string(&format!("{schema}.{table}"))
            );
            for column in columns {
                let categories = column.categories();
                if categories.is_empty() {
                    let _ = writeln!(
                        out,
                        "# {}: nothing detected from the name or {} sampled value{}",
                        column.name,
                        column.sampled,
                        if column.sampled == 1 { "" } else { "s" }
                    );
                    continue;
                }
                let names: Vec<String> = categories
                    .iter()
                    .map(|c| toml_string(&phi_category_name(*c)))
                    .collect();
                let source = match (column.from_name, column.from_values) {
                    (Some(_), Some(values)) => {
                        format!(
                            "proposed from name and sampled values ({}/{} matched)",
                            values.matched, values.sampled
                        )
                    }
                    (Some(_), None) => "proposed from name".to_owned(),
                    (None, Some(values)) => {
                        format!(
                            "proposed from sampled values ({}/{} matched)",
                            values.matched, values.sampled
                        )
                    }
                    (None, None) => String::new(),
                };
                let _ = writeln!(
                    out,
                    "{} = [{}]  # {source}",
                    toml_key(&column.name),
                    names.join(", ")
                );
            }
        }
        out
    }
}

/// Quotes `text` as a TOML string.
fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

/// Writes `key` as a TOML key: bare when it consists of ASCII letters, digits,
/// `_` and `-`, quoted otherwise.
fn toml_key(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-');
    if bare {
        key.to_owned()
    } else {
        toml_string(key)
    }
}
