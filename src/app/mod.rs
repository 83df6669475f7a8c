//! The use cases: what each method does to the books, one module per resource.
//!
//! A use case takes the [`Call`] and checked domain values, and runs as one [`Change`] in
//! one transaction ([`Store::write`]): it loads what it decides on, checks it with the
//! domain's rules and the caller's reach, writes through the store, records the audit
//! event with [`Tx::record`], and returns what it made. The API layer parses requests into
//! domain values before, and maps the results back after; the command line calls the same
//! use cases. Neither sees a database transaction.
//!
//! A create that carries a request id runs through [`Once`], the one idempotency mechanism
//! of every create: it claims the caller's key for the method, makes the resource and
//! remembers its name, or, for a retry, replays what the first request made, checked for
//! the caller as a fresh request would be. Ledger lines and water samples, which are made
//! in batches ([`batch`]), use the same claims a batch at a time.

pub mod audit;
pub mod batch;
pub mod fund;
pub mod organization;
pub mod pairing;
pub mod plan;
pub mod program;
pub mod project;
pub mod region;
pub mod station;
pub mod supervision;
pub mod talent;
pub mod token;
pub mod water;

use std::{future::Future, marker::PhantomData};

use chrono::{DateTime, Utc};

use crate::{
    domain::{
        audit::{Audited, Call},
        request_id::RequestKey,
    },
    error::Error,
    store::{
        Store, idempotency,
        tx::{Change, Tx},
    },
};

/// A change to the resource `id` at the revision the caller read: the one carrier of every
/// update and every step that names its resource and etag. `what` is the fields sent or
/// the step taken; each resource's module says, as a [`Change`], what an edit of its kind
/// does.
pub struct Edit<W> {
    /// The resource's id.
    pub id: i64,
    /// The etag the caller read, or empty.
    pub etag: String,
    /// What the edit does: the fields sent, or the step.
    pub what: W,
}

impl<W> Edit<W> {
    /// What makes the edit `what` of a resource from its id and the etag the caller read.
    pub fn with(what: W) -> impl FnOnce(i64, String) -> Self {
        move |id, etag| Self { id, etag, what }
    }
}

/// DeleteX or UndeleteX of a resource that keeps its record and history when deleted: `R`
/// is its stored row, and each resource's module says, as a [`Change`], what it checks
/// before each.
pub struct SoftDelete<R> {
    /// The resource's id.
    pub id: i64,
    /// The etag the caller read, or empty; an undeletion sends none.
    pub etag: String,
    /// True to delete, false to undelete.
    pub delete: bool,
    resource: PhantomData<fn() -> R>,
}

impl<R> SoftDelete<R> {
    /// Deletes resource `id` at the revision the caller read.
    pub fn delete(id: i64, etag: String) -> Self {
        Self {
            id,
            etag,
            delete: true,
            resource: PhantomData,
        }
    }

    /// Undeletes resource `id`; an undeletion reads no etag.
    pub fn undelete(id: i64, _etag: String) -> Self {
        Self {
            id,
            etag: String::new(),
            delete: false,
            resource: PhantomData,
        }
    }

    /// The delete time the change writes: now for a deletion, none for an undeletion.
    pub fn delete_time(&self) -> Option<DateTime<Utc>> {
        self.delete.then(Utc::now)
    }
}

/// A create that a request id makes safe to retry.
pub trait Create: Send + Sync + 'static {
    /// What it makes.
    type Made: Audited + Send + 'static;

    /// Makes the resource; [`Once`] records it.
    fn make(&self, tx: &mut Tx<'_>) -> impl Future<Output = Result<Self::Made, Error>> + Send;

    /// The resource named `earlier`, which an earlier request with the same key made,
    /// as the call may see it now: in its reach, checked as a fresh request would be.
    fn replay(
        &self,
        tx: &mut Tx<'_>,
        earlier: &str,
    ) -> impl Future<Output = Result<Self::Made, Error>> + Send;
}

/// A [`Create`] under its request key, if the request sent one.
pub struct Once<C> {
    key: Option<RequestKey>,
    create: C,
}

impl<C: Create> Once<C> {
    /// `create`, made at most once for `key`.
    pub fn new(key: Option<RequestKey>, create: C) -> Self {
        Self { key, create }
    }
}

impl<C: Create> Change for Once<C> {
    type Output = C::Made;

    async fn apply(&self, tx: &mut Tx<'_>) -> Result<C::Made, Error> {
        let key = self.key.as_ref();
        if let Some(earlier) = idempotency::claim(tx.db(), key).await? {
            return self.create.replay(tx, &earlier).await;
        }
        let made = self.create.make(tx).await?;
        tx.record(key, &made);
        idempotency::settle(tx.db(), key, &made.audit_name()).await?;
        Ok(made)
    }
}

/// Runs `create` for `call`, at most once for `key`.
///
/// # Errors
/// What the create returns; `REQUEST_ID_REUSED` for a key sent before with another
/// request.
pub async fn create_once<C: Create>(
    store: &Store,
    call: Call,
    key: Option<RequestKey>,
    create: C,
) -> Result<C::Made, Error> {
    store.write(call, Once::new(key, create)).await
}
