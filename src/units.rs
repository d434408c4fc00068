//! Times with units, as written on the command line (`90min`, `6h`, `2d`, `30s`).
//!
//! Internally every time is in minutes (`f64`).

use crate::error::{Error, Result};

/// Minutes per unit, for the suffixes accepted in time strings.
const UNITS: &[(&str, f64)] = &[
    ("s", 1.0 / 60.0),
    ("sec", 1.0 / 60.0),
    ("min", 1.0),
    ("m", 1.0),
    ("h", 60.0),
    ("hr", 60.0),
    ("d", 1440.0),
    ("day", 1440.0),
    ("days", 1440.0),
];

/// Reads a time such as `90min`, `6h`, `2d`, `1.5 h` into minutes.
/// A bare number is refused: the unit is part of the value.
pub fn parse_time_min(text: &str) -> Result<f64> {
    let err = |why: &str| Error::Time {
        value: text.to_string(),
        why: why.to_string(),
    };
    let t = text.trim();
    let split = t
        .find(|c: char| c.is_ascii_alphabetic() && c != 'e' && c != 'E')
        .or_else(|| t.rfind(|c: char| c.is_ascii_alphabetic()))
        .ok_or_else(|| err("no unit"))?;
    let (num, unit) = t.split_at(split);
    let unit = unit.trim();
    let factor = UNITS
        .iter()
        .find(|(u, _)| *u == unit)
        .map(|(_, f)| *f)
        .ok_or_else(|| err(&format!("unknown unit `{unit}` (use s, min, h or d)")))?;
    let value: f64 = num
        .trim()
        .parse()
        .map_err(|_| err(&format!("`{}` is not a number", num.trim())))?;
    if !value.is_finite() || value < 0.0 {
        return Err(err("must be a finite, non-negative time"));
    }
    Ok(value * factor)
}

/// Formats minutes in the largest unit that keeps the number readable.
pub fn format_min(t: f64) -> String {
    let a = t.abs();
    if a >= 2880.0 {
        format!("{:.3} d", t / 1440.0)
    } else if a >= 120.0 {
        format!("{:.3} h", t / 60.0)
    } else if a >= 1.0 || a == 0.0 {
        format!("{:.4} min", t)
    } else {
        format!("{:.4e} min", t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_units() {
        assert_eq!(parse_time_min("90min").unwrap(), 90.0);
        assert_eq!(parse_time_min("6h").unwrap(), 360.0);
        assert_eq!(parse_time_min("2d").unwrap(), 2880.0);
        assert_eq!(parse_time_min("1.5 h").unwrap(), 90.0);
        assert_eq!(parse_time_min("30s").unwrap(), 0.5);
        assert_eq!(parse_time_min("1e1min").unwrap(), 10.0);
    }

    #[test]
    fn refuses_bare_numbers_and_bad_units() {
        assert!(parse_time_min("90").is_err());
        assert!(parse_time_min("3 weeks").is_err());
        assert!(parse_time_min("-2h").is_err());
        assert!(parse_time_min("h").is_err());
    }
}
