//! duikou: a gRPC backend for counterpart cooperation (对口协作) — paired regions, their
//! cooperation programs and pairings, and (in later parts) projects, funds, talent
//! exchanges and supervision.
//!
//! Module map, one layer per folder; data flows from `api` to `store`:
//! - [`api`]: one module per gRPC service — proto ⇄ domain, no SQL;
//! - [`domain`]: types and rules, free of tonic and sea-orm;
//! - [`store`]: sea-orm entities, queries and transactions, free of tonic;
//! - [`error`]: the one error type, free of tonic and sea-orm (statuses: [`api::status`]);
//! - [`server`]: services, reflection, health, limits and graceful shutdown;
//! - [`config`], [`telemetry`], [`cli`]: settings, logs and the command line.

pub mod api;
pub mod cli;
pub mod config;
pub mod domain;
pub mod error;
pub mod proto;
pub mod server;
pub mod store;
pub mod telemetry;
