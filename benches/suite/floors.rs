//! The physical floors: how many durable syncs the disk allows, and how many single-row commits
//! each database allows when nothing else happens.

use sqlx::{ConnectOptions, Connection};
use std::io::Write;
use std::str::FromStr;
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

/// Sequential single-row commits per second on SQLite, with the pragmas the store uses.
pub async fn sqlite_commits_per_s(path: &std::path::Path, budget: Duration, max: usize) -> f64 {
    let url = format!("sqlite://{}", path.display());
    let mut conn = sqlx::sqlite::SqliteConnectOptions::from_str(&url)
        .unwrap()
        .create_if_missing(true)
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
        .synchronous(sqlx::sqlite::SqliteSynchronous::Full)
        .connect()
        .await
        .expect("sqlite");
    sqlx::query("CREATE TABLE IF NOT EXISTS floor (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
        .execute(&mut conn)
        .await
        .unwrap();
    let start = Instant::now();
    let mut n = 0;
    while n < max && start.elapsed() < budget {
        sqlx::query("INSERT INTO floor (v) VALUES ($1)").bind("x").execute(&mut conn).await.expect("floor commit");
        n += 1;
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    let _ = conn.close().await;
    rate
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
