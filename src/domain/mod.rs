//! Types and rules of duikou, free of transport and storage:
//! - regions ([`region`]: codes, levels, containment), cooperation programs ([`program`])
//!   and pairings ([`pairing`]: fields, the state machine, the placement rules);
//! - projects ([`project`]: the lifecycle, milestones), the funds ledger ([`ledger`]) in
//!   exact amounts ([`money`]), and talent exchanges ([`talent`]);
//! - supervision ([`supervision`]: entries and the course each runs to closure, who may
//!   take each step, when one is overdue) and what its lists and watches ask for
//!   ([`supervision_query`]);
//! - water quality ([`water`]: the parameters, limits and classes of GB 3838-2002 and the
//!   single-factor evaluation of a sample against its section's target), the sections and
//!   samples it is measured by and how an exceedance goes into supervision
//!   ([`monitoring`]), and station data in HJ 212-2017 ([`hj212`]: frames, their CRC,
//!   readings and data flags) from the stations that send it ([`station`]: codes and
//!   passwords);
//! - who is calling ([`access`]: roles, region scopes, bearer secrets), and the audit log:
//!   its events ([`audit`]), their Merkle tree ([`merkle`]) and signed checkpoints
//!   ([`checkpoint`]);
//! - what every resource shares: names ([`name`]), civil dates and periods ([`period`]),
//!   free text ([`text`]), lists sent in one field ([`list`]), filters ([`filter`]), the
//!   fields an update sends ([`patch`]), pages ([`page`]), request ids ([`request_id`])
//!   and the clock the service reads ([`clock`]); the server's keys and the keyed hashes
//!   made with them ([`secret`]).
//!
//! Requests become these values through constructors that reject bad input, so code past
//! the edge never checks again.

/// An enum of the API whose values are numbered: the numbers those sent and stored. Each
/// such enum is `#[repr(i16)]`, so every number fits in 16 bits (the compiler refuses one
/// that does not), and code outside the domain can carry the values without a cast that
/// could truncate.
pub trait Numbered: Copy + 'static {
    /// Every value.
    const ALL: &'static [Self];

    /// The value's number.
    fn to_i16(self) -> i16;

    /// The value with number `n`, if any.
    fn from_i16(n: i16) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.to_i16() == n)
    }
}

/// An API enum in the domain: its numbers, its short words (filters, messages) and the
/// lookups between them; a filter reads it by word ([`filter::Words`]).
macro_rules! numbered {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, { $($(#[$vdoc:meta])* $variant:ident = $n:literal, $word:literal;)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(i16)]
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

        impl $crate::domain::Numbered for $name {
            const ALL: &'static [Self] = Self::ALL;

            fn to_i16(self) -> i16 {
                self as i16
            }
        }
    };
}

pub mod access;
pub mod audit;
pub mod checkpoint;
pub mod clock;
pub mod decimal;
pub mod filter;
pub mod hj212;
pub mod ledger;
pub mod list;
pub mod merkle;
pub mod money;
pub mod monitoring;
pub mod name;
pub mod organization;
pub mod page;
pub mod pairing;
pub mod patch;
pub mod period;
pub mod plan;
pub mod plan_task;
pub mod program;
pub mod project;
pub mod region;
pub mod request_id;
pub mod revision;
pub mod secret;
pub mod station;
pub mod supervision;
pub mod supervision_query;
pub mod talent;
pub mod text;
pub mod water;

#[cfg(test)]
mod tests {
    use std::fmt::Debug;

    use super::{
        Numbered, access::Role, ledger, pairing, project::ProjectState, region::RegionLevel, talent,
    };

    /// Checks that `T`'s numbers as [`Numbered`] are those of its own `number` and
    /// `from_number`, and that `ALL` lists every value once.
    fn agrees<T: Numbered + PartialEq + Debug>(number: fn(T) -> i32, from: fn(i32) -> Option<T>) {
        for &value in T::ALL {
            assert_eq!(i32::from(value.to_i16()), number(value), "{value:?}");
            assert_eq!(
                T::ALL.iter().filter(|&&v| v == value).count(),
                1,
                "{value:?}"
            );
        }
        for n in -1..=100 {
            let by_trait = i16::try_from(n).ok().and_then(T::from_i16);
            assert_eq!(by_trait, from(n), "number {n}");
        }
    }

    #[test]
    fn every_numbered_enum_numbers_its_values_as_it_says_elsewhere() {
        agrees(Role::number, Role::from_number);
        agrees(RegionLevel::number, RegionLevel::from_number);
        agrees(
            pairing::CooperationField::number,
            pairing::CooperationField::from_number,
        );
        agrees(
            pairing::PairingState::number,
            pairing::PairingState::from_number,
        );
        agrees(ProjectState::number, ProjectState::from_number);
        agrees(ledger::Kind::number, ledger::Kind::from_number);
        agrees(ledger::Source::number, ledger::Source::from_number);
        agrees(ledger::Instrument::number, ledger::Instrument::from_number);
        agrees(talent::TalentKind::number, talent::TalentKind::from_number);
        agrees(talent::Direction::number, talent::Direction::from_number);
        agrees(
            super::plan::WorkPlanState::number,
            super::plan::WorkPlanState::from_number,
        );
        agrees(
            super::plan::PlanField::number,
            super::plan::PlanField::from_number,
        );
    }
}
