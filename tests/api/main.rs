//! Behaviour of the real server, started on port 0 with a fresh database per test and
//! driven through the generated clients. Runs on SQLite, or on PostgreSQL when
//! `DUIKOU_TEST_DATABASE_URL` names a server.

mod abuse;
mod access;
mod audit;
mod funds;
mod helpers;
mod ledger_batches;
mod ledger_model;
mod organizations;
mod pairings;
mod plans;
mod programs;
mod projects;
mod regions;
mod request_ids;
mod sample_batches;
mod server;
mod stations;
mod supervision;
mod supervision_lists;
mod talent;
mod water;
