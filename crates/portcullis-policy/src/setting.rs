//! Run-time parameters that clients may not change, whatever the policies permit.
//!
//! `RESET ALL` and `DISCARD ALL` are allowed (under the `session_setting`
//! action). They return every parameter to its session default, and parameters
//! given in the startup packet (`options=-c portcullis.department=...`) are
//! session defaults. The gateway's row-level security settings therefore
//! survive them as long as the gateway passes them at connection start. A
//! gateway that set them with SET instead would see them cleared, and the
//! demo's row-level security then shows no department-scoped row at all, which
//! fails closed.
//! Drivers and connection pools send `DISCARD ALL` routinely, so denying it
//! would break them.
//!
//! Two parameters change how the gateway reads statements, so the gateway keeps
//! them at the values it analyzes with. `search_path` decides which table an
//! unqualified name means, and `standard_conforming_strings` decides where a
//! string literal ends. Clients cannot set either at startup (see portcullis-pg's
//! `params`), and the gateway sends `standard_conforming_strings=on` upstream at
//! connection start, so RESET of it returns to on.

use portcullis_sql::{SessionEffect, SettingAction};

/// The reason a change of a parameter is rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ProtectedSetting {
    /// `portcullis.*`: the gateway sets them for row-level security.
    Gateway,
    /// `role`, `session_authorization`: change the database identity.
    Identity,
    /// `client_encoding`: the gateway relays and masks UTF-8 text only. The
    /// facts do not carry the new value, so even `SET client_encoding TO 'UTF8'`
    /// is rejected; RESET returns to the value of the startup packet.
    ClientEncoding,
    /// `DateStyle`: the `year` mask reads ISO dates.
    DateStyle,
    /// `session_preload_libraries`, `local_preload_libraries`: load server
    /// libraries, as LOAD does.
    PreloadLibraries,
    /// `search_path`: the gateway resolves unqualified names with the upstream
    /// role's default search path. PostgreSQL re-resolves a prepared statement's
    /// names when the path changes, and ROLLBACK undoes a SET, so a tracked
    /// change could drift from the server's. SET, SET LOCAL and RESET are all
    /// rejected. RESET ALL and DISCARD ALL return to the same default.
    SearchPath,
    /// `standard_conforming_strings` set to anything but on. In
    /// `SELECT 'a\' AS x, ' , ssn FROM patients --' AS y`, a parser that assumes
    /// on sees two string literals, but a server with it off reads `ssn`. With it on, a backslash is
    /// literal in `'...'` and an escape only in `E'...'` (PostgreSQL
    /// documentation, "Version and Platform Compatibility"). So
    /// `backslash_quote` can only make the server reject a `\'` in `E'...'`,
    /// which reads nothing, and `escape_string_warning` only adds a warning.
    StandardConformingStrings,
}

impl ProtectedSetting {
    /// Returns the reason given to the client.
    pub(crate) fn explanation(self) -> &'static str {
        match self {
            ProtectedSetting::Gateway => "the gateway sets portcullis.* parameters for row-level security",
            ProtectedSetting::Identity => "it would change the database identity the gateway enforces",
            ProtectedSetting::ClientEncoding => {
                "the gateway supports only UTF8, set at connection start (RESET client_encoding is allowed)"
            }
            ProtectedSetting::DateStyle => {
                "masking of dates needs the ISO DateStyle set at connection start (RESET DateStyle is allowed)"
            }
            ProtectedSetting::PreloadLibraries => "it loads server libraries, as LOAD does",
            ProtectedSetting::SearchPath => {
                "the gateway checks unqualified names against the upstream role's default search_path. \
                 Qualify names with their schema (public.patients), or have an administrator change the \
                 default with ALTER ROLE ... SET search_path"
            }
            ProtectedSetting::StandardConformingStrings => {
                "the gateway reads string literals with standard_conforming_strings on, and the server \
                 would read them otherwise (SET to on and RESET are allowed); write backslash escapes as E'...'"
            }
        }
    }
}

/// Returns why SET or RESET of `name` (lower case, as portcullis-sql reports it)
/// is rejected, or `None` when the `session_setting` policy decides. SHOW is
/// never rejected here, and neither are RESET ALL and SHOW ALL (`name` is `None`).
/// `effect` is the statement's session effect, which carries the new value of
/// `standard_conforming_strings`.
pub(crate) fn protected_setting(
    action: SettingAction,
    name: Option<&str>,
    effect: Option<&SessionEffect>,
) -> Option<ProtectedSetting> {
    let name = name?;
    if action == SettingAction::Show {
        return None;
    }
    if name.starts_with("portcullis.") {
        return Some(ProtectedSetting::Gateway);
    }
    let resets = action == SettingAction::Reset;
    match name {
        "role" | "session_authorization" => Some(ProtectedSetting::Identity),
        "client_encoding" if !resets => Some(ProtectedSetting::ClientEncoding),
        "datestyle" if !resets => Some(ProtectedSetting::DateStyle),
        "session_preload_libraries" | "local_preload_libraries" => {
            Some(ProtectedSetting::PreloadLibraries)
        }
        "search_path" => Some(ProtectedSetting::SearchPath),
        "standard_conforming_strings" => {
            let stays_on = matches!(
                effect,
                Some(SessionEffect::SetStandardConformingStrings { on: true, .. })
            );
            (!stays_on).then_some(ProtectedSetting::StandardConformingStrings)
        }
        _ => None,
    }
}
