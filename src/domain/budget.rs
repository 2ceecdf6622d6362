//! An execution's spending limit on model calls: tokens and dollars. Calls reserve their
//! estimated cost before they go, so concurrent calls cannot overshoot together, and settle with
//! what they really used.

use super::usage::Usage;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The limits an execute request may set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BudgetLimits {
    /// Most tokens (input + output) all model calls of the execution may use.
    pub max_tokens: Option<u64>,
    /// Most dollars all model calls may cost (needs prices for the models used).
    pub max_cost_usd: Option<f64>,
}

impl BudgetLimits {
    #[must_use]
    pub fn is_unlimited(&self) -> bool {
        self.max_tokens.is_none() && self.max_cost_usd.is_none()
    }

    /// Why the limits make no sense, if they don't.
    #[must_use]
    pub fn problem(&self) -> Option<String> {
        if self.max_tokens == Some(0) {
            return Some("max_tokens must be at least 1".into());
        }
        match self.max_cost_usd {
            Some(c) if !c.is_finite() || c <= 0.0 => Some("max_cost_usd must be a positive number".into()),
            _ => None,
        }
    }
}

/// What a call set aside until it settles.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Reserved {
    tokens: u64,
    cost: f64,
}

/// Spending so far against the limits.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Budget {
    limits: BudgetLimits,
    spent: Usage,
    reserved: Reserved,
}

impl Budget {
    #[must_use]
    pub fn new(limits: BudgetLimits, spent: Usage) -> Self {
        Self { limits, spent, reserved: Reserved::default() }
    }

    /// Sets aside an estimated call: `tokens`, costing `cost` dollars when the price is known.
    ///
    /// # Errors
    /// Why the call would break a limit.
    pub fn reserve(&mut self, tokens: u64, cost: Option<f64>) -> Result<Reserved, String> {
        if let Some(max) = self.limits.max_tokens {
            let committed = self.spent.total_tokens.saturating_add(self.reserved.tokens);
            if committed.saturating_add(tokens) > max {
                return Err(format!(
                    "budget exceeded: this call could use about {tokens} tokens, and {} of max_tokens {max} remain",
                    max.saturating_sub(committed)
                ));
            }
        }
        let cost_value = match (self.limits.max_cost_usd, cost) {
            (Some(_), None) => {
                return Err(
                    "cannot keep to max_cost_usd: no price is configured for this model (OXIFY_LLM_PRICES)".into()
                );
            }
            (Some(max), Some(cost)) => {
                let committed = self.spent.cost_usd.unwrap_or(0.0) + self.reserved.cost;
                if committed + cost > max {
                    return Err(format!(
                        "budget exceeded: this call could cost about ${cost:.6}, and ${:.6} of max_cost_usd {max} remain",
                        (max - committed).max(0.0)
                    ));
                }
                cost
            }
            (None, c) => c.unwrap_or(0.0),
        };
        let r = Reserved { tokens, cost: cost_value };
        self.reserved.tokens = self.reserved.tokens.saturating_add(r.tokens);
        self.reserved.cost += r.cost;
        Ok(r)
    }

    /// A reserved call finished and used `actual`.
    pub fn settle(&mut self, r: Reserved, actual: Usage) {
        self.release(r);
        self.spent = self.spent.plus(actual);
    }

    /// A reserved call did not happen or failed.
    pub fn release(&mut self, r: Reserved) {
        self.reserved.tokens = self.reserved.tokens.saturating_sub(r.tokens);
        self.reserved.cost = (self.reserved.cost - r.cost).max(0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn used(tokens: u64, cost: f64) -> Usage {
        Usage { input_tokens: tokens, output_tokens: 0, total_tokens: tokens, cost_usd: Some(cost) }
    }

    #[test]
    fn a_call_that_would_pass_max_tokens_is_refused_before_it_goes() {
        let mut b = Budget::new(BudgetLimits { max_tokens: Some(1000), max_cost_usd: None }, used(600, 0.0));
        let r = b.reserve(300, None).unwrap();
        let err = b.reserve(200, None).unwrap_err();
        assert!(err.contains("100 of max_tokens 1000 remain"), "{err}");
        b.settle(r, used(50, 0.0));
        assert!(b.reserve(300, None).is_ok(), "settling frees what the call did not use");
    }

    #[test]
    fn max_cost_needs_a_price_and_is_kept() {
        let mut b = Budget::new(BudgetLimits { max_tokens: None, max_cost_usd: Some(0.01) }, Usage::default());
        assert!(b.reserve(10, None).unwrap_err().contains("no price"));
        let r = b.reserve(10, Some(0.008)).unwrap();
        assert!(b.reserve(10, Some(0.008)).unwrap_err().starts_with("budget exceeded"));
        b.release(r);
        assert!(b.reserve(10, Some(0.008)).is_ok());
    }

    #[test]
    fn without_limits_anything_goes_and_nonsense_limits_are_named() {
        assert!(Budget::default().reserve(u64::MAX / 2, None).is_ok());
        assert!(BudgetLimits { max_tokens: Some(0), max_cost_usd: None }.problem().is_some());
        assert!(BudgetLimits { max_tokens: None, max_cost_usd: Some(-1.0) }.problem().is_some());
    }
}
