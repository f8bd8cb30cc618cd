//! The SCRAM keys that logins store (derived in `portcullis-core`) must be the keys
//! that the PostgreSQL front end derives from the same token, or native clients could
//! never authenticate.

use portcullis_core::scram::{derive_scram_keys, generate_scram_salt};
use portcullis_core::token::generate_token;
use portcullis_pg::{TokenId, TokenVerifier};

#[test]
fn core_keys_match_front_end_keys() {
    let (token, _) = generate_token();
    let random_salt = generate_scram_salt();
    let cases: [(&str, &[u8], u32); 5] = [
        (token.expose(), &random_salt, 4096),
        (token.expose(), &random_salt, 1),
        (token.expose(), b"", 2),
        ("pencil", b"fixed salt bytes", 4096),
        ("", &random_salt, 3),
    ];
    for (text, salt, iterations) in cases {
        let core = derive_scram_keys(text, salt, iterations);
        let front_end = TokenVerifier::derive(TokenId::new("t"), text, salt, iterations);
        assert_eq!(
            core.stored_key, front_end.stored_key,
            "stored key, i={iterations}"
        );
        assert_eq!(
            core.server_key, front_end.server_key,
            "server key, i={iterations}"
        );
    }
}
