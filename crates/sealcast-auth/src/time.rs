//! Civil time for type B timestamps (`YYYYMMDDHHMM` in UTC+8), without a calendar crate.

/// Type B timestamps are Beijing time (UTC+8), as Alibaba Cloud defines them.
const UTC8: i64 = 8 * 3600;

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { yoe + era * 400 + 1 } else { yoe + era * 400 }, m, d)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Parses `YYYYMMDDHHMM` (UTC+8) into Unix seconds.
pub(crate) fn parse_type_b(ts: &str) -> Option<i64> {
    if ts.len() != 12 || !ts.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = |r: std::ops::Range<usize>| ts[r].parse::<i64>().ok();
    let (y, mo, d, h, mi) = (n(0..4)?, n(4..6)?, n(6..8)?, n(8..10)?, n(10..12)?);
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 {
        return None;
    }
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 - UTC8)
}

/// Formats Unix seconds as `YYYYMMDDHHMM` in UTC+8 (seconds are dropped).
pub(crate) fn format_type_b(unix: i64) -> String {
    let t = unix + UTC8;
    let (y, m, d) = civil_from_days(t.div_euclid(86_400));
    let s = t.rem_euclid(86_400);
    format!("{y:04}{m:02}{d:02}{:02}{:02}", s / 3600, s % 3600 / 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_b_time() {
        // 2015-08-15 08:00 UTC+8 = 2015-08-15 00:00 UTC.
        assert_eq!(parse_type_b("201508150800"), Some(1_439_596_800));
        assert_eq!(format_type_b(1_439_596_800), "201508150800");
        assert_eq!(format_type_b(1_439_596_859), "201508150800");
        assert_eq!(parse_type_b("202402291200").map(format_type_b).as_deref(), Some("202402291200"));
        for bad in ["20150815080", "2015081508000", "201513150800", "201502290800", "201508152400", "2015081508x0"] {
            assert_eq!(parse_type_b(bad), None, "{bad}");
        }
        for t in [0i64, 86_399, 951_782_400, 1_700_000_000, 4_102_444_800] {
            let s = format_type_b(t);
            assert_eq!(parse_type_b(&s), Some(t - t.rem_euclid(60)), "{s}");
        }
    }
}
