//! Types and rules of duikou, free of transport and storage: region codes, periods,
//! pairings and their state machine, filters, pages and request ids.
//!
//! Requests become these values through constructors that reject bad input, so code past
//! the edge never checks again.

pub mod access;
pub mod audit;
pub mod checkpoint;
pub mod filter;
pub mod ledger;
pub mod merkle;
pub mod money;
pub mod name;
pub mod page;
pub mod pairing;
pub mod period;
pub mod program;
pub mod project;
pub mod region;
pub mod request_id;
pub mod text;
