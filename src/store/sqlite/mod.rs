//! The speed machinery for SQLite, behind one seam. Everything here exists because of how
//! SQLite and sqlx cost time, not because of what duikou does; the rest of `store` runs
//! the same code on both databases and reaches this only through [`super::Store`] and a
//! few helpers whose PostgreSQL branch is the plain one.
//!
//! - [`group_commit`]: one writer task gathers the write requests waiting at a moment into
//!   one IMMEDIATE transaction, each under its own savepoint, so that many share one fsync
//!   (about 3.6 k single-row commits a second with `synchronous=FULL`, against more than
//!   100 k rows a second in shared ones).
//! - [`script`]: several selects folded into one row of JSON arrays, several writes sent as
//!   one script, lists travelling as one JSON value so that statement texts stay the same;
//!   each statement, each returned row and each new statement text costs more under sqlx
//!   than the SQL itself. The ledger's batches and the audit log's sealing use it.
//! - [`point_read`]: reads of one row by primary key on read-only rusqlite connections,
//!   inline on the calling thread, for the hottest reads (GetPairing, GetRegion, tokens).
//!   Their column lists are written by hand; a test checks each against its entity.
//!
//! The ledger's own batching (one task gathering lines into a batch that reads the books
//! once) serves PostgreSQL as well, so it lives with the ledger, not here.

pub mod group_commit;
pub mod point_read;
pub mod script;
