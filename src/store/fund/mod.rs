//! The funds ledger in the database: reading the books a batch of lines touches (locking
//! their balances on PostgreSQL), writing the accepted lines with their balances and
//! summary totals, and reading lines and totals back.
//!
//! Its parts: `books` loads the books of a batch and the totals its lines move, `posting`
//! writes the lines, balances and totals of a batch, and `queries` reads lines, their
//! views and pages, and the totals that summaries add up.

mod books;
mod posting;
mod queries;

pub use self::{
    books::{Ledger, load_books},
    posting::write,
    queries::{LineView, SummaryRow, get_many, list, region_totals, reversals_of, totals, views},
};
pub use super::entities::fund_transaction::Model as LineRow;
