//! Programs: create, read, list (by kind), update with masks and etags.

use duikou::proto::v1::{
    CreateProgramRequest, GetProgramRequest, ListProgramsRequest, Program, UpdateProgramRequest,
};
use prost_types::FieldMask;
use tonic::Code;

use crate::helpers::{assert_error, pairing, spawn};

fn mask(paths: &[&str]) -> Option<FieldMask> {
    Some(FieldMask {
        paths: paths.iter().map(|p| (*p).to_owned()).collect(),
    })
}

#[tokio::test]
async fn a_created_program_reads_back_and_lists() {
    let mut app = spawn().await;

    let created = app.program().await;
    let read = app
        .pairings
        .get_program(GetProgramRequest {
            name: created.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let listed = app
        .pairings
        .list_programs(ListProgramsRequest::default())
        .await
        .unwrap()
        .into_inner();

    assert_eq!(created.name, "programs/1");
    assert_eq!(read, created);
    assert_eq!(listed.programs, vec![created]);
    assert!(listed.next_page_token.is_empty());
}

#[tokio::test]
async fn a_program_with_bad_fields_names_each_of_them() {
    let mut app = spawn().await;

    let err = app
        .pairings
        .create_program(CreateProgramRequest {
            program: Some(Program {
                display_name: " ".into(),
                period_start: "2021-13-01".into(),
                period_end: "someday".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap_err();

    for field in [
        "program.display_name",
        "program.period_start",
        "program.period_end",
    ] {
        assert_error(&err, Code::InvalidArgument, "INVALID_FIELD", Some(field));
    }
    let listed = app
        .pairings
        .list_programs(ListProgramsRequest::default())
        .await
        .unwrap();
    assert!(listed.into_inner().programs.is_empty());
}

#[tokio::test]
async fn update_program_changes_only_the_masked_fields_and_moves_the_etag() {
    let mut app = spawn().await;
    let created = app.program().await;

    let updated = app
        .pairings
        .update_program(UpdateProgramRequest {
            program: Some(Program {
                name: created.name.clone(),
                description: "延长至2035年".into(),
                display_name: "ignored: not in the mask".into(),
                etag: created.etag.clone(),
                ..Default::default()
            }),
            update_mask: mask(&["description"]),
        })
        .await
        .unwrap()
        .into_inner();

    assert_eq!(updated.description, "延长至2035年");
    assert_eq!(updated.display_name, created.display_name);
    assert_ne!(updated.etag, created.etag);
}

#[tokio::test]
async fn update_program_with_a_stale_etag_is_aborted() {
    let mut app = spawn().await;
    let created = app.program().await;
    let first = UpdateProgramRequest {
        program: Some(Program {
            name: created.name.clone(),
            description: "first".into(),
            etag: created.etag.clone(),
            ..Default::default()
        }),
        update_mask: mask(&["description"]),
    };
    app.pairings.update_program(first.clone()).await.unwrap();

    let err = app.pairings.update_program(first).await.unwrap_err();

    assert_error(&err, Code::Aborted, "ETAG_MISMATCH", None);
}

#[tokio::test]
async fn update_program_refuses_output_only_fields_and_a_missing_mask() {
    let mut app = spawn().await;
    let created = app.program().await;
    let request = |paths: Option<FieldMask>| UpdateProgramRequest {
        program: Some(Program {
            name: created.name.clone(),
            ..Default::default()
        }),
        update_mask: paths,
    };

    let output_only = app
        .pairings
        .update_program(request(mask(&["create_time"])))
        .await
        .unwrap_err();
    let missing = app
        .pairings
        .update_program(request(None))
        .await
        .unwrap_err();

    let message = assert_error(
        &output_only,
        Code::InvalidArgument,
        "INVALID_FIELD",
        Some("update_mask"),
    );
    assert!(message.contains("output only"), "{message}");
    assert_error(
        &missing,
        Code::InvalidArgument,
        "INVALID_FIELD",
        Some("update_mask"),
    );
}

#[tokio::test]
async fn a_program_period_cannot_shrink_below_its_pairings() {
    let mut app = spawn().await;
    let program = app.program().await;
    app.pairing(pairing(&program, "110101", "420381")).await;

    let err = app
        .pairings
        .update_program(UpdateProgramRequest {
            program: Some(Program {
                name: program.name.clone(),
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
        "PAIRINGS_OUTSIDE_PERIOD",
        None,
    );
    let unchanged = app
        .pairings
        .get_program(GetProgramRequest {
            name: program.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(unchanged, program);
}

#[tokio::test]
async fn a_missing_program_is_not_found() {
    let mut app = spawn().await;

    let err = app
        .pairings
        .get_program(GetProgramRequest {
            name: "programs/77".into(),
        })
        .await
        .unwrap_err();

    assert_error(&err, Code::NotFound, "PROGRAM_NOT_FOUND", None);
}

/// ProgramKind numbers of the API.
const COUNTERPART_SUPPORT: i32 = 1;
const EAST_WEST_COOPERATION: i32 = 3;
const COUNTERPART_COOPERATION: i32 = 4;

fn program_of_kind(display_name: &str, kind: i32) -> CreateProgramRequest {
    CreateProgramRequest {
        program: Some(Program {
            display_name: display_name.into(),
            period_start: "2021-01-01".into(),
            period_end: "2025-12-31".into(),
            kind,
            ..Default::default()
        }),
        request_id: String::new(),
    }
}

#[tokio::test]
async fn a_program_without_a_kind_is_counterpart_cooperation_and_lists_filter_by_kind() {
    let mut app = spawn().await;
    let danjiangkou = app.program().await;
    let east_west = app
        .pairings
        .create_program(program_of_kind("京蒙东西部协作", EAST_WEST_COOPERATION))
        .await
        .unwrap()
        .into_inner();
    let listed = |filter: &str| {
        let mut pairings = app.pairings.clone();
        let filter = filter.to_owned();
        async move {
            pairings
                .list_programs(ListProgramsRequest {
                    filter,
                    ..Default::default()
                })
                .await
                .map(|r| r.into_inner().programs)
        }
    };

    let of_east_west = listed("kind = EAST_WEST_COOPERATION").await.unwrap();
    let of_cooperation = listed("kind = PROGRAM_KIND_COUNTERPART_COOPERATION")
        .await
        .unwrap();
    let of_support = listed("kind = COUNTERPART_SUPPORT").await.unwrap();
    let not_a_kind = listed("kind = TWINNING").await.unwrap_err();
    let not_a_field = listed("region = \"regions/420300\"").await.unwrap_err();

    assert_eq!(danjiangkou.kind, COUNTERPART_COOPERATION);
    assert_eq!(east_west.kind, EAST_WEST_COOPERATION);
    assert_eq!(of_east_west, vec![east_west]);
    assert_eq!(of_cooperation, vec![danjiangkou]);
    assert!(of_support.is_empty());
    for err in [&not_a_kind, &not_a_field] {
        assert_error(err, Code::InvalidArgument, "INVALID_FIELD", Some("filter"));
    }
    assert!(
        not_a_field.message().contains("kind"),
        "{}",
        not_a_field.message()
    );
}

#[tokio::test]
async fn a_program_of_no_known_kind_is_refused_and_not_written() {
    let mut app = spawn().await;

    let err = app
        .pairings
        .create_program(program_of_kind("未知形式", 9))
        .await
        .unwrap_err();

    assert_error(
        &err,
        Code::InvalidArgument,
        "INVALID_FIELD",
        Some("program.kind"),
    );
    let listed = app
        .pairings
        .list_programs(ListProgramsRequest::default())
        .await
        .unwrap();
    assert!(listed.into_inner().programs.is_empty());
}

#[tokio::test]
async fn a_program_s_kind_changes_by_mask() {
    let mut app = spawn().await;
    let created = app.program().await;
    let update = |kind: i32, paths: &[&str], etag: &str| UpdateProgramRequest {
        program: Some(Program {
            name: created.name.clone(),
            kind,
            etag: etag.to_owned(),
            ..created.clone()
        }),
        update_mask: mask(paths),
    };

    let unmasked = app
        .pairings
        .update_program(update(COUNTERPART_SUPPORT, &["description"], &created.etag))
        .await
        .unwrap()
        .into_inner();
    let changed = app
        .pairings
        .update_program(update(COUNTERPART_SUPPORT, &["kind"], &unmasked.etag))
        .await
        .unwrap()
        .into_inner();

    assert_eq!(unmasked.kind, COUNTERPART_COOPERATION);
    assert_eq!(changed.kind, COUNTERPART_SUPPORT);
}

#[tokio::test]
async fn programs_made_before_kinds_are_counterpart_cooperation() {
    use migration::MigratorTrait;

    let mut app = spawn().await;
    app.pairings
        .create_program(program_of_kind("京蒙东西部协作", EAST_WEST_COOPERATION))
        .await
        .unwrap();
    let store = app.store().await;

    // Undone (with the migrations after it), the kinds go; redone, every program is of the
    // kind all programs were made for before.
    let steps = crate::helpers::undoing("m0015_program_kinds");
    migration::Migrator::down(store.db(), Some(steps))
        .await
        .unwrap();
    migration::Migrator::up(store.db(), None).await.unwrap();

    let listed = app
        .pairings
        .list_programs(ListProgramsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .programs;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].kind, COUNTERPART_COOPERATION);
}
