//! Posting ledger lines: what RecordFundTransaction and ReverseFundTransaction do to the
//! books.
//!
//! Ledger lines are posted in batches. Requests that arrive together wait in one queue;
//! a single task takes whatever is waiting, reads the balances those lines touch once,
//! applies the lines to them one after another in memory (each checked and answered on
//! its own), and writes the accepted lines, their balances, totals, request ids and audit
//! events in one transaction. On SQLite that transaction joins the group commit; on
//! PostgreSQL the balances it touches are row-locked, so servers sharing one database
//! still post one line after another, and a batch that loses a race is run again.
//!
//! The batch is the server's own call ([`Call::internal`]); each line's audit event and
//! request key name the call that sent it, and each line is checked against its caller's
//! reach, a replay as a fresh request would be.

use std::{
    collections::{HashMap, hash_map},
    sync::Arc,
};

use tokio::sync::{mpsc, oneshot};

use crate::{
    domain::{
        access::{Caller, outside_scope, require_scope, unrestricted},
        audit::{Audited, Call},
        ledger::{Books, Entry},
        name,
        region::RegionPath,
        request_id::{RequestKey, reused},
    },
    error::Error,
    store::{
        Hold, Store, by_id,
        fund::{self, LineView},
        idempotency,
        pairing::PairingRow,
        tx::{Change, Tx},
    },
};

/// The most lines posted in one batch.
const MAX_BATCH: usize = 256;

/// One ledger request: a line to post, the call that sent it and its request key.
#[derive(Debug, Clone)]
pub struct LineRequest {
    /// The call that sent the line: its caller must reach the line's pairing, and the
    /// line's audit event names it.
    pub call: Call,
    /// The line.
    pub entry: Entry,
    /// The request key, if the request sent an id.
    pub key: Option<RequestKey>,
}

/// One ledger request waiting in the queue, with the channel that answers it.
struct Waiting {
    request: LineRequest,
    reply: oneshot::Sender<Result<LineView, Error>>,
}

/// The queue of ledger requests, and the task that posts them in batches.
#[derive(Clone)]
pub struct LedgerQueue {
    queue: mpsc::Sender<Waiting>,
}

impl LedgerQueue {
    /// A queue posting into `store`; starts the task that posts its lines, which ends when
    /// the queue is dropped.
    pub fn new(store: Store) -> Self {
        let (queue, waiting) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(post_batches(store, waiting));
        Self { queue }
    }

    /// Posts `request` with the requests waiting beside it; returns its line, or the line
    /// its request key recorded before.
    ///
    /// # Errors
    /// PERMISSION_DENIED `OUTSIDE_SCOPE` for a line outside the caller's reach; what the
    /// books refuse the line for; `REQUEST_ID_REUSED` for a key sent before with another
    /// request; INTERNAL when the task that posts lines has stopped.
    pub async fn post(&self, request: LineRequest) -> Result<LineView, Error> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Waiting { request, reply })
            .await
            .map_err(|_| anyhow::anyhow!("the ledger task has stopped"))?;
        answer
            .await
            .map_err(|_| anyhow::anyhow!("the ledger task dropped a request"))?
    }
}

/// Takes whatever requests are waiting, posts them as one batch, answers each, repeats.
async fn post_batches(store: Store, mut waiting: mpsc::Receiver<Waiting>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while waiting.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let (items, replies): (Vec<LineRequest>, Vec<_>) =
            batch.drain(..).map(|w| (w.request, w.reply)).unzip();
        let items = Arc::new(items);
        let outcome = write_batch(&store, items.clone()).await;
        match outcome {
            Ok(results) => {
                for (reply, result) in replies.into_iter().zip(results) {
                    let _ = reply.send(result);
                }
            }
            // What failed the batch belongs to some line of it, not to every line: each is
            // posted again on its own, so that only the line at fault fails.
            Err(error) if items.len() > 1 => {
                tracing::warn!(error = %error, lines = items.len(),
                    "a ledger batch failed; posting its lines one by one");
                for (item, reply) in items.iter().cloned().zip(replies) {
                    let result = write_batch(&store, Arc::new(vec![item]))
                        .await
                        .and_then(|mut one| one.pop().unwrap_or_else(|| Err(unanswered())));
                    let _ = reply.send(result);
                }
            }
            Err(error) => {
                tracing::warn!(error = %error, "a ledger line failed");
                for reply in replies {
                    let _ = reply.send(Err(error.clone()));
                }
            }
        }
    }
}

/// Posts `items` as one batch in one write transaction.
async fn write_batch(
    store: &Store,
    items: Arc<Vec<LineRequest>>,
) -> Result<Vec<Result<LineView, Error>>, Error> {
    store
        .write(Call::internal("ledger batch"), PostBatch { items })
        .await
}

fn unanswered() -> Error {
    anyhow::anyhow!("a ledger request went unanswered").into()
}

/// A batch of ledger requests, posted in one transaction: one answer per request, in
/// order. An error of the whole batch (the database's) fails every request in it.
struct PostBatch {
    /// The requests, shared with the queue, which posts them again one by one should the
    /// batch fail.
    items: Arc<Vec<LineRequest>>,
}

impl Change for PostBatch {
    type Output = Vec<Result<LineView, Error>>;

    async fn apply(&self, tx: &mut Tx<'_>) -> Result<Self::Output, Error> {
        post_batch(tx, &self.items).await
    }
}

/// How one request of a batch is settled before posting.
enum Plan {
    /// Post it.
    Post,
    /// Its request key recorded line `id` before: answer with that line.
    Replay(i64),
    /// The same caller's request id came earlier in this batch, at this index.
    SameAs(usize),
    /// Refused already.
    Refused(Error),
}

/// Posts a batch of ledger requests inside `tx`; returns one answer per request, in order.
async fn post_batch(
    tx: &mut Tx<'_>,
    items: &[LineRequest],
) -> Result<Vec<Result<LineView, Error>>, Error> {
    let plans = plan(tx, items).await?;
    let to_post: Vec<&Entry> = items
        .iter()
        .zip(&plans)
        .filter(|(_, plan)| matches!(plan, Plan::Post))
        .map(|(item, _)| &item.entry)
        .collect();
    let mut ledger = fund::load_books(tx.db(), &to_post).await?;
    let books = &mut ledger.books;
    let mut answers: Vec<Option<Result<LineView, Error>>> = vec![None; items.len()];
    let mut postings = Vec::new();
    let mut posted = Vec::new();
    for (index, (item, plan)) in items.iter().zip(&plans).enumerate() {
        match plan {
            Plan::Post => {
                let posting = item.call.authenticated().and_then(|caller| {
                    in_reach(books, caller, &item.entry)?;
                    Ok((books.post(&item.entry)?, caller.token_id))
                });
                match posting {
                    Ok((posting, creator)) => {
                        postings.push((posting, Some(creator)));
                        posted.push(index);
                    }
                    Err(error) => answers[index] = Some(Err(error)),
                }
            }
            Plan::Refused(error) => answers[index] = Some(Err(error.clone())),
            Plan::Replay(_) | Plan::SameAs(..) => {}
        }
    }

    let rows = fund::write(tx.db(), &ledger, &postings).await?;
    let mut made = Vec::new();
    for (&index, row) in posted.iter().zip(rows) {
        let item = &items[index];
        let view = LineView {
            row,
            reversed_by: None,
        };
        tx.record_for(&item.call, item.key.as_ref(), &view);
        if let Some(key) = &item.key {
            made.push((key, view.audit_name()));
        }
        answers[index] = Some(Ok(view));
    }
    idempotency::settle_many(tx.db(), made).await?;
    // The keys of lines the books refused were claimed for nothing.
    let refused: Vec<&RequestKey> = items
        .iter()
        .zip(&plans)
        .zip(&answers)
        .filter(|((_, plan), answer)| matches!(plan, Plan::Post) && matches!(answer, Some(Err(_))))
        .filter_map(|((item, _), _)| item.key.as_ref())
        .collect();
    idempotency::release_many(tx.db(), refused).await?;
    replay(tx, items, &plans, &mut answers).await?;
    Ok(answers
        .into_iter()
        .map(|a| a.unwrap_or_else(|| Err(unanswered())))
        .collect())
}

/// Settles each request's key: new keys are claimed and posted (a key repeated inside the
/// batch waits for its first), used ones replay their line or are refused as reused.
async fn plan(tx: &Tx<'_>, items: &[LineRequest]) -> Result<Vec<Plan>, Error> {
    let keys: Vec<&RequestKey> = items.iter().filter_map(|i| i.key.as_ref()).collect();
    let used = idempotency::claim_many(tx.db(), &keys).await?;
    let mut first_use: HashMap<(&str, &str, &str), usize> = HashMap::new();
    let mut plans = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let Some(key) = &item.key else {
            plans.push(Plan::Post);
            continue;
        };
        if let Some(earlier) = used.get(key) {
            plans.push(match earlier {
                Ok(resource) => {
                    Plan::Replay(name::parse_id("request_id", "fundTransactions", resource)?)
                }
                Err(error) => Plan::Refused(error.clone()),
            });
            continue;
        }
        match first_use.entry((key.caller(), key.method(), key.id().as_str())) {
            hash_map::Entry::Occupied(first) => plans.push(Plan::SameAs(*first.get())),
            hash_map::Entry::Vacant(slot) => {
                slot.insert(index);
                plans.push(Plan::Post);
            }
        }
    }
    Ok(plans)
}

/// Answers the replays of a batch: each with its line, once the caller is found still to
/// reach it, as a fresh request would be; a key repeated in the batch with the answer of
/// its first use, or as reused when the request differs.
async fn replay(
    tx: &Tx<'_>,
    items: &[LineRequest],
    plans: &[Plan],
    answers: &mut [Option<Result<LineView, Error>>],
) -> Result<(), Error> {
    let replayed: Vec<i64> = plans
        .iter()
        .filter_map(|p| match p {
            Plan::Replay(id) => Some(*id),
            _ => None,
        })
        .collect();
    let views = fund::views(tx.db(), &replayed).await?;
    let mut reach: HashMap<i64, [RegionPath; 2]> = HashMap::new();
    for view in views.values() {
        if let hash_map::Entry::Vacant(slot) = reach.entry(view.row.pairing_id) {
            if let Some(p) =
                by_id::<PairingRow>(tx.db(), view.row.pairing_id, Hold::Nothing).await?
            {
                slot.insert([
                    RegionPath::from_stored(p.supporting_path),
                    RegionPath::from_stored(p.supported_path),
                ]);
            }
        }
    }
    for (index, plan) in plans.iter().enumerate() {
        match plan {
            // Several retries of one request may come in one batch: each gets the line.
            Plan::Replay(id) => {
                let view = views.get(id).cloned().ok_or_else(|| {
                    Error::from(anyhow::anyhow!("line {id} of a request id is missing"))
                });
                answers[index] = Some(view.and_then(|view| {
                    let [supporting, supported] =
                        reach.get(&view.row.pairing_id).ok_or_else(outside_scope)?;
                    let caller = items[index].call.authenticated()?;
                    require_scope(caller, &[supporting, supported])?;
                    Ok(view)
                }));
            }
            Plan::SameAs(first) => {
                let same = items[*first].key == items[index].key;
                answers[index] = Some(if same {
                    answers[*first].clone().unwrap_or_else(|| Err(reused()))
                } else {
                    Err(reused())
                });
            }
            Plan::Post | Plan::Refused(_) => {}
        }
    }
    Ok(())
}

/// Checks that the caller may move money on the pairing an entry belongs to. Permission
/// comes before existence: a scoped caller learns nothing of what lies outside its reach,
/// not even whether it exists.
fn in_reach(books: &Books, caller: &Caller, entry: &Entry) -> Result<(), Error> {
    match books
        .pairing_of(entry)
        .and_then(|id| books.pairings.get(&id))
    {
        Some(p) => require_scope(caller, &[&p.supporting, &p.supported]),
        None if unrestricted(caller) => Ok(()),
        None => Err(outside_scope()),
    }
}
