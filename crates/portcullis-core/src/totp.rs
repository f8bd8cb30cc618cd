//! Time-based one-time passwords (RFC 6238) as authenticator apps expect them:
//! HMAC-SHA-1, 6 digits, 30-second steps.
//!
//! [`verify_code`] returns the time step a code matched, so the store can accept each
//! step at most once per user (RFC 6238 section 5.2 requires that a verifier not accept
//! the same OTP a second time after a successful validation).

use std::fmt;

use rand::rngs::OsRng;
use rand::RngCore;
use subtle::ConstantTimeEq;
use time::OffsetDateTime;
use totp_rs::{Algorithm, TOTP};
use zeroize::{Zeroize, Zeroizing};

use crate::names::UserName;
use crate::secret::SecretString;

/// Issuer shown by authenticator apps.
pub const TOTP_ISSUER: &str = "Portcullis";
/// Digits per code.
pub const TOTP_DIGITS: usize = 6;
/// Length of a time step in seconds.
pub const TOTP_STEP_SECONDS: u64 = 30;
/// Length of generated secrets in bytes (160 bits, the length RFC 4226 section 4
/// recommends for HMAC-SHA-1).
pub const TOTP_SECRET_LEN: usize = 20;
/// Shortest secret accepted (128 bits, the minimum in RFC 4226 section 4).
pub const TOTP_MIN_SECRET_LEN: usize = 16;

/// A shared TOTP secret; wiped on drop, redacted in `Debug` output.
#[derive(Clone)]
pub struct TotpSecret(Zeroizing<Vec<u8>>);

/// A secret of the wrong length.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid TOTP secret: {len} bytes, expected at least {TOTP_MIN_SECRET_LEN}; reset the user's MFA enrollment")]
pub struct TotpSecretError {
    /// Length of the rejected secret in bytes.
    pub len: usize,
}

impl TotpSecret {
    /// Generates a random 160-bit secret from the operating system's random source.
    pub fn generate() -> Self {
        let mut bytes = Zeroizing::new(vec![0u8; TOTP_SECRET_LEN]);
        OsRng.fill_bytes(&mut bytes);
        TotpSecret(bytes)
    }

    /// Wraps stored secret bytes, such as the output of opening a sealed secret.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, TotpSecretError> {
        let bytes = Zeroizing::new(bytes);
        if bytes.len() < TOTP_MIN_SECRET_LEN {
            return Err(TotpSecretError { len: bytes.len() });
        }
        Ok(TotpSecret(bytes))
    }

    /// Returns the raw secret, for sealing before storage.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(<redacted>)")
    }
}

/// Runs `f` with a `totp-rs` generator for `secret`, then wipes the generator's copy of
/// the secret (the crate only does that itself with its `zeroize` feature).
fn with_generator<T>(
    secret: &TotpSecret,
    digits: usize,
    account: &str,
    f: impl FnOnce(&TOTP) -> T,
) -> T {
    let mut totp = TOTP::new_unchecked(
        Algorithm::SHA1,
        digits,
        0,
        TOTP_STEP_SECONDS,
        secret.as_bytes().to_vec(),
        Some(TOTP_ISSUER.to_owned()),
        account.to_owned(),
    );
    let result = f(&totp);
    totp.secret.zeroize();
    result
}

/// Builds the `otpauth://totp/Portcullis:<user>?secret=…&issuer=Portcullis` URI that
/// authenticator apps import, usually as a QR code. The URI contains the secret.
pub fn otpauth_uri(secret: &TotpSecret, account: &UserName) -> SecretString {
    // User names never contain `:`, which totp-rs requires of account names.
    SecretString::new(with_generator(
        secret,
        TOTP_DIGITS,
        account.as_str(),
        TOTP::get_url,
    ))
}

/// Returns the time step that contains `at`, or `None` before 1970.
pub fn time_step(at: OffsetDateTime) -> Option<u64> {
    u64::try_from(at.unix_timestamp())
        .ok()
        .map(|seconds| seconds / TOTP_STEP_SECONDS)
}

fn code_for_step(secret: &TotpSecret, step: u64, digits: usize) -> String {
    with_generator(secret, digits, "", |totp| {
        totp.generate(step.saturating_mul(TOTP_STEP_SECONDS))
    })
}

/// Computes the 6-digit code that an authenticator app shows at `at`, or `None`
/// before 1970.
pub fn code_at(secret: &TotpSecret, at: OffsetDateTime) -> Option<String> {
    time_step(at).map(|step| code_for_step(secret, step, TOTP_DIGITS))
}

/// Checks `code` against the steps within `skew_steps` of the step containing `at`,
/// and returns the matching step (the latest one if several match), or `None`.
///
/// Spaces in `code` are ignored because apps often show codes as `123 456`. The caller
/// must still reject a step that is not newer than the last one accepted for the user.
pub fn verify_code(
    secret: &TotpSecret,
    code: &str,
    at: OffsetDateTime,
    skew_steps: u8,
) -> Option<u64> {
    let code: Zeroizing<String> = Zeroizing::new(code.chars().filter(|c| *c != ' ').collect());
    if code.len() != TOTP_DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }

    let current = time_step(at)?;
    let first = current.saturating_sub(u64::from(skew_steps));
    let last = current.saturating_add(u64::from(skew_steps));

    let mut matched = None;
    for step in first..=last {
        let expected = Zeroizing::new(code_for_step(secret, step, TOTP_DIGITS));
        if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) {
            matched = Some(step);
        }
    }
    matched
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Returns the SHA-1 seed of RFC 6238 Appendix B, ASCII "12345678901234567890".
    fn rfc_secret() -> TotpSecret {
        TotpSecret::from_bytes(b"12345678901234567890".to_vec()).expect("20 bytes")
    }

    fn at(unix: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(unix).expect("valid timestamp")
    }

    #[test]
    fn rfc6238_sha1_test_vectors() {
        let vectors = [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ];
        for (unix, expected) in vectors {
            let step = time_step(at(unix)).expect("after 1970");
            assert_eq!(
                code_for_step(&rfc_secret(), step, 8),
                expected,
                "T = {unix}"
            );
        }
    }

    #[test]
    fn six_digit_code_matches_rfc_vector() {
        assert_eq!(code_at(&rfc_secret(), at(59)).as_deref(), Some("287082"));
    }

    #[test]
    fn verify_returns_matched_step() {
        let secret = TotpSecret::generate();
        let now = at(1_700_000_000);
        let code = code_at(&secret, now).expect("code");
        assert_eq!(verify_code(&secret, &code, now, 1), time_step(now));
    }

    #[test]
    fn verify_accepts_codes_within_skew_window() {
        let secret = TotpSecret::generate();
        let now = at(1_700_000_010);
        let step = time_step(now).expect("step");
        let previous = code_for_step(&secret, step - 1, TOTP_DIGITS);
        let next = code_for_step(&secret, step + 1, TOTP_DIGITS);
        assert_eq!(verify_code(&secret, &previous, now, 1), Some(step - 1));
        assert_eq!(verify_code(&secret, &next, now, 1), Some(step + 1));
    }

    #[test]
    fn verify_rejects_codes_outside_skew_window() {
        let secret = TotpSecret::generate();
        let now = at(1_700_000_010);
        let step = time_step(now).expect("step");
        let two_back = code_for_step(&secret, step - 2, TOTP_DIGITS);
        let previous = code_for_step(&secret, step - 1, TOTP_DIGITS);
        assert_eq!(verify_code(&secret, &two_back, now, 1), None);
        assert_eq!(verify_code(&secret, &previous, now, 0), None);
        assert_eq!(verify_code(&secret, &two_back, now, 2), Some(step - 2));
    }

    #[test]
    fn verify_rejects_malformed_codes() {
        let secret = TotpSecret::generate();
        let now = at(1_700_000_000);
        let code = code_at(&secret, now).expect("code");
        assert_eq!(verify_code(&secret, "", now, 1), None);
        assert_eq!(verify_code(&secret, &format!("{code}0"), now, 1), None);
        assert_eq!(verify_code(&secret, "12345a", now, 1), None);
        let spaced = format!("{} {}", &code[..3], &code[3..]);
        assert_eq!(verify_code(&secret, &spaced, now, 1), time_step(now));
    }

    #[test]
    fn generated_secret_has_160_bits() {
        assert_eq!(TotpSecret::generate().as_bytes().len(), 20);
        assert_eq!(
            TotpSecret::from_bytes(vec![0; 15]).expect_err("short").len,
            15
        );
    }

    #[test]
    fn otpauth_uri_names_issuer_and_user() {
        let secret = rfc_secret();
        let user = UserName::new("alice").expect("valid name");
        let uri = otpauth_uri(&secret, &user);
        assert_eq!(
            uri.expose(),
            "otpauth://totp/Portcullis:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Portcullis"
        );
    }

    #[test]
    fn secret_debug_is_redacted() {
        assert_eq!(format!("{:?}", rfc_secret()), "TotpSecret(<redacted>)");
    }
}
