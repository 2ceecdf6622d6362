//! Nodes that run child executions (SubWorkflow, Loop over a workflow), signals from other
//! executions, and parking: a run with nothing to do but wait is stored as `Paused` and its task
//! ends; a signal (a child that ended) wakes it on any process.

use super::Run;
use crate::app::cascade::{Cascade, child_finished};
use crate::domain::execution::{ExecutionEvent, ExecutionState, NewEvent, NodeStatus, ParentLink, StateChange};
use crate::domain::ids::ExecutionId;
use crate::domain::number;
use crate::domain::run::composite::{self, ChildSpec, Step};
use crate::domain::run::{RunEvent, Wait};
use crate::domain::valid::ValidWorkflow;
use crate::domain::workflow::NodeKind;
use crate::ports::StoreError;

/// A child execution to create once the step that recorded it is durable.
pub(super) struct Launch {
    pub idx: usize,
    pub spec: ChildSpec,
    pub id: ExecutionId,
}

/// How a parking attempt ended.
pub(super) enum Parked {
    /// Stored as `Paused`: the run's task ends here.
    Yes,
    /// A signal arrived meanwhile: go on.
    Signalled,
}

impl Run<'_> {
    /// A composite node starts: beyond the depth limit it fails, else it takes its first step.
    pub(super) fn start_composite(&mut self, idx: usize, attempt: u32) {
        if self.depth >= self.ex.limits.max_depth {
            let max = self.ex.limits.max_depth;
            return self.fail(
                idx,
                attempt,
                format!("child executions nest too deep: the limit is {max} levels (OXIFY_MAX_SUBWORKFLOW_DEPTH)"),
            );
        }
        self.advance(idx);
    }

    /// Takes the next step of composite node `idx` (see [`composite::next_step`]).
    pub(super) fn advance(&mut self, idx: usize) {
        if !matches!(self.rs.status(idx), NodeStatus::Running | NodeStatus::Waiting) {
            return;
        }
        let attempt = self.rs.node(idx).attempts.max(1);
        match composite::next_step(&self.rs, idx) {
            Step::Start(specs) => {
                for spec in specs {
                    let id = ExecutionId::generate();
                    let item = self.item_of(idx, spec.item);
                    self.emit(RunEvent::ChildStarted { node_id: self.node_id(idx), child_execution_id: id, item });
                    self.launches.push(Launch { idx, spec, id });
                }
                self.wait_for_children(idx, attempt);
            }
            Step::Wait => self.wait_for_children(idx, attempt),
            Step::Complete(output) => self.succeed(idx, attempt, output, Vec::new()),
            Step::Fail(error) => {
                self.stop_children_of(idx);
                self.fail(idx, attempt, error);
            }
        }
    }

    /// The item a child carries in events and in its parent link: Loop items, not SubWorkflows.
    fn item_of(&self, idx: usize, item: u32) -> Option<u32> {
        matches!(self.rs.workflow().node(idx).kind, NodeKind::Loop(_)).then_some(item)
    }

    fn wait_for_children(&mut self, idx: usize, attempt: u32) {
        let running = self.rs.node(idx).children.running();
        if self.rs.status(idx) == NodeStatus::Running
            || self.rs.node(idx).waiting_for.as_ref() != Some(&Wait::Children { running: running.clone() })
        {
            let waiting_for = Wait::Children { running };
            self.emit(RunEvent::NodeWaiting { node_id: self.node_id(idx), attempt, waiting_for });
        }
    }

    /// Cancels the unfinished children of node `idx` (it failed, or the run ends).
    pub(super) fn stop_children_of(&mut self, idx: usize) {
        self.stopping.extend(self.rs.node(idx).children.running());
    }

    /// Cancels the queued children, each with its own children; waits only for the writes.
    pub(super) async fn cancel_stopping(&mut self) {
        if self.stopping.is_empty() {
            return;
        }
        let cascade = Cascade {
            store: self.ex.store.clone(),
            running: self.ex.running.clone(),
            bus: self.ex.bus.clone(),
            clock: self.ex.clock.clone(),
        };
        for child in std::mem::take(&mut self.stopping) {
            if let Err(e) = cascade.cancel_tree(self.scope, child, "its parent execution stopped it").await {
                tracing::warn!(error = %e, child = %child, "cancelling a child execution failed");
            }
        }
    }

    /// Creates and starts the children recorded in the last committed step. A child that cannot
    /// be started is recorded as failed, which its node then handles like any failed child.
    pub(super) async fn launch_children(&mut self) {
        for launch in std::mem::take(&mut self.launches) {
            if let Err(error) = self.launch(&launch).await {
                let item = self.item_of(launch.idx, launch.spec.item);
                let finished = RunEvent::ChildFinished {
                    node_id: self.node_id(launch.idx),
                    child_execution_id: launch.id,
                    item,
                    state: ExecutionState::Failed,
                    output: None,
                    error: Some(format!("the child execution could not be started: {error}")),
                };
                self.emit(finished);
                self.dirty.push(launch.idx);
            }
        }
    }

    async fn target(&self, idx: usize) -> Result<(ValidWorkflow, u32), String> {
        let wf = self.rs.workflow().clone();
        let Some((id, version)) = composite::target(&wf.node(idx).kind) else {
            return Err("this node runs no child executions".into());
        };
        let workflows = self.ex.workflows.as_ref().ok_or("this server runs no child executions")?;
        let id = id.parse().map_err(|_| format!("'{id}' is not a workflow id"))?;
        let found = match version {
            Some(v) => workflows.get_version(self.scope, id, v).await,
            None => workflows.get(self.scope, id).await,
        };
        found.map(|v| (v.workflow, v.version)).map_err(|e| e.to_string())
    }

    async fn launch(&mut self, launch: &Launch) -> Result<(), String> {
        let (workflow, version) = self.target(launch.idx).await?;
        let mut variables = launch.spec.variables.clone();
        number::canonicalize_map(&mut variables);
        if let Some(inputs) = workflow.inputs() {
            inputs.apply(&mut variables).map_err(|problems| {
                let listed: Vec<String> = problems.into_iter().map(|p| p.problem).collect();
                format!("its variables do not fit the workflow's input_schema: {}", listed.join("; "))
            })?;
        }
        let parent = ParentLink {
            execution_id: self.id,
            node_id: self.node_id(launch.idx),
            item: self.item_of(launch.idx, launch.spec.item),
        };
        let mut child = crate::domain::execution::Execution::new(
            self.scope,
            workflow.id(),
            version,
            variables,
            self.ex.clock.now(),
        );
        (child.id, child.parent, child.depth, child.budget, child.started_by) =
            (launch.id, Some(parent), self.depth + 1, self.budget_limits, self.started_by.clone());
        let ex = self.ex.me.upgrade().ok_or("the executor is shutting down")?;
        let (stored_tx, stored) = tokio::sync::oneshot::channel();
        let run = child.clone();
        self.ex.running.launch(child.id, move |stop| ex.start_child(run, workflow, stop, stored_tx));
        match stored.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(StoreError::Conflict(_))) => Ok(()), // created before a crash: it runs already
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("it stopped before it was stored".into()),
        }
    }

    /// After a resume: children recorded but lost before they were created are created now.
    pub(super) async fn relaunch_lost_children(&mut self) {
        let waiting: Vec<usize> =
            self.rs.waiting().filter(|&i| composite::is_composite(&self.rs.workflow().node(i).kind)).collect();
        for idx in waiting {
            let started = self.rs.node(idx).children.started.clone();
            let finished = self.rs.node(idx).children.finished.clone();
            for (item, id) in started.into_iter().filter(|(item, _)| !finished.contains_key(item)) {
                match self.ex.store.get(self.scope, id).await {
                    Err(StoreError::NotFound { .. }) => match composite::spec_for(&self.rs, idx, item) {
                        Ok(spec) => self.launches.push(Launch { idx, spec, id }),
                        Err(e) => tracing::error!(error = %e, child = %id, "cannot recreate a lost child execution"),
                    },
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, child = %id, "cannot check a child execution"),
                }
            }
            self.dirty.push(idx);
        }
    }

    /// An event another execution wrote into this one's log (already stored).
    pub(super) fn on_signal(&mut self, event: &ExecutionEvent) {
        if event.execution_id != self.id || !self.seen_signals.insert(event.seq) {
            return;
        }
        self.log_end = self.log_end.max(event.seq);
        match self.rs.apply(&event.event, event.at) {
            Ok(_) => {
                if let Some(idx) = event.node_id().and_then(|id| self.rs.workflow().index_of(id)) {
                    self.dirty.push(idx);
                }
            }
            Err(e) => tracing::error!(error = %e, "run state refused a signal"),
        }
    }

    /// Reads what others appended to the log since `after` (and before `before`, when given).
    pub(super) async fn catch_up(&mut self, after: u64, before: Option<u64>) -> Result<(), StoreError> {
        let limit = before.map_or(u32::MAX, |b| u32::try_from(b.saturating_sub(after + 1)).unwrap_or(u32::MAX));
        if limit == 0 {
            return Ok(());
        }
        for event in self.ex.store.events_after(self.scope, self.id, after, limit).await? {
            self.on_signal(&event);
        }
        Ok(())
    }

    /// Composite nodes whose children changed take their next step.
    pub(super) fn advance_dirty(&mut self) {
        let mut dirty = std::mem::take(&mut self.dirty);
        dirty.sort_unstable();
        dirty.dedup();
        for idx in dirty {
            if let Some((completed, failed, total)) = composite::progress(&self.rs, idx)
                && self.rs.status(idx) == NodeStatus::Waiting
                && self.rs.node(idx).progress != (completed, failed)
            {
                let node_id = self.node_id(idx);
                self.emit(RunEvent::LoopProgress { node_id, completed, failed, total });
            }
            if super::human::is_human(&self.rs.workflow().node(idx).kind) {
                self.advance_human(idx);
                continue;
            }
            self.advance(idx);
        }
    }

    /// Stores the run as `Paused` if no signal arrived since it last looked (then its task ends
    /// here and its lease is released); otherwise takes the signals in and goes on.
    pub(super) async fn park(&mut self) -> Result<Parked, StoreError> {
        self.commit().await?;
        if !self.dirty.is_empty() {
            // That write found signals appended before it: take them in first.
            return Ok(Parked::Signalled);
        }
        let waiting: Vec<_> = self.rs.waiting().map(|i| self.node_id(i)).collect();
        let reason = if self.rs.held() {
            "paused by request: POST /api/v1/executions/{id}/resume to go on".to_owned()
        } else {
            format!("waiting for {}", waiting.iter().map(|w| w.as_str()).collect::<Vec<_>>().join(", "))
        };
        let at = self.ex.clock.now();
        let event = RunEvent::ExecutionPaused { reason, waiting };
        let wake_at = self.next_timer();
        let update = crate::domain::execution::ExecutionUpdate {
            state: Some(StateChange { wake_at, ..StateChange::to(ExecutionState::Paused) }),
            events: vec![NewEvent {
                event: event.clone(),
                state: ExecutionState::Paused,
                node_results_count: self.rs.finished(),
                at,
            }],
            expect_last_seq: Some(self.log_end),
            ..Default::default()
        };
        match self.ex.store.apply(self.scope, self.id, Some(&self.ex.lease), &update).await {
            Ok(events) => {
                if let Err(e) = self.rs.apply(&event, at) {
                    tracing::error!(error = %e, "run state refused its own pause");
                }
                for stored in events {
                    self.ex.bus.publish(stored);
                }
                if let Some(at) = wake_at {
                    self.ex.timers.add(at);
                }
                tracing::debug!(execution_id = %self.id, "execution parked");
                Ok(Parked::Yes)
            }
            Err(StoreError::Stale { .. }) => {
                self.catch_up(self.log_end, None).await?;
                Ok(Parked::Signalled)
            }
            Err(e) => Err(e),
        }
    }

    /// A child's last write tells its parent how it ended.
    pub(super) fn tell_parent(&mut self) {
        let Some(execution) = &self.child_of else { return };
        let state = self.rs.state();
        let (output, error) = match self.step.update.events.last().map(|e| &e.event) {
            Some(RunEvent::ExecutionCompleted { output }) => (output.clone(), None),
            Some(RunEvent::ExecutionFailed { error }) => (None, Some(error.clone())),
            Some(RunEvent::ExecutionCancelled { reason }) => (None, Some(reason.clone())),
            _ => (None, None),
        };
        self.step.update.signal = child_finished(execution, state, output, error, self.ex.clock.now());
    }
}
