//! The ledger against a reference model: random sequences of commitments, allocations,
//! disbursements, reversals and project steps, some invalid on purpose, run against the
//! real server; every reply and every summary must match what a plain in-memory model of
//! the rules predicts. `PROPTEST_CASES` sets the number of sequences (default 48).

use std::collections::HashMap;

use duikou::proto::v1::{
    AcceptProjectRequest, ApproveProjectRequest, CancelProjectRequest, CompleteProjectRequest,
    FundTransaction, GetFundSummaryRequest, GetProjectRequest, Money, Pairing, Project,
    RecordFundTransactionRequest, ReverseFundTransactionRequest, StartProjectRequest,
};
use proptest::{prelude::*, test_runner::TestRunner};
use tonic::Status;
use tonic_types::StatusExt;

use crate::helpers::{TestApp, pairing, project, spawn};

/// The projects of each sequence: (pairing index, budget in fen, steps taken before the
/// sequence starts). Project 0 starts IN_PROGRESS, 1 APPROVED, 2 PROPOSED.
const PROJECTS: [(usize, i64, &[Step]); 3] = [
    (0, 4_000, &[Step::Approve, Step::Start]),
    (0, 3_000, &[Step::Approve]),
    (1, 2_000, &[]),
];
/// The pairings' period, 2021–2025; the operations mostly use 2024 and 2025, and now and
/// then 2020 or 2026.
const YEARS: std::ops::RangeInclusive<i32> = 2021..=2025;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Approve,
    Start,
    Complete,
    Accept,
    Cancel,
}

#[derive(Debug, Clone)]
enum Op {
    Commit {
        pairing: usize,
        year: i32,
        fen: i64,
    },
    Allocate {
        project: usize,
        year: i32,
        fen: i64,
    },
    Disburse {
        project: usize,
        year: i32,
        fen: i64,
    },
    /// Reverse the line `back` places before the latest (0: the latest).
    Reverse {
        back: usize,
    },
    Step {
        project: usize,
        step: Step,
    },
}

fn op() -> impl Strategy<Value = Op> {
    // Mostly two years, so that lines meet the same balances; sometimes one outside.
    let year = prop_oneof![8 => 2024..=2025i32, 1 => Just(2020), 1 => Just(2026)];
    let fen = prop_oneof![1..=100i64, 100..=3_000i64];
    let step = prop_oneof![
        2 => Just(Step::Approve),
        2 => Just(Step::Start),
        1 => Just(Step::Complete),
        1 => Just(Step::Accept),
        1 => Just(Step::Cancel),
    ];
    prop_oneof![
        // Commitments are larger than the lines that draw on them, so that budgets bind.
        3 => (0..2usize, year.clone(), 500..=5_000i64)
            .prop_map(|(pairing, year, fen)| Op::Commit { pairing, year, fen }),
        4 => (0..3usize, year.clone(), fen.clone())
            .prop_map(|(project, year, fen)| Op::Allocate { project, year, fen }),
        3 => (0..3usize, year, fen)
            .prop_map(|(project, year, fen)| Op::Disburse { project, year, fen }),
        3 => (0..8usize).prop_map(|back| Op::Reverse { back }),
        2 => (0..3usize, step).prop_map(|(project, step)| Op::Step { project, step }),
    ]
}

/// What the model remembers of a line.
#[derive(Debug, Clone)]
struct ModelLine {
    kind: i32,
    pairing: usize,
    project: Option<usize>,
    year: i32,
    fen: i64,
    reversed: bool,
}

/// The rules, written plainly and independently of the server's code.
#[derive(Debug, Default)]
struct Model {
    committed: HashMap<(usize, i32), i64>,
    allocated: HashMap<(usize, i32), i64>,
    states: Vec<&'static str>,
    project_allocated: Vec<i64>,
    project_disbursed: Vec<i64>,
    lines: Vec<ModelLine>,
}

/// An expected outcome: success, or the ErrorInfo reason of the refusal.
type Expected = Result<(), &'static str>;

impl Model {
    fn new() -> Self {
        let mut model = Self {
            states: vec!["PROPOSED"; PROJECTS.len()],
            project_allocated: vec![0; PROJECTS.len()],
            project_disbursed: vec![0; PROJECTS.len()],
            ..Self::default()
        };
        for (project, (_, _, steps)) in PROJECTS.iter().enumerate() {
            for &step in *steps {
                model.step(project, step).expect("a legal opening step");
            }
        }
        model
    }

    fn commit(&mut self, pairing: usize, year: i32, fen: i64) -> Expected {
        if !YEARS.contains(&year) {
            return Err("FISCAL_YEAR_OUTSIDE_PAIRING");
        }
        *self.committed.entry((pairing, year)).or_default() += fen;
        self.push(1, pairing, None, year, fen);
        Ok(())
    }

    fn allocate(&mut self, project: usize, year: i32, fen: i64) -> Expected {
        let pairing = PROJECTS[project].0;
        if !YEARS.contains(&year) {
            return Err("FISCAL_YEAR_OUTSIDE_PAIRING");
        }
        if !matches!(self.states[project], "APPROVED" | "IN_PROGRESS") {
            return Err("PROJECT_NOT_OPEN_FOR_ALLOCATION");
        }
        let key = (pairing, year);
        let free = self.committed.get(&key).copied().unwrap_or(0)
            - self.allocated.get(&key).copied().unwrap_or(0);
        if fen > free {
            return Err("ALLOCATION_EXCEEDS_COMMITMENT");
        }
        if self.project_allocated[project] + fen > PROJECTS[project].1 {
            return Err("ALLOCATION_EXCEEDS_BUDGET");
        }
        *self.allocated.entry(key).or_default() += fen;
        self.project_allocated[project] += fen;
        self.push(2, pairing, Some(project), year, fen);
        Ok(())
    }

    fn disburse(&mut self, project: usize, year: i32, fen: i64) -> Expected {
        if !YEARS.contains(&year) {
            return Err("FISCAL_YEAR_OUTSIDE_PAIRING");
        }
        if self.states[project] != "IN_PROGRESS" {
            return Err("PROJECT_NOT_IN_PROGRESS");
        }
        if self.project_disbursed[project] + fen > self.project_allocated[project] {
            return Err("DISBURSEMENT_EXCEEDS_ALLOCATION");
        }
        self.project_disbursed[project] += fen;
        self.push(3, PROJECTS[project].0, Some(project), year, fen);
        Ok(())
    }

    fn reverse(&mut self, index: usize) -> Expected {
        let Some(line) = self.lines.get(index).cloned() else {
            return Err("FUND_TRANSACTION_NOT_FOUND");
        };
        if line.kind == 4 {
            return Err("REVERSAL_NOT_REVERSIBLE");
        }
        if line.reversed {
            return Err("ALREADY_REVERSED");
        }
        let key = (line.pairing, line.year);
        match (line.kind, line.project) {
            (1, _) => {
                let committed = self.committed[&key];
                if committed - line.fen < self.allocated.get(&key).copied().unwrap_or(0) {
                    return Err("COMMITMENT_IN_USE");
                }
                self.committed.insert(key, committed - line.fen);
            }
            (2, Some(p)) => {
                if self.project_allocated[p] - line.fen < self.project_disbursed[p] {
                    return Err("ALLOCATION_IN_USE");
                }
                *self.allocated.get_mut(&key).unwrap() -= line.fen;
                self.project_allocated[p] -= line.fen;
            }
            (3, Some(p)) => self.project_disbursed[p] -= line.fen,
            other => unreachable!("the model never stores {other:?}"),
        }
        self.lines[index].reversed = true;
        self.push(4, line.pairing, line.project, line.year, line.fen);
        Ok(())
    }

    fn step(&mut self, project: usize, step: Step) -> Expected {
        let next = match (self.states[project], step) {
            ("PROPOSED", Step::Approve) => "APPROVED",
            ("APPROVED", Step::Start) => "IN_PROGRESS",
            ("IN_PROGRESS", Step::Complete) => "COMPLETED",
            ("COMPLETED", Step::Accept) => "ACCEPTED",
            ("PROPOSED" | "APPROVED" | "IN_PROGRESS", Step::Cancel) => "CANCELLED",
            _ => return Err("ILLEGAL_STATE_TRANSITION"),
        };
        self.states[project] = next;
        Ok(())
    }

    fn push(&mut self, kind: i32, pairing: usize, project: Option<usize>, year: i32, fen: i64) {
        self.lines.push(ModelLine {
            kind,
            pairing,
            project,
            year,
            fen,
            reversed: false,
        });
    }

    /// Committed, allocated and disbursed of one pairing over all years, in fen.
    fn pairing_totals(&self, pairing: usize) -> (i64, i64, i64) {
        let committed = self
            .committed
            .iter()
            .filter(|((p, _), _)| *p == pairing)
            .map(|(_, v)| v)
            .sum();
        let allocated = self
            .allocated
            .iter()
            .filter(|((p, _), _)| *p == pairing)
            .map(|(_, v)| v)
            .sum();
        let disbursed = PROJECTS
            .iter()
            .enumerate()
            .filter(|(_, (p, _, _))| *p == pairing)
            .map(|(i, _)| self.project_disbursed[i])
            .sum();
        (committed, allocated, disbursed)
    }
}

fn money(fen: i64) -> Money {
    Money {
        currency_code: "CNY".into(),
        units: fen / 100,
        nanos: (fen % 100) as i32 * 10_000_000,
    }
}

fn fen(money: &Option<Money>) -> i64 {
    let m = money.clone().unwrap_or_default();
    m.units * 100 + i64::from(m.nanos / 10_000_000)
}

fn reason(status: &Status) -> String {
    status
        .get_error_details()
        .error_info()
        .map(|i| i.reason.clone())
        .unwrap_or_default()
}

/// The server side of one sequence: its pairings, projects and the names of its lines.
struct World {
    app: TestApp,
    pairings: Vec<Pairing>,
    projects: Vec<Project>,
    lines: Vec<String>,
}

impl World {
    async fn new() -> World {
        let mut app = spawn().await;
        let program = app.program().await;
        let pairings = vec![
            app.pairing(pairing(&program, "110101", "420381")).await,
            app.pairing(pairing(&program, "110102", "420302")).await,
        ];
        let mut projects = Vec::new();
        for (p, budget, _) in PROJECTS {
            let location = if p == 0 { "420381" } else { "420302" };
            let mut draft = project(&pairings[p], location);
            draft.budget = Some(money(budget));
            projects.push(app.project(draft).await);
        }
        let mut world = World {
            app,
            pairings,
            projects,
            lines: Vec::new(),
        };
        for (project, (_, _, steps)) in PROJECTS.iter().enumerate() {
            for &step in *steps {
                world
                    .run(&Op::Step { project, step }, usize::MAX)
                    .await
                    .expect("a legal opening step");
            }
        }
        world
    }

    async fn record(&mut self, line: FundTransaction) -> Result<(), Status> {
        let reply = self
            .app
            .funds
            .record_fund_transaction(RecordFundTransactionRequest {
                fund_transaction: Some(line),
                request_id: String::new(),
            })
            .await?;
        self.lines.push(reply.into_inner().name);
        Ok(())
    }

    async fn run(&mut self, op: &Op, reversed: usize) -> Result<(), Status> {
        let line = |kind: i32, year: i32, fen: i64| FundTransaction {
            kind,
            fiscal_year: year,
            amount: Some(money(fen)),
            source: 1 + (fen % 4) as i32,
            instrument: 1 + (fen % 3) as i32,
            value_date: "2025-05-01".into(),
            ..Default::default()
        };
        match *op {
            Op::Commit { pairing, year, fen } => {
                self.record(FundTransaction {
                    pairing: self.pairings[pairing].name.clone(),
                    ..line(1, year, fen)
                })
                .await
            }
            Op::Allocate { project, year, fen } => {
                self.record(FundTransaction {
                    project: self.projects[project].name.clone(),
                    ..line(2, year, fen)
                })
                .await
            }
            Op::Disburse { project, year, fen } => {
                self.record(FundTransaction {
                    project: self.projects[project].name.clone(),
                    payee: "施工单位".into(),
                    ..line(3, year, fen)
                })
                .await
            }
            Op::Reverse { .. } => {
                let name = self
                    .lines
                    .get(reversed)
                    .cloned()
                    .unwrap_or_else(|| "fundTransactions/999999".into());
                let reply = self
                    .app
                    .funds
                    .reverse_fund_transaction(ReverseFundTransactionRequest {
                        name,
                        reason: "更正".into(),
                        request_id: String::new(),
                    })
                    .await?;
                self.lines.push(reply.into_inner().name);
                Ok(())
            }
            Op::Step { project, step } => {
                let name = self.projects[project].name.clone();
                let etag = String::new();
                let projects = &mut self.app.projects;
                match step {
                    Step::Approve => projects
                        .approve_project(ApproveProjectRequest { name, etag })
                        .await
                        .map(drop),
                    Step::Start => projects
                        .start_project(StartProjectRequest { name, etag })
                        .await
                        .map(drop),
                    Step::Complete => projects
                        .complete_project(CompleteProjectRequest { name, etag })
                        .await
                        .map(drop),
                    Step::Accept => projects
                        .accept_project(AcceptProjectRequest { name, etag })
                        .await
                        .map(drop),
                    Step::Cancel => projects
                        .cancel_project(CancelProjectRequest {
                            name,
                            reason: "调整".into(),
                            etag,
                        })
                        .await
                        .map(drop),
                }
            }
        }
    }
}

async fn check(ops: Vec<Op>) {
    let mut world = World::new().await;
    let mut model = Model::new();
    for (i, op) in ops.iter().enumerate() {
        // Both sides hold the same lines in the same order.
        let reversed = match *op {
            Op::Reverse { back } => model.lines.len().checked_sub(back + 1),
            _ => None,
        }
        .unwrap_or(usize::MAX);
        let expected = match *op {
            Op::Commit { pairing, year, fen } => model.commit(pairing, year, fen),
            Op::Allocate { project, year, fen } => model.allocate(project, year, fen),
            Op::Disburse { project, year, fen } => model.disburse(project, year, fen),
            Op::Reverse { .. } => model.reverse(reversed),
            Op::Step { project, step } => model.step(project, step),
        };
        let got = world.run(op, reversed).await;
        match (&expected, &got) {
            (Ok(()), Ok(())) => {}
            (Err(want), Err(status)) => {
                assert_eq!(reason(status), *want, "op {i} {op:?}: {status:?}");
            }
            _ => panic!("op {i} {op:?}: the model expected {expected:?}, the server said {got:?}"),
        }
    }
    for (p, pairing) in world.pairings.iter().enumerate() {
        let summary = world
            .app
            .funds
            .get_fund_summary(GetFundSummaryRequest {
                scope: pairing.name.clone(),
                fiscal_year: 0,
            })
            .await
            .unwrap()
            .into_inner();
        let totals = summary.totals.unwrap();
        let (committed, allocated, disbursed) = model.pairing_totals(p);
        assert_eq!(
            (
                fen(&totals.committed),
                fen(&totals.allocated),
                fen(&totals.disbursed)
            ),
            (committed, allocated, disbursed),
            "pairing {p} after {ops:?}"
        );
        assert_eq!(fen(&summary.available_to_allocate), committed - allocated);
    }
    for (i, project) in world.projects.iter().enumerate() {
        let funding = world
            .app
            .projects
            .get_project(GetProjectRequest {
                name: project.name.clone(),
            })
            .await
            .unwrap()
            .into_inner()
            .funding
            .unwrap();
        assert_eq!(
            fen(&funding.allocated),
            model.project_allocated[i],
            "project {i}"
        );
        assert_eq!(
            fen(&funding.disbursed),
            model.project_disbursed[i],
            "project {i}"
        );
    }
}

#[test]
fn the_ledger_answers_every_sequence_as_the_reference_model_does() {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(48);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut runner = TestRunner::new(ProptestConfig {
        cases,
        max_shrink_iters: 200,
        ..ProptestConfig::default()
    });
    let outcome = runner.run(&proptest::collection::vec(op(), 1..80), |ops| {
        runtime.block_on(check(ops));
        Ok(())
    });
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
}
