//! Uploaded files: images and documents a workspace stores for later use (a Vision node's
//! `image_input`, an LLM node's `images`), known by id, with the type their bytes showed.

use chrono::{DateTime, Utc};

/// An uploaded file's description (its bytes are kept beside it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileInfo {
    pub id: uuid::Uuid,
    /// As the uploader named it (for people; never used as a path).
    pub name: String,
    /// Sniffed from the bytes (`image/png`, `application/pdf`, `text/plain`).
    pub content_type: String,
    /// Bytes.
    pub size: u64,
    pub created_at: DateTime<Utc>,
}

impl FileInfo {
    /// `file_<uuid>`: how workflows refer to it.
    #[must_use]
    pub fn handle(&self) -> String {
        format!("file_{}", self.id)
    }
}

/// The image type of `bytes` by their signature: PNG, JPEG, GIF, WebP, TIFF or BMP.
#[must_use]
pub fn sniff_image(bytes: &[u8]) -> Option<&'static str> {
    let starts = |magic: &[u8]| bytes.starts_with(magic);
    if starts(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if starts(b"\xff\xd8\xff") {
        Some("image/jpeg")
    } else if starts(b"GIF87a") || starts(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() >= 12 && starts(b"RIFF") && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else if starts(b"II*\0") || starts(b"MM\0*") {
        Some("image/tiff")
    } else if bytes.len() >= 26 && starts(b"BM") {
        Some("image/bmp")
    } else {
        None
    }
}

/// The type of an upload by its bytes: an image, a PDF, or UTF-8 text without NUL; `None` for
/// anything else (refused).
#[must_use]
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if let Some(image) = sniff_image(bytes) {
        return Some(image);
    }
    if bytes.starts_with(b"%PDF-") {
        return Some("application/pdf");
    }
    (!bytes.is_empty() && !bytes.contains(&0) && std::str::from_utf8(bytes).is_ok())
        .then_some("text/plain; charset=utf-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploads_are_known_by_their_first_bytes() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), Some("image/png"));
        assert_eq!(sniff(b"\xff\xd8\xff\xe0\0\x10JFIF"), Some("image/jpeg"));
        assert_eq!(sniff(b"GIF89a\x01\0"), Some("image/gif"));
        assert_eq!(sniff(b"RIFF\x10\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff(b"%PDF-1.7\n"), Some("application/pdf"));
        assert_eq!(sniff("naïve text".as_bytes()), Some("text/plain; charset=utf-8"));
        assert_eq!(sniff(b"\x00\x01binary"), None);
        assert_eq!(sniff(b"\xc3\x28"), None, "not UTF-8");
        assert_eq!(sniff_image(b"%PDF-1.7"), None);
    }
}
