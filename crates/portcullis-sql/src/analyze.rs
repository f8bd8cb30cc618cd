//! Entry point: one message in, one facts value per statement out.

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::HashMap;

use pg_query::protobuf::RawStmt;

use crate::context::AnalysisContext;
use crate::error::AnalysisError;
use crate::facts::{ByteRange, StatementFacts};
use crate::kind::StatementKind;
use crate::session::{expand_user, SessionEffect};
use crate::walk::{Analyzer, StoredStatements};

/// Analyzes every statement of a query message (a simple-query string, a Parse
/// message's text, or a PREPARE/DECLARE body), in order.
///
/// Statements are resolved one after the other, as the server runs them: a
/// `SET search_path` or `PREPARE` early in the message applies to the statements
/// after it. Any statement that cannot be analyzed fails the whole message.
///
/// `sql` must be the text the server parses, in UTF-8. A session whose
/// `client_encoding` is not UTF8 must have its bytes converted first. Client-only
/// encodings such as SJIS, BIG5 and GBK have characters whose second byte is
/// an ASCII `\` or `'`, so reading their raw bytes would move literal boundaries.
pub fn analyze(sql: &str, ctx: &AnalysisContext) -> Result<Vec<StatementFacts>, AnalysisError> {
    analyze_message(sql, ctx).map(|(facts, _)| facts)
}

/// Analyzes like [`analyze`] and also returns whether any statement read the
/// session's prepared statements or cursors (EXECUTE, FETCH), whose facts must
/// not be cached.
pub(crate) fn analyze_message(
    sql: &str,
    ctx: &AnalysisContext,
) -> Result<(Vec<StatementFacts>, bool), AnalysisError> {
    let tree = crate::parser::parse(sql, ctx.standard_conforming_strings)?;
    let mut state = MessageState::new(ctx);
    let mut all = Vec::with_capacity(tree.stmts.len());
    for raw in &tree.stmts {
        if let Some(reason) = state.unknown_settings {
            return Err(AnalysisError::SettingsUnknown {
                after: reason.to_owned(),
            });
        }
        let facts = analyze_statement(raw, sql, &state)?;
        state.apply(&facts);
        all.push(facts);
    }
    Ok((all, state.read_stored.get()))
}

fn analyze_statement(
    raw: &RawStmt,
    sql: &str,
    state: &MessageState<'_>,
) -> Result<StatementFacts, AnalysisError> {
    let (range, text) = statement_text(sql, raw)?;
    let node = raw
        .stmt
        .as_deref()
        .and_then(|node| node.node.as_ref())
        .ok_or_else(|| AnalysisError::unsupported("an empty statement"))?;

    let mut analyzer = Analyzer::new(&state.ctx.catalog, &state.search_path, state);
    let analyzed = analyzer.statement(node)?;
    let output_columns = analyzer.finish_rows(&analyzed);
    let built = analyzer.facts.finish();

    let calls_set_config = built
        .functions
        .iter()
        .any(|function| function.name == "set_config");
    let session_effect = match analyzed.effect {
        Some(effect) => Some(effect),
        None if calls_set_config => Some(SessionEffect::SettingsChangedByFunction),
        None => None,
    };
    Ok(StatementFacts {
        text: text.to_owned(),
        range,
        kind: analyzed.kind,
        relations: built.relations,
        columns: built.columns,
        functions: built.functions,
        output_columns,
        unlisted_columns: built.unlisted_columns,
        session_effect,
    })
}

/// Returns the statement's byte range and text, without surrounding whitespace.
fn statement_text<'s>(sql: &'s str, raw: &RawStmt) -> Result<(ByteRange, &'s str), AnalysisError> {
    let start = usize::try_from(raw.stmt_location).unwrap_or(0);
    let end = match usize::try_from(raw.stmt_len) {
        Ok(0) | Err(_) => sql.len(),
        Ok(length) => start.saturating_add(length).min(sql.len()),
    };
    let slice = sql.get(start..end).ok_or_else(|| AnalysisError::Parse {
        message: "the parser reported statement boundaries inside a character".into(),
        position: None,
    })?;
    let leading = slice.len() - slice.trim_start().len();
    let text = slice.trim();
    let start = start + leading;
    Ok((
        ByteRange {
            start,
            end: start + text.len(),
        },
        text,
    ))
}

/// Session state as it changes from statement to statement within one message.
struct MessageState<'a> {
    ctx: &'a AnalysisContext,
    search_path: Cow<'a, [String]>,
    /// Prepared statements created (`Some`) or removed (`None`) in this message.
    prepared: HashMap<String, Option<StatementFacts>>,
    all_prepared_removed: bool,
    cursors: HashMap<String, Option<StatementFacts>>,
    all_cursors_removed: bool,
    /// Set when a statement changed settings in a way the analyzer cannot follow.
    unknown_settings: Option<&'static str>,
    read_stored: Cell<bool>,
}

impl<'a> MessageState<'a> {
    fn new(ctx: &'a AnalysisContext) -> Self {
        Self {
            ctx,
            search_path: Cow::Borrowed(&ctx.search_path),
            prepared: HashMap::new(),
            all_prepared_removed: false,
            cursors: HashMap::new(),
            all_cursors_removed: false,
            unknown_settings: None,
            read_stored: Cell::new(false),
        }
    }

    fn apply(&mut self, facts: &StatementFacts) {
        if matches!(
            facts.kind,
            StatementKind::SetRole | StatementKind::SetSessionAuthorization
        ) {
            // `$user` in the search path now means another role.
            self.unknown_settings = Some("SET ROLE or SET SESSION AUTHORIZATION");
        }
        let Some(effect) = &facts.session_effect else {
            return;
        };
        match effect {
            SessionEffect::SetSearchPath { schemas, .. } => {
                match expand_user(schemas, self.ctx.current_user.as_deref()) {
                    Some(schemas) => self.search_path = Cow::Owned(schemas),
                    None => {
                        self.unknown_settings =
                            Some("a SET search_path that names $user while the user is unknown")
                    }
                }
            }
            SessionEffect::ResetSearchPath { .. } | SessionEffect::ResetAll => {
                self.reset_search_path()
            }
            SessionEffect::DiscardAll => {
                self.reset_search_path();
                remove_all(&mut self.prepared, &mut self.all_prepared_removed);
                remove_all(&mut self.cursors, &mut self.all_cursors_removed);
            }
            SessionEffect::Prepare { name } => {
                self.prepared.insert(name.clone(), Some(facts.clone()));
            }
            SessionEffect::Deallocate { name: Some(name) } => {
                self.prepared.insert(name.clone(), None);
            }
            SessionEffect::Deallocate { name: None } => {
                remove_all(&mut self.prepared, &mut self.all_prepared_removed)
            }
            SessionEffect::DeclareCursor { name } => {
                self.cursors.insert(name.clone(), Some(facts.clone()));
            }
            SessionEffect::CloseCursor { name: Some(name) } => {
                self.cursors.insert(name.clone(), None);
            }
            SessionEffect::CloseCursor { name: None } => {
                remove_all(&mut self.cursors, &mut self.all_cursors_removed)
            }
            SessionEffect::SettingsChangedByFunction => {
                self.unknown_settings = Some("a set_config() call")
            }
            // The message was parsed as a whole before it ran, as the server does.
            SessionEffect::SetStandardConformingStrings { .. } => {}
        }
    }

    fn reset_search_path(&mut self) {
        self.search_path = Cow::Borrowed(&self.ctx.default_search_path);
    }
}

fn remove_all(entries: &mut HashMap<String, Option<StatementFacts>>, all_removed: &mut bool) {
    entries.clear();
    *all_removed = true;
}

impl StoredStatements for MessageState<'_> {
    fn prepared(&self, name: &str) -> Option<&StatementFacts> {
        self.read_stored.set(true);
        lookup(
            &self.prepared,
            self.all_prepared_removed,
            &self.ctx.prepared,
            name,
        )
    }

    fn cursor(&self, name: &str) -> Option<&StatementFacts> {
        self.read_stored.set(true);
        lookup(
            &self.cursors,
            self.all_cursors_removed,
            &self.ctx.cursors,
            name,
        )
    }
}

fn lookup<'s>(
    changed: &'s HashMap<String, Option<StatementFacts>>,
    all_removed: bool,
    session: &'s HashMap<String, StatementFacts>,
    name: &str,
) -> Option<&'s StatementFacts> {
    match changed.get(name) {
        Some(entry) => entry.as_ref(),
        None if all_removed => None,
        None => session.get(name),
    }
}
