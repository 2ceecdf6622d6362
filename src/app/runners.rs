//! Which runner serves which node kind. Kinds without one fail with `NodeKindUnavailable`.

use crate::ports::NodeRunner;
use std::collections::HashMap;
use std::sync::Arc;

/// Runners by node kind name (`"LLM"`, `"Code"`, ...).
#[derive(Clone, Default)]
pub struct RunnerRegistry {
    runners: HashMap<String, Arc<dyn NodeRunner>>,
}

impl RunnerRegistry {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Serves `kind` with `runner`, replacing any earlier one.
    #[must_use]
    pub fn with(mut self, kind: &str, runner: Arc<dyn NodeRunner>) -> Self {
        self.runners.insert(kind.to_owned(), runner);
        self
    }

    #[must_use]
    pub fn get(&self, kind: &str) -> Option<Arc<dyn NodeRunner>> {
        self.runners.get(kind).cloned()
    }
}
