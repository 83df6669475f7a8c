//! Types and rules of duikou, free of transport and storage:
//! - regions ([`region`]: codes, levels, containment), cooperation programs ([`program`])
//!   and pairings ([`pairing`]: fields, the state machine, the placement rules);
//! - projects ([`project`]: the lifecycle, milestones), the funds ledger ([`ledger`]) in
//!   exact amounts ([`money`]), and talent exchanges ([`talent`]);
//! - supervision ([`supervision`]: entries and the course each runs to closure, who may
//!   take each step, when one is overdue) and what its lists and watches ask for
//!   ([`supervision_query`]);
//! - who is calling ([`access`]: roles, region scopes, bearer secrets), and the audit log:
//!   its events ([`audit`]), their Merkle tree ([`merkle`]) and signed checkpoints
//!   ([`checkpoint`]);
//! - what every resource shares: names ([`name`]), civil dates and periods ([`period`]),
//!   free text ([`text`]), lists sent in one field ([`list`]), filters ([`filter`]), pages
//!   ([`page`]), request ids ([`request_id`]) and the clock the service reads ([`clock`]).
//!
//! Requests become these values through constructors that reject bad input, so code past
//! the edge never checks again.

/// An API enum in the domain: its numbers, its short words (filters, messages) and the
/// lookups between them; a filter reads it by word ([`filter::Words`]).
macro_rules! numbered {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, { $($(#[$vdoc:meta])* $variant:ident = $n:literal, $word:literal;)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vdoc])* $variant = $n,)+
        }

        impl $name {
            /// Every value, in the order of the API's enum.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The value with this API number.
            pub fn from_number(n: i32) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.number() == n)
            }

            /// The value by its short or enum name.
            pub fn from_word(word: &str) -> Option<Self> {
                let word = word.strip_prefix($prefix).unwrap_or(word);
                Self::ALL.iter().copied().find(|v| v.word() == word)
            }

            /// The API number.
            pub fn number(self) -> i32 {
                self as i32
            }

            /// The short name.
            pub fn word(self) -> &'static str {
                match self {
                    $($name::$variant => $word,)+
                }
            }
        }

        impl $crate::domain::filter::Words for $name {
            const ALL: &'static [$name] = $name::ALL;

            fn word(self) -> &'static str {
                $name::word(self)
            }

            fn from_word(word: &str) -> Option<Self> {
                $name::from_word(word)
            }
        }
    };
}

pub mod access;
pub mod audit;
pub mod checkpoint;
pub mod clock;
pub mod filter;
pub mod ledger;
pub mod list;
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
pub mod revision;
pub mod supervision;
pub mod supervision_query;
pub mod talent;
pub mod text;
