//! Why the server could not start (or stopped serving), in one line for stderr.

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("unsupported database URL {0}: expected sqlite://, postgres:// or memory://")]
    UnsupportedDatabase(String),
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("cannot open database {url}: {reason}")]
    Database { url: String, reason: String },
    #[error("cannot listen on {address}: {source}")]
    Bind { address: String, source: std::io::Error },
    #[error("server error: {0}")]
    Serve(#[from] std::io::Error),
}
