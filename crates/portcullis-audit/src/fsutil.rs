//! File system helpers shared by the writer, the anchor and the readers.

use std::fs::File;
use std::io::{self, BufRead, Read};
use std::path::Path;

/// Syncs a directory, so that a file created or renamed in it survives a crash.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Syncs the directory that contains `path`.
pub(crate) fn sync_parent_dir(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => sync_dir(parent),
        _ => sync_dir(Path::new(".")),
    }
}

/// Returns the line without its final newline.
pub(crate) fn line_body(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\n").unwrap_or(line)
}

/// Result of reading one line with a size limit.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum LineRead {
    /// No bytes were left.
    Eof,
    /// A line ending in `\n` was read into the buffer, newline included.
    Complete,
    /// The input ended before a newline. The buffer contains the bytes that were read.
    Incomplete,
    /// The line, newline included, is longer than the limit. The buffer contains `limit`
    /// bytes of it.
    TooLong,
}

/// Reads one line into `buf` (which is cleared first) without buffering more than `limit`
/// bytes, newline included, so a corrupt file cannot exhaust memory.
pub(crate) fn read_line_bounded<R: BufRead>(reader: &mut R, buf: &mut Vec<u8>, limit: usize) -> io::Result<LineRead> {
    buf.clear();
    // usize always fits in u64 on supported targets.
    let read = reader.by_ref().take(limit as u64).read_until(b'\n', buf)?;
    if read == 0 {
        return Ok(LineRead::Eof);
    }
    if buf.last() == Some(&b'\n') {
        return Ok(LineRead::Complete);
    }
    if buf.len() >= limit {
        return Ok(LineRead::TooLong);
    }
    Ok(LineRead::Incomplete)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_line_reader_cases() {
        let mut input: &[u8] = b"ab\ncdef\ngh";
        let mut buf = Vec::new();
        assert_eq!(read_line_bounded(&mut input, &mut buf, 4).unwrap(), LineRead::Complete);
        assert_eq!(buf, b"ab\n");
        assert_eq!(read_line_bounded(&mut input, &mut buf, 4).unwrap(), LineRead::TooLong);
        let mut input: &[u8] = b"gh";
        assert_eq!(read_line_bounded(&mut input, &mut buf, 4).unwrap(), LineRead::Incomplete);
        assert_eq!(read_line_bounded(&mut input, &mut buf, 4).unwrap(), LineRead::Eof);
    }
}
