//! duikou: a gRPC backend for counterpart cooperation (对口协作) — paired regions, their
//! cooperation programs and pairings, the projects under the pairings, the funds ledger,
//! talent exchanges and multi-party supervision; roles and access tokens decide who may do
//! what, and every change goes into a tamper-evident audit log.
//!
//! Module map, one layer per folder; a request flows from `api` through `app` to `store`:
//! - [`api`]: one module per gRPC service (regions, programs and pairings, projects, funds,
//!   talent exchanges, supervision, access tokens, the audit log) — parses requests into
//!   domain values, checks who may call what, calls a use case, maps the result back; no
//!   storage crate; each service's trait is written by `service!` from a table of all its
//!   methods, where a step, a deletion or an update of a named resource is one row
//!   (`api::Named`);
//! - [`app`]: the use cases, one module per resource — each change runs as one
//!   transaction ([`store::tx::Tx`]) that loads, checks the caller's reach and the
//!   domain's rules, writes and records its audit event; request ids make creates safe to
//!   retry ([`app::Once`]); the command line calls the same use cases; no transport and no
//!   storage crate;
//! - [`domain`]: types and rules, free of tonic and sea-orm, directly or through another
//!   module;
//! - [`store`]: sea-orm entities, queries taking typed inputs (what they share, a row by
//!   id with its lock and a keyset page, in [`store::rows`]), the write transaction and
//!   its audit journal, request ids, and (in [`store::sqlite`]) what makes SQLite fast;
//!   free of tonic;
//! - [`error`]: the one error type, free of tonic and sea-orm (statuses: [`api::status`];
//!   database errors become it in [`store`]);
//! - [`server`]: services, reflection, health, admission of connections and requests, and
//!   graceful shutdown; [`limits`]: what keys hold at once against their limits;
//! - [`proto`]: the code generated from `proto/`;
//! - [`config`], [`telemetry`], [`cli`]: settings, logs and the command line.

pub mod api;
pub mod app;
pub mod cli;
pub mod config;
pub mod domain;
pub mod error;
pub mod limits;
pub mod proto;
pub mod server;
pub mod store;
pub mod telemetry;
