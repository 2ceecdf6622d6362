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

    /// Hands one step's stored events to their subscribers, in order, as [`Self::publish`] does
    /// one by one (a bus may take them in one go).
    fn publish_all(&self, events: Vec<Arc<ExecutionEvent>>) {
        for event in events {
            self.publish(event);
        }
    }

    /// Places partial output in its execution's stream (setting its `after_seq` and `n`), hands
    /// it to the current subscribers and keeps it for later ones until its node attempt ends (an
    /// event of that node other than `node_started`, the execution's end, or
    /// [`Self::discard_deltas`]).
    fn publish_delta(&self, delta: Arc<OutputDelta>);

    /// Forgets the kept deltas of an execution whose run stopped here without ending (it parked,
    /// was handed over or lost its lease): its nodes' attempts are over.
    fn discard_deltas(&self, id: ExecutionId);

    /// Items of one execution published from now on, after the deltas still kept for it.
    fn subscribe(&self, id: ExecutionId) -> Subscription;
}

/// A subscription to one execution's stream.
pub struct Subscription {
    /// Deltas of node attempts still running when the subscription began, in stream order:
    /// a late subscriber gets what it would have seen live.
    pub kept: Vec<Arc<OutputDelta>>,
    /// What is published from now on.
    pub live: BoxStream<'static, BusItem>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription").field("kept", &self.kept.len()).finish_non_exhaustive()
    }
}
