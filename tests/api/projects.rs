//! Cooperation projects: proposal, placement rules, the lifecycle, updates and scopes.

use duikou::{
    domain::access::Role,
    proto::v1::{
        AcceptProjectRequest, ApproveProjectRequest, CancelProjectRequest, CompleteProjectRequest,
        CreateProjectRequest, GetProjectRequest, ListProjectsRequest, Pairing, Project,
        StartProjectRequest, SuspendPairingRequest, UpdateProjectRequest,
    },
};
use prost_types::FieldMask;
use tonic::Code;

use crate::helpers::{TestApp, assert_error, cny, pairing, project, spawn};

/// A program with one pairing of Dongcheng (Beijing) with Danjiangkou (Shiyan).
async fn dongcheng_danjiangkou(app: &mut TestApp) -> Pairing {
    let program = app.program().await;
    app.pairing(pairing(&program, "110101", "420381")).await
}

async fn create(app: &TestApp, project: Project) -> Result<Project, tonic::Status> {
    app.projects
        .clone()
        .create_project(CreateProjectRequest {
            project: Some(project),
            request_id: String::new(),
        })
        .await
        .map(tonic::Response::into_inner)
}

async fn count(app: &TestApp) -> usize {
    app.projects
        .clone()
        .list_projects(ListProjectsRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .projects
        .len()
}

async fn list(app: &TestApp, filter: &str) -> Vec<String> {
    app.projects
        .clone()
        .list_projects(ListProjectsRequest {
            filter: filter.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .projects
        .into_iter()
        .map(|p| p.display_name)
        .collect()
}

#[tokio::test]
async fn a_project_is_proposed_with_empty_funding_and_read_back() {
    let mut app = spawn().await;
    let pairing = dongcheng_danjiangkou(&mut app).await;

    let created = app.project(project(&pairing, "420381")).await;
    let read = app
        .projects
        .get_project(GetProjectRequest {
            name: created.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();

    assert_eq!(created.name, "projects/1");
    assert_eq!(read, created);
    assert_eq!(read.state, 1, "PROPOSED");
    assert_eq!(read.budget, Some(cny(1_000_000, 0)));
    let funding = read.funding.unwrap();
    assert_eq!(funding.allocated, Some(cny(0, 0)));
    assert_eq!(funding.remaining, Some(cny(0, 0)));
    assert_eq!(read.milestones[0].title, "选址");
    assert!(!read.etag.is_empty());
}

#[tokio::test]
async fn lists_filter_on_pairing_program_state_field_and_location() {
    let mut app = spawn().await;
    let program = app.program().await;
    let danjiangkou = app.pairing(pairing(&program, "110101", "420381")).await;
    let zhangwan = app.pairing(pairing(&program, "110102", "420302")).await;
    let mut township = project(&danjiangkou, "420381100");
    township.display_name = "镇污水管网".into();
    app.project(township).await;
    let mut industry = project(&zhangwan, "420302");
    industry.display_name = "茶叶加工园".into();
    industry.field = 2;
    let industry = app.project(industry).await;
    app.projects
        .approve_project(ApproveProjectRequest {
            name: industry.name.clone(),
            etag: String::new(),
        })
        .await
        .unwrap();

    assert_eq!(
        list(&app, "location = \"regions/420381\"").await,
        ["镇污水管网"]
    );
    assert_eq!(
        list(&app, "location = \"regions/420300\"").await,
        ["镇污水管网", "茶叶加工园"]
    );
    assert_eq!(list(&app, "state = APPROVED").await, ["茶叶加工园"]);
    assert_eq!(list(&app, "field = WATER_SOURCE").await, ["镇污水管网"]);
    assert_eq!(
        list(&app, &format!("pairing = \"{}\"", zhangwan.name)).await,
        ["茶叶加工园"]
    );
    assert_eq!(
        list(&app, &format!("pairing.program = \"{}\"", program.name)).await,
        ["镇污水管网", "茶叶加工园"]
    );
    assert!(
        list(&app, "pairing.program = \"programs/99\"")
            .await
            .is_empty()
    );
    let bad = app
        .projects
        .list_projects(ListProjectsRequest {
            filter: "budget = 1".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_error(&bad, Code::InvalidArgument, "INVALID_FIELD", Some("filter"));
}

#[tokio::test]
async fn bad_fields_are_named_together_and_nothing_is_written() {
    let mut app = spawn().await;
    let pairing = dongcheng_danjiangkou(&mut app).await;
    let mut bad = project(&pairing, "420381");
    bad.display_name = String::new();
    bad.budget = Some(cny(10, 0)).map(|mut m| {
        m.nanos = 5_000_000;
        m
    });
    bad.planned_end = "2021-12-31".into();
    bad.progress_percent = 101;
    bad.milestones[0].due_date = "2022-02-30".into();
    let mut usd = project(&pairing, "420381");
    usd.budget.as_mut().unwrap().currency_code = "USD".into();
    let mut zero = project(&pairing, "420381");
    zero.budget = Some(cny(0, 0));
    let mut huge = project(&pairing, "420381");
    huge.budget = Some(cny(1_000_000_000_001, 0));

    let error = create(&app, bad).await.unwrap_err();
    let usd = create(&app, usd).await.unwrap_err();
    let zero = create(&app, zero).await.unwrap_err();
    let huge = create(&app, huge).await.unwrap_err();

    for field in [
        "project.display_name",
        "project.budget.nanos",
        "project.planned_end",
        "project.progress_percent",
        "project.milestones[0].due_date",
    ] {
        assert_error(&error, Code::InvalidArgument, "INVALID_FIELD", Some(field));
    }
    assert_error(
        &usd,
        Code::InvalidArgument,
        "INVALID_FIELD",
        Some("project.budget.currency_code"),
    );
    assert_error(
        &zero,
        Code::InvalidArgument,
        "INVALID_FIELD",
        Some("project.budget"),
    );
    assert_error(
        &huge,
        Code::InvalidArgument,
        "INVALID_FIELD",
        Some("project.budget"),
    );
    assert_eq!(count(&app).await, 0);
}

#[tokio::test]
async fn a_project_stays_inside_its_pairing() {
    let mut app = spawn().await;
    let pairing = dongcheng_danjiangkou(&mut app).await;
    let elsewhere = project(&pairing, "420302");
    let mut other_field = project(&pairing, "420381");
    other_field.field = 9;
    let mut too_late = project(&pairing, "420381");
    too_late.planned_end = "2026-06-30".into();
    let mut no_pairing = project(&pairing, "420381");
    no_pairing.pairing = "pairings/99".into();

    let elsewhere = create(&app, elsewhere).await.unwrap_err();
    let other_field = create(&app, other_field).await.unwrap_err();
    let too_late = create(&app, too_late).await.unwrap_err();
    let no_pairing = create(&app, no_pairing).await.unwrap_err();
    app.pairings
        .suspend_pairing(SuspendPairingRequest {
            name: pairing.name.clone(),
            etag: String::new(),
        })
        .await
        .unwrap();
    let suspended = create(&app, project(&pairing, "420381")).await.unwrap_err();

    assert_error(
        &elsewhere,
        Code::InvalidArgument,
        "INVALID_FIELD",
        Some("project.location"),
    );
    assert_error(
        &other_field,
        Code::InvalidArgument,
        "INVALID_FIELD",
        Some("project.field"),
    );
    assert_error(
        &too_late,
        Code::InvalidArgument,
        "INVALID_FIELD",
        Some("project.planned_end"),
    );
    assert_error(
        &no_pairing,
        Code::InvalidArgument,
        "INVALID_FIELD",
        Some("project.pairing"),
    );
    assert_error(
        &suspended,
        Code::FailedPrecondition,
        "PAIRING_NOT_ACTIVE",
        None,
    );
    assert_eq!(count(&app).await, 0);
}

#[tokio::test]
async fn the_lifecycle_runs_from_proposal_to_acceptance_and_refuses_other_steps() {
    let mut app = spawn().await;
    let pairing = dongcheng_danjiangkou(&mut app).await;
    let p = app.project(project(&pairing, "420381")).await;
    let name = || p.name.clone();
    let etag = String::new;
    let mut projects = app.projects.clone();

    let early_accept = projects
        .accept_project(AcceptProjectRequest {
            name: name(),
            etag: etag(),
        })
        .await
        .unwrap_err();
    let approved = projects
        .approve_project(ApproveProjectRequest {
            name: name(),
            etag: p.etag.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let stale = projects
        .start_project(StartProjectRequest {
            name: name(),
            etag: p.etag.clone(),
        })
        .await
        .unwrap_err();
    let started = projects
        .start_project(StartProjectRequest {
            name: name(),
            etag: approved.etag,
        })
        .await
        .unwrap()
        .into_inner();
    let completed = projects
        .complete_project(CompleteProjectRequest {
            name: name(),
            etag: etag(),
        })
        .await
        .unwrap()
        .into_inner();
    let late_cancel = projects
        .cancel_project(CancelProjectRequest {
            name: name(),
            reason: "资金不足".into(),
            etag: etag(),
        })
        .await
        .unwrap_err();
    let accepted = projects
        .accept_project(AcceptProjectRequest {
            name: name(),
            etag: etag(),
        })
        .await
        .unwrap()
        .into_inner();
    let closed_update = projects
        .update_project(UpdateProjectRequest {
            project: Some(Project {
                name: name(),
                display_name: "改名".into(),
                ..Default::default()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["display_name".into()],
            }),
        })
        .await
        .unwrap_err();

    assert_error(
        &early_accept,
        Code::FailedPrecondition,
        "ILLEGAL_STATE_TRANSITION",
        None,
    );
    assert_eq!(approved.state, 2);
    assert_error(&stale, Code::Aborted, "ETAG_MISMATCH", None);
    assert_eq!(started.state, 3);
    assert_eq!(completed.state, 4);
    assert_eq!(completed.progress_percent, 100);
    assert_error(
        &late_cancel,
        Code::FailedPrecondition,
        "ILLEGAL_STATE_TRANSITION",
        None,
    );
    assert_eq!(accepted.state, 5);
    assert_error(
        &closed_update,
        Code::FailedPrecondition,
        "PROJECT_CLOSED",
        None,
    );
}

#[tokio::test]
async fn cancelling_needs_a_reason_and_is_final() {
    let mut app = spawn().await;
    let pairing = dongcheng_danjiangkou(&mut app).await;
    let p = app.project(project(&pairing, "420381")).await;
    let mut projects = app.projects.clone();

    let no_reason = projects
        .cancel_project(CancelProjectRequest {
            name: p.name.clone(),
            reason: String::new(),
            etag: String::new(),
        })
        .await
        .unwrap_err();
    let cancelled = projects
        .cancel_project(CancelProjectRequest {
            name: p.name.clone(),
            reason: "选址不符合水源保护要求".into(),
            etag: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let approve = projects
        .approve_project(ApproveProjectRequest {
            name: p.name.clone(),
            etag: String::new(),
        })
        .await
        .unwrap_err();

    assert_error(
        &no_reason,
        Code::InvalidArgument,
        "INVALID_FIELD",
        Some("reason"),
    );
    assert_eq!(cancelled.state, 6);
    assert_eq!(cancelled.cancel_reason, "选址不符合水源保护要求");
    assert_error(
        &approve,
        Code::FailedPrecondition,
        "ILLEGAL_STATE_TRANSITION",
        None,
    );
}

#[tokio::test]
async fn updates_change_only_the_masked_fields() {
    let mut app = spawn().await;
    let pairing = dongcheng_danjiangkou(&mut app).await;
    let p = app.project(project(&pairing, "420381")).await;
    let mut projects = app.projects.clone();
    let change = Project {
        name: p.name.clone(),
        display_name: "丹江口污水处理厂（一期）".into(),
        budget: Some(cny(800_000, 50)),
        location: "regions/420381100".into(),
        implementing_org: "ignored, not in the mask".into(),
        etag: p.etag.clone(),
        ..Default::default()
    };

    let updated = projects
        .update_project(UpdateProjectRequest {
            project: Some(change.clone()),
            update_mask: Some(FieldMask {
                paths: vec!["display_name".into(), "budget".into(), "location".into()],
            }),
        })
        .await
        .unwrap()
        .into_inner();
    let stale = projects
        .update_project(UpdateProjectRequest {
            project: Some(change.clone()),
            update_mask: Some(FieldMask {
                paths: vec!["display_name".into()],
            }),
        })
        .await
        .unwrap_err();
    let immutable = projects
        .update_project(UpdateProjectRequest {
            project: Some(Project {
                etag: String::new(),
                ..change.clone()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["field".into()],
            }),
        })
        .await
        .unwrap_err();
    let outside = projects
        .update_project(UpdateProjectRequest {
            project: Some(Project {
                etag: String::new(),
                location: "regions/420302".into(),
                ..change
            }),
            update_mask: Some(FieldMask {
                paths: vec!["location".into()],
            }),
        })
        .await
        .unwrap_err();

    assert_eq!(updated.display_name, "丹江口污水处理厂（一期）");
    assert_eq!(updated.budget, Some(cny(800_000, 50)));
    assert_eq!(updated.location, "regions/420381100");
    assert_eq!(updated.implementing_org, p.implementing_org);
    assert_ne!(updated.etag, p.etag);
    assert_error(&stale, Code::Aborted, "ETAG_MISMATCH", None);
    assert_error(
        &immutable,
        Code::InvalidArgument,
        "INVALID_FIELD",
        Some("update_mask"),
    );
    assert_error(
        &outside,
        Code::InvalidArgument,
        "INVALID_FIELD",
        Some("project.location"),
    );
}

#[tokio::test]
async fn a_scoped_coordinator_manages_projects_only_inside_its_regions() {
    let mut app = spawn().await;
    let program = app.program().await;
    let inside = app.pairing(pairing(&program, "110101", "420381")).await;
    let outside = app.pairing(pairing(&program, "120101", "420502")).await;
    let outside_project = app.project(project(&outside, "420502")).await;
    let coordinator = app.token(Role::Coordinator, &["110000", "420300"]).await;
    let mut projects = app.projects_as(Some(&coordinator));

    let mine = projects
        .create_project(CreateProjectRequest {
            project: Some(project(&inside, "420381")),
            request_id: String::new(),
        })
        .await;
    let theirs = projects
        .create_project(CreateProjectRequest {
            project: Some(project(&outside, "420502")),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    let approve_theirs = projects
        .approve_project(ApproveProjectRequest {
            name: outside_project.name.clone(),
            etag: String::new(),
        })
        .await
        .unwrap_err();
    let approve_missing = projects
        .approve_project(ApproveProjectRequest {
            name: "projects/999".into(),
            etag: String::new(),
        })
        .await
        .unwrap_err();
    let read_theirs = projects
        .get_project(GetProjectRequest {
            name: outside_project.name.clone(),
        })
        .await;

    assert!(mine.is_ok(), "{mine:?}");
    assert_error(&theirs, Code::PermissionDenied, "OUTSIDE_SCOPE", None);
    assert_error(
        &approve_theirs,
        Code::PermissionDenied,
        "OUTSIDE_SCOPE",
        None,
    );
    assert_error(
        &approve_missing,
        Code::PermissionDenied,
        "OUTSIDE_SCOPE",
        None,
    );
    assert!(read_theirs.is_ok(), "reads are open to every role");
}

#[tokio::test]
async fn a_retried_create_with_its_request_id_proposes_one_project() {
    let mut app = spawn().await;
    let pairing = dongcheng_danjiangkou(&mut app).await;
    let request = CreateProjectRequest {
        project: Some(project(&pairing, "420381")),
        request_id: "project-1".into(),
    };

    let first = app.projects.create_project(request.clone()).await.unwrap();
    let again = app.projects.create_project(request.clone()).await.unwrap();
    let mut changed = request;
    changed.project.as_mut().unwrap().display_name = "另一个项目".into();
    let reused = app.projects.create_project(changed).await.unwrap_err();

    assert_eq!(first.into_inner(), again.into_inner());
    assert_error(
        &reused,
        Code::InvalidArgument,
        "REQUEST_ID_REUSED",
        Some("request_id"),
    );
    assert_eq!(count(&app).await, 1);
}

#[tokio::test]
async fn a_project_names_its_implementing_organization_beside_the_text() {
    let mut app = spawn().await;
    let pairing = dongcheng_danjiangkou(&mut app).await;
    let water = app
        .organization(duikou::proto::v1::Organization {
            display_name: "丹江口市水利和湖泊局".into(),
            ..crate::helpers::county_bureau("420381")
        })
        .await;
    let firm = app
        .organization(duikou::proto::v1::Organization {
            display_name: "丹江口水务有限公司".into(),
            kind: 3,
            ..crate::helpers::county_bureau("420381")
        })
        .await;

    let linked = create(
        &app,
        Project {
            implementing_org: String::new(),
            implementing_organization: water.name.clone(),
            ..project(&pairing, "420381")
        },
    )
    .await
    .unwrap();
    let plain = create(&app, project(&pairing, "420381")).await.unwrap();
    let unknown = create(
        &app,
        Project {
            implementing_organization: "organizations/77".into(),
            ..project(&pairing, "420381")
        },
    )
    .await
    .unwrap_err();
    let neither = create(
        &app,
        Project {
            implementing_org: String::new(),
            ..project(&pairing, "420381")
        },
    )
    .await
    .unwrap_err();
    let moved = app
        .projects
        .update_project(UpdateProjectRequest {
            project: Some(Project {
                implementing_organization: firm.name.clone(),
                ..linked.clone()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["implementing_organization".into()],
            }),
        })
        .await
        .unwrap()
        .into_inner();
    let by_firm = app
        .projects
        .list_projects(ListProjectsRequest {
            filter: format!("implementing_organization = \"{}\"", firm.name),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .projects;

    assert_eq!(
        linked.implementing_org, "丹江口市水利和湖泊局",
        "the text defaults to the name"
    );
    assert_eq!(linked.implementing_organization, water.name);
    assert!(plain.implementing_organization.is_empty());
    assert_error(
        &unknown,
        Code::InvalidArgument,
        "INVALID_FIELD",
        Some("project.implementing_organization"),
    );
    assert_error(
        &neither,
        Code::InvalidArgument,
        "INVALID_FIELD",
        Some("project.implementing_org"),
    );
    assert_eq!(moved.implementing_organization, firm.name);
    assert_eq!(
        moved.implementing_org, "丹江口水务有限公司",
        "renamed after it"
    );
    assert_eq!(by_firm, vec![moved]);
    let all = app
        .projects
        .list_projects(ListProjectsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .projects;
    assert_eq!(all.len(), 2, "the refused ones wrote nothing");
}
