//! The workflow document: model, node kinds and their configs.

mod model;
mod node_kind;

pub use model::*;
pub use node_kind::*;
