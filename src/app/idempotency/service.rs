//! The use case: execute a workflow at most once per idempotency key. The first request with a
//! key runs as any other and its answer is stored with the execution, in the same atomic write;
//! a retry with the same request gets that answer back, a different request with the key is
//! refused, and a request that failed left no trace, so its key is still free.

use super::first_write::KeyedFirstWrites;
use super::in_flight::InFlight;
use crate::app::error::ServiceError;
use crate::app::executions::ExecutionService;
use crate::domain::budget::BudgetLimits;
use crate::domain::execution::Execution;
use crate::domain::idempotency::{Fingerprint, IdempotencyKey, KeyScope};
use crate::domain::ids::{ExecutionId, WorkflowId};
use crate::ports::{Clock, IdempotencyRecord, IdempotencyStore};
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// How long a key answers for its request unless configured otherwise (as Stripe's).
pub const DEFAULT_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// How long a request waits for another request with its key to finish starting, before it is
/// told to retry (starting takes one durable write, normally milliseconds).
const IN_FLIGHT_WAIT: Duration = Duration::from_secs(10);

/// How often expired keys are purged, and how many per statement.
const PURGE_EVERY: Duration = Duration::from_secs(5 * 60);
const PURGE_BATCH: u32 = 1000;

/// An execute request with an idempotency key.
pub struct KeyedRequest {
    /// The caller's workspace: where the key is unique, and where the execution starts.
    pub scope: crate::domain::access::Scope,
    pub key: IdempotencyKey,
    pub workflow_id: WorkflowId,
    pub variables: Map<String, Value>,
    pub budget: BudgetLimits,
    /// Who asks (see [`crate::domain::execution::Execution::started_by`]).
    pub started_by: Option<String>,
}

/// What a keyed request got: its execution and the answer's body, new or stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyedStart {
    pub execution_id: ExecutionId,
    /// The answer's body, JSON text: the same on every retry.
    pub response: String,
    /// Whether this is a retry answered from the stored key (nothing was started).
    pub replayed: bool,
}

/// Starts executions at most once per key.
pub struct IdempotencyService {
    executions: Arc<ExecutionService>,
    keys: Arc<dyn IdempotencyStore>,
    first_writes: Arc<KeyedFirstWrites>,
    clock: Arc<dyn Clock>,
    ttl: TimeDelta,
    in_flight: InFlight,
}

impl IdempotencyService {
    /// `first_writes` must be the store the executor of `executions` writes through.
    #[must_use]
    pub fn new(
        executions: Arc<ExecutionService>,
        keys: Arc<dyn IdempotencyStore>,
        first_writes: Arc<KeyedFirstWrites>,
        clock: Arc<dyn Clock>,
        ttl: Duration,
    ) -> Self {
        // A lifetime too long to add to a date is as good as forever.
        let ttl = TimeDelta::from_std(ttl).unwrap_or(TimeDelta::MAX);
        Self { executions, keys, first_writes, clock, ttl, in_flight: InFlight::default() }
    }

    /// The same service with keys kept for `ttl`.
    #[must_use]
    pub fn with_ttl(&self, ttl: Duration) -> Self {
        let (executions, keys, first_writes) = (self.executions.clone(), self.keys.clone(), self.first_writes.clone());
        Self::new(executions, keys, first_writes, self.clock.clone(), ttl)
    }

    /// Starts the execution the request asks for, unless its key was used already: then the
    /// stored answer of the first request, if this is the same request. `render` makes the
    /// answer's body from the new execution; it is stored with the execution and never made
    /// again.
    ///
    /// # Errors
    /// As [`ExecutionService::start`] (and then the key stays unused); `IdempotencyKeyReused`
    /// when the key was used for another workflow or body; `Conflict` when another request with
    /// the key is still starting after a wait.
    pub async fn start(
        self: &Arc<Self>,
        request: KeyedRequest,
        render: impl FnOnce(&Execution) -> Result<String, serde_json::Error> + Send + 'static,
    ) -> Result<KeyedStart, ServiceError> {
        // On a task of its own, so that it runs to its end even when the client goes away: the
        // key rides the execution's first write, which the executor makes on its task, and must
        // stay ready for it until that write is done. Cancelled in between, the execution would
        // be stored without its key, and the client's retry would start a second one.
        let this = self.clone();
        let keyed = async move { this.start_once(request, render).await };
        tokio::spawn(keyed.instrument(tracing::Span::current()))
            .await
            .map_err(|e| ServiceError::Internal(format!("a keyed start did not finish: {e}")))?
    }

    #[tracing::instrument(skip_all, fields(workflow_id = %request.workflow_id, idempotency_key = %request.key))]
    async fn start_once(
        &self,
        request: KeyedRequest,
        render: impl FnOnce(&Execution) -> Result<String, serde_json::Error>,
    ) -> Result<KeyedStart, ServiceError> {
        let KeyedRequest { scope: workspace, key, workflow_id, variables, budget, started_by } = request;
        let scope = KeyScope::of(workspace.workspace());
        let fingerprint = Fingerprint::of_execute(workflow_id, &variables, &budget);
        let Some(_turn) = self.in_flight.take_turn((scope.clone(), key.clone()), IN_FLIGHT_WAIT).await else {
            return Err(still_starting(&key));
        };
        if let Some(first) = self.keys.find_key(&scope, &key, self.clock.now()).await? {
            return answer(first, &fingerprint, workflow_id);
        }
        let (execution, workflow) =
            self.executions.prepare(workspace, workflow_id, variables, budget, started_by).await?;
        let response =
            render(&execution).map_err(|e| ServiceError::Internal(format!("cannot render the answer: {e}")))?;
        let created_at = execution.created_at;
        let record = IdempotencyRecord {
            scope: scope.clone(),
            key: key.clone(),
            fingerprint: fingerprint.clone(),
            workflow_id,
            execution_id: execution.id,
            response: response.clone(),
            created_at,
            expires_at: created_at.checked_add_signed(self.ttl).unwrap_or(DateTime::<Utc>::MAX_UTC),
        };
        let _waiting = self.first_writes.expect(record);
        match self.executions.launch(execution, workflow).await {
            Ok(execution) => Ok(KeyedStart { execution_id: execution.id, response, replayed: false }),
            // The store refused the key: a request on another process sharing the database took
            // it meanwhile (this process's requests take turns), and nothing of ours was stored.
            // That request's answer is this one's.
            Err(ServiceError::Conflict(_)) => match self.keys.find_key(&scope, &key, self.clock.now()).await? {
                Some(first) => answer(first, &fingerprint, workflow_id),
                None => Err(still_starting(&key)),
            },
            Err(e) => Err(e),
        }
    }

    /// Deletes expired keys now and every few minutes until `stop` fires. Lookups ignore expired
    /// keys anyway; this only keeps the table small.
    pub fn spawn_purge(self: Arc<Self>, stop: CancellationToken) -> JoinHandle<()> {
        tokio::spawn(async move {
            let mut every = tokio::time::interval(PURGE_EVERY);
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    _ = every.tick() => {
                        self.purge().await;
                    }
                }
            }
        })
    }

    /// Deletes every key expired by now, a batch at a time; returns how many.
    pub async fn purge(&self) -> u64 {
        let mut purged = 0;
        loop {
            match self.keys.purge_expired_keys(self.clock.now(), PURGE_BATCH).await {
                Ok(n) => {
                    purged += n;
                    if n < u64::from(PURGE_BATCH) {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "purging expired idempotency keys failed; trying again later");
                    break;
                }
            }
        }
        if purged > 0 {
            tracing::debug!(purged, "expired idempotency keys purged");
        }
        purged
    }
}

/// The stored answer, when the request is the one the key was first used for.
fn answer(
    first: IdempotencyRecord,
    fingerprint: &Fingerprint,
    workflow_id: WorkflowId,
) -> Result<KeyedStart, ServiceError> {
    if first.fingerprint == *fingerprint {
        return Ok(KeyedStart { execution_id: first.execution_id, response: first.response, replayed: true });
    }
    let other = if first.workflow_id == workflow_id {
        "this workflow with a different body (variables or limits)".to_owned()
    } else {
        format!("another workflow ({})", first.workflow_id)
    };
    Err(ServiceError::IdempotencyKeyReused(format!(
        "Idempotency-Key '{}' was already used to execute {other}; until {} it answers only that request. \
         Send that request unchanged to get its answer, or use a new key for a new request",
        first.key,
        first.expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    )))
}

fn still_starting(key: &IdempotencyKey) -> ServiceError {
    ServiceError::Conflict(format!(
        "a request with Idempotency-Key '{key}' is still being processed; retry this request in a moment"
    ))
}
