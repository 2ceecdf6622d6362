//! Vector collections: the use cases, the in-process index, and document splitting.

mod index;
mod service;
mod split;

pub use index::{Entry, FlatIndex, Hit};
pub use service::{
    CollectionService, CollectionStats, Document, MAX_DOCUMENTS, NewCollection, Payer, Query, Search, Upserted,
};
pub use split::{DEFAULT_CHUNK_OVERLAP, DEFAULT_CHUNK_SIZE, MAX_CHUNK_SIZE};
