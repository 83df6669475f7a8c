//! Ledger lines posted together: retries of one request id from separate connections, and
//! lines that fail (a rule, a sum out of range, the database) beside lines that must not.

use std::{collections::BTreeSet, time::Duration};

use duikou::{
    domain::access::Role,
    proto::v1::{
        FundTransaction, GetFundSummaryRequest, Pairing, Project, RecordFundTransactionRequest,
        ReverseFundTransactionRequest, SuspendPairingRequest,
    },
};
use tonic::{Code, Status};

use crate::{
    funds::{
        allocation, commitment, disbursement, lines, pairing_and_project, record, record_with,
        reverse, summary,
    },
    helpers::{TestApp, assert_error, cny, id_of, pairing, spawn},
};

const ENTERPRISE: i32 = 3;
/// The largest sum a stored figure holds, in fen.
const MAX_FEN: i64 = i64::MAX;

/// The id in a resource name such as `pairings/3`.
#[tokio::test]
async fn retries_of_one_request_id_from_separate_connections_all_get_the_first_line() {
    let mut app = spawn().await;
    let (pairing, _) = pairing_and_project(&mut app).await;
    let secret = app.token(Role::FundOfficer, &[]).await;
    let mut connections = Vec::new();
    for _ in 0..16 {
        connections.push(app.funds_on_own_connection(&secret).await);
    }
    let request = RecordFundTransactionRequest {
        fund_transaction: Some(commitment(&pairing, 2025, cny(500, 0))),
        request_id: "commit-2025-dongcheng".into(),
    };

    // Two rounds of 32 at once: the first races to record the line, the second replays it
    // (several retries then share one batch).
    let mut names = BTreeSet::new();
    let mut failures = Vec::new();
    for _ in 0..2 {
        let mut calls = tokio::task::JoinSet::new();
        for n in 0..32 {
            let (mut funds, request) = (connections[n % 16].clone(), request.clone());
            calls.spawn(async move { funds.record_fund_transaction(request).await });
        }
        for outcome in calls.join_all().await {
            match outcome {
                Ok(reply) => {
                    names.insert(reply.into_inner().name);
                }
                Err(status) => failures.push(status),
            }
        }
    }

    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(names.len(), 1, "{names:?}");
    assert_eq!(lines(&app).await.len(), 1);
    let totals = summary(&app, &pairing.name, 2025).await.totals.unwrap();
    assert_eq!(totals.committed, Some(cny(500, 0)));
}

/// Sends `lines` at once while the ledger is held, so that they are posted as one batch,
/// and returns their answers in order. The ledger is held by a first line on `blocker`,
/// which waits for the hold; everything sent meanwhile queues behind it.
async fn in_one_batch(
    app: &TestApp,
    blocker: &Pairing,
    lines: Vec<RecordFundTransactionRequest>,
) -> Vec<Result<FundTransaction, Status>> {
    let hold = app.hold_ledger_writes(id_of(&blocker.name)).await;
    let mut first_client = app.funds.clone();
    let first = tokio::spawn({
        let line = commitment(blocker, 2021, cny(1, 0));
        async move { record_with(&mut first_client, line).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut calls = Vec::new();
    for request in lines {
        let mut funds = app.funds.clone();
        calls.push(tokio::spawn(async move {
            funds
                .record_fund_transaction(request)
                .await
                .map(tonic::Response::into_inner)
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(hold);
    first.await.unwrap().expect("the blocking line is recorded");
    let mut answers = Vec::new();
    for call in calls {
        answers.push(call.await.unwrap());
    }
    answers
}

fn plain(line: FundTransaction) -> RecordFundTransactionRequest {
    RecordFundTransactionRequest {
        fund_transaction: Some(line),
        request_id: String::new(),
    }
}

/// Dongcheng–Danjiangkou with a started project, and three more pairings of the same
/// program, the last one holding the ledger in [`in_one_batch`].
async fn four_pairings(app: &mut TestApp) -> (Pairing, Project, Vec<Pairing>) {
    let (dongcheng, project) = pairing_and_project(app).await;
    let program = duikou::proto::v1::Program {
        name: dongcheng.program.clone(),
        ..Default::default()
    };
    let mut others = Vec::new();
    for (supporting, supported) in [
        ("110102", "420322"),
        ("110105", "420323"),
        ("110106", "420324"),
    ] {
        others.push(app.pairing(pairing(&program, supporting, supported)).await);
    }
    (dongcheng, project, others)
}

#[tokio::test]
async fn a_line_that_would_overflow_a_balance_or_a_total_is_refused_alone() {
    let mut app = spawn().await;
    let (dongcheng, _, others) = four_pairings(&mut app).await;
    let (xicheng, chaoyang, blocker) = (&others[0], &others[1], &others[2]);
    record(&app, commitment(&dongcheng, 2025, cny(1, 0)))
        .await
        .unwrap();
    record(&app, commitment(xicheng, 2024, cny(1, 0)))
        .await
        .unwrap();
    // As if 92,233 commitments of 10^12 yuan had come before: Dongcheng's 2025 is nearly
    // full, and so is the program's total for 2024 from the supporting governments.
    app.sql(&format!(
        "UPDATE pairing_year_balances SET committed_fen = {} WHERE pairing_id = {} \
         AND fiscal_year = 2025",
        MAX_FEN - 50,
        id_of(&dongcheng.name)
    ))
    .await
    .unwrap();
    app.sql(&format!(
        "UPDATE fund_totals SET committed_fen = {} WHERE scope = '{}' AND fiscal_year = 2024",
        MAX_FEN - 50,
        dongcheng.program
    ))
    .await
    .unwrap();
    let program_before = summary(&app, &dongcheng.program, 2024).await;

    let answers = in_one_batch(
        &app,
        blocker,
        vec![
            plain(commitment(&dongcheng, 2025, cny(1, 0))),
            plain(commitment(chaoyang, 2025, cny(7, 0))),
            plain(commitment(xicheng, 2024, cny(1, 0))),
            plain(FundTransaction {
                source: ENTERPRISE,
                ..commitment(xicheng, 2024, cny(3, 0))
            }),
            plain(commitment(&dongcheng, 2023, cny(2, 0))),
        ],
    )
    .await;

    let [over_balance, good_1, over_total, good_2, good_3] = &answers[..] else {
        panic!("{answers:?}");
    };
    for refused in [over_balance, over_total] {
        let status = refused.as_ref().unwrap_err();
        assert_error(
            status,
            Code::FailedPrecondition,
            "AMOUNT_OUT_OF_RANGE",
            None,
        );
    }
    for good in [good_1, good_2, good_3] {
        assert!(good.is_ok(), "{good:?}");
    }
    assert_eq!(lines(&app).await.len(), 2 + 1 + 3);
    let chaoyang_totals = summary(&app, &chaoyang.name, 2025).await.totals.unwrap();
    assert_eq!(chaoyang_totals.committed, Some(cny(7, 0)));
    let program_after = summary(&app, &dongcheng.program, 2024).await;
    let by_source = |s: &duikou::proto::v1::FundSummary, source: i32| {
        s.by_source
            .iter()
            .find(|t| t.source == source)
            .and_then(|t| t.totals.clone())
            .and_then(|t| t.committed)
    };
    assert_eq!(
        by_source(&program_after, 1),
        by_source(&program_before, 1),
        "the refused yuan does not count"
    );
    assert_eq!(by_source(&program_after, ENTERPRISE), Some(cny(3, 0)));
}

#[tokio::test]
async fn summaries_add_up_figures_beyond_what_one_stored_figure_holds() {
    let mut app = spawn().await;
    let (dongcheng, _, others) = four_pairings(&mut app).await;
    let xicheng = &others[0];
    record(&app, commitment(&dongcheng, 2025, cny(1, 0)))
        .await
        .unwrap();
    record(&app, commitment(xicheng, 2025, cny(1, 0)))
        .await
        .unwrap();
    let six_quintillion: i64 = 6_000_000_000_000_000_000;
    app.sql(&format!(
        "UPDATE fund_totals SET committed_fen = {six_quintillion} WHERE fiscal_year = 2025"
    ))
    .await
    .unwrap();

    let beijing = app
        .funds
        .clone()
        .get_fund_summary(GetFundSummaryRequest {
            scope: "regions/110000".into(),
            fiscal_year: 0,
        })
        .await
        .map(tonic::Response::into_inner);

    let beijing = beijing.expect("a region's summary beyond i64 fen");
    let committed = beijing.totals.unwrap().committed.unwrap();
    // Two pairings of 6 × 10^18 fen: 1.2 × 10^17 yuan.
    assert_eq!(
        (committed.units, committed.nanos),
        (120_000_000_000_000_000, 0)
    );
    let available = beijing.available_to_allocate.unwrap();
    assert_eq!(available.units, 120_000_000_000_000_000);
}

#[tokio::test]
async fn no_line_that_breaks_a_rule_fails_another_requests_line_in_its_batch() {
    let mut app = spawn().await;
    let (dongcheng, project, others) = four_pairings(&mut app).await;
    let (xicheng, chaoyang, blocker) = (&others[0], &others[1], &others[2]);
    record(&app, commitment(&dongcheng, 2025, cny(100, 0)))
        .await
        .unwrap();
    record(&app, allocation(&project, 2025, cny(30, 0)))
        .await
        .unwrap();
    let paid = record(&app, disbursement(&project, 2025, cny(10, 0)))
        .await
        .unwrap();
    reverse(&app, &paid).await.unwrap();
    let proposed = app
        .project(crate::helpers::project(&dongcheng, "420381"))
        .await;
    let suspended = &others[1];
    record(&app, commitment(suspended, 2025, cny(5, 0)))
        .await
        .unwrap();
    app.pairings
        .suspend_pairing(SuspendPairingRequest {
            name: suspended.name.clone(),
            etag: String::new(),
        })
        .await
        .unwrap();
    let taken_id = RecordFundTransactionRequest {
        fund_transaction: Some(commitment(xicheng, 2025, cny(9, 0))),
        request_id: "commit-2025-xicheng".into(),
    };
    app.funds
        .clone()
        .record_fund_transaction(taken_id.clone())
        .await
        .unwrap();
    let before = lines(&app).await.len();

    // The lines of a batch may reach the server in any order: each bad line breaks its
    // rule whether or not the good allocation of 5 below came before it.
    let mut batch = vec![
        plain(allocation(&project, 2025, cny(70, 1))),
        plain(disbursement(&project, 2025, cny(35, 1))),
        plain(allocation(&proposed, 2025, cny(1, 0))),
        plain(commitment(&dongcheng, 2026, cny(1, 0))),
        plain(commitment(chaoyang, 2025, cny(1, 0))),
        RecordFundTransactionRequest {
            fund_transaction: Some(commitment(xicheng, 2025, cny(10, 0))),
            request_id: "commit-2025-xicheng".into(),
        },
        plain(FundTransaction {
            project: "projects/999".into(),
            ..allocation(&project, 2025, cny(1, 0))
        }),
    ];
    let expected = [
        "ALLOCATION_EXCEEDS_COMMITMENT",
        "DISBURSEMENT_EXCEEDS_ALLOCATION",
        "PROJECT_NOT_OPEN_FOR_ALLOCATION",
        "FISCAL_YEAR_OUTSIDE_PAIRING",
        "PAIRING_NOT_ACTIVE",
        "REQUEST_ID_REUSED",
        "INVALID_FIELD",
    ];
    let good = [
        commitment(xicheng, 2023, cny(4, 0)),
        allocation(&project, 2025, cny(5, 0)),
        commitment(&dongcheng, 2022, cny(6, 0)),
    ];
    batch.extend(good.iter().cloned().map(plain));
    let mut answers = in_one_batch(&app, blocker, batch).await;
    let good_answers = answers.split_off(expected.len());

    for (answer, reason) in answers.iter().zip(expected) {
        let status = answer.as_ref().expect_err(reason);
        let info = tonic_types::StatusExt::get_error_details(status)
            .error_info()
            .cloned()
            .unwrap();
        assert_eq!(info.reason, reason, "{status:?}");
    }
    for answer in &good_answers {
        assert!(answer.is_ok(), "{answer:?}");
    }
    assert_eq!(lines(&app).await.len(), before + 1 + good.len());
    let reversal_again = app
        .funds
        .clone()
        .reverse_fund_transaction(ReverseFundTransactionRequest {
            name: paid.name.clone(),
            reason: "再次冲销".into(),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_error(
        &reversal_again,
        Code::FailedPrecondition,
        "ALREADY_REVERSED",
        None,
    );
}

#[tokio::test]
async fn a_line_the_database_refuses_fails_alone_and_its_batch_is_posted_without_it() {
    let mut app = spawn().await;
    let (dongcheng, _, others) = four_pairings(&mut app).await;
    let (xicheng, chaoyang, blocker) = (&others[0], &others[1], &others[2]);
    // A rule only the database knows, as if the books had missed it: no commitment of
    // exactly 13 yuan.
    let refuse = if app.on_postgres() {
        vec![
            "CREATE FUNCTION refuse_13() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
             IF NEW.amount_fen = 1300 THEN RAISE check_violation USING MESSAGE = '13'; END IF; \
             RETURN NEW; END $$",
            "CREATE TRIGGER refuse_13 BEFORE INSERT ON fund_transactions FOR EACH ROW \
             EXECUTE FUNCTION refuse_13()",
        ]
    } else {
        vec![
            "CREATE TRIGGER refuse_13 BEFORE INSERT ON fund_transactions WHEN \
             NEW.amount_fen = 1300 BEGIN SELECT RAISE(ABORT, '13'); END",
        ]
    };
    for statement in refuse {
        app.sql(statement).await.unwrap();
    }

    let answers = in_one_batch(
        &app,
        blocker,
        vec![
            plain(commitment(&dongcheng, 2025, cny(2, 0))),
            plain(commitment(xicheng, 2025, cny(13, 0))),
            plain(commitment(chaoyang, 2025, cny(3, 0))),
        ],
    )
    .await;

    assert!(answers[0].is_ok(), "{:?}", answers[0]);
    assert_error(
        answers[1].as_ref().unwrap_err(),
        Code::FailedPrecondition,
        "CONSTRAINT_VIOLATED",
        None,
    );
    assert!(answers[2].is_ok(), "{:?}", answers[2]);
    let amounts: Vec<i64> = lines(&app)
        .await
        .iter()
        .map(|l| l.amount.as_ref().unwrap().units)
        .collect();
    assert_eq!(
        amounts,
        [1, 2, 3],
        "the blocker's line, then the two good ones"
    );
}

#[tokio::test]
async fn the_database_keeps_every_stored_sum_a_whole_number_of_fen_in_range() {
    let mut app = spawn().await;
    let (pairing, project) = pairing_and_project(&mut app).await;
    record(&app, commitment(&pairing, 2025, cny(100, 0)))
        .await
        .unwrap();
    record(&app, allocation(&project, 2025, cny(30, 0)))
        .await
        .unwrap();
    let mut tampering = vec![
        "UPDATE fund_totals SET committed_fen = -1",
        "UPDATE pairing_year_balances SET committed_fen = -1, allocated_fen = -2",
        "UPDATE project_balances SET allocated_fen = -1, disbursed_fen = -1",
    ];
    if !app.on_postgres() {
        // What SQLite makes of an integer sum that overflows; PostgreSQL's bigint cannot
        // hold it at all.
        tampering.extend([
            "UPDATE fund_totals SET committed_fen = 9.3e18",
            "UPDATE pairing_year_balances SET committed_fen = 1e19",
            "UPDATE project_balances SET allocated_fen = 30.5",
        ]);
    }
    let before = summary(&app, &pairing.name, 0).await;

    for statement in tampering {
        assert!(
            app.sql(statement).await.is_err(),
            "{statement} must be refused"
        );
    }

    assert_eq!(summary(&app, &pairing.name, 0).await, before);
}
