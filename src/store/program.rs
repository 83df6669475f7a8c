//! Program queries.

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, EntityTrait, IntoActiveModel};

use super::{entities::program, rows};
use crate::{domain::program::ProgramDraft, error::Error};

pub use program::Model as ProgramRow;

/// A page of programs in id order.
pub async fn list(
    db: &impl ConnectionTrait,
    after: Option<i64>,
    limit: u64,
) -> Result<Vec<ProgramRow>, Error> {
    rows::page_after(
        db,
        program::Entity::find(),
        program::Column::Id,
        after,
        limit,
    )
    .await
}

/// Inserts a program.
pub async fn insert(db: &impl ConnectionTrait, draft: &ProgramDraft) -> Result<ProgramRow, Error> {
    let now = Utc::now();
    let row = program::ActiveModel {
        display_name: Set(draft.display_name.clone()),
        basis_document: Set(draft.basis_document.clone()),
        period_start: Set(draft.period.start()),
        period_end: Set(draft.period.end()),
        description: Set(draft.description.clone()),
        create_time: Set(now),
        update_time: Set(now),
        revision: Set(1),
        ..Default::default()
    };
    Ok(row.insert(db).await?)
}

/// Writes `draft` over `current` and bumps its revision.
pub async fn update(
    db: &impl ConnectionTrait,
    current: ProgramRow,
    draft: &ProgramDraft,
) -> Result<ProgramRow, Error> {
    let revision = current.revision + 1;
    let mut row = current.into_active_model();
    row.display_name = Set(draft.display_name.clone());
    row.basis_document = Set(draft.basis_document.clone());
    row.period_start = Set(draft.period.start());
    row.period_end = Set(draft.period.end());
    row.description = Set(draft.description.clone());
    row.update_time = Set(Utc::now());
    row.revision = Set(revision);
    Ok(row.update(db).await?)
}
