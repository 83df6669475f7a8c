//! Exact decimals as integers of millionths: the figures callers send as text ("0.025",
//! "1500000", "85.5") and the one way they are read and written back.

use crate::error::Error;

/// Millionths in one unit.
pub const MILLION: i64 = 1_000_000;

/// Reads `text`, a decimal without a sign such as `0.025` or `15`, with at most six
/// decimals and at most `max_units` whole units, as millionths.
///
/// # Errors
/// INVALID_ARGUMENT on `field` when it is not such a decimal (the message shows
/// `example`), has more than six decimals, or is larger than `max_units`.
pub fn parse_unsigned(
    field: &str,
    text: &str,
    max_units: i64,
    example: &str,
) -> Result<i64, Error> {
    let wrong = || {
        Error::invalid(
            field,
            format!("must be a decimal number such as \"{example}\", not {text:?}"),
        )
    };
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty()
        || !all_digits(whole)
        || !all_digits(fraction)
        || (text.contains('.') && fraction.is_empty())
    {
        return Err(wrong());
    }
    if fraction.len() > 6 {
        return Err(Error::invalid(field, "must have at most 6 decimals"));
    }
    let units: i64 = whole
        .parse()
        .ok()
        .filter(|u| *u <= max_units)
        .ok_or_else(|| Error::invalid(field, format!("must be at most {max_units}")))?;
    let micro: i64 = format!("{fraction:0<6}").parse().map_err(|_| wrong())?;
    Ok(units * MILLION + micro)
}

/// `millionths` as a decimal without trailing zeros: `0.025`, `15`, `-1.5`.
pub fn format(millionths: i64) -> String {
    let sign = if millionths < 0 { "-" } else { "" };
    let abs = millionths.unsigned_abs();
    let (units, micro) = (abs / MILLION as u64, abs % MILLION as u64);
    if micro == 0 {
        return format!("{sign}{units}");
    }
    let fraction = format!("{micro:06}");
    format!("{sign}{units}.{}", fraction.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_read_and_write_back_exactly() {
        for (text, millionths, written) in [
            ("0.025", 25_000, "0.025"),
            ("15", 15_000_000, "15"),
            ("12.50", 12_500_000, "12.5"),
            ("0.000001", 1, "0.000001"),
        ] {
            let read = parse_unsigned("f", text, 1_000, "1.5").unwrap();
            assert_eq!(read, millionths, "{text}");
            assert_eq!(format(read), written);
        }
        assert_eq!(format(-1_500_000), "-1.5");
        for bad in ["", "-1", "1.", ".5", "1e3", "0.0000001", "1001", "1,5"] {
            assert!(parse_unsigned("f", bad, 1_000, "1.5").is_err(), "{bad:?}");
        }
    }
}
