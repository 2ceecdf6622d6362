//! Pausing and resuming a run by hand: a request is a signal in the run's log, so it reaches the
//! run wherever it is (running here, on another process, or parked). A paused run starts no node
//! until resumed; its running attempts finish, then it parks holding nothing.

use super::error::ServiceError;
use super::executions::ExecutionService;
use crate::domain::access::Scope;
use crate::domain::execution::Execution;
use crate::domain::ids::ExecutionId;
use crate::domain::run::RunEvent;

impl ExecutionService {
    /// Asks execution `id` to pause; `by` names who asks (as the audit log does). Returns the
    /// execution as it was when asked (the run parks shortly after, `execution_paused`).
    ///
    /// # Errors
    /// `NotFound`; `Conflict` when the execution already ended.
    pub async fn pause(&self, scope: Scope, id: ExecutionId, by: String) -> Result<Execution, ServiceError> {
        self.request(scope, id, RunEvent::PauseRequested { by }, "paused").await
    }

    /// Asks execution `id`, paused by hand, to go on. Harmless on a run that is not paused.
    ///
    /// # Errors
    /// `NotFound`; `Conflict` when the execution already ended.
    pub async fn resume(&self, scope: Scope, id: ExecutionId, by: String) -> Result<Execution, ServiceError> {
        self.request(scope, id, RunEvent::ResumeRequested { by }, "resumed").await
    }

    async fn request(
        &self,
        scope: Scope,
        id: ExecutionId,
        event: RunEvent,
        verb: &str,
    ) -> Result<Execution, ServiceError> {
        let (execution, _) = self.get(scope, id).await?;
        if execution.state.is_terminal() || !self.signal(scope, id, event).await? {
            let (now, _) = self.get(scope, id).await?;
            return Err(ServiceError::Conflict(format!(
                "execution {id} is {} already: it cannot be {verb}",
                now.state
            )));
        }
        Ok(execution)
    }
}
