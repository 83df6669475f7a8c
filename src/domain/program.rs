//! Cooperation programs (协作计划): a named scheme of one form of cooperation, with its
//! basis and period.

use super::{
    filter::{self, filter},
    patch::writable,
    period::Period,
    text,
};
use crate::error::Error;

numbered!(
    /// The form of counterpart cooperation a program belongs to: one institution through
    /// its forms, so that one duikou serves every scheme an office runs and compares them.
    ProgramKind, "PROGRAM_KIND_", {
        /// 对口支援, from 1979.
        CounterpartSupport = 1, "COUNTERPART_SUPPORT";
        /// 对口帮扶, from 1996.
        CounterpartAssistance = 2, "COUNTERPART_ASSISTANCE";
        /// 东西部协作.
        EastWestCooperation = 3, "EAST_WEST_COOPERATION";
        /// 对口协作, the Danjiangkou form; what an unspecified kind means.
        CounterpartCooperation = 4, "COUNTERPART_COOPERATION";
    }
);

impl ProgramKind {
    /// The kind a request sent as its API number; 0 (unspecified) is
    /// COUNTERPART_COOPERATION.
    ///
    /// # Errors
    /// INVALID_ARGUMENT on `field` for a number that is no kind.
    pub fn from_request(field: &str, number: i32) -> Result<Self, Error> {
        if number == 0 {
            return Ok(Self::CounterpartCooperation);
        }
        Self::from_number(number).ok_or_else(|| {
            Error::invalid(
                field,
                "must be COUNTERPART_SUPPORT, COUNTERPART_ASSISTANCE, EAST_WEST_COOPERATION or \
                 COUNTERPART_COOPERATION",
            )
        })
    }
}

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
    /// Its form of cooperation.
    pub kind: ProgramKind,
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
    /// The form of cooperation, as its API number.
    pub kind: i32,
}

writable!(ProgramFields {
    display_name,
    basis_document,
    period_start,
    period_end,
    description,
    kind,
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
        let kind = ProgramKind::from_request("program.kind", p.kind);
        let ((), period, kind) = Error::all((texts, period, kind))?;
        Ok(Self {
            display_name: p.display_name.clone(),
            basis_document: p.basis_document.clone(),
            period,
            description: p.description.clone(),
            kind,
        })
    }
}

filter! {
    /// The typed query of `ListPrograms`.
    pub struct ProgramFilter of "ListPrograms" {
        /// `kind = EAST_WEST_COOPERATION`.
        "kind" => kind: ProgramKind = filter::word,
    }
}

/// Fields that only the server sets.
pub const OUTPUT_ONLY: &[&str] = &["name", "create_time", "update_time", "etag"];
