//! Talent exchange queries: rows, lists and the sums a summary reads.

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{Set, Unchanged},
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait},
};

use super::{changed, entities::talent_exchange, rows};
use crate::{
    domain::talent::{
        self as rules, Direction, Participant, TalentDraft, TalentFilter, TalentKind,
    },
    error::Error,
};

pub use talent_exchange::Model as TalentRow;

/// What a change sets on a stored exchange; a field left `None` stays as stored.
#[derive(Debug, Clone, Default)]
pub struct TalentChange {
    /// New values of every field that callers write.
    pub draft: Option<TalentDraft>,
    /// Deleted at this time, or undeleted.
    pub delete_time: Option<Option<DateTime<Utc>>>,
}

/// The columns that `draft` sets.
fn columns(draft: &TalentDraft) -> talent_exchange::ActiveModel {
    talent_exchange::ActiveModel {
        kind: Set(draft.kind),
        direction: Set(draft.direction),
        field: Set(draft.field),
        headcount: Set(draft.headcount),
        start_date: Set(draft.start),
        end_date: Set(draft.end),
        days: Set(i32::try_from(rules::days(draft.start, draft.end)).unwrap_or(i32::MAX)),
        host_organization: Set(draft.host_organization.clone()),
        host_organization_id: Set(draft.host_organization_id),
        title: Set(draft.title.clone()),
        description: Set(draft.description.clone()),
        participants: Set(Participant::store_list(&draft.participants)),
        ..Default::default()
    }
}

/// Inserts an exchange of pairing `pairing_id`, its references already checked.
pub async fn insert(
    db: &impl ConnectionTrait,
    pairing_id: i64,
    draft: &TalentDraft,
) -> Result<TalentRow, Error> {
    let now = Utc::now();
    let row = talent_exchange::ActiveModel {
        pairing_id: Set(pairing_id),
        create_time: Set(now),
        update_time: Set(now),
        delete_time: Set(None),
        revision: Set(1),
        ..columns(draft)
    };
    Ok(row.insert(db).await?)
}

/// Writes the changed columns of an exchange, bumping its revision and update time.
pub async fn save(
    db: &impl ConnectionTrait,
    current: &TalentRow,
    change: TalentChange,
) -> Result<TalentRow, Error> {
    let row = talent_exchange::ActiveModel {
        id: Unchanged(current.id),
        delete_time: changed(change.delete_time),
        revision: Set(current.revision + 1),
        update_time: Set(Utc::now()),
        ..change.draft.as_ref().map(columns).unwrap_or_default()
    };
    Ok(row.update(db).await?)
}

/// Which exchanges a list or a summary covers.
#[derive(Debug, Clone, Default)]
pub struct TalentQuery {
    /// What the caller's filter asks for; its region is read from `region_within`.
    pub filter: TalentFilter,
    /// Only pairings of this program.
    pub program_id: Option<i64>,
    /// Only pairings with either region's path starting with this one.
    pub region_within: Option<String>,
    /// Deleted exchanges too.
    pub show_deleted: bool,
}

impl TalentQuery {
    fn condition(&self) -> Condition {
        use talent_exchange::Column as C;
        let within = self.region_within.as_deref();
        let mut cond = Condition::all()
            .add_option(self.filter.pairing_id.map(|id| C::PairingId.eq(id)))
            .add_option(
                self.program_id
                    .map(|id| C::PairingId.in_subquery(rows::pairings_of_program(id))),
            )
            .add_option(self.filter.kind.map(|kind| C::Kind.eq(kind)))
            .add_option(
                self.filter
                    .host_organization_id
                    .map(|id| C::HostOrganizationId.eq(id)),
            )
            .add_option(
                self.filter
                    .direction
                    .map(|direction| C::Direction.eq(direction)),
            )
            .add_option(within.map(|path| {
                C::PairingId.in_subquery(rows::pairings_where(rows::pairing_within(path)))
            }));
        if let Some(year) = self.filter.year {
            let first = |y: i32| NaiveDate::from_ymd_opt(y, 1, 1);
            if let (Some(from), Some(to)) = (first(year), first(year + 1)) {
                cond = cond.add(C::StartDate.gte(from)).add(C::StartDate.lt(to));
            }
        }
        if !self.show_deleted {
            cond = cond.add(C::DeleteTime.is_null());
        }
        cond
    }
}

/// A page of exchanges in id order, after `after` if given.
pub async fn list(
    db: &impl ConnectionTrait,
    query: &TalentQuery,
    after: Option<i64>,
    limit: u64,
) -> Result<Vec<TalentRow>, Error> {
    use talent_exchange::Column as C;
    let select = talent_exchange::Entity::find().filter(query.condition());
    rows::page_after(db, select, C::Id, after, limit).await
}

/// The sums of one kind and direction: (kind, direction, exchanges, headcount,
/// person-days).
pub type TalentSums = (TalentKind, Direction, i64, i64, i64);

/// The live exchanges of `query`, summed per kind and direction by the database.
pub async fn sums(
    db: &impl ConnectionTrait,
    query: &TalentQuery,
) -> Result<Vec<TalentSums>, Error> {
    use talent_exchange::Column as C;
    let live = TalentQuery {
        show_deleted: false,
        ..query.clone()
    };
    Ok(talent_exchange::Entity::find()
        .select_only()
        .column(C::Kind)
        .column(C::Direction)
        .expr(Expr::col(C::Id).count().cast_as("BIGINT"))
        .expr(Expr::col(C::Headcount).sum().cast_as("BIGINT"))
        .expr(
            Expr::col(C::Headcount)
                .cast_as("BIGINT")
                .mul(Expr::col(C::Days))
                .sum()
                .cast_as("BIGINT"),
        )
        .filter(live.condition())
        .group_by(C::Kind)
        .group_by(C::Direction)
        .order_by_asc(C::Kind)
        .order_by_asc(C::Direction)
        .into_tuple()
        .all(db)
        .await?)
}
