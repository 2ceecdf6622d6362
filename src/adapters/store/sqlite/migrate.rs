//! Schema migrations, embedded from `migrations/sqlite` and applied in order at start, each in
//! its own transaction, recorded in `schema_migrations`.

use super::errors::store_error;
use rusqlite::Connection;

pub(super) const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "initial", include_str!("../../../../migrations/sqlite/0001_initial.sql")),
    (2, "execution_options", include_str!("../../../../migrations/sqlite/0002_execution_options.sql")),
    (3, "counter_shards", include_str!("../../../../migrations/sqlite/0003_counter_shards.sql")),
    (4, "exact_text", include_str!("../../../../migrations/sqlite/0004_exact_text.sql")),
    (5, "idempotency_keys", include_str!("../../../../migrations/sqlite/0005_idempotency_keys.sql")),
    (6, "run_log", include_str!("../../../../migrations/sqlite/0006_run_log.sql")),
    (7, "workspaces", include_str!("../../../../migrations/sqlite/0007_workspaces.sql")),
    (8, "identities", include_str!("../../../../migrations/sqlite/0008_identities.sql")),
    (9, "secrets", include_str!("../../../../migrations/sqlite/0009_secrets.sql")),
    (10, "audit", include_str!("../../../../migrations/sqlite/0010_audit.sql")),
    (11, "mcp_servers", include_str!("../../../../migrations/sqlite/0011_mcp_servers.sql")),
    (12, "human_tasks", include_str!("../../../../migrations/sqlite/0012_human_tasks.sql")),
    (13, "vectors", include_str!("../../../../migrations/sqlite/0013_vectors.sql")),
    (14, "files", include_str!("../../../../migrations/sqlite/0014_files.sql")),
    (15, "vector_backends", include_str!("../../../../migrations/sqlite/0015_vector_backends.sql")),
];

pub(super) fn run(conn: &Connection) -> Result<(), String> {
    let fail = |e: rusqlite::Error| format!("migrating the database failed: {}", store_error(e));
    conn.execute_batch("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)")
        .map_err(fail)?;
    adopt_sqlx_history(conn).map_err(fail)?;
    for (version, name, sql) in MIGRATIONS {
        let done: bool = conn
            .query_row("SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = ?1)", [version], |r| r.get(0))
            .map_err(fail)?;
        if done {
            continue;
        }
        let script = format!(
            "BEGIN IMMEDIATE; {sql}\n; INSERT INTO schema_migrations (version, name, applied_at) VALUES ({version}, '{name}', strftime('%s', 'now')); COMMIT;"
        );
        if let Err(e) = conn.execute_batch(&script) {
            let _ = conn.execute_batch("ROLLBACK");
            return Err(format!("migration {version:04}_{name} failed: {}", store_error(e)));
        }
    }
    Ok(())
}

/// Databases created by earlier builds (which used sqlx's migrator) keep their history.
fn adopt_sqlx_history(conn: &Connection) -> rusqlite::Result<()> {
    let has_sqlx: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations')",
        [],
        |r| r.get(0),
    )?;
    if has_sqlx {
        conn.execute_batch(
            "INSERT OR IGNORE INTO schema_migrations (version, name, applied_at) \
             SELECT version, description, strftime('%s', 'now') FROM _sqlx_migrations WHERE success",
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_migration_file_is_embedded() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite");
        let mut files: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        files.sort();
        let embedded: Vec<String> = super::MIGRATIONS.iter().map(|(v, n, _)| format!("{v:04}_{n}.sql")).collect();
        assert_eq!(files, embedded);
    }
}
