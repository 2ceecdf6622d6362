//! Display names (of users, workspaces and API keys): trimmed, not empty, not too long, no
//! control characters, so that lists and logs show them as given.

/// Longest workspace name, in characters.
pub const MAX_WORKSPACE_NAME: usize = 100;
/// Longest user name, in characters.
pub const MAX_USER_NAME: usize = 200;
/// Longest API key name, in characters.
pub const MAX_KEY_NAME: usize = 100;

/// `text` trimmed, when it is a usable name of at most `max` characters; `what` names the field
/// in the error (`"name"`, `"workspace name"`).
///
/// # Errors
/// Why the name is refused.
pub fn display_name(text: &str, what: &str, max: usize) -> Result<String, String> {
    let name = text.trim();
    if name.is_empty() {
        return Err(format!("the {what} is empty"));
    }
    if name.chars().count() > max {
        return Err(format!("the {what} is longer than {max} characters"));
    }
    if name.chars().any(char::is_control) {
        return Err(format!("the {what} holds a control character"));
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::display_name;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(display_name("  Ada  ", "name", 10).unwrap(), "Ada");
        assert!(display_name("   ", "name", 10).unwrap_err().contains("empty"));
        assert!(display_name("abcdefghijk", "name", 10).unwrap_err().contains("longer than 10"));
        assert!(display_name("a\u{7}b", "name", 10).unwrap_err().contains("control"));
    }
}
