//! Group commit for SQLite: one writer task gathers the write requests waiting at that
//! moment into one IMMEDIATE transaction, gives each its own savepoint, and commits once.
//!
//! SQLite commits with `synchronous=FULL` cost an fsync each, which caps single-request
//! transactions at a few thousand per second; sharing the commit lifts that cap. Every
//! request is still checked and answered on its own: a failed one is rolled back to its
//! savepoint and the others go on. Correctness does not rest on this task: each batch is an
//! ordinary IMMEDIATE transaction, so several processes on one file still take turns.

use std::{future::Future, pin::Pin};

use sea_orm::{
    DatabaseConnection, DatabaseTransaction, SqliteTransactionMode, TransactionOptions,
    TransactionTrait,
};
use tokio::sync::{mpsc, oneshot};

use crate::error::Error;

/// The most requests that share one commit.
const MAX_BATCH: usize = 256;

/// What a job returns after running: a way to answer its caller once the batch's commit
/// has succeeded or failed.
pub type Delivery = Box<dyn FnOnce(Result<(), Error>) + Send>;

/// One write request waiting for the writer.
pub trait Job: Send {
    /// Runs the request inside `tx`, under its own savepoint.
    fn run<'c>(
        self: Box<Self>,
        tx: &'c DatabaseTransaction,
    ) -> Pin<Box<dyn Future<Output = Delivery> + Send + 'c>>;

    /// Answers the caller without running: the batch could not begin.
    fn fail(self: Box<Self>, error: Error);
}

/// Starts the writer over `db`; it ends when every sender is dropped.
pub fn spawn_writer(db: DatabaseConnection) -> mpsc::Sender<Box<dyn Job>> {
    let (sender, receiver) = mpsc::channel(4 * MAX_BATCH);
    tokio::spawn(writer(db, receiver));
    sender
}

async fn writer(db: DatabaseConnection, mut jobs: mpsc::Receiver<Box<dyn Job>>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while jobs.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let begun = db
            .begin_with_options(TransactionOptions {
                isolation_level: None,
                access_mode: None,
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            })
            .await;
        let tx = match begun {
            Ok(tx) => tx,
            Err(e) => {
                let error = Error::from(e);
                for job in batch.drain(..) {
                    job.fail(error.clone());
                }
                continue;
            }
        };
        let mut deliveries = Vec::with_capacity(batch.len());
        for job in batch.drain(..) {
            deliveries.push(job.run(&tx).await);
        }
        let committed = tx.commit().await.map_err(Error::from);
        if let Err(e) = &committed {
            tracing::error!(error = %e, requests = deliveries.len(), "group commit failed");
        }
        for deliver in deliveries {
            deliver(committed.clone());
        }
    }
}

/// A request's work and the channel that answers it.
pub struct WriteJob<T, F> {
    /// The request's work.
    pub work: F,
    /// Where its result goes.
    pub reply: oneshot::Sender<Result<T, Error>>,
}

impl<T, F> Job for WriteJob<T, F>
where
    T: Send + 'static,
    F: for<'c> FnMut(&'c DatabaseTransaction) -> super::Work<'c, T> + Send + 'static,
{
    fn run<'c>(
        self: Box<Self>,
        tx: &'c DatabaseTransaction,
    ) -> Pin<Box<dyn Future<Output = Delivery> + Send + 'c>> {
        Box::pin(async move {
            let WriteJob { mut work, reply } = *self;
            let savepoint = match tx.begin().await {
                Ok(savepoint) => savepoint,
                Err(e) => return answer(reply, Err(Error::from(e))),
            };
            match work(&savepoint).await {
                Ok(value) => match savepoint.commit().await {
                    Ok(()) => Box::new(move |committed: Result<(), Error>| {
                        let _ = reply.send(committed.map(|()| value));
                    }) as Delivery,
                    Err(e) => answer(reply, Err(Error::from(e))),
                },
                Err(error) => {
                    if let Err(e) = savepoint.rollback().await {
                        tracing::error!(error = %e, "rolling back to a savepoint failed");
                    }
                    answer(reply, Err(error))
                }
            }
        })
    }

    fn fail(self: Box<Self>, error: Error) {
        let _ = self.reply.send(Err(error));
    }
}

/// A delivery that gives the caller `result` whatever happens to the batch.
fn answer<T: Send + 'static>(
    reply: oneshot::Sender<Result<T, Error>>,
    result: Result<T, Error>,
) -> Delivery {
    Box::new(move |_| {
        let _ = reply.send(result);
    })
}
