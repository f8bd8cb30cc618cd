//! Accumulates the relations, columns and functions of one statement.

use std::borrow::Cow;

use crate::facts::{
    Access, ColumnFacts, ColumnName, ColumnUsage, FunctionRef, OutputColumn, OutputSource,
    RelationAccess, RelationKind, RelationName, StatementFacts, UsageSet,
};

/// A base-table column: an index into [`FactsBuilder`]'s tables and their columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ColumnId {
    table: u32,
    column: u32,
}

/// The origin of a value: the base columns it is derived from.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Lineage {
    /// Base columns the value depends on, without duplicates.
    pub sources: Vec<ColumnId>,
    /// False only when the value is one source's value unchanged.
    pub computed: bool,
    /// True when the value may come from a column that the catalog does not list.
    pub unlisted: bool,
}

impl Lineage {
    pub fn column(id: ColumnId) -> Self {
        Self {
            sources: vec![id],
            computed: false,
            unlisted: false,
        }
    }

    /// A value that depends on no column: a literal, a parameter, a constant function.
    pub fn constant() -> Self {
        Self {
            sources: Vec::new(),
            computed: true,
            unlisted: false,
        }
    }

    pub fn merge(&mut self, other: &Lineage) {
        for source in &other.sources {
            if !self.sources.contains(source) {
                self.sources.push(*source);
            }
        }
        self.computed |= other.computed;
        self.unlisted |= other.unlisted;
    }

    /// Merges the lineage of set-operation branches: the result is only a
    /// passthrough when every branch is one.
    pub fn union(&mut self, other: &Lineage) {
        let computed = self.computed || other.computed;
        self.merge(other);
        self.computed = computed;
    }

    pub fn into_computed(mut self) -> Self {
        self.computed = true;
        self
    }
}

struct TableSlot<'c> {
    relation: RelationName,
    columns: Vec<ColumnSlot<'c>>,
}

struct ColumnSlot<'c> {
    name: Cow<'c, str>,
    usages: UsageSet,
}

/// The facts of one statement while it is being analyzed.
#[derive(Default)]
pub(crate) struct FactsBuilder<'c> {
    tables: Vec<TableSlot<'c>>,
    relations: Vec<RelationAccess>,
    functions: Vec<FunctionRef>,
    unlisted_columns: bool,
    /// Greater than zero while a view definition is analyzed: column usages and
    /// function calls inside a view are the view owner's, not the user's.
    suppressed: u32,
}

/// The finished facts, without the statement kind and output.
pub(crate) struct Built {
    pub relations: Vec<RelationAccess>,
    pub columns: Vec<ColumnFacts>,
    pub functions: Vec<FunctionRef>,
    pub unlisted_columns: bool,
}

impl<'c> FactsBuilder<'c> {
    /// Returns the table slot for `relation`, creating it with `columns`.
    pub fn table(&mut self, relation: &RelationName, columns: &'c [String]) -> u32 {
        if let Some(index) = self
            .tables
            .iter()
            .position(|table| table.relation == *relation)
        {
            return index as u32;
        }
        let columns = columns.iter().map(|name| ColumnSlot {
            name: Cow::Borrowed(name.as_str()),
            usages: UsageSet::EMPTY,
        });
        self.tables.push(TableSlot {
            relation: relation.clone(),
            columns: columns.collect(),
        });
        (self.tables.len() - 1) as u32
    }

    pub fn column(&self, table: u32, column: usize) -> ColumnId {
        ColumnId {
            table,
            column: column as u32,
        }
    }

    /// Returns the id of a column that the catalog does not list: a system
    /// column (`ctid`, `xmin`, ...) or one named by imported facts.
    pub fn system_column(&mut self, table: u32, name: &str) -> ColumnId {
        let Some(slot) = self.tables.get_mut(table as usize) else {
            return ColumnId { table, column: 0 };
        };
        let index = match slot.columns.iter().position(|column| column.name == name) {
            Some(index) => index,
            None => {
                slot.columns.push(ColumnSlot {
                    name: Cow::Owned(name.to_owned()),
                    usages: UsageSet::EMPTY,
                });
                slot.columns.len() - 1
            }
        };
        ColumnId {
            table,
            column: index as u32,
        }
    }

    /// Adds `usages` to every source of `lineage`. A computed value that reaches
    /// a result or a table also marks its sources [`ColumnUsage::Expression`].
    pub fn record(&mut self, lineage: &Lineage, usages: UsageSet) {
        if self.suppressed > 0 || usages.is_empty() {
            return;
        }
        let mut usages = usages;
        let reaches_output =
            usages.contains(ColumnUsage::Output) || usages.contains(ColumnUsage::WriteSource);
        if lineage.computed && reaches_output {
            usages.insert(ColumnUsage::Expression);
        }
        self.unlisted_columns |= lineage.unlisted;
        for source in &lineage.sources {
            if let Some(slot) = self.slot_mut(*source) {
                slot.usages.extend(usages);
            }
        }
    }

    pub fn record_one(&mut self, lineage: &Lineage, usage: ColumnUsage) {
        self.record(lineage, [usage].into_iter().collect());
    }

    /// Marks that the statement uses columns the facts cannot list.
    pub fn note_unlisted(&mut self) {
        if self.suppressed == 0 {
            self.unlisted_columns = true;
        }
    }

    pub fn access(
        &mut self,
        relation: &RelationName,
        kind: RelationKind,
        access: Access,
        via_view: Option<&RelationName>,
    ) {
        let existing = self
            .relations
            .iter_mut()
            .find(|entry| entry.relation == *relation && entry.via_view.as_ref() == via_view);
        match existing {
            Some(entry) => {
                if let Err(position) = entry.access.binary_search(&access) {
                    entry.access.insert(position, access);
                }
            }
            None => self.relations.push(RelationAccess {
                relation: relation.clone(),
                kind,
                access: vec![access],
                via_view: via_view.cloned(),
            }),
        }
    }

    pub fn function(&mut self, schema: Option<&str>, name: &str) {
        if self.suppressed > 0 {
            return;
        }
        let seen = self
            .functions
            .iter()
            .any(|function| function.name == name && function.schema.as_deref() == schema);
        if !seen {
            self.functions.push(FunctionRef {
                schema: schema.map(str::to_owned),
                name: name.to_owned(),
            });
        }
    }

    pub fn suppress(&mut self) {
        self.suppressed += 1;
    }

    pub fn unsuppress(&mut self) {
        self.suppressed = self.suppressed.saturating_sub(1);
    }

    pub fn column_name(&self, id: ColumnId) -> Option<ColumnName> {
        let table = self.tables.get(id.table as usize)?;
        let column = table.columns.get(id.column as usize)?;
        Some(ColumnName {
            schema: table.relation.schema.clone(),
            table: table.relation.name.clone(),
            column: column.name.clone().into_owned(),
        })
    }

    /// Converts a result column's lineage into what the masker reads.
    pub fn output_column(
        &self,
        name: &str,
        lineage: &Lineage,
        star_relation: Option<&Option<RelationName>>,
    ) -> OutputColumn {
        let columns: Vec<ColumnName> = lineage
            .sources
            .iter()
            .filter_map(|id| self.column_name(*id))
            .collect();
        let source = match star_relation {
            Some(relation) => OutputSource::UnlistedStar {
                relation: relation.clone(),
            },
            None if lineage.computed => OutputSource::Computed {
                depends_on: columns,
            },
            None if columns.is_empty() && lineage.unlisted => OutputSource::Unlisted,
            None if columns.is_empty() => OutputSource::Computed {
                depends_on: columns,
            },
            None => OutputSource::Passthrough { columns },
        };
        OutputColumn {
            name: name.to_owned(),
            source,
        }
    }

    pub fn finish(self) -> Built {
        let mut columns = Vec::new();
        for table in &self.tables {
            for column in table
                .columns
                .iter()
                .filter(|column| !column.usages.is_empty())
            {
                columns.push(ColumnFacts {
                    column: ColumnName {
                        schema: table.relation.schema.clone(),
                        table: table.relation.name.clone(),
                        column: column.name.clone().into_owned(),
                    },
                    usages: column.usages,
                });
            }
        }
        Built {
            relations: self.relations,
            columns,
            functions: self.functions,
            unlisted_columns: self.unlisted_columns,
        }
    }

    /// Adds the facts of an earlier statement (a PREPARE or DECLARE that EXECUTE
    /// or FETCH runs) and returns its result columns as lineage.
    pub fn import(
        &mut self,
        facts: &StatementFacts,
    ) -> Vec<(String, Lineage, Option<Option<RelationName>>)> {
        for relation in &facts.relations {
            for access in &relation.access {
                self.access(
                    &relation.relation,
                    relation.kind,
                    *access,
                    relation.via_view.as_ref(),
                );
            }
        }
        for column in &facts.columns {
            let id = self.named_column(&column.column);
            if let Some(slot) = self.slot_mut(id) {
                slot.usages.extend(column.usages);
            }
        }
        for function in &facts.functions {
            self.function(function.schema.as_deref(), &function.name);
        }
        self.unlisted_columns |= facts.unlisted_columns;
        facts
            .output_columns
            .iter()
            .map(|output| self.import_output(output))
            .collect()
    }

    fn import_output(
        &mut self,
        output: &OutputColumn,
    ) -> (String, Lineage, Option<Option<RelationName>>) {
        let mut star = None;
        let lineage = match &output.source {
            OutputSource::Passthrough { columns } => Lineage {
                sources: columns
                    .iter()
                    .map(|column| self.named_column(column))
                    .collect(),
                ..Lineage::default()
            },
            OutputSource::Computed { depends_on } => Lineage {
                sources: depends_on
                    .iter()
                    .map(|column| self.named_column(column))
                    .collect(),
                computed: true,
                unlisted: false,
            },
            OutputSource::Unlisted => Lineage {
                unlisted: true,
                ..Lineage::default()
            },
            OutputSource::UnlistedStar { relation } => {
                star = Some(relation.clone());
                Lineage {
                    unlisted: true,
                    ..Lineage::default()
                }
            }
        };
        (output.name.clone(), lineage, star)
    }

    fn named_column(&mut self, column: &ColumnName) -> ColumnId {
        let relation = RelationName {
            schema: column.schema.clone(),
            name: column.table.clone(),
        };
        let table = self.table(&relation, &[]);
        self.system_column(table, &column.column)
    }

    fn slot_mut(&mut self, id: ColumnId) -> Option<&mut ColumnSlot<'c>> {
        self.tables
            .get_mut(id.table as usize)?
            .columns
            .get_mut(id.column as usize)
    }
}
