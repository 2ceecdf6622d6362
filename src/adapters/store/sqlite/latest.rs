//! The workspace and latest version of each workflow, cached. Only this process writes the
//! database (the lock file sees to that), so the cache stays exact as long as writes are recorded
//! in commit order. A workflow's workspace never changes: its id stays taken by that workspace.

use crate::domain::ids::{WorkflowId, WorkspaceId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// What is known of one workflow: its workspace, and `Some(version)` while live, `None` once
/// deleted.
pub(super) type Head = (WorkspaceId, Option<u32>);

#[derive(Clone, Default)]
pub(super) struct LatestVersions(Arc<Mutex<HashMap<WorkflowId, Head>>>);

impl LatestVersions {
    /// What is known of `id`, if anything.
    pub fn get(&self, id: WorkflowId) -> Option<Head> {
        self.lock().get(&id).copied()
    }

    /// Records a committed write (`None`: a delete). Called on the writer thread, in commit order.
    pub fn committed(&self, id: WorkflowId, head: Head) {
        self.lock().insert(id, head);
    }

    /// Records what a read found, unless a write was recorded meanwhile: a read that raced a
    /// commit may have seen the state before it.
    pub fn read(&self, id: WorkflowId, head: Head) {
        self.lock().entry(id).or_insert(head);
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<WorkflowId, Head>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_that_raced_a_commit_never_overwrites_it() {
        let latest = LatestVersions::default();
        let ws = WorkspaceId::DEFAULT;
        let id = WorkflowId::generate();
        latest.committed(id, (ws, Some(3)));
        latest.read(id, (ws, Some(2)));
        assert_eq!(latest.get(id), Some((ws, Some(3))));
        latest.committed(id, (ws, None));
        latest.read(id, (ws, Some(3)));
        assert_eq!(latest.get(id), Some((ws, None)), "a delete stays recorded");
        let other = WorkflowId::generate();
        latest.read(other, (ws, Some(1)));
        assert_eq!(latest.get(other), Some((ws, Some(1))));
    }
}
