//! An idempotency key as a client sends it, and the namespace keys are unique in.

use std::fmt;

/// Longest key accepted, in characters (as Stripe's keys; a UUID needs 36).
pub const MAX_KEY_LEN: usize = 255;

/// A client's name for one request, so that sending the request again does not do it again:
/// 1 to [`MAX_KEY_LEN`] visible ASCII characters (`!` to `~`), compared exactly.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// A key from its bytes, or why they are not one.
    ///
    /// # Errors
    /// A message saying what is wrong: empty, too long, or a byte that is not visible ASCII.
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        const RULE: &str = "use 1 to 255 visible ASCII characters (`!` to `~`), such as a UUID";
        if bytes.is_empty() {
            return Err(format!("Idempotency-Key is empty: {RULE}"));
        }
        if bytes.len() > MAX_KEY_LEN {
            return Err(format!("Idempotency-Key is {} bytes long, more than {MAX_KEY_LEN}: {RULE}", bytes.len()));
        }
        if let Some(at) = bytes.iter().position(|b| !b.is_ascii_graphic()) {
            let what = match bytes[at] {
                b' ' => "a space".to_owned(),
                b if b.is_ascii_control() => format!("the control character 0x{b:02x}"),
                b => format!("the non-ASCII byte 0x{b:02x}"),
            };
            return Err(format!("Idempotency-Key has {what} at position {}: {RULE}", at + 1));
        }
        // Every byte is visible ASCII, hence valid UTF-8.
        String::from_utf8(bytes.to_vec()).map(Self).map_err(|e| format!("Idempotency-Key is not text: {e}"))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The namespace a key is unique in: the workspace, so that two tenants' keys never meet. Within
/// it, a key names one request, whichever workflow it was sent to (the fingerprint binds it to
/// that workflow). Stores keep it in a column of its own, as text.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyScope(String);

impl KeyScope {
    /// The namespace of one workspace.
    #[must_use]
    pub fn of(workspace: crate::domain::ids::WorkspaceId) -> Self {
        Self(workspace.to_string())
    }

    /// A scope as a store keeps it.
    #[must_use]
    pub fn from_stored(text: String) -> Self {
        Self(text)
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visible_ascii_keys_of_one_to_255_characters_are_taken_as_they_are() {
        for key in ["a", "8e03978e-40d5-43e8-bc93-6894a57f9324", "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", &"k".repeat(255)]
        {
            assert_eq!(IdempotencyKey::parse(key.as_bytes()).unwrap().as_str(), key);
        }
    }

    #[test]
    fn an_empty_or_overlong_key_is_refused_with_the_rule() {
        let empty = IdempotencyKey::parse(b"").unwrap_err();
        assert!(empty.contains("empty") && empty.contains("1 to 255 visible ASCII"), "{empty}");
        let long = IdempotencyKey::parse("k".repeat(256).as_bytes()).unwrap_err();
        assert!(long.contains("256 bytes long"), "{long}");
    }

    #[test]
    fn spaces_controls_and_non_ascii_are_refused_naming_the_position() {
        let space = IdempotencyKey::parse(b"a b").unwrap_err();
        assert!(space.contains("a space at position 2"), "{space}");
        let tab = IdempotencyKey::parse(b"ab\t").unwrap_err();
        assert!(tab.contains("control character 0x09 at position 3"), "{tab}");
        let umlaut = IdempotencyKey::parse("ü".as_bytes()).unwrap_err();
        assert!(umlaut.contains("non-ASCII byte 0xc3 at position 1"), "{umlaut}");
        assert!(IdempotencyKey::parse(b"del\x7f").is_err());
    }

    #[test]
    fn keys_compare_exactly() {
        assert_ne!(IdempotencyKey::parse(b"Key").unwrap(), IdempotencyKey::parse(b"key").unwrap());
    }
}
