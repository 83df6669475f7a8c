//! Talent exchange queries: rows, lists and the sums a summary reads.

use chrono::{NaiveDate, Utc};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait, LikeExpr, Query, SelectStatement},
};

use super::{
    entities::{pairing, talent_exchange},
    region::escape_like,
};
use crate::{
    domain::talent::{Direction, TalentKind},
    error::Error,
};

pub use talent_exchange::{ActiveModel as TalentChange, Model as TalentRow};

/// Inserts an exchange; `row` carries every column but the id, times and revision.
pub async fn insert(db: &impl ConnectionTrait, mut row: TalentChange) -> Result<TalentRow, Error> {
    let now = Utc::now();
    row.create_time = Set(now);
    row.update_time = Set(now);
    row.delete_time = Set(None);
    row.revision = Set(1);
    Ok(row.insert(db).await?)
}

/// One exchange.
pub async fn get(db: &impl ConnectionTrait, id: i64) -> Result<Option<TalentRow>, Error> {
    Ok(talent_exchange::Entity::find_by_id(id).one(db).await?)
}

/// One exchange, locked until the transaction ends (PostgreSQL; SQLite's write lock
/// already covers the whole database).
pub async fn get_for_update(
    db: &impl ConnectionTrait,
    id: i64,
) -> Result<Option<TalentRow>, Error> {
    Ok(talent_exchange::Entity::find_by_id(id)
        .lock_exclusive()
        .one(db)
        .await?)
}

/// Writes the changed columns of an exchange, bumping its revision and update time.
pub async fn save(
    db: &impl ConnectionTrait,
    current: &TalentRow,
    mut change: TalentChange,
) -> Result<TalentRow, Error> {
    change.id = sea_orm::ActiveValue::Unchanged(current.id);
    change.revision = Set(current.revision + 1);
    change.update_time = Set(Utc::now());
    Ok(change.update(db).await?)
}

/// Which exchanges a list or a summary covers.
#[derive(Debug, Clone, Default)]
pub struct TalentQuery {
    /// Only this pairing.
    pub pairing_id: Option<i64>,
    /// Only pairings of this program.
    pub program_id: Option<i64>,
    /// Only this kind.
    pub kind: Option<TalentKind>,
    /// Only this direction.
    pub direction: Option<Direction>,
    /// Only exchanges that start in this year.
    pub year: Option<i32>,
    /// Only pairings with either region's path starting with this one.
    pub region_within: Option<String>,
    /// Deleted exchanges too.
    pub show_deleted: bool,
}

impl TalentQuery {
    fn condition(&self) -> Condition {
        use talent_exchange::Column as C;
        let mut cond = Condition::all();
        if let Some(id) = self.pairing_id {
            cond = cond.add(C::PairingId.eq(id));
        }
        if let Some(program_id) = self.program_id {
            cond = cond.add(
                C::PairingId.in_subquery(pairings_where(pairing::Column::ProgramId.eq(program_id))),
            );
        }
        if let Some(kind) = self.kind {
            cond = cond.add(C::Kind.eq(kind.number() as i16));
        }
        if let Some(direction) = self.direction {
            cond = cond.add(C::Direction.eq(direction.number() as i16));
        }
        if let Some(year) = self.year {
            let first = |y: i32| NaiveDate::from_ymd_opt(y, 1, 1);
            if let (Some(from), Some(to)) = (first(year), first(year + 1)) {
                cond = cond.add(C::StartDate.gte(from)).add(C::StartDate.lt(to));
            }
        }
        if let Some(path) = &self.region_within {
            let pattern = format!("{}%", escape_like(path));
            let within = |column: pairing::Column| {
                Expr::col(column).like(LikeExpr::new(pattern.clone()).escape('\\'))
            };
            cond = cond.add(
                C::PairingId.in_subquery(pairings_where(
                    Condition::any()
                        .add(within(pairing::Column::SupportingPath))
                        .add(within(pairing::Column::SupportedPath)),
                )),
            );
        }
        if !self.show_deleted {
            cond = cond.add(C::DeleteTime.is_null());
        }
        cond
    }
}

fn pairings_where(condition: impl sea_orm::sea_query::IntoCondition) -> SelectStatement {
    Query::select()
        .column(pairing::Column::Id)
        .from(pairing::Entity)
        .cond_where(condition)
        .to_owned()
}

/// A page of exchanges in id order, after `after` if given.
pub async fn list(
    db: &impl ConnectionTrait,
    query: &TalentQuery,
    after: Option<i64>,
    limit: u64,
) -> Result<Vec<TalentRow>, Error> {
    use talent_exchange::Column as C;
    let mut select = talent_exchange::Entity::find().filter(query.condition());
    if let Some(after) = after {
        select = select.filter(C::Id.gt(after));
    }
    Ok(select.order_by_asc(C::Id).limit(limit).all(db).await?)
}

/// The sums of one kind and direction: (kind, direction, exchanges, headcount,
/// person-days).
pub type TalentSums = (i16, i16, i64, i64, i64);

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
