//! The audit log: appended per workspace, read newest first in pages, filtered by action.

use super::{Stores, WS, at, page};
use oxify_api::domain::access::Scope;
use oxify_api::domain::ids::WorkspaceId;
use oxify_api::ports::{AuditEntry, PageRequest};
use serde_json::json;

fn entry(action: &str, seconds: i64) -> AuditEntry {
    AuditEntry {
        id: uuid::Uuid::now_v7(),
        at: at(seconds),
        actor: "user:x".into(),
        action: action.into(),
        target: Some(format!("t{seconds}")),
        details: json!({"n": seconds, "text": "a \u{0} b"}),
    }
}

pub async fn the_audit_log_pages_newest_first_per_workspace(s: Stores) {
    let b = Scope::new(WorkspaceId::generate());
    for (i, action) in ["workflow.created", "execution.started", "workflow.created", "secret.set", "workflow.deleted"]
        .into_iter()
        .enumerate()
    {
        s.audit.record(WS, &entry(action, i as i64)).await.unwrap();
    }
    s.audit.record(b, &entry("workflow.created", 9)).await.unwrap();
    let first = s.audit.entries(WS, None, page(2)).await.unwrap();
    assert_eq!(first.total, 5);
    let targets: Vec<_> = first.items.iter().map(|e| e.target.clone().unwrap()).collect();
    assert_eq!(targets, ["t4", "t3"]);
    assert_eq!(first.items[0].details, json!({"n": 4, "text": "a \u{0} b"}));
    let second = s.audit.entries(WS, None, PageRequest { limit: 10, after: first.next }).await.unwrap();
    let targets: Vec<_> = second.items.iter().map(|e| e.target.clone().unwrap()).collect();
    assert_eq!(targets, ["t2", "t1", "t0"]);
    assert!(second.next.is_none());
    let created = s.audit.entries(WS, Some("workflow.created".into()), page(10)).await.unwrap();
    assert_eq!((created.total, created.items.len()), (2, 2));
    let theirs = s.audit.entries(b, None, page(10)).await.unwrap();
    assert_eq!((theirs.total, theirs.items[0].target.as_deref()), (1, Some("t9")));
}
