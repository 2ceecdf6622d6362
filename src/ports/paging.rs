//! Pagination of the stores' lists: newest first, continued from a cursor.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Position in a list ordered newest first: the creation time and id of the last item seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

/// Which page of a list to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRequest {
    /// Items at most; 0 asks for the total only.
    pub limit: u32,
    pub after: Option<Cursor>,
}

/// One page of a list, the number of items matching in all, and where the next page starts.
#[derive(Clone, Debug, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
    pub next: Option<Cursor>,
}
