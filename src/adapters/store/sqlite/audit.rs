//! The audit log in SQLite.

use super::SqliteStore;
use super::codec::{micros, time};
use super::errors::store_error;
use crate::domain::access::Scope;
use crate::ports::{AuditEntry, AuditLog, Cursor, Page, PageRequest, StoreError};
use rusqlite::params_from_iter;
use rusqlite::types::Value as Sql;

#[async_trait::async_trait]
impl AuditLog for SqliteStore {
    async fn record(&self, scope: Scope, entry: &AuditEntry) -> Result<(), StoreError> {
        let (ws, e) = (scope.workspace().to_string(), entry.clone());
        self.writer
            .write(move |c| {
                c.prepare_cached(
                    "INSERT INTO audit_log (id, workspace_id, at, actor, action, target, details) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .and_then(|mut st| {
                    st.execute(rusqlite::params![
                        e.id.to_string(),
                        ws,
                        micros(e.at),
                        e.actor,
                        e.action,
                        e.target,
                        e.details.to_string()
                    ])
                })
                .map_err(store_error)?;
                Ok(())
            })
            .await
    }

    async fn entries(
        &self,
        scope: Scope,
        action: Option<String>,
        page: PageRequest,
    ) -> Result<Page<AuditEntry>, StoreError> {
        let ws = scope.workspace().to_string();
        self.readers
            .read(move |c| {
                let mut filter = String::from("workspace_id = ?1");
                let mut args = vec![Sql::Text(ws)];
                if let Some(action) = action {
                    args.push(Sql::Text(action));
                    filter.push_str(&format!(" AND action = ?{}", args.len()));
                }
                let total: i64 = c
                    .prepare_cached(&format!("SELECT COUNT(*) FROM audit_log WHERE {filter}"))
                    .and_then(|mut st| st.query_row(params_from_iter(args.clone()), |r| r.get(0)))
                    .map_err(store_error)?;
                let mut sql = format!("SELECT id, at, actor, action, target, details FROM audit_log WHERE {filter}");
                if let Some(after) = page.after {
                    sql.push_str(&format!(" AND (at, id) < (?{}, ?{})", args.len() + 1, args.len() + 2));
                    args.push(Sql::Integer(micros(after.created_at)));
                    args.push(Sql::Text(after.id.to_string()));
                }
                sql.push_str(&format!(" ORDER BY at DESC, id DESC LIMIT {}", i64::from(page.limit) + 1));
                let mut st = c.prepare_cached(&sql).map_err(store_error)?;
                let rows = st
                    .query_map(params_from_iter(args), |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, i64>(1)?,
                            r.get::<_, String>(2)?,
                            r.get::<_, String>(3)?,
                            r.get::<_, Option<String>>(4)?,
                            r.get::<_, String>(5)?,
                        ))
                    })
                    .map_err(store_error)?;
                let mut items = Vec::new();
                for row in rows {
                    let (id, at, actor, action, target, details) = row.map_err(store_error)?;
                    items.push(AuditEntry {
                        id: id.parse().map_err(super::codec::corrupt)?,
                        at: time(at)?,
                        actor,
                        action,
                        target,
                        details: serde_json::from_str(&details).map_err(super::codec::corrupt)?,
                    });
                }
                let more = items.len() > page.limit as usize;
                items.truncate(page.limit as usize);
                let next = if more { items.last().map(|e| Cursor { created_at: e.at, id: e.id }) } else { None };
                Ok(Page { items, total: u64::try_from(total).unwrap_or(0), next })
            })
            .await
    }
}
