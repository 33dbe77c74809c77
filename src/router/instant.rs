//! RFC 3339 instants in UTC at second precision (`2026-12-07T09:00:00Z`), the only form a rollout's
//! `start` takes: to and from Unix seconds, without a date library (the filter has no `SystemTime`, and
//! the host clock is all it needs).

/// The first instant a rollout may start at (1970-01-01T00:00:00Z) and the last (9999-12-31T23:59:59Z).
pub const MAX_UNIX_SECONDS: u64 = 253_402_300_799;

/// `YYYY-MM-DDTHH:MM:SSZ` → Unix seconds; `None` for any other spelling (lowercase `t`/`z`, offsets,
/// fractions, out-of-range fields, February 30th, years before 1970).
pub fn parse(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    if b.len() != 20 || b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') || b.get(10) != Some(&b'T') {
        return None;
    }
    if b.get(13) != Some(&b':') || b.get(16) != Some(&b':') || b.get(19) != Some(&b'Z') {
        return None;
    }
    let number = |from: usize, len: usize| -> Option<u64> {
        let digits = b.get(from..from + len)?;
        digits.iter().try_fold(0u64, |acc, d| {
            d.is_ascii_digit().then(|| acc * 10 + u64::from(d - b'0'))
        })
    };
    let (year, month, day) = (number(0, 4)?, number(5, 2)?, number(8, 2)?);
    let (hour, minute, second) = (number(11, 2)?, number(14, 2)?, number(17, 2)?);
    if year < 1970 || !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(days * 86_400 + hour * 3600 + minute * 60 + second)
}

/// Unix seconds → `YYYY-MM-DDTHH:MM:SSZ` (clamped to [`MAX_UNIX_SECONDS`]).
pub fn format(unix: u64) -> String {
    let unix = unix.min(MAX_UNIX_SECONDS);
    let (days, rest) = (unix / 86_400, unix % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

fn is_leap(year: u64) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

fn days_in_month(year: u64, month: u64) -> u64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a date in 1970 or later (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}
