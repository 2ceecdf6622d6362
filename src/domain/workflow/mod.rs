//! The workflow document: model, node kinds and their configs, and the kinds' tags.

mod kind_tag;
mod model;
mod node_kind;

pub use kind_tag::*;
pub use model::*;
pub use node_kind::*;
