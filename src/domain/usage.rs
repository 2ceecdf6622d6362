//! Token usage and cost, per node (from its output's `usage`) and summed per execution.

use serde::{Deserialize, Serialize};
use serde_json::Value;
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
    /// The `usage` of a node output, if it reports one.
    #[must_use]
    pub fn of_output(output: &Value) -> Option<Self> {
        let usage = output.get("usage").filter(|u| u.is_object())?;
        let n = |k: &str| usage.get(k).and_then(Value::as_u64).unwrap_or(0);
        let (input, out) = (n("input_tokens"), n("output_tokens"));
        let total = usage.get("total_tokens").and_then(Value::as_u64).unwrap_or(input.saturating_add(out));
        Some(Self {
            input_tokens: input,
            output_tokens: out,
            total_tokens: total,
            cost_usd: usage.get("cost_usd").and_then(Value::as_f64),
        })
    }

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

    /// The sum over outputs that report usage.
    pub fn total<'a>(outputs: impl IntoIterator<Item = &'a Value>) -> Option<Self> {
        outputs.into_iter().filter_map(Self::of_output).reduce(Self::plus)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn usage_is_read_from_outputs_and_summed() {
        let a = json!({"usage": {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15, "cost_usd": 0.5}});
        let b = json!({"usage": {"input_tokens": 1, "output_tokens": 1, "cost_usd": 0.25}});
        let c = json!({"response": "no usage here"});
        let sum = Usage::total([&a, &b, &c]).unwrap();
        assert_eq!((sum.input_tokens, sum.output_tokens, sum.total_tokens), (11, 6, 17));
        assert_eq!(sum.cost_usd, Some(0.75));
        assert_eq!(Usage::total([&c]), None);
    }

    #[test]
    fn an_unpriced_call_makes_the_total_cost_unknown() {
        let priced = Usage { input_tokens: 1, output_tokens: 1, total_tokens: 2, cost_usd: Some(1.0) };
        let unpriced = Usage { cost_usd: None, ..priced };
        assert_eq!(priced.plus(unpriced).cost_usd, None);
        assert_eq!(Usage::default().plus(priced).cost_usd, Some(1.0));
    }
}
