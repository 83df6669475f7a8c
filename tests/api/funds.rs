//! The funds ledger: lines, the rules they keep (also under concurrency), reversals,
//! retries, scopes and summaries. Two server processes on one database are in
//! `tests/processes.rs`.

use duikou::{
    domain::access::Role,
    proto::v1::{
        FundSummary, FundTransaction, GetFundSummaryRequest, GetFundTransactionRequest,
        GetProjectRequest, ListFundTransactionsRequest, Money, Pairing, Project,
        RecordFundTransactionRequest, ReverseFundTransactionRequest, StartProjectRequest,
        UpdateProjectRequest, fund_service_client::FundServiceClient,
    },
};
use prost_types::FieldMask;
use tonic::{Code, Status};
use tonic_types::StatusExt;

use crate::helpers::{Authed, TestApp, assert_error, cny, pairing, project, spawn};

const COMMITMENT: i32 = 1;
const ALLOCATION: i32 = 2;
const DISBURSEMENT: i32 = 3;
const SUPPORTING_GOVERNMENT: i32 = 1;
const ENTERPRISE: i32 = 3;
const GRANT: i32 = 1;
const LOAN_INTEREST_SUBSIDY: i32 = 2;

/// A pairing of Dongcheng with Danjiangkou (2021–2025) and an approved, started project
/// under it with a budget of 1,000,000 yuan.
pub(crate) async fn pairing_and_project(app: &mut TestApp) -> (Pairing, Project) {
    let program = app.program().await;
    let pairing = app.pairing(pairing(&program, "110101", "420381")).await;
    let project = started(app, &pairing).await;
    (pairing, project)
}

pub(crate) async fn started(app: &mut TestApp, pairing: &Pairing) -> Project {
    let p = app.project(project(pairing, "420381")).await;
    app.projects
        .approve_project(duikou::proto::v1::ApproveProjectRequest {
            name: p.name.clone(),
            etag: String::new(),
        })
        .await
        .unwrap();
    app.projects
        .start_project(StartProjectRequest {
            name: p.name.clone(),
            etag: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
}

pub(crate) fn commitment(pairing: &Pairing, year: i32, amount: Money) -> FundTransaction {
    FundTransaction {
        kind: COMMITMENT,
        pairing: pairing.name.clone(),
        fiscal_year: year,
        amount: Some(amount),
        source: SUPPORTING_GOVERNMENT,
        instrument: GRANT,
        value_date: format!("{year}-02-01"),
        ..Default::default()
    }
}

pub(crate) fn allocation(project: &Project, year: i32, amount: Money) -> FundTransaction {
    FundTransaction {
        kind: ALLOCATION,
        project: project.name.clone(),
        fiscal_year: year,
        amount: Some(amount),
        source: SUPPORTING_GOVERNMENT,
        instrument: GRANT,
        value_date: format!("{year}-03-01"),
        ..Default::default()
    }
}

pub(crate) fn disbursement(project: &Project, year: i32, amount: Money) -> FundTransaction {
    FundTransaction {
        kind: DISBURSEMENT,
        project: project.name.clone(),
        fiscal_year: year,
        amount: Some(amount),
        source: SUPPORTING_GOVERNMENT,
        instrument: GRANT,
        payee: "丹江口市建设工程有限公司".into(),
        value_date: format!("{year}-04-01"),
        ..Default::default()
    }
}

pub(crate) async fn record_with(
    funds: &mut FundServiceClient<Authed>,
    line: FundTransaction,
) -> Result<FundTransaction, Status> {
    funds
        .record_fund_transaction(RecordFundTransactionRequest {
            fund_transaction: Some(line),
            request_id: String::new(),
        })
        .await
        .map(tonic::Response::into_inner)
}

pub(crate) async fn record(
    app: &TestApp,
    line: FundTransaction,
) -> Result<FundTransaction, Status> {
    record_with(&mut app.funds.clone(), line).await
}

pub(crate) async fn reverse(
    app: &TestApp,
    line: &FundTransaction,
) -> Result<FundTransaction, Status> {
    app.funds
        .clone()
        .reverse_fund_transaction(ReverseFundTransactionRequest {
            name: line.name.clone(),
            reason: "录入错误".into(),
            request_id: String::new(),
        })
        .await
        .map(tonic::Response::into_inner)
}

pub(crate) async fn summary(app: &TestApp, scope: &str, year: i32) -> FundSummary {
    app.funds
        .clone()
        .get_fund_summary(GetFundSummaryRequest {
            scope: scope.into(),
            fiscal_year: year,
        })
        .await
        .unwrap()
        .into_inner()
}

pub(crate) async fn lines(app: &TestApp) -> Vec<FundTransaction> {
    app.funds
        .clone()
        .list_fund_transactions(ListFundTransactionsRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .fund_transactions
}

pub(crate) fn metadata(status: &Status, key: &str) -> String {
    status
        .get_error_details()
        .error_info()
        .and_then(|info| info.metadata.get(key).cloned())
        .unwrap_or_default()
}

#[tokio::test]
async fn money_flows_from_commitment_to_payee_and_every_balance_follows() {
    let mut app = spawn().await;
    let (pairing, project) = pairing_and_project(&mut app).await;

    record(&app, commitment(&pairing, 2025, cny(100, 0)))
        .await
        .unwrap();
    let allocated = record(&app, allocation(&project, 2025, cny(60, 50)))
        .await
        .unwrap();
    let paid = record(&app, disbursement(&project, 2025, cny(40, 0)))
        .await
        .unwrap();
    let paid_read_back = app
        .funds
        .get_fund_transaction(GetFundTransactionRequest {
            name: paid.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let funding = app
        .projects
        .get_project(GetProjectRequest {
            name: project.name.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .funding
        .unwrap();
    let by_pairing = summary(&app, &pairing.name, 2025).await;
    let by_county = summary(&app, "regions/420381", 0).await;
    let by_beijing = summary(&app, "regions/110000", 0).await;
    let by_program = summary(&app, &pairing.program, 0).await;
    let other_year = summary(&app, &pairing.name, 2024).await;
    let by_project = summary(&app, &project.name, 0).await;

    assert_eq!(
        paid_read_back, paid,
        "a line reads back exactly as it was answered"
    );
    assert_eq!(allocated.pairing, pairing.name, "taken from the project");
    assert_eq!(paid.creator, "accessTokens/1");
    assert_eq!(funding.allocated, Some(cny(60, 50)));
    assert_eq!(funding.disbursed, Some(cny(40, 0)));
    assert_eq!(funding.remaining, Some(cny(20, 50)));
    let totals = by_pairing.totals.clone().unwrap();
    assert_eq!(totals.committed, Some(cny(100, 0)));
    assert_eq!(totals.allocated, Some(cny(60, 50)));
    assert_eq!(totals.disbursed, Some(cny(40, 0)));
    assert_eq!(by_pairing.available_to_allocate, Some(cny(39, 50)));
    assert_eq!(by_pairing.undisbursed, Some(cny(20, 50)));
    assert!((by_pairing.execution_rate - 0.4).abs() < 1e-12);
    assert_eq!(by_pairing.by_field.len(), 1);
    assert_eq!(by_pairing.by_field[0].field, 4);
    assert_eq!(by_pairing.by_source[0].source, SUPPORTING_GOVERNMENT);
    for other in [&by_county, &by_beijing, &by_program] {
        assert_eq!(other.totals, by_pairing.totals, "{}", other.scope);
    }
    assert_eq!(other_year.totals.unwrap().committed, Some(cny(0, 0)));
    assert_eq!(by_project.available_to_allocate, Some(cny(999_939, 50)));
    assert_eq!(by_project.totals.unwrap().committed, Some(cny(0, 0)));
}

#[tokio::test]
async fn every_ledger_rule_is_enforced_with_its_reason_and_leaves_no_trace() {
    let mut app = spawn().await;
    let (pairing, project) = pairing_and_project(&mut app).await;
    let proposed = app.project(project_named(&pairing, "尚未批准")).await;
    record(&app, commitment(&pairing, 2025, cny(100, 0)))
        .await
        .unwrap();
    record(&app, allocation(&project, 2025, cny(30, 0)))
        .await
        .unwrap();
    let before = lines(&app).await.len();
    let before_summary = summary(&app, &pairing.name, 0).await;

    let beyond_commitment = record(&app, allocation(&project, 2025, cny(70, 1)))
        .await
        .unwrap_err();
    let other_year = record(&app, allocation(&project, 2024, cny(1, 0)))
        .await
        .unwrap_err();
    let beyond_allocation = record(&app, disbursement(&project, 2025, cny(30, 1)))
        .await
        .unwrap_err();
    let to_proposed = record(&app, allocation(&proposed, 2025, cny(1, 0)))
        .await
        .unwrap_err();
    let outside_period = record(&app, commitment(&pairing, 2026, cny(1, 0)))
        .await
        .unwrap_err();
    let tiny = started(&mut app, &pairing).await;
    let tiny = app
        .projects
        .update_project(UpdateProjectRequest {
            project: Some(Project {
                name: tiny.name.clone(),
                budget: Some(cny(10, 0)),
                ..Default::default()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["budget".into()],
            }),
        })
        .await
        .unwrap()
        .into_inner();
    let beyond_budget = record(&app, allocation(&tiny, 2025, cny(10, 1)))
        .await
        .unwrap_err();
    let budget_cut = app
        .projects
        .update_project(UpdateProjectRequest {
            project: Some(Project {
                name: project.name.clone(),
                budget: Some(cny(29, 99)),
                ..Default::default()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["budget".into()],
            }),
        })
        .await
        .unwrap_err();

    assert_error(
        &beyond_commitment,
        Code::FailedPrecondition,
        "ALLOCATION_EXCEEDS_COMMITMENT",
        None,
    );
    assert_eq!(metadata(&beyond_commitment, "available_fen"), "7000");
    assert_eq!(metadata(&beyond_commitment, "available"), "70.00 CNY");
    assert_error(
        &other_year,
        Code::FailedPrecondition,
        "ALLOCATION_EXCEEDS_COMMITMENT",
        None,
    );
    assert_error(
        &beyond_allocation,
        Code::FailedPrecondition,
        "DISBURSEMENT_EXCEEDS_ALLOCATION",
        None,
    );
    assert_eq!(metadata(&beyond_allocation, "available_fen"), "3000");
    assert_error(
        &to_proposed,
        Code::FailedPrecondition,
        "PROJECT_NOT_OPEN_FOR_ALLOCATION",
        None,
    );
    assert_error(
        &outside_period,
        Code::FailedPrecondition,
        "FISCAL_YEAR_OUTSIDE_PAIRING",
        None,
    );
    assert_error(
        &beyond_budget,
        Code::FailedPrecondition,
        "ALLOCATION_EXCEEDS_BUDGET",
        None,
    );
    assert_eq!(metadata(&beyond_budget, "available_fen"), "1000");
    assert_error(
        &budget_cut,
        Code::FailedPrecondition,
        "BUDGET_BELOW_ALLOCATED",
        None,
    );
    assert_eq!(lines(&app).await.len(), before);
    assert_eq!(summary(&app, &pairing.name, 0).await, before_summary);
}

fn project_named(pairing: &Pairing, name: &str) -> Project {
    Project {
        display_name: name.into(),
        ..project(pairing, "420381")
    }
}

#[tokio::test]
async fn malformed_lines_name_their_fields() {
    let mut app = spawn().await;
    let (pairing, project) = pairing_and_project(&mut app).await;
    let mut usd = commitment(&pairing, 2025, cny(1, 0));
    usd.amount.as_mut().unwrap().currency_code = "USD".into();
    let mut half_fen = commitment(&pairing, 2025, cny(1, 0));
    half_fen.amount.as_mut().unwrap().nanos = 5_000_000;
    let mut negative = commitment(&pairing, 2025, cny(-1, 0));
    negative.source = 0;
    let mut no_payee = disbursement(&project, 2025, cny(1, 0));
    no_payee.payee.clear();
    let mut with_project = commitment(&pairing, 2025, cny(1, 0));
    with_project.project = project.name.clone();
    let mut reversal = commitment(&pairing, 2025, cny(1, 0));
    reversal.kind = 4;
    let mut no_project = allocation(&project, 2025, cny(1, 0));
    no_project.project.clear();
    let mut bad_date = commitment(&pairing, 2025, cny(1, 0));
    bad_date.value_date = "2025-02-30".into();

    let cases = [
        (usd, "fund_transaction.amount.currency_code"),
        (half_fen, "fund_transaction.amount.nanos"),
        (negative.clone(), "fund_transaction.amount"),
        (negative, "fund_transaction.source"),
        (no_payee, "fund_transaction.payee"),
        (with_project, "fund_transaction.project"),
        (reversal, "fund_transaction.kind"),
        (no_project, "fund_transaction.project"),
        (bad_date, "fund_transaction.value_date"),
    ];
    for (line, field) in cases {
        let error = record(&app, line).await.unwrap_err();
        assert_error(&error, Code::InvalidArgument, "INVALID_FIELD", Some(field));
    }
    assert!(lines(&app).await.is_empty());
}

#[tokio::test]
async fn a_reversal_cancels_one_line_once_and_may_not_break_a_balance() {
    let mut app = spawn().await;
    let (pairing, project) = pairing_and_project(&mut app).await;
    let committed = record(&app, commitment(&pairing, 2025, cny(100, 0)))
        .await
        .unwrap();
    let allocated = record(&app, allocation(&project, 2025, cny(60, 0)))
        .await
        .unwrap();
    let paid = record(&app, disbursement(&project, 2025, cny(50, 0)))
        .await
        .unwrap();

    let commitment_in_use = reverse(&app, &committed).await.unwrap_err();
    let allocation_in_use = reverse(&app, &allocated).await.unwrap_err();
    let undo_payment = reverse(&app, &paid).await.unwrap();
    let twice = reverse(&app, &paid).await.unwrap_err();
    let of_reversal = reverse(&app, &undo_payment).await.unwrap_err();
    let undo_allocation = reverse(&app, &allocated).await.unwrap();
    let undo_commitment = reverse(&app, &committed).await.unwrap();
    let paid_now = app
        .funds
        .get_fund_transaction(GetFundTransactionRequest {
            name: paid.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let missing = reverse(
        &app,
        &FundTransaction {
            name: "fundTransactions/999".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();

    assert_error(
        &commitment_in_use,
        Code::FailedPrecondition,
        "COMMITMENT_IN_USE",
        None,
    );
    assert_eq!(metadata(&commitment_in_use, "available_fen"), "4000");
    assert_error(
        &allocation_in_use,
        Code::FailedPrecondition,
        "ALLOCATION_IN_USE",
        None,
    );
    assert_eq!(undo_payment.kind, 4);
    assert_eq!(undo_payment.reverses, paid.name);
    assert_eq!(undo_payment.amount, paid.amount);
    assert_eq!(undo_payment.memo, "录入错误");
    assert_error(&twice, Code::FailedPrecondition, "ALREADY_REVERSED", None);
    assert_eq!(metadata(&twice, "reversed_by"), undo_payment.name);
    assert_error(
        &of_reversal,
        Code::FailedPrecondition,
        "REVERSAL_NOT_REVERSIBLE",
        None,
    );
    assert_eq!(undo_allocation.reverses, allocated.name);
    assert_eq!(undo_commitment.reverses, committed.name);
    assert_eq!(paid_now.reversed_by, undo_payment.name);
    assert_error(&missing, Code::NotFound, "FUND_TRANSACTION_NOT_FOUND", None);
    let totals = summary(&app, &pairing.name, 0).await.totals.unwrap();
    assert_eq!(totals.committed, Some(cny(0, 0)));
    assert_eq!(totals.allocated, Some(cny(0, 0)));
    assert_eq!(totals.disbursed, Some(cny(0, 0)));
    assert_eq!(lines(&app).await.len(), 6);
}

#[tokio::test]
async fn the_database_refuses_to_change_or_delete_ledger_lines() {
    let mut app = spawn().await;
    let (pairing, _) = pairing_and_project(&mut app).await;
    record(&app, commitment(&pairing, 2025, cny(100, 0)))
        .await
        .unwrap();

    let update = app.sql("UPDATE fund_transactions SET amount_fen = 1").await;
    let delete = app.sql("DELETE FROM fund_transactions").await;

    assert!(update.is_err(), "UPDATE must be refused");
    assert!(delete.is_err(), "DELETE must be refused");
    assert_eq!(lines(&app).await[0].amount, Some(cny(100, 0)));
}

/// Sends `count` allocations of one yuan at once, spread over `clients`; returns how
/// many succeeded, after checking that every failure is the commitment running out.
async fn allocate_concurrently(
    clients: &[FundServiceClient<Authed>],
    project: &Project,
    count: usize,
) -> usize {
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..count {
        let mut client = clients[i % clients.len()].clone();
        let line = allocation(project, 2025, cny(1, 0));
        calls.spawn(async move { record_with(&mut client, line).await });
    }
    let mut succeeded = 0;
    for outcome in calls.join_all().await {
        match outcome {
            Ok(_) => succeeded += 1,
            Err(status) => {
                assert_error(
                    &status,
                    Code::FailedPrecondition,
                    "ALLOCATION_EXCEEDS_COMMITMENT",
                    None,
                );
            }
        }
    }
    succeeded
}

#[tokio::test]
async fn of_many_concurrent_allocations_exactly_the_affordable_number_succeed() {
    let mut app = spawn().await;
    let (pairing, project) = pairing_and_project(&mut app).await;
    record(&app, commitment(&pairing, 2025, cny(10, 0)))
        .await
        .unwrap();

    let succeeded = allocate_concurrently(&[app.funds.clone()], &project, 40).await;

    assert_eq!(succeeded, 10);
    let totals = summary(&app, &pairing.name, 2025).await.totals.unwrap();
    assert_eq!(totals.allocated, Some(cny(10, 0)));
    assert_eq!(lines(&app).await.len(), 11);
}

#[tokio::test]
async fn a_hundred_concurrent_retries_with_one_request_id_record_one_line() {
    let mut app = spawn().await;
    let (pairing, _) = pairing_and_project(&mut app).await;
    let request = RecordFundTransactionRequest {
        fund_transaction: Some(commitment(&pairing, 2025, cny(500, 0))),
        request_id: "commit-2025-beijing".into(),
    };

    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..100 {
        let (mut funds, request) = (app.funds.clone(), request.clone());
        calls.spawn(async move { funds.record_fund_transaction(request).await });
    }
    let names: std::collections::BTreeSet<String> = calls
        .join_all()
        .await
        .into_iter()
        .map(|r| r.unwrap().into_inner().name)
        .collect();
    let mut changed = request.clone();
    changed.fund_transaction.as_mut().unwrap().amount = Some(cny(501, 0));
    let reused = app
        .funds
        .record_fund_transaction(changed)
        .await
        .unwrap_err();

    assert_eq!(names.len(), 1, "{names:?}");
    assert_eq!(lines(&app).await.len(), 1);
    assert_error(
        &reused,
        Code::InvalidArgument,
        "REQUEST_ID_REUSED",
        Some("request_id"),
    );
    let totals = summary(&app, &pairing.name, 0).await.totals.unwrap();
    assert_eq!(totals.committed, Some(cny(500, 0)));
}

#[tokio::test]
async fn a_fund_officer_moves_money_only_inside_its_scope() {
    let mut app = spawn().await;
    let (pairing, project) = pairing_and_project(&mut app).await;
    let program = duikou::proto::v1::Program {
        name: pairing.program.clone(),
        ..Default::default()
    };
    let outside = app
        .pairing(crate::helpers::pairing(&program, "120101", "420502"))
        .await;
    let officer = app.token(Role::FundOfficer, &["110000", "420300"]).await;
    let coordinator = app.token(Role::Coordinator, &[]).await;
    let mut funds = app.funds_as(Some(&officer));

    let inside = record_with(&mut funds, commitment(&pairing, 2025, cny(5, 0))).await;
    let elsewhere = record_with(&mut funds, commitment(&outside, 2025, cny(5, 0)))
        .await
        .unwrap_err();
    let missing_pairing = record_with(
        &mut funds,
        commitment(
            &Pairing {
                name: "pairings/999".into(),
                ..Default::default()
            },
            2025,
            cny(5, 0),
        ),
    )
    .await
    .unwrap_err();
    let mut missing_project = allocation(&project, 2025, cny(1, 0));
    missing_project.project = "projects/999".into();
    let missing_project = record_with(&mut funds, missing_project).await.unwrap_err();
    let by_coordinator = record_with(
        &mut app.funds_as(Some(&coordinator)),
        commitment(&pairing, 2025, cny(5, 0)),
    )
    .await
    .unwrap_err();
    let admin_missing = record(
        &app,
        commitment(
            &Pairing {
                name: "pairings/999".into(),
                ..Default::default()
            },
            2025,
            cny(5, 0),
        ),
    )
    .await
    .unwrap_err();

    assert!(inside.is_ok(), "{inside:?}");
    assert_eq!(
        inside.unwrap().creator.split('/').next(),
        Some("accessTokens")
    );
    assert_error(&elsewhere, Code::PermissionDenied, "OUTSIDE_SCOPE", None);
    assert_error(
        &missing_pairing,
        Code::PermissionDenied,
        "OUTSIDE_SCOPE",
        None,
    );
    assert_error(
        &missing_project,
        Code::PermissionDenied,
        "OUTSIDE_SCOPE",
        None,
    );
    assert_error(
        &by_coordinator,
        Code::PermissionDenied,
        "ROLE_NOT_ALLOWED",
        None,
    );
    assert_error(
        &admin_missing,
        Code::InvalidArgument,
        "INVALID_FIELD",
        Some("fund_transaction.pairing"),
    );
    assert_eq!(lines(&app).await.len(), 1);
}

#[tokio::test]
async fn lists_filter_the_ledger_and_summaries_break_it_down() {
    let mut app = spawn().await;
    let (pairing, project) = pairing_and_project(&mut app).await;
    record(&app, commitment(&pairing, 2024, cny(50, 0)))
        .await
        .unwrap();
    let mut enterprise = commitment(&pairing, 2025, cny(70, 0));
    enterprise.source = ENTERPRISE;
    enterprise.instrument = LOAN_INTEREST_SUBSIDY;
    record(&app, enterprise).await.unwrap();
    let mut loan = allocation(&project, 2025, cny(20, 0));
    loan.source = ENTERPRISE;
    loan.instrument = LOAN_INTEREST_SUBSIDY;
    record(&app, loan).await.unwrap();

    let list = |filter: &str| {
        let mut funds = app.funds.clone();
        let filter = filter.to_owned();
        async move {
            funds
                .list_fund_transactions(ListFundTransactionsRequest {
                    filter,
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner()
                .fund_transactions
                .len()
        }
    };
    let all_years = summary(&app, &pairing.name, 0).await;

    assert_eq!(list("kind = COMMITMENT").await, 2);
    assert_eq!(list("fiscal_year = 2025").await, 2);
    assert_eq!(list("source = ENTERPRISE AND kind = ALLOCATION").await, 1);
    assert_eq!(list(&format!("project = \"{}\"", project.name)).await, 1);
    assert_eq!(list("region = \"regions/420300\"").await, 3);
    assert_eq!(list("region = \"regions/420500\"").await, 0);
    assert_eq!(list("instrument = GRANT").await, 1);
    assert_eq!(all_years.totals.unwrap().committed, Some(cny(120, 0)));
    let by_source: Vec<(i32, Option<Money>)> = all_years
        .by_source
        .iter()
        .map(|s| (s.source, s.totals.clone().unwrap().committed))
        .collect();
    assert_eq!(
        by_source,
        [
            (SUPPORTING_GOVERNMENT, Some(cny(50, 0))),
            (ENTERPRISE, Some(cny(70, 0)))
        ]
    );
    assert_eq!(all_years.by_instrument.len(), 2);
    assert_eq!(
        all_years.by_field[0].totals.clone().unwrap().allocated,
        Some(cny(20, 0))
    );
    let unknown = app
        .funds
        .get_fund_summary(GetFundSummaryRequest {
            scope: "pairings/999".into(),
            fiscal_year: 0,
        })
        .await
        .unwrap_err();
    assert_error(&unknown, Code::NotFound, "PAIRING_NOT_FOUND", None);
}

#[tokio::test]
async fn a_region_sums_the_pairings_on_either_side_of_it_once_each() {
    let mut app = spawn().await;
    let program = app.program().await;
    let mut pairings = Vec::new();
    for (supporting, supported) in [
        ("110101", "420381"), // Dongcheng → Danjiangkou
        ("110102", "420322"), // Xicheng → Yunxi
        ("120101", "110105"), // Tianjin's Heping → Chaoyang: Beijing on the supported side
        ("110106", "110107"), // both sides inside Beijing
    ] {
        pairings.push(app.pairing(pairing(&program, supporting, supported)).await);
    }
    let lines = [
        (&pairings[0], 2025, 100, SUPPORTING_GOVERNMENT),
        (&pairings[1], 2025, 10, SUPPORTING_GOVERNMENT),
        (&pairings[2], 2024, 1, SUPPORTING_GOVERNMENT),
        (&pairings[3], 2025, 1000, ENTERPRISE),
    ];
    for (p, year, yuan, source) in lines {
        let mut line = commitment(p, year, cny(yuan, 0));
        line.source = source;
        record(&app, line).await.unwrap();
    }
    let committed = |s: &FundSummary| s.totals.clone().unwrap().committed.unwrap();

    let beijing = summary(&app, "regions/110000", 0).await;
    assert_eq!(
        committed(&beijing),
        cny(1111, 0),
        "every pairing touching Beijing, the one inside it counted once"
    );
    let sources: Vec<(i32, Money)> = beijing
        .by_source
        .iter()
        .map(|s| (s.source, s.totals.clone().unwrap().committed.unwrap()))
        .collect();
    assert_eq!(
        sources,
        [
            (SUPPORTING_GOVERNMENT, cny(111, 0)),
            (ENTERPRISE, cny(1000, 0))
        ]
    );
    assert_eq!(
        committed(&summary(&app, "regions/110000", 2025).await),
        cny(1110, 0)
    );
    assert_eq!(
        committed(&summary(&app, "regions/110000", 2024).await),
        cny(1, 0)
    );
    assert_eq!(
        committed(&summary(&app, "regions/420300", 0).await),
        cny(110, 0)
    );
    assert_eq!(
        committed(&summary(&app, "regions/420381", 0).await),
        cny(100, 0)
    );
    assert_eq!(
        committed(&summary(&app, "regions/120000", 0).await),
        cny(1, 0)
    );
    let elsewhere = summary(&app, "regions/330000", 0).await;
    assert_eq!(committed(&elsewhere), cny(0, 0));
    assert!(elsewhere.by_source.is_empty());
}

#[tokio::test]
async fn a_disbursement_names_its_payee_organization_beside_the_text() {
    let mut app = spawn().await;
    let (pairing, project) = pairing_and_project(&mut app).await;
    let firm = app
        .organization(duikou::proto::v1::Organization {
            display_name: "丹江口市建设工程有限公司".into(),
            kind: 3,
            ..crate::helpers::county_bureau("420381")
        })
        .await;
    record(&app, commitment(&pairing, 2025, cny(100, 0)))
        .await
        .unwrap();
    record(&app, allocation(&project, 2025, cny(60, 0)))
        .await
        .unwrap();
    let to_firm = |payee: &str, organization: &str| FundTransaction {
        payee: payee.into(),
        payee_organization: organization.into(),
        ..disbursement(&project, 2025, cny(1, 0))
    };

    // Sent together, so that they are posted in one batch: only the unknown payee fails.
    let (named, unknown, own_text, text_only) = tokio::join!(
        record(&app, to_firm("", &firm.name)),
        record(&app, to_firm("", "organizations/77")),
        record(&app, to_firm("项目部", &firm.name)),
        record(&app, to_firm("丹江口市建设工程有限公司", "")),
    );
    let on_allocation = record(
        &app,
        FundTransaction {
            payee_organization: firm.name.clone(),
            ..allocation(&project, 2025, cny(1, 0))
        },
    )
    .await
    .unwrap_err();
    let paid_to_firm = app
        .funds
        .list_fund_transactions(duikou::proto::v1::ListFundTransactionsRequest {
            filter: format!("payee_organization = \"{}\"", firm.name),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .fund_transactions;

    let named = named.unwrap();
    assert_eq!(
        named.payee, "丹江口市建设工程有限公司",
        "the text is its name"
    );
    assert_eq!(named.payee_organization, firm.name);
    assert_error(
        &unknown.unwrap_err(),
        Code::InvalidArgument,
        "INVALID_FIELD",
        Some("fund_transaction.payee_organization"),
    );
    let own_text = own_text.unwrap();
    assert_eq!(own_text.payee, "项目部", "a text sent stays");
    assert!(text_only.unwrap().payee_organization.is_empty());
    assert_error(
        &on_allocation,
        Code::InvalidArgument,
        "INVALID_FIELD",
        Some("fund_transaction.payee_organization"),
    );
    assert_eq!(
        paid_to_firm.iter().map(|l| &l.name).collect::<Vec<_>>(),
        vec![&named.name, &own_text.name]
    );
    let funding = app
        .projects
        .get_project(GetProjectRequest {
            name: project.name.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .funding
        .unwrap();
    assert_eq!(funding.disbursed, Some(cny(3, 0)), "three of four paid");
}
