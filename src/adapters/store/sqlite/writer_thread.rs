//! The one writer: a thread that owns the only write connection and commits whatever writes are
//! waiting in a single transaction (group commit), each in its own savepoint so that one failing
//! write fails alone. A write is acknowledged only once its transaction is durable.

use super::errors::store_error;
use crate::ports::StoreError;
use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

/// Most writes grouped in one transaction.
const MAX_BATCH: usize = 512;

/// A write waiting for the writer.
trait Job: Send {
    /// Runs the statements; `true` when they succeeded.
    fn run(&mut self, conn: &Connection) -> bool;
    /// Answers the caller once the transaction's fate is known.
    fn finish(self: Box<Self>, commit: Result<(), StoreError>);
}

struct Typed<T, F, A> {
    work: Option<F>,
    committed: A,
    result: Option<Result<T, StoreError>>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F, A> Job for Typed<T, F, A>
where
    T: Send,
    F: FnOnce(&Connection) -> Result<T, StoreError> + Send,
    A: FnOnce(&T) + Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let result = match self.work.take() {
            Some(work) => work(conn),
            None => Err(StoreError::Internal("a write ran twice".into())),
        };
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn finish(self: Box<Self>, commit: Result<(), StoreError>) {
        let outcome = match (self.result, commit) {
            (Some(Err(e)), _) | (_, Err(e)) => Err(e),
            (Some(Ok(value)), Ok(())) => Ok(value),
            (None, Ok(())) => Err(StoreError::Internal("a write never ran".into())),
        };
        if let Ok(value) = &outcome {
            (self.committed)(value);
        }
        let _ = self.reply.send(outcome);
    }
}

/// Hands writes to the writer thread.
#[derive(Clone)]
pub(super) struct WriterThread {
    jobs: mpsc::Sender<Box<dyn Job>>,
}

impl WriterThread {
    /// Starts the writer thread on `conn`.
    pub(super) fn start(conn: Connection) -> Result<Self, String> {
        let (jobs, rx) = mpsc::channel(4096);
        std::thread::Builder::new()
            .name("oxify-sqlite-writer".into())
            .spawn(move || run(&conn, rx))
            .map_err(|e| format!("cannot start the database writer: {e}"))?;
        Ok(Self { jobs })
    }

    /// Runs `work` inside the writer's transaction and returns its result once committed.
    pub(super) async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.write_then(work, |_: &T| {}).await
    }

    /// Like [`WriterThread::write`], and runs `committed` on the writer thread once the write is
    /// durable, before the next transaction starts: what it does (updating a cache) happens in
    /// commit order, which the callers, woken later and in any order, could not guarantee.
    pub(super) async fn write_then<T, F, A>(&self, work: F, committed: A) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
        A: FnOnce(&T) + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Box<dyn Job> = Box::new(Typed { work: Some(work), committed, result: None, reply });
        let stopped = || StoreError::Unavailable("the database writer stopped".into());
        self.jobs.send(job).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

fn run(conn: &Connection, mut rx: mpsc::Receiver<Box<dyn Job>>) {
    while let Some(first) = rx.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        commit_batch(conn, batch);
    }
}

fn commit_batch(conn: &Connection, mut batch: Vec<Box<dyn Job>>) {
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        let error = store_error(e);
        tracing::error!(error = %error, writes = batch.len(), "cannot start a write transaction");
        return batch.into_iter().for_each(|job| job.finish(Err(error.clone())));
    }
    if let [job] = batch.as_mut_slice() {
        // One write: no savepoint needed, but a failed write must leave nothing behind.
        if !job.run(conn) {
            let _ = conn.execute_batch("ROLLBACK");
            return batch.into_iter().for_each(|job| job.finish(Ok(())));
        }
    } else {
        for job in &mut batch {
            run_in_savepoint(conn, job.as_mut());
        }
    }
    let committed = conn.execute_batch("COMMIT").map_err(store_error);
    if let Err(e) = &committed {
        let _ = conn.execute_batch("ROLLBACK");
        tracing::error!(error = %e, writes = batch.len(), "committing writes failed");
    }
    for job in batch {
        job.finish(committed.clone());
    }
}

/// Runs one of several grouped writes so that, if it fails, only its own statements roll back.
fn run_in_savepoint(conn: &Connection, job: &mut dyn Job) {
    if let Err(e) = conn.execute_batch("SAVEPOINT write") {
        tracing::error!(error = %e, "cannot open a savepoint");
        return;
    }
    let undo = if job.run(conn) { "RELEASE write" } else { "ROLLBACK TO write; RELEASE write" };
    if let Err(e) = conn.execute_batch(undo) {
        tracing::error!(error = %e, "cannot close a savepoint");
    }
}
