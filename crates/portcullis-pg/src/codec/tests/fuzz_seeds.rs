//! The fuzzing entry points on seed inputs and on random and mutated bytes,
//! so the code behind the cargo-fuzz targets runs under `cargo test`.

use bytes::BytesMut;
use proptest::collection::vec;
use proptest::prelude::*;

use super::strategies;
use super::Body;
use crate::codec::{fuzz_backend, fuzz_frontend, fuzz_startup, BackendMessage, FrontendMessage};

/// Builds a frontend stream: an extended-query cycle, a simple query, a
/// SASLInitialResponse and Terminate.
fn frontend_seed() -> Vec<u8> {
    let mut seed = Vec::new();
    let messages: [(u8, Vec<u8>); 8] = [
        (
            b'P',
            Body::new()
                .cstr("s1")
                .cstr("SELECT $1::int")
                .u16(1)
                .i32(23)
                .build()
                .to_vec(),
        ),
        (
            b'B',
            Body::new()
                .cstr("")
                .cstr("s1")
                .u16(1)
                .i16(1)
                .u16(1)
                .i32(4)
                .i32(7)
                .u16(0)
                .build()
                .to_vec(),
        ),
        (b'D', Body::new().u8(b'P').cstr("").build().to_vec()),
        (b'E', Body::new().cstr("").i32(0).build().to_vec()),
        (b'S', Vec::new()),
        (
            b'Q',
            Body::new().cstr("SELECT 1; SELECT 2").build().to_vec(),
        ),
        (
            b'p',
            Body::new()
                .cstr("SCRAM-SHA-256")
                .i32(3)
                .bytes(b"n,,")
                .build()
                .to_vec(),
        ),
        (b'X', Vec::new()),
    ];
    for (tag, body) in messages {
        seed.push(tag);
        seed.extend_from_slice(&i32::try_from(body.len() + 4).unwrap().to_be_bytes());
        seed.extend_from_slice(&body);
    }
    seed
}

/// Builds a backend stream: authentication requests, session parameters,
/// the cancel key and the reply to one simple query.
fn backend_seed() -> Vec<u8> {
    let mut seed = Vec::new();
    let messages: [(u8, Vec<u8>); 8] = [
        (
            b'R',
            Body::new()
                .i32(10)
                .cstr("SCRAM-SHA-256")
                .u8(0)
                .build()
                .to_vec(),
        ),
        (b'R', Body::new().i32(0).build().to_vec()),
        (
            b'S',
            Body::new()
                .cstr("server_version")
                .cstr("17.2")
                .build()
                .to_vec(),
        ),
        (b'K', Body::new().i32(4242).bytes(&[9; 32]).build().to_vec()),
        (b'Z', b"I".to_vec()),
        (
            b'T',
            Body::new()
                .u16(1)
                .cstr("x")
                .i32(0)
                .i16(0)
                .i32(23)
                .i16(4)
                .i32(-1)
                .i16(0)
                .build()
                .to_vec(),
        ),
        (b'D', Body::new().u16(1).i32(1).bytes(b"1").build().to_vec()),
        (b'C', Body::new().cstr("SELECT 1").build().to_vec()),
    ];
    for (tag, body) in messages {
        seed.push(tag);
        seed.extend_from_slice(&i32::try_from(body.len() + 4).unwrap().to_be_bytes());
        seed.extend_from_slice(&body);
    }
    seed
}

fn startup_seed() -> Vec<u8> {
    let body = Body::new()
        .i32(196_610)
        .cstr("user")
        .cstr("alice")
        .cstr("database")
        .cstr("clinic")
        .u8(0)
        .build();
    let mut seed = vec![0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];
    seed.extend_from_slice(&i32::try_from(body.len() + 4).unwrap().to_be_bytes());
    seed.extend_from_slice(&body);
    seed
}

#[test]
fn fuzz_helpers_accept_seeds() {
    for seed in [Vec::new(), vec![0], vec![0xff; 16], frontend_seed()] {
        fuzz_frontend(&seed);
    }
    for seed in [Vec::new(), vec![b'Z', 0, 0, 0, 5, b'I'], backend_seed()] {
        fuzz_backend(&seed);
    }
    for seed in [Vec::new(), vec![0x16, 3, 1, 0, 0], startup_seed()] {
        fuzz_startup(&seed);
    }
}

/// Overwrites one byte after the five-byte header, keeping the frame intact.
fn mutate(mut wire: Vec<u8>, position: usize, byte: u8) -> Vec<u8> {
    if wire.len() > 5 {
        let index = 5 + position % (wire.len() - 5);
        wire[index] = byte;
    }
    wire
}

proptest! {
    #[test]
    fn fuzz_helpers_accept_random_bytes(data in vec(any::<u8>(), 0..256)) {
        fuzz_frontend(&data);
        fuzz_backend(&data);
        fuzz_startup(&data);
    }

    #[test]
    fn fuzz_frontend_accepts_mutated_messages(
        message in prop_oneof![
            strategies::bind().prop_map(FrontendMessage::Bind),
            strategies::parse().prop_map(FrontendMessage::Parse),
            strategies::function_call().prop_map(FrontendMessage::FunctionCall),
            strategies::describe().prop_map(FrontendMessage::Describe),
        ],
        position in any::<usize>(),
        byte in any::<u8>(),
    ) {
        let mut buf = BytesMut::new();
        message.encode(&mut buf).unwrap();
        fuzz_frontend(&mutate(buf.to_vec(), position, byte));
    }

    #[test]
    fn fuzz_backend_accepts_mutated_messages(
        message in prop_oneof![
            strategies::authentication().prop_map(BackendMessage::Authentication),
            strategies::row_description().prop_map(BackendMessage::RowDescription),
            strategies::data_row().prop_map(BackendMessage::DataRow),
            strategies::error_fields().prop_map(BackendMessage::ErrorResponse),
            strategies::negotiate_protocol_version().prop_map(BackendMessage::NegotiateProtocolVersion),
        ],
        position in any::<usize>(),
        byte in any::<u8>(),
    ) {
        let mut buf = BytesMut::new();
        message.encode(&mut buf).unwrap();
        fuzz_backend(&mutate(buf.to_vec(), position, byte));
    }

    #[test]
    fn fuzz_startup_accepts_mutated_packets(
        message in strategies::startup_message(),
        position in any::<usize>(),
        byte in any::<u8>(),
    ) {
        let mut buf = BytesMut::new();
        message.encode(&mut buf).unwrap();
        // Startup packets have a four-byte header; shift the mutation by one
        // so the length stays intact as well.
        let mut wire = vec![0];
        wire.extend_from_slice(&buf);
        let mutated = mutate(wire, position, byte);
        fuzz_startup(&mutated[1..]);
    }
}
