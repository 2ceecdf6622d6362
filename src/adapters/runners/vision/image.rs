//! Images as a Vision node (or an LLM node's `images`) receives them: where they come from
//! (a URL, base64 data, an uploaded file's id) and what they are, told by their first bytes
//! rather than by any name or header.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Largest image accepted, in bytes.
pub const MAX_IMAGE_BYTES: usize = 20 * 1024 * 1024;

/// Where an image is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// `http://` or `https://`, fetched through the SSRF guard.
    Url(String),
    /// Decoded from a `data:` URL or plain base64.
    Bytes(Vec<u8>),
    /// An uploaded file of the workspace (`file_<uuid>` or a bare UUID).
    File(uuid::Uuid),
}

/// Where `text` says the image is.
///
/// # Errors
/// Text that is none of a URL, a file id, a `data:` URL or base64, in a sentence saying which
/// forms are accepted.
pub fn source(text: &str) -> Result<Source, String> {
    let text = text.trim();
    let lower = text.get(..8).unwrap_or(text).to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return Ok(Source::Url(text.to_owned()));
    }
    if let Some(id) = file_id(text) {
        return Ok(Source::File(id));
    }
    let data = if lower.starts_with("data:") {
        let (_, payload) = text
            .split_once(";base64,")
            .ok_or_else(|| "a data: URL for an image must be base64 (data:image/png;base64,...)".to_owned())?;
        payload
    } else {
        text
    };
    let cleaned: String = data.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    if cleaned.len() > MAX_IMAGE_BYTES / 3 * 4 + 4 {
        return Err(format!("the image is larger than {MAX_IMAGE_BYTES} bytes"));
    }
    STANDARD.decode(cleaned.as_bytes()).map(Source::Bytes).map_err(|_| {
        "image_input is neither an http(s) URL, an uploaded file's id (file_...), a data: URL nor base64".to_owned()
    })
}

/// `file_<uuid>` or a bare UUID.
#[must_use]
pub fn file_id(text: &str) -> Option<uuid::Uuid> {
    uuid::Uuid::parse_str(text.strip_prefix("file_").unwrap_or(text)).ok()
}

pub use crate::domain::files::sniff_image as sniff;

/// `bytes` as a `data:` URL of their type.
#[must_use]
pub fn data_url(mime: &str, bytes: &[u8]) -> String {
    format!("data:{mime};base64,{}", STANDARD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

    #[test]
    fn sources_are_told_apart() {
        assert_eq!(source(" https://example.com/a.png ").unwrap(), Source::Url("https://example.com/a.png".into()));
        let id = uuid::Uuid::now_v7();
        assert_eq!(source(&format!("file_{id}")).unwrap(), Source::File(id));
        assert_eq!(source(&id.to_string()).unwrap(), Source::File(id));
        assert_eq!(source(&data_url("image/png", PNG)).unwrap(), Source::Bytes(PNG.to_vec()));
        assert_eq!(source(&STANDARD.encode(PNG)).unwrap(), Source::Bytes(PNG.to_vec()));
        assert!(source("not an image at all!").unwrap_err().contains("neither"));
        assert!(source("data:image/png,raw").unwrap_err().contains("base64"));
    }
}
