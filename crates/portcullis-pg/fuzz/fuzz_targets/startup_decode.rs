//! Frames and decodes arbitrary bytes as startup-phase packets; every packet that
//! decodes must encode back to the same bytes.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    portcullis_pg::codec::fuzz_startup(data);
});
