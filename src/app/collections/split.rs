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

/// Chunks per segment: the splitter's time grows faster than linearly with the text it is given
/// (a 200 KB text without sentence breaks took seconds), so long texts go to it in segments of
/// about this many chunks, cut at a paragraph, line or word break.
const SEGMENT_CHUNKS: usize = 8;

/// The chunks of `text`, trimmed, in order. Time is linear in the text's length.
#[must_use]
pub fn split(text: &str, size: usize, overlap: usize) -> Vec<String> {
    let config = ChunkConfig::new(size).with_overlap(overlap).unwrap_or_else(|_| ChunkConfig::new(size));
    let splitter = TextSplitter::new(config);
    segments(text, size.saturating_mul(SEGMENT_CHUNKS))
        .flat_map(|segment| splitter.chunks(segment).map(str::to_owned).collect::<Vec<_>>())
        .filter(|c| !c.trim().is_empty())
        .collect()
}

/// `text` in consecutive pieces of at most about `max` characters (at least one character),
/// each ending at the last paragraph break, else line break, else whitespace of its window.
fn segments(text: &str, max: usize) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let window_end = rest.char_indices().nth(max.max(1)).map_or(rest.len(), |(i, _)| i);
        let cut = if window_end == rest.len() {
            rest.len()
        } else {
            let window = &rest[..window_end];
            ["\n\n", "\n"]
                .iter()
                .find_map(|brk| window.rfind(brk).filter(|&i| i > 0).map(|i| i + brk.len()))
                .or_else(|| window.rfind(char::is_whitespace).filter(|&i| i > 0).map(|i| i + 1))
                .unwrap_or(window_end)
        };
        let (segment, tail) = rest.split_at(cut);
        rest = tail;
        Some(segment)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_texts_without_breaks_split_in_segments_and_lose_nothing() {
        let text = "word ".repeat(20_000);
        let chunks = split(&text, 100, 10);
        assert!(chunks.iter().all(|c| c.chars().count() <= 100));
        let words: usize = chunks.iter().map(|c| c.split_whitespace().count()).sum();
        assert!(words >= 20_000, "every word is in some chunk (overlap repeats some): {words}");
        let pieces: Vec<&str> = segments("aaaa\n\nbbbb cccc dddd", 10).collect();
        assert_eq!(pieces.concat(), "aaaa\n\nbbbb cccc dddd");
        assert_eq!(pieces[0], "aaaa\n\n");
        let unbroken: Vec<&str> = segments("é".repeat(25).as_str(), 10).map(|_| "").collect();
        assert_eq!(unbroken.len(), 3, "a text without breaks is cut at the window");
    }

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
