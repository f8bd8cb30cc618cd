//! The checks before writing. At open they cover the records from the anchor's checkpoint
//! to the end of the file. Before each batch they cover the records that other writers
//! appended since this writer's last batch. Both find a torn final line, and neither reads
//! the older part of the log.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::Path;

use ed25519_dalek::VerifyingKey;
use serde::Deserialize;

use crate::anchor::Anchor;
use crate::chain::ChainChecker;
use crate::fsutil::{line_body, read_line_bounded, LineRead};
use crate::record::{hash_hex, Hash, Record, GENESIS_HASH, MAX_RECORD_BYTES};
use crate::verify_error::{Position, VerifyError};
use crate::writer::ChainHead;

const CHUNK_BYTES: u64 = 64 * 1024;

/// Byte offset of a line and its bytes, newline included if it has one.
type Line = (u64, Vec<u8>);

/// A final line that was never completed: it has no newline or does not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TornTail {
    pub offset: u64,
    pub bytes: u64,
}

pub(crate) struct TailScan {
    pub head: ChainHead,
    /// The newest checkpoint in the file when it is newer than the anchor, which happens
    /// after a crash between syncing a checkpoint and replacing the anchor.
    pub newer_checkpoint: Option<Anchor>,
    pub torn: Option<TornTail>,
}

/// Checks the tail of the log against the verified anchor. Returns where the chain goes on
/// and which torn bytes to truncate; the caller truncates only after this succeeds.
pub(crate) fn scan_tail(file: &File, path: &Path, anchor: Anchor, key: &VerifyingKey) -> Result<TailScan, VerifyError> {
    let len = file.metadata().map_err(io_error(path))?.len();
    let mut lines = BackwardLines::new(file, path, len);
    let (torn, last_line) = split_torn_final_line(&mut lines, len)?;
    let complete_end = torn.map_or(len, |torn| torn.offset);

    let start = find_start(&mut lines, last_line, anchor.seq)?;
    let checker = match start {
        0 => ChainChecker::from_genesis(key),
        _ => ChainChecker::from_any(key),
    };
    let checker = check_forward(file, path, start, complete_end, checker, Some(anchor))?;

    let last_seq = checker.last_seq();
    if last_seq < anchor.seq {
        return Err(VerifyError::Truncated {
            seq: last_seq + 1,
            anchor_seq: anchor.seq,
        });
    }
    let last_checkpoint_seq = checker.last_checkpoint.map_or(anchor.seq, |(seq, _)| seq);
    let newer_checkpoint = checker
        .last_checkpoint
        .filter(|(seq, _)| *seq > anchor.seq)
        .map(|(seq, hash)| Anchor { seq, hash });
    Ok(TailScan {
        head: ChainHead {
            next_seq: last_seq + 1,
            prev_hash: checker.last_hash().unwrap_or(GENESIS_HASH),
            since_checkpoint: last_seq - last_checkpoint_seq,
        },
        newer_checkpoint,
        torn,
    })
}

/// Records that other writers appended after this writer's last batch.
pub(crate) struct AppendedScan {
    pub head: ChainHead,
    /// The newest checkpoint among the appended records.
    pub newest_checkpoint: Option<Anchor>,
    pub torn: Option<TornTail>,
}

/// Checks the bytes from `from` to the end of the file as records that continue the chain
/// at `head`: sequence numbers, hashes, links and checkpoint signatures. `from` must be the
/// end of a complete line, which holds for the end of this writer's last batch. Returns
/// the new head and a torn final line to truncate; the caller truncates only after this
/// succeeds.
pub(crate) fn scan_appended(
    file: &File,
    path: &Path,
    from: u64,
    head: ChainHead,
    key: &VerifyingKey,
) -> Result<AppendedScan, VerifyError> {
    let len = file.metadata().map_err(io_error(path))?.len();
    let mut lines = BackwardLines::new(file, path, len);
    let (torn, _) = split_torn_final_line(&mut lines, len)?;
    // A final line that starts before `from` means that bytes this writer already checked
    // were rewritten. It is not truncated; `check_forward` then fails on the partial line.
    let torn = torn.filter(|torn| torn.offset >= from);
    let complete_end = torn.map_or(len, |torn| torn.offset);

    let checker = ChainChecker::continuing(key, head.next_seq, head.prev_hash);
    let checker = check_forward(file, path, from, complete_end, checker, None)?;
    let last_seq = checker.last_seq();
    let since_checkpoint = match checker.last_checkpoint {
        Some((checkpoint_seq, _)) => last_seq - checkpoint_seq,
        None => head.since_checkpoint + checker.records,
    };
    Ok(AppendedScan {
        head: ChainHead {
            next_seq: last_seq + 1,
            prev_hash: checker.last_hash().unwrap_or(head.prev_hash),
            since_checkpoint,
        },
        newest_checkpoint: checker.last_checkpoint.map(|(seq, hash)| Anchor { seq, hash }),
        torn,
    })
}

/// Returns the hash stored in record `seq`, searching backwards from byte `end`, which must
/// be the end of a complete line, or `None` when no line has that sequence number. Checks
/// nothing else about the records.
pub(crate) fn find_record_hash(file: &File, path: &Path, end: u64, seq: u64) -> Result<Option<Hash>, VerifyError> {
    #[derive(Deserialize)]
    struct SeqAndHash {
        seq: u64,
        #[serde(with = "hash_hex")]
        hash: Hash,
    }

    let mut lines = BackwardLines::new(file, path, end);
    while let Some((offset, line)) = lines.next_line()? {
        let parsed: SeqAndHash = serde_json::from_slice(line_body(&line)).map_err(|error| VerifyError::Unparsable {
            at: Position::ByteOffset(offset),
            reason: error.to_string(),
        })?;
        if parsed.seq == seq {
            return Ok(Some(parsed.hash));
        }
        if parsed.seq < seq {
            return Ok(None);
        }
    }
    Ok(None)
}

/// Reads the final line and returns it as a torn tail when it has no newline or does not
/// parse. Also returns the last complete line, and `lines` continues before that line.
fn split_torn_final_line(
    lines: &mut BackwardLines<'_>,
    len: u64,
) -> Result<(Option<TornTail>, Option<Line>), VerifyError> {
    let last_line = lines.next_line()?;
    let Some((offset, line)) = &last_line else {
        return Ok((None, None));
    };
    let complete = line.strip_suffix(b"\n").is_some_and(|body| Record::from_line(body).is_ok());
    if complete {
        return Ok((None, last_line));
    }
    let torn = TornTail {
        offset: *offset,
        bytes: len - offset,
    };
    Ok((Some(torn), lines.next_line()?))
}

/// Walks backwards from `first` and returns the offset of the first line whose sequence
/// number is at or below the anchor's, or 0 when no line is.
fn find_start(
    lines: &mut BackwardLines<'_>,
    first: Option<(u64, Vec<u8>)>,
    anchor_seq: u64,
) -> Result<u64, VerifyError> {
    #[derive(Deserialize)]
    struct SeqOnly {
        seq: u64,
    }

    let mut current = first;
    while let Some((offset, line)) = current {
        let parsed: SeqOnly = serde_json::from_slice(line_body(&line)).map_err(|error| VerifyError::Unparsable {
            at: Position::ByteOffset(offset),
            reason: error.to_string(),
        })?;
        if parsed.seq <= anchor_seq {
            return Ok(offset);
        }
        current = lines.next_line()?;
    }
    Ok(0)
}

/// Checks every complete line from `start` to `end` with `checker`, and the record with the
/// anchor's sequence number against the anchor's hash.
fn check_forward<'k>(
    file: &File,
    path: &Path,
    start: u64,
    end: u64,
    mut checker: ChainChecker<'k>,
    anchor: Option<Anchor>,
) -> Result<ChainChecker<'k>, VerifyError> {
    let mut handle = file;
    handle.seek(SeekFrom::Start(start)).map_err(io_error(path))?;
    let mut reader = BufReader::new(handle.take(end - start));
    let mut buf = Vec::new();
    let mut offset = start;
    loop {
        let at = Position::ByteOffset(offset);
        match read_line_bounded(&mut reader, &mut buf, MAX_RECORD_BYTES).map_err(io_error(path))? {
            LineRead::Eof => break,
            LineRead::Complete => {}
            LineRead::Incomplete => return Err(VerifyError::TornTail { at, bytes: buf.len() as u64 }),
            LineRead::TooLong => return Err(VerifyError::LineTooLong { at, max: MAX_RECORD_BYTES }),
        }
        let body = line_body(&buf);
        let record = Record::from_line(body).map_err(|error| VerifyError::Unparsable {
            at,
            reason: error.to_string(),
        })?;
        checker.check(&record, body, at)?;
        if let Some(anchor) = anchor {
            if record.seq == anchor.seq && record.hash != anchor.hash {
                return Err(VerifyError::AnchorMismatch { seq: record.seq });
            }
        }
        offset += buf.len() as u64;
    }
    Ok(checker)
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> VerifyError + '_ {
    move |source| VerifyError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Reads lines from the end of a file towards its start, in chunks.
struct BackwardLines<'f> {
    file: &'f File,
    path: &'f Path,
    /// File bytes `[buf_start, end)`: the loaded part of what has not been returned yet.
    buf: Vec<u8>,
    buf_start: u64,
    end: u64,
}

impl<'f> BackwardLines<'f> {
    fn new(file: &'f File, path: &'f Path, len: u64) -> Self {
        BackwardLines {
            file,
            path,
            buf: Vec::new(),
            buf_start: len,
            end: len,
        }
    }

    /// Returns the offset and bytes (newline included, if any) of the line that ends at the
    /// current end, and moves the end to that line's start.
    fn next_line(&mut self) -> Result<Option<(u64, Vec<u8>)>, VerifyError> {
        if self.end == 0 {
            return Ok(None);
        }
        loop {
            if let Some((_, before_last)) = self.buf.split_last() {
                if let Some(index) = before_last.iter().rposition(|&byte| byte == b'\n') {
                    let line = self.buf.split_off(index + 1);
                    self.end = self.buf_start + index as u64 + 1;
                    return Ok(Some((self.end, line)));
                }
                if self.buf_start == 0 {
                    self.end = 0;
                    return Ok(Some((0, std::mem::take(&mut self.buf))));
                }
            }
            if self.buf.len() > MAX_RECORD_BYTES {
                return Err(VerifyError::LineTooLong {
                    at: Position::ByteOffset(self.buf_start),
                    max: MAX_RECORD_BYTES,
                });
            }
            self.load_previous_chunk()?;
        }
    }

    fn load_previous_chunk(&mut self) -> Result<(), VerifyError> {
        let chunk_start = self.buf_start.saturating_sub(CHUNK_BYTES);
        // The chunk is at most CHUNK_BYTES long, so it fits in usize.
        let mut chunk = vec![0u8; (self.buf_start - chunk_start) as usize];
        self.file
            .read_exact_at(&mut chunk, chunk_start)
            .map_err(io_error(self.path))?;
        chunk.extend_from_slice(&self.buf);
        self.buf = chunk;
        self.buf_start = chunk_start;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn backward_lines(contents: &[u8]) -> Vec<(u64, Vec<u8>)> {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(contents).unwrap();
        let path = Path::new("test");
        let mut lines = BackwardLines::new(&file, path, contents.len() as u64);
        let mut found = Vec::new();
        while let Some(line) = lines.next_line().unwrap() {
            found.push(line);
        }
        found
    }

    #[test]
    fn backward_lines_cross_chunk_boundaries() {
        let long = vec![b'b'; 3 * CHUNK_BYTES as usize / 2];
        let mut contents = b"first\n".to_vec();
        contents.extend_from_slice(&long);
        contents.push(b'\n');
        let small_start = contents.len() as u64;
        for index in 0..20_000u32 {
            contents.extend_from_slice(format!("{index}\n").as_bytes());
        }
        contents.extend_from_slice(b"torn");

        let lines = backward_lines(&contents);
        assert_eq!(lines.len(), 20_003);
        assert_eq!(lines[0], (contents.len() as u64 - 4, b"torn".to_vec()));
        assert_eq!(lines[1].1, b"19999\n");
        assert_eq!(lines[20_000], (small_start, b"0\n".to_vec()));
        assert_eq!(lines[20_001], (6, [long.as_slice(), b"\n"].concat()));
        assert_eq!(lines[20_002], (0, b"first\n".to_vec()));
    }

    #[test]
    fn backward_lines_of_empty_file() {
        assert!(backward_lines(b"").is_empty());
        assert_eq!(backward_lines(b"\n"), vec![(0, b"\n".to_vec())]);
    }
}
