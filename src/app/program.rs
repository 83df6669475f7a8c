//! Cooperation programs: creating and changing them. Programs belong to no region: the
//! API lets only a caller without a regional limit write them.

use super::{Create, Edit};
use crate::{
    domain::{
        name,
        patch::Patch,
        period::format_date,
        program::{ProgramDraft, ProgramFields},
        revision::check_etag,
    },
    error::Error,
    store::{
        Hold, by_id,
        pairing::{self as pairings, Members},
        program::{self as programs, ProgramRow},
        tx::{Change, Tx},
    },
};

/// NOT_FOUND for program `id`.
pub fn not_found(id: i64) -> Error {
    Error::NotFound {
        reason: "PROGRAM_NOT_FOUND",
        resource: name::format_id("programs", id),
    }
}

/// CreateProgram: a new program from a checked draft.
pub struct CreateProgram(pub ProgramDraft);

impl Create for CreateProgram {
    type Made = ProgramRow;

    async fn make(&self, tx: &mut Tx<'_>) -> Result<ProgramRow, Error> {
        programs::insert(tx.db(), &self.0).await
    }

    async fn replay(&self, tx: &mut Tx<'_>, earlier: &str) -> Result<ProgramRow, Error> {
        let id = name::parse_id("request_id", "programs", earlier)?;
        by_id::<ProgramRow>(tx.db(), id, Hold::Nothing)
            .await?
            .ok_or_else(|| not_found(id))
    }
}

/// UpdateProgram: the sent fields over the stored program, whose period must still hold
/// every live pairing.
pub type UpdateProgram = Edit<Patch<ProgramFields>>;

impl Change for UpdateProgram {
    type Output = ProgramRow;

    async fn apply(&self, tx: &mut Tx<'_>) -> Result<ProgramRow, Error> {
        let current = by_id::<ProgramRow>(tx.db(), self.id, Hold::Update)
            .await?
            .ok_or_else(|| not_found(self.id))?;
        check_etag(&self.etag, current.revision)?;
        let draft = ProgramDraft::parse(&self.what.over(fields_of(&current)))?;
        let outside =
            pairings::live_outside(tx.db(), Members::OfProgram(self.id), &draft.period).await?;
        if outside > 0 {
            return Err(Error::FailedPrecondition {
                reason: "PAIRINGS_OUTSIDE_PERIOD",
                message: format!(
                    "{outside} live pairing(s) of this program would fall outside the new \
                     period; change or delete them first"
                ),
                metadata: vec![("pairings_outside", outside.to_string())],
            });
        }
        let row = programs::update(tx.db(), current, &draft).await?;
        tx.record(None, &row);
        Ok(row)
    }
}

/// The fields of a stored program as a request would send them, for an update to start
/// from.
fn fields_of(row: &ProgramRow) -> ProgramFields {
    ProgramFields {
        display_name: row.display_name.clone(),
        basis_document: row.basis_document.clone(),
        period_start: format_date(row.period_start),
        period_end: format_date(row.period_end),
        description: row.description.clone(),
        kind: row.kind.number(),
    }
}
