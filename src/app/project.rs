//! Projects: proposing them under an active pairing, changing their fields, and taking
//! them through their lifecycle. Every change is to a project whose pairing lies inside
//! the caller's reach, checked before whether the project exists.

use super::{
    Create, Edit,
    organization::Link,
    pairing::{not_found as pairing_not_found, placement_of, reached},
};
use crate::{
    domain::{
        access::require_scope,
        money::{Balance, MoneyFields},
        name,
        pairing::{CooperationField, PairingState},
        patch::Patch,
        period::{self, format_date},
        project::{self as rules, Milestone, PairingFrame, ProjectDraft, ProjectFields, Step},
        region::{RegionCode, RegionPath},
        revision::check_etag,
    },
    error::Error,
    store::{
        Hold, by_id,
        pairing::PairingRow,
        project::{self as projects, NewProject, ProjectBalanceRow, ProjectChange, ProjectRow},
        region::{self, RegionRow},
        tx::{Change, Tx},
    },
};

/// NOT_FOUND for project `id`.
pub fn not_found(id: i64) -> Error {
    Error::NotFound {
        reason: "PROJECT_NOT_FOUND",
        resource: name::format_id("projects", id),
    }
}

/// A stored project with its balance: what the API shows of it.
#[derive(Debug, Clone)]
pub struct FundedProject {
    /// The project.
    pub row: ProjectRow,
    /// The money allocated to it and disbursed from it.
    pub balance: ProjectBalanceRow,
}

impl FundedProject {
    /// `row` with its balance as the transaction sees it.
    async fn read(tx: &Tx<'_>, row: ProjectRow) -> Result<Self, Error> {
        let balance = projects::balance(tx.db(), row.id).await?;
        Ok(Self { row, balance })
    }
}

/// CreateProject: a proposed project under an active pairing in the caller's reach, placed
/// inside that pairing.
pub struct CreateProject {
    /// The pairing's id.
    pub pairing_id: i64,
    /// The project's cooperation field.
    pub field: CooperationField,
    /// The fields that callers write.
    pub draft: ProjectDraft,
}

impl Create for CreateProject {
    type Made = FundedProject;

    async fn make(&self, tx: &mut Tx<'_>) -> Result<FundedProject, Error> {
        let (pairing_id, draft) = (self.pairing_id, &self.draft);
        let pairing = pairing_in_reach(tx, pairing_id, || {
            Error::invalid(
                "project.pairing",
                format!("{} does not exist", name::format_id("pairings", pairing_id)),
            )
        })
        .await?;
        if pairing.delete_time.is_some() {
            return Err(Error::invalid(
                "project.pairing",
                format!("{} is deleted", name::format_id("pairings", pairing_id)),
            ));
        }
        if pairing.state != PairingState::Active {
            return Err(Error::precondition(
                "PAIRING_NOT_ACTIVE",
                "projects may be proposed only under an active pairing",
            ));
        }
        let location = location_row(tx, &draft.location).await?;
        let implementing_org = implementer(draft).words(tx, &[]).await?;
        rules::check_placement(
            &frame_of(&pairing)?,
            &RegionPath::from_stored(location.path.clone()),
            self.field,
            &draft.planned,
        )?;
        let row = projects::insert(
            tx.db(),
            &NewProject {
                pairing_id,
                display_name: &draft.display_name,
                description: &draft.description,
                field: self.field,
                location: (&location.code, &location.path),
                implementing_org: &implementing_org,
                implementing_organization_id: draft.implementing_organization_id,
                budget: draft.budget,
                planned: draft.planned,
                progress_percent: draft.progress_percent,
                milestones: &draft.milestones,
            },
        )
        .await?;
        FundedProject::read(tx, row).await
    }

    /// A replay is authorized as the request was: its pairing must lie in the caller's
    /// reach.
    async fn replay(&self, tx: &mut Tx<'_>, earlier: &str) -> Result<FundedProject, Error> {
        let id = name::parse_id("request_id", "projects", earlier)?;
        let row = by_id::<ProjectRow>(tx.db(), id, Hold::Nothing)
            .await?
            .ok_or_else(|| not_found(id))?;
        pairing_in_reach(tx, row.pairing_id, || not_found(id)).await?;
        FundedProject::read(tx, row).await
    }
}

/// UpdateProject: the sent fields over an open project, still placed inside its pairing,
/// with a budget no smaller than what is already allocated to it.
pub type UpdateProject = Edit<Patch<ProjectFields>>;

impl Change for UpdateProject {
    type Output = FundedProject;

    async fn apply(&self, tx: &mut Tx<'_>) -> Result<FundedProject, Error> {
        let id = self.id;
        let (current, pairing) = for_update(tx, id, &self.etag).await?;
        let state = current.state;
        if state.is_final() {
            return Err(Error::FailedPrecondition {
                reason: "PROJECT_CLOSED",
                message: format!("a project in state {state} cannot change"),
                metadata: vec![("state", state.to_string())],
            });
        }
        let draft = ProjectDraft::parse(&self.what.over(fields_of(&current)?))?;
        let location = location_row(tx, &draft.location).await?;
        let implementing_org = implementer(&draft).words(tx, &self.what.paths).await?;
        let field = current.field;
        let mut frame = frame_of(&pairing)?;
        // The pairing's fields may have changed since; the project's stays.
        frame.fields.push(field);
        rules::check_placement(
            &frame,
            &RegionPath::from_stored(location.path.clone()),
            field,
            &draft.planned,
        )?;
        let allocated = projects::balance(tx.db(), id).await?.allocated_fen;
        if draft.budget.fen() < allocated {
            return Err(Error::FailedPrecondition {
                reason: "BUDGET_BELOW_ALLOCATED",
                message: format!(
                    "the budget cannot fall below the {} already allocated",
                    Balance(allocated)
                ),
                metadata: vec![("allocated_fen", allocated.to_string())],
            });
        }
        let change = ProjectChange {
            display_name: Some(draft.display_name),
            description: Some(draft.description),
            location: Some(location),
            implementing_org: Some(implementing_org),
            implementing_organization_id: Some(draft.implementing_organization_id),
            budget: Some(draft.budget),
            planned: Some(draft.planned),
            progress_percent: Some(draft.progress_percent),
            milestones: Some(draft.milestones),
            ..Default::default()
        };
        save(tx, &current, change).await
    }
}

/// ApproveProject, StartProject, CompleteProject, AcceptProject and CancelProject: one
/// step of a project's lifecycle. Completing sets its progress to 100; cancelling keeps
/// the reason.
pub struct StepProject {
    /// The project's id.
    pub id: i64,
    /// The etag the caller read, or empty.
    pub etag: String,
    /// The step.
    pub step: Step,
    /// Why, for a cancellation.
    pub reason: Option<String>,
}

impl Change for StepProject {
    type Output = FundedProject;

    async fn apply(&self, tx: &mut Tx<'_>) -> Result<FundedProject, Error> {
        let (current, _) = for_update(tx, self.id, &self.etag).await?;
        let change = ProjectChange {
            state: Some(current.state.apply(self.step)?),
            progress_percent: (self.step == Step::Complete).then_some(100),
            cancel_reason: self.reason.clone(),
            ..Default::default()
        };
        save(tx, &current, change).await
    }
}

/// Writes a change to a project and records it, with its balance.
async fn save(
    tx: &mut Tx<'_>,
    current: &ProjectRow,
    change: ProjectChange,
) -> Result<FundedProject, Error> {
    let row = projects::save(tx.db(), current, change).await?;
    let project = FundedProject::read(tx, row).await?;
    tx.record(None, &project);
    Ok(project)
}

/// The pairing a project or an exchange hangs off, inside the caller's reach and
/// read-locked. Permission comes before existence: a scoped caller learns nothing of
/// pairings outside its scope; `missing` is the error for one that does not exist.
///
/// # Errors
/// PERMISSION_DENIED `OUTSIDE_SCOPE`, or `missing()`.
pub async fn pairing_in_reach(
    tx: &Tx<'_>,
    id: i64,
    missing: impl FnOnce() -> Error,
) -> Result<PairingRow, Error> {
    let caller = tx.caller()?;
    let found = by_id::<PairingRow>(tx.db(), id, Hold::Share).await?;
    let reach = |row: &PairingRow| {
        let placement = placement_of(row)?;
        require_scope(caller, &[&placement.supporting, &placement.supported])
    };
    reached(caller, found, reach, missing)
}

/// A row that hangs off a pairing, as a lookup `found` it, inside the caller's reach with
/// its pairing (read-locked), whose id `pairing_id` reads from the row. Permission comes
/// before existence; `missing` is the error for a row that does not exist.
///
/// # Errors
/// PERMISSION_DENIED `OUTSIDE_SCOPE`, `missing()`, or NOT_FOUND for a pairing that is gone.
pub async fn hung_in_reach<R>(
    tx: &Tx<'_>,
    found: Option<R>,
    pairing_id: impl FnOnce(&R) -> i64,
    missing: impl FnOnce() -> Error,
) -> Result<(R, PairingRow), Error> {
    let row = reached(tx.caller()?, found, |_| Ok(()), missing)?;
    let pairing_id = pairing_id(&row);
    let pairing = pairing_in_reach(tx, pairing_id, || pairing_not_found(pairing_id)).await?;
    Ok((row, pairing))
}

/// A project inside the caller's reach, locked for change, at the revision the caller
/// read, with its pairing.
async fn for_update(
    tx: &Tx<'_>,
    id: i64,
    sent_etag: &str,
) -> Result<(ProjectRow, PairingRow), Error> {
    let found = by_id::<ProjectRow>(tx.db(), id, Hold::Update).await?;
    let (row, pairing) = hung_in_reach(tx, found, |r| r.pairing_id, || not_found(id)).await?;
    check_etag(sent_etag, row.revision)?;
    Ok((row, pairing))
}

/// The organisation a project's draft names as its implementer, beside the words.
fn implementer(draft: &ProjectDraft) -> Link<'_> {
    Link {
        prefix: "project.",
        fields: ("implementing_organization", "implementing_org"),
        id: draft.implementing_organization_id,
        words: &draft.implementing_org,
    }
}

/// The fields of a stored project as a request would send them, for an update to write
/// over.
fn fields_of(row: &ProjectRow) -> Result<ProjectFields, Error> {
    let milestones = Milestone::load_list(&row.milestones)?;
    Ok(ProjectFields {
        display_name: row.display_name.clone(),
        description: row.description.clone(),
        location: format!("regions/{}", row.location_code),
        implementing_org: row.implementing_org.clone(),
        implementing_organization: name::format_optional_id(
            "organizations",
            row.implementing_organization_id,
        ),
        budget: MoneyFields::of(Balance(row.budget_fen)),
        planned_start: format_date(row.planned_start),
        planned_end: format_date(row.planned_end),
        progress_percent: i32::from(row.progress_percent),
        milestones: milestones
            .iter()
            .map(|m| (m.title.clone(), m.due(), m.done()))
            .collect(),
    })
}

/// What a project in `pairing` is checked against.
fn frame_of(pairing: &PairingRow) -> Result<PairingFrame, Error> {
    Ok(PairingFrame {
        supported: RegionPath::from_stored(pairing.supported_path.clone()),
        fields: CooperationField::load_list(&pairing.fields),
        period: period::stored(pairing.period_start, pairing.period_end)?,
    })
}

/// The location's stored row.
async fn location_row(tx: &Tx<'_>, code: &RegionCode) -> Result<RegionRow, Error> {
    region::get(tx.db(), code).await?.ok_or_else(|| {
        Error::invalid(
            "project.location",
            format!("{} does not exist", code.name()),
        )
    })
}
