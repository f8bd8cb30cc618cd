//! SCRAM-SHA-256 and SCRAM-SHA-256-PLUS, server side (RFC 5802, RFC 7677).
//!
//! The exchange is a chain of values, each consumed by the next step:
//! [`ClientFirst`] (parsed) → [`AwaitingFinal`] (server-first sent) →
//! [`Verified`] (proof checked). PostgreSQL's dialect applies: the user name
//! inside the SCRAM message is ignored in favour of the startup packet's, and
//! an authorization identity (`a=`) is rejected.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::authority::{ScramVerifiers, TokenId};

/// Mechanism names as sent in AuthenticationSASL.
pub(crate) const SCRAM_SHA_256: &str = "SCRAM-SHA-256";
pub(crate) const SCRAM_SHA_256_PLUS: &str = "SCRAM-SHA-256-PLUS";

/// The only channel binding type PostgreSQL defines (RFC 5929).
const TLS_SERVER_END_POINT: &str = "tls-server-end-point";

/// Raw server nonce length; PostgreSQL also uses 18 bytes (24 base64 characters).
const SERVER_NONCE_LEN: usize = 18;

/// A failed SCRAM exchange. Only [`ScramError::ProofInvalid`] means a wrong
/// token; the others are protocol violations by the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ScramError {
    /// The message does not follow the SCRAM grammar.
    #[error("malformed SCRAM message: {0}")]
    Malformed(&'static str),
    /// The client's channel binding choice contradicts what the server offered.
    #[error("SCRAM channel binding negotiation failed: {0}")]
    Negotiation(&'static str),
    /// The channel binding data differs from this TLS connection's.
    #[error("SCRAM channel binding check failed")]
    ChannelBindingMismatch,
    /// The client proof matches no live token.
    #[error("SCRAM client proof is invalid")]
    ProofInvalid,
}

/// The channel binding that this connection can offer.
#[derive(Clone)]
pub(crate) enum ChannelBinding {
    /// Plaintext connection: SCRAM-SHA-256-PLUS is not offered.
    NotOffered,
    /// TLS connection: `tls-server-end-point` data (a hash of the gateway's certificate).
    TlsServerEndPoint(Vec<u8>),
}

/// The client's reply to the channel binding offer (the gs2 header flag).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Gs2Flag {
    /// `n`: the client does not support channel binding.
    NotSupported,
    /// `y`: the client supports it but thinks the server does not.
    SupportedNotOffered,
    /// `p=tls-server-end-point`: the client uses channel binding.
    Used,
}

/// A parsed client-first-message.
pub(crate) struct ClientFirst {
    gs2_header: String,
    flag: Gs2Flag,
    client_first_bare: String,
    client_nonce: String,
}

/// Parses the client-first-message for `mechanism` and checks the channel
/// binding choice against the offer (RFC 5802 section 6).
pub(crate) fn parse_client_first(
    mechanism: &str,
    data: &[u8],
    binding: &ChannelBinding,
) -> Result<ClientFirst, ScramError> {
    let text = std::str::from_utf8(data).map_err(|_| ScramError::Malformed("not valid UTF-8"))?;
    let (flag, rest) = split_gs2_flag(text)?;
    let (authzid, client_first_bare) = rest
        .split_once(',')
        .ok_or(ScramError::Malformed("missing gs2 header"))?;
    if !authzid.is_empty() {
        return Err(ScramError::Malformed(
            "an authorization identity (a=) is not supported",
        ));
    }
    let gs2_len = text.len() - client_first_bare.len();
    let gs2_header = text.get(..gs2_len).unwrap_or_default().to_owned();

    check_negotiation(mechanism, flag, binding)?;
    let client_nonce = parse_client_first_bare(client_first_bare)?;
    Ok(ClientFirst {
        gs2_header,
        flag,
        client_first_bare: client_first_bare.to_owned(),
        client_nonce,
    })
}

fn split_gs2_flag(text: &str) -> Result<(Gs2Flag, &str), ScramError> {
    if let Some(rest) = text.strip_prefix("n,") {
        return Ok((Gs2Flag::NotSupported, rest));
    }
    if let Some(rest) = text.strip_prefix("y,") {
        return Ok((Gs2Flag::SupportedNotOffered, rest));
    }
    if let Some(rest) = text.strip_prefix("p=") {
        let (kind, rest) = rest
            .split_once(',')
            .ok_or(ScramError::Malformed("missing gs2 header"))?;
        if kind != TLS_SERVER_END_POINT {
            return Err(ScramError::Negotiation(
                "only channel binding type tls-server-end-point is supported",
            ));
        }
        return Ok((Gs2Flag::Used, rest));
    }
    Err(ScramError::Malformed(
        "gs2 channel binding flag must be n, y or p",
    ))
}

fn check_negotiation(
    mechanism: &str,
    flag: Gs2Flag,
    binding: &ChannelBinding,
) -> Result<(), ScramError> {
    let offered = matches!(binding, ChannelBinding::TlsServerEndPoint(_));
    match (mechanism, flag) {
        (SCRAM_SHA_256_PLUS, Gs2Flag::Used) if offered => Ok(()),
        (SCRAM_SHA_256_PLUS, _) => Err(ScramError::Negotiation(
            "SCRAM-SHA-256-PLUS requires channel binding data (gs2 flag p=tls-server-end-point)",
        )),
        (SCRAM_SHA_256, Gs2Flag::Used) => Err(ScramError::Negotiation(
            "channel binding data was sent with SCRAM-SHA-256; use SCRAM-SHA-256-PLUS",
        )),
        // RFC 5802 section 6: "y" while the server offers channel binding means
        // an attacker may have removed the -PLUS mechanism from the offer.
        (SCRAM_SHA_256, Gs2Flag::SupportedNotOffered) if offered => Err(ScramError::Negotiation(
            "the client supports channel binding but thinks the server does not, although it does",
        )),
        (SCRAM_SHA_256, _) => Ok(()),
        _ => Err(ScramError::Negotiation("unsupported SASL mechanism")),
    }
}

/// Returns the client nonce of `n=user,r=nonce[,extensions]`.
fn parse_client_first_bare(bare: &str) -> Result<String, ScramError> {
    let mut attributes = bare.split(',');
    let user = attributes.next().unwrap_or_default();
    if user.starts_with("m=") {
        return Err(ScramError::Malformed(
            "mandatory extensions (m=) are not supported",
        ));
    }
    if !user.starts_with("n=") {
        return Err(ScramError::Malformed(
            "client-first-message must start with n=",
        ));
    }
    let nonce = attributes
        .next()
        .and_then(|attribute| attribute.strip_prefix("r="))
        .ok_or(ScramError::Malformed(
            "client-first-message has no nonce (r=)",
        ))?;
    let printable = nonce
        .bytes()
        .all(|byte| (0x21..=0x7e).contains(&byte) && byte != b',');
    if nonce.is_empty() || !printable {
        return Err(ScramError::Malformed(
            "client nonce is empty or not printable ASCII",
        ));
    }
    Ok(nonce.to_owned())
}

/// The server-first-message was sent; the client-final-message is expected.
pub(crate) struct AwaitingFinal {
    client_first: ClientFirst,
    server_first: String,
    nonce: String,
    verifiers: ScramVerifiers,
}

/// Builds the server-first-message. `verifiers` comes from the authority, or
/// is a mock for an unknown user, so that both fail alike at the proof.
pub(crate) fn server_first(
    client_first: ClientFirst,
    verifiers: ScramVerifiers,
) -> (AwaitingFinal, String) {
    let mut server_nonce = [0u8; SERVER_NONCE_LEN];
    rand::thread_rng().fill_bytes(&mut server_nonce);
    let nonce = format!(
        "{}{}",
        client_first.client_nonce,
        BASE64.encode(server_nonce)
    );

    let server_first = format!(
        "r={nonce},s={},i={}",
        BASE64.encode(&verifiers.salt),
        verifiers.iterations
    );
    let message = server_first.clone();
    let state = AwaitingFinal {
        client_first,
        server_first,
        nonce,
        verifiers,
    };
    (state, message)
}

/// A client proof that matched one live token.
pub(crate) struct Verified {
    /// The token whose key matched.
    pub(crate) token: TokenId,
    /// The server-final-message (`v=` server signature) to send once authorized.
    pub(crate) server_final: String,
}

impl AwaitingFinal {
    /// Checks the client-final-message: channel binding, nonce and proof.
    pub(crate) fn verify(
        self,
        data: &[u8],
        binding: &ChannelBinding,
    ) -> Result<Verified, ScramError> {
        let text =
            std::str::from_utf8(data).map_err(|_| ScramError::Malformed("not valid UTF-8"))?;
        let (without_proof, proof) = text.rsplit_once(",p=").ok_or(ScramError::Malformed(
            "client-final-message has no proof (p=)",
        ))?;
        let mut attributes = without_proof.split(',');
        let channel = attributes
            .next()
            .and_then(|attribute| attribute.strip_prefix("c="))
            .ok_or(ScramError::Malformed(
                "client-final-message must start with c=",
            ))?;
        let nonce = attributes
            .next()
            .and_then(|attribute| attribute.strip_prefix("r="))
            .ok_or(ScramError::Malformed(
                "client-final-message has no nonce (r=)",
            ))?;

        self.check_channel(channel, binding)?;
        if nonce != self.nonce {
            return Err(ScramError::Malformed(
                "nonce does not match the server-first-message",
            ));
        }
        let proof = BASE64
            .decode(proof)
            .map_err(|_| ScramError::Malformed("proof is not valid base64"))?;

        let auth_message = format!(
            "{},{},{}",
            self.client_first.client_first_bare, self.server_first, without_proof
        );
        self.match_proof(&proof, auth_message.as_bytes())
    }

    fn check_channel(&self, channel: &str, binding: &ChannelBinding) -> Result<(), ScramError> {
        let received = BASE64
            .decode(channel)
            .map_err(|_| ScramError::Malformed("channel binding (c=) is not valid base64"))?;
        let mut expected = self.client_first.gs2_header.as_bytes().to_vec();
        if self.client_first.flag == Gs2Flag::Used {
            if let ChannelBinding::TlsServerEndPoint(data) = binding {
                expected.extend_from_slice(data);
            }
        }
        if bool::from(received.ct_eq(&expected)) {
            Ok(())
        } else {
            Err(ScramError::ChannelBindingMismatch)
        }
    }

    /// Tries every live token's stored key, without stopping at the first
    /// match, so the time taken does not depend on which token matched.
    fn match_proof(self, proof: &[u8], auth_message: &[u8]) -> Result<Verified, ScramError> {
        let mut matched = None;
        for token in &self.verifiers.tokens {
            let signature = hmac_sha256(&token.stored_key, auth_message);
            if proof.len() != signature.len() {
                continue;
            }
            let client_key: Vec<u8> = proof.iter().zip(signature).map(|(p, s)| p ^ s).collect();
            let stored_key = Sha256::digest(&client_key);
            if bool::from(stored_key.as_slice().ct_eq(&token.stored_key)) {
                matched = Some(token);
            }
        }
        let token = matched.ok_or(ScramError::ProofInvalid)?;
        let server_signature = hmac_sha256(&token.server_key, auth_message);
        Ok(Verified {
            token: token.token_id.clone(),
            server_final: format!("v={}", BASE64.encode(server_signature)),
        })
    }
}

pub(crate) fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length (RFC 2104 hashes long keys), so the
    // `hmac` crate's `new_from_slice` returns an error for no length here.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return [0; 32];
    };
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// Builds a mock verifier for a user the authority does not know. The salt is
/// derived from `secret` and the user name, so repeated attempts for one name
/// see the same salt, as they would for a real user. The stored key is random,
/// so no proof can match.
pub(crate) fn mock_verifiers(secret: &[u8; 32], user: &str, iterations: u32) -> ScramVerifiers {
    let salt = hmac_sha256(secret, user.as_bytes());
    let mut stored_key = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut stored_key);
    ScramVerifiers {
        salt: salt.get(..16).unwrap_or_default().to_vec(),
        iterations,
        tokens: vec![crate::authority::TokenVerifier {
            token_id: TokenId::new(""),
            stored_key,
            server_key: [0; 32],
        }],
    }
}

#[cfg(test)]
mod tests;
