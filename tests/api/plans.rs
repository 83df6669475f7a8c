//! Work plans and their tasks: drafted, issued and closed by a coordinator whose scope
//! covers the pairing, changed only while DRAFT, issued only with weights of 100 points
//! that each have a task, read by every role; tasks report progress once issued and fall
//! overdue by a clock the test moves; bad input names its field and writes nothing.

use duikou::{
    domain::access::Role,
    proto::v1::{
        AcceptSupervisionEntryRequest, AddPlanTaskRequest, CloseWorkPlanRequest,
        CreateWorkPlanRequest, Evidence, FieldWeight, FundTransaction,
        GetOrganizationAccountabilityRequest, GetPlanTaskRequest, GetWorkPlanRequest,
        GradeThresholds, IssueWorkPlanRequest, ListPlanTasksRequest, ListWorkPlansRequest, Money,
        Organization, Pairing, PlanTask, Project, RemovePlanTaskRequest, ReportTaskProgressRequest,
        ResolveSupervisionEntryRequest, StartRectificationRequest, SubmitSupervisionEntryRequest,
        UpdatePlanTaskRequest, UpdateProjectRequest, UpdateWorkPlanRequest, WorkPlan,
        plan_service_client::PlanServiceClient,
    },
};
use prost_types::FieldMask;
use tonic::Code;

use crate::{
    funds::{allocation, commitment, disbursement, pairing_and_project, record, reverse},
    helpers::{
        Authed, TestApp, assert_error, cny, county_bureau, pairing, plan_of, spawn, task_of,
        water_report,
    },
};

/// WorkPlanState numbers of the API.
const DRAFT: i32 = 1;
const ISSUED: i32 = 2;
const CLOSED: i32 = 3;
/// TaskState numbers of the API.
const NOT_STARTED: i32 = 1;
const IN_PROGRESS: i32 = 2;
const DONE: i32 = 3;
/// Indicator numbers of the API.
const FUNDS_DISBURSED: i32 = 3;
const MANUAL: i32 = 13;

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

    // Every weighted field needs a task to earn its points.
    let lead = app.organization(county_bureau("420381")).await;
    let refused = coordinator
        .issue_work_plan(issue(&mended))
        .await
        .unwrap_err();
    assert_error(
        &refused,
        Code::FailedPrecondition,
        "FIELD_WITHOUT_TASKS",
        None,
    );
    for field in [1, 3, 7] {
        app.plan_task(&mended, task_of(field, &lead, "2024-06-30"))
            .await;
    }
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

/// The year after today's in China, and a day of it, "YYYY-MM-DD".
fn next_year() -> (i32, impl Fn(u32, u32) -> String) {
    use chrono::Datelike;
    let year = (chrono::Utc::now() + chrono::Duration::hours(8)).year() + 1;
    (year, move |month, day| {
        format!("{year}-{month:02}-{day:02}")
    })
}

fn report(task: &PlanTask, progress: i32, note: &str) -> ReportTaskProgressRequest {
    ReportTaskProgressRequest {
        name: task.name.clone(),
        progress_percent: progress,
        note: note.to_owned(),
        ..Default::default()
    }
}

async fn task_names(
    client: &mut PlanServiceClient<Authed>,
    plan: &WorkPlan,
    filter: &str,
) -> Vec<String> {
    let listed = client
        .list_plan_tasks(ListPlanTasksRequest {
            parent: plan.name.clone(),
            page_size: 100,
            page_token: String::new(),
            filter: filter.to_owned(),
        })
        .await
        .unwrap()
        .into_inner();
    listed.tasks.into_iter().map(|t| t.name).collect()
}

#[tokio::test]
async fn tasks_change_while_drafted_take_reports_once_issued_and_fall_overdue_by_the_clock() {
    let mut app = spawn().await;
    let program = app.program().await;
    let (year, day) = next_year();
    let pairing = app
        .pairing(Pairing {
            period_end: format!("{year}-12-31"),
            ..pairing(&program, "110101", "420381")
        })
        .await;
    let coordinator = app.token(Role::Coordinator, &["110000", "420300"]).await;
    let mut plans = app.plans_as(Some(&coordinator));
    let lead = app.organization(county_bureau("420381")).await;
    let helper = app
        .organization(Organization {
            display_name: "丹江口市财政局".into(),
            ..county_bureau("420381")
        })
        .await;
    let plan = app
        .work_plan(WorkPlan {
            year,
            ..plan_of(&pairing.name)
        })
        .await;

    // Funds to pay out by the end of June, a reported figure for the rest of the year,
    // and leadership work without an indicator by the end of March.
    let add = |task: PlanTask| AddPlanTaskRequest {
        parent: plan.name.clone(),
        task: Some(task),
        request_id: String::new(),
    };
    let funds = plans
        .add_plan_task(add(PlanTask {
            indicator: FUNDS_DISBURSED,
            target: "5000000".into(),
            baseline: "1000000.50".into(),
            supporting_organizations: vec![helper.name.clone()],
            weight: 3,
            ..task_of(3, &lead, &day(6, 30))
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(funds.state, NOT_STARTED);
    assert_eq!(funds.baseline, "1000000.5");
    assert_eq!(funds.supporting_organizations, [helper.name.as_str()]);
    assert!(funds.name.starts_with(&format!("{}/tasks/", plan.name)));
    let manual = plans
        .add_plan_task(add(PlanTask {
            indicator: MANUAL,
            target: "1000000".into(),
            ..task_of(6, &lead, &day(12, 31))
        }))
        .await
        .unwrap()
        .into_inner();

    // A task in a field the weights leave out loses its points: issuing refuses it.
    let refused = plans.issue_work_plan(issue(&plan)).await.unwrap_err();
    assert_error(
        &refused,
        Code::FailedPrecondition,
        "TASK_FIELD_UNWEIGHTED",
        None,
    );
    let manual = plans
        .update_plan_task(UpdatePlanTaskRequest {
            task: Some(PlanTask {
                field: 7,
                ..manual.clone()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["field".into()],
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(manual.field, 7);
    let leadership = plans
        .add_plan_task(add(task_of(1, &helper, &day(3, 31))))
        .await
        .unwrap()
        .into_inner();
    let spare = plans
        .add_plan_task(add(task_of(1, &helper, &day(4, 30))))
        .await
        .unwrap()
        .into_inner();
    let removed = plans
        .remove_plan_task(RemovePlanTaskRequest {
            name: spare.name.clone(),
            etag: spare.etag.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(removed.name, spare.name);
    let refused = plans
        .get_plan_task(GetPlanTaskRequest {
            name: spare.name.clone(),
        })
        .await
        .unwrap_err();
    assert_error(&refused, Code::NotFound, "PLAN_TASK_NOT_FOUND", None);

    // Before issue, no progress is reported.
    let refused = plans
        .report_task_progress(report(&funds, 10, "开始"))
        .await
        .unwrap_err();
    assert_error(&refused, Code::FailedPrecondition, "PLAN_NOT_ISSUED", None);

    let issued = plans
        .issue_work_plan(IssueWorkPlanRequest {
            name: plan.name.clone(),
            etag: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(issued.state, ISSUED);

    // Issued, its tasks no longer change.
    let refused = plans
        .add_plan_task(add(task_of(1, &lead, &day(5, 31))))
        .await
        .unwrap_err();
    assert_error(&refused, Code::FailedPrecondition, "PLAN_NOT_DRAFT", None);
    let refused = plans
        .remove_plan_task(RemovePlanTaskRequest {
            name: leadership.name.clone(),
            etag: String::new(),
        })
        .await
        .unwrap_err();
    assert_error(&refused, Code::FailedPrecondition, "PLAN_NOT_DRAFT", None);

    // A computed indicator takes no reported figure; a MANUAL one does.
    let refused = plans
        .report_task_progress(ReportTaskProgressRequest {
            actual: "6000000".into(),
            ..report(&funds, 40, "已拨付")
        })
        .await
        .unwrap_err();
    assert_error(
        &refused,
        Code::InvalidArgument,
        "INVALID_FIELD",
        Some("actual"),
    );
    let funds = plans
        .report_task_progress(ReportTaskProgressRequest {
            evidence: "京财协作〔2027〕5号".into(),
            ..report(&funds, 40, "已拨付第一批资金")
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(funds.state, IN_PROGRESS);
    assert_eq!(funds.progress_percent, 40);
    assert_eq!(funds.reports.len(), 1);
    assert_eq!(funds.reports[0].evidence, "京财协作〔2027〕5号");
    assert!(!funds.reports[0].reporter.is_empty());
    let manual = plans
        .report_task_progress(ReportTaskProgressRequest {
            actual: "1200000".into(),
            ..report(&manual, 50, "消费协作上半年")
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(manual.reports[0].actual, "1200000");

    // Done today, by its due date: on time.
    let leadership = plans
        .report_task_progress(ReportTaskProgressRequest {
            done: true,
            ..report(&leadership, 0, "联席会议已召开")
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(leadership.state, DONE);
    assert_eq!(leadership.progress_percent, 100);
    assert!(leadership.done_on_time && !leadership.overdue);
    let refused = plans
        .report_task_progress(report(&leadership, 100, "再报"))
        .await
        .unwrap_err();
    assert_error(&refused, Code::FailedPrecondition, "TASK_DONE", None);

    // The clock passes the end of June in China: the funds task falls overdue.
    assert!(
        task_names(&mut plans, &plan, "overdue = true")
            .await
            .is_empty()
    );
    let due = chrono::NaiveDate::parse_from_str(&day(7, 1), "%Y-%m-%d")
        .unwrap()
        .and_hms_opt(0, 0, 1)
        .unwrap()
        .and_utc()
        - chrono::Duration::hours(8);
    app.clock.advance(due - app.clock.now());
    assert_eq!(
        task_names(&mut plans, &plan, "overdue = true").await,
        [funds.name.as_str()]
    );
    let late = plans
        .report_task_progress(ReportTaskProgressRequest {
            done: true,
            ..report(&funds, 100, "全部拨付")
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!late.overdue && !late.done_on_time);
    assert_eq!(late.done_date, day(7, 1));
    assert_eq!(late.reports.len(), 2);

    // Filters by lead, state and field.
    let lead_filter = format!("lead_organization = \"{}\"", lead.name);
    assert_eq!(
        task_names(&mut plans, &plan, &lead_filter).await,
        [funds.name.clone(), manual.name.clone()]
    );
    assert_eq!(
        task_names(&mut plans, &plan, "state = DONE").await,
        [funds.name.clone(), leadership.name.clone()]
    );
    assert_eq!(
        task_names(
            &mut plans,
            &plan,
            "field = WATER_PROTECTION AND overdue = false"
        )
        .await,
        [manual.name.as_str()]
    );

    // Closed, the plan takes no more reports.
    plans
        .close_work_plan(CloseWorkPlanRequest {
            name: plan.name.clone(),
            etag: String::new(),
        })
        .await
        .unwrap();
    let refused = plans
        .report_task_progress(report(&manual, 80, "下半年"))
        .await
        .unwrap_err();
    assert_error(&refused, Code::FailedPrecondition, "PLAN_NOT_ISSUED", None);
    let read = plans
        .get_plan_task(GetPlanTaskRequest {
            name: manual.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.reports.len(), 1);
}

#[tokio::test]
async fn bad_tasks_name_the_field_and_write_nothing() {
    let mut app = spawn().await;
    let program = app.program().await;
    let pairing = app.pairing(pairing(&program, "110101", "420381")).await;
    let admin = app.token(Role::Admin, &[]).await;
    let mut plans = app.plans_as(Some(&admin));
    let lead = app.organization(county_bureau("420381")).await;
    let plan = app.work_plan(plan_of(&pairing.name)).await;

    let good = task_of(3, &lead, "2024-06-30");
    let cases: Vec<(PlanTask, &str)> = vec![
        (
            PlanTask {
                lead_organization: "organizations/999".into(),
                ..good.clone()
            },
            "task.lead_organization",
        ),
        (
            PlanTask {
                supporting_organizations: vec!["organizations/998".into()],
                ..good.clone()
            },
            "task.supporting_organizations[0]",
        ),
        (
            PlanTask {
                due_date: "2025-01-01".into(),
                ..good.clone()
            },
            "task.due_date",
        ),
        (
            PlanTask {
                indicator: FUNDS_DISBURSED,
                target: "0".into(),
                ..good.clone()
            },
            "task.target",
        ),
        (
            PlanTask {
                target: "100".into(),
                ..good.clone()
            },
            "task.target",
        ),
        (
            PlanTask {
                field: 0,
                ..good.clone()
            },
            "task.field",
        ),
    ];
    for (task, field) in cases {
        let refused = plans
            .add_plan_task(AddPlanTaskRequest {
                parent: plan.name.clone(),
                task: Some(task),
                request_id: String::new(),
            })
            .await
            .unwrap_err();
        assert_error(
            &refused,
            Code::InvalidArgument,
            "INVALID_FIELD",
            Some(field),
        );
    }
    assert!(task_names(&mut plans, &plan, "").await.is_empty());

    let task = app.plan_task(&plan, good).await;
    for (name, field) in [
        ("workPlans/1/tasks/x", "name"),
        ("tasks/1", "name"),
        ("workPlans/999/tasks/1", ""),
    ] {
        let refused = plans
            .report_task_progress(ReportTaskProgressRequest {
                name: name.to_owned(),
                note: "说明".into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        if field.is_empty() {
            assert_eq!(refused.code(), Code::NotFound, "{name}");
        } else {
            assert_error(
                &refused,
                Code::InvalidArgument,
                "INVALID_FIELD",
                Some(field),
            );
        }
    }
    // A task named under another plan is not found there.
    let other = app.work_plan(plan_of(&pairing.name)).await;
    let refused = plans
        .get_plan_task(GetPlanTaskRequest {
            name: task.name.replace(&plan.name, &other.name),
        })
        .await
        .unwrap_err();
    assert_error(&refused, Code::NotFound, "PLAN_TASK_NOT_FOUND", None);
}

/// Files a water report in Danjiangkou as ADMIN and accepts it with `organization` to
/// answer it, due far ahead; returns its name.
async fn answered_by(app: &TestApp, organization: &Organization) -> String {
    let mut supervision = app.supervision.clone();
    let entry = supervision
        .submit_supervision_entry(SubmitSupervisionEntryRequest {
            supervision_entry: Some(water_report("regions/420381")),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .supervision_entry
        .unwrap();
    supervision
        .accept_supervision_entry(AcceptSupervisionEntryRequest {
            name: entry.name.clone(),
            due_date: "2099-06-30".into(),
            note: "转属地核查".into(),
            responsible_organization: organization.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    entry.name
}

fn yuan(money: &Option<Money>) -> (i64, i32) {
    let m = money.clone().unwrap_or_default();
    (m.units, m.nanos)
}

#[tokio::test]
async fn an_organizations_accountability_is_counted_from_the_records_it_is_linked_to() {
    let mut app = spawn().await;
    let (pairing, project) = pairing_and_project(&mut app).await;
    let firm = app
        .organization(Organization {
            display_name: "丹江口市水务集团".into(),
            kind: 3,
            ..county_bureau("420381")
        })
        .await;
    let other = app.organization(county_bureau("420381")).await;
    let auditor = app.token(Role::Auditor, &[]).await;
    let mut organizations = app.organizations_as(Some(&auditor));
    let accountability = |year: i32| GetOrganizationAccountabilityRequest {
        organization: firm.name.clone(),
        year,
    };

    // The project is the firm's; money is paid to it, once reversed.
    app.projects
        .update_project(UpdateProjectRequest {
            project: Some(Project {
                implementing_organization: firm.name.clone(),
                ..project.clone()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["implementing_organization".into()],
            }),
        })
        .await
        .unwrap();
    record(&app, commitment(&pairing, 2025, cny(100, 0)))
        .await
        .unwrap();
    record(&app, allocation(&project, 2025, cny(60, 0)))
        .await
        .unwrap();
    let to_firm = |amount| FundTransaction {
        payee: String::new(),
        payee_organization: firm.name.clone(),
        ..disbursement(&project, 2025, amount)
    };
    let kept = record(&app, to_firm(cny(10, 50))).await.unwrap();
    let undone = record(&app, to_firm(cny(5, 0))).await.unwrap();
    reverse(&app, &undone).await.unwrap();
    record(&app, disbursement(&project, 2025, cny(3, 0)))
        .await
        .unwrap();

    // Two tasks of the 2024 plan are the firm's: one done late, one overdue.
    let plan = app.work_plan(plan_of(&pairing.name)).await;
    let done_late = app.plan_task(&plan, task_of(1, &firm, "2024-06-30")).await;
    app.plan_task(&plan, task_of(3, &firm, "2024-09-30")).await;
    app.plan_task(&plan, task_of(7, &other, "2024-09-30")).await;
    let admin = app.token(Role::Admin, &[]).await;
    let mut plans = app.plans_as(Some(&admin));
    plans.issue_work_plan(issue(&plan)).await.unwrap();
    plans
        .report_task_progress(ReportTaskProgressRequest {
            done: true,
            ..report(&done_late, 100, "补办完成")
        })
        .await
        .unwrap();

    // Two entries it must answer, one resolved.
    let resolved = answered_by(&app, &firm).await;
    answered_by(&app, &firm).await;
    let mut supervision = app.supervision.clone();
    supervision
        .start_rectification(StartRectificationRequest {
            name: resolved.clone(),
            plan: "截污纳管".into(),
            etag: String::new(),
        })
        .await
        .unwrap();
    supervision
        .resolve_supervision_entry(ResolveSupervisionEntryRequest {
            name: resolved.clone(),
            resolution: "已完成截污".into(),
            evidence: vec![Evidence {
                uri: "https://oss.example.org/danjiangkou/after.jpg".into(),
                sha256: "ab".repeat(32),
                description: "整改后".into(),
            }],
            etag: String::new(),
        })
        .await
        .unwrap();

    let all = organizations
        .get_organization_accountability(accountability(0))
        .await
        .unwrap()
        .into_inner();
    let tasks = all.tasks.unwrap();
    assert_eq!(
        (tasks.led, tasks.done, tasks.done_on_time, tasks.overdue),
        (2, 1, 0, 1)
    );
    let entries = all.supervision.unwrap();
    assert_eq!(
        (
            entries.entries,
            entries.resolved,
            entries.resolved_on_time,
            entries.overdue
        ),
        (2, 1, 1, 0)
    );
    let states: Vec<(&str, i64)> = entries
        .by_state
        .iter()
        .map(|c| (c.state.as_str(), c.count))
        .collect();
    assert_eq!(states, [("ACCEPTED", 1), ("RESOLVED", 1)]);
    assert!((0.0..1.0).contains(&entries.median_days_to_resolve));
    let projects = all.projects.unwrap();
    assert_eq!(projects.projects, 1);
    assert_eq!(yuan(&projects.budget), yuan(&project.budget));
    assert_eq!(yuan(&projects.allocated), (60, 0));
    // 10.50 + 5 − 5 + 3, all on the firm's project.
    assert_eq!(yuan(&projects.disbursed), (13, 500_000_000));
    // What was paid to the firm, summed here from the lines recorded.
    let paid_here = yuan(&kept.amount);
    assert_eq!(yuan(&all.paid), paid_here);

    // A year names the plans, the filing, the planned periods and the fiscal year.
    let of_2024 = organizations
        .get_organization_accountability(accountability(2024))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(of_2024.tasks.unwrap().led, 2);
    assert_eq!(of_2024.supervision.unwrap().entries, 0);
    assert_eq!(of_2024.projects.unwrap().projects, 0);
    assert_eq!(yuan(&of_2024.paid), (0, 0));
    let of_2025 = organizations
        .get_organization_accountability(accountability(2025))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(of_2025.tasks.unwrap().led, 0);
    assert_eq!(yuan(&of_2025.paid), paid_here);

    let refused = organizations
        .get_organization_accountability(GetOrganizationAccountabilityRequest {
            organization: "organizations/999".into(),
            year: 0,
        })
        .await
        .unwrap_err();
    assert_error(&refused, Code::NotFound, "ORGANIZATION_NOT_FOUND", None);
    let refused = organizations
        .get_organization_accountability(GetOrganizationAccountabilityRequest {
            organization: firm.name.clone(),
            year: -1,
        })
        .await
        .unwrap_err();
    assert_error(
        &refused,
        Code::InvalidArgument,
        "INVALID_FIELD",
        Some("year"),
    );
}
