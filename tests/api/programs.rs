//! Programs: create, read, list, update with masks and etags.

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
