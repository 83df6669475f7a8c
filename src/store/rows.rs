//! What every resource's queries share: one row by its key, held as the transaction needs
//! it, the keyset tail of a page, and the conditions on places and pairings that lists
//! and summaries filter by.

use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, ModelTrait, PrimaryKeyTrait, QueryFilter,
    QueryOrder, QuerySelect, Select, Value,
    sea_query::{
        Expr, ExprTrait, IntoColumnRef, IntoCondition, LikeExpr, Query, SelectStatement, SimpleExpr,
    },
};

use crate::{error::Error, store::entities::pairing};

/// How a read inside a transaction holds the row it finds until the transaction ends. The
/// locks are PostgreSQL's; SQLite's write lock already covers the whole database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// A plain read: the row may change once it is read.
    Nothing,
    /// Read-locked: it cannot change or be deleted underneath, yet many writers may hold it
    /// at once.
    Share,
    /// Locked for update: every other writer of the row waits.
    Update,
}

/// One row by its id, held as `hold` says: `by_id::<PairingRow>(db, id, Hold::Share)`.
pub async fn by_id<M>(db: &impl ConnectionTrait, id: i64, hold: Hold) -> Result<Option<M>, Error>
where
    M: ModelTrait,
    M::Entity: EntityTrait<Model = M>,
    <<M::Entity as EntityTrait>::PrimaryKey as PrimaryKeyTrait>::ValueType: From<i64>,
{
    let select = M::Entity::find_by_id(id);
    let select = match hold {
        Hold::Nothing => select,
        Hold::Share => select.lock_shared(),
        Hold::Update => select.lock_exclusive(),
    };
    Ok(select.one(db).await?)
}

/// At most `limit` rows of `select` in ascending order of `key`, after the key `after` when
/// one is given: the page a keyset page token points at.
pub async fn page_after<E: EntityTrait>(
    db: &impl ConnectionTrait,
    select: Select<E>,
    key: impl ColumnTrait,
    after: Option<impl Into<Value>>,
    limit: u64,
) -> Result<Vec<E::Model>, Error> {
    let select = match after {
        Some(after) => select.filter(key.gt(after)),
        None => select,
    };
    Ok(select.order_by_asc(key).limit(limit).all(db).await?)
}

/// Escapes the LIKE wildcards of caller text so that it matches itself only.
pub fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `column` holds a region path that starts with `path`: that region or one inside it.
pub fn path_within(column: impl IntoColumnRef, path: &str) -> SimpleExpr {
    Expr::col(column).like(LikeExpr::new(format!("{}%", escape_like(path))).escape('\\'))
}

/// `column` holds text that contains `text` as it is.
pub fn contains(column: impl IntoColumnRef, text: &str) -> SimpleExpr {
    Expr::col(column).like(LikeExpr::new(format!("%{}%", escape_like(text))).escape('\\'))
}

/// The ids of the pairings that meet `condition`.
pub fn pairings_where(condition: impl IntoCondition) -> SelectStatement {
    Query::select()
        .column(pairing::Column::Id)
        .from(pairing::Entity)
        .cond_where(condition)
        .to_owned()
}

/// The ids of the pairings of one program.
pub fn pairings_of_program(program_id: i64) -> SelectStatement {
    pairings_where(pairing::Column::ProgramId.eq(program_id))
}

/// Pairings with either region at or inside the region of `path`.
pub fn pairing_within(path: &str) -> Condition {
    Condition::any()
        .add(path_within(pairing::Column::SupportingPath, path))
        .add(path_within(pairing::Column::SupportedPath, path))
}

/// What one stored figure is split into, so that a database sum of many figures cannot
/// overflow: SQLite's `sum()` fails on an integer overflow and PostgreSQL's sum of
/// `bigint` is cast back to one. Each figure is `high × 2^32 + low` with both parts below
/// 2^32 (figures are never negative), so four billion rows sum without overflow.
const SPLIT: i64 = 1 << 32;

/// The two sums that together sum `column` (a figure that is never negative) without
/// overflow; [`joined`] puts them back together.
pub fn split_sum(column: &str) -> [SimpleExpr; 2] {
    let [high, low] = split_parts(&format!("\"{column}\""));
    [Expr::cust(high), Expr::cust(low)]
}

/// [`split_sum`] as SQL text for `expr` (e.g. `p.budget_fen`), its two parts joined by a
/// comma, for statements written by hand.
pub fn split_sum_sql(expr: &str) -> String {
    split_parts(expr).join(", ")
}

fn split_parts(expr: &str) -> [String; 2] {
    [
        format!("CAST(SUM({expr} / {SPLIT}) AS BIGINT)"),
        format!("CAST(SUM({expr} % {SPLIT}) AS BIGINT)"),
    ]
}

/// The sum that [`split_sum`]'s two parts make; none (no rows) is 0.
pub fn joined(high: Option<i64>, low: Option<i64>) -> i128 {
    i128::from(high.unwrap_or(0)) * i128::from(SPLIT) + i128::from(low.unwrap_or(0))
}
