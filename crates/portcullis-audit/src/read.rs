//! Reading and searching records, for `portcullis audit tail|search` and the HTTP API.
//!
//! The reader does not verify the chain; run `verify` for that.

use std::fmt;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::ReadError;
use crate::event::Outcome;
use crate::fsutil::{line_body, read_line_bounded, LineRead};
use crate::payload::{decrypt, PayloadKey};
use crate::record::{Record, MAX_RECORD_BYTES};

/// Conditions that a record must all meet to be returned. The default matches every record.
#[derive(Debug, Clone, Default)]
pub struct RecordFilter {
    pub actor: Option<Uuid>,
    /// Literal prefix of the event type: `"auth."` matches `"auth.login.failed"`.
    pub event_type_prefix: Option<String>,
    /// Earliest timestamp, inclusive.
    pub since: Option<OffsetDateTime>,
    /// Latest timestamp, exclusive.
    pub until: Option<OffsetDateTime>,
    pub target: Option<String>,
    pub outcome: Option<Outcome>,
    /// Smallest sequence number, inclusive.
    pub from_seq: Option<u64>,
}

impl RecordFilter {
    pub fn matches(&self, record: &Record) -> bool {
        let actor_ok = self.actor.is_none_or(|actor| record.actor == Some(actor));
        let type_ok = self
            .event_type_prefix
            .as_deref()
            .is_none_or(|prefix| record.event_type.starts_with(prefix));
        let since_ok = self.since.is_none_or(|since| record.timestamp >= since);
        let until_ok = self.until.is_none_or(|until| record.timestamp < until);
        let target_ok = self
            .target
            .as_deref()
            .is_none_or(|target| record.target.as_deref() == Some(target));
        let outcome_ok = self.outcome.is_none_or(|outcome| record.outcome == outcome);
        let seq_ok = self.from_seq.is_none_or(|from_seq| record.seq >= from_seq);
        actor_ok && type_ok && since_ok && until_ok && target_ok && outcome_ok && seq_ok
    }
}

/// A record's payload as the reader can show it.
#[derive(Debug, Clone, PartialEq)]
pub enum PayloadView {
    Absent,
    /// Present, but no payload key was given.
    Encrypted,
    Decrypted(Value),
    /// The given key did not decrypt it: a different key, or altered ciphertext.
    Undecryptable,
}

impl fmt::Display for PayloadView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PayloadView::Absent => f.write_str("<none>"),
            PayloadView::Encrypted => f.write_str("<encrypted>"),
            PayloadView::Decrypted(value) => write!(f, "{value}"),
            PayloadView::Undecryptable => f.write_str("<undecryptable>"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ReadRecord {
    pub record: Record,
    pub payload: PayloadView,
}

impl ReadRecord {
    /// Returns the record as a JSON object with the on-disk field names, where `payload`
    /// is the decrypted value, `"<encrypted>"` or `"<undecryptable>"`, or absent.
    pub fn to_json(&self) -> Value {
        let mut value = serde_json::to_value(&self.record).unwrap_or(Value::Null);
        if let Value::Object(object) = &mut value {
            match &self.payload {
                PayloadView::Absent => {}
                PayloadView::Decrypted(payload) => {
                    object.insert("payload".into(), payload.clone());
                }
                other => {
                    object.insert("payload".into(), Value::from(other.to_string()));
                }
            }
        }
        value
    }
}

/// Iterator over the matching records of one log file, in file order.
///
/// It stops at an incomplete final line, which the writer may still be writing, and yields
/// an error for a line that does not parse, after which it ends.
pub struct RecordReader {
    reader: BufReader<File>,
    path: PathBuf,
    filter: RecordFilter,
    payload_key: Option<PayloadKey>,
    line: u64,
    buf: Vec<u8>,
    done: bool,
}

/// Opens the log for reading. Payloads are decrypted only when `payload_key` is given.
pub fn read_records(path: &Path, filter: RecordFilter, payload_key: Option<&PayloadKey>) -> Result<RecordReader, ReadError> {
    let file = File::open(path).map_err(|source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(RecordReader {
        reader: BufReader::new(file),
        path: path.to_path_buf(),
        filter,
        payload_key: payload_key.cloned(),
        line: 0,
        buf: Vec::new(),
        done: false,
    })
}

impl RecordReader {
    fn next_record(&mut self) -> Result<Option<Record>, ReadError> {
        let read = read_line_bounded(&mut self.reader, &mut self.buf, MAX_RECORD_BYTES).map_err(|source| ReadError::Io {
            path: self.path.clone(),
            source,
        })?;
        self.line += 1;
        match read {
            LineRead::Eof | LineRead::Incomplete => Ok(None),
            LineRead::TooLong => Err(ReadError::LineTooLong {
                path: self.path.clone(),
                line: self.line,
                max: MAX_RECORD_BYTES,
            }),
            LineRead::Complete => Record::from_line(line_body(&self.buf))
                .map(Some)
                .map_err(|error| ReadError::Unparsable {
                    path: self.path.clone(),
                    line: self.line,
                    reason: error.to_string(),
                }),
        }
    }

    fn view_payload(&self, record: &Record) -> PayloadView {
        match (&record.payload, &self.payload_key) {
            (None, _) => PayloadView::Absent,
            (Some(_), None) => PayloadView::Encrypted,
            (Some(sealed), Some(key)) => match decrypt(key, record.seq, sealed) {
                Ok(value) => PayloadView::Decrypted(value),
                Err(_) => PayloadView::Undecryptable,
            },
        }
    }
}

impl Iterator for RecordReader {
    type Item = Result<ReadRecord, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            match self.next_record() {
                Ok(Some(record)) if self.filter.matches(&record) => {
                    let payload = self.view_payload(&record);
                    return Some(Ok(ReadRecord { record, payload }));
                }
                Ok(Some(_)) => {}
                Ok(None) => self.done = true,
                Err(error) => {
                    self.done = true;
                    return Some(Err(error));
                }
            }
        }
        None
    }
}
