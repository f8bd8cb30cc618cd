//! Session state changes that later statements' analysis depends on.

use serde::Serialize;

use crate::context::AnalysisContext;
use crate::facts::StatementFacts;

/// A change to the session state that [`AnalysisContext`] tracks.
///
/// `SET LOCAL` lasts until the end of the current transaction, and ROLLBACK (or
/// ROLLBACK TO SAVEPOINT) also undoes plain `SET`s made inside the transaction.
/// [`AnalysisContext::apply_session_effect`] does not know transaction
/// boundaries, so a caller that tracks transactions must restore the saved
/// search path itself at those points, or read it back with `SHOW search_path`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SessionEffect {
    /// `SET [SESSION | LOCAL] search_path TO schema, ...`. The names are as
    /// written; `$user` is not expanded.
    SetSearchPath {
        /// The schemas, in order.
        schemas: Vec<String>,
        /// True for SET LOCAL.
        local: bool,
    },
    /// `SET search_path TO DEFAULT` or `RESET search_path`.
    ResetSearchPath {
        /// True for SET LOCAL.
        local: bool,
    },
    /// `SET standard_conforming_strings TO on|off`, or RESET (`on: true`). The
    /// whole simple-query message was already parsed with the old value, as the
    /// server does; the change applies from the next message on.
    SetStandardConformingStrings {
        /// The new value.
        on: bool,
        /// True for SET LOCAL.
        local: bool,
    },
    /// `RESET ALL`: every parameter returns to its session default.
    ResetAll,
    /// `DISCARD ALL`: RESET ALL, DEALLOCATE ALL and CLOSE ALL together.
    DiscardAll,
    /// `PREPARE name AS ...`: store these facts under `name`.
    Prepare {
        /// The prepared statement name.
        name: String,
    },
    /// `DEALLOCATE name` or `DEALLOCATE ALL` (`None`).
    Deallocate {
        /// The prepared statement name.
        name: Option<String>,
    },
    /// `DECLARE name CURSOR FOR ...`: store these facts under `name`.
    DeclareCursor {
        /// The cursor name.
        name: String,
    },
    /// `CLOSE name` or `CLOSE ALL` (`None`).
    CloseCursor {
        /// The cursor name.
        name: Option<String>,
    },
    /// The statement calls `set_config`, which can change any parameter,
    /// including search_path, with a value the analyzer cannot know. Read the
    /// settings back from the server, or end the session.
    SettingsChangedByFunction,
}

/// Returns how the statement changes the session state that analysis depends on.
pub fn session_effect(facts: &StatementFacts) -> Option<SessionEffect> {
    facts.session_effect.clone()
}

impl AnalysisContext {
    /// Applies the statement's [`SessionEffect`], if any, to this context.
    ///
    /// Call it after the server has executed the statement successfully.
    /// `SET LOCAL` is applied like `SET`; see [`SessionEffect`] for what the
    /// caller must restore at the end of a transaction.
    /// [`SessionEffect::SettingsChangedByFunction`] changes nothing here.
    pub fn apply_session_effect(&mut self, facts: &StatementFacts) {
        let Some(effect) = &facts.session_effect else {
            return;
        };
        match effect {
            SessionEffect::SetSearchPath { schemas, .. } => {
                let user = self.current_user.as_deref();
                self.search_path = expand_user(schemas, user).unwrap_or_else(|| schemas.clone());
            }
            SessionEffect::ResetSearchPath { .. } => {
                self.search_path = self.default_search_path.clone()
            }
            SessionEffect::SetStandardConformingStrings { on, .. } => {
                self.standard_conforming_strings = *on
            }
            SessionEffect::ResetAll => self.reset_settings(),
            SessionEffect::DiscardAll => {
                self.reset_settings();
                self.prepared.clear();
                self.cursors.clear();
            }
            SessionEffect::Prepare { name } => {
                self.prepared.insert(name.clone(), facts.clone());
            }
            SessionEffect::Deallocate { name: Some(name) } => {
                self.prepared.remove(name);
            }
            SessionEffect::Deallocate { name: None } => self.prepared.clear(),
            SessionEffect::DeclareCursor { name } => {
                self.cursors.insert(name.clone(), facts.clone());
            }
            SessionEffect::CloseCursor { name: Some(name) } => {
                self.cursors.remove(name);
            }
            SessionEffect::CloseCursor { name: None } => self.cursors.clear(),
            SessionEffect::SettingsChangedByFunction => {}
        }
    }

    fn reset_settings(&mut self) {
        self.search_path = self.default_search_path.clone();
        self.standard_conforming_strings = true;
    }
}

/// Replaces `$user` with `user`; `None` when `$user` is present but the user is unknown.
pub(crate) fn expand_user(schemas: &[String], user: Option<&str>) -> Option<Vec<String>> {
    schemas
        .iter()
        .map(|schema| match (schema.as_str(), user) {
            ("$user", Some(user)) => Some(user.to_owned()),
            ("$user", None) => None,
            _ => Some(schema.clone()),
        })
        .collect()
}
