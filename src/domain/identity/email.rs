//! Email addresses as accounts are keyed by them: trimmed, lower-cased and checked for a
//! plausible shape (one `@`, a local part, a domain of DNS labels). Deliverability is not
//! checked: nothing here sends mail.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest address accepted, in bytes (RFC 5321's path limit less the angle brackets).
pub const MAX_EMAIL_LEN: usize = 254;

/// A normalised email address: `Ada@Example.COM ` and `ada@example.com` are one account.
///
/// The local part is lower-cased too although RFC 5321 lets a server tell case apart there: no
/// mail provider in practice does, and two accounts differing only in case would be a trap.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    /// The address `text` names, normalised.
    ///
    /// # Errors
    /// Why `text` is not an email address, in a sentence that does not repeat it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let address = text.trim().to_lowercase();
        if address.is_empty() {
            return Err("the email address is empty".into());
        }
        if address.len() > MAX_EMAIL_LEN {
            return Err(format!("the email address is longer than {MAX_EMAIL_LEN} bytes"));
        }
        let Some((local, domain)) = address.rsplit_once('@') else {
            return Err("the email address has no '@'".into());
        };
        if local.is_empty() || local.len() > 64 {
            return Err("the part of the email address before '@' must be 1 to 64 bytes".into());
        }
        if local.contains('@') || local.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(
                "the part of the email address before '@' holds a space, a control character or another '@'".into()
            );
        }
        if !is_domain(domain) {
            return Err("the part of the email address after '@' is not a domain name such as example.com".into());
        }
        Ok(Self(address))
    }

    /// An address as the store holds it (normalised when it was parsed).
    #[must_use]
    pub fn from_stored(address: String) -> Self {
        Self(address)
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// DNS labels of letters, digits and inner hyphens (internationalised names in their ASCII
/// `xn--` form), at least two of them: `localhost` alone is a typo more often than an address.
fn is_domain(domain: &str) -> bool {
    domain.len() <= 253
        && domain.split('.').count() >= 2
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_trimmed_and_lower_cased() {
        assert_eq!(Email::parse("  Ada.Lovelace+x@Example.COM ").unwrap().as_str(), "ada.lovelace+x@example.com");
        assert_eq!(Email::parse("a@b.co").unwrap(), Email::parse("A@B.CO").unwrap());
        assert_eq!(Email::parse("ü@xn--bcher-kva.example").unwrap().as_str(), "ü@xn--bcher-kva.example");
    }

    #[test]
    fn malformed_addresses_are_refused_with_the_reason() {
        for (bad, reason) in [
            ("", "empty"),
            ("ada", "no '@'"),
            ("@example.com", "before '@'"),
            ("a b@example.com", "before '@'"),
            ("ada@", "after '@'"),
            ("ada@localhost", "after '@'"),
            ("ada@exa_mple.com", "after '@'"),
            ("ada@-x.com", "after '@'"),
            ("ada@example..com", "after '@'"),
        ] {
            let err = Email::parse(bad).unwrap_err();
            assert!(err.contains(reason), "{bad:?}: {err}");
        }
        assert!(Email::parse(&format!("{}@example.com", "a".repeat(65))).is_err());
        assert!(Email::parse(&format!("a@{}.com", "b".repeat(250))).is_err());
    }
}
