//! Type B timestamps: `YYYYMMDDHHMM` in UTC+8.

use sealcast_crypto::civil::{civil_from_days, days_from_civil, days_in_month};

/// Type B timestamps are Beijing time (UTC+8), as Alibaba Cloud defines them.
const UTC8: i64 = 8 * 3600;

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
