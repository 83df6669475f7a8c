//! Civil dates ("YYYY-MM-DD") and periods: a first and a last day, in order.

use chrono::NaiveDate;

use crate::error::Error;

/// Parses a civil date written exactly `YYYY-MM-DD`.
///
/// # Errors
/// INVALID_ARGUMENT naming `field` for any other shape or an impossible date.
pub fn parse_date(field: &str, text: &str) -> Result<NaiveDate, Error> {
    let shaped = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    match shaped.then(|| NaiveDate::parse_from_str(text, "%Y-%m-%d")) {
        Some(Ok(date)) => Ok(date),
        _ if text.is_empty() => Err(Error::invalid(field, "is required")),
        _ => Err(Error::invalid(field, "must be a date written YYYY-MM-DD")),
    }
}

/// Writes a date as `YYYY-MM-DD`.
pub fn format_date(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

/// A period read back from storage.
///
/// # Errors
/// INTERNAL when the stored days are out of order.
pub fn stored(start: NaiveDate, end: NaiveDate) -> Result<Period, Error> {
    Period::new("period_end", start, end).map_err(|_| {
        Error::from(anyhow::anyhow!(
            "stored period {start}..{end} is out of order"
        ))
    })
}

/// A period from `start` to `end`, both days included; it ends after it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    start: NaiveDate,
    end: NaiveDate,
}

impl Period {
    /// Parses the two dates of a period from fields named `{prefix}period_start` and
    /// `{prefix}period_end`.
    ///
    /// # Errors
    /// INVALID_ARGUMENT naming each bad field; an end not after the start names the end.
    pub fn parse(prefix: &str, start: &str, end: &str) -> Result<Self, Error> {
        Self::parse_fields(
            &format!("{prefix}period_start"),
            &format!("{prefix}period_end"),
            start,
            end,
        )
    }

    /// Parses the two dates of a period from the fields `start_field` and `end_field`.
    ///
    /// # Errors
    /// INVALID_ARGUMENT naming each bad field; an end not after the start names the end.
    pub fn parse_fields(
        start_field: &str,
        end_field: &str,
        start: &str,
        end: &str,
    ) -> Result<Self, Error> {
        let start = parse_date(start_field, start);
        let end = parse_date(end_field, end);
        match (start, end) {
            (Ok(start), Ok(end)) => Self::new(end_field, start, end),
            (Ok(_), Err(e)) | (Err(e), Ok(_)) => Err(e),
            (Err(a), Err(b)) => Err(a.merge(b)),
        }
    }

    /// A period from two dates.
    ///
    /// # Errors
    /// INVALID_ARGUMENT naming `end_field` unless `end` is after `start`.
    pub fn new(end_field: &str, start: NaiveDate, end: NaiveDate) -> Result<Self, Error> {
        if end > start {
            Ok(Self { start, end })
        } else {
            Err(Error::invalid(end_field, "must be after the start"))
        }
    }

    /// First day.
    pub fn start(&self) -> NaiveDate {
        self.start
    }

    /// Last day.
    pub fn end(&self) -> NaiveDate {
        self.end
    }

    /// The first and last calendar years the period touches: the fiscal years it spans.
    pub fn years(&self) -> (i32, i32) {
        use chrono::Datelike;
        (self.start.year(), self.end.year())
    }

    /// True when every day of `other` lies inside this period.
    pub fn contains(&self, other: &Period) -> bool {
        self.start <= other.start && other.end <= self.end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_strictly_iso() {
        assert!(parse_date("d", "2021-02-28").is_ok());
        for bad in [
            "2021-2-28",
            "2021-02-30",
            "21-02-28",
            "2021/02/28",
            "2021-02-28T00:00",
        ] {
            assert!(parse_date("d", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_period_ends_after_it_starts() {
        assert!(Period::parse("", "2021-01-01", "2035-12-31").is_ok());
        let err = Period::parse("p.", "2021-01-01", "2021-01-01").unwrap_err();
        assert!(matches!(err, Error::InvalidArgument { ref violations, .. }
            if violations[0].field == "p.period_end"));
    }

    #[test]
    fn both_bad_dates_are_named() {
        let err = Period::parse("p.", "x", "").unwrap_err();
        let Error::InvalidArgument { violations, .. } = err else {
            panic!("expected invalid argument")
        };
        let fields: Vec<_> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["p.period_start", "p.period_end"]);
    }

    #[test]
    fn containment_includes_the_edges() {
        let outer = Period::parse("", "2021-01-01", "2035-12-31").unwrap();
        let inner = Period::parse("", "2021-01-01", "2025-12-31").unwrap();
        assert!(outer.contains(&inner));
        assert!(!inner.contains(&outer));
    }
}
