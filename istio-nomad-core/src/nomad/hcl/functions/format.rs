//! `format` and `formatlist`: go-cty v1.12.1 `cty/function/stdlib/format.go` and the verb
//! scanner of `format_fsm.rl` (`%[flags][width][.precision][[argnum]]verb`, verbs `v t b d o
//! x X e E f g G s q`), with Go's `fmt` rendering of `*big.Int` and `*big.Float` for the
//! number verbs (`math/big` `intconv.go`, `ftoa.go`).

use unicode_segmentation::UnicodeSegmentation;

use super::encoding::{json_quote, json_text};
use super::value::{convert, Num, Ty, Val};
use super::{s, Ctx, Fail, Res};

#[derive(Default)]
struct Verb {
    raw: String,
    offset: usize,
    arg: usize,
    mode: char,
    zero: bool,
    sharp: bool,
    plus: bool,
    minus: bool,
    space: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

pub(super) fn format(args: Vec<Val>, ctx: &Ctx<'_>) -> Res {
    let fmt = s(&args[0]).to_string();
    let out = format_fsm(&fmt, &args[1..], ctx)?;
    Ok(Val::str(out))
}

pub(super) fn formatlist(args: Vec<Val>, ctx: &Ctx<'_>) -> Res {
    let fmt = s(&args[0]).to_string();
    let rest = &args[1..];
    if rest.is_empty() {
        return Ok(Val::List(
            Ty::Str,
            vec![Val::str(format_fsm(&fmt, rest, ctx)?)],
        ));
    }
    let mut iter_len: Option<(usize, usize)> = None;
    for (i, a) in rest.iter().enumerate() {
        if let Val::List(_, e) | Val::Set(_, e) | Val::Tuple(e) = a {
            match iter_len {
                None => iter_len = Some((e.len(), i)),
                Some((l, first)) if l != e.len() => {
                    return Err(Fail::Arg(
                        i + 1,
                        format!(
                            "argument {} has length {}, which is inconsistent with argument {} of length {}",
                            i + 1,
                            e.len(),
                            first + 1,
                            l
                        ),
                    ))
                }
                Some(_) => {}
            }
        }
    }
    let n = iter_len.map_or(1, |(l, _)| l);
    let mut out = Vec::with_capacity(n);
    let mut size = 0usize;
    for it in 0..n {
        let fmt_args: Vec<Val> = rest
            .iter()
            .map(|a| match a {
                Val::List(_, e) | Val::Set(_, e) | Val::Tuple(e) => e[it].clone(),
                other => other.clone(),
            })
            .collect();
        let text = format_fsm(&fmt, &fmt_args, ctx).map_err(|e| match e {
            Fail::Arg(_, m) | Fail::Msg(m) => {
                Fail::msg(format!("error on format iteration {it}: {m}"))
            }
            Fail::TooLarge => Fail::TooLarge,
        })?;
        size = size.saturating_add(text.len());
        ctx.check(size)?;
        out.push(Val::str(text));
    }
    Ok(Val::List(Ty::Str, out))
}

fn format_fsm(fmt: &str, args: &[Val], ctx: &Ctx<'_>) -> Result<String, Fail> {
    let data = fmt.as_bytes();
    let mut buf = String::new();
    let mut next_arg = 1usize;
    let mut highest = 0usize;
    let mut p = 0usize;
    // Copies the text up to the next '%' (a whole UTF-8 run, so no char is split).
    while p < data.len() {
        if data[p] != b'%' {
            let end = fmt[p..].find('%').map_or(data.len(), |i| p + i);
            buf.push_str(&fmt[p..end]);
            p = end;
            continue;
        }
        let start = p;
        p += 1;
        if p < data.len() && data[p] == b'%' {
            buf.push('%');
            p += 1;
            continue;
        }
        let mut verb = Verb {
            arg: next_arg,
            offset: start,
            ..Verb::default()
        };
        let unrecognized = |p: usize| -> Fail {
            let c = fmt[p..].chars().next().unwrap_or('\u{fffd}');
            Fail::msg(format!("unrecognized format character {c:?} at offset {p}"))
        };
        let eof = || {
            Fail::msg(format!(
                "invalid format string starting at offset {}",
                data.len()
            ))
        };
        // flags
        while p < data.len() {
            match data[p] {
                b'0' => verb.zero = true,
                b'#' => verb.sharp = true,
                b'-' => verb.minus = true,
                b'+' => verb.plus = true,
                b' ' => verb.space = true,
                _ => break,
            }
            p += 1;
        }
        // width
        if p < data.len() && (b'1'..=b'9').contains(&data[p]) {
            let (n, q) = digits(data, p);
            verb.width = Some(n);
            p = q;
        }
        // precision
        if p < data.len() && data[p] == b'.' {
            let (n, q) = digits(data, p + 1);
            verb.prec = Some(n);
            p = q;
        }
        // explicit argument index
        if p < data.len() && data[p] == b'[' {
            p += 1;
            if p >= data.len() {
                return Err(eof());
            }
            if !(b'1'..=b'9').contains(&data[p]) {
                return Err(unrecognized(p));
            }
            let (n, q) = digits(data, p);
            p = q;
            if p >= data.len() {
                return Err(eof());
            }
            if data[p] != b']' {
                return Err(unrecognized(p));
            }
            p += 1;
            verb.arg = n;
        }
        if p >= data.len() {
            return Err(eof());
        }
        if !data[p].is_ascii_alphabetic() {
            return Err(unrecognized(p));
        }
        verb.mode = char::from(data[p]);
        p += 1;
        verb.raw = fmt[start..p].to_string();
        highest = highest.max(verb.arg);
        format_append(&verb, &mut buf, args, ctx)?;
        ctx.check(buf.len())?;
        next_arg = verb.arg.saturating_add(1);
    }
    if highest < args.len() {
        let first_bad = highest + 1;
        return Err(Fail::Arg(
            first_bad,
            if highest == 0 {
                "too many arguments; no verbs in format string".to_string()
            } else {
                format!("too many arguments; only {highest} used by format string")
            },
        ));
    }
    Ok(buf)
}

/// Reads decimal digits at `p`; saturates instead of overflowing.
fn digits(data: &[u8], mut p: usize) -> (usize, usize) {
    let mut n = 0usize;
    while p < data.len() && data[p].is_ascii_digit() {
        n = n
            .saturating_mul(10)
            .saturating_add(usize::from(data[p] - b'0'));
        p += 1;
    }
    (n, p)
}

fn format_append(verb: &Verb, buf: &mut String, args: &[Val], ctx: &Ctx<'_>) -> Result<(), Fail> {
    let arg = verb
        .arg
        .checked_sub(1)
        .and_then(|i| args.get(i))
        .ok_or_else(|| {
            Fail::msg(format!(
                "not enough arguments for {:?} at {}: need index {} but have {} total",
                verb.raw,
                verb.offset,
                verb.arg,
                args.len()
            ))
        })?;
    if verb.mode != 'v' && arg.is_null() {
        return Err(Fail::msg(format!(
            "unsupported value for {:?} at {}: null value cannot be formatted",
            verb.raw, verb.offset
        )));
    }
    // Go's fmt gives up on a width or precision past about a million for the number verbs
    // (`parsenum`/`tooLarge`), printing a marker instead of the number.
    let go_too_large = |n: Option<usize>| n.is_some_and(|n| n / 10 > 1_000_000);
    let numeric = matches!(
        verb.mode,
        'b' | 'd' | 'o' | 'x' | 'X' | 'e' | 'E' | 'f' | 'g' | 'G'
    );
    if numeric && (go_too_large(verb.width) || go_too_large(verb.prec)) {
        if let Ok(Val::Num(n)) = convert(arg.clone(), &Ty::Num) {
            let extra = match (verb.mode, n.as_int()) {
                ('b' | 'd' | 'o' | 'x' | 'X', Some(i)) => format!("*big.Int={i}"),
                ('b' | 'd' | 'o' | 'x' | 'X', None) => {
                    return Err(Fail::msg(format!(
                        "unsupported value for {:?} at {}: an integer is required",
                        verb.raw, verb.offset
                    )))
                }
                _ => format!("*big.Float={}", float_text(n, 'g', None)),
            };
            buf.push_str(&format!("%!(NOVERB)%!(EXTRA {extra})"));
            return Ok(());
        }
    }
    // Widths and precisions are padding the caller controls: bound them first.
    ctx.check(verb.width.unwrap_or(0).max(verb.prec.unwrap_or(0)))?;
    let unsupported = |m: String| {
        Fail::msg(format!(
            "unsupported value for {:?} at {}: {m}",
            verb.raw, verb.offset
        ))
    };
    match verb.mode {
        'v' => {
            let text = match arg {
                Val::Str(x) if !verb.sharp => x.clone(),
                Val::Num(n) if !verb.sharp => float_text(*n, 'g', None),
                other => {
                    let mut t = String::new();
                    json_text(other, &mut t).map_err(unsupported)?;
                    t
                }
            };
            buf.push_str(&pad_width(verb, text));
        }
        't' => match convert(arg.clone(), &Ty::Bool).map_err(unsupported)? {
            Val::Bool(b) => buf.push_str(if b { "true" } else { "false" }),
            _ => return Err(unsupported("a bool is required".into())),
        },
        'b' | 'd' | 'o' | 'x' | 'X' | 'e' | 'E' | 'f' | 'g' | 'G' => {
            let n = match convert(arg.clone(), &Ty::Num).map_err(unsupported)? {
                Val::Num(n) => n,
                _ => return Err(unsupported("a number is required".into())),
            };
            if matches!(verb.mode, 'b' | 'd' | 'o' | 'x' | 'X') {
                let i = n
                    .as_int()
                    .ok_or_else(|| unsupported("an integer is required".into()))?;
                buf.push_str(&format_int(verb, i));
            } else {
                buf.push_str(&format_float(verb, n));
            }
        }
        's' | 'q' => {
            let text = match convert(arg.clone(), &Ty::Str).map_err(unsupported)? {
                Val::Str(x) => x,
                _ => return Err(unsupported("a string is required".into())),
            };
            let text = match verb.prec {
                Some(p) if p > 0 => text.graphemes(true).take(p).collect::<String>(),
                _ => text,
            };
            let text = if verb.mode == 'q' {
                json_quote(&text)
            } else {
                text
            };
            buf.push_str(&pad_width(verb, text));
        }
        other => {
            return Err(Fail::msg(format!(
                "unsupported format verb {other:?} in {:?} at offset {}",
                verb.raw, verb.offset
            )))
        }
    }
    Ok(())
}

/// cty's `formatPadWidth`: pads to `width` grapheme clusters.
fn pad_width(verb: &Verb, text: String) -> String {
    let Some(width) = verb.width else { return text };
    let have = text.graphemes(true).count();
    if have >= width {
        return text;
    }
    let pad = (if verb.zero { "0" } else { " " }).repeat(width - have);
    if verb.minus {
        text + &pad
    } else {
        pad + &text
    }
}

/// `fmt.Sprintf` of a `*big.Int` (`math/big` `Int.Format`).
fn format_int(verb: &Verb, i: i128) -> String {
    let abs = i.unsigned_abs();
    let mut digits = match verb.mode {
        'b' => format!("{abs:b}"),
        'o' => format!("{abs:o}"),
        'x' => format!("{abs:x}"),
        'X' => format!("{abs:X}"),
        _ => abs.to_string(),
    };
    let sign = if i < 0 {
        "-"
    } else if verb.plus {
        "+"
    } else if verb.space {
        " "
    } else {
        ""
    };
    let prefix = if verb.sharp {
        match verb.mode {
            'b' => "0b",
            'o' => "0",
            'x' => "0x",
            'X' => "0X",
            _ => "",
        }
    } else {
        ""
    };
    let mut zeros = 0usize;
    if let Some(prec) = verb.prec {
        if digits.len() < prec {
            zeros = prec - digits.len();
        } else if digits == "0" && prec == 0 {
            return String::new();
        }
    }
    let (mut left, mut right) = (0usize, 0usize);
    let length = sign.len() + prefix.len() + zeros + digits.len();
    if let Some(width) = verb.width {
        if length < width {
            let d = width - length;
            if verb.minus {
                right = d;
            } else if verb.zero && verb.prec.is_none() {
                zeros = d;
            } else {
                left = d;
            }
        }
    }
    let mut out = " ".repeat(left);
    out.push_str(sign);
    out.push_str(prefix);
    out.push_str(&"0".repeat(zeros));
    out.push_str(&std::mem::take(&mut digits));
    out.push_str(&" ".repeat(right));
    out
}

/// `fmt.Sprintf` of a `*big.Float` (`math/big` `Float.Format`): `e`/`f` default to 6
/// decimals, `g` to the shortest exact form.
fn format_float(verb: &Verb, n: Num) -> String {
    let prec = match verb.mode {
        'g' | 'G' => verb.prec,
        _ => Some(verb.prec.unwrap_or(6)),
    };
    let mode = if verb.mode == 'F' { 'f' } else { verb.mode };
    let text = float_text(n, mode, prec);
    let (sign, body) = if let Some(rest) = text.strip_prefix('-') {
        ("-", rest.to_string())
    } else if let Some(rest) = text.strip_prefix('+') {
        (if verb.space { " " } else { "+" }, rest.to_string())
    } else if verb.plus {
        ("+", text)
    } else if verb.space {
        (" ", text)
    } else {
        ("", text)
    };
    let padding = verb
        .width
        .map_or(0, |w| w.saturating_sub(sign.len() + body.len()));
    if verb.zero && !n.is_inf() {
        format!("{sign}{}{body}", "0".repeat(padding))
    } else if verb.minus {
        format!("{sign}{body}{}", " ".repeat(padding))
    } else {
        format!("{}{sign}{body}", " ".repeat(padding))
    }
}

/// A decimal: value = 0.`mant` x 10^`exp`, `mant` without leading or trailing zeros.
struct Dec {
    mant: Vec<u8>,
    exp: i64,
}

impl Dec {
    /// From Rust's exponent form `d.ddde-5`.
    fn from_exp_form(s: &str) -> Dec {
        let (m, e) = s.split_once('e').unwrap_or((s, "0"));
        let e: i64 = e.parse().unwrap_or(0);
        let digits: Vec<u8> = m.bytes().filter(u8::is_ascii_digit).collect();
        Dec::normalize(digits, e + 1)
    }

    /// From a plain decimal `123.45`.
    fn from_fixed(s: &str) -> Dec {
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        let mut digits: Vec<u8> = int.bytes().collect();
        digits.extend(frac.bytes());
        Dec::normalize(digits, i64::try_from(int.len()).unwrap_or(0))
    }

    fn normalize(mut digits: Vec<u8>, mut exp: i64) -> Dec {
        let lead = digits.iter().take_while(|d| **d == b'0').count();
        digits.drain(..lead);
        exp -= i64::try_from(lead).unwrap_or(0);
        while digits.last() == Some(&b'0') {
            digits.pop();
        }
        if digits.is_empty() {
            exp = 0;
        }
        Dec { mant: digits, exp }
    }

    fn len(&self) -> i64 {
        i64::try_from(self.mant.len()).unwrap_or(i64::MAX)
    }

    fn at(&self, i: i64) -> u8 {
        usize::try_from(i)
            .ok()
            .and_then(|i| self.mant.get(i))
            .copied()
            .unwrap_or(b'0')
    }

    /// Rounds to `n` digits; an exact half goes to the even digit, or up when `tie_up`
    /// (`decimal.round`).
    fn round(&mut self, n: i64, tie_up: bool) {
        let Ok(n) = usize::try_from(n) else {
            self.mant.clear();
            self.exp = 0;
            return;
        };
        if n >= self.mant.len() {
            return;
        }
        let up = match self.mant[n] {
            b'5' if n + 1 == self.mant.len() => {
                tie_up || (n > 0 && (self.mant[n - 1] - b'0') % 2 == 1)
            }
            d => d >= b'5',
        };
        self.mant.truncate(n);
        if up {
            let mut i = n;
            loop {
                if i == 0 {
                    self.mant.insert(0, b'1');
                    self.exp += 1;
                    break;
                }
                i -= 1;
                if self.mant[i] < b'9' {
                    self.mant[i] += 1;
                    break;
                }
                self.mant[i] = b'0';
            }
        }
        let d = Dec::normalize(std::mem::take(&mut self.mant), self.exp);
        *self = d;
    }
}

/// `big.Float.Text(mode, prec)` (`prec` None: shortest) of a number.
pub(super) fn float_text(n: Num, mode: char, prec: Option<usize>) -> String {
    let f = n.to_f64();
    if n.is_inf() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let neg = n.cmp(Num::Int(0)).is_lt() || (f == 0.0 && f.is_sign_negative());
    let exact_int = match n {
        Num::Int(i) => Some(i.unsigned_abs().to_string()),
        Num::Float(_) => None,
    };
    let base = || match &exact_int {
        Some(d) => Dec::from_fixed(d),
        None => Dec::from_exp_form(&format!("{:e}", f.abs())),
    };
    let lower = mode.to_ascii_lowercase();
    let shortest = prec.is_none();
    let (d, prec) = match prec {
        None => {
            let d = base();
            let p = match lower {
                'e' => d.len() - 1,
                'f' => (d.len() - d.exp).max(0),
                _ => d.len(),
            };
            (d, p)
        }
        Some(p) => {
            let p = i64::try_from(p).unwrap_or(i64::MAX);
            // cty holds a number literal in 512 bits, so its decimal digits are what gets
            // rounded. An exact tie rounds to even when the digits are the exact value
            // (integers, 2.5); otherwise cty's 512-bit neighbour decides, taken here as up.
            let mut d = base();
            let digits = match lower {
                'e' => p.saturating_add(1),
                'f' => d.exp.saturating_add(p),
                _ => p.max(1),
            };
            let exact = exact_int.is_some() || {
                let full = Dec::from_exp_form(&format!("{:.1100e}", f.abs()));
                full.mant == d.mant && full.exp == d.exp
            };
            d.round(digits, !exact);
            (d, if lower == 'g' { p.max(1) } else { p })
        }
    };
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    match lower {
        'e' => fmt_e(&mut out, mode, prec, &d),
        'f' => fmt_f(&mut out, prec, &d),
        _ => {
            let mut eprec = prec;
            if eprec > d.len() && d.len() >= d.exp {
                eprec = d.len();
            }
            if shortest {
                eprec = 6;
            }
            let exp = d.exp - 1;
            let e_mode = if mode == 'G' { 'E' } else { 'e' };
            if exp < -4 || exp >= eprec {
                let p = prec.min(d.len());
                fmt_e(&mut out, e_mode, p - 1, &d);
            } else {
                let p = if prec > d.exp { d.len() } else { prec };
                fmt_f(&mut out, (p - d.exp).max(0), &d);
            }
        }
    }
    out
}

fn fmt_e(out: &mut String, mode: char, prec: i64, d: &Dec) {
    out.push(char::from(d.mant.first().copied().unwrap_or(b'0')));
    if prec > 0 {
        out.push('.');
        let m = d.len().min(prec + 1);
        let mut i = 1;
        if i < m {
            for k in i..m {
                out.push(char::from(d.at(k)));
            }
            i = m;
        }
        while i <= prec {
            out.push('0');
            i += 1;
        }
    }
    out.push(mode);
    let mut exp = if d.mant.is_empty() { 0 } else { d.exp - 1 };
    if exp < 0 {
        out.push('-');
        exp = -exp;
    } else {
        out.push('+');
    }
    if exp < 10 {
        out.push('0');
    }
    out.push_str(&exp.to_string());
}

fn fmt_f(out: &mut String, prec: i64, d: &Dec) {
    if d.exp > 0 {
        let m = d.len().min(d.exp);
        for k in 0..m {
            out.push(char::from(d.at(k)));
        }
        for _ in m..d.exp {
            out.push('0');
        }
    } else {
        out.push('0');
    }
    if prec > 0 {
        out.push('.');
        for i in 0..prec {
            out.push(char::from(d.at(d.exp + i)));
        }
    }
}
