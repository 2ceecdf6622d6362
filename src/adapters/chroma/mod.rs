//! Collections on a Chroma server, over its v2 HTTP API (tenants, databases, collections).

mod client;
mod index;
mod naming;

pub use index::ChromaIndex;
