//! The funds ledger (协作资金): its kinds of line, and the books that decide, line by line,
//! whether a line may be posted.
//!
//! The books hold the balances a batch of lines can touch, read (and, on PostgreSQL,
//! locked) in the writing transaction. [`Books::post`] applies each line to them in turn,
//! so a batch of lines is checked exactly as if the lines came one after another:
//!
//! 1. for each pairing and fiscal year, allocated ≤ committed;
//! 2. for each project, disbursed ≤ allocated ≤ budget;
//! 3. allocation only to an APPROVED or IN_PROGRESS project, disbursement only to an
//!    IN_PROGRESS one;
//! 4. the fiscal year lies inside the pairing's period;
//! 5. a reversal cancels exactly one earlier line, once, is never itself reversed, and may
//!    not break (1) or (2).

use std::collections::HashMap;

use chrono::NaiveDate;

use super::{
    filter::{self, filter},
    money::{Amount, Balance, Sum, add_fen},
    name,
    pairing::CooperationField,
    project::ProjectState,
    region::{RegionCode, RegionPath},
};
use crate::error::Error;

numbered!(
    /// What a ledger line does.
    Kind, "FUND_TRANSACTION_KIND_", {
        /// Money promised to a pairing for a fiscal year.
        Commitment = 1, "COMMITMENT";
        /// Committed money assigned to a project.
        Allocation = 2, "ALLOCATION";
        /// Allocated money paid to a payee.
        Disbursement = 3, "DISBURSEMENT";
        /// The cancellation of one earlier line.
        Reversal = 4, "REVERSAL";
    }
);

numbered!(
    /// Where money comes from.
    Source, "FUND_SOURCE_", {
        /// The supporting side's government.
        SupportingGovernment = 1, "SUPPORTING_GOVERNMENT";
        /// The central government.
        CentralGovernment = 2, "CENTRAL_GOVERNMENT";
        /// Enterprises.
        Enterprise = 3, "ENTERPRISE";
        /// Donations from society.
        SocialDonation = 4, "SOCIAL_DONATION";
    }
);

numbered!(
    /// How money is used.
    Instrument, "FUND_INSTRUMENT_", {
        /// A plain grant.
        Grant = 1, "GRANT";
        /// 贷款贴息.
        LoanInterestSubsidy = 2, "LOAN_INTEREST_SUBSIDY";
        /// 以奖代补.
        AwardInLieuOfSubsidy = 3, "AWARD_IN_LIEU_OF_SUBSIDY";
        /// An investment.
        Investment = 4, "INVESTMENT";
    }
);

/// A checked request to record a commitment, allocation or disbursement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineDraft {
    /// Commitment, allocation or disbursement.
    pub kind: Kind,
    /// The pairing named in the request, if any.
    pub pairing_id: Option<i64>,
    /// The project, for an allocation or disbursement.
    pub project_id: Option<i64>,
    /// The fiscal year.
    pub fiscal_year: i32,
    /// The amount.
    pub amount: Amount,
    /// Where the money comes from.
    pub source: Source,
    /// How it is used.
    pub instrument: Instrument,
    /// Who is paid, for a disbursement.
    pub payee: String,
    /// The registered organisation paid, for a disbursement.
    pub payee_organization_id: Option<i64>,
    /// The day the money moves.
    pub value_date: NaiveDate,
    /// Free text.
    pub memo: String,
}

/// One request to the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// Record a new commitment, allocation or disbursement.
    Record(LineDraft),
    /// Cancel line `line_id`.
    Reverse {
        /// The line to cancel.
        line_id: i64,
        /// Why; kept as the reversal's memo.
        reason: String,
        /// The reversal's value date.
        value_date: NaiveDate,
    },
}

/// What the books know of a pairing.
#[derive(Debug, Clone)]
pub struct PairingFacts {
    /// Its program.
    pub program_id: i64,
    /// The giving region.
    pub supporting: RegionPath,
    /// The receiving region.
    pub supported: RegionPath,
    /// The first and last fiscal years of its period.
    pub years: (i32, i32),
    /// True while ACTIVE and not deleted: new money may move.
    pub open: bool,
}

/// What the books know of a project.
#[derive(Debug, Clone)]
pub struct ProjectFacts {
    /// Its pairing.
    pub pairing_id: i64,
    /// Its state.
    pub state: ProjectState,
    /// Its budget in fen.
    pub budget_fen: i64,
    /// Its field.
    pub field: CooperationField,
}

/// What the books know of an earlier line that a reversal may cancel.
#[derive(Debug, Clone)]
pub struct LineFacts {
    /// What it did.
    pub kind: Kind,
    /// Its pairing.
    pub pairing_id: i64,
    /// Its project.
    pub project_id: Option<i64>,
    /// Its fiscal year.
    pub fiscal_year: i32,
    /// Its amount.
    pub amount: Amount,
    /// Its source.
    pub source: Source,
    /// Its instrument.
    pub instrument: Instrument,
    /// Its project's field.
    pub field: Option<CooperationField>,
    /// The reversal that cancelled it.
    pub reversed_by: Option<i64>,
}

/// A pairing's money in one fiscal year, in fen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct YearBalance {
    /// Committed.
    pub committed: i64,
    /// Allocated.
    pub allocated: i64,
}

/// A project's money, in fen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProjectBalance {
    /// Allocated.
    pub allocated: i64,
    /// Disbursed.
    pub disbursed: i64,
}

/// How a line moves the totals, in fen: positive for a line, negative for a reversal. As
/// a stored total, the sums of every line of one key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Effect {
    /// Change to committed.
    pub committed: i64,
    /// Change to allocated.
    pub allocated: i64,
    /// Change to disbursed.
    pub disbursed: i64,
}

impl Effect {
    /// The effect of a line of `kind` for `fen`.
    fn of(kind: Kind, fen: i64) -> Self {
        match kind {
            Kind::Commitment => Self {
                committed: fen,
                ..Self::default()
            },
            Kind::Allocation => Self {
                allocated: fen,
                ..Self::default()
            },
            Kind::Disbursement => Self {
                disbursed: fen,
                ..Self::default()
            },
            Kind::Reversal => Self::default(),
        }
    }

    /// The effect that cancels this one.
    fn negated(self) -> Self {
        Self {
            committed: -self.committed,
            allocated: -self.allocated,
            disbursed: -self.disbursed,
        }
    }

    /// This effect and `other` together.
    ///
    /// # Errors
    /// FAILED_PRECONDITION `AMOUNT_OUT_OF_RANGE` when a sum leaves `i64`.
    pub fn plus(self, other: Effect) -> Result<Effect, Error> {
        Ok(Self {
            committed: add_fen(self.committed, other.committed, "a committed total")?,
            allocated: add_fen(self.allocated, other.allocated, "an allocated total")?,
            disbursed: add_fen(self.disbursed, other.disbursed, "a disbursed total")?,
        })
    }
}

/// Totals summed over many stored figures, in fen: a summary's, which cannot overflow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sums {
    /// Committed.
    pub committed: Sum,
    /// Allocated.
    pub allocated: Sum,
    /// Disbursed.
    pub disbursed: Sum,
}

impl Sums {
    /// Adds `other`.
    pub fn add(&mut self, other: &Sums) {
        self.committed.add(other.committed.0);
        self.allocated.add(other.allocated.0);
        self.disbursed.add(other.disbursed.0);
    }

    /// True when nothing moved.
    pub fn is_zero(&self) -> bool {
        *self == Sums::default()
    }
}

/// The key of one stored total: a scope (pairing, program or project), a fiscal year, a
/// source, an instrument and a field (none for lines without a project).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TotalKey {
    /// `pairings/{id}`, `programs/{id}` or `projects/{id}`.
    pub scope: String,
    /// The fiscal year.
    pub fiscal_year: i32,
    /// The source.
    pub source: Source,
    /// The instrument.
    pub instrument: Instrument,
    /// The project's field.
    pub field: Option<CooperationField>,
}

/// A line the books accepted, ready to be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posting {
    /// What it does.
    pub kind: Kind,
    /// Its pairing.
    pub pairing_id: i64,
    /// Its project.
    pub project_id: Option<i64>,
    /// Its fiscal year.
    pub fiscal_year: i32,
    /// Its amount.
    pub amount: Amount,
    /// Its source.
    pub source: Source,
    /// Its instrument.
    pub instrument: Instrument,
    /// Its project's field.
    pub field: Option<CooperationField>,
    /// Who is paid.
    pub payee: String,
    /// The registered organisation paid.
    pub payee_organization_id: Option<i64>,
    /// The day the money moves.
    pub value_date: NaiveDate,
    /// Free text.
    pub memo: String,
    /// The line a reversal cancels.
    pub reverses: Option<i64>,
    /// How it moves the totals.
    pub effect: Effect,
}

/// The part of the ledger a batch of lines can touch, with every line accepted so far
/// applied.
#[derive(Debug, Clone, Default)]
pub struct Books {
    /// Pairings, by id.
    pub pairings: HashMap<i64, PairingFacts>,
    /// Projects, by id.
    pub projects: HashMap<i64, ProjectFacts>,
    /// Earlier lines that reversals name, by id.
    pub lines: HashMap<i64, LineFacts>,
    /// Pairing balances, by pairing and fiscal year.
    pub years: HashMap<(i64, i32), YearBalance>,
    /// Project balances, by project.
    pub project_balances: HashMap<i64, ProjectBalance>,
    /// The stored totals the lines can move, by key; a key not here stands at zero.
    pub totals: HashMap<TotalKey, Effect>,
}

/// The balances one line leaves behind: what [`Books::post`] writes into the books once
/// every check has passed, so that a refused line changes nothing.
#[derive(Debug, Default)]
struct Moves {
    year: Option<((i64, i32), YearBalance)>,
    project: Option<(i64, ProjectBalance)>,
    totals: Vec<(TotalKey, Effect)>,
}

/// FAILED_PRECONDITION with the amount still available, in fen and in words.
fn short(reason: &'static str, message: String, available: i64) -> Error {
    Error::FailedPrecondition {
        reason,
        message: format!("{message}; {} is available", Balance(available)),
        metadata: vec![
            ("available_fen", available.to_string()),
            ("available", Balance(available).to_string()),
        ],
    }
}

impl Books {
    /// The pairing a line of `entry` belongs to, when the books know it.
    pub fn pairing_of(&self, entry: &Entry) -> Option<i64> {
        match entry {
            Entry::Record(d) => match d.project_id {
                Some(project) => self.projects.get(&project).map(|p| p.pairing_id),
                None => d.pairing_id,
            },
            Entry::Reverse { line_id, .. } => self.lines.get(line_id).map(|l| l.pairing_id),
        }
    }

    /// The keys of the stored totals that `entry` would move, as far as the books know
    /// what it names: the totals to read before posting it.
    pub fn total_keys(&self, entry: &Entry) -> Vec<TotalKey> {
        let Some(pairing_id) = self.pairing_of(entry) else {
            return Vec::new();
        };
        let Some(pairing) = self.pairings.get(&pairing_id) else {
            return Vec::new();
        };
        let (project_id, fiscal_year, source, instrument, field) = match entry {
            Entry::Record(d) => (
                d.project_id,
                d.fiscal_year,
                d.source,
                d.instrument,
                d.project_id
                    .and_then(|p| self.projects.get(&p))
                    .map(|p| p.field),
            ),
            Entry::Reverse { line_id, .. } => match self.lines.get(line_id) {
                Some(l) => (l.project_id, l.fiscal_year, l.source, l.instrument, l.field),
                None => return Vec::new(),
            },
        };
        total_keys(
            pairing_id,
            pairing.program_id,
            project_id,
            fiscal_year,
            source,
            instrument,
            field,
        )
    }

    /// Applies one entry to the books and returns the line to write. A refused entry
    /// leaves the books as they were.
    ///
    /// # Errors
    /// INVALID_ARGUMENT for a pairing or project that does not exist or does not fit;
    /// NOT_FOUND for a reversal of an unknown line; FAILED_PRECONDITION for every breach
    /// of the ledger's rules, with the amount still available where there is one, and
    /// `AMOUNT_OUT_OF_RANGE` for a line that would take a balance or a total beyond what
    /// a stored figure holds.
    pub fn post(&mut self, entry: &Entry) -> Result<Posting, Error> {
        let (posting, mut moves) = match entry {
            Entry::Record(draft) => self.plan_record(draft)?,
            Entry::Reverse {
                line_id,
                reason,
                value_date,
            } => self.plan_reversal(*line_id, reason, *value_date)?,
        };
        moves.totals = self.moved_totals(&posting)?;
        self.apply(moves, posting.reverses);
        Ok(posting)
    }

    /// Checks a new line and works out the balances it leaves.
    fn plan_record(&self, d: &LineDraft) -> Result<(Posting, Moves), Error> {
        let project = self.named_project(d)?;
        let pairing_id = self.line_pairing(d, project.as_ref())?;
        self.check_open_year(pairing_id, d.fiscal_year)?;
        let fen = d.amount.fen();
        let year_key = (pairing_id, d.fiscal_year);
        let year = self.years.get(&year_key).copied().unwrap_or_default();
        let moves = match (d.kind, &project) {
            (Kind::Commitment, _) => Moves {
                year: Some((year_key, commit(year, fen)?)),
                ..Moves::default()
            },
            (Kind::Allocation, Some((id, p))) => {
                let balance = self.project_balances.get(id).copied().unwrap_or_default();
                let (year, balance) = allocate(year, balance, p, fen, d.fiscal_year)?;
                Moves {
                    year: Some((year_key, year)),
                    project: Some((*id, balance)),
                    ..Moves::default()
                }
            }
            (Kind::Disbursement, Some((id, p))) => {
                let balance = self.project_balances.get(id).copied().unwrap_or_default();
                Moves {
                    project: Some((*id, disburse(balance, p, fen)?)),
                    ..Moves::default()
                }
            }
            (Kind::Allocation | Kind::Disbursement, None) => {
                return Err(Error::invalid(
                    "fund_transaction.project",
                    "is required for an allocation or a disbursement",
                ));
            }
            (Kind::Reversal, _) => {
                return Err(Error::invalid(
                    "fund_transaction.kind",
                    "a reversal is made with ReverseFundTransaction",
                ));
            }
        };
        let posting = Posting {
            kind: d.kind,
            pairing_id,
            project_id: project.as_ref().map(|(id, _)| *id),
            fiscal_year: d.fiscal_year,
            amount: d.amount,
            source: d.source,
            instrument: d.instrument,
            field: project.as_ref().map(|(_, p)| p.field),
            payee: d.payee.clone(),
            payee_organization_id: d.payee_organization_id,
            value_date: d.value_date,
            memo: d.memo.clone(),
            reverses: None,
            effect: Effect::of(d.kind, fen),
        };
        Ok((posting, moves))
    }

    /// The project a new line names, which must be in the books.
    fn named_project(&self, d: &LineDraft) -> Result<Option<(i64, ProjectFacts)>, Error> {
        let Some(id) = d.project_id else {
            return Ok(None);
        };
        let facts = self.projects.get(&id).cloned().ok_or_else(|| {
            Error::invalid(
                "fund_transaction.project",
                format!("{} does not exist", name::format_id("projects", id)),
            )
        })?;
        Ok(Some((id, facts)))
    }

    /// The pairing of a new line: its project's, which a named pairing must match, or the
    /// one named.
    fn line_pairing(
        &self,
        d: &LineDraft,
        project: Option<&(i64, ProjectFacts)>,
    ) -> Result<i64, Error> {
        match (project, d.pairing_id) {
            (Some((_, p)), Some(named)) if p.pairing_id != named => Err(Error::invalid(
                "fund_transaction.pairing",
                format!(
                    "must be the project's pairing, {}",
                    name::format_id("pairings", p.pairing_id)
                ),
            )),
            (Some((_, p)), _) => Ok(p.pairing_id),
            (None, Some(named)) => Ok(named),
            (None, None) => Err(Error::invalid("fund_transaction.pairing", "is required")),
        }
    }

    /// Checks that the pairing exists, is open for new money, and covers `fiscal_year`.
    fn check_open_year(&self, pairing_id: i64, fiscal_year: i32) -> Result<(), Error> {
        let pairing = self.pairings.get(&pairing_id).ok_or_else(|| {
            Error::invalid(
                "fund_transaction.pairing",
                format!("{} does not exist", name::format_id("pairings", pairing_id)),
            )
        })?;
        if !pairing.open {
            return Err(Error::precondition(
                "PAIRING_NOT_ACTIVE",
                "money moves only under an active pairing; reversals are still allowed",
            ));
        }
        let (first, last) = pairing.years;
        if !(first..=last).contains(&fiscal_year) {
            return Err(Error::FailedPrecondition {
                reason: "FISCAL_YEAR_OUTSIDE_PAIRING",
                message: format!(
                    "fiscal year {fiscal_year} lies outside the pairing's period, {first} to \
                     {last}"
                ),
                metadata: vec![
                    ("first_year", first.to_string()),
                    ("last_year", last.to_string()),
                ],
            });
        }
        Ok(())
    }

    /// Checks a reversal of `line_id` and works out the balances it leaves.
    fn plan_reversal(
        &self,
        line_id: i64,
        reason: &str,
        value_date: NaiveDate,
    ) -> Result<(Posting, Moves), Error> {
        let line = self.lines.get(&line_id).ok_or_else(|| Error::NotFound {
            reason: "FUND_TRANSACTION_NOT_FOUND",
            resource: name::format_id("fundTransactions", line_id),
        })?;
        if line.kind == Kind::Reversal {
            return Err(Error::precondition(
                "REVERSAL_NOT_REVERSIBLE",
                "a reversal cannot itself be reversed; record a new line instead",
            ));
        }
        if let Some(by) = line.reversed_by {
            let by = name::format_id("fundTransactions", by);
            return Err(Error::FailedPrecondition {
                reason: "ALREADY_REVERSED",
                message: format!("the line was already reversed by {by}"),
                metadata: vec![("reversed_by", by)],
            });
        }
        let fen = line.amount.fen();
        let year_key = (line.pairing_id, line.fiscal_year);
        let year = self.years.get(&year_key).copied().unwrap_or_default();
        let balance_of = |project: i64| {
            self.project_balances
                .get(&project)
                .copied()
                .unwrap_or_default()
        };
        let moves = match (line.kind, line.project_id) {
            (Kind::Commitment, _) => Moves {
                year: Some((year_key, uncommit(year, fen)?)),
                ..Moves::default()
            },
            (Kind::Allocation, Some(project)) => {
                let (year, balance) = unallocate(year, balance_of(project), fen)?;
                Moves {
                    year: Some((year_key, year)),
                    project: Some((project, balance)),
                    ..Moves::default()
                }
            }
            (Kind::Disbursement, Some(project)) => {
                let balance = balance_of(project);
                // The line being reversed is part of what was disbursed.
                let balance = ProjectBalance {
                    disbursed: balance.disbursed - fen,
                    ..balance
                };
                Moves {
                    project: Some((project, balance)),
                    ..Moves::default()
                }
            }
            // Allocations and disbursements always name a project; reversals were refused.
            (kind, _) => {
                return Err(
                    anyhow::anyhow!("stored {kind:?} line {line_id} cannot be reversed").into(),
                );
            }
        };
        let posting = Posting {
            kind: Kind::Reversal,
            pairing_id: line.pairing_id,
            project_id: line.project_id,
            fiscal_year: line.fiscal_year,
            amount: line.amount,
            source: line.source,
            instrument: line.instrument,
            field: line.field,
            payee: String::new(),
            payee_organization_id: None,
            value_date,
            memo: reason.to_owned(),
            reverses: Some(line_id),
            effect: Effect::of(line.kind, fen).negated(),
        };
        Ok((posting, moves))
    }

    /// The totals `posting` moves, as they stand after it.
    ///
    /// # Errors
    /// FAILED_PRECONDITION `AMOUNT_OUT_OF_RANGE` when a total would leave `i64`; INTERNAL
    /// when the posting's pairing left the books.
    fn moved_totals(&self, posting: &Posting) -> Result<Vec<(TotalKey, Effect)>, Error> {
        self.moved_keys(posting)?
            .into_iter()
            .map(|key| {
                let now = self.totals.get(&key).copied().unwrap_or_default();
                Ok((key, now.plus(posting.effect)?))
            })
            .collect()
    }

    /// The keys of the totals an accepted `posting` moves.
    ///
    /// # Errors
    /// INTERNAL when the posting's pairing left the books.
    pub fn moved_keys(&self, posting: &Posting) -> Result<Vec<TotalKey>, Error> {
        let pairing = self
            .pairings
            .get(&posting.pairing_id)
            .ok_or_else(|| anyhow::anyhow!("pairing {} left the books", posting.pairing_id))?;
        Ok(total_keys(
            posting.pairing_id,
            pairing.program_id,
            posting.project_id,
            posting.fiscal_year,
            posting.source,
            posting.instrument,
            posting.field,
        ))
    }

    /// Writes what a checked line leaves into the books; a reversed line is marked at
    /// once, so that a second reversal in the same batch is refused too (its number is
    /// filled in when the batch is written).
    fn apply(&mut self, moves: Moves, reverses: Option<i64>) {
        if let Some((key, year)) = moves.year {
            self.years.insert(key, year);
        }
        if let Some((id, balance)) = moves.project {
            self.project_balances.insert(id, balance);
        }
        for (key, total) in moves.totals {
            self.totals.insert(key, total);
        }
        if let Some(line) = reverses.and_then(|id| self.lines.get_mut(&id)) {
            line.reversed_by = Some(0);
        }
    }
}

/// A pairing-year after a commitment of `fen`.
fn commit(year: YearBalance, fen: i64) -> Result<YearBalance, Error> {
    Ok(YearBalance {
        committed: add_fen(
            year.committed,
            fen,
            "the pairing's commitments for the year",
        )?,
        ..year
    })
}

/// A pairing-year and a project after an allocation of `fen`, which must fit both what
/// the year has committed and not allocated, and what the project's budget leaves.
fn allocate(
    year: YearBalance,
    balance: ProjectBalance,
    project: &ProjectFacts,
    fen: i64,
    fiscal_year: i32,
) -> Result<(YearBalance, ProjectBalance), Error> {
    if !matches!(
        project.state,
        ProjectState::Approved | ProjectState::InProgress
    ) {
        return Err(Error::FailedPrecondition {
            reason: "PROJECT_NOT_OPEN_FOR_ALLOCATION",
            message: format!(
                "allocations go only to APPROVED or IN_PROGRESS projects, and this one is {}",
                project.state
            ),
            metadata: vec![("state", project.state.to_string())],
        });
    }
    // Both balances keep allocated ≤ committed (≤ budget), so neither difference wraps.
    let uncommitted = year.committed - year.allocated;
    if fen > uncommitted {
        return Err(short(
            "ALLOCATION_EXCEEDS_COMMITMENT",
            format!(
                "the allocation exceeds what is committed to the pairing for {fiscal_year} and \
                 not yet allocated"
            ),
            uncommitted,
        ));
    }
    let unbudgeted = project.budget_fen - balance.allocated;
    if fen > unbudgeted {
        return Err(short(
            "ALLOCATION_EXCEEDS_BUDGET",
            "the allocation would take the project beyond its budget".to_owned(),
            unbudgeted,
        ));
    }
    // Each sum stays below the figure it was just compared with.
    Ok((
        YearBalance {
            allocated: year.allocated + fen,
            ..year
        },
        ProjectBalance {
            allocated: balance.allocated + fen,
            ..balance
        },
    ))
}

/// A project after a disbursement of `fen`, which must fit what it was allocated and
/// has not paid out.
fn disburse(
    balance: ProjectBalance,
    project: &ProjectFacts,
    fen: i64,
) -> Result<ProjectBalance, Error> {
    if project.state != ProjectState::InProgress {
        return Err(Error::FailedPrecondition {
            reason: "PROJECT_NOT_IN_PROGRESS",
            message: format!(
                "disbursements go only to IN_PROGRESS projects, and this one is {}",
                project.state
            ),
            metadata: vec![("state", project.state.to_string())],
        });
    }
    let undisbursed = balance.allocated - balance.disbursed;
    if fen > undisbursed {
        return Err(short(
            "DISBURSEMENT_EXCEEDS_ALLOCATION",
            "the disbursement exceeds what the project was allocated and has not yet paid out"
                .to_owned(),
            undisbursed,
        ));
    }
    Ok(ProjectBalance {
        disbursed: balance.disbursed + fen,
        ..balance
    })
}

/// A pairing-year after a commitment of `fen` is reversed; allocations must not use it.
fn uncommit(year: YearBalance, fen: i64) -> Result<YearBalance, Error> {
    let free = year.committed - year.allocated;
    if fen > free {
        return Err(short(
            "COMMITMENT_IN_USE",
            "allocations already use this commitment; reverse them first".to_owned(),
            free,
        ));
    }
    Ok(YearBalance {
        committed: year.committed - fen,
        ..year
    })
}

/// A pairing-year and a project after an allocation of `fen` is reversed; disbursements
/// must not use it.
fn unallocate(
    year: YearBalance,
    balance: ProjectBalance,
    fen: i64,
) -> Result<(YearBalance, ProjectBalance), Error> {
    let free = balance.allocated - balance.disbursed;
    if fen > free {
        return Err(short(
            "ALLOCATION_IN_USE",
            "disbursements already use this allocation; reverse them first".to_owned(),
            free,
        ));
    }
    Ok((
        YearBalance {
            allocated: year.allocated - fen,
            ..year
        },
        ProjectBalance {
            allocated: balance.allocated - fen,
            ..balance
        },
    ))
}

/// The scopes whose totals a line of `pairing_id` (and `project`) moves: the pairing, its
/// program and the project. A region's summary adds up the totals of the pairings on
/// either side of it, so that a line moves three totals rather than one per region too.
pub fn summary_scopes(pairing_id: i64, program_id: i64, project: Option<i64>) -> Vec<String> {
    let mut scopes = vec![
        name::format_id("pairings", pairing_id),
        name::format_id("programs", program_id),
    ];
    if let Some(project) = project {
        scopes.push(name::format_id("projects", project));
    }
    scopes
}

/// The keys of the totals a line moves: one per [`summary_scopes`].
fn total_keys(
    pairing_id: i64,
    program_id: i64,
    project_id: Option<i64>,
    fiscal_year: i32,
    source: Source,
    instrument: Instrument,
    field: Option<CooperationField>,
) -> Vec<TotalKey> {
    summary_scopes(pairing_id, program_id, project_id)
        .into_iter()
        .map(|scope| TotalKey {
            scope,
            fiscal_year,
            source,
            instrument,
            field,
        })
        .collect()
}

filter! {
    /// The typed query of `ListFundTransactions`.
    pub struct LineFilter of "ListFundTransactions" {
        /// `pairing = "pairings/{id}"`.
        "pairing" => pairing_id: i64 = filter::id_in("pairings"),
        /// `project = "projects/{id}"`.
        "project" => project_id: i64 = filter::id_in("projects"),
        /// `kind = ALLOCATION`.
        "kind" => kind: Kind = filter::word,
        /// `fiscal_year = 2025`.
        "fiscal_year" => fiscal_year: i32 =
            filter::parsed(|v| v.parse().ok(), "a year such as 2025"),
        /// `source = ENTERPRISE`.
        "source" => source: Source = filter::parsed(Source::from_word, "a fund source"),
        /// `instrument = GRANT`.
        "instrument" => instrument: Instrument =
            filter::parsed(Instrument::from_word, "a fund instrument"),
        /// `region = "regions/…"`: lines of pairings with either region inside that one.
        "region" => region: RegionCode = filter::equals(RegionCode::from_condition),
        /// `payee_organization = "organizations/{id}"`.
        "payee_organization" => payee_organization_id: i64 = filter::id_in("organizations"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yuan(y: i64) -> Amount {
        Amount::parse("amount", "CNY", y, 0).unwrap()
    }

    /// Pairing 1 (2021–2025) with project 10 (budget 100 yuan) in `state`.
    fn books(state: ProjectState) -> Books {
        let mut books = Books::default();
        books.pairings.insert(
            1,
            PairingFacts {
                program_id: 7,
                supporting: RegionPath::through(&["110000", "110101"]),
                supported: RegionPath::through(&["420000", "420300", "420381"]),
                years: (2021, 2025),
                open: true,
            },
        );
        books.projects.insert(
            10,
            ProjectFacts {
                pairing_id: 1,
                state,
                budget_fen: 10_000,
                field: CooperationField::WaterSource,
            },
        );
        books
    }

    fn line(kind: Kind, project: Option<i64>, year: i32, amount: i64) -> Entry {
        Entry::Record(LineDraft {
            kind,
            pairing_id: Some(1),
            project_id: project,
            fiscal_year: year,
            amount: yuan(amount),
            source: Source::SupportingGovernment,
            instrument: Instrument::Grant,
            payee: "丹江口市水务局".to_owned(),
            payee_organization_id: None,
            value_date: NaiveDate::from_ymd_opt(2025, 3, 1).unwrap(),
            memo: String::new(),
        })
    }

    fn reason_of(result: Result<Posting, Error>) -> &'static str {
        match result {
            Err(Error::FailedPrecondition { reason, .. }) => reason,
            Err(Error::InvalidArgument { .. }) => "INVALID_ARGUMENT",
            Err(Error::NotFound { reason, .. }) => reason,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn allocation_stops_at_what_the_pairing_committed_for_that_year() {
        let mut b = books(ProjectState::Approved);
        b.post(&line(Kind::Commitment, None, 2025, 60)).unwrap();

        b.post(&line(Kind::Allocation, Some(10), 2025, 40)).unwrap();
        let over = b.post(&line(Kind::Allocation, Some(10), 2025, 21));
        let other_year = b.post(&line(Kind::Allocation, Some(10), 2024, 1));

        match over {
            Err(Error::FailedPrecondition {
                reason, metadata, ..
            }) => {
                assert_eq!(reason, "ALLOCATION_EXCEEDS_COMMITMENT");
                assert!(metadata.contains(&("available_fen", "2000".to_owned())));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(reason_of(other_year), "ALLOCATION_EXCEEDS_COMMITMENT");
        assert_eq!(
            b.years[&(1, 2025)],
            YearBalance {
                committed: 6000,
                allocated: 4000
            }
        );
    }

    #[test]
    fn a_project_takes_no_more_than_its_budget_and_pays_no_more_than_it_got() {
        let mut b = books(ProjectState::InProgress);
        b.post(&line(Kind::Commitment, None, 2025, 500)).unwrap();
        b.post(&line(Kind::Allocation, Some(10), 2025, 100))
            .unwrap();

        let beyond_budget = b.post(&line(Kind::Allocation, Some(10), 2025, 1));
        b.post(&line(Kind::Disbursement, Some(10), 2025, 70))
            .unwrap();
        let beyond_allocation = b.post(&line(Kind::Disbursement, Some(10), 2025, 31));

        assert_eq!(reason_of(beyond_budget), "ALLOCATION_EXCEEDS_BUDGET");
        assert_eq!(
            reason_of(beyond_allocation),
            "DISBURSEMENT_EXCEEDS_ALLOCATION"
        );
        assert_eq!(
            b.project_balances[&10],
            ProjectBalance {
                allocated: 10_000,
                disbursed: 7_000
            }
        );
    }

    #[test]
    fn money_moves_only_to_projects_in_the_right_state_and_years_in_the_period() {
        for (state, allocate, disburse) in [
            (ProjectState::Proposed, false, false),
            (ProjectState::Approved, true, false),
            (ProjectState::InProgress, true, true),
            (ProjectState::Completed, false, false),
            (ProjectState::Cancelled, false, false),
        ] {
            let mut b = books(state);
            b.project_balances.insert(
                10,
                ProjectBalance {
                    allocated: 5_000,
                    disbursed: 0,
                },
            );
            b.post(&line(Kind::Commitment, None, 2025, 100)).unwrap();
            assert_eq!(
                b.post(&line(Kind::Allocation, Some(10), 2025, 1)).is_ok(),
                allocate,
                "{state}"
            );
            assert_eq!(
                b.post(&line(Kind::Disbursement, Some(10), 2025, 1)).is_ok(),
                disburse,
                "{state}"
            );
        }
        let mut b = books(ProjectState::Approved);
        assert_eq!(
            reason_of(b.post(&line(Kind::Commitment, None, 2026, 1))),
            "FISCAL_YEAR_OUTSIDE_PAIRING"
        );
        assert_eq!(
            reason_of(b.post(&line(Kind::Commitment, None, 2020, 1))),
            "FISCAL_YEAR_OUTSIDE_PAIRING"
        );
    }

    fn stored(kind: Kind, project: Option<i64>, amount: i64) -> LineFacts {
        LineFacts {
            kind,
            pairing_id: 1,
            project_id: project,
            fiscal_year: 2025,
            amount: yuan(amount),
            source: Source::Enterprise,
            instrument: Instrument::Investment,
            field: project.map(|_| CooperationField::WaterSource),
            reversed_by: None,
        }
    }

    fn reversal(line_id: i64) -> Entry {
        Entry::Reverse {
            line_id,
            reason: "录入错误".to_owned(),
            value_date: NaiveDate::from_ymd_opt(2025, 4, 1).unwrap(),
        }
    }

    #[test]
    fn a_reversal_cancels_one_line_once_and_never_breaks_a_balance() {
        let mut b = books(ProjectState::InProgress);
        b.lines.insert(1, stored(Kind::Commitment, None, 100));
        b.lines.insert(2, stored(Kind::Allocation, Some(10), 60));
        b.lines.insert(3, stored(Kind::Disbursement, Some(10), 50));
        b.lines.insert(4, {
            let mut r = stored(Kind::Reversal, Some(10), 50);
            r.kind = Kind::Reversal;
            r
        });
        b.years.insert(
            (1, 2025),
            YearBalance {
                committed: 10_000,
                allocated: 6_000,
            },
        );
        b.project_balances.insert(
            10,
            ProjectBalance {
                allocated: 6_000,
                disbursed: 5_000,
            },
        );

        assert_eq!(reason_of(b.post(&reversal(1))), "COMMITMENT_IN_USE");
        assert_eq!(reason_of(b.post(&reversal(2))), "ALLOCATION_IN_USE");
        assert_eq!(reason_of(b.post(&reversal(4))), "REVERSAL_NOT_REVERSIBLE");
        assert_eq!(
            reason_of(b.post(&reversal(9))),
            "FUND_TRANSACTION_NOT_FOUND"
        );
        let undo_payment = b.post(&reversal(3)).unwrap();
        assert_eq!(reason_of(b.post(&reversal(3))), "ALREADY_REVERSED");
        let undo_allocation = b.post(&reversal(2)).unwrap();
        let undo_commitment = b.post(&reversal(1)).unwrap();

        assert_eq!(undo_payment.effect.disbursed, -5_000);
        assert_eq!(
            undo_payment.source,
            Source::Enterprise,
            "copied from the line"
        );
        assert_eq!(undo_allocation.effect.allocated, -6_000);
        assert_eq!(undo_commitment.effect.committed, -10_000);
        assert_eq!(undo_commitment.reverses, Some(1));
        assert_eq!(b.years[&(1, 2025)], YearBalance::default());
        assert_eq!(b.project_balances[&10], ProjectBalance::default());
    }

    #[test]
    fn a_closed_pairing_takes_no_new_money_and_a_project_keeps_to_its_pairing() {
        let mut b = books(ProjectState::Approved);
        let mut elsewhere = line(Kind::Allocation, Some(10), 2025, 1);
        if let Entry::Record(d) = &mut elsewhere {
            d.pairing_id = Some(2);
        }
        assert_eq!(reason_of(b.post(&elsewhere)), "INVALID_ARGUMENT");
        b.pairings.get_mut(&1).unwrap().open = false;
        assert_eq!(
            reason_of(b.post(&line(Kind::Commitment, None, 2025, 1))),
            "PAIRING_NOT_ACTIVE"
        );
    }

    #[test]
    fn a_line_counts_toward_its_pairing_program_and_project() {
        let b = books(ProjectState::Approved);
        let program = b.pairings[&1].program_id;
        assert_eq!(
            summary_scopes(1, program, Some(10)),
            ["pairings/1", "programs/7", "projects/10"]
        );
        assert_eq!(
            summary_scopes(1, program, None),
            ["pairings/1", "programs/7"]
        );
    }

    #[test]
    fn a_line_that_would_overflow_a_balance_is_refused_and_changes_nothing() {
        let mut b = books(ProjectState::Approved);
        let full = YearBalance {
            committed: i64::MAX - 50,
            allocated: 0,
        };
        b.years.insert((1, 2025), full);

        let over = b.post(&line(Kind::Commitment, None, 2025, 1));
        let fits = b.post(&line(Kind::Commitment, None, 2024, 1));

        assert_eq!(reason_of(over), "AMOUNT_OUT_OF_RANGE");
        assert!(fits.is_ok());
        assert_eq!(b.years[&(1, 2025)], full);
        assert!(
            b.totals.keys().all(|k| k.fiscal_year == 2024),
            "{:?}",
            b.totals
        );
    }

    #[test]
    fn a_line_that_would_overflow_a_total_is_refused_and_changes_nothing() {
        let mut b = books(ProjectState::Approved);
        let commitment = line(Kind::Commitment, None, 2025, 1);
        let program_key = b
            .total_keys(&commitment)
            .into_iter()
            .find(|k| k.scope == "programs/7")
            .unwrap();
        let nearly_full = Effect {
            committed: i64::MAX - 50,
            ..Effect::default()
        };
        b.totals.insert(program_key.clone(), nearly_full);

        let over = b.post(&commitment);
        let allocation_fits = b.post(&line(Kind::Commitment, None, 2024, 1));

        assert_eq!(reason_of(over), "AMOUNT_OUT_OF_RANGE");
        assert!(allocation_fits.is_ok());
        assert_eq!(b.totals[&program_key], nearly_full);
        assert!(!b.years.contains_key(&(1, 2025)));
    }

    #[test]
    fn the_totals_to_read_are_those_a_line_moves() {
        let mut b = books(ProjectState::InProgress);
        b.lines.insert(5, stored(Kind::Allocation, Some(10), 1));
        let scopes = |keys: Vec<TotalKey>| -> Vec<(String, Option<CooperationField>)> {
            keys.into_iter().map(|k| (k.scope, k.field)).collect()
        };
        let water = Some(CooperationField::WaterSource);

        let allocation = scopes(b.total_keys(&line(Kind::Allocation, Some(10), 2025, 1)));
        let undo = b.total_keys(&reversal(5));
        let unknown = b.total_keys(&reversal(6));

        assert_eq!(
            allocation,
            [
                ("pairings/1".to_owned(), water),
                ("programs/7".to_owned(), water),
                ("projects/10".to_owned(), water)
            ]
        );
        assert_eq!(undo.len(), 3);
        assert!(undo.iter().all(|k| k.source == Source::Enterprise));
        assert!(unknown.is_empty());
    }

    #[test]
    fn line_filters_read_every_field() {
        let f = LineFilter::parse(
            "pairing = \"pairings/1\" AND project = \"projects/2\" AND kind = ALLOCATION AND \
             fiscal_year = 2025 AND source = ENTERPRISE AND instrument = GRANT AND \
             region = \"regions/420300\"",
        )
        .unwrap();
        assert_eq!(f.pairing_id, Some(1));
        assert_eq!(f.project_id, Some(2));
        assert_eq!(f.kind, Some(Kind::Allocation));
        assert_eq!(f.fiscal_year, Some(2025));
        assert_eq!(f.source, Some(Source::Enterprise));
        assert_eq!(f.instrument, Some(Instrument::Grant));
        assert_eq!(f.region.unwrap().as_str(), "420300");
        for bad in ["fiscal_year = soon", "kind = GIFT", "amount = 5"] {
            assert!(LineFilter::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn enums_read_their_words_and_numbers() {
        assert_eq!(Kind::from_word("ALLOCATION"), Some(Kind::Allocation));
        assert_eq!(
            Source::from_word("FUND_SOURCE_ENTERPRISE"),
            Some(Source::Enterprise)
        );
        assert_eq!(
            Instrument::from_number(2),
            Some(Instrument::LoanInterestSubsidy)
        );
        assert_eq!(Instrument::from_number(0), None);
    }
}
