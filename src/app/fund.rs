//! Posting ledger lines: what RecordFundTransaction and ReverseFundTransaction do to the
//! books.
//!
//! Ledger lines are posted in batches ([`super::batch`]): a batch reads the balances its
//! lines touch once, applies the lines to them one after another in memory (each checked
//! and answered on its own), and writes the accepted lines, their balances and totals at
//! once. On SQLite that transaction joins the group commit; on PostgreSQL the balances it
//! touches are row-locked, so servers sharing one database still post one line after
//! another, and a batch that loses a race is run again.

use std::{
    borrow::Cow,
    collections::{HashMap, hash_map},
};

use super::{
    batch::{BatchQueue, Batched},
    organization::text_or_name,
};
use crate::{
    domain::{
        access::{Caller, outside_scope, require_scope, unrestricted},
        audit::Call,
        ledger::{Books, Entry, LineDraft},
        name,
        region::RegionPath,
        request_id::RequestKey,
    },
    error::Error,
    store::{
        Hold, by_id,
        fund::{self, LineView},
        organization::{self as organizations, OrganizationRow},
        pairing::PairingRow,
        tx::Tx,
    },
};

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

/// The queue of ledger requests, and the task that posts them in batches.
pub type LedgerQueue = BatchQueue<Ledger>;

/// Ledger lines, posted in batches.
pub struct Ledger;

impl Batched for Ledger {
    type Request = LineRequest;
    type Made = LineView;

    const NAME: &'static str = "ledger batch";
    const COLLECTION: &'static str = "fundTransactions";

    fn call(request: &LineRequest) -> &Call {
        &request.call
    }

    fn key(request: &LineRequest) -> Option<&RequestKey> {
        request.key.as_ref()
    }

    /// Reads the books the lines touch, posts the lines to them one after another, and
    /// writes the accepted lines with the balances and totals they moved.
    async fn make(
        &self,
        tx: &mut Tx<'_>,
        fresh: &[&LineRequest],
    ) -> Result<Vec<Result<LineView, Error>>, Error> {
        let entries: Vec<&Entry> = fresh.iter().map(|item| &item.entry).collect();
        let mut payees: Vec<i64> = entries.iter().filter_map(|e| payee_of(e)).collect();
        payees.sort_unstable();
        payees.dedup();
        let payees = organizations::by_ids(tx.db(), &payees).await?;
        let mut ledger = fund::load_books(tx.db(), &entries).await?;
        let books = &mut ledger.books;
        let mut answers: Vec<Option<Result<LineView, Error>>> = vec![None; fresh.len()];
        let mut postings = Vec::new();
        let mut posted = Vec::new();
        for (index, item) in fresh.iter().enumerate() {
            let posting = item.call.authenticated().and_then(|caller| {
                in_reach(books, caller, &item.entry)?;
                let entry = with_payee(&item.entry, &payees)?;
                Ok((books.post(&entry)?, caller.token_id))
            });
            match posting {
                Ok((posting, creator)) => {
                    postings.push((posting, Some(creator)));
                    posted.push(index);
                }
                Err(error) => answers[index] = Some(Err(error)),
            }
        }
        let rows = fund::write(tx.db(), &ledger, &postings).await?;
        for (index, row) in posted.into_iter().zip(rows) {
            answers[index] = Some(Ok(LineView {
                row,
                reversed_by: None,
            }));
        }
        Ok(answers
            .into_iter()
            .map(|a| {
                a.unwrap_or_else(|| Err(anyhow::anyhow!("a ledger line went unposted").into()))
            })
            .collect())
    }

    /// Each line, once the caller is found still to reach its pairing.
    async fn replay(
        &self,
        tx: &mut Tx<'_>,
        replays: &[(&LineRequest, i64)],
    ) -> Result<Vec<Result<LineView, Error>>, Error> {
        let ids: Vec<i64> = replays.iter().map(|(_, id)| *id).collect();
        let views = fund::views(tx.db(), &ids).await?;
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
        // Several retries of one request may come in one batch: each gets the line.
        Ok(replays
            .iter()
            .map(|(item, id)| {
                let view = views.get(id).cloned().ok_or_else(|| {
                    Error::from(anyhow::anyhow!("line {id} of a request id is missing"))
                })?;
                let [supporting, supported] =
                    reach.get(&view.row.pairing_id).ok_or_else(outside_scope)?;
                require_scope(item.call.authenticated()?, &[supporting, supported])?;
                Ok(view)
            })
            .collect())
    }
}

/// The registered organisation a disbursement pays, if it names one.
fn payee_of(entry: &Entry) -> Option<i64> {
    match entry {
        Entry::Record(draft) => draft.payee_organization_id,
        _ => None,
    }
}

/// `entry` with its payee organisation found among `payees`, and its payee in words that
/// organisation's name where the entry leaves it empty.
///
/// # Errors
/// INVALID_ARGUMENT on `fund_transaction.payee_organization` when it does not exist.
fn with_payee<'e>(
    entry: &'e Entry,
    payees: &HashMap<i64, OrganizationRow>,
) -> Result<Cow<'e, Entry>, Error> {
    let (Entry::Record(draft), Some(id)) = (entry, payee_of(entry)) else {
        return Ok(Cow::Borrowed(entry));
    };
    let payee = payees.get(&id).ok_or_else(|| {
        Error::invalid(
            "fund_transaction.payee_organization",
            format!("{} does not exist", name::format_id("organizations", id)),
        )
    })?;
    Ok(Cow::Owned(Entry::Record(LineDraft {
        payee: text_or_name(&draft.payee, Some(payee)),
        ..draft.clone()
    })))
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
