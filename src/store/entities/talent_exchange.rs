//! The `talent_exchanges` table.

use sea_orm::entity::prelude::*;

use crate::domain::{
    pairing::CooperationField,
    talent::{Direction, TalentKind},
};

/// One talent exchange.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "talent_exchanges")]
pub struct Model {
    /// Server-assigned id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The pairing.
    pub pairing_id: i64,
    /// What kind of exchange it is.
    pub kind: TalentKind,
    /// Which way the people go.
    pub direction: Direction,
    /// The cooperation field.
    pub field: CooperationField,
    /// How many people.
    pub headcount: i32,
    /// First day.
    pub start_date: Date,
    /// Last day; none for an exchange of one day.
    pub end_date: Option<Date>,
    /// Days from first to last, both included.
    pub days: i32,
    /// Who receives the people.
    pub host_organization: String,
    /// The registered organisation that receives the people, if one is named.
    pub host_organization_id: Option<i64>,
    /// What the exchange is.
    pub title: String,
    /// Free text.
    pub description: String,
    /// JSON array of participants: personal data.
    pub participants: String,
    /// Creation time.
    pub create_time: DateTimeUtc,
    /// Last change.
    pub update_time: DateTimeUtc,
    /// When it was deleted.
    pub delete_time: Option<DateTimeUtc>,
    /// Bumped on every change; the etag.
    pub revision: i64,
}

without_relations!();
