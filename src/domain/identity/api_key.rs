//! API keys as their owners hold them: `oxk_<prefix>_<secret>`, where the prefix (10 characters)
//! finds the key's record and the whole key's SHA-256 is compared, in constant time, with the
//! hash stored there. The key itself is never stored.

use sha2::{Digest, Sha256};
use std::fmt;
use subtle::ConstantTimeEq;

/// What every API key starts with, so that leaked keys are easy to recognise (secret scanners)
/// and a bearer token is told from a JWT at a glance.
pub const KEY_TAG: &str = "oxk_";
/// Characters of a key's prefix: 50 random bits, unique among the server's keys.
pub const PREFIX_LEN: usize = 10;
/// Characters of a key's secret part: 200 random bits.
pub const SECRET_LEN: usize = 40;
/// Random bytes a key is made of, one per character.
pub const RANDOM_BYTES: usize = PREFIX_LEN + SECRET_LEN;

/// Lower-case letters and digits without look-alikes' ambiguity (RFC 4648 base32): one
/// character per 5 random bits, so taking `byte & 31` has no bias.
const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// A whole API key. `Debug` shows only its prefix, so that it cannot reach a log by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKeySecret(String);

/// SHA-256 of a whole key, as stored.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct KeyHash(pub [u8; 32]);

impl KeyHash {
    /// Whether `other` is the same hash, taking the same time wherever they differ.
    #[must_use]
    pub fn matches(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyHash(..)")
    }
}

impl ApiKeySecret {
    /// A key made of `random` (from a cryptographically secure source).
    #[must_use]
    pub fn from_random(random: &[u8; RANDOM_BYTES]) -> Self {
        let mut key = String::with_capacity(KEY_TAG.len() + RANDOM_BYTES + 1);
        key.push_str(KEY_TAG);
        for (i, byte) in random.iter().enumerate() {
            if i == PREFIX_LEN {
                key.push('_');
            }
            key.push(char::from(ALPHABET[usize::from(byte & 31)]));
        }
        Self(key)
    }

    /// A key as a client sent it.
    ///
    /// # Errors
    /// Why `text` is not an API key of this server, without repeating it.
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        let rest = text.strip_prefix(KEY_TAG).ok_or("an API key starts with oxk_")?;
        let (prefix, secret) = rest.split_once('_').ok_or("an API key reads oxk_<prefix>_<secret>")?;
        let well_formed = |part: &str, len: usize| part.len() == len && part.bytes().all(|b| ALPHABET.contains(&b));
        if !well_formed(prefix, PREFIX_LEN) || !well_formed(secret, SECRET_LEN) {
            return Err("this is not an API key of this server (wrong length or characters)");
        }
        Ok(Self(text.to_owned()))
    }

    /// Whether a bearer token looks like an API key rather than a JWT.
    #[must_use]
    pub fn looks_like_key(token: &str) -> bool {
        token.starts_with(KEY_TAG)
    }

    /// The part that finds the key's record, and that lists show.
    #[must_use]
    pub fn prefix(&self) -> &str {
        &self.0[KEY_TAG.len()..KEY_TAG.len() + PREFIX_LEN]
    }

    #[must_use]
    pub fn hash(&self) -> KeyHash {
        KeyHash(Sha256::digest(self.0.as_bytes()).into())
    }

    /// The whole key, to hand to its owner once.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKeySecret({KEY_TAG}{}_..)", self.prefix())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> ApiKeySecret {
        let mut random = [0u8; RANDOM_BYTES];
        for (i, b) in random.iter_mut().enumerate() {
            *b = seed.wrapping_mul(31).wrapping_add(u8::try_from(i).unwrap().wrapping_mul(7));
        }
        ApiKeySecret::from_random(&random)
    }

    #[test]
    fn keys_read_back_as_they_were_made() {
        let k = key(3);
        assert_eq!(k.expose().len(), KEY_TAG.len() + PREFIX_LEN + 1 + SECRET_LEN);
        let parsed = ApiKeySecret::parse(k.expose()).unwrap();
        assert_eq!(parsed, k);
        assert_eq!(parsed.prefix(), &k.expose()[4..14]);
        assert!(parsed.hash().matches(&k.hash()));
        assert!(!key(4).hash().matches(&k.hash()));
        assert!(ApiKeySecret::looks_like_key(k.expose()));
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let k = key(9);
        let shown = format!("{k:?}");
        assert!(shown.contains(k.prefix()));
        assert!(!shown.contains(&k.expose()[15..]), "{shown}");
    }

    #[test]
    fn malformed_keys_are_refused() {
        let k = key(1);
        let text = k.expose();
        for bad in [
            "",
            "eyJhbGciOi.x.y",
            "oxk_",
            "oxk_abc",
            &text[..text.len() - 1],
            &format!("{text}a"),
            &text.replace("oxk_", "OXK_"),
            &format!("oxk_{}_{}", "A".repeat(PREFIX_LEN), "a".repeat(SECRET_LEN)),
            &format!("oxk_{}_{}", "a".repeat(PREFIX_LEN), "1".repeat(SECRET_LEN)),
        ] {
            assert!(ApiKeySecret::parse(bad).is_err(), "{bad:?}");
        }
    }
}
