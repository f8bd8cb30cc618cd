//! Reasons an analysis fails. Every one of them means the statement is denied.

use serde::Serialize;

/// A failure to analyze a statement. The gateway denies the whole message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "error", rename_all = "snake_case")]
pub enum AnalysisError {
    /// The PostgreSQL parser rejected the text.
    #[error("the statement could not be parsed: {message}{}; correct it and send it again", at(*.position))]
    Parse {
        /// The parser's own message. It can quote a token of the statement,
        /// such as a literal, so log it only where statement text may be logged.
        message: String,
        /// 1-based character position in the message text, as in PostgreSQL's
        /// ErrorResponse `P` field, when the parser reported one.
        position: Option<u32>,
    },

    /// The statement uses a construct that the analyzer does not handle yet.
    #[error(
        "the statement uses {construct}, which the gateway cannot analyze yet, so it is denied; \
         rewrite the statement without it or ask an administrator to run it directly"
    )]
    Unsupported {
        /// The parse-tree node or clause, e.g. `JsonTable`.
        construct: String,
    },

    /// The statement uses a construct that the upstream server's PostgreSQL
    /// version reads differently from the gateway's PostgreSQL 18 parser.
    #[error(
        "the statement uses {construct}, which is denied because the upstream server ({}) \
         is older than PostgreSQL {since_major}, the first version that reads it as the gateway does: {detail}",
        server_version(*.server_version_num)
    )]
    ServerVersion {
        /// The construct, e.g. `system_user` or `JsonObjectConstructor`.
        construct: String,
        /// The first major version whose grammar gives the construct the
        /// meaning the gateway checks.
        since_major: u32,
        /// The upstream's `server_version_num`, 0 when unknown.
        server_version_num: u32,
        /// How older servers read the construct and how to rewrite it.
        detail: String,
    },

    /// A table, view or CTE name resolved to nothing.
    #[error(
        "relation \"{name}\" was not found in the search path ({search_path}); \
         qualify it with its schema, or refresh the gateway catalog if it was created recently"
    )]
    UnknownRelation {
        /// The name as written, schema-qualified when it was.
        name: String,
        /// The schemas searched, in order.
        search_path: String,
    },

    /// A column reference resolved to nothing.
    #[error(
        "column \"{name}\" does not exist in the relations of the statement; check the spelling"
    )]
    UnknownColumn {
        /// The reference as written, e.g. `p.ssn`.
        name: String,
    },

    /// A column reference matched more than one column.
    #[error("column reference \"{name}\" is ambiguous; qualify it with a table name or alias")]
    AmbiguousColumn {
        /// The reference as written.
        name: String,
    },

    /// `EXECUTE` named a statement that no `PREPARE` in this session created.
    #[error("prepared statement \"{name}\" does not exist in this session; PREPARE it first")]
    UnknownPreparedStatement {
        /// The prepared statement name.
        name: String,
    },

    /// `FETCH` or `MOVE` named a cursor that no `DECLARE` in this session created.
    #[error(
        "cursor \"{name}\" was not declared through the gateway in this session; \
         declare it with DECLARE before fetching from it"
    )]
    UnknownCursor {
        /// The cursor name.
        name: String,
    },

    /// An earlier statement of the same message changed session settings in a
    /// way the analyzer cannot follow, so later statements cannot be resolved.
    #[error(
        "the statements after {after} cannot be analyzed in the same message; \
         send them in a separate message"
    )]
    SettingsUnknown {
        /// The earlier statement, e.g. `a set_config() call`.
        after: String,
    },

    /// A view's definition in the catalog could not be analyzed.
    #[error("the definition of view \"{view}\" could not be analyzed ({reason}); refresh the gateway catalog")]
    InvalidView {
        /// The schema-qualified view name.
        view: String,
        /// The failure found while analyzing the definition.
        reason: String,
    },

    /// The statement is well-formed SQL but PostgreSQL would reject it, e.g. more
    /// INSERT values than target columns.
    #[error("invalid statement: {reason}")]
    Invalid {
        /// The problem, in PostgreSQL's words where it has them.
        reason: String,
    },
}

impl AnalysisError {
    pub(crate) fn unsupported(construct: impl Into<String>) -> Self {
        Self::Unsupported {
            construct: construct.into(),
        }
    }

    pub(crate) fn invalid(reason: impl Into<String>) -> Self {
        Self::Invalid {
            reason: reason.into(),
        }
    }
}

/// The marker PostgreSQL's scanner puts before the token it failed on
/// (`scanner_yyerror`: `%s at or near "%s"`).
const NEAR_TOKEN: &str = " at or near \"";

/// Removes the statement text that a parser message quotes, such as
/// `at or near "'Zeb-Secret'"`, from `message` (or from any text that embeds
/// one, like an [`AnalysisError::Parse`] display), for records kept in clear.
/// The token may itself contain `"`, so everything up to the last `"` goes:
/// the text after a parser message ("at character N; correct it ...") quotes
/// nothing.
///
/// NOTE: only the scanner's "at or near" form is removed. Other analysis
/// errors name relations, columns or settings as written, which is statement
/// text too, though not a literal.
pub fn without_statement_text(message: &str) -> std::borrow::Cow<'_, str> {
    let Some(start) = message.find(NEAR_TOKEN) else {
        return message.into();
    };
    let token_start = start + NEAR_TOKEN.len();
    let end = match message[token_start..].rfind('"') {
        Some(offset) => token_start + offset + 1,
        None => message.len(),
    };
    format!("{}{}", &message[..start], &message[end..]).into()
}

fn server_version(server_version_num: u32) -> String {
    match server_version_num {
        0 => "version unknown".into(),
        number => format!("server_version_num {number}"),
    }
}

fn at(position: Option<u32>) -> String {
    match position {
        Some(position) => format!(" at character {position}"),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_text_removed_from_parse_error() {
        let error = AnalysisError::Parse {
            message: "syntax error at or near \"'Zeb-Secret'\"".into(),
            position: Some(50),
        };
        let clear = without_statement_text(&error.to_string()).into_owned();
        assert!(!clear.contains("Zeb-Secret"), "{clear}");
        assert_eq!(
            clear,
            "the statement could not be parsed: syntax error at character 50; correct it and send it again"
        );
    }

    #[test]
    fn token_with_quotes_removed_whole() {
        let clear = without_statement_text("unterminated quoted string at or near \"'a\"b; c\"");
        assert_eq!(clear, "unterminated quoted string");
        let unclosed = without_statement_text("syntax error at or near \"secret");
        assert_eq!(unclosed, "syntax error");
    }

    #[test]
    fn other_messages_unchanged() {
        let message = "syntax error at end of input";
        assert_eq!(without_statement_text(message), message);
    }
}
