//! Storage adapters, one per backend.

mod memory;

pub use memory::InMemoryStore;
