//! Talent exchanges: records, their rules, who sees the people in them, and summaries.

use duikou::{
    domain::access::Role,
    proto::v1::{
        CreateTalentExchangeRequest, DeleteTalentExchangeRequest, GetTalentExchangeRequest,
        GetTalentSummaryRequest, ListTalentExchangesRequest, Pairing, TalentExchange,
        TalentSummary, TalentTotals, UndeleteTalentExchangeRequest, UpdateTalentExchangeRequest,
    },
};
use prost::Message;
use prost_types::FieldMask;
use tonic::{Code, Status};
use tonic_types::StatusExt;

use crate::helpers::{TestApp, assert_error, pairing, secondment, spawn};

const TRAINING: i32 = 3;
const HIGH_LEVEL_VISIT: i32 = 5;
const TO_SUPPORTED: i32 = 1;
const TO_SUPPORTING: i32 = 2;

async fn create(
    app: &TestApp,
    exchange: TalentExchange,
    request_id: &str,
) -> Result<TalentExchange, Status> {
    app.talents
        .clone()
        .create_talent_exchange(CreateTalentExchangeRequest {
            talent_exchange: Some(exchange),
            request_id: request_id.into(),
        })
        .await
        .map(tonic::Response::into_inner)
}

async fn list(app: &TestApp, filter: &str, show_deleted: bool) -> Vec<TalentExchange> {
    app.talents
        .clone()
        .list_talent_exchanges(ListTalentExchangesRequest {
            page_size: 1000,
            page_token: String::new(),
            filter: filter.into(),
            show_deleted,
        })
        .await
        .unwrap()
        .into_inner()
        .talent_exchanges
}

async fn summary(app: &TestApp, scope: &str, year: i32) -> TalentSummary {
    app.talents
        .clone()
        .get_talent_summary(GetTalentSummaryRequest {
            scope: scope.into(),
            year,
        })
        .await
        .unwrap()
        .into_inner()
}

/// A training class of `headcount` from the supported side, over `days` days from
/// `start`.
fn training(pairing: &Pairing, headcount: i32, start: &str, end: &str) -> TalentExchange {
    TalentExchange {
        pairing: pairing.name.clone(),
        kind: TRAINING,
        direction: TO_SUPPORTING,
        field: 2,
        headcount,
        start_date: start.into(),
        end_date: end.into(),
        title: "丹江口市乡村振兴干部培训班".into(),
        ..Default::default()
    }
}

fn totals(exchanges: i64, headcount: i64, person_days: i64) -> Option<TalentTotals> {
    Some(TalentTotals {
        exchange_count: exchanges,
        headcount,
        person_days,
    })
}

#[tokio::test]
async fn an_exchange_is_recorded_read_listed_changed_deleted_and_restored() {
    let mut app = spawn().await;
    let program = app.program().await;
    let dongcheng = app.pairing(pairing(&program, "110101", "420381")).await;
    let tianjin = app.pairing(pairing(&program, "120101", "620100")).await;

    let created = create(&app, secondment(&dongcheng), "tx-2024-1")
        .await
        .unwrap();
    let replayed = create(&app, secondment(&dongcheng), "tx-2024-1")
        .await
        .unwrap();
    let mut other_body = secondment(&dongcheng);
    other_body.headcount = 9;
    let reused = create(&app, other_body, "tx-2024-1").await.unwrap_err();
    let visit = TalentExchange {
        kind: HIGH_LEVEL_VISIT,
        direction: TO_SUPPORTING,
        start_date: "2025-05-12".into(),
        end_date: String::new(),
        host_organization: String::new(),
        participants: Vec::new(),
        ..secondment(&tianjin)
    };
    let visit = create(&app, visit, "").await.unwrap();

    assert_eq!(replayed, created, "a retry returns the first result");
    assert_error(&reused, Code::InvalidArgument, "REQUEST_ID_REUSED", None);
    assert!(created.name.starts_with("talentExchanges/"));
    assert_eq!(created.participants.len(), 2);
    assert!(!created.participants_redacted);
    assert_eq!(
        app.talents
            .get_talent_exchange(GetTalentExchangeRequest {
                name: created.name.clone(),
            })
            .await
            .unwrap()
            .into_inner(),
        created
    );
    let names = |list: Vec<TalentExchange>| -> Vec<String> {
        list.into_iter().map(|t| t.name).collect::<Vec<_>>()
    };
    assert_eq!(names(list(&app, "", false).await).len(), 2);
    for (filter, expected) in [
        (format!("pairing = \"{}\"", dongcheng.name), &created),
        ("kind = CADRE_SECONDMENT".to_owned(), &created),
        ("direction = TO_SUPPORTED".to_owned(), &created),
        ("direction = TO_SUPPORTING".to_owned(), &visit),
        ("kind = HIGH_LEVEL_VISIT".to_owned(), &visit),
        ("year = 2025".to_owned(), &visit),
        ("year = 2024".to_owned(), &created),
        ("region = \"regions/420300\"".to_owned(), &created),
        ("region = \"regions/120000\"".to_owned(), &visit),
    ] {
        assert_eq!(
            names(list(&app, &filter, false).await),
            std::slice::from_ref(&expected.name),
            "{filter}"
        );
    }
    assert!(list(&app, "year = 2023", false).await.is_empty());
    let bad_filter = app
        .talents
        .clone()
        .list_talent_exchanges(ListTalentExchangesRequest {
            filter: "kind = NAP".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_error(
        &bad_filter,
        Code::InvalidArgument,
        "INVALID_FIELD",
        Some("filter"),
    );

    // Update: the masked fields change, the rules are checked on the result, etags guard.
    let mut change = created.clone();
    change.title = "2024年东城区赴丹江口市挂职干部（调整）".into();
    change.headcount = 1;
    let too_few = app
        .talents
        .update_talent_exchange(UpdateTalentExchangeRequest {
            talent_exchange: Some(change.clone()),
            update_mask: Some(FieldMask {
                paths: vec!["title".into(), "headcount".into()],
            }),
        })
        .await
        .unwrap_err();
    assert_error(
        &too_few,
        Code::InvalidArgument,
        "INVALID_FIELD",
        Some("talent_exchange.headcount"),
    );
    let updated = app
        .talents
        .update_talent_exchange(UpdateTalentExchangeRequest {
            talent_exchange: Some(change.clone()),
            update_mask: Some(FieldMask {
                paths: vec!["title".into()],
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.title, change.title);
    assert_eq!(updated.headcount, 3, "fields outside the mask stay");
    assert_ne!(updated.etag, created.etag);
    let stale = app
        .talents
        .update_talent_exchange(UpdateTalentExchangeRequest {
            talent_exchange: Some(change.clone()),
            update_mask: Some(FieldMask {
                paths: vec!["title".into()],
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
    let immutable = app
        .talents
        .update_talent_exchange(UpdateTalentExchangeRequest {
            talent_exchange: Some(updated.clone()),
            update_mask: Some(FieldMask {
                paths: vec!["pairing".into()],
            }),
        })
        .await
        .unwrap_err();
    assert_error(
        &immutable,
        Code::InvalidArgument,
        "INVALID_FIELD",
        Some("update_mask"),
    );

    // Delete and undelete.
    let deleted = app
        .talents
        .delete_talent_exchange(DeleteTalentExchangeRequest {
            name: updated.name.clone(),
            etag: updated.etag.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(deleted.delete_time.is_some());
    assert_eq!(
        names(list(&app, "", false).await),
        std::slice::from_ref(&visit.name)
    );
    assert_eq!(list(&app, "", true).await.len(), 2);
    let again = app
        .talents
        .delete_talent_exchange(DeleteTalentExchangeRequest {
            name: updated.name.clone(),
            etag: String::new(),
        })
        .await
        .unwrap_err();
    assert_error(
        &again,
        Code::FailedPrecondition,
        "TALENT_EXCHANGE_DELETED",
        None,
    );
    let restored = app
        .talents
        .undelete_talent_exchange(UndeleteTalentExchangeRequest {
            name: updated.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(restored.delete_time.is_none());
    assert_eq!(list(&app, "", false).await.len(), 2);

    // Every change, and only a change, left one audit event.
    let audited: Vec<(String, String, String)> = crate::audit::events(&app)
        .await
        .into_iter()
        .filter(|e| e.method.contains("TalentExchange"))
        .map(|e| {
            (
                e.method.rsplit('/').next().unwrap().to_owned(),
                e.resource,
                e.request_id,
            )
        })
        .collect();
    let event = |method: &str, exchange: &TalentExchange, rid: &str| {
        (method.to_owned(), exchange.name.clone(), rid.to_owned())
    };
    assert_eq!(
        audited,
        [
            event("CreateTalentExchange", &created, "tx-2024-1"),
            event("CreateTalentExchange", &visit, ""),
            event("UpdateTalentExchange", &created, ""),
            event("DeleteTalentExchange", &created, ""),
            event("UndeleteTalentExchange", &created, ""),
        ]
    );
    let missing = app
        .talents
        .get_talent_exchange(GetTalentExchangeRequest {
            name: "talentExchanges/999".into(),
        })
        .await
        .unwrap_err();
    assert_error(&missing, Code::NotFound, "TALENT_EXCHANGE_NOT_FOUND", None);
}

#[tokio::test]
async fn broken_rules_name_their_fields_and_leave_no_trace() {
    let mut app = spawn().await;
    let program = app.program().await;
    let p = app.pairing(pairing(&program, "110101", "420381")).await;
    let cases: Vec<(TalentExchange, Vec<&str>)> = vec![
        (
            TalentExchange {
                headcount: 1,
                ..secondment(&p)
            },
            vec!["talent_exchange.headcount"],
        ),
        (
            TalentExchange {
                headcount: 0,
                kind: 0,
                direction: 7,
                field: 0,
                title: String::new(),
                ..secondment(&p)
            },
            vec![
                "talent_exchange.kind",
                "talent_exchange.direction",
                "talent_exchange.field",
                "talent_exchange.headcount",
                "talent_exchange.title",
            ],
        ),
        (
            TalentExchange {
                end_date: "2024-02-01".into(),
                ..secondment(&p)
            },
            vec!["talent_exchange.end_date"],
        ),
        (
            TalentExchange {
                start_date: "2020-12-01".into(),
                end_date: "2026-01-31".into(),
                ..secondment(&p)
            },
            vec!["talent_exchange.start_date", "talent_exchange.end_date"],
        ),
        (
            TalentExchange {
                end_date: String::new(),
                host_organization: String::new(),
                ..secondment(&p)
            },
            vec![
                "talent_exchange.end_date",
                "talent_exchange.host_organization",
            ],
        ),
        (
            TalentExchange {
                start_date: "2024-02-30".into(),
                ..secondment(&p)
            },
            vec!["talent_exchange.start_date"],
        ),
        (
            TalentExchange {
                pairing: "pairings/999".into(),
                ..secondment(&p)
            },
            vec!["talent_exchange.pairing"],
        ),
    ];
    for (exchange, fields) in cases {
        let status = create(&app, exchange.clone(), "").await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{exchange:?}");
        let named: Vec<String> = status
            .get_error_details()
            .bad_request()
            .unwrap()
            .field_violations
            .iter()
            .map(|v| v.field.clone())
            .collect();
        assert_eq!(named, fields, "{exchange:?}");
    }
    assert!(list(&app, "", true).await.is_empty(), "nothing was written");
    // A request id of a refused request stays free.
    let mut bad = secondment(&p);
    bad.headcount = 1;
    create(&app, bad, "retry-me").await.unwrap_err();
    create(&app, secondment(&p), "retry-me").await.unwrap();
}

#[tokio::test]
async fn participants_are_shown_only_to_those_cleared_to_see_them() {
    let mut app = spawn().await;
    let program = app.program().await;
    let p = app.pairing(pairing(&program, "110101", "420381")).await;
    let created = create(&app, secondment(&p), "").await.unwrap();
    let name = created.name.clone();

    let cleared = [
        (Role::Admin, &[][..], true),
        (Role::Auditor, &[][..], true),
        (Role::Coordinator, &["110000", "420300"][..], true),
        (Role::Coordinator, &["120000"][..], false),
        (Role::Coordinator, &["110000"][..], false),
        (Role::FundOfficer, &[][..], false),
        (Role::Supervisor, &[][..], false),
    ];
    for (role, scopes, sees) in cleared {
        let secret = app.token(role, scopes).await;
        let mut client = app.talents_as(Some(&secret));
        let got = client
            .get_talent_exchange(GetTalentExchangeRequest { name: name.clone() })
            .await
            .unwrap()
            .into_inner();
        let listed = client
            .list_talent_exchanges(ListTalentExchangesRequest::default())
            .await
            .unwrap()
            .into_inner()
            .talent_exchanges;
        let who = format!("{} scoped to {scopes:?}", role.word());
        for reply in [&got, &listed[0]] {
            assert_eq!(reply.participants_redacted, !sees, "{who}");
            assert_eq!(reply.participants.len(), if sees { 2 } else { 0 }, "{who}");
            let bytes = reply.encode_to_vec();
            let shows_name = bytes
                .windows("王建国".len())
                .any(|w| w == "王建国".as_bytes());
            assert_eq!(shows_name, sees, "{who}");
            assert_eq!(reply.headcount, 3, "the headcount is not personal: {who}");
        }
        let summary = client
            .get_talent_summary(GetTalentSummaryRequest {
                scope: p.name.clone(),
                year: 0,
            })
            .await
            .unwrap()
            .into_inner();
        let bytes = summary.encode_to_vec();
        assert!(
            !bytes
                .windows("王建国".len())
                .any(|w| w == "王建国".as_bytes()),
            "a summary never names anyone"
        );
        assert_eq!(summary.totals.unwrap().headcount, 3);
    }
    // Writers are cleared by their scope, so what they get back shows the people.
    let coordinator = app.token(Role::Coordinator, &["110000", "420300"]).await;
    let written = app
        .talents_as(Some(&coordinator))
        .create_talent_exchange(CreateTalentExchangeRequest {
            talent_exchange: Some(secondment(&p)),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(written.participants.len(), 2);
    let outsider = app.token(Role::Coordinator, &["120000"]).await;
    let refused = app
        .talents_as(Some(&outsider))
        .delete_talent_exchange(DeleteTalentExchangeRequest {
            name: "talentExchanges/999".into(),
            etag: String::new(),
        })
        .await
        .unwrap_err();
    assert_error(&refused, Code::PermissionDenied, "OUTSIDE_SCOPE", None);
}

#[tokio::test]
async fn summaries_count_headcount_and_person_days_by_kind_and_direction() {
    let mut app = spawn().await;
    let program = app.program().await;
    let dongcheng = app.pairing(pairing(&program, "110101", "420381")).await;
    let xicheng = app.pairing(pairing(&program, "110102", "420322")).await;
    // 3 × 365 days (2024-03-01 to 2025-02-28).
    create(&app, secondment(&dongcheng), "").await.unwrap();
    // 40 × 10 days and 25 × 1 day, both in 2025.
    create(
        &app,
        training(&dongcheng, 40, "2025-03-01", "2025-03-10"),
        "",
    )
    .await
    .unwrap();
    create(&app, training(&xicheng, 25, "2025-06-01", ""), "")
        .await
        .unwrap();
    // Deleted: left out.
    let gone = create(
        &app,
        training(&xicheng, 500, "2025-07-01", "2025-07-02"),
        "",
    )
    .await
    .unwrap();
    app.talents
        .clone()
        .delete_talent_exchange(DeleteTalentExchangeRequest {
            name: gone.name,
            etag: String::new(),
        })
        .await
        .unwrap();

    let all = summary(&app, &dongcheng.name, 0).await;
    assert_eq!(all.totals, totals(2, 43, 3 * 365 + 400));
    let kinds: Vec<(i32, Option<TalentTotals>)> = all
        .by_kind
        .into_iter()
        .map(|k| (k.kind, k.totals))
        .collect();
    assert_eq!(
        kinds,
        [(1, totals(1, 3, 1095)), (TRAINING, totals(1, 40, 400))]
    );
    let directions: Vec<(i32, Option<TalentTotals>)> = all
        .by_direction
        .into_iter()
        .map(|d| (d.direction, d.totals))
        .collect();
    assert_eq!(
        directions,
        [
            (TO_SUPPORTED, totals(1, 3, 1095)),
            (TO_SUPPORTING, totals(1, 40, 400))
        ]
    );
    assert_eq!(
        summary(&app, &dongcheng.name, 2025).await.totals,
        totals(1, 40, 400)
    );
    assert_eq!(
        summary(&app, &program.name, 2025).await.totals,
        totals(2, 65, 425)
    );
    assert_eq!(
        summary(&app, "regions/110000", 0).await.totals,
        totals(3, 68, 1095 + 425)
    );
    assert_eq!(
        summary(&app, "regions/420322", 0).await.totals,
        totals(1, 25, 25)
    );
    let empty = summary(&app, "regions/330000", 0).await;
    assert_eq!(empty.totals, totals(0, 0, 0));
    assert!(empty.by_kind.is_empty() && empty.by_direction.is_empty());
    for (scope, year, code, reason) in [
        ("pairings/999", 0, Code::NotFound, "PAIRING_NOT_FOUND"),
        ("regions/999999", 0, Code::NotFound, "REGION_NOT_FOUND"),
        ("projects/1", 0, Code::InvalidArgument, "INVALID_FIELD"),
        ("", 0, Code::InvalidArgument, "INVALID_FIELD"),
        (
            dongcheng.name.as_str(),
            -1,
            Code::InvalidArgument,
            "INVALID_FIELD",
        ),
    ] {
        let status = app
            .talents
            .clone()
            .get_talent_summary(GetTalentSummaryRequest {
                scope: scope.into(),
                year,
            })
            .await
            .unwrap_err();
        assert_error(&status, code, reason, None);
    }
}

#[tokio::test]
async fn a_secondment_names_its_host_organization_beside_the_text() {
    let mut app = spawn().await;
    let program = app.program().await;
    let p = app.pairing(pairing(&program, "110101", "420381")).await;
    let host = app
        .organization(duikou::proto::v1::Organization {
            display_name: "丹江口市人民医院".into(),
            kind: 2,
            ..crate::helpers::county_bureau("420381")
        })
        .await;
    let create = |exchange: TalentExchange| {
        let mut talents = app.talents.clone();
        async move {
            talents
                .create_talent_exchange(duikou::proto::v1::CreateTalentExchangeRequest {
                    talent_exchange: Some(exchange),
                    request_id: String::new(),
                })
                .await
                .map(tonic::Response::into_inner)
        }
    };

    let hosted = create(TalentExchange {
        host_organization: String::new(),
        host_organization_ref: host.name.clone(),
        ..secondment(&p)
    })
    .await
    .unwrap();
    let unknown = create(TalentExchange {
        host_organization_ref: "organizations/77".into(),
        ..secondment(&p)
    })
    .await
    .unwrap_err();
    let unhosted = create(TalentExchange {
        host_organization: String::new(),
        ..secondment(&p)
    })
    .await
    .unwrap_err();
    create(secondment(&p)).await.unwrap();
    let at_host = app
        .talents
        .list_talent_exchanges(duikou::proto::v1::ListTalentExchangesRequest {
            filter: format!("host_organization_ref = \"{}\"", host.name),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .talent_exchanges;

    assert_eq!(
        hosted.host_organization, "丹江口市人民医院",
        "the text is its name"
    );
    assert_eq!(hosted.host_organization_ref, host.name);
    assert_error(
        &unknown,
        Code::InvalidArgument,
        "INVALID_FIELD",
        Some("talent_exchange.host_organization_ref"),
    );
    assert_error(
        &unhosted,
        Code::InvalidArgument,
        "INVALID_FIELD",
        Some("talent_exchange.host_organization"),
    );
    assert_eq!(
        at_host.iter().map(|t| &t.name).collect::<Vec<_>>(),
        vec![&hosted.name]
    );

    // Another organisation named alone in an update renames the text after it.
    let clinic = app
        .organization(duikou::proto::v1::Organization {
            display_name: "丹江口市中医医院".into(),
            kind: 2,
            ..crate::helpers::county_bureau("420381")
        })
        .await;
    let moved = app
        .talents
        .update_talent_exchange(duikou::proto::v1::UpdateTalentExchangeRequest {
            talent_exchange: Some(TalentExchange {
                host_organization_ref: clinic.name.clone(),
                ..hosted.clone()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["host_organization_ref".into()],
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(moved.host_organization_ref, clinic.name);
    assert_eq!(moved.host_organization, "丹江口市中医医院");
}
