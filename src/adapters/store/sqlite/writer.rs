//! The one writer: a task that owns the only write connection and commits whatever writes are
//! waiting in a single transaction (group commit), each in its own savepoint so that one failing
//! write fails alone. A write is acknowledged only once its transaction is durable.

use crate::adapters::store::sql_common::store_error;
use crate::ports::StoreError;
use futures::future::BoxFuture;
use sqlx::{Acquire, Connection, SqliteConnection};
use tokio::sync::{mpsc, oneshot};

/// Most writes grouped in one transaction.
const MAX_BATCH: usize = 512;

/// A write waiting for the writer.
pub(super) trait Job: Send {
    /// Runs the statements; `true` when they succeeded.
    fn run<'c>(&'c mut self, conn: &'c mut SqliteConnection) -> BoxFuture<'c, bool>;
    /// Answers the caller once the transaction's fate is known.
    fn finish(self: Box<Self>, commit: Result<(), StoreError>);
}

struct Typed<T, F> {
    work: Option<F>,
    result: Option<Result<T, StoreError>>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> Job for Typed<T, F>
where
    T: Send + 'static,
    F: for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, Result<T, StoreError>> + Send,
{
    fn run<'c>(&'c mut self, conn: &'c mut SqliteConnection) -> BoxFuture<'c, bool> {
        let work = self.work.take();
        Box::pin(async move {
            let result = match work {
                Some(work) => work(conn).await,
                None => Err(StoreError::Internal("a write ran twice".into())),
            };
            let ok = result.is_ok();
            self.result = Some(result);
            ok
        })
    }

    fn finish(self: Box<Self>, commit: Result<(), StoreError>) {
        let outcome = match (self.result, commit) {
            (Some(Err(e)), _) | (_, Err(e)) => Err(e),
            (Some(Ok(value)), Ok(())) => Ok(value),
            (None, Ok(())) => Err(StoreError::Internal("a write never ran".into())),
        };
        let _ = self.reply.send(outcome);
    }
}

/// Hands writes to the writer task.
#[derive(Clone)]
pub(super) struct Writer {
    jobs: mpsc::Sender<Box<dyn Job>>,
}

impl Writer {
    /// Starts the writer task on `conn`.
    pub(super) fn start(conn: SqliteConnection) -> Self {
        let (jobs, rx) = mpsc::channel(4096);
        tokio::spawn(run(conn, rx));
        Self { jobs }
    }

    /// Runs `work` inside the writer's transaction and returns its result once committed.
    pub(super) async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, Result<T, StoreError>> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Box<dyn Job> = Box::new(Typed { work: Some(work), result: None, reply });
        let stopped = || StoreError::Unavailable("the database writer stopped".into());
        self.jobs.send(job).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn run(mut conn: SqliteConnection, mut rx: mpsc::Receiver<Box<dyn Job>>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        commit_batch(&mut conn, batch).await;
    }
}

async fn commit_batch(conn: &mut SqliteConnection, mut batch: Vec<Box<dyn Job>>) {
    let mut tx = match Connection::begin(conn).await {
        Ok(tx) => tx,
        Err(e) => return fail_all(batch, &store_error(e)),
    };
    if let [job] = batch.as_mut_slice() {
        // One write: no savepoint needed, but a failed write must leave nothing behind.
        if !job.run(&mut tx).await {
            let _ = tx.rollback().await;
            return batch.into_iter().for_each(|job| job.finish(Ok(())));
        }
    } else {
        for job in &mut batch {
            run_in_savepoint(&mut tx, job.as_mut()).await;
        }
    }
    let committed = tx.commit().await.map_err(store_error);
    if let Err(e) = &committed {
        tracing::error!(error = %e, writes = batch.len(), "committing writes failed");
    }
    for job in batch {
        job.finish(committed.clone());
    }
}

/// Runs one of several grouped writes so that, if it fails, only its own statements roll back.
async fn run_in_savepoint(tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>, job: &mut dyn Job) {
    match tx.begin().await {
        Ok(mut savepoint) => {
            let ok = job.run(&mut savepoint).await;
            let _ = if ok { savepoint.commit().await } else { savepoint.rollback().await };
        }
        Err(e) => tracing::error!(error = %e, "cannot open a savepoint"),
    }
}

fn fail_all(batch: Vec<Box<dyn Job>>, error: &StoreError) {
    tracing::error!(error = %error, writes = batch.len(), "cannot start a write transaction");
    for job in batch {
        job.finish(Err(error.clone()));
    }
}
