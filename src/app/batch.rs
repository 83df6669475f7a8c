//! Creates that are written in batches: requests that arrive together wait in one queue,
//! and a single task takes whatever is waiting, makes their resources in one transaction
//! (each checked and answered on its own), and commits once. Ledger lines and water
//! samples go this way: each is small, many come at once, and what one reads (a balance,
//! a section's day totals and open entry) the next one changes.
//!
//! The batch is the server's own call ([`Call::internal`]); each resource's audit event and
//! request key name the call that sent it, and each request is checked against its
//! caller's reach, a replay as a fresh request would be. Request keys are claimed,
//! settled and released a batch at a time through [`crate::store::idempotency`], as
//! [`super::Once`] does one request at a time. Should the batch fail as a whole, its
//! requests are made again one by one, so that only the request at fault fails.

use std::{
    collections::{HashMap, hash_map},
    future::Future,
    sync::Arc,
};

use tokio::sync::{mpsc, oneshot};

use crate::{
    domain::{
        audit::{Audited, Call},
        name,
        request_id::{RequestKey, reused},
    },
    error::Error,
    store::{
        Store, idempotency,
        tx::{Change, Tx},
    },
};

/// The most requests made in one batch.
const MAX_BATCH: usize = 256;

/// What a kind of batched create does to the books.
pub trait Batched: Send + Sync + 'static {
    /// One request: what to make, the call that sent it and its request key.
    type Request: Clone + Send + Sync + 'static;
    /// What a request makes, and is answered with.
    type Made: Audited + Clone + Send + Sync + 'static;

    /// The batch's name, for its internal call and its log lines.
    const NAME: &'static str;
    /// The collection of what it makes, whose names request keys remember.
    const COLLECTION: &'static str;

    /// The call that sent `request`.
    fn call(request: &Self::Request) -> &Call;

    /// The request key of `request`, if it sent an id.
    fn key(request: &Self::Request) -> Option<&RequestKey>;

    /// Makes what each of `fresh` asks for, in order, inside `tx`: one answer per request.
    /// A request refused gets its error; an error of the whole call fails the batch. The
    /// audit events of what is made are recorded after, one per answer made.
    fn make(
        &self,
        tx: &mut Tx<'_>,
        fresh: &[&Self::Request],
    ) -> impl Future<Output = Result<Vec<Result<Self::Made, Error>>, Error>> + Send;

    /// What earlier requests with the same keys made, the resources `id`, each as its
    /// request's caller may see it now, checked as a fresh request would be: one answer
    /// per replay.
    fn replay(
        &self,
        tx: &mut Tx<'_>,
        replays: &[(&Self::Request, i64)],
    ) -> impl Future<Output = Result<Vec<Result<Self::Made, Error>>, Error>> + Send;
}

/// One request waiting in the queue, with the channel that answers it.
struct Waiting<B: Batched> {
    request: B::Request,
    reply: oneshot::Sender<Result<B::Made, Error>>,
}

/// The queue of `B`'s requests, and the task that makes them in batches.
pub struct BatchQueue<B: Batched> {
    queue: mpsc::Sender<Waiting<B>>,
}

impl<B: Batched> Clone for BatchQueue<B> {
    fn clone(&self) -> Self {
        Self {
            queue: self.queue.clone(),
        }
    }
}

impl<B: Batched> BatchQueue<B> {
    /// A queue making `work`'s requests in `store`; starts the task that makes them, which
    /// ends when the queue is dropped.
    pub fn new(store: Store, work: B) -> Self {
        let (queue, waiting) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(make_batches(store, Arc::new(work), waiting));
        Self { queue }
    }

    /// Makes `request` with the requests waiting beside it; returns what it made, or what
    /// its request key made before.
    ///
    /// # Errors
    /// What `B` refuses the request for; `REQUEST_ID_REUSED` for a key sent before with
    /// another request; INTERNAL when the task that makes requests has stopped.
    pub async fn post(&self, request: B::Request) -> Result<B::Made, Error> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Waiting { request, reply })
            .await
            .map_err(|_| anyhow::anyhow!("the task of the {} has stopped", B::NAME))?;
        answer
            .await
            .map_err(|_| anyhow::anyhow!("the task of the {} dropped a request", B::NAME))?
    }
}

/// Takes whatever requests are waiting, makes them as one batch, answers each, repeats.
async fn make_batches<B: Batched>(
    store: Store,
    work: Arc<B>,
    mut waiting: mpsc::Receiver<Waiting<B>>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while waiting.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let (items, replies): (Vec<B::Request>, Vec<_>) =
            batch.drain(..).map(|w| (w.request, w.reply)).unzip();
        let items = Arc::new(items);
        match write_batch(&store, &work, items.clone()).await {
            Ok(results) => {
                for (reply, result) in replies.into_iter().zip(results) {
                    let _ = reply.send(result);
                }
            }
            // What failed the batch belongs to some request of it, not to every one: each
            // is made again on its own, so that only the request at fault fails.
            Err(error) if items.len() > 1 => {
                tracing::warn!(error = %error, requests = items.len(),
                    "a {} failed; making its requests one by one", B::NAME);
                for (item, reply) in items.iter().cloned().zip(replies) {
                    let result = write_batch(&store, &work, Arc::new(vec![item]))
                        .await
                        .and_then(|mut one| one.pop().unwrap_or_else(|| Err(unanswered())));
                    let _ = reply.send(result);
                }
            }
            Err(error) => {
                tracing::warn!(error = %error, "a request of a {} failed", B::NAME);
                for reply in replies {
                    let _ = reply.send(Err(error.clone()));
                }
            }
        }
    }
}

/// Makes `items` as one batch in one write transaction.
async fn write_batch<B: Batched>(
    store: &Store,
    work: &Arc<B>,
    items: Arc<Vec<B::Request>>,
) -> Result<Vec<Result<B::Made, Error>>, Error> {
    let batch = Batch {
        work: work.clone(),
        items,
    };
    store.write(Call::internal(B::NAME), batch).await
}

fn unanswered() -> Error {
    anyhow::anyhow!("a batched request went unanswered").into()
}

/// A batch of requests, made in one transaction: one answer per request, in order.
struct Batch<B: Batched> {
    work: Arc<B>,
    /// The requests, shared with the queue, which makes them again one by one should the
    /// batch fail.
    items: Arc<Vec<B::Request>>,
}

impl<B: Batched> Change for Batch<B> {
    type Output = Vec<Result<B::Made, Error>>;

    async fn apply(&self, tx: &mut Tx<'_>) -> Result<Self::Output, Error> {
        make_batch(&*self.work, tx, &self.items).await
    }
}

/// How one request of a batch is settled before making.
enum Plan {
    /// Make it.
    Make,
    /// Its request key recorded resource `id` before: answer with that.
    Replay(i64),
    /// The same caller's request id came earlier in this batch, at this index.
    SameAs(usize),
    /// Refused already.
    Refused(Error),
}

/// Makes a batch of requests inside `tx`; returns one answer per request, in order.
async fn make_batch<B: Batched>(
    work: &B,
    tx: &mut Tx<'_>,
    items: &[B::Request],
) -> Result<Vec<Result<B::Made, Error>>, Error> {
    let plans = plan::<B>(tx, items).await?;
    let to_make: Vec<usize> = (0..items.len())
        .filter(|&i| matches!(plans[i], Plan::Make))
        .collect();
    let fresh: Vec<&B::Request> = to_make.iter().map(|&i| &items[i]).collect();
    let made = work.make(tx, &fresh).await?;
    if made.len() != fresh.len() {
        return Err(
            anyhow::anyhow!("a {} answered {} of {}", B::NAME, made.len(), fresh.len()).into(),
        );
    }
    let mut answers: Vec<Option<Result<B::Made, Error>>> = vec![None; items.len()];
    let mut settled = Vec::new();
    let mut refused = Vec::new();
    for (&index, answer) in to_make.iter().zip(made) {
        let item = &items[index];
        let key = B::key(item);
        match &answer {
            Ok(made) => {
                tx.record_for(B::call(item), key, made);
                if let Some(key) = key {
                    settled.push((key, made.audit_name()));
                }
            }
            // The key of a refused request was claimed for nothing.
            Err(_) => refused.extend(key),
        }
        answers[index] = Some(answer);
    }
    idempotency::settle_many(tx.db(), settled).await?;
    idempotency::release_many(tx.db(), refused).await?;
    replay(work, tx, items, &plans, &mut answers).await?;
    Ok(answers
        .into_iter()
        .map(|a| a.unwrap_or_else(|| Err(unanswered())))
        .collect())
}

/// Settles each request's key: new keys are claimed and made (a key repeated inside the
/// batch waits for its first), used ones replay what they made or are refused as reused.
async fn plan<B: Batched>(tx: &Tx<'_>, items: &[B::Request]) -> Result<Vec<Plan>, Error> {
    let keys: Vec<&RequestKey> = items.iter().filter_map(B::key).collect();
    let used = idempotency::claim_many(tx.db(), &keys).await?;
    let mut first_use: HashMap<(&str, &str, &str), usize> = HashMap::new();
    let mut plans = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let Some(key) = B::key(item) else {
            plans.push(Plan::Make);
            continue;
        };
        if let Some(earlier) = used.get(key) {
            plans.push(match earlier {
                Ok(resource) => {
                    Plan::Replay(name::parse_id("request_id", B::COLLECTION, resource)?)
                }
                Err(error) => Plan::Refused(error.clone()),
            });
            continue;
        }
        match first_use.entry((key.caller(), key.method(), key.id().as_str())) {
            hash_map::Entry::Occupied(first) => plans.push(Plan::SameAs(*first.get())),
            hash_map::Entry::Vacant(slot) => {
                slot.insert(index);
                plans.push(Plan::Make);
            }
        }
    }
    Ok(plans)
}

/// Answers the replays of a batch, and the refusals: each replay with what its key made,
/// as its caller may see it now; a key repeated in the batch with the answer of its first
/// use, or as reused when the request differs.
async fn replay<B: Batched>(
    work: &B,
    tx: &mut Tx<'_>,
    items: &[B::Request],
    plans: &[Plan],
    answers: &mut [Option<Result<B::Made, Error>>],
) -> Result<(), Error> {
    let replays: Vec<(usize, i64)> = plans
        .iter()
        .enumerate()
        .filter_map(|(index, p)| match p {
            Plan::Replay(id) => Some((index, *id)),
            _ => None,
        })
        .collect();
    if !replays.is_empty() {
        let asked: Vec<(&B::Request, i64)> = replays
            .iter()
            .map(|&(index, id)| (&items[index], id))
            .collect();
        let found = work.replay(tx, &asked).await?;
        if found.len() != replays.len() {
            return Err(anyhow::anyhow!(
                "a {} replayed {} of {}",
                B::NAME,
                found.len(),
                replays.len()
            )
            .into());
        }
        for ((index, _), answer) in replays.into_iter().zip(found) {
            answers[index] = Some(answer);
        }
    }
    for (index, plan) in plans.iter().enumerate() {
        match plan {
            Plan::SameAs(first) => {
                let same = B::key(&items[*first]) == B::key(&items[index]);
                answers[index] = Some(if same {
                    answers[*first].clone().unwrap_or_else(|| Err(reused()))
                } else {
                    Err(reused())
                });
            }
            Plan::Refused(error) => answers[index] = Some(Err(error.clone())),
            Plan::Make | Plan::Replay(_) => {}
        }
    }
    Ok(())
}
