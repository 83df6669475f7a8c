//! Pairings: placement rules, uniqueness, updates, deletion, the state machine, lists and
//! retries.

use duikou::proto::v1::{
    CancelProjectRequest, CreatePairingRequest, CreateRegionRequest, CreateTalentExchangeRequest,
    DeletePairingRequest, EndPairingRequest, FundTransaction, GetPairingRequest,
    ListPairingsRequest, Pairing, PairingState, RecordFundTransactionRequest, Region, RegionLevel,
    ResumePairingRequest, SuspendPairingRequest, UndeletePairingRequest, UpdatePairingRequest,
};
use prost_types::FieldMask;
use tonic::Code;
use tonic_types::StatusExt;

use crate::helpers::{TestApp, assert_error, cny, pairing, project, secondment, spawn};

fn mask(paths: &[&str]) -> Option<FieldMask> {
    Some(FieldMask {
        paths: paths.iter().map(|p| (*p).to_owned()).collect(),
    })
}

fn list(filter: &str) -> ListPairingsRequest {
    ListPairingsRequest {
        filter: filter.into(),
        ..Default::default()
    }
}

async fn names(app: &mut TestApp, request: ListPairingsRequest) -> Vec<String> {
    app.pairings
        .list_pairings(request)
        .await
        .unwrap()
        .into_inner()
        .pairings
        .into_iter()
        .map(|p| p.name)
        .collect()
}

async fn get(app: &mut TestApp, name: &str) -> Pairing {
    app.pairings
        .get_pairing(GetPairingRequest { name: name.into() })
        .await
        .unwrap()
        .into_inner()
}

#[tokio::test]
async fn a_pairing_takes_its_level_from_the_supported_region_and_names_both_sides() {
    let mut app = spawn().await;
    let program = app.program().await;

    let created = app.pairing(pairing(&program, "110101", "420381")).await;
    let read = get(&mut app, &created.name).await;

    assert_eq!(created.level, RegionLevel::County as i32);
    assert_eq!(created.state, PairingState::Active as i32);
    assert_eq!(created.display_name, "东城区 — 丹江口市");
    assert_eq!(created.fields, vec![4, 2]);
    assert!(created.delete_time.is_none());
    assert_eq!(read, created);
}

#[tokio::test]
async fn pairing_regions_and_program_must_exist() {
    let mut app = spawn().await;
    let program = app.program().await;
    let mut orphan = pairing(&program, "110101", "999999");
    orphan.program = "programs/99".into();

    let err = app.create_pairing(orphan).await.unwrap_err();

    assert_error(
        &err,
        Code::InvalidArgument,
        "INVALID_FIELD",
        Some("pairing.supported_region"),
    );
    assert_error(
        &err,
        Code::InvalidArgument,
        "INVALID_FIELD",
        Some("pairing.program"),
    );
}

#[tokio::test]
async fn a_region_cannot_be_paired_with_itself_or_with_a_region_around_it() {
    let mut app = spawn().await;
    let program = app.program().await;

    let same = app
        .create_pairing(pairing(&program, "420381", "420381"))
        .await
        .unwrap_err();
    let inside = app
        .create_pairing(pairing(&program, "420300", "420381"))
        .await
        .unwrap_err();
    let around = app
        .create_pairing(pairing(&program, "420381", "420000"))
        .await
        .unwrap_err();

    for err in [same, inside, around] {
        assert_error(
            &err,
            Code::InvalidArgument,
            "INVALID_FIELD",
            Some("pairing.supported_region"),
        );
    }
}

#[tokio::test]
async fn a_pairing_period_ends_after_it_starts_and_lies_inside_the_program() {
    let mut app = spawn().await;
    let program = app.program().await;
    let mut backwards = pairing(&program, "110101", "420381");
    backwards.period_end = "2020-12-31".into();
    let mut too_long = pairing(&program, "110101", "420381");
    too_long.period_end = "2036-12-31".into();

    let backwards = app.create_pairing(backwards).await.unwrap_err();
    let too_long = app.create_pairing(too_long).await.unwrap_err();

    assert_error(
        &backwards,
        Code::InvalidArgument,
        "INVALID_FIELD",
        Some("pairing.period_end"),
    );
    let message = assert_error(
        &too_long,
        Code::InvalidArgument,
        "INVALID_FIELD",
        Some("pairing.period_end"),
    );
    assert!(message.contains("program"), "{message}");
}

#[tokio::test]
async fn a_child_pairing_lies_inside_its_parent() {
    let mut app = spawn().await;
    let program = app.program().await;
    let parent = app.pairing(pairing(&program, "110000", "420300")).await;
    let mut child = pairing(&program, "110101", "420381");
    child.parent = parent.name.clone();

    let created = app.pairing(child.clone()).await;

    let mut astray = child.clone();
    astray.supporting_region = "regions/120101".into();
    astray.supported_region = "regions/420502".into();
    astray.period_end = "2026-12-31".into();
    let mut other_program = child.clone();
    other_program.program = app.program().await.name;

    let astray = app.create_pairing(astray).await.unwrap_err();
    let other_program = app.create_pairing(other_program).await.unwrap_err();

    assert_eq!(created.parent, parent.name);
    for field in ["pairing.supporting_region", "pairing.supported_region"] {
        assert_error(&astray, Code::InvalidArgument, "INVALID_FIELD", Some(field));
    }
    assert_error(
        &other_program,
        Code::InvalidArgument,
        "INVALID_FIELD",
        Some("pairing.parent"),
    );
}

#[tokio::test]
async fn a_child_period_must_lie_inside_the_parent_period() {
    let mut app = spawn().await;
    let program = app.program().await;
    let mut parent = pairing(&program, "110000", "420300");
    parent.period_end = "2023-12-31".into();
    let parent = app.pairing(parent).await;
    let mut child = pairing(&program, "110101", "420381");
    child.parent = parent.name.clone();

    let err = app.create_pairing(child).await.unwrap_err();

    let message = assert_error(
        &err,
        Code::InvalidArgument,
        "INVALID_FIELD",
        Some("pairing.period_end"),
    );
    assert!(message.contains("parent"), "{message}");
}

#[tokio::test]
async fn parent_chains_cannot_form_a_cycle() {
    let mut app = spawn().await;
    let program = app.program().await;
    let top = app.pairing(pairing(&program, "110000", "420300")).await;
    let mut middle = pairing(&program, "110100", "420381");
    middle.parent = top.name.clone();
    let middle = app.pairing(middle).await;
    let update_parent = |name: &str, parent: &str| UpdatePairingRequest {
        pairing: Some(Pairing {
            name: name.into(),
            parent: parent.into(),
            ..Default::default()
        }),
        update_mask: mask(&["parent"]),
    };

    let loop_of_two = app
        .pairings
        .update_pairing(update_parent(&top.name, &middle.name))
        .await
        .unwrap_err();
    let loop_of_one = app
        .pairings
        .update_pairing(update_parent(&top.name, &top.name))
        .await
        .unwrap_err();

    for err in [loop_of_two, loop_of_one] {
        let message = assert_error(
            &err,
            Code::InvalidArgument,
            "INVALID_FIELD",
            Some("pairing.parent"),
        );
        assert!(message.contains("ancestor"), "{message}");
    }
    assert_eq!(get(&mut app, &top.name).await.parent, "");
}

#[tokio::test]
async fn two_live_pairings_cannot_share_program_and_regions() {
    let mut app = spawn().await;
    let program = app.program().await;
    let first = app.pairing(pairing(&program, "110101", "420381")).await;

    let duplicate = app
        .create_pairing(pairing(&program, "110101", "420381"))
        .await
        .unwrap_err();
    app.pairings
        .delete_pairing(DeletePairingRequest {
            name: first.name.clone(),
            etag: String::new(),
        })
        .await
        .unwrap();
    let successor = app
        .create_pairing(pairing(&program, "110101", "420381"))
        .await;
    let undelete = app
        .pairings
        .undelete_pairing(UndeletePairingRequest {
            name: first.name.clone(),
        })
        .await
        .unwrap_err();

    assert_error(&duplicate, Code::AlreadyExists, "PAIRING_EXISTS", None);
    assert!(
        successor.is_ok(),
        "a deleted pairing frees its place: {successor:?}"
    );
    assert_error(&undelete, Code::AlreadyExists, "PAIRING_EXISTS", None);
}

#[tokio::test]
async fn update_pairing_changes_the_masked_fields_only() {
    let mut app = spawn().await;
    let program = app.program().await;
    let created = app.pairing(pairing(&program, "110101", "420381")).await;

    let updated = app
        .pairings
        .update_pairing(UpdatePairingRequest {
            pairing: Some(Pairing {
                name: created.name.clone(),
                fields: vec![1],
                period_end: "2030-12-31".into(),
                period_start: "1999-01-01".into(),
                etag: created.etag.clone(),
                ..Default::default()
            }),
            update_mask: mask(&["fields", "period_end"]),
        })
        .await
        .unwrap()
        .into_inner();

    assert_eq!(updated.fields, vec![1]);
    assert_eq!(updated.period_end, "2030-12-31");
    assert_eq!(updated.period_start, created.period_start);
    assert_ne!(updated.etag, created.etag);
    assert_eq!(get(&mut app, &created.name).await, updated);
}

#[tokio::test]
async fn update_mask_may_not_name_output_only_or_immutable_fields() {
    let mut app = spawn().await;
    let program = app.program().await;
    let created = app.pairing(pairing(&program, "110101", "420381")).await;

    for path in [
        "state",
        "level",
        "display_name",
        "create_time",
        "supported_region",
        "program",
        "colour",
    ] {
        let err = app
            .pairings
            .update_pairing(UpdatePairingRequest {
                pairing: Some(Pairing {
                    name: created.name.clone(),
                    ..Default::default()
                }),
                update_mask: mask(&[path]),
            })
            .await
            .unwrap_err();
        assert_error(
            &err,
            Code::InvalidArgument,
            "INVALID_FIELD",
            Some("update_mask"),
        );
    }
    assert_eq!(get(&mut app, &created.name).await, created);
}

#[tokio::test]
async fn a_stale_etag_is_aborted() {
    let mut app = spawn().await;
    let program = app.program().await;
    let created = app.pairing(pairing(&program, "110101", "420381")).await;
    app.pairings
        .suspend_pairing(SuspendPairingRequest {
            name: created.name.clone(),
            etag: created.etag.clone(),
        })
        .await
        .unwrap();

    let update = app
        .pairings
        .update_pairing(UpdatePairingRequest {
            pairing: Some(Pairing {
                name: created.name.clone(),
                fields: vec![1],
                etag: created.etag.clone(),
                ..Default::default()
            }),
            update_mask: mask(&["fields"]),
        })
        .await
        .unwrap_err();
    let resume = app
        .pairings
        .resume_pairing(ResumePairingRequest {
            name: created.name.clone(),
            etag: created.etag.clone(),
        })
        .await
        .unwrap_err();

    assert_error(&update, Code::Aborted, "ETAG_MISMATCH", None);
    assert_error(&resume, Code::Aborted, "ETAG_MISMATCH", None);
    assert_eq!(
        get(&mut app, &created.name).await.state,
        PairingState::Suspended as i32
    );
}

#[tokio::test]
async fn a_parent_period_cannot_shrink_below_its_children() {
    let mut app = spawn().await;
    let program = app.program().await;
    let parent = app.pairing(pairing(&program, "110000", "420300")).await;
    let mut child = pairing(&program, "110101", "420381");
    child.parent = parent.name.clone();
    app.pairing(child).await;

    let err = app
        .pairings
        .update_pairing(UpdatePairingRequest {
            pairing: Some(Pairing {
                name: parent.name.clone(),
                period_end: "2024-12-31".into(),
                ..Default::default()
            }),
            update_mask: mask(&["period_end"]),
        })
        .await
        .unwrap_err();

    assert_error(
        &err,
        Code::FailedPrecondition,
        "CHILDREN_OUTSIDE_PERIOD",
        None,
    );
}

#[tokio::test]
async fn deleting_a_pairing_with_live_children_fails() {
    let mut app = spawn().await;
    let program = app.program().await;
    let parent = app.pairing(pairing(&program, "110000", "420300")).await;
    let mut child = pairing(&program, "110101", "420381");
    child.parent = parent.name.clone();
    let child = app.pairing(child).await;
    let delete = |name: &str| DeletePairingRequest {
        name: name.into(),
        etag: String::new(),
    };

    let refused = app
        .pairings
        .delete_pairing(delete(&parent.name))
        .await
        .unwrap_err();
    app.pairings
        .delete_pairing(delete(&child.name))
        .await
        .unwrap();
    let allowed = app.pairings.delete_pairing(delete(&parent.name)).await;

    assert_error(
        &refused,
        Code::FailedPrecondition,
        "HAS_LIVE_CHILDREN",
        None,
    );
    assert!(allowed.is_ok(), "{allowed:?}");
}

#[tokio::test]
async fn deleted_pairings_leave_lists_until_undeleted() {
    let mut app = spawn().await;
    let program = app.program().await;
    let created = app.pairing(pairing(&program, "110101", "420381")).await;

    let deleted = app
        .pairings
        .delete_pairing(DeletePairingRequest {
            name: created.name.clone(),
            etag: created.etag.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let read_deleted = get(&mut app, &created.name).await;
    let live = names(&mut app, list("")).await;
    let with_deleted = names(
        &mut app,
        ListPairingsRequest {
            show_deleted: true,
            ..list("")
        },
    )
    .await;
    let suspend_deleted = app
        .pairings
        .suspend_pairing(SuspendPairingRequest {
            name: created.name.clone(),
            etag: String::new(),
        })
        .await
        .unwrap_err();
    let restored = app
        .pairings
        .undelete_pairing(UndeletePairingRequest {
            name: created.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let undelete_live = app
        .pairings
        .undelete_pairing(UndeletePairingRequest {
            name: created.name.clone(),
        })
        .await
        .unwrap_err();

    assert!(deleted.delete_time.is_some());
    assert_eq!(read_deleted, deleted);
    assert!(live.is_empty());
    assert_eq!(with_deleted, vec![created.name.clone()]);
    assert_error(
        &suspend_deleted,
        Code::FailedPrecondition,
        "PAIRING_DELETED",
        None,
    );
    assert!(restored.delete_time.is_none());
    assert_eq!(names(&mut app, list("")).await, vec![created.name]);
    assert_error(
        &undelete_live,
        Code::FailedPrecondition,
        "PAIRING_NOT_DELETED",
        None,
    );
}

#[tokio::test]
async fn the_state_machine_allows_only_its_steps() {
    let mut app = spawn().await;
    let program = app.program().await;
    let p = app.pairing(pairing(&program, "110101", "420381")).await;
    let name = || p.name.clone();

    let resume_active = app
        .pairings
        .resume_pairing(ResumePairingRequest {
            name: name(),
            etag: String::new(),
        })
        .await
        .unwrap_err();
    let suspended = app
        .pairings
        .suspend_pairing(SuspendPairingRequest {
            name: name(),
            etag: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let suspend_again = app
        .pairings
        .suspend_pairing(SuspendPairingRequest {
            name: name(),
            etag: String::new(),
        })
        .await
        .unwrap_err();
    let resumed = app
        .pairings
        .resume_pairing(ResumePairingRequest {
            name: name(),
            etag: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let ended = app
        .pairings
        .end_pairing(EndPairingRequest {
            name: name(),
            etag: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let resume_ended = app
        .pairings
        .resume_pairing(ResumePairingRequest {
            name: name(),
            etag: String::new(),
        })
        .await
        .unwrap_err();

    assert_error(
        &resume_active,
        Code::FailedPrecondition,
        "ILLEGAL_STATE_TRANSITION",
        None,
    );
    assert_eq!(suspended.state, PairingState::Suspended as i32);
    assert_error(
        &suspend_again,
        Code::FailedPrecondition,
        "ILLEGAL_STATE_TRANSITION",
        None,
    );
    assert_eq!(resumed.state, PairingState::Active as i32);
    assert_eq!(ended.state, PairingState::Ended as i32);
    assert_error(
        &resume_ended,
        Code::FailedPrecondition,
        "ILLEGAL_STATE_TRANSITION",
        None,
    );
}

#[tokio::test]
async fn list_filters_match_regions_exactly_or_with_everything_inside() {
    let mut app = spawn().await;
    let program = app.program().await;
    let danjiangkou = app.pairing(pairing(&program, "110101", "420381")).await;
    let maojian = app.pairing(pairing(&program, "110102", "420302")).await;
    let yichang = app.pairing(pairing(&program, "120101", "420500")).await;
    app.pairings
        .suspend_pairing(SuspendPairingRequest {
            name: maojian.name.clone(),
            etag: String::new(),
        })
        .await
        .unwrap();

    let exact = names(&mut app, list(r#"supported_region = "regions/420381""#)).await;
    let in_shiyan = names(&mut app, list(r#"supported_region:"regions/420300""#)).await;
    let from_beijing = names(&mut app, list(r#"supporting_region:"regions/110000""#)).await;
    let suspended = names(&mut app, list("state = SUSPENDED")).await;
    let prefectures = names(&mut app, list("level = PREFECTURE")).await;
    let combined = names(
        &mut app,
        list(&format!(
            r#"program = "{}" AND supported_region:"regions/420000" AND state = ACTIVE"#,
            program.name
        )),
    )
    .await;

    assert_eq!(exact, vec![danjiangkou.name.clone()]);
    assert_eq!(
        in_shiyan,
        vec![danjiangkou.name.clone(), maojian.name.clone()]
    );
    assert_eq!(
        from_beijing,
        vec![danjiangkou.name.clone(), maojian.name.clone()]
    );
    assert_eq!(suspended, vec![maojian.name]);
    assert_eq!(prefectures, vec![yichang.name.clone()]);
    assert_eq!(combined, vec![danjiangkou.name, yichang.name]);
}

#[tokio::test]
async fn containment_follows_the_parent_chain_not_the_code() {
    let mut app = spawn().await;
    let program = app.program().await;
    app.regions
        .create_region(CreateRegionRequest {
            region_id: "990001".into(),
            region: Some(Region {
                display_name: "武当山旅游经济特区".into(),
                parent: "regions/420300".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    let zone = app.pairing(pairing(&program, "110101", "990001")).await;

    let in_shiyan = names(&mut app, list(r#"supported_region:"regions/420300""#)).await;
    let whole_hubei = app
        .create_pairing(pairing(&program, "110102", "420000"))
        .await;
    let around_zone = app
        .create_pairing(pairing(&program, "420300", "990001"))
        .await
        .unwrap_err();

    assert_eq!(in_shiyan, vec![zone.name]);
    assert!(whole_hubei.is_ok(), "{whole_hubei:?}");
    assert_error(
        &around_zone,
        Code::InvalidArgument,
        "INVALID_FIELD",
        Some("pairing.supported_region"),
    );
}

#[tokio::test]
async fn pages_walk_the_list_in_either_order_and_tokens_stay_with_their_query() {
    let mut app = spawn().await;
    let program = app.program().await;
    let mut created = Vec::new();
    for supported in ["420302", "420303", "420304", "420322", "420323"] {
        created.push(
            app.pairing(pairing(&program, "110101", supported))
                .await
                .name,
        );
    }

    let mut walked = Vec::new();
    let mut request = ListPairingsRequest {
        page_size: 2,
        order_by: "create_time desc".into(),
        ..list("")
    };
    loop {
        let page = app
            .pairings
            .list_pairings(request.clone())
            .await
            .unwrap()
            .into_inner();
        walked.extend(page.pairings.into_iter().map(|p| p.name));
        if page.next_page_token.is_empty() {
            break;
        }
        request.page_token = page.next_page_token;
    }
    let first = app
        .pairings
        .list_pairings(ListPairingsRequest {
            page_size: 2,
            ..list("")
        })
        .await
        .unwrap()
        .into_inner();
    let other_query = app
        .pairings
        .list_pairings(ListPairingsRequest {
            page_size: 2,
            page_token: first.next_page_token.clone(),
            ..list("state = ACTIVE")
        })
        .await
        .unwrap_err();
    let negative = app
        .pairings
        .list_pairings(ListPairingsRequest {
            page_size: -1,
            ..list("")
        })
        .await
        .unwrap_err();
    let garbage = app
        .pairings
        .list_pairings(ListPairingsRequest {
            page_token: "bm90IGEgdG9rZW4".into(),
            ..list("")
        })
        .await
        .unwrap_err();

    created.reverse();
    assert_eq!(walked, created);
    assert_error(
        &other_query,
        Code::InvalidArgument,
        "INVALID_FIELD",
        Some("page_token"),
    );
    assert_error(
        &negative,
        Code::InvalidArgument,
        "INVALID_FIELD",
        Some("page_size"),
    );
    assert_error(
        &garbage,
        Code::InvalidArgument,
        "INVALID_FIELD",
        Some("page_token"),
    );
}

#[tokio::test]
async fn an_invalid_filter_or_order_says_what_is_wrong() {
    let mut app = spawn().await;

    let syntax = app
        .pairings
        .list_pairings(list("state = ACTIVE OR state = ENDED"))
        .await
        .unwrap_err();
    let field = app
        .pairings
        .list_pairings(list("colour = RED"))
        .await
        .unwrap_err();
    let region = app
        .pairings
        .list_pairings(list(r#"supported_region:"regions/999999""#))
        .await
        .unwrap_err();
    let order = app
        .pairings
        .list_pairings(ListPairingsRequest {
            order_by: "display_name".into(),
            ..list("")
        })
        .await
        .unwrap_err();

    let message = assert_error(
        &syntax,
        Code::InvalidArgument,
        "INVALID_FIELD",
        Some("filter"),
    );
    assert!(message.contains("character 16"), "{message}");
    let message = assert_error(
        &field,
        Code::InvalidArgument,
        "INVALID_FIELD",
        Some("filter"),
    );
    assert!(message.contains("colour"), "{message}");
    assert_error(
        &region,
        Code::InvalidArgument,
        "INVALID_FIELD",
        Some("filter"),
    );
    assert_error(
        &order,
        Code::InvalidArgument,
        "INVALID_FIELD",
        Some("order_by"),
    );
}

#[tokio::test]
async fn a_retried_create_returns_the_first_pairing_and_a_reused_id_is_refused() {
    let mut app = spawn().await;
    let program = app.program().await;
    let request = CreatePairingRequest {
        pairing: Some(pairing(&program, "110101", "420381")),
        request_id: "5b0b6c0e-8e8a-4c7c-9d0b-0a4f3c2e1d11".into(),
    };

    let first = app
        .pairings
        .create_pairing(request.clone())
        .await
        .unwrap()
        .into_inner();
    let retry = app
        .pairings
        .create_pairing(request.clone())
        .await
        .unwrap()
        .into_inner();
    let mut different = request.clone();
    different.pairing = Some(pairing(&program, "110102", "420302"));
    let reused = app.pairings.create_pairing(different).await.unwrap_err();

    assert_eq!(retry, first);
    assert_error(
        &reused,
        Code::InvalidArgument,
        "REQUEST_ID_REUSED",
        Some("request_id"),
    );
    assert_eq!(names(&mut app, list("")).await, vec![first.name]);
}

#[tokio::test]
async fn a_rejected_create_leaves_no_trace_not_even_its_request_id() {
    let mut app = spawn().await;
    let program = app.program().await;
    let mut bad = pairing(&program, "110101", "420381");
    bad.period_end = "2099-12-31".into();
    let request_id = "retry-after-fixing-1".to_owned();

    let rejected = app
        .pairings
        .create_pairing(CreatePairingRequest {
            pairing: Some(bad),
            request_id: request_id.clone(),
        })
        .await
        .unwrap_err();
    let fixed = app
        .pairings
        .create_pairing(CreatePairingRequest {
            pairing: Some(pairing(&program, "110101", "420381")),
            request_id,
        })
        .await;

    assert_eq!(rejected.code(), Code::InvalidArgument);
    assert!(
        fixed.is_ok(),
        "the id of a rejected request stays free: {fixed:?}"
    );
    assert_eq!(names(&mut app, list("")).await.len(), 1);
}

#[tokio::test]
async fn concurrent_retries_with_one_request_id_create_one_pairing() {
    let mut app = spawn().await;
    let program = app.program().await;
    let request = CreatePairingRequest {
        pairing: Some(pairing(&program, "110101", "420381")),
        request_id: "concurrent-retry".into(),
    };

    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let mut client = app.pairings.clone();
            let request = request.clone();
            tokio::spawn(async move { client.create_pairing(request).await })
        })
        .collect();
    let mut created = Vec::new();
    for task in tasks {
        created.push(
            task.await
                .unwrap()
                .expect("every retry succeeds")
                .into_inner()
                .name,
        );
    }

    created.dedup();
    assert_eq!(created.len(), 1, "{created:?}");
    assert_eq!(names(&mut app, list("")).await, created);
}

#[tokio::test]
async fn of_concurrent_identical_creates_exactly_one_succeeds() {
    let mut app = spawn().await;
    let program = app.program().await;

    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let mut client = app.pairings.clone();
            let request = CreatePairingRequest {
                pairing: Some(pairing(&program, "110101", "420381")),
                request_id: String::new(),
            };
            tokio::spawn(async move { client.create_pairing(request).await })
        })
        .collect();
    let mut succeeded = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => succeeded += 1,
            Err(status) => {
                assert_error(&status, Code::AlreadyExists, "PAIRING_EXISTS", None);
            }
        }
    }

    assert_eq!(succeeded, 1);
    assert_eq!(names(&mut app, list("")).await.len(), 1);
}

#[tokio::test]
async fn an_undeleted_child_must_still_fit_its_parent() {
    let mut app = spawn().await;
    let program = app.program().await;
    let mut parent = pairing(&program, "110000", "420300");
    parent.period_end = "2030-12-31".into();
    let parent = app.pairing(parent).await;
    let mut child = pairing(&program, "110101", "420381");
    child.parent = parent.name.clone();
    child.period_end = "2029-12-31".into();
    let child = app.pairing(child).await;
    app.pairings
        .delete_pairing(DeletePairingRequest {
            name: child.name.clone(),
            etag: String::new(),
        })
        .await
        .unwrap();
    app.pairings
        .update_pairing(UpdatePairingRequest {
            pairing: Some(Pairing {
                name: parent.name.clone(),
                period_end: "2025-12-31".into(),
                ..Default::default()
            }),
            update_mask: mask(&["period_end"]),
        })
        .await
        .unwrap();

    let err = app
        .pairings
        .undelete_pairing(UndeletePairingRequest {
            name: child.name.clone(),
        })
        .await
        .unwrap_err();

    assert_error(
        &err,
        Code::FailedPrecondition,
        "OUTSIDE_PARENT_PERIOD",
        None,
    );
    assert!(get(&mut app, &child.name).await.delete_time.is_some());
}

#[tokio::test]
async fn a_start_moved_past_the_end_names_the_start() {
    let mut app = spawn().await;
    let program = app.program().await;
    let created = app.pairing(pairing(&program, "110101", "420381")).await;

    let err = app
        .pairings
        .update_pairing(UpdatePairingRequest {
            pairing: Some(Pairing {
                name: created.name.clone(),
                period_start: "2026-01-01".into(),
                ..Default::default()
            }),
            update_mask: mask(&["period_start"]),
        })
        .await
        .unwrap_err();

    assert_error(
        &err,
        Code::InvalidArgument,
        "INVALID_FIELD",
        Some("pairing.period_start"),
    );
}

/// The probe shortened a pairing's period to end before its projects, ledger lines and
/// exchanges, and dropped a field its projects work in; UpdateProgram already refused the
/// same for its pairings. Each is refused, naming what stands outside, and nothing changes.
#[tokio::test]
async fn an_update_keeps_what_hangs_off_the_pairing_inside_it() {
    let mut app = spawn().await;
    let program = app.program().await;
    // 2021–2025, water source and industry.
    let created = app.pairing(pairing(&program, "110101", "420381")).await;
    // A water-source project over 2022–2023.
    let project = app.project(project(&created, "420381")).await;
    app.funds
        .record_fund_transaction(RecordFundTransactionRequest {
            fund_transaction: Some(FundTransaction {
                kind: 1,
                pairing: created.name.clone(),
                fiscal_year: 2025,
                amount: Some(cny(100, 0)),
                source: 1,
                instrument: 1,
                value_date: "2025-01-02".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap();
    // March 2024 to February 2025.
    app.talents
        .create_talent_exchange(CreateTalentExchangeRequest {
            talent_exchange: Some(secondment(&created)),
            request_id: String::new(),
        })
        .await
        .unwrap();
    let update = |pairing: Pairing, paths: &[&str]| UpdatePairingRequest {
        pairing: Some(Pairing {
            name: created.name.clone(),
            etag: created.etag.clone(),
            ..pairing
        }),
        update_mask: mask(paths),
    };

    let ends_early = Pairing {
        period_end: "2023-12-31".into(),
        ..Default::default()
    };
    let ends_early = app
        .pairings
        .update_pairing(update(ends_early, &["period_end"]))
        .await
        .unwrap_err();
    let starts_late = Pairing {
        period_start: "2023-01-01".into(),
        ..Default::default()
    };
    let starts_late = app
        .pairings
        .update_pairing(update(starts_late, &["period_start"]))
        .await
        .unwrap_err();
    let water_dropped = Pairing {
        fields: vec![2],
        ..Default::default()
    };
    let drops_water = app
        .pairings
        .update_pairing(update(water_dropped.clone(), &["fields"]))
        .await
        .unwrap_err();
    let unchanged = app
        .pairings
        .get_pairing(GetPairingRequest {
            name: created.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    // Once the project is cancelled, nothing works in water source any more.
    app.projects
        .cancel_project(CancelProjectRequest {
            name: project.name.clone(),
            etag: project.etag.clone(),
            reason: "选址未获批复".into(),
        })
        .await
        .unwrap();
    let dropped = app
        .pairings
        .update_pairing(update(water_dropped, &["fields"]))
        .await;

    let metadata = |status: &tonic::Status| {
        let info = status.get_error_details().error_info().unwrap().clone();
        let mut facts: Vec<(String, String)> = info.metadata.into_iter().collect();
        facts.sort();
        facts
    };
    let fact = |k: &str, v: &str| (k.to_owned(), v.to_owned());
    let message = assert_error(
        &ends_early,
        Code::FailedPrecondition,
        "RECORDS_OUTSIDE_PERIOD",
        None,
    );
    assert!(
        message.contains("1 ledger line(s), 1 talent exchange(s)"),
        "{message}"
    );
    assert_eq!(
        metadata(&ends_early),
        [fact("exchanges_outside", "1"), fact("lines_outside", "1")]
    );
    assert_error(
        &starts_late,
        Code::FailedPrecondition,
        "RECORDS_OUTSIDE_PERIOD",
        None,
    );
    assert_eq!(metadata(&starts_late), [fact("projects_outside", "1")]);
    let message = assert_error(&drops_water, Code::FailedPrecondition, "FIELD_IN_USE", None);
    assert!(message.contains("WATER_SOURCE"), "{message}");
    assert_eq!(metadata(&drops_water), [fact("fields", "WATER_SOURCE")]);
    assert_eq!(
        unchanged.etag, created.etag,
        "a refused update writes nothing"
    );
    assert_eq!(unchanged.period_end, "2025-12-31");
    assert_eq!(unchanged.fields, [4, 2]);
    assert_eq!(dropped.unwrap().into_inner().fields, [2]);
}
