//! Encryption of workspace secrets at rest, and where its key comes from.

pub mod cipher;
pub mod key_file;

pub use cipher::XChaCha;
