//! Logging set-up: `OXIFY_LOG_LEVEL` (or `RUST_LOG` when set) as the filter, text or JSON lines
//! on stderr through the [`LogWriter`] queue, so that logging never fails, panics or blocks the
//! server whatever happens to stderr. Colour codes only on a terminal, and never with `NO_COLOR`.

use super::config::{Config, LogFormat};
use super::log_writer::LogWriter;
use std::io::IsTerminal;

/// Installs the global subscriber. Safe to call more than once (later calls do nothing).
/// The configuration should have been [checked](Config::checked): a bad filter falls back to `info`.
pub fn init(config: &Config) {
    let filter = config.log_filter(std::env::var("RUST_LOG").ok().as_deref());
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(LogWriter::global().clone())
        .with_ansi(colour)
        // The writer never fails; were it to, reporting it on stderr could only fail again.
        .log_internal_errors(false);
    let _ = match config.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
