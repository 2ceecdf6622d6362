//! The secrets key: from configuration (`OXIFY_SECRETS_KEY`, 32 bytes in base64), or from a key
//! file created on first start, readable only by its owner.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use std::io::Write;
use std::path::Path;

/// Decodes a configured key.
///
/// # Errors
/// A message when it is not 32 bytes in standard base64 (the message never shows the value).
pub fn decode(text: &str) -> Result<[u8; 32], String> {
    let bytes = STANDARD
        .decode(text.trim())
        .map_err(|_| "OXIFY_SECRETS_KEY is not base64 (generate one with: openssl rand -base64 32)".to_owned())?;
    bytes.try_into().map_err(|b: Vec<u8>| format!("OXIFY_SECRETS_KEY must be 32 bytes, not {}", b.len()))
}

/// The key in `path`, or a new random one written there (mode 0600) when the file is absent.
///
/// # Errors
/// A message when the file cannot be read or created, or does not hold a key.
pub fn load_or_create(path: &Path) -> Result<[u8; 32], String> {
    match std::fs::read_to_string(path) {
        Ok(text) => decode(&text).map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key: [u8; 32] = rand_key();
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options
                .open(path)
                .map_err(|e| format!("cannot create the secrets key file {}: {e}", path.display()))?;
            file.write_all(STANDARD.encode(key).as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(|e| format!("cannot write the secrets key file {}: {e}", path.display()))?;
            tracing::warn!(
                path = %path.display(),
                "created a new secrets key file: back it up with the database; without it, stored secrets cannot be read"
            );
            Ok(key)
        }
        Err(e) => Err(format!("cannot read the secrets key file {}: {e}", path.display())),
    }
}

fn rand_key() -> [u8; 32] {
    use chacha20poly1305::aead::{KeyInit, OsRng};
    chacha20poly1305::XChaCha20Poly1305::generate_key(&mut OsRng).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_file_is_created_once_owner_only_and_read_back() {
        let dir = std::env::temp_dir().join(format!("oxify-key-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("secrets.key");
        let first = load_or_create(&path).unwrap();
        assert_eq!(load_or_create(&path).unwrap(), first);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        std::fs::write(&path, "not a key").unwrap();
        assert!(load_or_create(&path).is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn configured_keys_must_be_32_bytes_of_base64() {
        assert_eq!(decode(&STANDARD.encode([1u8; 32])).unwrap(), [1u8; 32]);
        assert!(decode("short").is_err());
        assert!(decode(&STANDARD.encode([1u8; 16])).unwrap_err().contains("32 bytes"));
    }
}
