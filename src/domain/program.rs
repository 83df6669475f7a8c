//! Cooperation programs (协作计划): a named scheme with its basis and period.

use super::{patch::writable, period::Period, text};
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

/// The fields of a program that callers write, as a request sends them, not yet checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProgramFields {
    /// The program's name.
    pub display_name: String,
    /// The document that set it up.
    pub basis_document: String,
    /// The first day.
    pub period_start: String,
    /// The last day.
    pub period_end: String,
    /// Free text.
    pub description: String,
}

writable!(ProgramFields {
    display_name,
    basis_document,
    period_start,
    period_end,
    description,
});

impl ProgramDraft {
    /// Checks every field at once; errors name `program.{field}`.
    ///
    /// # Errors
    /// INVALID_ARGUMENT naming each bad field.
    pub fn parse(p: &ProgramFields) -> Result<Self, Error> {
        let texts = Error::collect([
            text::check_line("program.display_name", &p.display_name, 200, true),
            text::check_line("program.basis_document", &p.basis_document, 500, false),
            text::check("program.description", &p.description, 4000, false),
        ]);
        let period = Period::parse("program.", &p.period_start, &p.period_end);
        let ((), period) = Error::all((texts, period))?;
        Ok(Self {
            display_name: p.display_name.clone(),
            basis_document: p.basis_document.clone(),
            period,
            description: p.description.clone(),
        })
    }
}

/// Fields that only the server sets.
pub const OUTPUT_ONLY: &[&str] = &["name", "create_time", "update_time", "etag"];
