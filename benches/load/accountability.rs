//! GetOrganizationAccountability of one organisation that implements 10,000 projects and
//! answers 10,000 supervision entries, with 200 plan tasks, on its own server and durable
//! SQLite file, timed one call after another (bar: p99 under 20 ms).
//!
//! One project and one entry are made through the API; the rest are copies of them made
//! by one statement each (the bench measures the read, not the seeding), with the totals
//! rows and balances of every project as the ledger would have left them.

use std::time::Instant;

use anyhow::{Context, Result, ensure};
use duikou::{
    domain::access::Role,
    proto::v1::{
        AcceptSupervisionEntryRequest, AddPlanTaskRequest, ApproveProjectRequest,
        CreateOrganizationRequest, CreatePairingRequest, CreateProgramRequest,
        CreateProjectRequest, CreateWorkPlanRequest, FieldWeight, FundTransaction,
        GetOrganizationAccountabilityRequest, IssueWorkPlanRequest, Money, Organization, Pairing,
        PlanTask, Program, Project, RecordFundTransactionRequest, Reporter, StartProjectRequest,
        SubmitSupervisionEntryRequest, SupervisionEntry, WorkPlan,
        fund_service_client::FundServiceClient,
        organization_service_client::OrganizationServiceClient,
        pairing_service_client::PairingServiceClient, plan_service_client::PlanServiceClient,
        project_service_client::ProjectServiceClient,
        supervision_service_client::SupervisionServiceClient,
    },
};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;

use crate::{
    driver::{Authed, connect, percentile_ms},
    servers::OwnServer,
};

/// Projects the organisation implements, and entries it answers.
const RECORDS: usize = 10_000;
/// Plan tasks it leads.
const TASKS: usize = 200;
/// Calls timed, one after another.
const CALLS: usize = 1_000;
/// The bar: p99 of GetOrganizationAccountability, in milliseconds.
const P99_BAR_MS: f64 = 20.0;

fn cny(yuan: i64) -> Option<Money> {
    Some(Money {
        currency_code: "CNY".to_owned(),
        units: yuan,
        nanos: 0,
    })
}

/// Seeds the records, times the calls, and reports under `accountability`.
pub async fn measure() -> Result<serde_json::Value> {
    println!("accountability of one organisation, on its own server and SQLite file …");
    let server = OwnServer::start("accountability", Role::Admin).await?;
    let channel = connect(server.addr, 1, &server.secret).await?.remove(0);
    let organization = seed(&server, &channel).await?;
    let mut organizations = OrganizationServiceClient::new(channel.clone());
    let mut latencies = Vec::with_capacity(CALLS);
    let mut first = None;
    for i in 0..CALLS {
        let started = Instant::now();
        let answer = organizations
            .get_organization_accountability(GetOrganizationAccountabilityRequest {
                organization: organization.clone(),
                year: if i % 2 == 0 { 0 } else { 2024 },
            })
            .await
            .context("GetOrganizationAccountability")?
            .into_inner();
        latencies.push(started.elapsed().as_micros() as u32);
        first.get_or_insert(answer);
    }
    let first = first.context("no call was timed")?;
    let (projects, entries, tasks) = (
        first.projects.map_or(0, |p| p.projects),
        first.supervision.map_or(0, |s| s.entries),
        first.tasks.map_or(0, |t| t.led),
    );
    ensure!(
        projects == RECORDS as i64 && entries == RECORDS as i64 && tasks == TASKS as i64,
        "the organisation answers for {projects} projects, {entries} entries and {tasks} \
         tasks, not {RECORDS}, {RECORDS} and {TASKS}"
    );
    latencies.sort_unstable();
    let (p50, p99) = (
        percentile_ms(&latencies, 0.5),
        percentile_ms(&latencies, 0.99),
    );
    println!(
        "  GetOrganizationAccountability over {RECORDS} projects, {RECORDS} entries and \
         {TASKS} tasks: p50 {p50:.2} ms, p99 {p99:.2} ms (bar: p99 < {P99_BAR_MS} ms)"
    );
    server.stop().await?;
    Ok(json!({
        "projects": RECORDS,
        "entries": RECORDS,
        "tasks": TASKS,
        "calls": CALLS,
        "p50_ms": p50,
        "p99_ms": p99,
        "bar_p99_ms": P99_BAR_MS,
        "holds": p99 < P99_BAR_MS,
    }))
}

/// Makes the organisation and what it answers for; returns its name.
async fn seed(server: &OwnServer, channel: &Authed) -> Result<String> {
    let organization = OrganizationServiceClient::new(channel.clone())
        .create_organization(CreateOrganizationRequest {
            organization: Some(Organization {
                display_name: "丹江口市水务集团".into(),
                kind: 3,
                region: "regions/420381".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await?
        .into_inner()
        .name;
    let mut pairings = PairingServiceClient::new(channel.clone());
    let program = pairings
        .create_program(CreateProgramRequest {
            program: Some(Program {
                display_name: "京堰对口协作".into(),
                period_start: "2021-01-01".into(),
                period_end: "2035-12-31".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await?
        .into_inner();
    let pairing = pairings
        .create_pairing(CreatePairingRequest {
            pairing: Some(Pairing {
                program: program.name.clone(),
                supporting_region: "regions/110101".into(),
                supported_region: "regions/420381".into(),
                period_start: "2021-01-01".into(),
                period_end: "2025-12-31".into(),
                fields: vec![4],
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await?
        .into_inner();

    // One project of the organisation's, with money allocated, paid and partly paid to it.
    let mut projects = ProjectServiceClient::new(channel.clone());
    let project = projects
        .create_project(CreateProjectRequest {
            project: Some(Project {
                pairing: pairing.name.clone(),
                display_name: "库区截污工程".into(),
                field: 4,
                location: "regions/420381".into(),
                implementing_organization: organization.clone(),
                budget: cny(1_000_000),
                planned_start: "2024-01-01".into(),
                planned_end: "2024-12-31".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await?
        .into_inner();
    let (name, etag) = (project.name.clone(), String::new());
    projects
        .approve_project(ApproveProjectRequest {
            name: name.clone(),
            etag: etag.clone(),
        })
        .await?;
    projects
        .start_project(StartProjectRequest { name, etag })
        .await?;
    let mut funds = FundServiceClient::new(channel.clone());
    for (kind, amount, payee) in [(1, 500_000, ""), (2, 400_000, ""), (3, 300_000, "org")] {
        let line = FundTransaction {
            kind,
            pairing: if kind == 1 {
                pairing.name.clone()
            } else {
                String::new()
            },
            project: if kind == 1 {
                String::new()
            } else {
                project.name.clone()
            },
            fiscal_year: 2024,
            amount: cny(amount),
            source: 1,
            instrument: 1,
            payee_organization: if payee.is_empty() {
                String::new()
            } else {
                organization.clone()
            },
            payee: if payee.is_empty() && kind == 3 {
                "施工方".into()
            } else {
                String::new()
            },
            value_date: "2024-03-01".into(),
            ..Default::default()
        };
        funds
            .record_fund_transaction(RecordFundTransactionRequest {
                fund_transaction: Some(line),
                request_id: String::new(),
            })
            .await
            .context("recording a ledger line")?;
    }

    // One entry it must answer.
    let mut supervision = SupervisionServiceClient::new(channel.clone());
    let entry = supervision
        .submit_supervision_entry(SubmitSupervisionEntryRequest {
            supervision_entry: Some(SupervisionEntry {
                party: 5,
                region: "regions/420381".into(),
                category: 1,
                severity: 3,
                title: "入库支流水质超标".into(),
                description: "神定河口氨氮超标".into(),
                reporter: Some(Reporter {
                    display_name: "张秀兰".into(),
                    contact: "13800000000".into(),
                }),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .context("submitting an entry")?
        .into_inner()
        .supervision_entry
        .context("no entry")?;
    supervision
        .accept_supervision_entry(AcceptSupervisionEntryRequest {
            name: entry.name.clone(),
            due_date: "2099-06-30".into(),
            responsible_organization: organization.clone(),
            ..Default::default()
        })
        .await
        .context("accepting the entry")?;

    // A 2024 plan with the tasks it leads, issued.
    let mut plans = PlanServiceClient::new(channel.clone());
    let plan = plans
        .create_work_plan(CreateWorkPlanRequest {
            work_plan: Some(WorkPlan {
                scope: pairing.name.clone(),
                year: 2024,
                title: "2024年工作计划".into(),
                weights: vec![FieldWeight {
                    field: 3,
                    weight: 100,
                }],
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await?
        .into_inner();
    for i in 0..TASKS {
        plans
            .add_plan_task(AddPlanTaskRequest {
                parent: plan.name.clone(),
                task: Some(PlanTask {
                    title: format!("任务{i}"),
                    field: 3,
                    lead_organization: organization.clone(),
                    due_date: format!("2024-{:02}-28", i % 12 + 1),
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .context("adding a task")?;
    }
    plans
        .issue_work_plan(IssueWorkPlanRequest {
            name: plan.name.clone(),
            etag: String::new(),
        })
        .await?;

    // The rest are copies, made by the database.
    let db = server.store.db();
    let project_id = id_of(&project.name)?;
    let entry_id = id_of(&entry.name)?;
    copy_rows(db, "projects", project_id, &[]).await?;
    copy_rows(
        db,
        "supervision_entries",
        entry_id,
        &[(
            "tracking_hash",
            "CASE WHEN tracking_hash IS NULL THEN NULL ELSE tracking_hash || n.i END",
        )],
    )
    .await?;
    db.execute_unprepared(&format!(
        "INSERT INTO fund_totals SELECT 'projects/' || p.id, t.fiscal_year, t.source, \
         t.instrument, t.field, t.committed_fen, t.allocated_fen, t.disbursed_fen \
         FROM projects p, fund_totals t \
         WHERE p.id <> {project_id} AND t.scope = 'projects/{project_id}'"
    ))
    .await
    .context("copying the projects' totals")?;
    db.execute_unprepared(&format!(
        "INSERT INTO project_balances (project_id, allocated_fen, disbursed_fen) \
         SELECT p.id, b.allocated_fen, b.disbursed_fen FROM projects p, project_balances b \
         WHERE p.id <> {project_id} AND b.project_id = {project_id}"
    ))
    .await
    .context("copying the projects' balances")?;
    Ok(organization)
}

/// The id at the end of a resource name.
fn id_of(name: &str) -> Result<i64> {
    name.rsplit('/')
        .next()
        .and_then(|id| id.parse().ok())
        .with_context(|| format!("no id in {name}"))
}

/// Copies row `id` of `table` until it has [`RECORDS`] such rows, with `changed` columns
/// given as expressions over the copy's number `n.i`.
async fn copy_rows(
    db: &impl ConnectionTrait,
    table: &str,
    id: i64,
    changed: &[(&str, &str)],
) -> Result<()> {
    let columns: Vec<String> = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            format!("SELECT name FROM pragma_table_info('{table}') ORDER BY cid"),
        ))
        .await?
        .iter()
        .map(|row| row.try_get_by_index::<String>(0))
        .collect::<Result<_, _>>()?;
    let columns: Vec<&str> = columns
        .iter()
        .map(String::as_str)
        .filter(|c| *c != "id")
        .collect();
    let values: Vec<String> = columns
        .iter()
        .map(|c| {
            changed
                .iter()
                .find(|(name, _)| name == c)
                .map_or_else(|| format!("\"{c}\""), |(_, expr)| (*expr).to_owned())
        })
        .collect();
    let quoted: Vec<String> = columns.iter().map(|c| format!("\"{c}\"")).collect();
    db.execute_unprepared(&format!(
        "WITH RECURSIVE n(i) AS (SELECT 2 UNION ALL SELECT i + 1 FROM n WHERE i < {RECORDS}) \
         INSERT INTO {table} ({}) SELECT {} FROM {table}, n WHERE {table}.id = {id}",
        quoted.join(", "),
        values.join(", "),
    ))
    .await
    .with_context(|| format!("copying {table}"))?;
    Ok(())
}
