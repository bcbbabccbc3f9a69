//! Number functions: go-cty v1.12.1 `cty/function/stdlib/number.go` (abs, ceil, floor, log,
//! pow, signum, parseint, max, min).

use std::cmp::Ordering;

use super::value::{Num, Val};
use super::{int_arg, num, Ctx, Fail, Res};

fn number(f: f64) -> Res {
    Num::from_f64(f)
        .map(Val::Num)
        .ok_or_else(|| Fail::msg("the result is not a number (NaN)"))
}

pub(super) fn abs(args: Vec<Val>, _: &Ctx<'_>) -> Res {
    let n = num(&args[0]);
    Ok(Val::Num(if n.cmp(Num::Int(0)) == Ordering::Less {
        n.neg()
    } else {
        n
    }))
}

pub(super) fn ceil(args: Vec<Val>, _: &Ctx<'_>) -> Res {
    match num(&args[0]) {
        n @ Num::Int(_) => Ok(Val::Num(n)),
        Num::Float(f) => number(f.ceil()),
    }
}

pub(super) fn floor(args: Vec<Val>, _: &Ctx<'_>) -> Res {
    match num(&args[0]) {
        n @ Num::Int(_) => Ok(Val::Num(n)),
        Num::Float(f) => number(f.floor()),
    }
}

/// `log(num, base)` in float64, as cty computes it.
pub(super) fn log(args: Vec<Val>, _: &Ctx<'_>) -> Res {
    let (x, base) = (num(&args[0]).to_f64(), num(&args[1]).to_f64());
    number(x.ln() / base.ln())
}

/// `pow(num, power)` in float64, as cty computes it.
pub(super) fn pow(args: Vec<Val>, _: &Ctx<'_>) -> Res {
    number(num(&args[0]).to_f64().powf(num(&args[1]).to_f64()))
}

/// `signum` reads its argument as a Go `int`, so it must be a whole number.
pub(super) fn signum(args: Vec<Val>, _: &Ctx<'_>) -> Res {
    let n = int_arg(&args[0], 0)?;
    Ok(Val::int(n.signum()))
}

/// `parseint(string, base)`: `big.Int.SetString` in bases 2 to 62 (digits, then `a`-`z`,
/// then `A`-`Z` above base 36; letters fold case up to base 36); an optional sign.
pub(super) fn parseint(args: Vec<Val>, _: &Ctx<'_>) -> Res {
    let Val::Str(text) = &args[0] else {
        return Err(Fail::Arg(
            0,
            format!(
                "first argument must be a string, not {}",
                args[0].ty().friendly()
            ),
        ));
    };
    let base = int_arg(&args[1], 1)?;
    if !(2..=62).contains(&base) {
        return Err(Fail::Arg(
            1,
            "base must be a whole number between 2 and 62 inclusive".into(),
        ));
    }
    let bad = || Fail::Arg(0, format!("cannot parse {text:?} as a base {base} integer"));
    let (neg, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text.as_str()),
    };
    if digits.is_empty() {
        return Err(bad());
    }
    let base_u = u32::try_from(base).map_err(|_| bad())?;
    let mut exact: Option<i128> = Some(0);
    let mut approx = 0f64;
    for c in digits.chars() {
        let d = match c {
            '0'..='9' => c as u32 - '0' as u32,
            'a'..='z' => c as u32 - 'a' as u32 + 10,
            'A'..='Z' if base_u <= 36 => c as u32 - 'A' as u32 + 10,
            'A'..='Z' => c as u32 - 'A' as u32 + 36,
            _ => return Err(bad()),
        };
        if d >= base_u {
            return Err(bad());
        }
        exact = exact
            .and_then(|e| e.checked_mul(i128::from(base_u)))
            .and_then(|e| e.checked_add(i128::from(d)));
        approx = approx * f64::from(base_u) + f64::from(d);
    }
    let n = match exact {
        Some(e) => Num::Int(if neg { -e } else { e }),
        None => Num::from_f64(if neg { -approx } else { approx }).ok_or_else(bad)?,
    };
    Ok(Val::Num(n))
}

fn pick(args: Vec<Val>, want: Ordering) -> Res {
    let mut best: Option<Num> = None;
    for v in &args {
        let n = num(v);
        if best.is_none_or(|b| n.cmp(b) == want) {
            best = Some(n);
        }
    }
    best.map(Val::Num)
        .ok_or_else(|| Fail::msg("must pass at least one number"))
}

pub(super) fn max(args: Vec<Val>, _: &Ctx<'_>) -> Res {
    pick(args, Ordering::Greater)
}

pub(super) fn min(args: Vec<Val>, _: &Ctx<'_>) -> Res {
    pick(args, Ordering::Less)
}
