//! In-process event bus: one tokio broadcast channel per execution that has subscribers.

use crate::domain::execution::{ExecutionEvent, OutputDelta};
use crate::domain::ids::ExecutionId;
use crate::ports::{BusItem, EventBus};
use futures::Stream;
use futures::stream::BoxStream;
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use tokio::sync::broadcast;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

type Channels = Arc<Mutex<HashMap<ExecutionId, broadcast::Sender<BusItem>>>>;

/// Delivers events to the subscribers of their execution. A channel exists only while someone
/// listens; a slow subscriber that overflows `capacity` is told it lagged and catches up from
/// the store.
pub struct BroadcastEventBus {
    channels: Channels,
    capacity: usize,
}

impl BroadcastEventBus {
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self { channels: Channels::default(), capacity: capacity.max(1) }
    }

    /// Executions that currently have a channel (for tests and metrics).
    #[must_use]
    pub fn open_channels(&self) -> usize {
        self.channels.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

impl Default for BroadcastEventBus {
    fn default() -> Self {
        Self::new(1024)
    }
}

impl EventBus for BroadcastEventBus {
    fn publish(&self, event: Arc<ExecutionEvent>) {
        let mut channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
        let id = event.execution_id;
        let terminal = event.kind().is_terminal();
        if let Some(tx) = channels.get(&id) {
            // No receiver left is fine: the event is already in the store.
            let _ = tx.send(BusItem::Event(event));
        }
        if terminal {
            // Dropping the sender ends every subscription once it has read the terminal event.
            channels.remove(&id);
        }
    }

    fn publish_delta(&self, delta: Arc<OutputDelta>) {
        let channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(tx) = channels.get(&delta.execution_id) {
            let _ = tx.send(BusItem::Delta(delta));
        }
    }

    fn subscribe(&self, id: ExecutionId) -> BoxStream<'static, BusItem> {
        let mut channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
        let rx = channels.entry(id).or_insert_with(|| broadcast::channel(self.capacity).0).subscribe();
        Box::pin(Subscription { id, rx: Some(BroadcastStream::new(rx)), channels: self.channels.clone() })
    }
}

struct Subscription {
    id: ExecutionId,
    rx: Option<BroadcastStream<BusItem>>,
    channels: Channels,
}

impl Stream for Subscription {
    type Item = BusItem;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<BusItem>> {
        let Some(rx) = self.rx.as_mut() else {
            return Poll::Ready(None);
        };
        Pin::new(rx).poll_next(cx).map(|item| {
            item.map(|r| match r {
                Ok(item) => item,
                Err(BroadcastStreamRecvError::Lagged(_)) => BusItem::Lagged,
            })
        })
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
        // Drop the receiver under the lock so that the last subscriber always sees a count of 0.
        drop(self.rx.take());
        if channels.get(&self.id).is_some_and(|tx| tx.receiver_count() == 0) {
            channels.remove(&self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::execution::{EventKind, ExecutionState, NewEvent};
    use crate::domain::run::RunEvent;
    use futures::StreamExt;

    fn event(id: ExecutionId, seq: u64, kind: EventKind) -> Arc<ExecutionEvent> {
        let event = NewEvent {
            event: Arc::new(RunEvent::example(kind)),
            state: ExecutionState::Running,
            node_results_count: 0,
            at: chrono::Utc::now(),
        };
        Arc::new(event.stored(id, seq))
    }

    #[tokio::test]
    async fn subscribers_receive_events_of_their_execution_until_the_terminal_one() {
        let bus = BroadcastEventBus::default();
        let (a, b) = (ExecutionId::generate(), ExecutionId::generate());
        let mut sub = bus.subscribe(a);
        bus.publish(event(b, 1, EventKind::ExecutionStarted));
        bus.publish(event(a, 1, EventKind::ExecutionStarted));
        bus.publish(event(a, 2, EventKind::ExecutionCompleted));
        let got: Vec<u64> = sub
            .by_ref()
            .map(|i| match i {
                BusItem::Event(e) => e.seq,
                BusItem::Delta(_) | BusItem::Lagged => 0,
            })
            .collect()
            .await;
        assert_eq!(got, vec![1, 2]);
        assert_eq!(bus.open_channels(), 0);
    }

    #[tokio::test]
    async fn slow_subscriber_is_told_it_lagged() {
        let bus = BroadcastEventBus::new(2);
        let id = ExecutionId::generate();
        let mut sub = bus.subscribe(id);
        for seq in 1..=5 {
            bus.publish(event(id, seq, EventKind::NodeStarted));
        }
        assert_eq!(sub.next().await, Some(BusItem::Lagged));
    }

    #[tokio::test]
    async fn channel_goes_away_with_its_last_subscriber() {
        let bus = BroadcastEventBus::default();
        let id = ExecutionId::generate();
        let s1 = bus.subscribe(id);
        let s2 = bus.subscribe(id);
        drop(s1);
        assert_eq!(bus.open_channels(), 1);
        drop(s2);
        assert_eq!(bus.open_channels(), 0);
    }
}
