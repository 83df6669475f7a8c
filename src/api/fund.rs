//! `duikou.v1.FundService`: the funds ledger.
//!
//! Ledger lines are posted in batches. Requests that arrive together wait in one queue;
//! a single task takes whatever is waiting, reads the balances those lines touch once,
//! applies the lines to them one after another in memory (each checked and answered on
//! its own), and writes the accepted lines, their balances, totals, request ids and audit
//! events in one transaction. On SQLite that transaction joins the group commit; on
//! PostgreSQL the balances it touches are row-locked, so servers sharing one database
//! still post one line after another, and a batch that loses a race is run again.

use std::{
    collections::{BTreeMap, HashMap, hash_map},
    sync::Arc,
};

use chrono::Utc;
use sea_orm::ConnectionTrait;
use tokio::sync::{mpsc, oneshot};
use tonic::{Request, Response, Status};

use super::{
    SummaryScope, authz, filter_region_path,
    project::{amount, money},
    record, request_key, summary_scope, timestamp,
};
use crate::{
    domain::{
        access::Caller,
        ledger::{Books, Entry, Instrument, Kind, LineDraft, LineFilter, Source, Sums},
        money::{Balance, Sum},
        name,
        page::Page,
        pairing::CooperationField,
        period::{format_date, parse_date},
        region::RegionPath,
        request_id::{RequestKey, reused},
        text,
    },
    error::Error,
    proto::v1::{
        FieldTotals, FundSummary, FundTotals, FundTransaction, GetFundSummaryRequest,
        GetFundTransactionRequest, InstrumentTotals, ListFundTransactionsRequest,
        ListFundTransactionsResponse, Money, RecordFundTransactionRequest,
        ReverseFundTransactionRequest, SourceTotals, fund_service_server::FundService,
    },
    store::{
        Store,
        fund::{self, LineQuery, LineView},
        idempotency, pairing as pairings,
    },
};

const RECORD: &str = "/duikou.v1.FundService/RecordFundTransaction";
const REVERSE: &str = "/duikou.v1.FundService/ReverseFundTransaction";

/// The most lines posted in one batch.
const MAX_BATCH: usize = 256;

/// One ledger request as the batch sees it.
#[derive(Clone)]
struct Item {
    caller: Caller,
    entry: Entry,
    method: &'static str,
    key: Option<RequestKey>,
}

/// One ledger request waiting in the queue, with the channel that answers it.
struct Waiting {
    item: Item,
    reply: oneshot::Sender<Result<LineView, Error>>,
}

/// Serves the ledger from the store.
#[derive(Clone)]
pub struct Funds {
    store: Store,
    queue: mpsc::Sender<Waiting>,
}

impl Funds {
    /// A service over `store`; starts the task that posts ledger lines, which ends when
    /// the service is dropped.
    pub fn new(store: Store) -> Self {
        let (queue, waiting) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(post_batches(store.clone(), waiting));
        Self { store, queue }
    }

    async fn post(&self, item: Item) -> Result<LineView, Error> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Waiting { item, reply })
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
        let (items, replies): (Vec<Item>, Vec<_>) =
            batch.drain(..).map(|w| (w.item, w.reply)).unzip();
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
    items: Arc<Vec<Item>>,
) -> Result<Vec<Result<LineView, Error>>, Error> {
    store
        .write_legacy(move |tx| {
            let items = items.clone();
            Box::pin(async move { post_batch(tx, &items).await })
        })
        .await
}

fn unanswered() -> Error {
    anyhow::anyhow!("a ledger request went unanswered").into()
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
/// An error of the whole batch (the database's) fails every request in it.
async fn post_batch(
    tx: &impl ConnectionTrait,
    items: &[Item],
) -> Result<Vec<Result<LineView, Error>>, Error> {
    let plans = plan(tx, items).await?;
    let to_post: Vec<&Entry> = items
        .iter()
        .zip(&plans)
        .filter(|(_, plan)| matches!(plan, Plan::Post))
        .map(|(item, _)| &item.entry)
        .collect();
    let mut ledger = fund::load_books(tx, &to_post).await?;
    let books = &mut ledger.books;
    let mut answers: Vec<Option<Result<LineView, Error>>> = vec![None; items.len()];
    let mut postings = Vec::new();
    let mut posted = Vec::new();
    for (index, (item, plan)) in items.iter().zip(&plans).enumerate() {
        match plan {
            Plan::Post => {
                match in_reach(books, &item.caller, &item.entry)
                    .and_then(|()| books.post(&item.entry))
                {
                    Ok(posting) => {
                        postings.push((posting, Some(item.caller.token_id)));
                        posted.push(index);
                    }
                    Err(error) => answers[index] = Some(Err(error)),
                }
            }
            Plan::Refused(error) => answers[index] = Some(Err(error.clone())),
            Plan::Replay(_) | Plan::SameAs(..) => {}
        }
    }

    let rows = fund::write(tx, &ledger, &postings).await?;
    let mut made = Vec::new();
    for (&index, row) in posted.iter().zip(rows) {
        let item = &items[index];
        let view = LineView {
            row,
            reversed_by: None,
        };
        let line = line_to_proto(&view);
        record(
            &item.caller,
            item.method,
            &line.name,
            item.key.as_ref(),
            &line,
        )?;
        if let Some(key) = &item.key {
            made.push((key, line.name));
        }
        answers[index] = Some(Ok(view));
    }
    idempotency::settle_many(tx, made).await?;
    // The keys of lines the books refused were claimed for nothing.
    let refused: Vec<&RequestKey> = items
        .iter()
        .zip(&plans)
        .zip(&answers)
        .filter(|((_, plan), answer)| matches!(plan, Plan::Post) && matches!(answer, Some(Err(_))))
        .filter_map(|((item, _), _)| item.key.as_ref())
        .collect();
    idempotency::release_many(tx, refused).await?;
    replay(tx, items, &plans, &mut answers).await?;
    Ok(answers
        .into_iter()
        .map(|a| a.unwrap_or_else(|| Err(unanswered())))
        .collect())
}

/// Settles each request's key: new keys are claimed and posted (a key repeated inside the
/// batch waits for its first), used ones replay their line or are refused as reused.
async fn plan(tx: &impl ConnectionTrait, items: &[Item]) -> Result<Vec<Plan>, Error> {
    let keys: Vec<&RequestKey> = items.iter().filter_map(|i| i.key.as_ref()).collect();
    let used = idempotency::claim_many(tx, &keys).await?;
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
    tx: &impl ConnectionTrait,
    items: &[Item],
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
    let views = fund::views(tx, &replayed).await?;
    let mut reach: HashMap<i64, [RegionPath; 2]> = HashMap::new();
    for view in views.values() {
        if let hash_map::Entry::Vacant(slot) = reach.entry(view.row.pairing_id) {
            if let Some(p) = pairings::get(tx, view.row.pairing_id).await? {
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
                    let [supporting, supported] = reach
                        .get(&view.row.pairing_id)
                        .ok_or_else(authz::outside_scope)?;
                    authz::require_scope(&items[index].caller, &[supporting, supported])?;
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
        Some(p) => authz::require_scope(caller, &[&p.supporting, &p.supported]),
        None if authz::unrestricted(caller) => Ok(()),
        None => Err(authz::outside_scope()),
    }
}

/// The API form of a stored line.
fn line_to_proto(view: &LineView) -> FundTransaction {
    let row = &view.row;
    let name_of = |collection, id: Option<i64>| {
        id.map(|id| name::format_id(collection, id))
            .unwrap_or_default()
    };
    FundTransaction {
        name: name::format_id("fundTransactions", row.id),
        kind: i32::from(row.kind),
        pairing: name::format_id("pairings", row.pairing_id),
        project: name_of("projects", row.project_id),
        fiscal_year: row.fiscal_year,
        amount: Some(money(Balance(row.amount_fen))),
        source: i32::from(row.source),
        instrument: i32::from(row.instrument),
        payee: row.payee.clone(),
        value_date: format_date(row.value_date),
        memo: row.memo.clone(),
        reverses: name_of("fundTransactions", row.reverses_id),
        reversed_by: name_of("fundTransactions", view.reversed_by),
        create_time: Some(timestamp(row.create_time)),
        creator: name_of("accessTokens", row.creator_token_id),
    }
}

/// Reads a RecordFundTransaction request into a line draft, naming every bad field.
fn parse_draft(t: &FundTransaction) -> Result<LineDraft, Error> {
    let kind = match Kind::from_number(t.kind) {
        Some(Kind::Reversal) => Err(Error::invalid(
            "fund_transaction.kind",
            "a reversal is made with ReverseFundTransaction",
        )),
        Some(kind) => Ok(kind),
        None => Err(Error::invalid(
            "fund_transaction.kind",
            "must be COMMITMENT, ALLOCATION or DISBURSEMENT",
        )),
    };
    let optional_id = |field: &str, collection: &str, value: &str| match value {
        "" => Ok(None),
        text => name::parse_id(field, collection, text).map(Some),
    };
    let pairing_id = optional_id("fund_transaction.pairing", "pairings", &t.pairing);
    let project_id = optional_id("fund_transaction.project", "projects", &t.project);
    let fiscal_year = if (1..=9999).contains(&t.fiscal_year) {
        Ok(t.fiscal_year)
    } else {
        Err(Error::invalid(
            "fund_transaction.fiscal_year",
            "must be a year such as 2025",
        ))
    };
    let amount = amount("fund_transaction.amount", t.amount.as_ref());
    let source = Source::from_number(t.source)
        .ok_or_else(|| Error::invalid("fund_transaction.source", "must be a fund source"));
    let instrument = Instrument::from_number(t.instrument)
        .ok_or_else(|| Error::invalid("fund_transaction.instrument", "must be a fund instrument"));
    let value_date = parse_date("fund_transaction.value_date", &t.value_date);
    let memo = text::check("fund_transaction.memo", &t.memo, 1000, false);
    let mut shape = Vec::new();
    match kind {
        Ok(Kind::Commitment) => {
            if t.pairing.is_empty() {
                shape.push(Err(Error::invalid(
                    "fund_transaction.pairing",
                    "is required",
                )));
            }
            if !t.project.is_empty() {
                shape.push(Err(Error::invalid(
                    "fund_transaction.project",
                    "must be empty on a commitment, which goes to the pairing",
                )));
            }
        }
        Ok(Kind::Allocation | Kind::Disbursement) if t.project.is_empty() => {
            shape.push(Err(Error::invalid(
                "fund_transaction.project",
                "is required for an allocation or a disbursement",
            )));
        }
        _ => {}
    }
    match kind {
        Ok(Kind::Disbursement) => {
            shape.push(text::check("fund_transaction.payee", &t.payee, 200, true));
        }
        _ if !t.payee.is_empty() => shape.push(Err(Error::invalid(
            "fund_transaction.payee",
            "is only for a disbursement",
        ))),
        _ => {}
    }
    Error::collect(
        [
            Error::of(&kind),
            Error::of(&pairing_id),
            Error::of(&project_id),
            Error::of(&fiscal_year),
            Error::of(&amount),
            Error::of(&source),
            Error::of(&instrument),
            Error::of(&value_date),
            memo,
        ]
        .into_iter()
        .chain(shape),
    )?;
    Ok(LineDraft {
        kind: kind?,
        pairing_id: pairing_id?,
        project_id: project_id?,
        fiscal_year: fiscal_year?,
        amount: amount?,
        source: source?,
        instrument: instrument?,
        payee: t.payee.clone(),
        value_date: value_date?,
        memo: t.memo.clone(),
    })
}

/// The API form of a summary's sums.
///
/// # Errors
/// FAILED_PRECONDITION `AMOUNT_OUT_OF_RANGE` for a sum beyond what Money carries.
fn totals(sums: Sums) -> Result<FundTotals, Error> {
    Ok(FundTotals {
        committed: Some(wide_money(sums.committed)?),
        allocated: Some(wide_money(sums.allocated)?),
        disbursed: Some(wide_money(sums.disbursed)?),
    })
}

/// A sum as google.type.Money.
///
/// # Errors
/// FAILED_PRECONDITION `AMOUNT_OUT_OF_RANGE` when its yuan do not fit Money's units.
fn wide_money(sum: Sum) -> Result<Money, Error> {
    let (units, nanos) = sum.units_and_nanos()?;
    Ok(Money {
        currency_code: "CNY".to_owned(),
        units,
        nanos,
    })
}

#[tonic::async_trait]
impl FundService for Funds {
    async fn record_fund_transaction(
        &self,
        request: Request<RecordFundTransactionRequest>,
    ) -> Result<Response<FundTransaction>, Status> {
        let caller = authz::caller(&request)?;
        let mut req = request.into_inner();
        let key = request_key(Some(&caller), RECORD, &mut req, |r| &mut r.request_id);
        let draft = parse_draft(&req.fund_transaction.clone().unwrap_or_default());
        Error::collect([Error::of(&key), Error::of(&draft)])?;
        let view = self
            .post(Item {
                caller,
                entry: Entry::Record(draft?),
                method: RECORD,
                key: key?,
            })
            .await?;
        tracing::info!(line = view.row.id, "ledger line recorded");
        Ok(Response::new(line_to_proto(&view)))
    }

    async fn reverse_fund_transaction(
        &self,
        request: Request<ReverseFundTransactionRequest>,
    ) -> Result<Response<FundTransaction>, Status> {
        let caller = authz::caller(&request)?;
        let mut req = request.into_inner();
        let key = request_key(Some(&caller), REVERSE, &mut req, |r| &mut r.request_id);
        let line_id = name::parse_id("name", "fundTransactions", &req.name);
        let reason = text::check("reason", &req.reason, 1000, true);
        Error::collect([Error::of(&key), Error::of(&line_id), reason])?;
        let view = self
            .post(Item {
                caller,
                entry: Entry::Reverse {
                    line_id: line_id?,
                    reason: req.reason.clone(),
                    value_date: Utc::now().date_naive(),
                },
                method: REVERSE,
                key: key?,
            })
            .await?;
        tracing::info!(line = view.row.id, "ledger line reversed");
        Ok(Response::new(line_to_proto(&view)))
    }

    async fn get_fund_transaction(
        &self,
        request: Request<GetFundTransactionRequest>,
    ) -> Result<Response<FundTransaction>, Status> {
        let id = name::parse_id("name", "fundTransactions", &request.get_ref().name)?;
        let view = fund::views(self.store.db(), &[id])
            .await?
            .remove(&id)
            .ok_or_else(|| Error::NotFound {
                reason: "FUND_TRANSACTION_NOT_FOUND",
                resource: name::format_id("fundTransactions", id),
            })?;
        Ok(Response::new(line_to_proto(&view)))
    }

    async fn list_fund_transactions(
        &self,
        request: Request<ListFundTransactionsRequest>,
    ) -> Result<Response<ListFundTransactionsResponse>, Status> {
        let req = request.into_inner();
        let filter = LineFilter::parse(&req.filter);
        let page = Page::open(req.page_size, &req.page_token, &["funds", &req.filter]);
        Error::collect([Error::of(&filter), Error::of(&page)])?;
        let (filter, page) = (filter?, page?);
        let db = self.store.db();
        let region_within = filter_region_path(db, filter.region.as_ref()).await?;
        let query = LineQuery {
            pairing_id: filter.pairing_id,
            project_id: filter.project_id,
            kind: filter.kind,
            fiscal_year: filter.fiscal_year,
            source: filter.source,
            instrument: filter.instrument,
            region_within,
        };
        let rows = fund::list(db, &query, page.after_id()?, page.fetch()).await?;
        let (rows, next_page_token) = page.close(rows, |r| r.id.to_string());
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let reversals = fund::reversals_of(db, &ids).await?;
        Ok(Response::new(ListFundTransactionsResponse {
            fund_transactions: rows
                .into_iter()
                .map(|row| {
                    let reversed_by = reversals.get(&row.id).copied();
                    line_to_proto(&LineView { row, reversed_by })
                })
                .collect(),
            next_page_token,
        }))
    }

    async fn get_fund_summary(
        &self,
        request: Request<GetFundSummaryRequest>,
    ) -> Result<Response<FundSummary>, Status> {
        let req = request.into_inner();
        if req.scope.is_empty() {
            return Err(Error::invalid("scope", "is required").into());
        }
        if !(0..=9999).contains(&req.fiscal_year) {
            return Err(Error::invalid("fiscal_year", "must be a year, or 0 for all years").into());
        }
        let db = self.store.db();
        let scope = summary_scope(
            db,
            &req.scope,
            &["pairings", "projects", "programs", "regions"],
        )
        .await?;
        let rows = match &scope {
            SummaryScope::Region(path) => fund::region_totals(db, path, req.fiscal_year).await?,
            _ => fund::totals(db, &req.scope, req.fiscal_year).await?,
        };
        let mut all = Sums::default();
        let mut by_source: BTreeMap<i16, Sums> = BTreeMap::new();
        let mut by_instrument: BTreeMap<i16, Sums> = BTreeMap::new();
        let mut by_field: BTreeMap<i16, Sums> = BTreeMap::new();
        for row in &rows {
            all.add(&row.sums);
            by_source.entry(row.source).or_default().add(&row.sums);
            by_instrument
                .entry(row.instrument)
                .or_default()
                .add(&row.sums);
            if CooperationField::from_number(i32::from(row.field)).is_some() {
                by_field.entry(row.field).or_default().add(&row.sums);
            }
        }
        let (available, rate_base) = match scope {
            SummaryScope::Project { budget_fen, .. } => {
                (Sum(i128::from(budget_fen) - all.allocated.0), all.allocated)
            }
            SummaryScope::Pairing(_) | SummaryScope::Program(_) | SummaryScope::Region(_) => {
                (Sum(all.committed.0 - all.allocated.0), all.committed)
            }
        };
        let execution_rate = if rate_base.0 == 0 {
            0.0
        } else {
            all.disbursed.0 as f64 / rate_base.0 as f64
        };
        let breakdown = |sums: BTreeMap<i16, Sums>| {
            sums.into_iter()
                .filter(|(_, s)| !s.is_zero())
                .map(|(key, s)| Ok((i32::from(key), Some(totals(s)?))))
                .collect::<Result<Vec<_>, Error>>()
        };
        Ok(Response::new(FundSummary {
            scope: req.scope,
            fiscal_year: req.fiscal_year,
            totals: Some(totals(all)?),
            available_to_allocate: Some(wide_money(available)?),
            undisbursed: Some(wide_money(Sum(all.allocated.0 - all.disbursed.0))?),
            execution_rate,
            by_instrument: breakdown(by_instrument)?
                .into_iter()
                .map(|(instrument, totals)| InstrumentTotals { instrument, totals })
                .collect(),
            by_source: breakdown(by_source)?
                .into_iter()
                .map(|(source, totals)| SourceTotals { source, totals })
                .collect(),
            by_field: breakdown(by_field)?
                .into_iter()
                .map(|(field, totals)| FieldTotals { field, totals })
                .collect(),
        }))
    }
}
