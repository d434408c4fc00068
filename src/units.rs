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

/// Formats minutes in the largest unit that keeps the number readable (days from 2 d,
/// hours from 2 h, else minutes, seconds below 1 min), to 4 significant digits without
/// trailing zeros: `60 min`, `4 h`, `2.5 d`, `8.333 min`, `1.44 s`, `3.6e-5 s`.
pub fn format_min(t: f64) -> String {
    let a = t.abs();
    let (v, unit) = if !a.is_finite() || a == 0.0 {
        (t, "min")
    } else if a >= 2880.0 {
        (t / 1440.0, "d")
    } else if a >= 120.0 {
        (t / 60.0, "h")
    } else if a >= 1.0 {
        (t, "min")
    } else {
        (t * 60.0, "s")
    };
    format!("{} {unit}", significant(v, 4))
}

/// `v` to `digits` significant digits, without trailing zeros; in exponent notation
/// outside 1e-3 ..< 1e6.
pub fn significant(v: f64, digits: usize) -> String {
    let a = v.abs();
    if !a.is_finite() || a == 0.0 {
        return format!("{v}");
    }
    if !(1e-3..1e6).contains(&a) {
        let s = format!("{v:.*e}", digits.saturating_sub(1));
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        return format!("{}e{e}", trim_zeros(m));
    }
    let decimals = (digits as i32 - 1 - a.log10().floor() as i32).max(0) as usize;
    trim_zeros(&format!("{v:.decimals$}")).to_string()
}

/// Whether `x` is at most `limit`: false for a NaN, so that a count that could not be
/// computed is refused with the ones that are too large.
pub fn within(x: f64, limit: f64) -> bool {
    x <= limit
}

/// A number as written back in a message: as Rust writes it (shortest exact form) from
/// 1e-4 to 1e9, in exponent form outside (`1e308`, not 309 digits).
pub fn number(x: f64) -> String {
    let a = x.abs();
    if a == 0.0 || !a.is_finite() || (1e-4..1e9).contains(&a) {
        format!("{x}")
    } else {
        format!("{x:e}")
    }
}

/// `1.500` → `1.5`, `60.00` → `60`; text without a decimal point is left alone.
fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// Bytes in binary units: `512.0 B`, `1.5 KiB`, `3.2 GiB`.
pub fn human_bytes(b: f64) -> String {
    const U: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < U.len() {
        v /= 1024.0;
        i += 1;
    }
    format!("{v:.1} {}", U[i])
}

/// Seconds as `1 h 05 min`, `3 min 20 s` or `12 s`.
pub fn human_secs(s: f64) -> String {
    if s < 9.95 {
        return format!("{:.1} s", s.max(0.0));
    }
    let s = s.round() as u64;
    if s >= 3600 {
        format!("{} h {:02} min", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{} min {:02} s", s / 60, s % 60)
    } else {
        format!("{s} s")
    }
}

/// A time as `2026-12-07T13:19:31Z` (seconds; UTC).
pub fn rfc3339(t: std::time::SystemTime) -> String {
    let secs = t
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// The proleptic Gregorian date of a day count from 1970-01-01 (H. Hinnant's
/// `civil_from_days`, written out).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // day of era, 0 ..= 146096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // 0 ..= 399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of year from March 1
    let mp = (5 * doy + 2) / 153; // month from March, 0 ..= 11
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
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
    fn formats_readably() {
        assert_eq!(format_min(60.0), "60 min");
        assert_eq!(format_min(240.0), "4 h");
        assert_eq!(format_min(2880.0), "2 d");
        assert_eq!(format_min(3600.0), "2.5 d");
        assert_eq!(format_min(25.0 / 3.0), "8.333 min");
        assert_eq!(format_min(0.024), "1.44 s");
        assert_eq!(format_min(6e-7), "3.6e-5 s");
        assert_eq!(format_min(-120.0), "-2 h");
        assert_eq!(format_min(0.0), "0 min");
        assert_eq!(significant(1234567.0, 4), "1.235e6");
        assert_eq!(significant(0.1388888, 4), "0.1389");
    }

    #[test]
    fn refuses_bare_numbers_and_bad_units() {
        assert!(parse_time_min("90").is_err());
        assert!(parse_time_min("3 weeks").is_err());
        assert!(parse_time_min("-2h").is_err());
        assert!(parse_time_min("h").is_err());
    }

    #[test]
    fn dates_are_gregorian() {
        let at = |s: u64| rfc3339(std::time::UNIX_EPOCH + std::time::Duration::from_secs(s));
        assert_eq!(at(0), "1970-01-01T00:00:00Z");
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(at(1_796_649_571), "2026-12-07T13:19:31Z");
        assert_eq!(at(4_107_542_399), "2100-02-28T23:59:59Z");
    }
}
