//! Program queries.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    IntoActiveModel, QueryFilter,
};

use super::{entities::program, rows};
use crate::{
    domain::program::{ProgramDraft, ProgramFilter},
    error::Error,
};

pub use program::Model as ProgramRow;

/// A page of the programs `filter` asks for, in id order.
pub async fn list(
    db: &impl ConnectionTrait,
    filter: &ProgramFilter,
    after: Option<i64>,
    limit: u64,
) -> Result<Vec<ProgramRow>, Error> {
    use program::Column as C;
    let select = program::Entity::find()
        .filter(Condition::all().add_option(filter.kind.map(|k| C::Kind.eq(k))));
    rows::page_after(db, select, C::Id, after, limit).await
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
        kind: Set(draft.kind),
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
    row.kind = Set(draft.kind);
    row.update_time = Set(Utc::now());
    row.revision = Set(revision);
    Ok(row.update(db).await?)
}
