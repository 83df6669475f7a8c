//! Free-text fields: trimmed of nothing, bounded in length, free of control characters and
//! of the characters that reorder text on screen (bidirectional overrides and isolates),
//! with which a name could pass for another or a printed row could forge its neighbours.
//! A text of one line (a name, a title, a label) holds no line break or tab either.

use crate::error::Error;

/// Checks a text field: at most `max_chars` characters, no control characters except
/// newlines and tabs, no bidirectional overrides or isolates, and not empty when
/// `required`.
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
    if value.chars().any(reorders) {
        return Err(Error::invalid(
            field,
            "must not contain bidirectional override or isolate characters",
        ));
    }
    Ok(())
}

/// Checks a text of one line, as [`check`] does, and refuses line breaks (the Unicode line
/// and paragraph separators among them) and tabs too.
///
/// # Errors
/// INVALID_ARGUMENT naming `field`.
pub fn check_line(field: &str, value: &str, max_chars: usize, required: bool) -> Result<(), Error> {
    check(field, value, max_chars, required)?;
    if value.contains(['\n', '\t', '\u{2028}', '\u{2029}']) {
        return Err(Error::invalid(
            field,
            "must be one line: no line breaks or tabs",
        ));
    }
    Ok(())
}

/// The characters that reorder the text around them: the bidirectional embeddings and
/// overrides (U+202A to U+202E) and isolates (U+2066 to U+2069).
fn reorders(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `value` as it may be printed on a terminal line: every control or reordering character
/// written as a `\u{…}` escape, so that a stored text cannot fake a row or a column.
pub fn printable(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if c.is_control() || reorders(c) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
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

    #[test]
    fn reordering_characters_are_refused_in_every_text() {
        for c in ['\u{202A}', '\u{202E}', '\u{2066}', '\u{2069}'] {
            let text = format!("丹江口{c}市");
            assert!(check("f", &text, 10, false).is_err(), "{c:?}");
            assert!(check_line("f", &text, 10, false).is_err(), "{c:?}");
        }
        assert!(
            check("f", "丹江口\u{200F}市", 10, false).is_ok(),
            "a mark reorders nothing"
        );
    }

    #[test]
    fn a_line_holds_no_break_or_tab() {
        assert!(check_line("f", "东城区 协调员", 20, true).is_ok());
        for text in ["x\tADMIN", "x\nADMIN", "x\u{2028}ADMIN", "x\u{2029}ADMIN"] {
            let err = check_line("f", text, 20, true).unwrap_err();
            assert!(format!("{err:?}").contains("one line"), "{text:?}: {err:?}");
            assert!(
                check("f", text, 20, true).is_ok(),
                "{text:?} is fine in free text"
            );
        }
    }

    #[test]
    fn printing_escapes_what_could_forge_a_row() {
        assert_eq!(printable("a\tb\n\u{202E}c"), "a\\u{9}b\\u{a}\\u{202e}c");
        assert_eq!(printable("东城区"), "东城区");
    }
}
