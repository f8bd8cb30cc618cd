//! Frames and decodes arbitrary bytes as frontend messages; every message that
//! decodes must encode back to the same bytes.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    portcullis_pg::codec::fuzz_frontend(data);
});
