//! A call's reservation against the execution's budget: taken before the call goes out, settled
//! with what the call really used, and given back if the call fails or is cancelled (on drop), so
//! a budget never stays blocked by a call that did not happen.

use crate::domain::budget::{Budget, Reserved};
use crate::domain::usage::Usage;
use crate::ports::RunnerError;
use std::sync::{Arc, Mutex, PoisonError};

/// A call's share of the execution's budget, given back unless the call settles it.
pub(crate) struct Reservation {
    budget: Arc<Mutex<Budget>>,
    reserved: Option<Reserved>,
}

impl Reservation {
    pub(crate) fn take(budget: &Arc<Mutex<Budget>>, tokens: u64, cost: Option<f64>) -> Result<Self, RunnerError> {
        let reserved = budget
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .reserve(tokens, cost)
            .map_err(RunnerError::Permanent)?;
        Ok(Self { budget: budget.clone(), reserved: Some(reserved) })
    }

    pub(crate) fn settle(mut self, used: Usage) {
        if let Some(r) = self.reserved.take() {
            self.budget.lock().unwrap_or_else(PoisonError::into_inner).settle(r, used);
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if let Some(r) = self.reserved.take() {
            self.budget.lock().unwrap_or_else(PoisonError::into_inner).release(r);
        }
    }
}
