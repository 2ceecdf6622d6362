//! XChaCha20-Poly1305 (RFC 8439 AEAD with the extended 192-bit nonce, so random nonces are safe
//! for any number of values) from the RustCrypto `chacha20poly1305` crate.

use crate::ports::SecretCipher;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

/// Nonce bytes stored before each ciphertext.
const NONCE_LEN: usize = 24;

/// Seals with one 256-bit key; the sealed form is `nonce (24 bytes) || ciphertext || tag`.
pub struct XChaCha {
    aead: XChaCha20Poly1305,
}

impl XChaCha {
    #[must_use]
    pub fn new(key: &[u8; 32]) -> Self {
        Self { aead: XChaCha20Poly1305::new(key.into()) }
    }

    /// A cipher with a fresh random key (for storage that does not outlive the process).
    #[must_use]
    pub fn ephemeral() -> Self {
        Self { aead: XChaCha20Poly1305::new(&XChaCha20Poly1305::generate_key(&mut OsRng)) }
    }
}

impl SecretCipher for XChaCha {
    fn seal(&self, context: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        // Encryption with a valid key and nonce cannot fail for in-memory inputs of this size.
        let ciphertext = self.aead.encrypt(&nonce, Payload { msg: plaintext, aad: context }).unwrap_or_default();
        let mut sealed = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        sealed
    }

    fn open(&self, context: &[u8], sealed: &[u8]) -> Result<Vec<u8>, String> {
        if sealed.len() < NONCE_LEN {
            return Err("the stored value is too short to be sealed".into());
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| "the stored nonce is malformed".to_owned())?;
        self.aead.decrypt(&XNonce::from(nonce), Payload { msg: ciphertext, aad: context }).map_err(|_| {
            "it was sealed with another key (OXIFY_SECRETS_KEY or its key file changed) or was altered".to_owned()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_key_and_context() {
        let cipher = XChaCha::new(&[7; 32]);
        let sealed = cipher.seal(b"ws/NAME", b"hunter2-very-secret");
        assert!(!sealed.windows(7).any(|w| w == b"hunter2"), "no clear text in the sealed bytes");
        assert_eq!(cipher.open(b"ws/NAME", &sealed).unwrap(), b"hunter2-very-secret");
        assert!(cipher.open(b"ws/OTHER", &sealed).is_err(), "moved to another name");
        assert!(XChaCha::new(&[8; 32]).open(b"ws/NAME", &sealed).is_err(), "another key");
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(cipher.open(b"ws/NAME", &tampered).is_err());
        assert!(cipher.open(b"ws/NAME", &sealed[..10]).is_err());
        assert_ne!(cipher.seal(b"c", b"v"), cipher.seal(b"c", b"v"), "a fresh nonce each time");
    }
}
