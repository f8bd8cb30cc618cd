//! Statement facts: what one statement reads, writes, calls and returns.

use std::fmt;

use serde::{Serialize, Serializer};

use crate::kind::StatementKind;
use crate::session::SessionEffect;

/// Everything the policy and the masker need to know about one statement.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StatementFacts {
    /// The statement's text, without surrounding whitespace.
    pub text: String,
    /// Byte range of `text` in the message that was analyzed.
    pub range: ByteRange,
    /// The statement kind.
    pub kind: StatementKind,
    /// Every relation the statement touches, with the kinds of access. Check
    /// these as well as `kind`: a SELECT can delete rows through a
    /// data-modifying WITH query, and EXPLAIN ANALYZE runs its statement.
    pub relations: Vec<RelationAccess>,
    /// Every base-table column the statement uses, with where it is used. Columns
    /// that are referenced only inside a view definition are not listed.
    pub columns: Vec<ColumnFacts>,
    /// Every function called, as written (schema-qualified when the statement
    /// qualified it). Operators are not listed.
    pub functions: Vec<FunctionRef>,
    /// The result columns in order, for masking DataRow values by position. For
    /// `PREPARE` and `DECLARE`, the columns that a later `EXECUTE` or `FETCH` returns.
    pub output_columns: Vec<OutputColumn>,
    /// True when the statement uses columns of a relation that the catalog lists
    /// without columns (system catalogs) or of a set-returning function, so the
    /// column facts do not cover them. `relations` still names the relation.
    pub unlisted_columns: bool,
    /// How the statement changes session state that later analysis depends on.
    pub session_effect: Option<SessionEffect>,
}

/// A half-open byte range `start..end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ByteRange {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

/// A schema-qualified relation name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct RelationName {
    /// Schema.
    pub schema: String,
    /// Table, view or other relation.
    pub name: String,
}

impl fmt::Display for RelationName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.schema, self.name)
    }
}

/// A fully qualified base-table column.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct ColumnName {
    /// Schema of the table.
    pub schema: String,
    /// Table.
    pub table: String,
    /// Column.
    pub column: String,
}

impl fmt::Display for ColumnName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.schema, self.table, self.column)
    }
}

/// A kind of access to a relation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// Rows are read (SELECT, COPY TO, subqueries, the USING or FROM list of DML).
    Read,
    /// Rows are inserted (INSERT, COPY FROM, MERGE ... INSERT).
    Insert,
    /// Rows are updated (UPDATE, ON CONFLICT DO UPDATE, MERGE ... UPDATE).
    Update,
    /// Rows are deleted (DELETE, MERGE ... DELETE).
    Delete,
    /// The relation is emptied with TRUNCATE.
    Truncate,
    /// The relation or its rows are locked (LOCK, SELECT ... FOR UPDATE/SHARE).
    Lock,
    /// The relation's definition is created, changed or dropped.
    Ddl,
    /// Maintenance: VACUUM, ANALYZE, CLUSTER, REINDEX, REFRESH MATERIALIZED VIEW.
    Maintain,
    /// Privileges on the relation are granted or revoked.
    Grant,
}

/// The relation type recorded in the catalog.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RelationKind {
    /// An ordinary or partitioned table.
    Table,
    /// A view; its base tables are listed as separate relations.
    View,
    /// A materialized view, treated like a table.
    MaterializedView,
    /// A foreign table.
    ForeignTable,
    /// A sequence.
    Sequence,
    /// A relation the catalog does not list: a pg_catalog or information_schema
    /// relation, or the new relation of a CREATE statement.
    Unlisted,
}

/// One relation and the ways the statement accesses it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RelationAccess {
    /// The resolved relation.
    pub relation: RelationName,
    /// The relation type.
    pub kind: RelationKind,
    /// Kinds of access, sorted and without duplicates.
    pub access: Vec<Access>,
    /// The view the statement named, when this relation is only reached through
    /// that view's definition.
    pub via_view: Option<RelationName>,
}

/// A place in a statement where a column is used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnUsage {
    /// Its value reaches a result column, directly or through a computation.
    Output,
    /// In a WHERE clause, an aggregate FILTER, LIMIT/OFFSET, an ON CONFLICT
    /// target or condition, or a MERGE WHEN condition.
    Filter,
    /// In JOIN ... ON or USING, or MERGE ... ON.
    JoinCondition,
    /// In ORDER BY, including an aggregate's ORDER BY.
    OrderBy,
    /// In GROUP BY or DISTINCT ON, or a result column of a plain DISTINCT or
    /// of UNION, INTERSECT or EXCEPT without ALL, which compare exact values.
    GroupBy,
    /// In HAVING.
    Having,
    /// In a window's PARTITION BY or ORDER BY.
    Window,
    /// Passed, at any depth, to a function call or an operator.
    FunctionArgument,
    /// Reaches a result column only through a computation (operator, cast,
    /// CASE, function, whole-row value...), so the masker cannot mask it in place.
    Expression,
    /// Assigned: an INSERT or COPY FROM column, an UPDATE SET or MERGE target.
    WriteTarget,
    /// Its value is written into a table (INSERT ... SELECT, UPDATE SET source,
    /// CREATE TABLE AS, SELECT INTO) or becomes a column of a new view.
    WriteSource,
    /// In a RETURNING list (also marked `Output`).
    Returning,
}

impl ColumnUsage {
    /// Every usage, in declaration order.
    pub const ALL: [ColumnUsage; 12] = [
        ColumnUsage::Output,
        ColumnUsage::Filter,
        ColumnUsage::JoinCondition,
        ColumnUsage::OrderBy,
        ColumnUsage::GroupBy,
        ColumnUsage::Having,
        ColumnUsage::Window,
        ColumnUsage::FunctionArgument,
        ColumnUsage::Expression,
        ColumnUsage::WriteTarget,
        ColumnUsage::WriteSource,
        ColumnUsage::Returning,
    ];

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// A set of [`ColumnUsage`] values; serialized as a list.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct UsageSet(u16);

impl UsageSet {
    /// The empty set.
    pub const EMPTY: UsageSet = UsageSet(0);

    /// Returns whether `usage` is in the set.
    pub fn contains(self, usage: ColumnUsage) -> bool {
        self.0 & usage.bit() != 0
    }

    /// Adds `usage` to the set.
    pub fn insert(&mut self, usage: ColumnUsage) {
        self.0 |= usage.bit();
    }

    /// Adds every usage of `other`.
    pub fn extend(&mut self, other: UsageSet) {
        self.0 |= other.0;
    }

    /// Returns whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Iterates over the usages in the set, in declaration order.
    pub fn iter(self) -> impl Iterator<Item = ColumnUsage> {
        ColumnUsage::ALL
            .into_iter()
            .filter(move |usage| self.contains(*usage))
    }
}

impl FromIterator<ColumnUsage> for UsageSet {
    fn from_iter<I: IntoIterator<Item = ColumnUsage>>(iter: I) -> Self {
        let mut set = UsageSet::EMPTY;
        for usage in iter {
            set.insert(usage);
        }
        set
    }
}

impl fmt::Debug for UsageSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl Serialize for UsageSet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

/// One base-table column and where the statement uses it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ColumnFacts {
    /// The column.
    pub column: ColumnName,
    /// The places where it is used. Never empty.
    pub usages: UsageSet,
}

/// A called function, as written.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct FunctionRef {
    /// The schema, when the call qualified the name. PostgreSQL searches
    /// pg_catalog first for unqualified names unless the search path lists it later.
    pub schema: Option<String>,
    /// The function name.
    pub name: String,
}

/// One result column and where its values come from.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OutputColumn {
    /// The column name PostgreSQL reports in RowDescription (an estimate for
    /// computed columns, e.g. `?column?`).
    pub name: String,
    /// The origin of the values.
    pub source: OutputSource,
}

/// The origin of a result column's values.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutputSource {
    /// Each value is a value of one of these base columns, unchanged: a plain
    /// reference, possibly through aliases, subqueries, CTEs, views or
    /// RETURNING. More than one column only when set-operation branches differ.
    Passthrough {
        /// The base columns, never empty.
        columns: Vec<ColumnName>,
    },
    /// The values are computed; they depend on these base columns (possibly none).
    Computed {
        /// The base columns the values depend on.
        depends_on: Vec<ColumnName>,
    },
    /// A column of a relation whose columns the catalog does not list, or of a
    /// set-returning function.
    Unlisted,
    /// A `*` expansion over a relation whose columns the catalog does not list.
    /// It stands for zero or more result columns, so the positions of the columns
    /// after it are unknown.
    UnlistedStar {
        /// The relation, when it is a relation.
        relation: Option<RelationName>,
    },
}
