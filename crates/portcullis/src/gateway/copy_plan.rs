//! Masking `COPY … TO STDOUT`: the relay needs the data's layout and each
//! column's type, and the protocol carries neither. The layout comes from the
//! statement's options and the types from the target's catalog, read at load.

use std::collections::HashMap;

use portcullis_mask::{ColumnMask, CopyColumn, CopyFormat, CopyMasker};
use portcullis_pg::CopyOptions;
use portcullis_sql::{
    copy_output_options, ColumnName, CopyDataFormat, CopyOutputOptions, OutputSource, StatementFacts, StatementKind,
};

/// Type OID of each base-table column of one target.
pub type ColumnTypes = HashMap<ColumnName, u32>;

/// Returns the COPY options of a statement whose result is masked, `None` for
/// any other statement, or the reason its data cannot be masked.
pub fn copy_options(
    facts: &StatementFacts,
    masks: &[Option<ColumnMask>],
    types: &ColumnTypes,
    standard_conforming_strings: bool,
) -> Result<Option<CopyOptions>, String> {
    if !matches!(facts.kind, StatementKind::CopyTo) || masks.iter().all(Option::is_none) {
        return Ok(None);
    }
    let options = copy_output_options(&facts.text, standard_conforming_strings)
        .map_err(|error| format!("COPY of masked columns is denied: {error}"))?;
    let format = copy_format(&options)?;

    let mut column_types = Vec::with_capacity(facts.output_columns.len());
    for (position, output) in facts.output_columns.iter().enumerate() {
        let mask = masks.get(position).cloned().flatten();
        let type_oid = match (column_type(&output.source, types), &mask) {
            (Some(type_oid), _) => type_oid,
            // An unmasked column passes through unparsed, so its type is not needed.
            (None, None) => 0,
            (None, Some(_)) => {
                return Err(format!(
                    "COPY of masked column {} is denied because the gateway does not know its type; \
                     use SELECT, which the gateway masks by the types the server reports",
                    output.name
                ))
            }
        };
        column_types.push(type_oid);
    }

    let columns = masks
        .iter()
        .cloned()
        .zip(&column_types)
        .map(|(mask, &type_oid)| CopyColumn { mask, type_oid })
        .collect();
    CopyMasker::new(format.clone(), columns)
        .map_err(|error| format!("COPY of masked columns is denied because its data cannot be masked: {error}"))?;
    Ok(Some(CopyOptions { format, column_types }))
}

/// Returns the type of a column's values when it passes a base column through
/// and every base column it may come from has the same known type.
fn column_type(source: &OutputSource, types: &ColumnTypes) -> Option<u32> {
    let OutputSource::Passthrough { columns } = source else {
        return None;
    };
    let mut found = columns.iter().map(|column| types.get(column).copied());
    let first = found.next()??;
    found.all(|other| other == Some(first)).then_some(first)
}

/// Turns the statement's options into the masker's format, with
/// PostgreSQL's defaults where an option is absent.
fn copy_format(options: &CopyOutputOptions) -> Result<CopyFormat, String> {
    let format = match options.format {
        CopyDataFormat::Binary => CopyFormat::Binary,
        CopyDataFormat::Text => CopyFormat::Text {
            delimiter: single_byte("DELIMITER", options.delimiter.as_deref(), b'\t')?,
            null: options.null.as_deref().unwrap_or("\\N").as_bytes().to_vec(),
            header: options.header,
        },
        CopyDataFormat::Csv => {
            let quote = single_byte("QUOTE", options.quote.as_deref(), b'"')?;
            CopyFormat::Csv {
                delimiter: single_byte("DELIMITER", options.delimiter.as_deref(), b',')?,
                quote,
                escape: single_byte("ESCAPE", options.escape.as_deref(), quote)?,
                null: options.null.as_deref().unwrap_or("").as_bytes().to_vec(),
                header: options.header,
            }
        }
    };
    Ok(format)
}

fn single_byte(name: &str, value: Option<&str>, default: u8) -> Result<u8, String> {
    match value.map(str::as_bytes) {
        None => Ok(default),
        Some([byte]) => Ok(*byte),
        Some(_) => Err(format!("COPY option {name} must be a single one-byte character")),
    }
}
