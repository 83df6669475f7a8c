//! Talent exchanges: recording them under a live pairing, changing, deleting and
//! undeleting them. Every change is to an exchange whose pairing lies inside the caller's
//! reach, checked before whether the exchange exists.
//!
//! Participants are personal data: [`sees_people`] decides who is shown them, and a
//! replayed create shows them only to a caller who may see them now.

use std::future::Future;

use super::{
    Create, Edit, SoftDelete,
    organization::Link,
    pairing::placement_of,
    project::{hung_in_reach, pairing_in_reach},
};
use crate::{
    domain::{
        access::{Caller, Role, require_scope},
        name,
        patch::Patch,
        period::format_date,
        revision::check_etag,
        talent::{Participant, TalentDraft, TalentFields},
    },
    error::Error,
    store::{
        Hold, by_id,
        pairing::PairingRow,
        talent::{self as talents, TalentChange, TalentRow},
        tx::{Change, Tx},
    },
};

/// NOT_FOUND for exchange `id`.
pub fn not_found(id: i64) -> Error {
    Error::NotFound {
        reason: "TALENT_EXCHANGE_NOT_FOUND",
        resource: name::format_id("talentExchanges", id),
    }
}

/// Whether `caller` may see the people of exchanges of a pairing, which `pairing` reads.
/// The role decides, except for a COORDINATOR, whose scope must cover the pairing: only
/// then is the pairing read.
///
/// # Errors
/// What reading the pairing returns.
pub async fn sees_people<F>(caller: &Caller, pairing: impl FnOnce() -> F) -> Result<bool, Error>
where
    F: Future<Output = Result<Option<PairingRow>, Error>>,
{
    Ok(match caller.role {
        Role::Admin | Role::Auditor => true,
        Role::FundOfficer | Role::Supervisor | Role::Monitor => false,
        Role::Coordinator => pairing()
            .await?
            .and_then(|p| placement_of(&p).ok())
            .is_some_and(|p| require_scope(caller, &[&p.supporting, &p.supported]).is_ok()),
    })
}

/// The people a stored exchange lists; none, and an error in the log, when the stored
/// list does not read back.
pub fn participants_of(row: &TalentRow) -> Vec<Participant> {
    Participant::load_list(&row.participants).unwrap_or_else(|e| {
        tracing::error!(exchange = row.id, error = %e, "stored participants are damaged");
        Vec::new()
    })
}

/// A recorded exchange as its create answers it: the exchange, and whether the caller may
/// see its people.
#[derive(Debug, Clone)]
pub struct RecordedExchange {
    /// The exchange.
    pub row: TalentRow,
    /// Whether the reply may show its participants.
    pub people: bool,
}

/// CreateTalentExchange: a new exchange under a live pairing in the caller's reach, inside
/// that pairing's period.
pub struct CreateTalentExchange {
    /// The pairing's id.
    pub pairing_id: i64,
    /// The fields that callers write.
    pub draft: TalentDraft,
}

impl Create for CreateTalentExchange {
    type Made = RecordedExchange;

    async fn make(&self, tx: &mut Tx<'_>) -> Result<RecordedExchange, Error> {
        let pairing = live_pairing(tx, self.pairing_id).await?;
        let draft = with_host(tx, &self.draft, &[]).await?;
        check_within(&draft, &pairing)?;
        let row = talents::insert(tx.db(), self.pairing_id, &draft).await?;
        Ok(RecordedExchange { row, people: true })
    }

    /// A replay is authorized as the request was, and shows the people only to a caller
    /// who may see them now.
    async fn replay(&self, tx: &mut Tx<'_>, earlier: &str) -> Result<RecordedExchange, Error> {
        let id = name::parse_id("request_id", "talentExchanges", earlier)?;
        let row = by_id::<TalentRow>(tx.db(), id, Hold::Nothing)
            .await?
            .ok_or_else(|| not_found(id))?;
        pairing_in_reach(tx, row.pairing_id, || not_found(id)).await?;
        let people = sees_people(tx.caller()?, || {
            by_id::<PairingRow>(tx.db(), row.pairing_id, Hold::Nothing)
        })
        .await?;
        Ok(RecordedExchange { row, people })
    }
}

/// UpdateTalentExchange: the sent fields over a live exchange, still inside its pairing's
/// period.
pub type UpdateTalentExchange = Edit<Patch<TalentFields>>;

impl Change for UpdateTalentExchange {
    type Output = TalentRow;

    async fn apply(&self, tx: &mut Tx<'_>) -> Result<TalentRow, Error> {
        let deleted = "a deleted exchange cannot change; undelete it first";
        let (current, pairing) = live_for_update(tx, self.id, &self.etag, deleted).await?;
        let draft = TalentDraft::parse(&self.what.over(fields_of(&current)))?;
        let draft = with_host(tx, &draft, &self.what.paths).await?;
        check_within(&draft, &pairing)?;
        let change = TalentChange {
            draft: Some(draft),
            ..Default::default()
        };
        save(tx, &current, change).await
    }
}

/// DeleteTalentExchange: a live exchange. UndeleteTalentExchange: a deleted exchange whose
/// pairing is live and still covers it.
pub type TalentDeletion = SoftDelete<TalentRow>;

impl Change for TalentDeletion {
    type Output = TalentRow;

    async fn apply(&self, tx: &mut Tx<'_>) -> Result<TalentRow, Error> {
        let current = if self.delete {
            let deleted = "the exchange is already deleted";
            live_for_update(tx, self.id, &self.etag, deleted).await?.0
        } else {
            undeletable(tx, self.id).await?
        };
        let change = TalentChange {
            delete_time: Some(self.delete_time()),
            ..Default::default()
        };
        save(tx, &current, change).await
    }
}

/// Exchange `id`, deleted, with a live pairing that still covers it.
async fn undeletable(tx: &Tx<'_>, id: i64) -> Result<TalentRow, Error> {
    let (current, pairing) = for_update(tx, id).await?;
    if current.delete_time.is_none() {
        return Err(Error::precondition(
            "TALENT_EXCHANGE_NOT_DELETED",
            "the exchange is not deleted",
        ));
    }
    if pairing.delete_time.is_some() {
        return Err(Error::precondition(
            "PAIRING_DELETED",
            "the exchange's pairing is deleted; undelete it first",
        ));
    }
    // The pairing's period may have changed while the exchange was deleted.
    let draft = TalentDraft::parse(&fields_of(&current))?;
    check_within(&draft, &pairing).map_err(|_| {
        Error::precondition(
            "OUTSIDE_PAIRING_PERIOD",
            "the pairing's period changed and no longer covers this exchange; \
             change its dates first",
        )
    })?;
    Ok(current)
}

/// Writes a change to an exchange and records it.
async fn save(
    tx: &mut Tx<'_>,
    current: &TalentRow,
    change: TalentChange,
) -> Result<TalentRow, Error> {
    let row = talents::save(tx.db(), current, change).await?;
    tx.record(None, &row);
    Ok(row)
}

/// `draft` with its host organisation checked, and its host in words that organisation's
/// name where the draft leaves it empty, or where an update's mask (`paths`; none on
/// create) names a new organisation alone.
async fn with_host(tx: &Tx<'_>, draft: &TalentDraft, paths: &[&str]) -> Result<TalentDraft, Error> {
    let host_organization = Link {
        prefix: "talent_exchange.",
        fields: ("host_organization_ref", "host_organization"),
        id: draft.host_organization_id,
        words: &draft.host_organization,
    }
    .words(tx, paths)
    .await?;
    Ok(TalentDraft {
        host_organization,
        ..draft.clone()
    })
}

/// Checks the rules between an exchange's fields, and its dates against its pairing's
/// period.
fn check_within(draft: &TalentDraft, pairing: &PairingRow) -> Result<(), Error> {
    draft.check(&placement_of(pairing)?.period)
}

/// A live pairing inside the caller's reach, for an exchange to hang off.
async fn live_pairing(tx: &Tx<'_>, id: i64) -> Result<PairingRow, Error> {
    let pairing = pairing_in_reach(tx, id, || {
        Error::invalid(
            "talent_exchange.pairing",
            format!("{} does not exist", name::format_id("pairings", id)),
        )
    })
    .await?;
    if pairing.delete_time.is_some() {
        return Err(Error::precondition(
            "PAIRING_DELETED",
            "exchanges may be recorded only under a live pairing",
        ));
    }
    Ok(pairing)
}

/// An exchange inside the caller's reach, locked for change, with its pairing. Permission
/// comes before existence.
async fn for_update(tx: &Tx<'_>, id: i64) -> Result<(TalentRow, PairingRow), Error> {
    let found = by_id::<TalentRow>(tx.db(), id, Hold::Update).await?;
    hung_in_reach(tx, found, |r| r.pairing_id, || not_found(id)).await
}

/// A live exchange inside the caller's reach, locked for change, at the revision the
/// caller read, with its pairing; `deleted` says why a deleted one cannot be changed.
async fn live_for_update(
    tx: &Tx<'_>,
    id: i64,
    sent_etag: &str,
    deleted: &str,
) -> Result<(TalentRow, PairingRow), Error> {
    let (row, pairing) = for_update(tx, id).await?;
    check_etag(sent_etag, row.revision)?;
    if row.delete_time.is_some() {
        return Err(Error::precondition("TALENT_EXCHANGE_DELETED", deleted));
    }
    Ok((row, pairing))
}

/// The fields of a stored exchange as a request would send them, for an update to write
/// over.
fn fields_of(row: &TalentRow) -> TalentFields {
    TalentFields {
        kind: row.kind.number(),
        direction: row.direction.number(),
        field: row.field.number(),
        headcount: row.headcount,
        start_date: format_date(row.start_date),
        end_date: row.end_date.map(format_date).unwrap_or_default(),
        host_organization: row.host_organization.clone(),
        host_organization_ref: name::format_optional_id("organizations", row.host_organization_id),
        title: row.title.clone(),
        description: row.description.clone(),
        participants: participants_of(row)
            .into_iter()
            .map(|p| (p.display_name, p.organization, p.position))
            .collect(),
    }
}
