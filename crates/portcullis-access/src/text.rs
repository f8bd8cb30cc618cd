//! Checks on the free text that users attach to requests, break-glass grants and
//! reviews. The text is written to the audit log in clear and printed in approvers'
//! terminals, so its length is bounded and control characters are rejected.

use crate::AccessError;

/// Maximum length, in characters, of a reason or of review notes.
pub const MAX_TEXT_CHARS: usize = 1000;

/// The free-text field being checked, named in errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextField {
    Reason,
    Notes,
}

impl TextField {
    fn name(self) -> &'static str {
        match self {
            TextField::Reason => "reason",
            TextField::Notes => "review notes",
        }
    }
}

impl std::fmt::Display for TextField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Returns `text` without surrounding whitespace, or the reason it is rejected:
/// empty, longer than [`MAX_TEXT_CHARS`], or containing a control character
/// (U+0000 to U+001F, U+007F to U+009F), which includes tabs and line breaks.
pub fn checked_text(field: TextField, text: &str) -> Result<String, AccessError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(match field {
            TextField::Reason => AccessError::MissingReason,
            TextField::Notes => AccessError::MissingNotes,
        });
    }
    let length = text.chars().count();
    if length > MAX_TEXT_CHARS {
        return Err(AccessError::TextTooLong { field, length, max: MAX_TEXT_CHARS });
    }
    if let Some((position, character)) = text.chars().enumerate().find(|(_, character)| character.is_control()) {
        return Err(AccessError::ControlCharacter {
            field,
            position: position + 1,
            code: u32::from(character),
        });
    }
    Ok(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_trimmed() {
        let text = checked_text(TextField::Reason, "  ticket INC-42: failed backup  ").expect("plain text");
        assert_eq!(text, "ticket INC-42: failed backup");
    }

    #[test]
    fn empty_text_is_missing() {
        assert!(matches!(checked_text(TextField::Reason, " \t "), Err(AccessError::MissingReason)));
        assert!(matches!(checked_text(TextField::Notes, ""), Err(AccessError::MissingNotes)));
    }

    #[test]
    fn long_text_names_limit() {
        assert!(checked_text(TextField::Reason, &"é".repeat(MAX_TEXT_CHARS)).is_ok());
        let error = checked_text(TextField::Reason, &"x".repeat(MAX_TEXT_CHARS + 1)).expect_err("too long");
        let message = error.to_string();
        assert!(message.contains("1001"), "{message}");
        assert!(message.contains("1000"), "{message}");
    }

    #[test]
    fn control_characters_rejected() {
        for text in ["x\u{0}y", "x\ny", "x\u{1b}[31mred", "x\u{7f}y", "x\u{9b}31m", "a\tb"] {
            let error = checked_text(TextField::Notes, text).expect_err(text);
            assert!(matches!(error, AccessError::ControlCharacter { .. }), "{text:?}: {error}");
            assert!(error.to_string().contains("review notes"), "{error}");
        }
    }
}
