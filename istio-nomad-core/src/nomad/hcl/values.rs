//! Values of a decoded jobspec: HCL values to API JSON and back, the coercion of a value to
//! the kind its schema field declares (durations, numbers, lists, maps), and how a value is
//! named in errors.

use serde_json::{Map, Number, Value};

use super::names::duration_nanos;
use super::schema::Kind;

pub(super) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "object",
    }
}

fn show(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 60 {
        let cut = (0..=57).rev().find(|i| s.is_char_boundary(*i)).unwrap_or(0);
        format!("{}...", &s[..cut])
    } else {
        s
    }
}

fn number(n: &hcl::Number) -> Result<Value, String> {
    if let Some(i) = n.as_i64() {
        return Ok(Value::from(i));
    }
    if let Some(u) = n.as_u64() {
        return Ok(Value::from(u));
    }
    let f = n.as_f64().ok_or("number out of range")?;
    // Integral numbers become integers, as Nomad's parser does (`smallestNumber`).
    if f.fract() == 0.0 && f.abs() < 9.2e18 {
        #[allow(clippy::cast_possible_truncation)]
        return Ok(Value::from(f as i64));
    }
    Number::from_f64(f)
        .map(Value::Number)
        .ok_or_else(|| format!("{f} is not a finite number"))
}

pub(super) fn hcl_to_json(v: hcl::Value) -> Result<Value, String> {
    Ok(match v {
        hcl::Value::Null => Value::Null,
        hcl::Value::Bool(b) => Value::Bool(b),
        hcl::Value::Number(n) => number(&n)?,
        hcl::Value::String(s) => Value::String(s),
        hcl::Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(hcl_to_json)
                .collect::<Result<_, _>>()?,
        ),
        hcl::Value::Object(obj) => {
            let mut m = Map::new();
            for (k, v) in obj {
                m.insert(k, hcl_to_json(v)?);
            }
            Value::Object(m)
        }
    })
}

pub(crate) fn json_to_hcl(v: Value) -> hcl::Value {
    match v {
        Value::Null => hcl::Value::Null,
        Value::Bool(b) => hcl::Value::Bool(b),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                hcl::Value::Number(i.into())
            } else if let Some(u) = n.as_u64() {
                hcl::Value::Number(u.into())
            } else {
                n.as_f64()
                    .and_then(hcl::Number::from_f64)
                    .map_or(hcl::Value::Null, hcl::Value::Number)
            }
        }
        Value::String(s) => hcl::Value::String(s),
        Value::Array(items) => hcl::Value::Array(items.into_iter().map(json_to_hcl).collect()),
        Value::Object(obj) => {
            hcl::Value::Object(obj.into_iter().map(|(k, v)| (k, json_to_hcl(v))).collect())
        }
    }
}

/// Converts a value to what a field of `kind` holds, the way HCL's type conversion does
/// (`"100"` -> 100 for a number, 10 -> `"10"` for a string). `Ok(None)` for `null`.
pub(super) fn coerce(kind: Kind, v: Value) -> Result<Option<Value>, String> {
    if v.is_null() {
        return Ok(None);
    }
    let out = match kind {
        Kind::Str => match v {
            Value::String(_) => v,
            Value::Number(n) => Value::String(n.to_string()),
            Value::Bool(b) => Value::String(b.to_string()),
            other => {
                return Err(format!(
                    "expected a string, got a {}: {}",
                    type_name(&other),
                    show(&other)
                ))
            }
        },
        Kind::Int => Value::from(whole_number(&v)?),
        Kind::Bool => match &v {
            Value::Bool(_) => v,
            Value::String(s) if s == "true" || s == "1" => Value::Bool(true),
            Value::String(s) if s == "false" || s == "0" => Value::Bool(false),
            other => return Err(format!("expected a bool, got {}", show(other))),
        },
        Kind::Duration => match &v {
            Value::String(s) => Value::from(duration_nanos(s)?),
            Value::Number(_) => Value::from(whole_number(&v)?),
            other => {
                return Err(format!(
                    "expected a duration such as \"30s\", got {}",
                    show(other)
                ))
            }
        },
        Kind::StrList | Kind::IntList => {
            let Value::Array(items) = v else {
                return Err(format!(
                    "expected a list, got a {}: {}",
                    type_name(&v),
                    show(&v)
                ));
            };
            let elem = if matches!(kind, Kind::StrList) {
                Kind::Str
            } else {
                Kind::Int
            };
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                match coerce(elem, item) {
                    Ok(Some(x)) => out.push(x),
                    Ok(None) => return Err(format!("element {i} is null")),
                    Err(m) => return Err(format!("element {i}: {m}")),
                }
            }
            Value::Array(out)
        }
        Kind::StrMap { .. } | Kind::StrListMap => {
            let Value::Object(obj) = v else {
                return Err(format!(
                    "expected a map, got a {}: {}",
                    type_name(&v),
                    show(&v)
                ));
            };
            let elem = if matches!(kind, Kind::StrListMap) {
                Kind::StrList
            } else {
                Kind::Str
            };
            let mut out = Map::new();
            for (k, item) in obj {
                match coerce(elem, item) {
                    Ok(Some(x)) => {
                        out.insert(k, x);
                    }
                    Ok(None) => {}
                    Err(m) => return Err(format!("key {k:?}: {m}")),
                }
            }
            Value::Object(out)
        }
        _ => v,
    };
    Ok(Some(out))
}

fn whole_number(v: &Value) -> Result<i64, String> {
    let f = match v {
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                return Ok(i);
            }
            n.as_f64().unwrap_or(f64::NAN)
        }
        Value::String(s) => {
            if let Ok(i) = s.parse::<i64>() {
                return Ok(i);
            }
            match s.parse::<f64>() {
                Ok(f) => f,
                Err(_) => return Err(format!("expected a whole number, got {}", show(v))),
            }
        }
        other => {
            return Err(format!(
                "expected a whole number, got a {}: {}",
                type_name(other),
                show(other)
            ))
        }
    };
    if f.fract() == 0.0 && f.abs() < 9.2e18 {
        #[allow(clippy::cast_possible_truncation)]
        Ok(f as i64)
    } else {
        Err(format!("expected a whole number, got {}", show(v)))
    }
}
