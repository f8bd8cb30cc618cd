//! Constructs that the analyzer's grammar (PostgreSQL 18, through libpg_query)
//! reads differently from an older upstream server, and the checks that deny
//! them unless [`Catalog::server_version_num`](crate::Catalog) shows the
//! upstream reads them the same way.
//!
//! NOTE: each differential is a case of its own below. A newly found one needs
//! a new case, because nothing here compares the two grammars.

use pg_query::protobuf::node::Node as NodeEnum;
use pg_query::protobuf::{CoercionForm, FuncCall};

use crate::error::AnalysisError;
use crate::walk::{node_name, string_list, Analyzer};

/// The first `server_version_num` of PostgreSQL 16, 17 and 18.
pub(crate) const PG16: u32 = 160_000;
pub(crate) const PG17: u32 = 170_000;
pub(crate) const PG18: u32 = 180_000;

impl Analyzer<'_> {
    /// Denies `construct` unless the upstream runs PostgreSQL `since` or newer.
    /// An unknown version (0) counts as older than every version.
    pub(super) fn require_server(
        &self,
        since: u32,
        construct: &str,
        detail: &str,
    ) -> Result<(), AnalysisError> {
        let server_version_num = self.catalog.server_version_num;
        if server_version_num >= since {
            return Ok(());
        }
        Err(AnalysisError::ServerVersion {
            construct: construct.to_owned(),
            since_major: since / 10_000,
            server_version_num,
            detail: detail.to_owned(),
        })
    }

    /// Denies bare `SYSTEM_USER` before PostgreSQL 16. The PostgreSQL 18
    /// grammar turns it into a call of `pg_catalog.system_user()` in SQL
    /// syntax, which reads no column, while PostgreSQL 15 and older read it as
    /// a column reference.
    pub(super) fn check_sql_syntax_call(&self, call: &FuncCall) -> Result<(), AnalysisError> {
        if call.funcformat != CoercionForm::CoerceSqlSyntax as i32 {
            return Ok(());
        }
        if string_list(&call.funcname)? != ["pg_catalog", "system_user"] {
            return Ok(());
        }
        self.require_server(
            PG16,
            "system_user",
            "system_user is a column reference on PostgreSQL 15 and older but a function \
             on 16 and newer; write \"system_user\" in double quotes to name a column",
        )
    }

    /// Denies SQL/JSON syntax and `merge_action()` on servers older than the
    /// version that added them. The older grammar reads the same words as
    /// ordinary function calls or column names, or rejects them.
    pub(super) fn check_json_syntax(&self, node: &NodeEnum) -> Result<(), AnalysisError> {
        let since = match node {
            NodeEnum::JsonObjectConstructor(_)
            | NodeEnum::JsonArrayConstructor(_)
            | NodeEnum::JsonArrayQueryConstructor(_)
            | NodeEnum::JsonObjectAgg(_)
            | NodeEnum::JsonArrayAgg(_)
            | NodeEnum::JsonIsPredicate(_) => PG16,
            // JSON(), JSON_SCALAR() and JSON_SERIALIZE() were added in PostgreSQL 17.
            NodeEnum::JsonParseExpr(_)
            | NodeEnum::JsonScalarExpr(_)
            | NodeEnum::JsonSerializeExpr(_)
            | NodeEnum::JsonFuncExpr(_)
            | NodeEnum::JsonTable(_)
            | NodeEnum::MergeSupportFunc(_) => PG17,
            _ => return Ok(()),
        };
        self.require_server(
            since,
            &node_name(node),
            "older servers read this syntax as a different expression or reject it; \
             use the equivalent functions of the server's version, e.g. json_build_object()",
        )
    }
}
