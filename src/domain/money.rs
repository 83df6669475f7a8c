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

/// A signed sum of fen: a balance, a total, or what remains available. Sums of amounts
/// stay far inside `i64` (10^12 yuan is 10^14 fen; `i64` holds 9.2 × 10^18).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Balance(pub i64);

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
}
