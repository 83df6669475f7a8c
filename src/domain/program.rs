//! Cooperation programs (协作计划): a named scheme with its basis and period.

use super::{period::Period, text};
use crate::error::Error;

/// The fields of a program that callers write, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramDraft {
    /// The program's name.
    pub display_name: String,
    /// The document that set it up.
    pub basis_document: String,
    /// Its period.
    pub period: Period,
    /// Free text.
    pub description: String,
}

impl ProgramDraft {
    /// Checks every field at once; errors name `program.{field}`.
    ///
    /// # Errors
    /// INVALID_ARGUMENT naming each bad field.
    pub fn new(
        display_name: String,
        basis_document: String,
        period_start: &str,
        period_end: &str,
        description: String,
    ) -> Result<Self, Error> {
        let texts = Error::collect([
            text::check("program.display_name", &display_name, 200, true),
            text::check("program.basis_document", &basis_document, 500, false),
            text::check("program.description", &description, 4000, false),
        ]);
        match (Period::parse("program.", period_start, period_end), texts) {
            (Ok(period), Ok(())) => Ok(Self {
                display_name,
                basis_document,
                period,
                description,
            }),
            (Ok(_), Err(e)) | (Err(e), Ok(())) => Err(e),
            (Err(a), Err(b)) => Err(b.merge(a)),
        }
    }
}

/// The fields an update mask may name on a program.
pub const UPDATABLE: &[&str] = &[
    "display_name",
    "basis_document",
    "period_start",
    "period_end",
    "description",
];

/// Fields that only the server sets.
pub const OUTPUT_ONLY: &[&str] = &["name", "create_time", "update_time", "etag"];

/// What an update sends for the fields its mask names; a field it does not name stays as
/// stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProgramPatch {
    /// A new name.
    pub display_name: Option<String>,
    /// A new basis document.
    pub basis_document: Option<String>,
    /// A new first day, as sent.
    pub period_start: Option<String>,
    /// A new last day, as sent.
    pub period_end: Option<String>,
    /// A new description.
    pub description: Option<String>,
}

impl ProgramPatch {
    /// The program as it will stand: `current` with the sent fields over it, checked as a
    /// whole.
    ///
    /// # Errors
    /// INVALID_ARGUMENT naming each bad field.
    pub fn apply(&self, current: &ProgramDraft) -> Result<ProgramDraft, Error> {
        let pick =
            |sent: &Option<String>, stored: &str| sent.clone().unwrap_or_else(|| stored.to_owned());
        ProgramDraft::new(
            pick(&self.display_name, &current.display_name),
            pick(&self.basis_document, &current.basis_document),
            &pick(
                &self.period_start,
                &super::period::format_date(current.period.start()),
            ),
            &pick(
                &self.period_end,
                &super::period::format_date(current.period.end()),
            ),
            pick(&self.description, &current.description),
        )
    }
}
