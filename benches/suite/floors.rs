//! The physical floors: how many durable syncs the disk allows, and how many single-row commits
//! each database allows when nothing else happens.

use sqlx::Connection;
use std::io::Write;
use std::time::{Duration, Instant};

/// fdatasync calls per second on a file in `dir` (4 KB written before each).
pub async fn fdatasync_per_s(dir: std::path::PathBuf, budget: Duration, max: usize) -> f64 {
    tokio::task::spawn_blocking(move || {
        let path = dir.join("fdatasync-probe");
        let mut file = std::fs::File::create(&path).expect("probe file");
        let block = vec![7u8; 4096];
        let start = Instant::now();
        let mut n = 0;
        while n < max && start.elapsed() < budget {
            file.write_all(&block).expect("write");
            file.sync_data().expect("fdatasync");
            n += 1;
        }
        let rate = n as f64 / start.elapsed().as_secs_f64();
        let _ = std::fs::remove_file(path);
        rate
    })
    .await
    .expect("probe")
}

/// Sequential single-row commits per second on SQLite, with the pragmas and the driver the store
/// uses.
pub async fn sqlite_commits_per_s(path: &std::path::Path, budget: Duration, max: usize) -> f64 {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let conn = rusqlite::Connection::open(&path).expect("sqlite");
        let _: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)).expect("wal");
        conn.execute_batch(
            "PRAGMA synchronous = FULL; CREATE TABLE IF NOT EXISTS floor (id INTEGER PRIMARY KEY, v TEXT NOT NULL)",
        )
        .expect("setup");
        let mut insert = conn.prepare("INSERT INTO floor (v) VALUES (?1)").expect("prepare");
        let start = Instant::now();
        let mut n = 0;
        while n < max && start.elapsed() < budget {
            insert.execute(["x"]).expect("floor commit");
            n += 1;
        }
        n as f64 / start.elapsed().as_secs_f64()
    })
    .await
    .expect("floor")
}

/// Sequential single-row commits per second on Postgres.
pub async fn postgres_commits_per_s(url: &str, budget: Duration, max: usize) -> f64 {
    let mut conn = sqlx::PgConnection::connect(url).await.expect("postgres");
    sqlx::query("CREATE TABLE IF NOT EXISTS bench_floor (id BIGSERIAL PRIMARY KEY, v TEXT NOT NULL)")
        .execute(&mut conn)
        .await
        .unwrap();
    let start = Instant::now();
    let mut n = 0;
    while n < max && start.elapsed() < budget {
        sqlx::query("INSERT INTO bench_floor (v) VALUES ($1)")
            .bind("x")
            .execute(&mut conn)
            .await
            .expect("floor commit");
        n += 1;
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    let _ = sqlx::query("DROP TABLE bench_floor").execute(&mut conn).await;
    rate
}
