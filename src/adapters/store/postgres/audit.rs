//! The audit log in Postgres.

use super::PostgresStore;
use super::codec::col;
use super::errors::store_error;
use crate::domain::access::Scope;
use crate::ports::{AuditEntry, AuditLog, Cursor, Page, PageRequest, StoreError};
use sqlx::{Arguments, AssertSqlSafe};

#[async_trait::async_trait]
impl AuditLog for PostgresStore {
    async fn record(&self, scope: Scope, entry: &AuditEntry) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO audit_log (id, workspace_id, at, actor, action, target, details) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(entry.id)
        .bind(scope.workspace().0)
        .bind(entry.at)
        .bind(super::nul::escape(&entry.actor))
        .bind(super::nul::escape(&entry.action))
        .bind(entry.target.as_deref().map(super::nul::escape))
        .bind(entry.details.to_string())
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(())
    }

    async fn entries(
        &self,
        scope: Scope,
        action: Option<String>,
        page: PageRequest,
    ) -> Result<Page<AuditEntry>, StoreError> {
        let bind = |e: sqlx::error::BoxDynError| StoreError::Internal(e.to_string());
        let mut args = sqlx::postgres::PgArguments::default();
        args.add(scope.workspace().0).map_err(bind)?;
        let mut filter = String::from("workspace_id = $1");
        if let Some(action) = &action {
            args.add(super::nul::escape(action)).map_err(bind)?;
            filter.push_str(" AND action = $2");
        }
        let count_args = args.clone();
        let mut sql = format!("SELECT id, at, actor, action, target, details FROM audit_log WHERE {filter}");
        if let Some(after) = page.after {
            sql.push_str(&format!(" AND (at, id) < (${}, ${})", args.len() + 1, args.len() + 2));
            args.add(after.created_at).map_err(bind)?;
            args.add(after.id).map_err(bind)?;
        }
        sql.push_str(&format!(" ORDER BY at DESC, id DESC LIMIT {}", i64::from(page.limit) + 1));
        let rows = sqlx::query_with(AssertSqlSafe(sql), args).fetch_all(&self.pool).await.map_err(store_error)?;
        let total: i64 = sqlx::query_scalar_with(
            AssertSqlSafe(format!("SELECT COUNT(*) FROM audit_log WHERE {filter}")),
            count_args,
        )
        .fetch_one(&self.pool)
        .await
        .map_err(store_error)?;
        let mut items = rows
            .iter()
            .map(|r| {
                Ok(AuditEntry {
                    id: col(r, "id")?,
                    at: col(r, "at")?,
                    actor: super::nul::unescape(col(r, "actor")?),
                    action: super::nul::unescape(col(r, "action")?),
                    target: col::<Option<String>>(r, "target")?.map(super::nul::unescape),
                    details: serde_json::from_str(&col::<String>(r, "details")?).map_err(super::codec::corrupt)?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let more = items.len() > page.limit as usize;
        items.truncate(page.limit as usize);
        let next = if more { items.last().map(|e| Cursor { created_at: e.at, id: e.id }) } else { None };
        Ok(Page { items, total: u64::try_from(total).unwrap_or(0), next })
    }
}
