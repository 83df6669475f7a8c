//! Money: exact amounts of renminbi, kept as whole fen (0.01 yuan).
//!
//! The API speaks `Money{currency_code, units, nanos}` as google.type.Money does; an amount
//! comes in through [`Amount::parse`], which accepts only what a ledger line may carry.

use std::fmt;

use crate::error::Error;

/// Nanos in one fen.
const NANOS_PER_FEN: i32 = 10_000_000;
/// Fen in one yuan.
const FEN_PER_YUAN: i64 = 100;
/// The largest amount any one figure may state: 10^12 yuan.
pub const MAX_YUAN: i64 = 1_000_000_000_000;

/// A strictly positive amount of renminbi, at most [`MAX_YUAN`], in whole fen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Amount(i64);

impl Amount {
    /// Reads an amount written as google.type.Money: `currency_code` "CNY", `units` whole
    /// yuan, `nanos` the rest in billionths of a yuan, of the same sign.
    ///
    /// # Errors
    /// INVALID_ARGUMENT naming `field` (or its `currency_code` or `nanos`) for another
    /// currency, a precision finer than one fen, mixed signs, an amount that is not above
    /// zero, or one above 10^12 yuan.
    pub fn parse(field: &str, currency_code: &str, units: i64, nanos: i32) -> Result<Self, Error> {
        if currency_code.is_empty() && units == 0 && nanos == 0 {
            return Err(Error::invalid(field, "is required"));
        }
        if currency_code != "CNY" {
            return Err(Error::invalid(
                format!("{field}.currency_code"),
                format!("must be \"CNY\", not {currency_code:?}"),
            ));
        }
        if !(-999_999_999..=999_999_999).contains(&nanos)
            || (units > 0 && nanos < 0)
            || (units < 0 && nanos > 0)
        {
            return Err(Error::invalid(
                format!("{field}.nanos"),
                "must lie within ±999,999,999 and have the sign of units",
            ));
        }
        if nanos % NANOS_PER_FEN != 0 {
            return Err(Error::invalid(
                format!("{field}.nanos"),
                "must be a whole number of fen (a multiple of 10,000,000)",
            ));
        }
        if units < 0 || (units == 0 && nanos <= 0) {
            return Err(Error::invalid(field, "must be more than zero"));
        }
        if units > MAX_YUAN || (units == MAX_YUAN && nanos > 0) {
            return Err(Error::invalid(field, "must be at most 10^12 yuan"));
        }
        Ok(Self(
            units * FEN_PER_YUAN + i64::from(nanos / NANOS_PER_FEN),
        ))
    }

    /// An amount already in storage, in fen.
    ///
    /// # Errors
    /// INTERNAL for a stored figure that is not a valid amount.
    pub fn from_fen(fen: i64) -> Result<Self, Error> {
        if fen > 0 && fen <= MAX_YUAN * FEN_PER_YUAN {
            Ok(Self(fen))
        } else {
            Err(anyhow::anyhow!("a stored amount of {fen} fen is out of range").into())
        }
    }

    /// The amount in fen.
    pub fn fen(self) -> i64 {
        self.0
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Balance(self.0).fmt(f)
    }
}

/// A signed sum of fen as one stored figure holds it: a balance, a total, or what remains
/// available. One amount is at most 10^14 fen, but `i64` holds only 9.2 × 10^18, so 92,234
/// of the largest amounts fill it: every addition is checked ([`add_fen`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Balance(pub i64);

/// FAILED_PRECONDITION `AMOUNT_OUT_OF_RANGE`: `what` would grow beyond what a stored figure
/// can hold.
pub fn out_of_range(what: &str) -> Error {
    Error::FailedPrecondition {
        reason: "AMOUNT_OUT_OF_RANGE",
        message: format!(
            "{what} would exceed the largest sum duikou keeps ({} fen)",
            i64::MAX
        ),
        metadata: vec![("max_fen", i64::MAX.to_string())],
    }
}

/// `a + b` in fen.
///
/// # Errors
/// FAILED_PRECONDITION `AMOUNT_OUT_OF_RANGE`, naming `what`, when the sum leaves `i64`.
pub fn add_fen(a: i64, b: i64, what: &str) -> Result<i64, Error> {
    a.checked_add(b).ok_or_else(|| out_of_range(what))
}

/// A sum of many stored figures, in fen. It is as wide as it must be that no sum of
/// `i64` figures overflows it (2^64 of them would not); only its conversion back to
/// google.type.Money, whose units are an `i64` of yuan, can fail.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sum(pub i128);

impl Sum {
    /// Adds `fen`.
    pub fn add(&mut self, fen: impl Into<i128>) {
        self.0 += fen.into();
    }

    /// Whole yuan and the nanos of the rest, both of the same sign.
    ///
    /// # Errors
    /// FAILED_PRECONDITION `AMOUNT_OUT_OF_RANGE` when the yuan do not fit an `i64`.
    pub fn units_and_nanos(self) -> Result<(i64, i32), Error> {
        let units = i64::try_from(self.0 / i128::from(FEN_PER_YUAN))
            .map_err(|_| out_of_range("the sum"))?;
        let nanos = (self.0 % i128::from(FEN_PER_YUAN)) as i32 * NANOS_PER_FEN;
        Ok((units, nanos))
    }
}

impl From<i64> for Sum {
    fn from(fen: i64) -> Self {
        Self(i128::from(fen))
    }
}

impl Balance {
    /// Whole yuan and the nanos of the rest, as google.type.Money writes them: both of the
    /// same sign.
    pub fn units_and_nanos(self) -> (i64, i32) {
        let units = self.0 / FEN_PER_YUAN;
        let nanos = (self.0 % FEN_PER_YUAN) as i32 * NANOS_PER_FEN;
        (units, nanos)
    }
}

impl From<Amount> for Balance {
    fn from(amount: Amount) -> Self {
        Self(amount.0)
    }
}

impl fmt::Display for Balance {
    /// Yuan with two decimals and the currency: `1234.50 CNY`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let fen = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02} CNY", fen / 100, fen % 100)
    }
}

/// An amount as a request writes it: google.type.Money's three fields, not yet checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MoneyFields {
    /// The currency, "CNY".
    pub currency_code: String,
    /// Whole yuan.
    pub units: i64,
    /// The rest, in billionths of a yuan.
    pub nanos: i32,
}

impl MoneyFields {
    /// The fields of a stored figure.
    pub fn of(balance: Balance) -> Self {
        let (units, nanos) = balance.units_and_nanos();
        Self {
            currency_code: "CNY".to_owned(),
            units,
            nanos,
        }
    }

    /// The amount the fields write, as [`Amount::parse`] reads it.
    ///
    /// # Errors
    /// INVALID_ARGUMENT naming `field`, as [`Amount::parse`] does.
    pub fn amount(&self, field: &str) -> Result<Amount, Error> {
        Amount::parse(field, &self.currency_code, self.units, self.nanos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(error: &Error) -> String {
        match error {
            Error::InvalidArgument { violations, .. } => violations[0].field.clone(),
            other => panic!("not INVALID_ARGUMENT: {other:?}"),
        }
    }

    #[test]
    fn yuan_and_fen_become_whole_fen() {
        assert_eq!(
            Amount::parse("a", "CNY", 12, 340_000_000).unwrap().fen(),
            1234
        );
        assert_eq!(Amount::parse("a", "CNY", 0, 10_000_000).unwrap().fen(), 1);
        assert_eq!(
            Amount::parse("a", "CNY", MAX_YUAN, 0).unwrap().fen(),
            100_000_000_000_000
        );
    }

    #[test]
    fn anything_a_ledger_line_may_not_carry_is_refused_with_its_field() {
        let cases = [
            ("USD", 1, 0, "a.currency_code"),
            ("", 1, 0, "a.currency_code"),
            ("CNY", 1, 5_000_000, "a.nanos"),
            ("CNY", 0, 1, "a.nanos"),
            ("CNY", 1, -10_000_000, "a.nanos"),
            ("CNY", 0, 1_000_000_000, "a.nanos"),
            ("CNY", 0, 0, "a"),
            ("CNY", -1, 0, "a"),
            ("CNY", 0, -10_000_000, "a"),
            ("CNY", MAX_YUAN, 10_000_000, "a"),
            ("CNY", i64::MAX, 0, "a"),
            ("", 0, 0, "a"),
        ];
        for (currency, units, nanos, field) in cases {
            let error = Amount::parse("a", currency, units, nanos).unwrap_err();
            assert_eq!(field_of(&error), field, "{currency} {units} {nanos}");
        }
    }

    #[test]
    fn balances_write_back_as_units_and_nanos_of_one_sign() {
        assert_eq!(Balance(1234).units_and_nanos(), (12, 340_000_000));
        assert_eq!(Balance(-1234).units_and_nanos(), (-12, -340_000_000));
        assert_eq!(Balance(0).units_and_nanos(), (0, 0));
        assert_eq!(Balance(-5).to_string(), "-0.05 CNY");
        assert_eq!(Balance(100_050).to_string(), "1000.50 CNY");
    }

    #[test]
    fn additions_that_would_leave_a_stored_figure_are_refused() {
        assert_eq!(add_fen(i64::MAX - 1, 1, "x").unwrap(), i64::MAX);
        let error = add_fen(i64::MAX, 1, "the commitment").unwrap_err();
        assert!(matches!(
            error,
            Error::FailedPrecondition {
                reason: "AMOUNT_OUT_OF_RANGE",
                ..
            }
        ));
        assert!(add_fen(i64::MIN, -1, "x").is_err());
    }

    #[test]
    fn sums_of_stored_figures_never_wrap_and_write_back_while_the_yuan_fit() {
        let mut sum = Sum::default();
        sum.add(i64::MAX);
        sum.add(i64::MAX);
        assert_eq!(sum.0, 2 * i128::from(i64::MAX));
        assert_eq!(
            sum.units_and_nanos().unwrap(),
            (184_467_440_737_095_516, 140_000_000)
        );
        assert_eq!(Sum(-1234).units_and_nanos().unwrap(), (-12, -340_000_000));
        let too_big = Sum(i128::from(i64::MAX) * 100 + 100);
        assert!(too_big.units_and_nanos().is_err());
        assert_eq!(
            Sum(i128::from(i64::MAX) * 100).units_and_nanos().unwrap(),
            (i64::MAX, 0)
        );
    }
}
