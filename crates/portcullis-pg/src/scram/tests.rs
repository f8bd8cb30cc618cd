//! Round trips against the SCRAM client of `postgres-protocol`.

use super::*;
use crate::authority::TokenVerifier;
use postgres_protocol::authentication::sasl::{self, ScramSha256};

fn verifier_for(token: &str, salt: &[u8], iterations: u32) -> TokenVerifier {
    TokenVerifier::derive(TokenId::new("t1"), token, salt, iterations)
}

fn run(
    token: &str,
    binding: &ChannelBinding,
    client_binding: sasl::ChannelBinding,
    mechanism: &str,
) -> Result<Verified, ScramError> {
    let salt = b"0123456789abcdef".to_vec();
    let verifiers = ScramVerifiers {
        salt: salt.clone(),
        iterations: 4096,
        tokens: vec![
            verifier_for("other", &salt, 4096),
            verifier_for("secret-token", &salt, 4096),
        ],
    };
    let mut client = ScramSha256::new(token.as_bytes(), client_binding);
    let first = parse_client_first(mechanism, client.message(), binding)?;
    let (state, server_first) = server_first(first, verifiers);
    client
        .update(server_first.as_bytes())
        .map_err(|_| ScramError::Malformed("client"))?;
    let verified = state.verify(client.message(), binding)?;
    client
        .finish(verified.server_final.as_bytes())
        .map_err(|_| ScramError::Malformed("server signature rejected"))?;
    Ok(verified)
}

#[test]
fn scram_accepts_right_token() {
    let verified = run(
        "secret-token",
        &ChannelBinding::NotOffered,
        sasl::ChannelBinding::unsupported(),
        SCRAM_SHA_256,
    );
    assert_eq!(verified.map(|v| v.token), Ok(TokenId::new("t1")));
}

#[test]
fn scram_rejects_wrong_token() {
    let result = run(
        "wrong",
        &ChannelBinding::NotOffered,
        sasl::ChannelBinding::unsupported(),
        SCRAM_SHA_256,
    );
    assert_eq!(result.err(), Some(ScramError::ProofInvalid));
}

#[test]
fn scram_plus_checks_binding_data() {
    let binding = ChannelBinding::TlsServerEndPoint(vec![7; 32]);
    let good = run(
        "secret-token",
        &binding,
        sasl::ChannelBinding::tls_server_end_point(vec![7; 32]),
        SCRAM_SHA_256_PLUS,
    );
    assert!(good.is_ok());
    let bad = run(
        "secret-token",
        &binding,
        sasl::ChannelBinding::tls_server_end_point(vec![8; 32]),
        SCRAM_SHA_256_PLUS,
    );
    assert_eq!(bad.err(), Some(ScramError::ChannelBindingMismatch));
}

#[test]
fn scram_rejects_binding_downgrade() {
    let binding = ChannelBinding::TlsServerEndPoint(vec![7; 32]);
    let result = run(
        "secret-token",
        &binding,
        sasl::ChannelBinding::unrequested(),
        SCRAM_SHA_256,
    );
    assert!(matches!(result, Err(ScramError::Negotiation(_))));
}

#[test]
fn mock_verifier_never_matches() {
    let verifiers = mock_verifiers(&[1; 32], "nobody", 4096);
    let again = mock_verifiers(&[1; 32], "nobody", 4096);
    assert_eq!(verifiers.salt, again.salt);
    let mut client = ScramSha256::new(b"anything", sasl::ChannelBinding::unsupported());
    let first =
        parse_client_first(SCRAM_SHA_256, client.message(), &ChannelBinding::NotOffered)
            .expect("first");
    let (state, server_first) = server_first(first, verifiers);
    client.update(server_first.as_bytes()).expect("update");
    let result = state.verify(client.message(), &ChannelBinding::NotOffered);
    assert_eq!(result.err(), Some(ScramError::ProofInvalid));
}

#[test]
fn malformed_first_messages_rejected() {
    for data in [
        &b"x,,n=,r=abc"[..],
        b"n,a=bob,n=,r=abc",
        b"n,,n=",
        b"n,,r=abc",
        b"p=tls-unique,,n=,r=a",
    ] {
        let result = parse_client_first(SCRAM_SHA_256, data, &ChannelBinding::NotOffered);
        assert!(
            result.is_err(),
            "accepted {:?}",
            String::from_utf8_lossy(data)
        );
    }
}
