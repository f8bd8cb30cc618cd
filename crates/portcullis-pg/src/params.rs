//! Client startup parameters: which the gateway accepts, and what it sends upstream.
//!
//! Run-time parameter names are case-insensitive in PostgreSQL, so the
//! allow-list is matched without regard to case; the client's spelling is
//! forwarded.

use crate::authority::SessionId;
use crate::error::ClientError;

/// Run-time parameters a client may set at startup or in `options -c`.
/// None of them changes who the upstream session acts as, or how the gateway
/// reads statements (`search_path` and `standard_conforming_strings` are
/// checked separately).
const ALLOWED: &[&str] = &[
    "application_name",
    "client_encoding",
    "DateStyle",
    "TimeZone",
    "extra_float_digits",
    "IntervalStyle",
    "bytea_output",
    "lc_monetary",
    "lc_numeric",
    "lc_time",
    "statement_timeout",
    "lock_timeout",
    "idle_in_transaction_session_timeout",
    "default_transaction_isolation",
    "default_transaction_read_only",
    "default_transaction_deferrable",
    "geqo",
    "intervalstyle",
    "timezone_abbreviations",
    "xmlbinary",
    "xmloption",
    "jit",
];

/// Parameters that would change identity or open a replication connection.
const REFUSED: &[(&str, &str)] = &[
    ("role", "setting \"role\" at startup is not allowed; the gateway connects with the target's own role"),
    (
        "session_authorization",
        "setting \"session_authorization\" at startup is not allowed; the gateway connects with the target's own role",
    ),
    ("replication", "replication connections are not supported through the gateway"),
    (
        "search_path",
        "setting \"search_path\" is not allowed through the gateway, because it checks unqualified names \
         against the upstream role's default search_path; qualify names with their schema, or have an \
         administrator change the default with ALTER ROLE ... SET search_path",
    ),
];

/// Settings the gateway sends upstream at connection start, after the
/// client's own, so that they are the session defaults that RESET returns to.
/// The statement analyzer parses string literals with
/// `standard_conforming_strings` on, so the server must too, even where a role
/// or database default turns it off: startup parameters override those.
pub(crate) const PINNED_SETTINGS: &[(&str, &str)] = &[("standard_conforming_strings", "on")];

/// Client encodings whose text the gateway can read. The codec requires
/// UTF-8 text, and SQL_ASCII passes the server's UTF-8 bytes through.
const ENCODINGS: &[&str] = &["UTF8", "UTF-8", "UNICODE", "SQL_ASCII"];

/// Checked startup parameters.
#[derive(Clone, Debug)]
pub(crate) struct ClientParameters {
    /// Portcullis user name.
    pub(crate) user: String,
    /// Target name; defaults to the user name, as PostgreSQL's database does.
    pub(crate) target: String,
    /// The client's own `application_name`, if it sent one.
    pub(crate) application_name: Option<String>,
    /// Allowed parameters to forward, in the order received.
    pub(crate) forwarded: Vec<(String, String)>,
}

/// Checks the StartupMessage parameters against the allow-list.
pub(crate) fn check_parameters(
    parameters: &[(&str, &str)],
) -> Result<ClientParameters, ClientError> {
    let mut user = None;
    let mut target = None;
    let mut application_name = None;
    let mut forwarded = Vec::new();

    for &(name, value) in parameters {
        match name {
            "user" => user = Some(value.to_owned()),
            "database" => target = Some(value.to_owned()),
            "application_name" => application_name = Some(value.to_owned()),
            "options" => {
                check_options(value)?;
                forwarded.push((name.to_owned(), value.to_owned()));
            }
            _ if name.starts_with("_pq_.") => {}
            _ if name == "replication" && is_false(value) => {}
            _ => {
                check_setting(name, value)?;
                forwarded.push((name.to_owned(), value.to_owned()));
            }
        }
    }

    let user = user
        .filter(|user| !user.is_empty())
        .ok_or(ClientError::MissingUser)?;
    let target = target
        .filter(|target| !target.is_empty())
        .unwrap_or_else(|| user.clone());
    Ok(ClientParameters {
        user,
        target,
        application_name,
        forwarded,
    })
}

fn check_setting(name: &str, value: &str) -> Result<(), ClientError> {
    if let Some((_, message)) = REFUSED
        .iter()
        .find(|(refused, _)| refused.eq_ignore_ascii_case(name))
    {
        return Err(ClientError::ParameterNotAllowed((*message).to_owned()));
    }
    if name.eq_ignore_ascii_case("standard_conforming_strings") {
        if is_true(value) {
            return Ok(());
        }
        return Err(ClientError::ParameterNotAllowed(format!(
            "standard_conforming_strings \"{value}\" is not allowed through the gateway, because it reads \
             string literals with standard_conforming_strings on; remove the setting or set it to on"
        )));
    }
    if !ALLOWED
        .iter()
        .any(|allowed| allowed.eq_ignore_ascii_case(name))
    {
        return Err(ClientError::ParameterNotSupported(format!(
            "startup parameter \"{name}\" is not supported by the gateway; allowed: {}",
            ALLOWED.join(", ")
        )));
    }
    if name.eq_ignore_ascii_case("client_encoding") && !is_supported_encoding(value) {
        return Err(ClientError::ParameterNotSupported(format!(
            "client_encoding \"{value}\" is not supported by the gateway; use UTF8"
        )));
    }
    Ok(())
}

/// Compares an encoding name the way PostgreSQL does: only ASCII letters and digits
/// count, case-insensitively, so `'utf-8'` (sent by asyncpg, quotes included) and
/// `UTF8` are the same encoding.
fn is_supported_encoding(value: &str) -> bool {
    let cleaned: String = value
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    ENCODINGS.iter().any(|encoding| {
        let expected: String = encoding
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .collect();
        expected == cleaned
    })
}

/// PostgreSQL's boolean spellings for "off"; `replication=false` is an
/// ordinary connection.
fn is_false(value: &str) -> bool {
    ["false", "off", "no", "0", "f", "n"]
        .iter()
        .any(|v| v.eq_ignore_ascii_case(value))
}

/// PostgreSQL's boolean spellings for "on", as `parse_bool` accepts them
/// (leading and trailing spaces ignored). Prefixes such as `tr` are rejected
/// here, although PostgreSQL accepts them: the gateway then rejects an "on".
fn is_true(value: &str) -> bool {
    let value = value.trim();
    ["true", "on", "yes", "1", "t", "y"]
        .iter()
        .any(|v| v.eq_ignore_ascii_case(value))
}

/// Checks the `options` parameter: only `-c name=value` or `--name=value`
/// settings from the allow-list. Arguments are split on unescaped spaces,
/// and a backslash escapes the next character, as in PostgreSQL's
/// `pg_split_opts`.
fn check_options(options: &str) -> Result<(), ClientError> {
    let arguments = split_options(options);
    let mut iter = arguments.iter();
    while let Some(argument) = iter.next() {
        let setting = if argument == "-c" {
            iter.next().map(String::as_str)
        } else if let Some(rest) = argument.strip_prefix("--") {
            Some(rest)
        } else {
            argument.strip_prefix("-c")
        };
        let Some((name, value)) = setting.and_then(|setting| setting.split_once('=')) else {
            return Err(ClientError::ParameterNotSupported(format!(
                "startup option \"{argument}\" is not supported by the gateway; only -c name=value settings are"
            )));
        };
        check_setting(&name.replace('-', "_"), value)?;
    }
    Ok(())
}

fn split_options(options: &str) -> Vec<String> {
    let mut arguments = Vec::new();
    let mut current = String::new();
    let mut chars = options.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => current.extend(chars.next()),
            c if c.is_ascii_whitespace() => {
                if !current.is_empty() {
                    arguments.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        arguments.push(current);
    }
    arguments
}

/// Builds the upstream `application_name`: `portcullis:<user>:<session>`,
/// then `:` and the client's own name if it sent one. PostgreSQL truncates
/// the value to 63 bytes, so a long user name can cut off the suffix.
pub(crate) fn upstream_application_name(
    user: &str,
    session: SessionId,
    client: Option<&str>,
) -> String {
    // PostgreSQL keeps at most 63 bytes (NAMEDATALEN - 1) and sends the client a
    // NOTICE 42622 when it truncates, which a direct connection never shows. So the
    // session appears by the first 8 hex digits of its id (the audit log has the whole
    // id) and the result is cut at a character boundary.
    let short_session: String = session.0.simple().to_string().chars().take(8).collect();
    let mut name = format!("portcullis:{user}:{short_session}");
    if let Some(client) = client.filter(|name| !name.is_empty()) {
        name.push(':');
        name.push_str(client);
    }
    truncate_at_char_boundary(&mut name, MAX_IDENTIFIER_BYTES);
    name
}

/// Longest identifier PostgreSQL keeps, in bytes.
const MAX_IDENTIFIER_BYTES: usize = 63;

fn truncate_at_char_boundary(text: &mut String, max_bytes: usize) {
    if text.len() <= max_bytes {
        return;
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn application_name_fits_identifier_limit() {
        let session = SessionId(uuid::Uuid::new_v4());
        let long_user = "conformance_user_with_a_long_name";
        let name = upstream_application_name(long_user, session, Some("psql-with-a-long-client-name-é"));
        assert!(name.len() <= MAX_IDENTIFIER_BYTES, "{} bytes", name.len());
        assert!(name.starts_with("portcullis:conformance_user_with_a_long_name:"));
        let short = upstream_application_name("alice", session, Some("psql"));
        assert!(short.ends_with(":psql"), "{short}");
    }

    #[test]
    fn encoding_names_compare_like_postgres() {
        assert!(is_supported_encoding("'utf-8'"));
        assert!(is_supported_encoding("UTF8"));
        assert!(is_supported_encoding("unicode"));
        assert!(!is_supported_encoding("LATIN1"));
    }

    #[test]
    fn identity_parameters_refused() {
        for name in ["role", "session_authorization", "replication", "ROLE"] {
            let result = check_parameters(&[("user", "alice"), (name, "postgres")]);
            assert!(
                matches!(result, Err(ClientError::ParameterNotAllowed(_))),
                "{name} accepted"
            );
        }
    }

    #[test]
    fn options_checked_against_allow_list() {
        assert!(check_options("-c application_name=x --statement-timeout=5s").is_ok());
        assert!(check_options("-capplication_name=a\\ b").is_ok());
        assert!(matches!(
            check_options("-c role=postgres"),
            Err(ClientError::ParameterNotAllowed(_))
        ));
        assert!(check_options("-c log_statement=none").is_err());
        assert!(check_options("-d 5").is_err());
    }

    #[test]
    fn search_path_refused_everywhere() {
        let startup = check_parameters(&[("user", "alice"), ("search_path", "research,public")]);
        assert!(matches!(startup, Err(ClientError::ParameterNotAllowed(_))));
        for options in [
            "-c search_path=research,public",
            "-csearch_path=research",
            "--search-path=research",
            "-c SEARCH_PATH=research",
        ] {
            let result = check_options(options);
            assert!(
                matches!(result, Err(ClientError::ParameterNotAllowed(ref message)) if message.contains("ALTER ROLE")),
                "{options}: {result:?}"
            );
        }
    }

    #[test]
    fn standard_conforming_strings_only_on() {
        for value in ["off", "false", "0", "no", "of"] {
            let startup =
                check_parameters(&[("user", "alice"), ("standard_conforming_strings", value)]);
            assert!(
                matches!(startup, Err(ClientError::ParameterNotAllowed(_))),
                "{value} accepted at startup"
            );
        }
        for options in [
            "-c standard_conforming_strings=off",
            "--standard_conforming_strings=off",
            "--standard-conforming-strings=false",
            "-cstandard_conforming_strings=0",
        ] {
            assert!(
                matches!(check_options(options), Err(ClientError::ParameterNotAllowed(_))),
                "{options} accepted"
            );
        }
        assert!(check_parameters(&[("user", "alice"), ("standard_conforming_strings", "on")]).is_ok());
        assert!(check_options("-c standard_conforming_strings=on").is_ok());
    }

    #[test]
    fn target_defaults_to_user() {
        let parameters =
            check_parameters(&[("user", "alice"), ("replication", "false")]).expect("valid");
        assert_eq!(parameters.target, "alice");
        assert!(parameters.forwarded.is_empty());
    }
}
