//! Timestamps in location data: RFC 3339 date-times (PIDF `timestamp`, RFC 3863 §4.1.7;
//! RFC 5491 retention-expiry) and AML's `YYYYMMDDhhmmss` UTC form (ETSI TS 103 625),
//! converted to milliseconds since the Unix epoch. Pure arithmetic, no clock.

/// Days since 1970-01-01 of a proleptic-Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn num(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// `(year, month, day)`, `(hour, minute, second)`, milliseconds, UTC offset in seconds.
fn to_ms(
    (y, mo, d): (i64, u32, u32),
    (h, mi, s): (u32, u32, u32),
    frac_ms: i64,
    off_s: i64,
) -> Option<i64> {
    if !(1..=12).contains(&mo) || d == 0 || d > days_in_month(y, mo) || h > 23 || mi > 59 || s > 60
    {
        return None;
    }
    let secs = days_from_civil(y, mo, d) * 86_400
        + i64::from(h) * 3600
        + i64::from(mi) * 60
        + i64::from(s)
        - off_s;
    Some(secs * 1000 + frac_ms)
}

/// Parses an RFC 3339 §5.6 date-time (`2007-06-22T20:57:29Z`, `…29.000Z`,
/// `…29-05:00`; `t`/`z` and a space separator accepted) into Unix milliseconds.
/// `None` when malformed.
pub fn parse_rfc3339_ms(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.len() < 20 || s.len() > 40 || !s.is_ascii() {
        return None;
    }
    let at = |a: usize, b: usize| s.get(a..b);
    let y = i64::from(num(at(0, 4)?)?);
    if at(4, 5)? != "-" || at(7, 8)? != "-" || at(13, 14)? != ":" || at(16, 17)? != ":" {
        return None;
    }
    if !matches!(at(10, 11)?, "T" | "t" | " ") {
        return None;
    }
    let mo = num(at(5, 7)?)?;
    let d = num(at(8, 10)?)?;
    let h = num(at(11, 13)?)?;
    let mi = num(at(14, 16)?)?;
    let sec = num(at(17, 19)?)?;
    let mut rest = s.get(19..)?;
    let mut frac_ms = 0i64;
    if let Some(r) = rest.strip_prefix('.') {
        let n = r.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        let mut ms = 0i64;
        for (b, scale) in r.bytes().take(n.min(3)).zip([100, 10, 1]) {
            ms += i64::from(b - b'0') * scale;
        }
        frac_ms = ms;
        rest = r.get(n..)?;
    }
    let off_s = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && rest.get(3..4) == Some(":") => {
            let sign = match rest.get(0..1)? {
                "+" => 1,
                "-" => -1,
                _ => return None,
            };
            let oh = i64::from(num(rest.get(1..3)?)?);
            let om = i64::from(num(rest.get(4..6)?)?);
            if oh > 23 || om > 59 {
                return None;
            }
            sign * (oh * 3600 + om * 60)
        }
        _ => return None,
    };
    to_ms((y, mo, d), (h, mi, sec), frac_ms, off_s)
}

/// Parses AML's `top` field, `YYYYMMDDhhmmss` in UTC (ETSI TS 103 625), into Unix
/// milliseconds. `None` when malformed.
pub fn parse_compact_utc_ms(s: &str) -> Option<i64> {
    if s.len() != 14 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let at = |a: usize, b: usize| s.get(a..b).and_then(num);
    to_ms(
        (i64::from(at(0, 4)?), at(4, 6)?, at(6, 8)?),
        (at(8, 10)?, at(10, 12)?, at(12, 14)?),
        0,
        0,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339() {
        assert_eq!(parse_rfc3339_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339_ms("2007-06-22T20:57:29Z"),
            Some(1_182_545_849_000)
        );
        assert_eq!(
            parse_rfc3339_ms("2007-06-22T20:57:29.000Z"),
            Some(1_182_545_849_000)
        );
        assert_eq!(
            parse_rfc3339_ms("2007-06-22T20:57:29.25Z"),
            Some(1_182_545_849_250)
        );
        assert_eq!(
            parse_rfc3339_ms("2003-04-02T14:39:01-05:00"),
            parse_rfc3339_ms("2003-04-02T19:39:01Z")
        );
        assert_eq!(
            parse_rfc3339_ms("2016-12-10T20:00:00Z "),
            Some(1_481_400_000_000)
        );
        assert_eq!(parse_rfc3339_ms("123j9föövv"), None);
        assert_eq!(parse_rfc3339_ms(""), None);
        assert_eq!(parse_rfc3339_ms("2007-02-30T00:00:00Z"), None);
        assert_eq!(parse_rfc3339_ms("2007-06-22T20:57:29+5:00"), None);
    }

    #[test]
    fn compact() {
        assert_eq!(
            parse_compact_utc_ms("20191112112928"),
            Some(1_573_558_168_000)
        );
        assert_eq!(parse_compact_utc_ms("2019111211292"), None);
        assert_eq!(parse_compact_utc_ms("20191312112928"), None);
    }
}
