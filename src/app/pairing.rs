//! Pairings: creating them inside a program and a parent, changing their fields and
//! period, deleting and undeleting them, and taking them through their states. Every
//! change is to a pairing inside the caller's reach: both its regions in the caller's
//! scope, checked before whether the pairing exists.

use super::{Create, Edit, SoftDelete, program::not_found as program_not_found};
use crate::{
    domain::{
        access::{Caller, outside_scope, require_scope, unrestricted},
        name,
        pairing::{self as rules, CooperationField, Placement, Transition},
        period::{self, Period, format_date},
        region::{RegionCode, RegionPath},
        revision::check_etag,
    },
    error::Error,
    store::{
        Hold, by_id,
        pairing::{self as pairings, Members, NewPairing, PairingChange, PairingRow},
        program::ProgramRow,
        region::{self, RegionRow},
        tx::{Change, Tx},
    },
};

/// NOT_FOUND for pairing `id`.
pub fn not_found(id: i64) -> Error {
    Error::NotFound {
        reason: "PAIRING_NOT_FOUND",
        resource: name::format_id("pairings", id),
    }
}

/// The checked content of a new pairing.
#[derive(Debug, Clone)]
pub struct PairingDraft {
    /// The program's id.
    pub program_id: i64,
    /// The giving region.
    pub supporting: RegionCode,
    /// The receiving region.
    pub supported: RegionCode,
    /// The enclosing pairing's id.
    pub parent_id: Option<i64>,
    /// Cooperation fields.
    pub fields: Vec<CooperationField>,
    /// The period.
    pub period: Period,
}

/// What an update sends for the fields its mask names; a field it does not name stays as
/// stored.
#[derive(Debug, Clone, Default)]
pub struct PairingPatch {
    /// A new parent, or none.
    pub parent_id: Option<Option<i64>>,
    /// New cooperation fields.
    pub fields: Option<Vec<CooperationField>>,
    /// A new first day, as sent.
    pub period_start: Option<String>,
    /// A new last day, as sent.
    pub period_end: Option<String>,
}

/// CreatePairing.
pub struct CreatePairing(pub PairingDraft);

impl Create for CreatePairing {
    type Made = PairingRow;

    async fn make(&self, tx: &mut Tx<'_>) -> Result<PairingRow, Error> {
        let draft = &self.0;
        let (supporting, supported) = check_references(tx, draft).await?;
        pairings::insert(
            tx.db(),
            &NewPairing {
                program_id: draft.program_id,
                supporting: &supporting,
                supported: &supported,
                parent_id: draft.parent_id,
                fields: &draft.fields,
                period: draft.period,
            },
        )
        .await
    }

    /// A replay is authorized as the request was: the pairing must lie in the caller's
    /// reach.
    async fn replay(&self, tx: &mut Tx<'_>, earlier: &str) -> Result<PairingRow, Error> {
        let id = name::parse_id("request_id", "pairings", earlier)?;
        in_reach(tx, id).await
    }
}

/// UpdatePairing: the sent fields over the stored pairing, checked against its program,
/// its parent and its children.
pub type UpdatePairing = Edit<PairingPatch>;

impl Change for UpdatePairing {
    type Output = PairingRow;

    async fn apply(&self, tx: &mut Tx<'_>) -> Result<PairingRow, Error> {
        let (id, patch) = (self.id, &self.what);
        let current = live_for_update(tx, id, &self.etag).await?;
        let parent_id = patch.parent_id.unwrap_or(current.parent_id);
        let fields = patch
            .fields
            .clone()
            .unwrap_or_else(|| CooperationField::load_list(&current.fields));
        let period = patch_period(patch, &current)?;
        if let Some(parent_id) = parent_id {
            if pairings::ancestry(tx.db(), parent_id, id)
                .await?
                .contains(&id)
            {
                return Err(Error::invalid(
                    "pairing.parent",
                    "would make the pairing its own ancestor",
                ));
            }
        }
        let parent = match parent_id {
            Some(parent_id) => Some(live_parent(tx, parent_id).await?),
            None => None,
        };
        let placement = Placement {
            period,
            ..placement_of(&current)?
        };
        rules::check_placement(
            &placement,
            &program_period(tx, current.program_id).await?,
            parent.as_ref(),
        )?;
        let outside = pairings::live_outside(tx.db(), Members::ChildrenOf(id), &period).await?;
        if outside > 0 {
            return Err(Error::FailedPrecondition {
                reason: "CHILDREN_OUTSIDE_PERIOD",
                message: format!(
                    "{outside} live child pairing(s) would fall outside the new period; \
                     change or delete them first"
                ),
                metadata: vec![("children_outside", outside.to_string())],
            });
        }
        pairings::bound(tx.db(), id, &period, &fields)
            .await?
            .check()?;
        let change = PairingChange {
            parent_id: Some(parent_id),
            fields: Some(fields),
            period: Some(period),
            ..Default::default()
        };
        save(tx, &current, change).await
    }
}

/// The period an update leaves: the sent days over the stored ones.
fn patch_period(patch: &PairingPatch, current: &PairingRow) -> Result<Period, Error> {
    let start = patch
        .period_start
        .clone()
        .unwrap_or_else(|| format_date(current.period_start));
    let end = patch
        .period_end
        .clone()
        .unwrap_or_else(|| format_date(current.period_end));
    let only_start_sent = patch.period_start.is_some() && patch.period_end.is_none();
    Period::parse("pairing.", &start, &end).map_err(|e| match e {
        // The stored end stands; the start sent is what is wrong.
        Error::InvalidArgument { ref violations, .. }
            if only_start_sent && violations.iter().any(|v| v.field == "pairing.period_end") =>
        {
            Error::invalid(
                "pairing.period_start",
                format!("must be before the pairing's period_end, {end}"),
            )
        }
        other => other,
    })
}

/// DeletePairing: a live pairing without live children. UndeletePairing: a deleted pairing
/// whose parent and program still hold it.
pub type PairingDeletion = SoftDelete<PairingRow>;

impl Change for PairingDeletion {
    type Output = PairingRow;

    async fn apply(&self, tx: &mut Tx<'_>) -> Result<PairingRow, Error> {
        let current = if self.delete {
            deletable(tx, self.id, &self.etag).await?
        } else {
            undeletable(tx, self.id).await?
        };
        let change = PairingChange {
            delete_time: Some(self.delete_time()),
            ..Default::default()
        };
        save(tx, &current, change).await
    }
}

/// Pairing `id`, live, without live children, at the revision the caller read.
async fn deletable(tx: &Tx<'_>, id: i64, etag: &str) -> Result<PairingRow, Error> {
    let current = live_for_update(tx, id, etag).await?;
    let children = pairings::live_children(tx.db(), id).await?;
    if children > 0 {
        return Err(Error::FailedPrecondition {
            reason: "HAS_LIVE_CHILDREN",
            message: format!("the pairing has {children} live child pairing(s); delete them first"),
            metadata: vec![("live_children", children.to_string())],
        });
    }
    Ok(current)
}

/// Pairing `id`, deleted, its placement still held by its live parent and its program.
async fn undeletable(tx: &Tx<'_>, id: i64) -> Result<PairingRow, Error> {
    let current = in_reach(tx, id).await?;
    if current.delete_time.is_none() {
        return Err(Error::precondition(
            "PAIRING_NOT_DELETED",
            "the pairing is not deleted",
        ));
    }
    let placement = placement_of(&current)?;
    if let Some(parent_id) = current.parent_id {
        let parent = by_id::<PairingRow>(tx.db(), parent_id, Hold::Share)
            .await?
            .filter(|p| p.delete_time.is_none())
            .ok_or_else(|| {
                Error::precondition(
                    "PARENT_DELETED",
                    "the parent pairing is deleted; undelete it first",
                )
            })?;
        // The parent may have changed while this pairing was deleted.
        if !placement_of(&parent)?.period.contains(&placement.period) {
            return Err(Error::precondition(
                "OUTSIDE_PARENT_PERIOD",
                "the parent pairing's period changed and no longer covers this pairing; \
                 change its period first",
            ));
        }
    }
    if !program_period(tx, current.program_id)
        .await?
        .contains(&placement.period)
    {
        return Err(Error::precondition(
            "OUTSIDE_PROGRAM_PERIOD",
            "the program's period changed and no longer covers this pairing",
        ));
    }
    Ok(current)
}

/// SuspendPairing, ResumePairing and EndPairing: one step of a live pairing's states.
pub type StepPairing = Edit<Transition>;

impl Change for StepPairing {
    type Output = PairingRow;

    async fn apply(&self, tx: &mut Tx<'_>) -> Result<PairingRow, Error> {
        let current = live_for_update(tx, self.id, &self.etag).await?;
        let change = PairingChange {
            state: Some(current.state.apply(self.what)?),
            ..Default::default()
        };
        save(tx, &current, change).await
    }
}

/// Writes a change to a pairing and records it.
async fn save(
    tx: &mut Tx<'_>,
    current: &PairingRow,
    change: PairingChange,
) -> Result<PairingRow, Error> {
    let row = pairings::save(tx.db(), current, change).await?;
    tx.record(None, &row);
    Ok(row)
}

/// Looks up what a new pairing refers to and checks its placement; returns the two
/// regions.
async fn check_references(
    tx: &Tx<'_>,
    draft: &PairingDraft,
) -> Result<(RegionRow, RegionRow), Error> {
    let program = by_id::<ProgramRow>(tx.db(), draft.program_id, Hold::Share)
        .await?
        .ok_or_else(|| {
            Error::invalid(
                "pairing.program",
                format!(
                    "{} does not exist",
                    name::format_id("programs", draft.program_id)
                ),
            )
        });
    let regions = region::get_many(tx.db(), &[&draft.supporting, &draft.supported]).await?;
    let find = |code: &RegionCode, field: &str| {
        regions
            .iter()
            .find(|r| r.code == code.as_str())
            .cloned()
            .ok_or_else(|| Error::invalid(field, format!("{} does not exist", code.name())))
    };
    let supporting = find(&draft.supporting, "pairing.supporting_region");
    let supported = find(&draft.supported, "pairing.supported_region");
    Error::collect([
        Error::of(&program),
        Error::of(&supporting),
        Error::of(&supported),
    ])?;
    let (program, supporting, supported) = (program?, supporting?, supported?);
    let placement = Placement {
        program_id: draft.program_id,
        supporting: RegionPath::from_stored(supporting.path.clone()),
        supported: RegionPath::from_stored(supported.path.clone()),
        period: draft.period,
    };
    require_scope(tx.caller()?, &[&placement.supporting, &placement.supported])?;
    let parent = match draft.parent_id {
        Some(parent_id) => Some(live_parent(tx, parent_id).await?),
        None => None,
    };
    let program_period = period::stored(program.period_start, program.period_end)?;
    rules::check_placement(&placement, &program_period, parent.as_ref())?;
    Ok((supporting, supported))
}

/// The period of a pairing's program, read-locked so that it cannot change underneath.
async fn program_period(tx: &Tx<'_>, program_id: i64) -> Result<Period, Error> {
    let program = by_id::<ProgramRow>(tx.db(), program_id, Hold::Share)
        .await?
        .ok_or_else(|| program_not_found(program_id))?;
    period::stored(program.period_start, program.period_end)
}

/// The placement of a live pairing that is to be a parent, locked against deletion.
async fn live_parent(tx: &Tx<'_>, parent_id: i64) -> Result<Placement, Error> {
    match by_id::<PairingRow>(tx.db(), parent_id, Hold::Share).await? {
        Some(parent) if parent.delete_time.is_none() => Ok(placement_of(&parent)?),
        _ => Err(Error::invalid(
            "pairing.parent",
            format!("{} does not exist", name::format_id("pairings", parent_id)),
        )),
    }
}

/// Where a stored pairing lies: its program, its two regions and its period.
///
/// # Errors
/// INTERNAL when its stored period is out of order.
pub fn placement_of(row: &PairingRow) -> Result<Placement, Error> {
    Ok(Placement {
        program_id: row.program_id,
        supporting: RegionPath::from_stored(row.supporting_path.clone()),
        supported: RegionPath::from_stored(row.supported_path.clone()),
        period: period::stored(row.period_start, row.period_end)?,
    })
}

/// Checks that `caller` reaches the stored pairing `row`: both its regions lie in the
/// caller's scope.
///
/// # Errors
/// PERMISSION_DENIED `OUTSIDE_SCOPE`.
pub fn require_reach(caller: &Caller, row: &PairingRow) -> Result<(), Error> {
    require_scope(
        caller,
        &[
            &RegionPath::from_stored(row.supporting_path.clone()),
            &RegionPath::from_stored(row.supported_path.clone()),
        ],
    )
}

/// What a lookup gives `caller` when permission comes before existence: the row `found`,
/// once `reach` lets the caller have it; for none, `missing()` to a caller without a
/// regional limit and PERMISSION_DENIED `OUTSIDE_SCOPE` to any other, so that a scoped
/// caller learns nothing of what lies outside its scope, not even whether it exists.
///
/// # Errors
/// What `reach` returns, `missing()`, or PERMISSION_DENIED `OUTSIDE_SCOPE`.
pub fn reached<R>(
    caller: &Caller,
    found: Option<R>,
    reach: impl FnOnce(&R) -> Result<(), Error>,
    missing: impl FnOnce() -> Error,
) -> Result<R, Error> {
    match found {
        Some(row) => {
            reach(&row)?;
            Ok(row)
        }
        None if unrestricted(caller) => Err(missing()),
        None => Err(outside_scope()),
    }
}

/// A pairing inside the caller's reach, locked for change; see [`reached`].
async fn in_reach(tx: &Tx<'_>, id: i64) -> Result<PairingRow, Error> {
    let caller = tx.caller()?;
    let found = by_id::<PairingRow>(tx.db(), id, Hold::Update).await?;
    reached(
        caller,
        found,
        |row| require_reach(caller, row),
        || not_found(id),
    )
}

/// A live pairing inside the caller's reach, locked for change, at the revision the caller
/// read; a deleted one cannot change.
async fn live_for_update(tx: &Tx<'_>, id: i64, sent_etag: &str) -> Result<PairingRow, Error> {
    let row = in_reach(tx, id).await?;
    if row.delete_time.is_some() {
        return Err(Error::precondition(
            "PAIRING_DELETED",
            format!(
                "{} is deleted; undelete it first",
                name::format_id("pairings", id)
            ),
        ));
    }
    check_etag(sent_etag, row.revision)?;
    Ok(row)
}
