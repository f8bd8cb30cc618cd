//! Printing tables and times for people.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Prints rows under a header, each column as wide as its widest cell. Control
/// characters in cells are escaped (see [`escape_controls`]).
pub fn print_table(header: &[&str], rows: Vec<Vec<String>>) {
    let mut widths: Vec<usize> = header.iter().map(|title| title.len()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(escape_controls(cell).chars().count());
        }
    }
    let header_cells: Vec<String> = header.iter().map(|title| title.to_string()).collect();
    print_row(&widths, &header_cells);
    for row in &rows {
        print_row(&widths, row);
    }
}

fn print_row(widths: &[usize], cells: &[String]) {
    let mut line = String::new();
    for (index, (width, cell)) in widths.iter().zip(cells).enumerate() {
        let cell = &escape_controls(cell);
        if index + 1 == cells.len() {
            line.push_str(cell);
        } else {
            line.push_str(&format!("{cell:<width$}  "));
        }
    }
    println!("{}", line.trim_end());
}

/// Returns `text` with each control character replaced by its Rust escape, such
/// as `\n` or `\u{1b}`, so that text from other users cannot move the cursor,
/// change colours or forge lines in a terminal.
pub fn escape_controls(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_string();
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for character in text.chars() {
        if character.is_control() {
            escaped.extend(character.escape_default());
        } else {
            escaped.push(character);
        }
    }
    escaped
}

/// Formats a time as RFC 3339 UTC.
pub fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_else(|_| at.to_string())
}

#[cfg(test)]
mod tests {
    use super::escape_controls;

    #[test]
    fn escape_controls_keeps_printable_text() {
        assert_eq!(escape_controls("code blue, bed 4 – ü"), "code blue, bed 4 – ü");
    }

    #[test]
    fn escape_controls_escapes_terminal_sequences() {
        assert_eq!(escape_controls("x\u{0}y\n\u{1b}[31mred\u{7f}"), "x\\u{0}y\\n\\u{1b}[31mred\\u{7f}");
    }
}
