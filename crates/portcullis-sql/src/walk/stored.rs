//! EXECUTE and FETCH, which run a statement analyzed earlier in the session.

use pg_query::protobuf::{ExecuteStmt, FetchStmt};

use crate::error::AnalysisError;
use crate::facts::StatementFacts;
use crate::kind::StatementKind;
use crate::walk::scope::Scope;
use crate::walk::{Analyzed, Analyzer, OutCol};

/// The session's prepared statements and cursors, as of the statement being analyzed.
pub(crate) trait StoredStatements {
    fn prepared(&self, name: &str) -> Option<&StatementFacts>;
    fn cursor(&self, name: &str) -> Option<&StatementFacts>;
}

impl<'c> Analyzer<'c> {
    /// Returns the prepared statement's facts for EXECUTE. Parameter values are
    /// analyzed too. One that reads a column (through a subquery) is rejected,
    /// because the prepared facts do not record where `$n` is used.
    pub(super) fn execute(&mut self, execute: &ExecuteStmt) -> Result<Analyzed, AnalysisError> {
        let scope = Scope::new(None, false);
        for param in &execute.params {
            let lineage = self.expr(param, &scope)?;
            if !lineage.sources.is_empty() || lineage.unlisted {
                return Err(AnalysisError::unsupported(
                    "an EXECUTE parameter that reads a table",
                ));
            }
        }
        let stored = self.stored.prepared(&execute.name).ok_or_else(|| {
            AnalysisError::UnknownPreparedStatement {
                name: execute.name.clone(),
            }
        })?;
        let statement = match &stored.kind {
            StatementKind::Prepare { statement, .. } => statement.clone(),
            other => Box::new(other.clone()),
        };
        let rows = self.import(stored);
        let kind = StatementKind::Execute {
            name: execute.name.clone(),
            statement,
        };
        Ok(Analyzed {
            rows,
            ..Analyzed::new(kind)
        })
    }

    /// Returns the cursor's facts for FETCH or MOVE. MOVE returns no rows.
    pub(super) fn fetch(&mut self, fetch: &FetchStmt) -> Result<Analyzed, AnalysisError> {
        let stored =
            self.stored
                .cursor(&fetch.portalname)
                .ok_or_else(|| AnalysisError::UnknownCursor {
                    name: fetch.portalname.clone(),
                })?;
        let mut rows = self.import(stored);
        if fetch.ismove {
            rows.clear();
        }
        let kind = StatementKind::Fetch {
            cursor: fetch.portalname.clone(),
            is_move: fetch.ismove,
        };
        Ok(Analyzed {
            rows,
            ..Analyzed::new(kind)
        })
    }

    fn import(&mut self, stored: &StatementFacts) -> Vec<OutCol> {
        let rows = self.facts.import(stored).into_iter();
        rows.map(|(name, lineage, star)| OutCol {
            name,
            lineage,
            star,
        })
        .collect()
    }
}
