//! Token usage and cost, per node (as its runner reported it) and summed per execution.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Tokens and cost of one call, or of several added up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub total_tokens: u64,
    /// `None` when no price is configured for a model that was used.
    pub cost_usd: Option<f64>,
}

impl Usage {
    /// The sum; a cost is only known if both are.
    #[must_use]
    pub fn plus(self, other: Self) -> Self {
        Self {
            input_tokens: self.input_tokens.saturating_add(other.input_tokens),
            output_tokens: self.output_tokens.saturating_add(other.output_tokens),
            total_tokens: self.total_tokens.saturating_add(other.total_tokens),
            cost_usd: match (self.cost_usd, other.cost_usd) {
                (Some(a), Some(b)) => Some(a + b),
                (a, b) if self.total_tokens == 0 => b.or(a),
                (a, _) if other.total_tokens == 0 => a,
                _ => None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unpriced_call_makes_the_total_cost_unknown() {
        let priced = Usage { input_tokens: 1, output_tokens: 1, total_tokens: 2, cost_usd: Some(1.0) };
        let unpriced = Usage { cost_usd: None, ..priced };
        assert_eq!(priced.plus(unpriced).cost_usd, None);
        assert_eq!(Usage::default().plus(priced).cost_usd, Some(1.0));
    }
}
