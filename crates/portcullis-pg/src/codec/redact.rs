//! `Debug` stand-ins that show the size of a sensitive field but not its content.

use std::fmt;

use bytes::Bytes;

/// Shows a field as `<N bytes>`.
pub(crate) struct Redacted(pub(crate) usize);

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} bytes>", self.0)
    }
}

/// Shows a list of nullable values as their sizes, such as `[<3 bytes>, NULL]`.
pub(crate) struct RedactedValues<'a>(pub(crate) &'a [Option<Bytes>]);

impl fmt::Debug for RedactedValues<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        for value in self.0 {
            match value {
                Some(bytes) => list.entry(&Redacted(bytes.len())),
                None => list.entry(&format_args!("NULL")),
            };
        }
        list.finish()
    }
}
