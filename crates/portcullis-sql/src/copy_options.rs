//! The options of `COPY … TO STDOUT` that lay out its data: format, delimiter,
//! NULL string, header, quote and escape. The CopyOutResponse message carries
//! none of them, so a gateway that masks COPY data reads them from the
//! statement.

use pg_query::protobuf::node::Node as NodeEnum;
use pg_query::protobuf::{CopyStmt, DefElem, Node};

/// Row format of a COPY stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CopyDataFormat {
    /// `FORMAT text`, the default.
    Text,
    /// `FORMAT csv`.
    Csv,
    /// `FORMAT binary`.
    Binary,
}

/// The layout options of one `COPY … TO`. `None` stands for PostgreSQL's
/// default for the format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopyOutputOptions {
    /// Row format.
    pub format: CopyDataFormat,
    /// `DELIMITER`.
    pub delimiter: Option<String>,
    /// `NULL`.
    pub null: Option<String>,
    /// `HEADER`: the first line contains the column names.
    pub header: bool,
    /// `QUOTE` (CSV only).
    pub quote: Option<String>,
    /// `ESCAPE` (CSV only).
    pub escape: Option<String>,
}

/// Reasons the layout of a COPY cannot be read from its statement.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CopyOptionsError {
    /// The text is not exactly one `COPY … TO STDOUT`.
    #[error("the statement is not a single COPY … TO STDOUT")]
    NotCopyToStdout,
    /// The parser rejected the text.
    #[error("the COPY statement could not be parsed: {0}")]
    Parse(String),
    /// An option whose effect on the data the gateway does not model.
    #[error("COPY option {name} is not supported on masked data; remove it")]
    UnsupportedOption {
        /// The option name, lower case.
        name: String,
    },
    /// An option with a value of an unexpected form.
    #[error("COPY option {name} has a value the gateway cannot read; write it as a string literal")]
    InvalidValue {
        /// The option name, lower case.
        name: String,
    },
}

/// Reads the layout options of a `COPY … TO STDOUT` statement.
pub fn copy_output_options(
    sql: &str,
    standard_conforming_strings: bool,
) -> Result<CopyOutputOptions, CopyOptionsError> {
    let tree = crate::parser::parse(sql, standard_conforming_strings)
        .map_err(|error| CopyOptionsError::Parse(error.to_string()))?;
    let [statement] = tree.stmts.as_slice() else {
        return Err(CopyOptionsError::NotCopyToStdout);
    };
    let copy = match statement.stmt.as_ref().and_then(|node| node.node.as_ref()) {
        Some(NodeEnum::CopyStmt(copy)) => copy,
        _ => return Err(CopyOptionsError::NotCopyToStdout),
    };
    if !is_to_stdout(copy) {
        return Err(CopyOptionsError::NotCopyToStdout);
    }

    let mut options = CopyOutputOptions {
        format: CopyDataFormat::Text,
        delimiter: None,
        null: None,
        header: false,
        quote: None,
        escape: None,
    };
    for node in &copy.options {
        let Some(NodeEnum::DefElem(element)) = node.node.as_ref() else {
            return Err(CopyOptionsError::InvalidValue {
                name: "(unnamed)".to_owned(),
            });
        };
        apply_option(&mut options, element)?;
    }
    Ok(options)
}

fn is_to_stdout(copy: &CopyStmt) -> bool {
    !copy.is_from && !copy.is_program && copy.filename.is_empty()
}

fn apply_option(options: &mut CopyOutputOptions, element: &DefElem) -> Result<(), CopyOptionsError> {
    let name = element.defname.to_ascii_lowercase();
    let invalid = || CopyOptionsError::InvalidValue { name: name.clone() };
    let arg = element.arg.as_deref();
    match name.as_str() {
        "format" => {
            options.format = match text_value(arg).ok_or_else(invalid)?.to_ascii_lowercase().as_str() {
                "text" => CopyDataFormat::Text,
                "csv" => CopyDataFormat::Csv,
                "binary" => CopyDataFormat::Binary,
                _ => return Err(invalid()),
            }
        }
        "delimiter" => options.delimiter = Some(text_value(arg).ok_or_else(invalid)?),
        "null" => options.null = Some(text_value(arg).ok_or_else(invalid)?),
        "quote" => options.quote = Some(text_value(arg).ok_or_else(invalid)?),
        "escape" => options.escape = Some(text_value(arg).ok_or_else(invalid)?),
        "header" => options.header = boolean_value(arg).ok_or_else(invalid)?,
        // Quoting more fields changes no field's value.
        "force_quote" => {}
        _ => return Err(CopyOptionsError::UnsupportedOption { name }),
    }
    Ok(())
}

fn text_value(arg: Option<&Node>) -> Option<String> {
    match arg?.node.as_ref()? {
        NodeEnum::String(text) => Some(text.sval.clone()),
        _ => None,
    }
}

/// Reads a boolean option as PostgreSQL's `defGetBoolean` does; a missing
/// value means true.
fn boolean_value(arg: Option<&Node>) -> Option<bool> {
    let Some(arg) = arg else { return Some(true) };
    match arg.node.as_ref()? {
        NodeEnum::Boolean(value) => Some(value.boolval),
        NodeEnum::Integer(value) => match value.ival {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        },
        NodeEnum::String(text) => match text.sval.to_ascii_lowercase().as_str() {
            "true" | "on" | "yes" | "1" => Some(true),
            "false" | "off" | "no" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(sql: &str) -> Result<CopyOutputOptions, CopyOptionsError> {
        copy_output_options(sql, true)
    }

    #[test]
    fn defaults_are_text() {
        let parsed = options("COPY patients TO STDOUT").expect("options");
        assert_eq!(parsed.format, CopyDataFormat::Text);
        assert!(!parsed.header);
        assert_eq!(parsed.delimiter, None);
    }

    #[test]
    fn csv_options_read() {
        let parsed = options("COPY (SELECT 1) TO STDOUT WITH (FORMAT csv, HEADER, DELIMITER ';', NULL 'x', QUOTE '''')")
            .expect("options");
        assert_eq!(parsed.format, CopyDataFormat::Csv);
        assert!(parsed.header);
        assert_eq!(parsed.delimiter.as_deref(), Some(";"));
        assert_eq!(parsed.null.as_deref(), Some("x"));
        assert_eq!(parsed.quote.as_deref(), Some("'"));
    }

    #[test]
    fn legacy_syntax_read() {
        let parsed = options("COPY patients TO STDOUT CSV HEADER").expect("options");
        assert_eq!(parsed.format, CopyDataFormat::Csv);
        assert!(parsed.header);
        let binary = options("COPY patients TO STDOUT (FORMAT binary)").expect("options");
        assert_eq!(binary.format, CopyDataFormat::Binary);
        let off = options("COPY patients TO STDOUT (FORMAT csv, HEADER false)").expect("options");
        assert!(!off.header);
    }

    #[test]
    fn other_forms_rejected() {
        assert_eq!(options("COPY patients FROM STDIN"), Err(CopyOptionsError::NotCopyToStdout));
        assert_eq!(options("COPY patients TO '/tmp/x'"), Err(CopyOptionsError::NotCopyToStdout));
        assert_eq!(options("SELECT 1"), Err(CopyOptionsError::NotCopyToStdout));
        assert_eq!(
            options("COPY patients TO STDOUT (ENCODING 'LATIN1')"),
            Err(CopyOptionsError::UnsupportedOption {
                name: "encoding".to_owned()
            })
        );
    }
}
