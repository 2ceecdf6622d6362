//! The audit log in memory.

use super::InMemoryStore;
use crate::domain::access::Scope;
use crate::ports::{AuditEntry, AuditLog, Cursor, Page, PageRequest, StoreError};

#[async_trait::async_trait]
impl AuditLog for InMemoryStore {
    async fn record(&self, scope: Scope, entry: &AuditEntry) -> Result<(), StoreError> {
        self.write().audit.entry(scope.workspace()).or_default().push(entry.clone());
        Ok(())
    }

    async fn entries(
        &self,
        scope: Scope,
        action: Option<String>,
        page: PageRequest,
    ) -> Result<Page<AuditEntry>, StoreError> {
        let inner = self.read();
        let all = inner.audit.get(&scope.workspace()).map(Vec::as_slice).unwrap_or_default();
        let matching: Vec<&AuditEntry> =
            all.iter().rev().filter(|e| action.as_deref().is_none_or(|a| e.action == a)).collect();
        let total = matching.len() as u64;
        let start =
            page.after.map_or(0, |c| matching.iter().take_while(|e| (e.at, e.id) >= (c.created_at, c.id)).count());
        let items: Vec<AuditEntry> = matching[start..].iter().take(page.limit as usize).map(|e| (*e).clone()).collect();
        let more = matching.len() > start + items.len();
        let next = if more { items.last().map(|e| Cursor { created_at: e.at, id: e.id }) } else { None };
        Ok(Page { items, total, next })
    }
}
