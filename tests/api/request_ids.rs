//! Request ids belong to their caller and method: nobody takes, blocks or probes another
//! caller's, and a replay is authorized and redacted as a fresh request is.

use duikou::{
    domain::access::Role,
    proto::v1::{
        AddSupervisionCommentRequest, CreatePairingRequest, CreateTalentExchangeRequest,
        RecordFundTransactionRequest, SubmitSupervisionEntryRequest,
    },
};
use migration::MigratorTrait;
use tonic::Code;

use crate::{
    funds::{commitment, lines, pairing_and_project},
    helpers::{assert_error, cny, pairing, secondment, spawn, water_report},
};

#[tokio::test]
async fn one_callers_request_id_neither_blocks_nor_answers_another_callers_request() {
    let mut app = spawn().await;
    let (dongcheng, _) = pairing_and_project(&mut app).await;
    let tianjin = app.token(Role::FundOfficer, &["120000"]).await;
    let beijing = app.token(Role::FundOfficer, &["110000", "420300"]).await;
    let auditor = app.token(Role::Auditor, &[]).await;
    let supervisor = app.token(Role::Supervisor, &[]).await;
    let entry = app
        .supervision
        .clone()
        .submit_supervision_entry(SubmitSupervisionEntryRequest {
            supervision_entry: Some(water_report("regions/420381")),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .supervision_entry
        .unwrap();
    let taken = "commit-2023-dongcheng";
    app.supervision_as(Some(&supervisor))
        .add_supervision_comment(AddSupervisionCommentRequest {
            parent: entry.name.clone(),
            text: "占用他人的请求号".into(),
            request_id: taken.into(),
            public: false,
        })
        .await
        .unwrap();
    let program = duikou::proto::v1::Program {
        name: dongcheng.program.clone(),
        ..Default::default()
    };
    let auditors_try = app
        .pairings_as(Some(&auditor))
        .create_pairing(CreatePairingRequest {
            pairing: Some(pairing(&program, "110102", "420322")),
            request_id: "pairing-xicheng".into(),
        })
        .await
        .unwrap_err();

    let commitment_request = RecordFundTransactionRequest {
        fund_transaction: Some(commitment(&dongcheng, 2023, cny(100, 0))),
        request_id: taken.into(),
    };
    let recorded = app
        .funds_as(Some(&beijing))
        .record_fund_transaction(commitment_request.clone())
        .await;
    let retried = app
        .funds_as(Some(&beijing))
        .record_fund_transaction(commitment_request.clone())
        .await;
    let by_tianjin = app
        .funds_as(Some(&tianjin))
        .record_fund_transaction(commitment_request.clone())
        .await
        .unwrap_err();
    let admins = app
        .pairings
        .create_pairing(CreatePairingRequest {
            pairing: Some(pairing(&program, "110102", "420322")),
            request_id: "pairing-xicheng".into(),
        })
        .await;

    assert_error(
        &auditors_try,
        Code::PermissionDenied,
        "ROLE_NOT_ALLOWED",
        None,
    );
    let recorded = recorded.expect("the id is Beijing's own").into_inner();
    assert_eq!(retried.unwrap().into_inner().name, recorded.name);
    assert_error(&by_tianjin, Code::PermissionDenied, "OUTSIDE_SCOPE", None);
    assert!(admins.is_ok(), "{admins:?}");
    assert_eq!(lines(&app).await.len(), 1);
}

#[tokio::test]
async fn a_replay_is_authorized_and_redacted_as_a_fresh_request_and_confirms_no_guess() {
    let mut app = spawn().await;
    let (dongcheng, _) = pairing_and_project(&mut app).await;
    let tianjin = app.token(Role::Coordinator, &["120000"]).await;
    let request = CreateTalentExchangeRequest {
        talent_exchange: Some(secondment(&dongcheng)),
        request_id: "guazhi-2024-dongcheng".into(),
    };
    let created = app
        .talents
        .clone()
        .create_talent_exchange(request.clone())
        .await
        .unwrap()
        .into_inner();
    assert!(!created.participants.is_empty());

    let resent = app
        .talents_as(Some(&tianjin))
        .create_talent_exchange(request.clone())
        .await
        .unwrap_err();
    let mut guessed = request.clone();
    guessed.talent_exchange.as_mut().unwrap().participants[0].display_name = "李四".into();
    let guess = app
        .talents_as(Some(&tianjin))
        .create_talent_exchange(guessed.clone())
        .await
        .unwrap_err();
    let admins_replay = app
        .talents
        .clone()
        .create_talent_exchange(request)
        .await
        .unwrap()
        .into_inner();
    let admins_other_body = app
        .talents
        .clone()
        .create_talent_exchange(guessed)
        .await
        .unwrap_err();

    assert_error(&resent, Code::PermissionDenied, "OUTSIDE_SCOPE", None);
    assert_error(&guess, Code::PermissionDenied, "OUTSIDE_SCOPE", None);
    assert_eq!(admins_replay, created);
    assert_error(
        &admins_other_body,
        Code::InvalidArgument,
        "REQUEST_ID_REUSED",
        Some("request_id"),
    );
}

#[tokio::test]
async fn anonymous_reports_with_one_request_id_meet_only_when_they_are_the_same_report() {
    let app = spawn().await;
    let report = |title: &str| SubmitSupervisionEntryRequest {
        supervision_entry: Some(duikou::proto::v1::SupervisionEntry {
            title: title.into(),
            ..water_report("regions/420381")
        }),
        request_id: "report-1".into(),
    };

    let first = app
        .supervision_as(None)
        .submit_supervision_entry(report("官山河排污口"))
        .await
        .unwrap()
        .into_inner();
    let retry = app
        .supervision_as(None)
        .submit_supervision_entry(report("官山河排污口"))
        .await
        .unwrap()
        .into_inner();
    let someone_else = app
        .supervision_as(None)
        .submit_supervision_entry(report("神定河异味"))
        .await;

    let name = |r: &duikou::proto::v1::SubmitSupervisionEntryResponse| {
        r.supervision_entry.as_ref().unwrap().name.clone()
    };
    assert_eq!(name(&retry), name(&first));
    let someone_else = someone_else.expect("another report is not a reuse of the id");
    assert_ne!(name(&someone_else.into_inner()), name(&first));
}

#[tokio::test]
async fn request_ids_used_before_they_were_keyed_by_caller_still_replay_for_their_caller() {
    let mut app = spawn().await;
    let program = app.program().await;
    let request = CreatePairingRequest {
        pairing: Some(pairing(&program, "110101", "420381")),
        request_id: "pairing-dongcheng".into(),
    };
    let created = app
        .pairings
        .create_pairing(request.clone())
        .await
        .unwrap()
        .into_inner();
    let other_admin = app.token(Role::Admin, &[]).await;

    // Back to one namespace of ids, and forward again: each id finds its caller through
    // the audit event of what it made.
    let store = app.store().await;
    let steps = crate::helpers::undoing("m0010_request_ids_per_caller");
    migration::Migrator::down(store.db(), Some(steps))
        .await
        .unwrap();
    migration::Migrator::up(store.db(), None).await.unwrap();
    store.close().await.unwrap();

    let replayed = app.pairings.create_pairing(request.clone()).await;
    let by_another = app
        .pairings_as(Some(&other_admin))
        .create_pairing(request)
        .await
        .unwrap_err();

    assert_eq!(replayed.unwrap().into_inner(), created);
    assert_error(&by_another, Code::AlreadyExists, "PAIRING_EXISTS", None);
}
