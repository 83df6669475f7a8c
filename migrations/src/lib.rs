//! Schema migrations for duikou: the same steps on SQLite and PostgreSQL.

pub use sea_orm_migration::prelude::*;

mod m0001_regions_programs_pairings;
mod m0002_access_tokens;
mod m0003_audit_log;
mod m0004_projects_and_funds_ledger;
mod m0005_region_totals_from_pairings;
mod m0006_talent_exchanges;
mod m0007_supervision;
mod m0008_supervision_lists_and_summaries;
mod m0009_money_stays_whole;
mod m0010_request_ids_per_caller;
mod m0011_internal_comments;
mod m0012_keyed_rate_limits;
mod m0013_water_quality;
mod m0014_monitoring_stations;
mod m0015_program_kinds;
mod m0016_organizations;
mod m0017_organization_links;
mod m0018_work_plans;
mod m0019_plan_tasks;
mod m0020_accountability_indexes;

/// Every migration, in the order it is applied.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_regions_programs_pairings::Migration),
            Box::new(m0002_access_tokens::Migration),
            Box::new(m0003_audit_log::Migration),
            Box::new(m0004_projects_and_funds_ledger::Migration),
            Box::new(m0005_region_totals_from_pairings::Migration),
            Box::new(m0006_talent_exchanges::Migration),
            Box::new(m0007_supervision::Migration),
            Box::new(m0008_supervision_lists_and_summaries::Migration),
            Box::new(m0009_money_stays_whole::Migration),
            Box::new(m0010_request_ids_per_caller::Migration),
            Box::new(m0011_internal_comments::Migration),
            Box::new(m0012_keyed_rate_limits::Migration),
            Box::new(m0013_water_quality::Migration),
            Box::new(m0014_monitoring_stations::Migration),
            Box::new(m0015_program_kinds::Migration),
            Box::new(m0016_organizations::Migration),
            Box::new(m0017_organization_links::Migration),
            Box::new(m0018_work_plans::Migration),
            Box::new(m0019_plan_tasks::Migration),
            Box::new(m0020_accountability_indexes::Migration),
        ]
    }
}
