//! Text that must not reach logs: passwords, tokens, `otpauth://` URIs.

use std::fmt;

use zeroize::Zeroizing;

/// A secret string that is wiped from memory on drop and prints as `<redacted>` in
/// `Debug` output. Read it with [`SecretString::expose`] only where it is sent to its
/// owner.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(Zeroizing<String>);

impl SecretString {
    /// Wraps `value`.
    pub fn new(value: String) -> Self {
        SecretString(Zeroizing::new(value))
    }

    /// Returns the secret text.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for SecretString {
    fn from(value: String) -> Self {
        SecretString::new(value)
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_is_redacted() {
        let secret = SecretString::new("hunter2".to_owned());
        assert_eq!(format!("{secret:?}"), "SecretString(<redacted>)");
        assert_eq!(secret.expose(), "hunter2");
    }
}
