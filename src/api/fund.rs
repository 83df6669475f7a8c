//! `duikou.v1.FundService`: the funds ledger. Lines are posted through
//! [`crate::app::fund`], in batches; lines, lists and summaries are read from the store.

use std::collections::BTreeMap;

use chrono::Utc;

use super::{
    SummaryScope, audited, check_summary, filter_region_path, page_of,
    project::{amount, money},
    request_key, service, summary_scope, timestamp,
};
use crate::{
    app::fund::{Ledger, LedgerQueue, LineRequest},
    domain::audit::Call,
    domain::{
        ledger::{Entry, Instrument, Kind, LineDraft, LineFilter, Source, Sums},
        money::{Balance, Sum},
        name,
        page::Page,
        period::{format_date, parse_date},
        request_id::RequestKey,
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
        fund::{self, LineView},
    },
};

/// Serves the ledger from the store.
#[derive(Clone)]
pub struct Funds {
    store: Store,
    ledger: LedgerQueue,
}

impl Funds {
    /// A service over `store`; starts the task that posts ledger lines, which ends when
    /// the service is dropped.
    pub fn new(store: Store) -> Self {
        let ledger = LedgerQueue::new(store.clone(), Ledger);
        Self { store, ledger }
    }
}

audited!(LineView: |line| name::format_id("fundTransactions", line.row.id), line_to_proto(line));

/// The API form of a stored line.
fn line_to_proto(view: &LineView) -> FundTransaction {
    let row = &view.row;
    FundTransaction {
        name: name::format_id("fundTransactions", row.id),
        kind: row.kind.number(),
        pairing: name::format_id("pairings", row.pairing_id),
        project: name::format_optional_id("projects", row.project_id),
        fiscal_year: row.fiscal_year,
        amount: Some(money(Balance(row.amount_fen))),
        source: row.source.number(),
        instrument: row.instrument.number(),
        payee: row.payee.clone(),
        payee_organization: name::format_optional_id("organizations", row.payee_organization_id),
        value_date: format_date(row.value_date),
        memo: row.memo.clone(),
        reverses: name::format_optional_id("fundTransactions", row.reverses_id),
        reversed_by: name::format_optional_id("fundTransactions", view.reversed_by),
        create_time: Some(timestamp(row.create_time)),
        creator: name::format_optional_id("accessTokens", row.creator_token_id),
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
    let pairing_id = name::parse_optional_id("fund_transaction.pairing", "pairings", &t.pairing);
    let project_id = name::parse_optional_id("fund_transaction.project", "projects", &t.project);
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
    let mut payee_organization_id = None;
    match kind {
        Ok(Kind::Disbursement) => {
            // The payee in words may be left to a registered organisation's name.
            shape.push(text::check_line(
                "fund_transaction.payee",
                &t.payee,
                200,
                t.payee_organization.is_empty(),
            ));
            if !t.payee_organization.is_empty() {
                match name::parse_id(
                    "fund_transaction.payee_organization",
                    "organizations",
                    &t.payee_organization,
                ) {
                    Ok(id) => payee_organization_id = Some(id),
                    Err(e) => shape.push(Err(e)),
                }
            }
        }
        _ => {
            for (field, sent) in [
                ("fund_transaction.payee", &t.payee),
                ("fund_transaction.payee_organization", &t.payee_organization),
            ] {
                if !sent.is_empty() {
                    shape.push(Err(Error::invalid(field, "is only for a disbursement")));
                }
            }
        }
    }
    let (kind, pairing_id, project_id, fiscal_year, amount, source, instrument, value_date, (), ()) =
        Error::all((
            kind,
            pairing_id,
            project_id,
            fiscal_year,
            amount,
            source,
            instrument,
            value_date,
            memo,
            Error::collect(shape),
        ))?;
    Ok(LineDraft {
        kind,
        pairing_id,
        project_id,
        fiscal_year,
        amount,
        source,
        instrument,
        payee: t.payee.clone(),
        payee_organization_id,
        value_date,
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
pub(crate) fn wide_money(sum: Sum) -> Result<Money, Error> {
    let (units, nanos) = sum.units_and_nanos()?;
    Ok(Money {
        currency_code: "CNY".to_owned(),
        units,
        nanos,
    })
}

service! {
    FundService for Funds {
        record_fund_transaction(RecordFundTransactionRequest) -> FundTransaction;
        reverse_fund_transaction(ReverseFundTransactionRequest) -> FundTransaction;
        get_fund_transaction(GetFundTransactionRequest) -> FundTransaction;
        list_fund_transactions(ListFundTransactionsRequest) -> ListFundTransactionsResponse;
        get_fund_summary(GetFundSummaryRequest) -> FundSummary;
    }
}

async fn record_fund_transaction(
    service: &Funds,
    call: Call,
    mut req: RecordFundTransactionRequest,
) -> Result<FundTransaction, Error> {
    call.authenticated()?;
    let key = request_key(&call, &mut req, |r| &mut r.request_id);
    let draft = parse_draft(&req.fund_transaction.clone().unwrap_or_default());
    let (key, draft) = Error::all((key, draft))?;
    post(service, call, key, Entry::Record(draft)).await
}

async fn reverse_fund_transaction(
    service: &Funds,
    call: Call,
    mut req: ReverseFundTransactionRequest,
) -> Result<FundTransaction, Error> {
    call.authenticated()?;
    let key = request_key(&call, &mut req, |r| &mut r.request_id);
    let line_id = name::parse_id("name", "fundTransactions", &req.name);
    let reason = text::check("reason", &req.reason, 1000, true);
    let (key, line_id, ()) = Error::all((key, line_id, reason))?;
    let reversal = Entry::Reverse {
        line_id,
        reason: req.reason,
        value_date: Utc::now().date_naive(),
    };
    post(service, call, key, reversal).await
}

/// Posts one entry to the ledger for `call`, under its request key if it sent one.
async fn post(
    service: &Funds,
    call: Call,
    key: Option<RequestKey>,
    entry: Entry,
) -> Result<FundTransaction, Error> {
    let line = LineRequest { call, entry, key };
    let view = service.ledger.post(line).await?;
    Ok(line_to_proto(&view))
}

async fn get_fund_transaction(
    service: &Funds,
    _: Call,
    req: GetFundTransactionRequest,
) -> Result<FundTransaction, Error> {
    let id = name::parse_id("name", "fundTransactions", &req.name)?;
    let view = fund::views(service.store.db(), &[id])
        .await?
        .remove(&id)
        .ok_or_else(|| Error::NotFound {
            reason: "FUND_TRANSACTION_NOT_FOUND",
            resource: name::format_id("fundTransactions", id),
        })?;
    Ok(line_to_proto(&view))
}

async fn list_fund_transactions(
    service: &Funds,
    _: Call,
    req: ListFundTransactionsRequest,
) -> Result<ListFundTransactionsResponse, Error> {
    let filter = LineFilter::parse(&req.filter);
    let page = Page::open(
        service.store.page_key().await?,
        req.page_size,
        &req.page_token,
        &["funds", &req.filter],
    );
    let (filter, page) = Error::all((filter, page))?;
    let db = service.store.db();
    let region_within = filter_region_path(&service.store, filter.region.as_ref()).await?;
    let views = fund::list(
        db,
        &filter,
        region_within.as_deref(),
        page.after_id()?,
        page.fetch(),
    )
    .await?;
    Ok(page_of(
        &page,
        views,
        |v| v.row.id.to_string(),
        |v| line_to_proto(&v),
    ))
}

async fn get_fund_summary(
    service: &Funds,
    _: Call,
    req: GetFundSummaryRequest,
) -> Result<FundSummary, Error> {
    check_summary(&req.scope, "fiscal_year", req.fiscal_year)?;
    let db = service.store.db();
    let scope = summary_scope(
        &service.store,
        &req.scope,
        &["pairings", "projects", "programs", "regions"],
    )
    .await?;
    let rows = match &scope {
        SummaryScope::Region(path) => fund::region_totals(db, path, req.fiscal_year).await?,
        _ => fund::totals(db, &req.scope, req.fiscal_year).await?,
    };
    let mut all = Sums::default();
    // Each breakdown by the API number of its key, in that order.
    let mut by_source: BTreeMap<i32, Sums> = BTreeMap::new();
    let mut by_instrument: BTreeMap<i32, Sums> = BTreeMap::new();
    let mut by_field: BTreeMap<i32, Sums> = BTreeMap::new();
    for row in &rows {
        all.add(&row.sums);
        by_source
            .entry(row.source.number())
            .or_default()
            .add(&row.sums);
        by_instrument
            .entry(row.instrument.number())
            .or_default()
            .add(&row.sums);
        if let Some(field) = row.field {
            by_field.entry(field.number()).or_default().add(&row.sums);
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
    let breakdown = |sums: BTreeMap<i32, Sums>| {
        sums.into_iter()
            .filter(|(_, s)| !s.is_zero())
            .map(|(key, s)| Ok((key, Some(totals(s)?))))
            .collect::<Result<Vec<_>, Error>>()
    };
    Ok(FundSummary {
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
    })
}
