//! The `runtime` names a Code node may give, and the language each means.

/// A script language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Language {
    /// The seed's `rhai` and `rust` runtimes (both ran Rhai).
    Rhai,
    /// `javascript` (or `js`): QuickJS.
    JavaScript,
}

/// The runtimes accepted, for messages.
pub const RUNTIMES: &str = "rhai, rust (Rhai, as in the seed) or javascript";

impl Language {
    /// The language of a node's `runtime` (case and surrounding blanks ignored).
    ///
    /// # Errors
    /// A runtime this server does not have, named, with the ones it has.
    pub fn of(runtime: &str) -> Result<Self, String> {
        match runtime.trim().to_ascii_lowercase().as_str() {
            "rhai" | "rust" => Ok(Self::Rhai),
            "javascript" | "js" => Ok(Self::JavaScript),
            "wasm" => Err(format!("runtime 'wasm' is not available on this server; expected {RUNTIMES}")),
            _ => Err(format!("unknown runtime '{runtime}'; expected {RUNTIMES}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_runtimes_are_rhai_and_javascript_is_quickjs() {
        assert_eq!(Language::of("rust"), Ok(Language::Rhai));
        assert_eq!(Language::of(" Rhai "), Ok(Language::Rhai));
        assert_eq!(Language::of("javascript"), Ok(Language::JavaScript));
        assert_eq!(Language::of("js"), Ok(Language::JavaScript));
        assert!(Language::of("python").unwrap_err().starts_with("unknown runtime 'python'"));
        assert!(Language::of("wasm").unwrap_err().contains("not available"));
    }
}
