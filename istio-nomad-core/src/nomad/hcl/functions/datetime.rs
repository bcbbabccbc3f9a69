//! Date functions: go-cty v1.12.1 `cty/function/stdlib/datetime.go` (`formatdate`,
//! `timeadd`). Timestamps are read as Go's `time.Parse(time.RFC3339, ...)` reads them (a
//! fraction of a second is accepted and dropped on output, `Z` or `+hh:mm`), durations as
//! Go's `time.ParseDuration`; chrono does the calendar arithmetic.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Timelike};

use super::value::Val;
use super::{s, Ctx, Fail, Res};

/// A parsed timestamp: the local date-time and its UTC offset in seconds.
struct Stamp {
    local: NaiveDateTime,
    offset: i32,
}

fn ts_err(m: &str) -> String {
    format!("not a valid RFC3339 timestamp: {m}")
}

/// Reads exactly `n` ASCII digits at the front of `v`.
fn fixed_digits(v: &str, n: usize, what: &str) -> Result<(u32, usize), String> {
    let d = v.get(..n).filter(|d| d.bytes().all(|b| b.is_ascii_digit()));
    match d {
        Some(d) => Ok((d.parse().unwrap_or(0), n)),
        None if v.len() < n => Err(ts_err(&format!("end of string before {what}"))),
        None => Err(ts_err(&format!(
            "cannot use {:?} as {what}",
            v.get(..n).unwrap_or(v)
        ))),
    }
}

fn literal(v: &str, lit: char) -> Result<&str, String> {
    match v.strip_prefix(lit) {
        Some(rest) => Ok(rest),
        None if lit == 'T' => Err(ts_err("missing required time introducer 'T'")),
        None if v.is_empty() => Err(ts_err(&format!(
            "end of string where {:?} is expected",
            lit.to_string()
        ))),
        None => Err(ts_err(&format!(
            "found {:?} where {:?} is expected",
            v.chars().next().map(String::from).unwrap_or_default(),
            lit.to_string()
        ))),
    }
}

fn parse_timestamp(text: &str) -> Result<Stamp, String> {
    let (year, n) = fixed_digits(text, 4, "year")?;
    let v = literal(&text[n..], '-')?;
    let (month, n) = fixed_digits(v, 2, "month")?;
    let v = literal(&v[n..], '-')?;
    let (day, n) = fixed_digits(v, 2, "day of month")?;
    let v = literal(&v[n..], 'T')?;
    // The hour may have one or two digits (Go's "15").
    let hour_len = v.bytes().take(2).take_while(u8::is_ascii_digit).count();
    if hour_len == 0 {
        return Err(if v.is_empty() {
            ts_err("end of string before hour")
        } else {
            ts_err(&format!("cannot use {:?} as hour", v.get(..1).unwrap_or(v)))
        });
    }
    let hour: u32 = v[..hour_len].parse().unwrap_or(99);
    let v = literal(&v[hour_len..], ':')?;
    let (minute, n) = fixed_digits(v, 2, "minute")?;
    let v = literal(&v[n..], ':')?;
    let (second, n) = fixed_digits(v, 2, "second")?;
    let mut v = &v[n..];
    let mut nanos = 0u32;
    let vb = v.as_bytes();
    if vb.len() >= 2 && (vb[0] == b'.' || vb[0] == b',') && vb[1].is_ascii_digit() {
        let digits = v[1..].bytes().take_while(u8::is_ascii_digit).count();
        let frac = &v[1..=digits];
        let mut padded: String = frac.chars().take(9).collect();
        while padded.len() < 9 {
            padded.push('0');
        }
        nanos = padded.parse().unwrap_or(0);
        v = &v[1 + digits..];
    }
    if month == 0 || month > 12 {
        return Err(ts_err("month out of range"));
    }
    if hour > 23 {
        return Err(ts_err("hour out of range"));
    }
    if minute > 59 {
        return Err(ts_err("minute out of range"));
    }
    if second > 59 {
        return Err(ts_err("second out of range"));
    }
    let offset = if let Some(rest) = v.strip_prefix('Z') {
        v = rest;
        0
    } else {
        let b = v.as_bytes();
        if b.len() < 6 || b[3] != b':' || !(b[0] == b'+' || b[0] == b'-') {
            return Err(if v.is_empty() {
                ts_err("end of string before UTC offset")
            } else {
                ts_err(&format!("cannot use {v:?} as UTC offset"))
            });
        }
        let hh: i32 = v[1..3]
            .parse()
            .map_err(|_| ts_err(&format!("cannot use {v:?} as UTC offset")))?;
        let mm: i32 = v[4..6]
            .parse()
            .map_err(|_| ts_err(&format!("cannot use {v:?} as UTC offset")))?;
        let off = hh * 3600 + mm * 60;
        let off = if b[0] == b'-' { -off } else { off };
        v = &v[6..];
        off
    };
    if !v.is_empty() {
        return Err(format!("parsing time {text:?}: extra text: {v:?}"));
    }
    let date = NaiveDate::from_ymd_opt(i32::try_from(year).unwrap_or(0), month, day)
        .ok_or_else(|| ts_err("day out of range"))?;
    let local = date
        .and_hms_nano_opt(hour, minute, second, nanos)
        .ok_or_else(|| ts_err("timestamp segment out of range"))?;
    Ok(Stamp { local, offset })
}

fn offset_text(offset: i32, colon: bool, z_for_utc: bool) -> String {
    if offset == 0 && z_for_utc {
        return "Z".into();
    }
    let sign = if offset < 0 { '-' } else { '+' };
    let a = offset.abs();
    let (h, m) = (a / 3600, (a % 3600) / 60);
    if colon {
        format!("{sign}{h:02}:{m:02}")
    } else {
        format!("{sign}{h:02}{m:02}")
    }
}

fn rfc3339(t: &Stamp) -> String {
    let l = &t.local;
    format!(
        "{}-{:02}-{:02}T{:02}:{:02}:{:02}{}",
        year_text(l.year()),
        l.month(),
        l.day(),
        l.hour(),
        l.minute(),
        l.second(),
        offset_text(t.offset, true, true)
    )
}

/// Go's four-digit year (`appendInt(b, year, 4)`).
fn year_text(y: i32) -> String {
    if y < 0 {
        format!("-{:04}", y.unsigned_abs())
    } else {
        format!("{y:04}")
    }
}

/// Go's `time.ParseDuration`: `[-+]` then one or more `number unit` (`ns`, `us`, `µs`,
/// `μs`, `ms`, `s`, `m`, `h`); `0` alone is allowed.
fn parse_duration(text: &str) -> Result<i64, String> {
    let bad = || format!("time: invalid duration {text:?}");
    let mut v = text;
    let neg = match v.as_bytes().first() {
        Some(b'-') => {
            v = &v[1..];
            true
        }
        Some(b'+') => {
            v = &v[1..];
            false
        }
        _ => false,
    };
    if v == "0" {
        return Ok(0);
    }
    if v.is_empty() {
        return Err(bad());
    }
    let mut total: u128 = 0;
    while !v.is_empty() {
        let int_len = v.bytes().take_while(u8::is_ascii_digit).count();
        let int_part = &v[..int_len];
        v = &v[int_len..];
        let mut frac_part = "";
        if let Some(rest) = v.strip_prefix('.') {
            let fl = rest.bytes().take_while(u8::is_ascii_digit).count();
            frac_part = &rest[..fl];
            v = &rest[fl..];
        }
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(bad());
        }
        let unit_len = v
            .char_indices()
            .find(|(_, c)| *c == '.' || c.is_ascii_digit())
            .map_or(v.len(), |(i, _)| i);
        let unit = &v[..unit_len];
        v = &v[unit_len..];
        let scale: u128 = match unit {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => return Err(format!("time: missing unit in duration {text:?}")),
            other => return Err(format!("time: unknown unit {other:?} in duration {text:?}")),
        };
        let int_val: u128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| bad())?
        };
        let mut add = int_val.checked_mul(scale).ok_or_else(bad)?;
        if !frac_part.is_empty() {
            // Go keeps the fraction to the precision the scale allows.
            let mut f = 0u128;
            let mut div = 1u128;
            for b in frac_part.bytes().take(30) {
                f = f * 10 + u128::from(b - b'0');
                div *= 10;
            }
            add = add.checked_add(f * scale / div).ok_or_else(bad)?;
        }
        total = total.checked_add(add).ok_or_else(bad)?;
        if total > 1u128 << 63 {
            return Err(bad());
        }
    }
    if total == 1u128 << 63 && !neg {
        return Err(bad());
    }
    let t = i128::try_from(total).map_err(|_| bad())?;
    i64::try_from(if neg { -t } else { t }).map_err(|_| bad())
}

pub(super) fn timeadd(args: Vec<Val>, _: &Ctx<'_>) -> Res {
    let t = parse_timestamp(s(&args[0])).map_err(Fail::Msg)?;
    let d = parse_duration(s(&args[1])).map_err(Fail::Msg)?;
    let local = t
        .local
        .checked_add_signed(Duration::nanoseconds(d))
        .ok_or_else(|| Fail::msg("the resulting time is out of range"))?;
    Ok(Val::str(rfc3339(&Stamp {
        local,
        offset: t.offset,
    })))
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// Splits a `formatdate` format the way cty's `splitDateFormat` does: quoted literals
/// (`''` is a quote), runs of one letter, and runs of other text.
fn tokens(fmt: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < fmt.len() {
        let start = i;
        if fmt[i] == b'\'' {
            if fmt.get(i + 1) == Some(&b'\'') {
                i += 2;
            } else {
                i += 1;
                loop {
                    if i >= fmt.len() {
                        break;
                    }
                    if fmt[i] == b'\'' {
                        if i + 1 == fmt.len() {
                            i += 1;
                            break;
                        }
                        if fmt[i + 1] == b'\'' {
                            i += 2;
                            continue;
                        }
                        i += 1;
                        break;
                    }
                    i += 1;
                }
            }
        } else if fmt[i].is_ascii_alphabetic() {
            let c = fmt[i];
            while i < fmt.len() && fmt[i] == c {
                i += 1;
            }
        } else {
            i += 1;
            while i < fmt.len() && fmt[i] != b'\'' && !fmt[i].is_ascii_alphabetic() {
                i += 1;
            }
        }
        out.push(&fmt[start..i]);
    }
    out
}

pub(super) fn formatdate(args: Vec<Val>, _: &Ctx<'_>) -> Res {
    let fmt = s(&args[0]);
    let t = parse_timestamp(s(&args[1])).map_err(|m| Fail::Arg(1, m))?;
    let l = &t.local;
    let mut out: Vec<u8> = Vec::new();
    let verb_err = |tok: &[u8], m: &str| {
        Fail::Arg(
            0,
            format!(
                "invalid date format verb {:?}: {m}",
                String::from_utf8_lossy(tok)
            ),
        )
    };
    for tok in tokens(fmt.as_bytes()) {
        let first = tok[0];
        if first == b'\'' {
            if tok.len() == 1 || tok[tok.len() - 1] != b'\'' {
                return Err(Fail::Arg(0, "unterminated literal '".into()));
            }
            if tok.len() == 2 {
                out.push(b'\'');
            } else {
                let raw = &tok[1..tok.len() - 1];
                let mut i = 0;
                while i < raw.len() {
                    out.push(raw[i]);
                    if raw[i] == b'\'' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            continue;
        }
        if !first.is_ascii_alphabetic() {
            out.extend_from_slice(tok);
            continue;
        }
        let n = tok.len();
        let text = match (first, n) {
            (b'Y', 2) => format!("{:02}", l.year() % 100),
            (b'Y', 4) => year_text(l.year()),
            (b'Y', _) => return Err(verb_err(tok, "year must either be \"YY\" or \"YYYY\"")),
            (b'M', 1) => l.month().to_string(),
            (b'M', 2) => format!("{:02}", l.month()),
            (b'M', 3) => MONTHS[l.month0() as usize][..3].to_string(),
            (b'M', 4) => MONTHS[l.month0() as usize].to_string(),
            (b'M', _) => {
                return Err(verb_err(
                    tok,
                    "month must be \"M\", \"MM\", \"MMM\", or \"MMMM\"",
                ))
            }
            (b'D', 1) => l.day().to_string(),
            (b'D', 2) => format!("{:02}", l.day()),
            (b'D', _) => return Err(verb_err(tok, "day of month must either be \"D\" or \"DD\"")),
            (b'E', 3) => DAYS[l.weekday().num_days_from_sunday() as usize][..3].to_string(),
            (b'E', 4) => DAYS[l.weekday().num_days_from_sunday() as usize].to_string(),
            (b'E', _) => {
                return Err(verb_err(
                    tok,
                    "day of week must either be \"EEE\" or \"EEEE\"",
                ))
            }
            (b'h', 1) => l.hour().to_string(),
            (b'h', 2) => format!("{:02}", l.hour()),
            (b'h', _) => return Err(verb_err(tok, "24-hour must either be \"h\" or \"hh\"")),
            (b'H', 1 | 2) => {
                let h = match l.hour() % 12 {
                    0 => 12,
                    h => h,
                };
                if n == 1 {
                    h.to_string()
                } else {
                    format!("{h:02}")
                }
            }
            (b'H', _) => return Err(verb_err(tok, "12-hour must either be \"H\" or \"HH\"")),
            (b'A' | b'a', 2) => {
                let pm = l.hour() >= 12;
                match (first == b'A', pm) {
                    (true, false) => "AM",
                    (true, true) => "PM",
                    (false, false) => "am",
                    (false, true) => "pm",
                }
                .to_string()
            }
            (b'A' | b'a', _) => {
                let c = char::from(first);
                return Err(verb_err(tok, &format!("must be \"{c}{c}\"")));
            }
            (b'm', 1) => l.minute().to_string(),
            (b'm', 2) => format!("{:02}", l.minute()),
            (b'm', _) => return Err(verb_err(tok, "minute must either be \"m\" or \"mm\"")),
            (b's', 1) => l.second().to_string(),
            (b's', 2) => format!("{:02}", l.second()),
            (b's', _) => return Err(verb_err(tok, "second must either be \"s\" or \"ss\"")),
            (b'Z', 1) => offset_text(t.offset, true, true),
            (b'Z', 3) => {
                if t.offset == 0 {
                    "UTC".into()
                } else {
                    offset_text(t.offset, false, false)
                }
            }
            (b'Z', 4) => offset_text(t.offset, false, false),
            (b'Z', 5) => offset_text(t.offset, true, false),
            (b'Z', _) => return Err(verb_err(tok, "timezone must be Z, ZZZZ, or ZZZZZ")),
            _ => {
                return Err(Fail::Arg(
                    0,
                    format!(
                        "invalid date format verb {:?}",
                        String::from_utf8_lossy(tok)
                    ),
                ))
            }
        };
        out.extend_from_slice(text.as_bytes());
    }
    String::from_utf8(out)
        .map(Val::str)
        .map_err(|_| Fail::msg("the formatted date is not valid UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_follow_go() {
        assert_eq!(parse_duration("1h30m"), Ok(5_400_000_000_000));
        assert_eq!(parse_duration("-1.5h"), Ok(-5_400_000_000_000));
        assert_eq!(parse_duration("0"), Ok(0));
        assert_eq!(parse_duration("300ms"), Ok(300_000_000));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("1").is_err());
        assert!(parse_duration("1d").is_err());
        assert!(parse_duration("9999999999h").is_err());
    }
}
