//! `yamldecode` and `yamlencode`: go-cty-yaml v1.0.3 (`decode.go`, `resolve.go`,
//! `encode.go`, and libyaml's emitter as ported in `emitterc.go`).
//!
//! Decoding reads one document with yaml-rust2's event parser and resolves plain scalars the
//! way go-cty-yaml does (YAML 1.1 booleans `yes`/`on`/`y`..., `~`/`null`, `0x`/`0o`
//! integers, `_` in numbers, timestamps turned into RFC 3339 strings, `<<` merge keys,
//! anchors and aliases, explicit `!!str`/`!!int`/... tags); sequences are tuples and
//! mappings objects. Aliases count against the value size limit as they expand.
//!
//! Encoding writes block style like libyaml with go-cty-yaml's choices: strings
//! double-quoted (a string holding a line break as a `|` literal block when libyaml allows
//! one), keys double-quoted, numbers and bools plain, `null`, `[]` and `{}` for empty
//! collections, sequences inside mappings not indented, long double-quoted lines folded
//! at column 80.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{NaiveDate, NaiveDateTime};
use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::TScalarStyle;

use super::value::{convert, parse_number, val_size, Num, Ty, Val, MAX_VALUE_DEPTH};
use super::{s, Ctx, Fail, Res};

const TAG_PREFIX: &str = "tag:yaml.org,2002:";

pub(super) fn yamldecode(args: Vec<Val>, ctx: &Ctx<'_>) -> Res {
    let src = s(&args[0]);
    let src = if src.is_empty() { "\n" } else { src };
    let mut d = Decoder {
        parser: Parser::new_from_str(src),
        anchors: HashMap::new(),
        pending: HashSet::new(),
        size: 0,
        limit: ctx.limit(),
    };
    d.document().map_err(|e| match e {
        DecodeError::TooLarge => Fail::TooLarge,
        DecodeError::Msg(m) => Fail::Msg(m),
    })
}

enum DecodeError {
    Msg(String),
    TooLarge,
}

impl From<String> for DecodeError {
    fn from(m: String) -> Self {
        DecodeError::Msg(m)
    }
}

struct Decoder<'a> {
    parser: Parser<std::str::Chars<'a>>,
    anchors: HashMap<usize, Val>,
    pending: HashSet<usize>,
    size: usize,
    limit: usize,
}

type DResult<T> = Result<T, DecodeError>;

impl Decoder<'_> {
    fn next(&mut self) -> DResult<Event> {
        self.parser.next_token().map(|(e, _)| e).map_err(|e| {
            DecodeError::Msg(format!(
                "on line {}, column {}: {}",
                e.marker().line(),
                e.marker().col() + 1,
                e.info()
            ))
        })
    }

    fn document(&mut self) -> DResult<Val> {
        if !matches!(self.next()?, Event::StreamStart) {
            return Err("missing stream start token".to_string().into());
        }
        match self.next()? {
            Event::DocumentStart => {}
            _ => return Err("missing start of document".to_string().into()),
        }
        let ev = self.next()?;
        let v = self.node(ev, 0)?;
        match self.next()? {
            Event::DocumentEnd => {}
            Event::DocumentStart => {
                return Err("only a single document is allowed".to_string().into())
            }
            _ => return Err("unexpected extra content after value".to_string().into()),
        }
        if v.is_null() {
            // go-cty-yaml types a null document as "any" and decodes it to an unknown value,
            // which a jobspec cannot use.
            return Err("the document is null, which decodes to an unknown value"
                .to_string()
                .into());
        }
        match self.next()? {
            Event::StreamEnd => Ok(v),
            Event::DocumentStart => Err("only a single document is allowed".to_string().into()),
            _ => Err("unexpected extra content after value".to_string().into()),
        }
    }

    fn grow(&mut self, v: &Val) -> DResult<()> {
        self.size = self.size.saturating_add(val_size(v));
        if self.size > self.limit {
            Err(DecodeError::TooLarge)
        } else {
            Ok(())
        }
    }

    fn node(&mut self, ev: Event, depth: usize) -> DResult<Val> {
        if depth > MAX_VALUE_DEPTH {
            return Err(format!("YAML nests more than {MAX_VALUE_DEPTH} levels").into());
        }
        match ev {
            Event::Scalar(value, style, anchor, tag) => {
                let v = if tag.is_none() && style != TScalarStyle::Plain {
                    Resolved::Val(Val::str(value))
                } else {
                    resolve_scalar(tag_name(tag.as_ref()).as_deref(), &value, style)?
                };
                let v = match v {
                    Resolved::Merge => Val::str("<<"),
                    Resolved::Val(v) => v,
                };
                self.grow(&v)?;
                if anchor > 0 {
                    self.anchors.insert(anchor, v.clone());
                }
                Ok(v)
            }
            Event::Alias(id) => {
                if self.pending.contains(&id) {
                    return Err("cannot refer to anchor from inside its own definition"
                        .to_string()
                        .into());
                }
                let v = self
                    .anchors
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| DecodeError::Msg("reference to undefined anchor".into()))?;
                self.grow(&v)?;
                Ok(v)
            }
            Event::SequenceStart(anchor, tag) => {
                if let Some(t) = tag_name(tag.as_ref()) {
                    if t != format!("{TAG_PREFIX}seq") {
                        return Err(format!("can't interpret sequence as {t}").into());
                    }
                }
                if anchor > 0 {
                    self.pending.insert(anchor);
                }
                let mut elems = Vec::new();
                loop {
                    let ev = self.next()?;
                    if matches!(ev, Event::SequenceEnd) {
                        break;
                    }
                    elems.push(self.node(ev, depth + 1)?);
                }
                let v = Val::Tuple(elems);
                if anchor > 0 {
                    self.pending.remove(&anchor);
                    self.anchors.insert(anchor, v.clone());
                }
                Ok(v)
            }
            Event::MappingStart(anchor, tag) => {
                if let Some(t) = tag_name(tag.as_ref()) {
                    if t != format!("{TAG_PREFIX}map") {
                        return Err(format!("can't interpret mapping as {t}").into());
                    }
                }
                if anchor > 0 {
                    self.pending.insert(anchor);
                }
                let mut attrs = BTreeMap::new();
                loop {
                    let ev = self.next()?;
                    let (key, style, tag) = match ev {
                        Event::MappingEnd => break,
                        Event::Scalar(k, style, _, tag) => (k, style, tag),
                        _ => {
                            return Err("only strings are allowed as mapping keys"
                                .to_string()
                                .into())
                        }
                    };
                    let resolved = resolve_scalar(tag_name(tag.as_ref()).as_deref(), &key, style)?;
                    let ev = self.next()?;
                    let value = self.node(ev, depth + 1)?;
                    match resolved {
                        Resolved::Merge => match value {
                            Val::Object(m) | Val::Map(_, m) => attrs.extend(m),
                            other => {
                                return Err(format!(
                                    "cannot merge {} into mapping",
                                    other.ty().friendly()
                                )
                                .into())
                            }
                        },
                        Resolved::Val(k) => {
                            let k = match convert(k, &Ty::Str) {
                                Ok(Val::Str(k)) => k,
                                Ok(_) => {
                                    return Err("mapping key cannot be null".to_string().into())
                                }
                                Err(_) => {
                                    return Err("only strings are allowed as mapping keys"
                                        .to_string()
                                        .into())
                                }
                            };
                            attrs.insert(k, value);
                        }
                    }
                }
                let v = Val::Object(attrs);
                if anchor > 0 {
                    self.pending.remove(&anchor);
                    self.anchors.insert(anchor, v.clone());
                }
                Ok(v)
            }
            _ => Err("unexpected parser event".to_string().into()),
        }
    }
}

fn tag_name(tag: Option<&Tag>) -> Option<String> {
    tag.map(|t| format!("{}{}", t.handle, t.suffix))
}

enum Resolved {
    Val(Val),
    Merge,
}

/// go-cty-yaml's `resolveScalar`.
fn resolve_scalar(tag: Option<&str>, src: &str, style: TScalarStyle) -> Result<Resolved, String> {
    let tag = tag.unwrap_or("");
    let short = tag.strip_prefix(TAG_PREFIX).map(|t| format!("!!{t}"));
    let short = short.as_deref().unwrap_or(tag);
    if !matches!(
        short,
        "" | "!!str" | "!!bool" | "!!int" | "!!float" | "!!null" | "!!timestamp" | "!!binary"
    ) {
        return Err(format!("unsupported tag {tag:?}"));
    }
    let hint = match src.as_bytes().first() {
        None => Some('N'),
        Some(b'+' | b'-') => Some('S'),
        Some(b'0'..=b'9') => Some('D'),
        Some(b'y' | b'Y' | b'n' | b'N' | b't' | b'T' | b'f' | b'F' | b'o' | b'O' | b'~') => {
            Some('M')
        }
        Some(b'.') => Some('.'),
        _ => None,
    };
    let mut tag = short.to_string();
    if let Some(h) = hint {
        if tag != "!!str" && tag != "!!binary" {
            if matches!(
                style,
                TScalarStyle::SingleQuoted | TScalarStyle::DoubleQuoted
            ) {
                return Ok(Resolved::Val(Val::str(src)));
            }
            if let Some(v) = resolve_map(src) {
                return Ok(Resolved::Val(v));
            }
            if tag.is_empty() && matches!(src, ".nan" | ".NaN" | ".NAN") {
                return Err("floating point NaN is not supported".into());
            }
            match h {
                '.' => {
                    if let Some(n) = parse_number(src) {
                        return Ok(Resolved::Val(Val::Num(n)));
                    }
                }
                'D' | 'S' => {
                    if tag.is_empty() || tag == "!!timestamp" {
                        if let Some(t) = parse_yaml_timestamp(src) {
                            return Ok(Resolved::Val(Val::str(t)));
                        }
                    }
                    if is_int_literal(src) {
                        tag = "!!int".into();
                    } else if is_float_literal(src) {
                        tag = "!!float".into();
                    }
                }
                _ => {}
            }
        }
    }
    if tag.is_empty() && src == "<<" {
        return Ok(Resolved::Merge);
    }
    let full = |t: &str| format!("{TAG_PREFIX}{}", t.trim_start_matches('!'));
    match tag.as_str() {
        "!!str" => Ok(Resolved::Val(Val::str(src))),
        "!!binary" => {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD
                .decode(src)
                .map_err(|_| format!("cannot parse {src:?} as {}: not valid base64", full(&tag)))?;
            Ok(Resolved::Val(Val::str(src)))
        }
        "!!bool" => match resolve_map(src) {
            Some(v @ Val::Bool(_)) => Ok(Resolved::Val(v)),
            _ => Err(format!("cannot parse {src:?} as {}", full(&tag))),
        },
        "!!int" | "!!float" => {
            let plain = src.replace('_', "");
            if let Some(n) = parse_number(&plain) {
                return Ok(Resolved::Val(Val::Num(n)));
            }
            if let Some(n) = parse_go_int(&plain) {
                return Ok(Resolved::Val(Val::Num(Num::Int(n))));
            }
            Err(format!("cannot parse {src:?} as {}", full(&tag)))
        }
        "!!timestamp" => parse_yaml_timestamp(src)
            .map(|t| Resolved::Val(Val::str(t)))
            .ok_or_else(|| format!("cannot parse {src:?} as {}", full(&tag))),
        "!!null" => Ok(Resolved::Val(Val::Null(Ty::Dyn))),
        _ => Ok(Resolved::Val(Val::str(src))),
    }
}

fn resolve_map(src: &str) -> Option<Val> {
    Some(match src {
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            Val::Bool(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            Val::Bool(false)
        }
        "" | "~" | "null" | "Null" | "NULL" => Val::Null(Ty::Dyn),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            Val::Num(Num::Float(f64::INFINITY))
        }
        "-.inf" | "-.Inf" | "-.INF" => Val::Num(Num::Float(f64::NEG_INFINITY)),
        _ => return None,
    })
}

/// `\A[-+]?(|0o[0-7_]+|[0-9_]+|0x[0-9a-fA-F_]+)\z`
fn is_int_literal(src: &str) -> bool {
    let body = src.strip_prefix(['-', '+']).unwrap_or(src);
    if body.is_empty() {
        return true;
    }
    if let Some(o) = body.strip_prefix("0o") {
        return !o.is_empty() && o.bytes().all(|b| (b'0'..=b'7').contains(&b) || b == b'_');
    }
    if let Some(x) = body.strip_prefix("0x") {
        return !x.is_empty() && x.bytes().all(|b| b.is_ascii_hexdigit() || b == b'_');
    }
    body.bytes().all(|b| b.is_ascii_digit() || b == b'_')
}

/// `\A[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?\z`
fn is_float_literal(src: &str) -> bool {
    let body = src.strip_prefix(['-', '+']).unwrap_or(src);
    let (mant, exp) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let mant_ok = if let Some(frac) = mant.strip_prefix('.') {
        !frac.is_empty() && frac.bytes().all(|b| b.is_ascii_digit())
    } else {
        let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
        !int.is_empty()
            && int.bytes().all(|b| b.is_ascii_digit())
            && frac.bytes().all(|b| b.is_ascii_digit())
    };
    let exp_ok = exp.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit())
    });
    mant_ok && exp_ok
}

/// Go's `strconv.ParseInt(s, 0, 64)` then `ParseUint`: `0x`, `0o`, `0b` and leading-`0`
/// octal prefixes.
fn parse_go_int(s: &str) -> Option<i128> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (radix, digits) =
        if let Some(d) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
            (16, d)
        } else if let Some(d) = body.strip_prefix("0o").or_else(|| body.strip_prefix("0O")) {
            (8, d)
        } else if let Some(d) = body.strip_prefix("0b").or_else(|| body.strip_prefix("0B")) {
            (2, d)
        } else if body.len() > 1 && body.starts_with('0') {
            (8, &body[1..])
        } else {
            (10, body)
        };
    if digits.is_empty() {
        return None;
    }
    let v = u64::from_str_radix(digits, radix).ok()?;
    let v = i128::from(v);
    if neg {
        (v <= 1i128 << 63).then_some(-v)
    } else {
        Some(v)
    }
}

/// go-cty-yaml's `parseTimestamp`: four digits and `-`, then one of its layouts; returned in
/// RFC 3339 (UTC offset kept, fractions dropped).
fn parse_yaml_timestamp(s: &str) -> Option<String> {
    let b = s.as_bytes();
    if b.len() < 5 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return None;
    }
    let num = |t: &str, min: usize, max: usize| -> Option<u32> {
        (t.len() >= min && t.len() <= max && t.bytes().all(|c| c.is_ascii_digit()))
            .then(|| t.parse().ok())
            .flatten()
    };
    let (date, time) = match s.find(['T', 't', ' ']) {
        Some(i) => (&s[..i], Some((&s[i..i + 1], &s[i + 1..]))),
        None => (s, None),
    };
    let mut dp = date.splitn(3, '-');
    let y = num(dp.next()?, 4, 4)?;
    let m = num(dp.next()?, 1, 2)?;
    let d = num(dp.next()?, 1, 2)?;
    let date = NaiveDate::from_ymd_opt(i32::try_from(y).ok()?, m, d)?;
    let Some((sep, time)) = time else {
        return Some(format!("{}T00:00:00Z", date.format("%Y-%m-%d")));
    };
    // The time: h:m:s with an optional fraction, then a zone unless separated by a space.
    let zone_at = time.find(['Z', '+', '-']);
    let (clock, zone) = match zone_at {
        Some(i) => (&time[..i], Some(&time[i..])),
        None => (time, None),
    };
    if sep == " " && zone.is_some() {
        return None;
    }
    if sep != " " && zone.is_none() {
        return None;
    }
    let (hms, _frac) = match clock.split_once('.') {
        Some((h, f)) if !f.is_empty() && f.len() <= 9 && f.bytes().all(|c| c.is_ascii_digit()) => {
            (h, Some(f))
        }
        Some(_) => return None,
        None => (clock, None),
    };
    let mut tp = hms.splitn(3, ':');
    let hh = num(tp.next()?, 1, 2)?;
    let mm = num(tp.next()?, 1, 2)?;
    let ss = num(tp.next()?, 1, 2)?;
    let local: NaiveDateTime = date.and_hms_opt(hh, mm, ss)?;
    let offset = match zone {
        None | Some("Z") => "Z".to_string(),
        Some(z) => {
            let zb = z.as_bytes();
            if zb.len() != 6 || zb[3] != b':' {
                return None;
            }
            let h = num(&z[1..3], 2, 2)?;
            let m2 = num(&z[4..6], 2, 2)?;
            if h == 0 && m2 == 0 {
                "Z".to_string()
            } else {
                z.to_string()
            }
        }
    };
    Some(format!("{}{offset}", local.format("%Y-%m-%dT%H:%M:%S")))
}

// ---------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------

const BEST_WIDTH: usize = 80;

pub(super) fn yamlencode(args: Vec<Val>, ctx: &Ctx<'_>) -> Res {
    let mut e = Emitter {
        out: String::new(),
        column: 0,
    };
    e.node(&args[0], None, Ctx2::Root).map_err(Fail::Msg)?;
    if !e.out.ends_with('\n') {
        e.out.push('\n');
    }
    // libyaml marks a plain scalar at the root as open-ended: the stream ends with "...".
    if matches!(args[0], Val::Null(_) | Val::Bool(_) | Val::Num(_)) {
        e.out.push_str("...\n");
    }
    ctx.check(e.out.len())?;
    Ok(Val::str(e.out))
}

#[derive(Clone, Copy, PartialEq)]
enum Ctx2 {
    Root,
    /// Value of a mapping key written at indent `.0`.
    MapValue(usize),
    /// Item of a sequence written at indent `.0`.
    SeqItem(usize),
}

struct Emitter {
    out: String,
    column: usize,
}

fn is_break_char(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// libyaml's `is_printable`.
fn is_printable(c: char) -> bool {
    let u = u32::from(c);
    u == 0x0A
        || (0x20..=0x7E).contains(&u)
        || u == 0x85
        || ((0xA0..=0xD7FF).contains(&u))
        || ((0xE000..=0xFFFD).contains(&u) && u != 0xFEFF)
        || (0x10000..=0x10FFFF).contains(&u)
}

/// Whether libyaml would write `text` as a literal block (`analyze_scalar`'s
/// `block_allowed`).
fn literal_allowed(text: &str) -> bool {
    if text.is_empty() {
        return false;
    }
    let chars: Vec<char> = text.chars().collect();
    let mut prev_space = false;
    for (i, &c) in chars.iter().enumerate() {
        if !is_printable(c) {
            return false;
        }
        if c == ' ' {
            if i + 1 == chars.len() {
                return false;
            }
            prev_space = true;
        } else if is_break_char(c) {
            if prev_space {
                return false;
            }
            prev_space = false;
        } else {
            prev_space = false;
        }
    }
    true
}

impl Emitter {
    fn push(&mut self, s: &str) {
        for c in s.chars() {
            if c == '\n' {
                self.column = 0;
            } else {
                self.column += 1;
            }
        }
        self.out.push_str(s);
    }

    fn newline_indent(&mut self, indent: usize) {
        self.out.push('\n');
        self.column = 0;
        self.push(&" ".repeat(indent));
    }

    /// The indent of a scalar's continuation lines (libyaml's `increase_indent(true)`).
    fn scalar_indent(ctx: Ctx2) -> usize {
        match ctx {
            Ctx2::Root => 2,
            Ctx2::MapValue(i) | Ctx2::SeqItem(i) => i + 2,
        }
    }

    fn node(&mut self, v: &Val, _key: Option<&str>, ctx: Ctx2) -> Result<(), String> {
        match v {
            Val::Null(_) => self.push("null"),
            Val::Bool(b) => self.push(if *b { "true" } else { "false" }),
            Val::Num(n) => self.push(&n.to_text()),
            Val::Str(text) => {
                if text.contains('\n') && literal_allowed(text) {
                    self.literal(text, Self::scalar_indent(ctx));
                } else {
                    self.double_quoted(text, Self::scalar_indent(ctx), true);
                }
            }
            Val::List(_, e) | Val::Set(_, e) | Val::Tuple(e) => {
                if e.is_empty() {
                    self.push("[]");
                    return Ok(());
                }
                let indent = match ctx {
                    Ctx2::Root => 0,
                    Ctx2::MapValue(i) => {
                        self.newline_indent(i);
                        i
                    }
                    Ctx2::SeqItem(i) => i + 2,
                };
                for (n, item) in e.iter().enumerate() {
                    if n > 0 {
                        self.newline_indent(indent);
                    }
                    self.push("- ");
                    self.node(item, None, Ctx2::SeqItem(indent))?;
                }
            }
            Val::Map(_, m) | Val::Object(m) => {
                if m.is_empty() {
                    self.push("{}");
                    return Ok(());
                }
                let indent = match ctx {
                    Ctx2::Root => 0,
                    Ctx2::MapValue(i) => {
                        self.newline_indent(i + 2);
                        i + 2
                    }
                    Ctx2::SeqItem(i) => i + 2,
                };
                for (n, (k, item)) in m.iter().enumerate() {
                    if n > 0 {
                        self.newline_indent(indent);
                    }
                    self.double_quoted(k, indent + 2, false);
                    self.push(":");
                    let nested_block = match item {
                        Val::List(_, e) | Val::Set(_, e) | Val::Tuple(e) => !e.is_empty(),
                        Val::Map(_, e) | Val::Object(e) => !e.is_empty(),
                        _ => false,
                    };
                    if !nested_block {
                        self.push(" ");
                    }
                    self.node(item, Some(k), Ctx2::MapValue(indent))?;
                }
            }
        }
        Ok(())
    }

    fn literal(&mut self, text: &str, indent: usize) {
        self.push("|");
        let chars: Vec<char> = text.chars().collect();
        if chars
            .first()
            .is_some_and(|c| *c == ' ' || is_break_char(*c))
        {
            self.push("2");
        }
        let last_break = chars.last().is_some_and(|c| is_break_char(*c));
        let chomp = if !last_break {
            "-"
        } else if chars.len() == 1 || chars.len() >= 2 && is_break_char(chars[chars.len() - 2]) {
            "+"
        } else {
            ""
        };
        self.push(chomp);
        self.out.push('\n');
        self.column = 0;
        let mut at_line_start = true;
        for c in chars {
            if is_break_char(c) {
                self.out.push('\n');
                self.column = 0;
                at_line_start = true;
            } else {
                if at_line_start {
                    self.push(&" ".repeat(indent));
                    at_line_start = false;
                }
                let mut b = [0u8; 4];
                self.push(c.encode_utf8(&mut b));
            }
        }
    }

    fn double_quoted(&mut self, text: &str, indent: usize, allow_breaks: bool) {
        self.push("\"");
        let chars: Vec<char> = text.chars().collect();
        let mut spaces = false;
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if !is_printable(c) || c == '\u{FEFF}' || is_break_char(c) || c == '"' || c == '\\' {
                let esc = match c {
                    '\0' => "\\0".to_string(),
                    '\u{7}' => "\\a".into(),
                    '\u{8}' => "\\b".into(),
                    '\t' => "\\t".into(),
                    '\n' => "\\n".into(),
                    '\u{b}' => "\\v".into(),
                    '\u{c}' => "\\f".into(),
                    '\r' => "\\r".into(),
                    '\u{1b}' => "\\e".into(),
                    '"' => "\\\"".into(),
                    '\\' => "\\\\".into(),
                    '\u{85}' => "\\N".into(),
                    '\u{a0}' => "\\_".into(),
                    '\u{2028}' => "\\L".into(),
                    '\u{2029}' => "\\P".into(),
                    c if u32::from(c) <= 0xFF => format!("\\x{:02X}", u32::from(c)),
                    c if u32::from(c) <= 0xFFFF => format!("\\u{:04X}", u32::from(c)),
                    c => format!("\\U{:08X}", u32::from(c)),
                };
                self.push(&esc);
                spaces = false;
            } else if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && i > 0
                    && i < chars.len() - 1
                {
                    self.newline_indent(indent);
                    if chars.get(i + 1) == Some(&' ') {
                        self.push("\\");
                    }
                } else {
                    self.push(" ");
                }
                spaces = true;
            } else {
                let mut b = [0u8; 4];
                self.push(c.encode_utf8(&mut b));
                spaces = false;
            }
            i += 1;
        }
        self.push("\"");
    }
}
