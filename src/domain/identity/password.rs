//! What a password must be (NIST SP 800-63B: a minimum length, a generous maximum, any
//! characters, no composition rules), checked before it is hashed.

use super::email::Email;

/// Fewest characters a password may have.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Most bytes a password may have: long enough for any passphrase, short enough that hashing
/// one cannot be made expensive by its length.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Why `password` cannot be the password of the account of `email`, or `None` when it can. The
/// sentence never repeats the password.
#[must_use]
pub fn password_problem(password: &str, email: &Email) -> Option<String> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Some(format!("the password must have at least {MIN_PASSWORD_CHARS} characters"));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Some(format!("the password must have at most {MAX_PASSWORD_BYTES} bytes"));
    }
    if password.trim().is_empty() {
        return Some("the password must not be only spaces".into());
    }
    if password.chars().any(char::is_control) {
        return Some("the password must not hold control characters (a pasted line break?)".into());
    }
    if password.trim().to_lowercase() == email.as_str() {
        return Some("the password must not be the email address".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_long_blank_control_and_email_passwords_are_refused() {
        let email = Email::parse("ada@example.com").unwrap();
        assert_eq!(password_problem("correct horse", &email), None);
        assert_eq!(password_problem("ÄÖÜäöüß€", &email), None, "eight characters, more bytes");
        for (bad, reason) in [
            ("short", "at least 8"),
            ("        ", "only spaces"),
            ("line\nbreak!", "control"),
            ("ADA@example.com", "email"),
        ] {
            assert!(password_problem(bad, &email).unwrap().contains(reason), "{bad:?}");
        }
        assert!(password_problem(&"x".repeat(1025), &email).unwrap().contains("at most 1024"));
    }
}
