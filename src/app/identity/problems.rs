//! Problems with an identity request's fields, reported all at once as a `ValidationError`
//! whose details name each field.

use crate::app::error::ServiceError;
use crate::domain::validation::{Problem, ValidationError};

#[derive(Default)]
pub(super) struct FieldProblems(Vec<Problem>);

impl FieldProblems {
    /// `value` when `checked` is fine; otherwise the problem is noted under `field`.
    pub(super) fn check<T>(&mut self, field: &str, checked: Result<T, String>) -> Option<T> {
        match checked {
            Ok(value) => Some(value),
            Err(problem) => {
                self.0.push(Problem { node_id: None, path: field.into(), problem });
                None
            }
        }
    }

    pub(super) fn note(&mut self, field: &str, problem: String) {
        self.0.push(Problem { node_id: None, path: field.into(), problem });
    }

    /// Every problem noted, as one error.
    pub(super) fn into_result(self) -> Result<(), ServiceError> {
        if self.0.is_empty() { Ok(()) } else { Err(ServiceError::Validation(ValidationError { problems: self.0 })) }
    }
}
