//! Work plans: drafted, issued and closed by a coordinator whose scope covers the
//! pairing, changed only while DRAFT, issued only with weights of 100 points, read by
//! every role; bad input names its field and writes nothing.

use duikou::{
    domain::access::Role,
    proto::v1::{
        CloseWorkPlanRequest, CreateWorkPlanRequest, FieldWeight, GetWorkPlanRequest,
        GradeThresholds, IssueWorkPlanRequest, ListWorkPlansRequest, UpdateWorkPlanRequest,
        WorkPlan, plan_service_client::PlanServiceClient,
    },
};
use prost_types::FieldMask;
use tonic::Code;

use crate::helpers::{Authed, assert_error, pairing, plan_of, spawn};

/// WorkPlanState numbers of the API.
const DRAFT: i32 = 1;
const ISSUED: i32 = 2;
const CLOSED: i32 = 3;

fn create(plan: WorkPlan) -> CreateWorkPlanRequest {
    CreateWorkPlanRequest {
        work_plan: Some(plan),
        request_id: String::new(),
    }
}

fn update(plan: &WorkPlan, paths: &[&str]) -> UpdateWorkPlanRequest {
    UpdateWorkPlanRequest {
        work_plan: Some(plan.clone()),
        update_mask: Some(FieldMask {
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
        }),
    }
}

fn issue(plan: &WorkPlan) -> IssueWorkPlanRequest {
    IssueWorkPlanRequest {
        name: plan.name.clone(),
        etag: plan.etag.clone(),
    }
}

async fn names(
    client: &mut PlanServiceClient<Authed>,
    filter: &str,
) -> Result<Vec<String>, tonic::Status> {
    let listed = client
        .list_work_plans(ListWorkPlansRequest {
            page_size: 100,
            page_token: String::new(),
            filter: filter.to_owned(),
        })
        .await?
        .into_inner();
    Ok(listed.work_plans.into_iter().map(|p| p.name).collect())
}

#[tokio::test]
async fn a_plan_is_drafted_issued_with_100_points_and_closed_inside_its_pairings_scope() {
    let mut app = spawn().await;
    let program = app.program().await;
    let beijing_danjiangkou = app.pairing(pairing(&program, "110101", "420381")).await;
    let both = app.token(Role::Coordinator, &["110000", "420300"]).await;
    let shiyan_only = app.token(Role::Coordinator, &["420300"]).await;
    let auditor = app.token(Role::Auditor, &[]).await;
    let mut coordinator = app.plans_as(Some(&both));

    // A coordinator of one side alone does not reach the pairing.
    let refused = app
        .plans_as(Some(&shiyan_only))
        .create_work_plan(create(plan_of(&beijing_danjiangkou.name)))
        .await
        .unwrap_err();
    assert_error(&refused, Code::PermissionDenied, "OUTSIDE_SCOPE", None);

    // Drafted with weights of 95 points: a draft may, an issue may not.
    let mut short = plan_of(&beijing_danjiangkou.name);
    short.weights[2].weight = 25;
    let drafted = coordinator
        .create_work_plan(create(short))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(drafted.state, DRAFT);
    assert_eq!(drafted.scope, beijing_danjiangkou.name);
    let thresholds = drafted.grade_thresholds.unwrap();
    assert_eq!(
        (thresholds.excellent, thresholds.good, thresholds.fair),
        (90, 80, 60)
    );
    assert!(drafted.issue_time.is_none());
    let refused = coordinator
        .issue_work_plan(issue(&drafted))
        .await
        .unwrap_err();
    let message = assert_error(&refused, Code::FailedPrecondition, "WEIGHTS_NOT_100", None);
    assert!(message.contains("95"), "{message}");

    // The weights are mended, the thresholds set; a stale etag is refused.
    let mut mended = drafted.clone();
    mended.weights[2].weight = 30;
    mended.grade_thresholds = Some(GradeThresholds {
        excellent: 95,
        good: 85,
        fair: 70,
    });
    let mended = coordinator
        .update_work_plan(update(&mended, &["weights", "grade_thresholds"]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(mended.weights.iter().map(|w| w.weight).sum::<i32>(), 100);
    assert_eq!(mended.grade_thresholds.unwrap().fair, 70);
    let refused = coordinator
        .update_work_plan(update(&drafted, &["title"]))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Aborted);

    let issued = coordinator
        .issue_work_plan(issue(&mended))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(issued.state, ISSUED);
    assert!(issued.issue_time.is_some());

    // Issued, it no longer changes, and it is issued once.
    let mut retitled = issued.clone();
    retitled.title = "改过的计划".into();
    let refused = coordinator
        .update_work_plan(update(&retitled, &["title"]))
        .await
        .unwrap_err();
    assert_error(&refused, Code::FailedPrecondition, "PLAN_NOT_DRAFT", None);
    let refused = coordinator
        .issue_work_plan(issue(&issued))
        .await
        .unwrap_err();
    assert_error(
        &refused,
        Code::FailedPrecondition,
        "ILLEGAL_STATE_TRANSITION",
        None,
    );

    let closed = coordinator
        .close_work_plan(CloseWorkPlanRequest {
            name: issued.name.clone(),
            etag: issued.etag.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(closed.state, CLOSED);
    assert!(closed.close_time.is_some());
    assert_eq!(closed.title, drafted.title);

    // Every authenticated role reads plans; anonymous callers do not.
    let mut as_auditor = app.plans_as(Some(&auditor));
    let read = as_auditor
        .get_work_plan(GetWorkPlanRequest {
            name: closed.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read, closed);
    let other = app
        .work_plan(WorkPlan {
            year: 2023,
            ..plan_of(&beijing_danjiangkou.name)
        })
        .await;
    let of_program = app.work_plan(plan_of(&program.name)).await;
    let pairing_filter = format!("scope = \"{}\"", beijing_danjiangkou.name);
    assert_eq!(
        names(&mut as_auditor, &pairing_filter).await.unwrap(),
        [closed.name.clone(), other.name.clone()]
    );
    assert_eq!(
        names(
            &mut as_auditor,
            &format!("{pairing_filter} AND year = 2023")
        )
        .await
        .unwrap(),
        [other.name.as_str()]
    );
    assert_eq!(
        names(&mut as_auditor, "state = CLOSED").await.unwrap(),
        [closed.name.as_str()]
    );
    assert_eq!(
        names(&mut as_auditor, &format!("scope = \"{}\"", program.name))
            .await
            .unwrap(),
        [of_program.name.as_str()]
    );
    let refused = app
        .plans_as(None)
        .get_work_plan(GetWorkPlanRequest {
            name: closed.name.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);

    // A program's plan belongs to no region: a scoped coordinator cannot manage it.
    let refused = coordinator
        .issue_work_plan(issue(&of_program))
        .await
        .unwrap_err();
    assert_error(&refused, Code::PermissionDenied, "OUTSIDE_SCOPE", None);
}

#[tokio::test]
async fn bad_plans_name_the_field_and_write_nothing() {
    let mut app = spawn().await;
    let program = app.program().await;
    let pairing = app.pairing(pairing(&program, "110101", "420381")).await;
    let admin = app.token(Role::Admin, &[]).await;
    let mut plans = app.plans_as(Some(&admin));

    let good = plan_of(&pairing.name);
    let cases: Vec<(WorkPlan, &str)> = vec![
        (
            WorkPlan {
                scope: String::new(),
                ..good.clone()
            },
            "work_plan.scope",
        ),
        (
            WorkPlan {
                scope: "projects/1".into(),
                ..good.clone()
            },
            "work_plan.scope",
        ),
        (
            WorkPlan {
                scope: "pairings/999".into(),
                ..good.clone()
            },
            "work_plan.scope",
        ),
        (
            WorkPlan {
                year: 1999,
                ..good.clone()
            },
            "work_plan.year",
        ),
        // The pairing runs from 2021 to 2025.
        (
            WorkPlan {
                year: 2030,
                ..good.clone()
            },
            "work_plan.year",
        ),
        (
            WorkPlan {
                title: " ".into(),
                ..good.clone()
            },
            "work_plan.title",
        ),
        (
            WorkPlan {
                weights: vec![
                    FieldWeight {
                        field: 1,
                        weight: 50,
                    },
                    FieldWeight {
                        field: 1,
                        weight: 50,
                    },
                ],
                ..good.clone()
            },
            "work_plan.weights[1].field",
        ),
        (
            WorkPlan {
                weights: vec![FieldWeight {
                    field: 2,
                    weight: 0,
                }],
                ..good.clone()
            },
            "work_plan.weights[0].weight",
        ),
        (
            WorkPlan {
                grade_thresholds: Some(GradeThresholds {
                    excellent: 90,
                    good: 95,
                    fair: 60,
                }),
                ..good.clone()
            },
            "work_plan.grade_thresholds.good",
        ),
    ];
    for (plan, field) in cases {
        let refused = plans.create_work_plan(create(plan)).await.unwrap_err();
        assert_error(
            &refused,
            Code::InvalidArgument,
            "INVALID_FIELD",
            Some(field),
        );
    }
    assert!(names(&mut plans, "").await.unwrap().is_empty());

    // A retry with the same request id gives back the first plan.
    let once = CreateWorkPlanRequest {
        work_plan: Some(good.clone()),
        request_id: "plan-2024-1".into(),
    };
    let first = plans
        .create_work_plan(once.clone())
        .await
        .unwrap()
        .into_inner();
    let again = plans.create_work_plan(once).await.unwrap().into_inner();
    assert_eq!(first, again);
    assert_eq!(names(&mut plans, "").await.unwrap(), [first.name.as_str()]);

    // A mask may not name what is fixed or what the server sets.
    for path in ["scope", "year", "state"] {
        let refused = plans
            .update_work_plan(update(&first, &[path]))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument, "{path}");
    }
    let refused = plans
        .get_work_plan(GetWorkPlanRequest {
            name: "workPlans/999".into(),
        })
        .await
        .unwrap_err();
    assert_error(&refused, Code::NotFound, "WORK_PLAN_NOT_FOUND", None);
}
