//! Printing tables and times for people.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Prints rows under a header, each column as wide as its widest cell.
pub fn print_table(header: &[&str], rows: Vec<Vec<String>>) {
    let mut widths: Vec<usize> = header.iter().map(|title| title.len()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
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
        if index + 1 == cells.len() {
            line.push_str(cell);
        } else {
            line.push_str(&format!("{cell:<width$}  "));
        }
    }
    println!("{}", line.trim_end());
}

/// Formats a time as RFC 3339 UTC.
pub fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_else(|_| at.to_string())
}
