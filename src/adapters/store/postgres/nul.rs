//! Postgres `text` cannot hold the NUL character, which Rust strings, JSON, SQLite and the other
//! stores keep. So that every backend returns exactly what it was given, free-text columns (errors,
//! node names, event data) go through a reversible escape: NUL is written as DLE `0` and DLE
//! (U+0010, "data link escape") itself as DLE DLE. JSON columns need none of this: they hold
//! serde_json's text, which writes NUL as the six characters `\u0000`.
//!
//! Migration 0004 doubled the DLEs already stored, so older rows read back unchanged.

use std::borrow::Cow;

const ESCAPE: char = '\u{10}';

/// `text` as stored: borrowed unchanged unless it holds a NUL or the escape character.
pub(super) fn escape(text: &str) -> Cow<'_, str> {
    if !text.contains('\0') && !text.contains(ESCAPE) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\0' => out.extend([ESCAPE, '0']),
            ESCAPE => out.extend([ESCAPE, ESCAPE]),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Stored text back as it was given. A DLE followed by anything else cannot come from
/// [`escape`]; it is kept as it is rather than failing the read.
pub(super) fn unescape(stored: String) -> String {
    if !stored.contains(ESCAPE) {
        return stored;
    }
    let mut out = String::with_capacity(stored.len());
    let mut chars = stored.chars();
    while let Some(c) = chars.next() {
        if c != ESCAPE {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('0') => out.push('\0'),
            Some(ESCAPE) => out.push(ESCAPE),
            Some(other) => out.extend([ESCAPE, other]),
            None => out.push(ESCAPE),
        }
    }
    out
}

/// [`unescape`] for a nullable column.
pub(super) fn unescape_opt(stored: Option<String>) -> Option<String> {
    stored.map(unescape)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_string_survives_the_round_trip_and_stored_text_holds_no_nul() {
        for text in [
            "",
            "plain",
            "\0",
            "a\0b\0\0",
            "\u{10}",
            "\u{10}0",
            "\u{10}\u{10}",
            "\0\u{10}0\u{10}\u{10}\0",
            "0\u{10}",
            "naïve \u{FFFF} \u{2028} \u{FEFF} 😀 \\u0000",
        ] {
            let stored = escape(text);
            assert!(!stored.contains('\0'), "{text:?} stored as {stored:?}");
            assert_eq!(unescape(stored.into_owned()), text, "{text:?}");
        }
    }

    #[test]
    fn clean_text_is_neither_copied_nor_changed() {
        assert!(matches!(escape("no escape here"), Cow::Borrowed(_)));
        assert_eq!(escape("a\0b"), "a\u{10}0b");
        assert_eq!(escape("a\u{10}b"), "a\u{10}\u{10}b");
    }

    #[test]
    fn a_stray_escape_character_is_kept_rather_than_lost() {
        assert_eq!(unescape("a\u{10}x".into()), "a\u{10}x");
        assert_eq!(unescape("trailing \u{10}".into()), "trailing \u{10}");
    }
}
