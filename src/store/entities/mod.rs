//! Table definitions, mirroring `migrations/`. Plain rows; the rules live in `domain`. Enum
//! columns carry the domain's enums ([`stored_enum`]).

/// What every entity here needs besides its model: no relations (none is navigated through
/// sea-orm) and the default behaviour of its active model.
macro_rules! without_relations {
    () => {
        /// No relations are navigated through sea-orm.
        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    };
}

pub mod access_token;
pub mod audit_checkpoint;
pub mod audit_event;
pub mod audit_head;
pub mod audit_node;
pub mod fund_total;
pub mod fund_transaction;
pub mod monitoring_section;
pub mod monitoring_station;
pub mod organization;
pub mod pairing;
pub mod pairing_year_balance;
pub mod plan_task;
pub mod plan_task_report;
pub mod program;
pub mod project;
pub mod project_balance;
pub mod rate_limit_hit;
pub mod region;
pub mod request_key;
pub mod server_secret;
pub mod stored_enum;
pub mod supervision_entry;
pub mod supervision_event;
pub mod talent_exchange;
pub mod water_sample;
pub mod water_sample_retraction;
pub mod water_section_day;
pub mod work_plan;
