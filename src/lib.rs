//! duikou: a gRPC backend for counterpart cooperation (对口协作) — paired regions, their
//! cooperation programs and pairings, the projects under the pairings, the funds ledger,
//! talent exchanges and multi-party supervision; roles and access tokens decide who may do
//! what, and every change goes into a tamper-evident audit log.
//!
//! Module map, one layer per folder; data flows from `api` to `store`:
//! - [`api`]: one module per gRPC service (regions, programs and pairings, projects, funds,
//!   talent exchanges, supervision, access tokens, the audit log) — proto ⇄ domain and who
//!   may call what, no SQL;
//! - [`domain`]: types and rules, free of tonic and sea-orm;
//! - [`store`]: sea-orm entities, queries and transactions, request ids, and (in
//!   [`store::sqlite`]) what makes SQLite fast; free of tonic;
//! - [`error`]: the one error type, free of tonic and sea-orm (statuses: [`api::status`]);
//! - [`server`]: services, reflection, health, limits and graceful shutdown;
//! - [`proto`]: the code generated from `proto/`;
//! - [`config`], [`telemetry`], [`cli`]: settings, logs and the command line.

pub mod api;
pub mod app;
pub mod cli;
pub mod config;
pub mod domain;
pub mod error;
pub mod proto;
pub mod server;
pub mod store;
pub mod telemetry;
