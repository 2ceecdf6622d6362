//! Documents split into chunks with `text-splitter` (by characters, on the largest semantic
//! unit that fits: paragraphs, then sentences, then words).

use text_splitter::{ChunkConfig, TextSplitter};

/// Default characters per chunk.
pub const DEFAULT_CHUNK_SIZE: usize = 1000;
/// Default characters shared by neighbouring chunks.
pub const DEFAULT_CHUNK_OVERLAP: usize = 100;
/// Largest chunk size accepted.
pub const MAX_CHUNK_SIZE: usize = 16_000;

/// Why `size` and `overlap` cannot split text.
#[must_use]
pub fn problem(size: usize, overlap: usize) -> Option<String> {
    if size == 0 || size > MAX_CHUNK_SIZE {
        return Some(format!("chunk_size must be 1 to {MAX_CHUNK_SIZE} characters, got {size}"));
    }
    (overlap >= size).then(|| format!("chunk_overlap ({overlap}) must be smaller than chunk_size ({size})"))
}

/// The chunks of `text`, trimmed, in order.
#[must_use]
pub fn split(text: &str, size: usize, overlap: usize) -> Vec<String> {
    let config = ChunkConfig::new(size).with_overlap(overlap).unwrap_or_else(|_| ChunkConfig::new(size));
    TextSplitter::new(config).chunks(text).map(str::to_owned).filter(|c| !c.trim().is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_one_chunk_and_long_text_splits_within_size() {
        assert_eq!(split("Paris is in France.", 100, 10), ["Paris is in France."]);
        let long = "One sentence here. ".repeat(50);
        let chunks = split(&long, 100, 20);
        assert!(chunks.len() > 5);
        assert!(chunks.iter().all(|c| c.chars().count() <= 100));
        assert!(problem(10, 10).is_some() && problem(0, 0).is_some() && problem(100, 10).is_none());
    }
}
