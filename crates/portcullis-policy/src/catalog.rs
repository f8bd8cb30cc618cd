//! PHI catalogs: the reviewed list of which columns of a target hold which
//! categories of protected health information.
//!
//! One TOML file per target:
//!
//! ```toml
//! target = "ehr"
//!
//! [tables."public.patients"]
//! columns = { ssn = ["ssn"], first_name = ["name"], dob = ["date"], sex = [] }
//! ```
//!
//! Table keys are `schema.table`, split at the first dot. Categories are the
//! serde names of [`PhiCategory`]. An empty list records that a reviewer found
//! no PHI in the column. A column the catalog does not list has no categories
//! either, and `discover` proposes entries for review.

use std::collections::{BTreeMap, BTreeSet};

use portcullis_mask::PhiCategory;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

use crate::error::LoadError;

/// The PHI categories of a target's columns.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PhiCatalog {
    /// The target the catalog describes.
    pub target: String,
    /// Columns by `(schema, table)`, then by column name.
    pub tables: BTreeMap<(String, String), BTreeMap<String, Vec<PhiCategory>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    target: String,
    #[serde(default)]
    tables: BTreeMap<String, TableEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TableEntry {
    #[serde(default)]
    columns: BTreeMap<String, Vec<String>>,
}

impl PhiCatalog {
    /// Parses a catalog file. `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Self, LoadError> {
        let invalid = |message: String| LoadError::Catalog {
            file: file.to_owned(),
            message,
        };
        let parsed: CatalogFile =
            toml::from_str(text).map_err(|error| invalid(error.to_string()))?;
        if parsed.target.is_empty() {
            return Err(invalid(
                "`target` is empty; set it to the target's name".to_owned(),
            ));
        }

        let mut tables = BTreeMap::new();
        for (key, entry) in parsed.tables {
            let Some((schema, table)) = key
                .split_once('.')
                .filter(|(s, t)| !s.is_empty() && !t.is_empty())
            else {
                return Err(invalid(format!(
                    "table key \"{key}\" is not schema-qualified; write it as \"public.{key}\""
                )));
            };
            let mut columns = BTreeMap::new();
            for (column, names) in entry.columns {
                let mut categories = Vec::with_capacity(names.len());
                for name in &names {
                    let category = parse_category(name).ok_or_else(|| {
                        invalid(format!(
                            "column {column} of table {key} has unknown PHI category \"{name}\"; valid categories are: {}",
                            phi_category_names().join(", ")
                        ))
                    })?;
                    if !categories.contains(&category) {
                        categories.push(category);
                    }
                }
                columns.insert(column, categories);
            }
            tables.insert((schema.to_owned(), table.to_owned()), columns);
        }
        Ok(Self {
            target: parsed.target,
            tables,
        })
    }

    /// Returns the categories of a column; empty when the catalog does not list it.
    pub fn column_categories(&self, schema: &str, table: &str, column: &str) -> &[PhiCategory] {
        self.tables
            .get(&(schema.to_owned(), table.to_owned()))
            .and_then(|columns| columns.get(column))
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// Returns the union of the categories of a table's columns.
    pub fn table_categories(&self, schema: &str, table: &str) -> BTreeSet<PhiCategory> {
        let columns = self.tables.get(&(schema.to_owned(), table.to_owned()));
        columns
            .into_iter()
            .flat_map(|columns| columns.values().flatten().copied())
            .collect()
    }
}

/// Returns the serde name of a category, e.g. `health_plan_number`.
pub fn phi_category_name(category: PhiCategory) -> String {
    match serde_json::to_value(category) {
        Ok(serde_json::Value::String(name)) => name,
        _ => format!("{category:?}"),
    }
}

fn parse_category(name: &str) -> Option<PhiCategory> {
    let deserializer = de::value::StrDeserializer::<de::value::Error>::new(name);
    PhiCategory::deserialize(deserializer).ok()
}

/// Returns the serde names of every [`PhiCategory`], in declaration order.
///
/// The list comes from the enum's own `Deserialize` implementation, which
/// passes its variant names to `deserialize_enum`, so it cannot drift from
/// portcullis-mask.
pub fn phi_category_names() -> &'static [&'static str] {
    struct VariantNames(Option<&'static [&'static str]>);

    impl<'de> Deserializer<'de> for &mut VariantNames {
        type Error = de::value::Error;

        fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("only enums are inspected"))
        }

        fn deserialize_enum<V: Visitor<'de>>(
            self,
            _name: &'static str,
            variants: &'static [&'static str],
            _visitor: V,
        ) -> Result<V::Value, Self::Error> {
            self.0 = Some(variants);
            Err(de::Error::custom("variant names recorded"))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map struct identifier ignored_any
        }
    }

    let mut names = VariantNames(None);
    let _ = PhiCategory::deserialize(&mut names);
    names.0.unwrap_or_default()
}
