//! Free-text fields: trimmed of nothing, bounded in length, free of control characters.

use crate::error::Error;

/// Checks a text field: at most `max_chars` characters, no control characters except
/// newlines and tabs, and not empty when `required`.
///
/// # Errors
/// INVALID_ARGUMENT naming `field`.
pub fn check(field: &str, value: &str, max_chars: usize, required: bool) -> Result<(), Error> {
    if required && value.trim().is_empty() {
        return Err(Error::invalid(field, "is required"));
    }
    if value.chars().count() > max_chars {
        return Err(Error::invalid(
            field,
            format!("must be at most {max_chars} characters"),
        ));
    }
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(Error::invalid(field, "must not contain control characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn required_text_may_not_be_blank() {
        assert!(check("f", "  ", 10, true).is_err());
        assert!(check("f", "", 10, false).is_ok());
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        assert!(check("f", "丹江口市", 4, true).is_ok());
        assert!(check("f", "丹江口市x", 4, true).is_err());
    }

    #[test]
    fn control_characters_are_refused() {
        assert!(check("f", "a\u{0}b", 10, true).is_err());
        assert!(check("f", "a\nb", 10, true).is_ok());
    }
}
