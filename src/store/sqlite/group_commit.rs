//! Group commit for SQLite: one writer task gathers the write requests waiting at that
//! moment into one IMMEDIATE transaction, gives each its own savepoint, and commits once.
//!
//! SQLite commits with `synchronous=FULL` cost an fsync each, which caps single-request
//! transactions at a few thousand per second; sharing the commit lifts that cap. Every
//! request is still checked and answered on its own: a failed one is rolled back to its
//! savepoint and the others go on. Correctness does not rest on this task: each batch is an
//! ordinary IMMEDIATE transaction, so several processes on one file still take turns.
//!
//! A request whose caller has gone (timed out or cancelled) before its work is released is
//! rolled back, as it would be on PostgreSQL. A failure of the savepoint machinery itself,
//! or of the commit, fails the whole batch: every request in it gets that error.

use std::{future::Future, pin::Pin};

use sea_orm::{
    DatabaseConnection, DatabaseTransaction, SqliteTransactionMode, TransactionOptions,
    TransactionTrait,
};
use tokio::sync::{mpsc, oneshot};

use crate::{
    domain::audit::Call,
    error::Error,
    store::{
        seal_and_commit,
        tx::{Change, Journal, Tx},
    },
};

/// The most requests that share one commit.
const MAX_BATCH: usize = 256;

/// What a job returns after running: a way to answer its caller once the batch's commit
/// has succeeded or failed.
pub type Delivery = Box<dyn FnOnce(Result<(), Error>) + Send>;

/// The outcome of running one job.
pub enum Ran {
    /// The job's savepoint was released or rolled back; the batch goes on.
    Settled(Delivery),
    /// The job ran alone, without a savepoint, and failed: the transaction holds what it
    /// wrote and must be rolled back, not committed.
    Refused(Delivery),
    /// The savepoint machinery failed: the batch's transaction is no longer sound.
    Broken(Error, Delivery),
}

/// One write request waiting for the writer.
pub trait Job: Send {
    /// Runs the request inside `tx`, under its own savepoint, or straight in `tx` when it
    /// is `alone` in its batch (a failure then rolls the transaction back); its audit
    /// events go to the batch's `journal`.
    fn run<'c>(
        self: Box<Self>,
        tx: &'c DatabaseTransaction,
        journal: &'c mut Journal,
        alone: bool,
    ) -> Pin<Box<dyn Future<Output = Ran> + Send + 'c>>;

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
        let jobs_in_batch = std::mem::take(&mut batch);
        // A panic inside one batch must not stop every later write: the batch runs as its
        // own task, whose callers then learn that their request was dropped.
        if let Err(e) = tokio::spawn(run_batch(db.clone(), jobs_in_batch)).await {
            tracing::error!(error = %e, "a group-commit batch panicked");
        }
    }
}

async fn run_batch(db: DatabaseConnection, batch: Vec<Box<dyn Job>>) {
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
            for job in batch {
                job.fail(error.clone());
            }
            return;
        }
    };
    let mut journal = Journal::default();
    let mut deliveries = Vec::with_capacity(batch.len());
    let mut broken = None;
    let mut refused = false;
    let alone = batch.len() == 1;
    let mut jobs = batch.into_iter();
    for job in jobs.by_ref() {
        match job.run(&tx, &mut journal, alone).await {
            Ran::Settled(deliver) => deliveries.push(deliver),
            Ran::Refused(deliver) => {
                deliveries.push(deliver);
                refused = true;
            }
            Ran::Broken(error, deliver) => {
                deliveries.push(deliver);
                broken = Some(error);
                break;
            }
        }
    }
    let outcome = match broken {
        // The only job failed: nothing of it may stay, and there is nothing else to keep.
        None if refused => {
            drop(journal.take());
            match tx.rollback().await {
                Ok(()) => Ok(()),
                Err(e) => Err(Error::from(e)),
            }
        }
        Some(error) => {
            for job in jobs {
                job.fail(error.clone());
            }
            if let Err(e) = tx.rollback().await {
                tracing::error!(error = %e, "rolling back a broken batch failed");
            }
            Err(error)
        }
        None => seal_and_commit(tx, journal.take()).await,
    };
    if let Err(e) = &outcome {
        tracing::error!(error = %e, requests = deliveries.len(), "group commit failed");
    }
    for deliver in deliveries {
        deliver(outcome.clone());
    }
}

/// A [`Change`] for a call, and the channel that answers it.
pub struct ChangeJob<C: Change> {
    /// The call the change serves.
    pub call: Call,
    /// The change.
    pub change: C,
    /// Where its result goes.
    pub reply: oneshot::Sender<Result<C::Output, Error>>,
}

impl<C: Change> Job for ChangeJob<C> {
    fn run<'c>(
        self: Box<Self>,
        tx: &'c DatabaseTransaction,
        journal: &'c mut Journal,
        alone: bool,
    ) -> Pin<Box<dyn Future<Output = Ran> + Send + 'c>> {
        Box::pin(async move {
            let ChangeJob {
                call,
                change,
                reply,
            } = *self;
            if reply.is_closed() {
                return Ran::Settled(Box::new(|_| {}));
            }
            if alone {
                // Its own transaction is savepoint enough: two statements fewer.
                return match change.apply(&mut Tx::new(tx, &call, journal)).await {
                    Ok(_) if reply.is_closed() => Ran::Refused(Box::new(|_| {})),
                    Ok(value) => Ran::Settled(deliver(reply, value)),
                    Err(error) => Ran::Refused(answer(reply, Err(error))),
                };
            }
            let mark = journal.mark();
            let savepoint = match tx.begin().await {
                Ok(savepoint) => savepoint,
                Err(e) => {
                    let error = Error::from(e);
                    return Ran::Broken(error.clone(), answer(reply, Err(error)));
                }
            };
            let result = change.apply(&mut Tx::new(&savepoint, &call, journal)).await;
            // A caller that gave up while its work ran gets nothing written.
            let result = match result {
                Ok(_) if reply.is_closed() => Err(Error::Contention),
                other => other,
            };
            settle(savepoint, result, reply, || journal.rewind(mark)).await
        })
    }

    fn fail(self: Box<Self>, error: Error) {
        let _ = self.reply.send(Err(error));
    }
}

/// Ends a job's savepoint: releases it when the job succeeded, rolls it back (and its
/// audit events with `rewind`) when it failed.
async fn settle<T: Send + 'static>(
    savepoint: DatabaseTransaction,
    result: Result<T, Error>,
    reply: oneshot::Sender<Result<T, Error>>,
    rewind: impl FnOnce(),
) -> Ran {
    match result {
        Ok(value) => match savepoint.commit().await {
            Ok(()) => Ran::Settled(deliver(reply, value)),
            Err(e) => {
                let error = Error::from(e);
                Ran::Broken(error.clone(), answer(reply, Err(error)))
            }
        },
        Err(error) => match savepoint.rollback().await {
            Ok(()) => {
                rewind();
                Ran::Settled(answer(reply, Err(error)))
            }
            Err(e) => {
                let broken = Error::from(e);
                Ran::Broken(broken.clone(), answer(reply, Err(broken)))
            }
        },
    }
}

/// A delivery that gives the caller `value` once the batch has committed, or the batch's
/// error.
fn deliver<T: Send + 'static>(reply: oneshot::Sender<Result<T, Error>>, value: T) -> Delivery {
    Box::new(move |committed: Result<(), Error>| {
        let _ = reply.send(committed.map(|()| value));
    })
}

/// A delivery that gives the caller `result`, unless the batch failed to commit: then the
/// batch's error, since nothing the request saw became durable.
fn answer<T: Send + 'static>(
    reply: oneshot::Sender<Result<T, Error>>,
    result: Result<T, Error>,
) -> Delivery {
    Box::new(move |committed: Result<(), Error>| {
        let _ = reply.send(committed.and(result));
    })
}
