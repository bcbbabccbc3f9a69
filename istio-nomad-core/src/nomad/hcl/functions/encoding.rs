//! Encoding functions: `jsonencode`/`jsondecode` (go-cty v1.12.1
//! `cty/function/stdlib/json.go` over `cty/json`), `csvdecode` (`stdlib/csv.go` over Go's
//! `encoding/csv`), and go-cty-funcs `encoding/base64.go` (`base64encode`, `base64decode`)
//! and `encoding/url.go` (`urlencode`, Go's `url.QueryEscape`).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;

use super::value::{Num, Ty, Val};
use super::{s, Ctx, Fail, Res};

/// Go's `base64.StdEncoding`: padding required, non-zero trailing bits accepted.
const GO_STD_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
);

/// A JSON string as Go's `encoding/json` writes it (HTML characters, U+2028 and U+2029
/// escaped).
pub(super) fn json_quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `cty/json.Marshal`: compact JSON, object keys sorted, sets as arrays.
pub(super) fn json_text(v: &Val, out: &mut String) -> Result<(), String> {
    match v {
        Val::Null(_) => out.push_str("null"),
        Val::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Val::Num(n) => {
            if n.is_inf() {
                return Err("cannot serialize infinity as JSON".into());
            }
            out.push_str(&n.to_text());
        }
        Val::Str(x) => out.push_str(&json_quote(x)),
        Val::List(_, e) | Val::Set(_, e) | Val::Tuple(e) => {
            out.push('[');
            for (i, x) in e.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_text(x, out)?;
            }
            out.push(']');
        }
        Val::Map(_, m) | Val::Object(m) => {
            out.push('{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&json_quote(k));
                out.push(':');
                json_text(x, out)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

pub(super) fn jsonencode(args: Vec<Val>, ctx: &Ctx<'_>) -> Res {
    let mut out = String::new();
    json_text(&args[0], &mut out).map_err(Fail::Msg)?;
    ctx.check(out.len())?;
    Ok(Val::str(out))
}

pub(super) fn jsondecode(args: Vec<Val>, _: &Ctx<'_>) -> Res {
    let parsed: serde_json::Value =
        serde_json::from_str(s(&args[0])).map_err(|e| Fail::msg(e.to_string()))?;
    Ok(from_json(parsed))
}

/// A JSON value as cty reads it (`json.ImpliedType`): arrays are tuples, objects objects.
pub(super) fn from_json(v: serde_json::Value) -> Val {
    match v {
        serde_json::Value::Null => Val::Null(Ty::Dyn),
        serde_json::Value::Bool(b) => Val::Bool(b),
        serde_json::Value::Number(n) => Val::Num(json_number(&n)),
        serde_json::Value::String(x) => Val::str(x),
        serde_json::Value::Array(a) => Val::Tuple(a.into_iter().map(from_json).collect()),
        serde_json::Value::Object(m) => Val::Object(
            m.into_iter()
                .map(|(k, x)| (super::value::nfc(k), from_json(x)))
                .collect::<BTreeMap<_, _>>(),
        ),
    }
}

fn json_number(n: &serde_json::Number) -> Num {
    if let Some(i) = n.as_i64() {
        Num::Int(i128::from(i))
    } else if let Some(u) = n.as_u64() {
        Num::Int(i128::from(u))
    } else {
        Num::from_f64(n.as_f64().unwrap_or(0.0)).unwrap_or(Num::Int(0))
    }
}

/// `csvdecode`: Go's `encoding/csv` reader (comma-separated, `"` quoting with `""` for a
/// quote, quoted fields may span lines, `\r\n` read as `\n`, empty lines skipped, a bare
/// `"` in an unquoted field refused, every row as wide as the header).
pub(super) fn csvdecode(args: Vec<Val>, _: &Ctx<'_>) -> Res {
    let mut reader = CsvReader {
        text: s(&args[0]),
        pos: 0,
        line: 0,
    };
    let headers = match reader.record().map_err(Fail::Msg)? {
        None => return Err(Fail::msg("missing header line")),
        Some(h) => h,
    };
    let mut seen = std::collections::BTreeSet::new();
    for h in &headers {
        if !seen.insert(h.clone()) {
            return Err(Fail::msg(format!("duplicate column name {h:?}")));
        }
    }
    let attrs: BTreeMap<String, Ty> = headers.iter().map(|h| (h.clone(), Ty::Str)).collect();
    let mut rows = Vec::new();
    while let Some(cols) = reader.record().map_err(Fail::Msg)? {
        if cols.len() != headers.len() {
            return Err(Fail::msg(format!(
                "CSV parse error on line {}: wrong number of fields",
                reader.line
            )));
        }
        rows.push(Val::Object(
            headers
                .iter()
                .cloned()
                .zip(cols.into_iter().map(Val::str))
                .collect(),
        ));
    }
    Ok(Val::List(Ty::Object(attrs), rows))
}

struct CsvReader<'a> {
    text: &'a str,
    pos: usize,
    line: usize,
}

impl CsvReader<'_> {
    /// Reads one physical line (without its `\n`; a trailing `\r\n` counts as `\n`).
    fn read_line(&mut self) -> Option<String> {
        if self.pos >= self.text.len() {
            return None;
        }
        let rest = &self.text[self.pos..];
        let (line, used) = match rest.find('\n') {
            Some(i) => (&rest[..i], i + 1),
            None => (rest, rest.len()),
        };
        self.pos += used;
        self.line += 1;
        let had_newline = used > line.len();
        let line = if had_newline {
            line.strip_suffix('\r').unwrap_or(line)
        } else {
            line
        };
        let mut l = line.to_string();
        if had_newline {
            l.push('\n');
        }
        Some(l)
    }

    fn record(&mut self) -> Result<Option<Vec<String>>, String> {
        let mut line = loop {
            match self.read_line() {
                None => return Ok(None),
                Some(l) if l == "\n" => {}
                Some(l) => break l,
            }
        };
        let start_line = self.line;
        let mut fields = Vec::new();
        let mut i = 0usize;
        loop {
            let b = line.as_bytes();
            if i < b.len() && b[i] == b'"' {
                // Quoted field.
                i += 1;
                let mut field = String::new();
                loop {
                    let b = line.as_bytes();
                    match line[i..].find('"') {
                        Some(q) => {
                            field.push_str(&line[i..i + q]);
                            i += q + 1;
                            match b.get(i) {
                                Some(b'"') => {
                                    field.push('"');
                                    i += 1;
                                }
                                Some(b',') => {
                                    i += 1;
                                    fields.push(field);
                                    break;
                                }
                                None | Some(b'\n') => {
                                    fields.push(field);
                                    return Ok(Some(fields));
                                }
                                Some(_) => {
                                    return Err(format!(
                                        "CSV parse error on line {}: extraneous or missing \" in quoted-field",
                                        self.line
                                    ))
                                }
                            }
                        }
                        None => {
                            field.push_str(&line[i..]);
                            match self.read_line() {
                                Some(next) => {
                                    line = next;
                                    i = 0;
                                }
                                None => {
                                    return Err(format!(
                                        "CSV parse error on line {start_line}: extraneous or missing \" in quoted-field"
                                    ))
                                }
                            }
                        }
                    }
                }
            } else {
                let rest = &line[i..];
                let end = rest.find([',', '\n']).unwrap_or(rest.len());
                let field = &rest[..end];
                if field.contains('"') {
                    return Err(format!(
                        "CSV parse error on line {}: bare \" in non-quoted-field",
                        self.line
                    ));
                }
                fields.push(field.to_string());
                i += end;
                if line.as_bytes().get(i) == Some(&b',') {
                    i += 1;
                } else {
                    return Ok(Some(fields));
                }
            }
        }
    }
}

pub(super) fn base64encode(args: Vec<Val>, ctx: &Ctx<'_>) -> Res {
    let text = s(&args[0]);
    ctx.check(text.len().div_ceil(3).saturating_mul(4))?;
    Ok(Val::str(GO_STD_BASE64.encode(text)))
}

/// `base64decode`: Go's `StdEncoding` (newlines in the input ignored); the bytes must be
/// UTF-8.
pub(super) fn base64decode(args: Vec<Val>, _: &Ctx<'_>) -> Res {
    let text = s(&args[0]);
    let cleaned: String = text.chars().filter(|c| *c != '\r' && *c != '\n').collect();
    let bytes = GO_STD_BASE64
        .decode(cleaned)
        .map_err(|_| Fail::msg(format!("failed to decode base64 data '{text}'")))?;
    let decoded = String::from_utf8(bytes).map_err(|_| {
        Fail::msg("the result of decoding the the provided string is not valid UTF-8")
    })?;
    Ok(Val::str(decoded))
}

/// Go's `url.QueryEscape`: letters, digits and `-_.~` kept, space as `+`, everything else
/// `%XX`.
pub(super) fn urlencode(args: Vec<Val>, ctx: &Ctx<'_>) -> Res {
    let text = s(&args[0]);
    ctx.check(text.len().saturating_mul(3))?;
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    Ok(Val::str(out))
}
