//! The write transaction as a value: every change to the books runs as a [`Change`] inside
//! one [`Tx`], which carries the database transaction, the [`Call`] it serves, and the
//! [`Journal`] of audit events its change records. [`Store::write`](super::Store::write)
//! opens the transaction, runs the change, seals the journal into the audit log and
//! commits, or rolls everything back.

use std::future::Future;

use sea_orm::DatabaseTransaction;

use super::audit::PendingEvent;
use crate::{
    domain::{
        access::Caller,
        audit::{Audited, Call},
        request_id::RequestKey,
    },
    error::Error,
};

/// One change to the books: what a use case does inside its transaction. It is run again
/// from the start when its transaction loses a race, so it reads everything it decides on
/// from `tx` and keeps no state of its own between runs.
pub trait Change: Send + Sync + 'static {
    /// What the change returns once committed.
    type Output: Send + 'static;

    /// Runs the change in `tx`.
    fn apply(&self, tx: &mut Tx<'_>) -> impl Future<Output = Result<Self::Output, Error>> + Send;
}

/// The audit events of one write transaction, in the order their changes were made,
/// gathered while its work runs and sealed into the log just before it commits. Gathering
/// them lets a transaction that carries many requests (a group commit) number and insert
/// all its events at once, and keeps the log's head row locked only from sealing to commit.
#[derive(Debug, Default)]
pub struct Journal {
    events: Vec<PendingEvent>,
}

impl Journal {
    /// How many events the journal holds: a mark to [`Journal::rewind`] to when a
    /// savepoint rolls back.
    pub fn mark(&self) -> usize {
        self.events.len()
    }

    /// Drops the events gathered after `mark`: their changes were rolled back.
    pub fn rewind(&mut self, mark: usize) {
        self.events.truncate(mark);
    }

    /// Takes every gathered event, leaving the journal empty.
    pub fn take(&mut self) -> Vec<PendingEvent> {
        std::mem::take(&mut self.events)
    }

    /// Adds an event.
    pub fn push(&mut self, event: PendingEvent) {
        self.events.push(event);
    }
}

/// A write transaction in progress: the database transaction, the call it serves, and the
/// journal its audit events go to.
pub struct Tx<'t> {
    db: &'t DatabaseTransaction,
    call: &'t Call,
    journal: &'t mut Journal,
}

impl<'t> Tx<'t> {
    /// A transaction serving `call` over `db`, journaling into `journal`.
    pub(crate) fn new(
        db: &'t DatabaseTransaction,
        call: &'t Call,
        journal: &'t mut Journal,
    ) -> Self {
        Self { db, call, journal }
    }

    /// The database transaction, for the store's queries.
    pub fn db(&self) -> &'t DatabaseTransaction {
        self.db
    }

    /// The call this transaction serves.
    pub fn call(&self) -> &'t Call {
        self.call
    }

    /// The authenticated caller.
    ///
    /// # Errors
    /// UNAUTHENTICATED when the call carries no token.
    pub fn caller(&self) -> Result<&'t Caller, Error> {
        self.call.authenticated()
    }

    /// Records the audit event of a change this transaction made to `after`, once every
    /// other write of that change is done: who, the call's method, the resource's name and
    /// digest as it now stands, and the request id that asked for it, if any. The event
    /// gets its sequence number and time when the transaction is sealed, so it exists
    /// exactly when the change is committed.
    pub fn record(&mut self, key: Option<&RequestKey>, after: &impl Audited) {
        self.record_for(self.call, key, after);
    }

    /// [`Tx::record`] for one of the calls a batch transaction serves.
    pub fn record_for(&mut self, call: &Call, key: Option<&RequestKey>, after: &impl Audited) {
        self.journal.push(PendingEvent {
            actor: call.actor().clone(),
            method: call.method().to_owned(),
            resource: after.audit_name(),
            request_id: key.map(|k| k.id().as_str().to_owned()).unwrap_or_default(),
            resource_sha256: after.audit_digest(),
        });
    }
}
