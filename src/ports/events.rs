//! Live delivery of execution events to subscribers in this process. Events are stored first
//! (see [`super::ExecutionLog::apply`]); the bus only carries them to whoever is listening now.

use crate::domain::execution::{ExecutionEvent, OutputDelta};
use crate::domain::ids::ExecutionId;
use futures::stream::BoxStream;
use std::sync::Arc;

/// What a subscription yields.
#[derive(Clone, Debug, PartialEq)]
pub enum BusItem {
    Event(Arc<ExecutionEvent>),
    /// Partial output of a running node; never stored.
    Delta(Arc<OutputDelta>),
    /// The subscriber fell behind and missed events: read them from the store.
    Lagged,
}

/// Publishes stored events to live subscribers.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait EventBus: Send + Sync {
    /// Hands a stored event to the current subscribers of its execution.
    fn publish(&self, event: Arc<ExecutionEvent>);

    /// Hands partial output to the current subscribers of its execution.
    fn publish_delta(&self, delta: Arc<OutputDelta>);

    /// Events of one execution published from now on.
    fn subscribe(&self, id: ExecutionId) -> BoxStream<'static, BusItem>;
}
