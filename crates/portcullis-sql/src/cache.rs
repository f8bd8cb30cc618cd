//! A per-session cache of analysis results keyed by the exact message text.

use std::collections::HashMap;
use std::sync::Arc;

use crate::analyze::analyze_message;
use crate::context::AnalysisContext;
use crate::error::AnalysisError;
use crate::facts::StatementFacts;

/// Messages longer than this are analyzed every time, so that the cache's
/// memory stays near `capacity` × 2 × this size at most.
pub const MAX_CACHED_SQL_BYTES: usize = 8 * 1024;

/// Caches [`crate::analyze`] results so that a repeated message skips parsing.
///
/// Entries are valid for one combination of catalog version, search path,
/// default search path, current user and `standard_conforming_strings`; any
/// change drops them all. Messages that run a prepared statement or a cursor (EXECUTE,
/// FETCH) are not cached, because their facts come from session state, and
/// neither are failed analyses. When the cache is full, an arbitrary entry is
/// evicted: there is no LRU bookkeeping on the hot path.
#[derive(Debug)]
pub struct StatementCache {
    capacity: usize,
    key: Option<CacheKey>,
    entries: HashMap<String, Arc<Vec<StatementFacts>>>,
}

#[derive(Debug, PartialEq)]
struct CacheKey {
    catalog_version: u64,
    search_path: Vec<String>,
    default_search_path: Vec<String>,
    current_user: Option<String>,
    standard_conforming_strings: bool,
}

impl CacheKey {
    fn matches(&self, ctx: &AnalysisContext) -> bool {
        self.catalog_version == ctx.catalog.version
            && self.standard_conforming_strings == ctx.standard_conforming_strings
            && self.search_path == ctx.search_path
            && self.default_search_path == ctx.default_search_path
            && self.current_user == ctx.current_user
    }

    fn of(ctx: &AnalysisContext) -> Self {
        Self {
            catalog_version: ctx.catalog.version,
            search_path: ctx.search_path.clone(),
            default_search_path: ctx.default_search_path.clone(),
            current_user: ctx.current_user.clone(),
            standard_conforming_strings: ctx.standard_conforming_strings,
        }
    }
}

impl StatementCache {
    /// Creates a cache holding at most `capacity` messages.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            key: None,
            entries: HashMap::with_capacity(capacity.min(1024)),
        }
    }

    /// Returns the facts of `sql`, from the cache when `ctx` still matches.
    pub fn analyze(
        &mut self,
        sql: &str,
        ctx: &AnalysisContext,
    ) -> Result<Arc<Vec<StatementFacts>>, AnalysisError> {
        if !self.key.as_ref().is_some_and(|key| key.matches(ctx)) {
            self.entries.clear();
            self.key = Some(CacheKey::of(ctx));
        }
        if let Some(facts) = self.entries.get(sql) {
            return Ok(Arc::clone(facts));
        }

        let (facts, read_session_statements) = analyze_message(sql, ctx)?;
        let facts = Arc::new(facts);
        if !read_session_statements && sql.len() <= MAX_CACHED_SQL_BYTES && self.capacity > 0 {
            if self.entries.len() >= self.capacity {
                let victim = self.entries.keys().next().cloned();
                if let Some(victim) = victim {
                    self.entries.remove(&victim);
                }
            }
            self.entries.insert(sql.to_owned(), Arc::clone(&facts));
        }
        Ok(facts)
    }

    /// Returns the number of cached messages.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Returns whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Drops every entry.
    pub fn clear(&mut self) {
        self.entries.clear();
    }
}
