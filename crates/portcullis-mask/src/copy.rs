//! Masking the CopyData messages of `COPY … TO STDOUT`.
//!
//! The server sends one CopyData message per row in every format ("Messages sent from
//! the backend will always correspond to single data rows", PostgreSQL protocol
//! documentation, section "COPY Operations"). In binary format the file header arrives
//! in the same message as the first row and the trailer in a message of its own. The
//! masker relies on this: a row split across messages is rejected, not buffered.
//!
//! The COPY options (format, delimiter, NULL string, quote, escape, header) are not on
//! the wire; the caller takes them from the analyzed COPY statement.

use bytes::{BufMut, BytesMut};

use crate::error::MaskError;
use crate::row::{rewrite_tuple, ColumnMask, ColumnPlan, FieldReader};
use crate::types::Format;
use crate::value::mask_value;

/// Signature at the start of the binary COPY format.
const BINARY_SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";
/// Flags bit 16: every tuple carries an OID field (`WITH OIDS`, removed in
/// PostgreSQL 12).
const BINARY_FLAG_OIDS: i32 = 1 << 16;

/// Row format and options of a COPY stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopyFormat {
    /// `FORMAT text`: fields separated by `delimiter`, backslash escapes, `null` for NULL.
    Text {
        delimiter: u8,
        null: Vec<u8>,
        /// `HEADER`: the first line contains column names and passes through unchanged.
        header: bool,
    },
    /// `FORMAT csv`: quoted fields where needed, unquoted `null` for NULL.
    Csv {
        delimiter: u8,
        quote: u8,
        escape: u8,
        null: Vec<u8>,
        header: bool,
    },
    /// `FORMAT binary`: the PGCOPY header, then tuples in the DataRow field layout with
    /// values in binary format, then a trailer of -1.
    Binary,
}

impl CopyFormat {
    /// Text format with PostgreSQL's defaults: tab delimiter, `\N` for NULL.
    pub fn text() -> CopyFormat {
        CopyFormat::Text {
            delimiter: b'\t',
            null: b"\\N".to_vec(),
            header: false,
        }
    }

    /// CSV format with PostgreSQL's defaults: comma, double quote as quote and escape,
    /// the empty unquoted string for NULL.
    pub fn csv() -> CopyFormat {
        CopyFormat::Csv {
            delimiter: b',',
            quote: b'"',
            escape: b'"',
            null: Vec::new(),
            header: false,
        }
    }

    fn check(&self) -> Result<(), MaskError> {
        let line_break = |byte: u8| byte == b'\n' || byte == b'\r';
        match self {
            CopyFormat::Text {
                delimiter, null, ..
            } => {
                if line_break(*delimiter) || *delimiter == b'\\' {
                    return Err(MaskError::UnsupportedCopy(
                        "the delimiter must not be a line break or backslash",
                    ));
                }
                if null.iter().copied().any(line_break) {
                    return Err(MaskError::UnsupportedCopy(
                        "the NULL string must not contain a line break",
                    ));
                }
            }
            CopyFormat::Csv {
                delimiter,
                quote,
                null,
                ..
            } => {
                if line_break(*delimiter) || line_break(*quote) || delimiter == quote {
                    return Err(MaskError::UnsupportedCopy(
                        "the delimiter and quote must differ and must not be line breaks",
                    ));
                }
                if null.iter().copied().any(line_break) {
                    return Err(MaskError::UnsupportedCopy(
                        "the NULL string must not contain a line break",
                    ));
                }
            }
            CopyFormat::Binary => {}
        }
        Ok(())
    }
}

/// One column of the COPY output: its mask (`None` passes it through) and type.
#[derive(Debug, Clone)]
pub struct CopyColumn {
    pub mask: Option<ColumnMask>,
    pub type_oid: u32,
}

/// Rewrites the CopyData payloads of one `COPY … TO STDOUT`, in order.
///
/// Scratch buffers for one field are kept between rows, so after the longest field
/// has been seen, masking allocates nothing beyond growing the caller's output buffer.
#[derive(Debug)]
pub struct CopyMasker {
    format: CopyFormat,
    columns: Vec<ColumnPlan>,
    /// The header line (text, CSV) or file header (binary) has not been seen yet.
    header_pending: bool,
    /// The binary trailer has been seen.
    finished: bool,
    scratch: Scratch,
}

/// Buffers for one field, reused across rows.
#[derive(Debug, Default)]
struct Scratch {
    /// The decoded input value.
    field: Vec<u8>,
    /// The masked value before escaping or quoting.
    masked: BytesMut,
}

impl CopyMasker {
    /// Builds a masker; fails when a mask does not support its column's type or the
    /// options cannot be parsed unambiguously.
    pub fn new(format: CopyFormat, columns: Vec<CopyColumn>) -> Result<CopyMasker, MaskError> {
        format.check()?;
        let value_format = match format {
            CopyFormat::Binary => Format::Binary,
            _ => Format::Text,
        };
        let header_pending = match &format {
            CopyFormat::Text { header, .. } | CopyFormat::Csv { header, .. } => *header,
            CopyFormat::Binary => true,
        };
        let columns: Vec<ColumnPlan> = columns
            .into_iter()
            .map(|column| ColumnPlan {
                mask: column.mask,
                type_oid: column.type_oid,
                format: value_format,
            })
            .collect();
        columns.iter().try_for_each(ColumnPlan::check)?;
        Ok(CopyMasker {
            format,
            columns,
            header_pending,
            finished: false,
            scratch: Scratch::default(),
        })
    }

    /// Appends the masked form of one CopyData payload to `out`. On error `out` is left
    /// as it was and the stream must be aborted.
    pub fn mask_copy_data(&mut self, data: &[u8], out: &mut BytesMut) -> Result<(), MaskError> {
        let start = out.len();
        let result = match &self.format {
            CopyFormat::Binary => self.mask_binary(data, out),
            CopyFormat::Text { .. } | CopyFormat::Csv { .. } => self.mask_rows(data, out),
        };
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    /// Masks the text or CSV rows in `data`, each ending with a line feed, passing a
    /// pending header row through unchanged.
    fn mask_rows(&mut self, data: &[u8], out: &mut BytesMut) -> Result<(), MaskError> {
        let mut rest = data;
        while !rest.is_empty() {
            let consumed = if self.header_pending {
                let length = header_length(&self.format, rest)?;
                out.put_slice(rest.get(..length).unwrap_or_default());
                self.header_pending = false;
                length
            } else {
                match &self.format {
                    CopyFormat::Text {
                        delimiter, null, ..
                    } => mask_text_row(
                        &self.columns,
                        &mut self.scratch,
                        rest,
                        *delimiter,
                        null,
                        out,
                    )?,
                    CopyFormat::Csv {
                        delimiter,
                        quote,
                        escape,
                        null,
                        ..
                    } => {
                        let csv = Csv {
                            delimiter: *delimiter,
                            quote: *quote,
                            escape: *escape,
                            null,
                        };
                        mask_csv_row(&self.columns, &mut self.scratch, rest, &csv, out)?
                    }
                    CopyFormat::Binary => {
                        return Err(MaskError::UnsupportedCopy("binary data in a text stream"))
                    }
                }
            };
            rest = rest.get(consumed..).unwrap_or_default();
        }
        Ok(())
    }

    fn mask_binary(&mut self, data: &[u8], out: &mut BytesMut) -> Result<(), MaskError> {
        let mut reader = FieldReader {
            message: "binary COPY data",
            input: data,
            offset: 0,
        };
        if self.header_pending {
            let signature = data
                .get(..BINARY_SIGNATURE.len())
                .ok_or_else(|| reader.malformed("shorter than the file header"))?;
            if signature != BINARY_SIGNATURE {
                return Err(reader.malformed("missing PGCOPY signature"));
            }
            reader.offset = BINARY_SIGNATURE.len();
            let flags = reader.i32("missing header flags")?;
            if flags & BINARY_FLAG_OIDS != 0 {
                return Err(MaskError::UnsupportedCopy("binary COPY WITH OIDS"));
            }
            let extension = reader.i32("missing header extension length")?;
            let extension = usize::try_from(extension)
                .map_err(|_| reader.malformed("negative header extension length"))?;
            let header_end = reader
                .offset
                .checked_add(extension)
                .filter(|end| *end <= data.len())
                .ok_or_else(|| reader.malformed("header extension exceeds the message"))?;
            out.put_slice(data.get(..header_end).unwrap_or_default());
            reader.offset = header_end;
            self.header_pending = false;
        }

        while reader.offset < data.len() {
            if self.finished {
                return Err(reader.malformed("data after the trailer"));
            }
            let rest = data.get(reader.offset..).unwrap_or_default();
            if rest.starts_with(&(-1i16).to_be_bytes()) {
                out.put_i16(-1);
                reader.offset += 2;
                self.finished = true;
                continue;
            }
            let consumed =
                rewrite_tuple("binary COPY tuple", &self.columns, rest, out).map_err(|error| {
                    match error {
                        MaskError::Malformed {
                            message,
                            reason,
                            offset,
                        } => MaskError::Malformed {
                            message,
                            reason,
                            offset: offset + reader.offset,
                        },
                        other => other,
                    }
                })?;
            reader.offset += consumed;
        }
        Ok(())
    }
}

/// Returns the length of the header row at the start of `data`, line feed included.
/// A quoted CSV column name may contain a line feed.
fn header_length(format: &CopyFormat, data: &[u8]) -> Result<usize, MaskError> {
    let (format_name, quote) = match format {
        CopyFormat::Csv { quote, .. } => ("CSV", Some(*quote)),
        _ => ("text", None),
    };
    let mut quoted = false;
    for (index, &byte) in data.iter().enumerate() {
        if Some(byte) == quote {
            quoted = !quoted;
        } else if byte == b'\n' && !quoted {
            return Ok(index + 1);
        }
    }
    Err(MaskError::MalformedCopy {
        format: format_name,
        reason: "header row without a line feed",
    })
}

/// Masks one text-format row at the start of `data`; returns the bytes consumed.
fn mask_text_row(
    columns: &[ColumnPlan],
    scratch: &mut Scratch,
    data: &[u8],
    delimiter: u8,
    null: &[u8],
    out: &mut BytesMut,
) -> Result<usize, MaskError> {
    let malformed = |reason| MaskError::MalformedCopy {
        format: "text",
        reason,
    };
    // Line feeds inside values are escaped as `\n`, so the first one ends the row.
    let end = data
        .iter()
        .position(|&byte| byte == b'\n')
        .ok_or_else(|| malformed("row without a line feed"))?;
    let line = data.get(..end).unwrap_or_default();
    if columns.is_empty() {
        // A row of zero columns is an empty line.
        if !line.is_empty() {
            return Err(malformed("more fields than columns"));
        }
        out.put_u8(b'\n');
        return Ok(end + 1);
    }

    let mut fields = split_unescaped(line, delimiter);
    for (index, column) in columns.iter().enumerate() {
        let raw = fields
            .next()
            .ok_or_else(|| malformed("fewer fields than columns"))?;
        if index > 0 {
            out.put_u8(delimiter);
        }
        let Some(mask) = &column.mask else {
            out.put_slice(raw);
            continue;
        };

        let value = if raw == null {
            None
        } else {
            unescape_text(raw, &mut scratch.field)
                .ok_or_else(|| malformed("backslash at the end of a field"))?;
            Some(scratch.field.as_slice())
        };
        scratch.masked.clear();
        let masked = mask_value(
            mask.method,
            mask.key.as_ref(),
            column.type_oid,
            Format::Text,
            value,
            &mut scratch.masked,
        )?;
        match masked {
            None => out.put_slice(null),
            Some(_) => escape_text(&scratch.masked, delimiter, out),
        }
    }
    if fields.next().is_some() {
        return Err(malformed("more fields than columns"));
    }
    out.put_u8(b'\n');
    Ok(end + 1)
}

/// Masks one CSV row at the start of `data`; returns the bytes consumed.
fn mask_csv_row(
    columns: &[ColumnPlan],
    scratch: &mut Scratch,
    data: &[u8],
    csv: &Csv<'_>,
    out: &mut BytesMut,
) -> Result<usize, MaskError> {
    let malformed = |reason| MaskError::MalformedCopy {
        format: "CSV",
        reason,
    };
    let mut position = 0;
    for (index, column) in columns.iter().enumerate() {
        if index > 0 {
            out.put_u8(csv.delimiter);
        }
        let field = csv.read_field(data, position, &mut scratch.field)?;
        let raw = data.get(position..field.end).unwrap_or_default();
        position = field.end;

        let last = index + 1 == columns.len();
        match data.get(position) {
            Some(b'\n') if last => position += 1,
            Some(&byte) if byte == csv.delimiter && !last => position += 1,
            Some(&byte) if byte == csv.delimiter => {
                return Err(malformed("more fields than columns"))
            }
            Some(b'\n') => return Err(malformed("fewer fields than columns")),
            Some(_) => return Err(malformed("unexpected byte after a quoted field")),
            None => return Err(malformed("row without a line feed")),
        }

        let Some(mask) = &column.mask else {
            out.put_slice(raw);
            continue;
        };
        let value = if field.quoted {
            Some(scratch.field.as_slice())
        } else if raw == csv.null {
            None
        } else {
            Some(raw)
        };
        scratch.masked.clear();
        let masked = mask_value(
            mask.method,
            mask.key.as_ref(),
            column.type_oid,
            Format::Text,
            value,
            &mut scratch.masked,
        )?;
        match masked {
            None => out.put_slice(csv.null),
            Some(_) => csv.write_field(&scratch.masked, out),
        }
    }
    if columns.is_empty() {
        // A row of zero columns is an empty line.
        match data.first() {
            Some(b'\n') => position = 1,
            _ => return Err(malformed("more fields than columns")),
        }
    }
    out.put_u8(b'\n');
    Ok(position)
}

/// Splits a text-format line on delimiters that are not escaped by a backslash.
fn split_unescaped(line: &[u8], delimiter: u8) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(line);
    std::iter::from_fn(move || {
        let current = rest?;
        let mut index = 0;
        while let Some(&byte) = current.get(index) {
            if byte == b'\\' {
                index += 2;
            } else if byte == delimiter {
                rest = current.get(index + 1..);
                return current.get(..index);
            } else {
                index += 1;
            }
        }
        rest = None;
        Some(current)
    })
}

/// Decodes the backslash escapes of a text-format field into `out`, as PostgreSQL's
/// COPY FROM reads them: `\b \f \n \r \t \v`, octal `\NNN`, hexadecimal `\xNN`, and a
/// backslash before any other byte stands for that byte. Returns `None` for a trailing
/// lone backslash.
fn unescape_text(raw: &[u8], out: &mut Vec<u8>) -> Option<()> {
    out.clear();
    let mut bytes = raw.iter().copied().peekable();
    while let Some(byte) = bytes.next() {
        if byte != b'\\' {
            out.push(byte);
            continue;
        }
        let escaped = bytes.next()?;
        let decoded = match escaped {
            b'b' => 0x08,
            b'f' => 0x0C,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'v' => 0x0B,
            b'0'..=b'7' => {
                let mut value = u32::from(escaped - b'0');
                for _ in 0..2 {
                    match bytes.peek() {
                        Some(&digit @ b'0'..=b'7') => {
                            value = value * 8 + u32::from(digit - b'0');
                            bytes.next();
                        }
                        _ => break,
                    }
                }
                (value & 0xFF) as u8
            }
            b'x' => {
                let mut value = 0u8;
                let mut digits = 0;
                while digits < 2 {
                    match bytes.peek().and_then(|&digit| (digit as char).to_digit(16)) {
                        Some(nibble) => {
                            value = value << 4 | nibble as u8;
                            bytes.next();
                            digits += 1;
                        }
                        None => break,
                    }
                }
                if digits == 0 {
                    b'x'
                } else {
                    value
                }
            }
            other => other,
        };
        out.push(decoded);
    }
    Some(())
}

/// Escapes a value for text-format COPY as the server does: backslash, the delimiter
/// and the control characters with short escapes get a backslash.
fn escape_text(value: &[u8], delimiter: u8, out: &mut BytesMut) {
    for &byte in value {
        let escaped = match byte {
            b'\\' => b'\\',
            0x08 => b'b',
            0x0C => b'f',
            b'\n' => b'n',
            b'\r' => b'r',
            b'\t' => b't',
            0x0B => b'v',
            _ if byte == delimiter => byte,
            _ => {
                out.put_u8(byte);
                continue;
            }
        };
        out.put_u8(b'\\');
        out.put_u8(escaped);
    }
}

/// CSV options of one stream.
struct Csv<'a> {
    delimiter: u8,
    quote: u8,
    escape: u8,
    null: &'a [u8],
}

/// End position of a CSV field and whether it was quoted. The value of a quoted field
/// is in the scratch buffer passed to [`Csv::read_field`].
struct CsvField {
    end: usize,
    quoted: bool,
}

impl Csv<'_> {
    /// Reads the field starting at `start`. A quoted field's unescaped value goes into
    /// `value`; an unquoted field runs to the next delimiter or line feed.
    fn read_field(
        &self,
        data: &[u8],
        start: usize,
        value: &mut Vec<u8>,
    ) -> Result<CsvField, MaskError> {
        let malformed = |reason| MaskError::MalformedCopy {
            format: "CSV",
            reason,
        };
        if data.get(start) != Some(&self.quote) {
            let length = data
                .get(start..)
                .unwrap_or_default()
                .iter()
                .position(|&byte| byte == self.delimiter || byte == b'\n')
                .ok_or_else(|| malformed("row without a line feed"))?;
            return Ok(CsvField {
                end: start + length,
                quoted: false,
            });
        }

        value.clear();
        let mut index = start + 1;
        loop {
            let byte = *data
                .get(index)
                .ok_or_else(|| malformed("unterminated quoted field"))?;
            let next = data.get(index + 1).copied();
            if byte == self.escape
                && (next == Some(self.quote)
                    || (self.escape != self.quote && next == Some(self.escape)))
            {
                value.extend(next);
                index += 2;
            } else if byte == self.quote {
                return Ok(CsvField {
                    end: index + 1,
                    quoted: true,
                });
            } else {
                value.push(byte);
                index += 1;
            }
        }
    }

    /// Writes a non-NULL value, quoted when it contains the delimiter, the quote, a
    /// line break, or could be read as NULL or as the end-of-data marker `\.`.
    fn write_field(&self, value: &[u8], out: &mut BytesMut) {
        let needs_quotes = value == self.null
            || value == b"\\."
            || value.iter().any(|&byte| {
                byte == self.delimiter || byte == self.quote || byte == b'\n' || byte == b'\r'
            });
        if !needs_quotes {
            out.put_slice(value);
            return;
        }
        out.put_u8(self.quote);
        for &byte in value {
            if byte == self.quote || byte == self.escape {
                out.put_u8(self.escape);
            }
            out.put_u8(byte);
        }
        out.put_u8(self.quote);
    }
}
