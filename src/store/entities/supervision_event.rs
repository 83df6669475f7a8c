//! The `supervision_events` table: append-only.

use sea_orm::entity::prelude::*;

use crate::domain::{
    access::Role,
    supervision::{State, Step},
};

/// One event on an entry's timeline.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "supervision_events")]
pub struct Model {
    /// Store-wide order.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The entry.
    pub entry_id: i64,
    /// 1, 2, 3, … within the entry.
    pub seq: i32,
    /// When.
    pub create_time: DateTimeUtc,
    /// The actor's role; none when anonymous.
    pub actor_role: Option<Role>,
    /// The actor's token label.
    pub actor_label: String,
    /// A member of the public without a token.
    pub anonymous: bool,
    /// The step.
    pub step: Step,
    /// The state before; none for the submission.
    pub from_state: Option<State>,
    /// The state after.
    pub to_state: State,
    /// The step's text.
    pub note: String,
    /// On acceptance, the responsible unit.
    pub responsible_unit: String,
    /// On acceptance or reopening, the due date set.
    pub due_date: Option<Date>,
    /// JSON array of evidence.
    pub evidence: String,
    /// Whether the author of a comment published it (the steps of the course are public
    /// whatever it says).
    pub public: bool,
}

without_relations!();
