//! Nomad API JSON -> HCL2 jobspec.

use std::collections::HashSet;

use hcl::expr::{Heredoc, TemplateExpr};
use hcl::format::{Format, Formatter};
use hcl::{Attribute, Block, Body, Expression, Identifier, ObjectKey};
use serde_json::{Map, Value};

use super::names::{format_duration, is_identifier, pascal_case, snake_case};
use super::schema::{task_scaling_label, Dir, Kind, Schema, JOB, SCALING};
use super::{MAX_NESTING_DEPTH, SERVER_ONLY_FIELDS};
use crate::error::Error;

#[derive(Default)]
struct Out {
    attrs: Vec<Attribute>,
    blocks: Vec<Block>,
}

impl Out {
    fn attr(&mut self, key: &str, expr: Expression) {
        self.attrs
            .push(Attribute::new(Identifier::unchecked(key), expr));
    }
}

fn bad(path: &str, expected: &str, v: &Value) -> Error {
    let mut shown = v.to_string();
    if shown.len() > 80 {
        let cut = (0..=77)
            .rev()
            .find(|i| shown.is_char_boundary(*i))
            .unwrap_or(0);
        shown.truncate(cut);
        shown.push_str("...");
    }
    Error::field(path, format!("expected {expected}"), shown)
}

/// Renders a job (bare or wrapped as `{"Job": {...}}`).
pub(crate) fn encode(input: &Value) -> Result<String, Error> {
    let job = match input {
        Value::Object(m) if m.len() == 1 && m.get("Job").is_some_and(Value::is_object) => &m["Job"],
        other => other,
    };
    let Value::Object(job) = job else {
        return Err(bad("Job", "a JSON object", job));
    };
    let label = match (job.get("ID"), job.get("Name")) {
        (Some(Value::String(id)), _) if !id.is_empty() => id.clone(),
        (_, Some(Value::String(name))) if !name.is_empty() => name.clone(),
        _ => {
            return Err(Error::field(
                "Job.ID",
                "a job needs an ID (or a Name) for its label",
                "null",
            ))
        }
    };
    let path = format!("job[{label}]");
    let mut skip: Vec<&str> = SERVER_ONLY_FIELDS.to_vec();
    skip.push("ID");
    let mut out = Out::default();
    match job.get("Name") {
        Some(Value::String(name)) if *name != label => out.attr("name", string_expr(name, false)),
        Some(Value::String(_)) | Some(Value::Null) | None => {}
        Some(other) => return Err(bad(&format!("{path}.name"), "a string", other)),
    }
    skip.push("Name");
    encode_body(job, &JOB, &path, 1, &skip, &mut out)?;
    let block = Block::builder("job")
        .add_label(label)
        .add_attributes(out.attrs)
        .add_blocks(out.blocks)
        .build();
    let body = Body::builder().add_block(block).build();
    render(&body)
}

fn render(body: &Body) -> Result<String, Error> {
    let mut fmt = Formatter::builder().compact_arrays(true).build_vec();
    body.format(&mut fmt)
        .map_err(|e| Error::field("Job", format!("cannot render HCL: {e}"), "job"))?;
    let text = String::from_utf8(fmt.into_inner())
        .map_err(|e| Error::field("Job", format!("rendered HCL is not UTF-8: {e}"), "job"))?;
    Ok(tidy_empty_blocks(&text))
}

/// The formatter writes an empty block as `name {    }`; write `name {}` instead (outside
/// heredocs, whose text is kept as it is).
fn tidy_empty_blocks(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 1);
    let mut heredoc: Option<String> = None;
    for line in text.lines() {
        match &heredoc {
            Some(delim) => {
                if line.trim() == delim {
                    heredoc = None;
                }
                out.push_str(line);
            }
            None => {
                let trimmed = line.trim_end();
                if let Some(pos) = trimmed.rfind("<<") {
                    let delim = trimmed[pos + 2..].trim_start_matches('-');
                    if !delim.is_empty()
                        && delim.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    {
                        heredoc = Some(delim.to_string());
                    }
                }
                match trimmed.strip_suffix('}').map(str::trim_end) {
                    Some(head)
                        if head.ends_with('{') && heredoc.is_none() && !head.ends_with("= {") =>
                    {
                        out.push_str(head);
                        out.push('}');
                    }
                    _ => out.push_str(line),
                }
            }
        }
        out.push('\n');
    }
    out
}

fn encode_body(
    obj: &Map<String, Value>,
    schema: &'static Schema,
    path: &str,
    depth: usize,
    skip: &[&str],
    out: &mut Out,
) -> Result<(), Error> {
    if depth > MAX_NESTING_DEPTH {
        return Err(Error::field(
            path,
            format!("nested deeper than {MAX_NESTING_DEPTH} levels"),
            "...",
        ));
    }
    let mut used: HashSet<&str> = skip.iter().copied().collect();
    for field in schema.fields.iter().filter(|f| f.dir != Dir::Read) {
        if skip.contains(&field.json) {
            continue;
        }
        let Some(v) = obj.get(field.json) else {
            continue;
        };
        used.insert(field.json);
        if v.is_null() {
            continue;
        }
        let name = field.hcl;
        let fpath = format!("{path}.{name}");
        match field.kind {
            Kind::Str => match v {
                Value::String(s) => out.attr(name, string_expr(s, name == "data")),
                other => return Err(bad(&fpath, "a string", other)),
            },
            Kind::Int => match v {
                Value::Number(_) => out.attr(name, scalar_expr(v)),
                other => return Err(bad(&fpath, "a number", other)),
            },
            Kind::Bool => match v {
                Value::Bool(_) => out.attr(name, scalar_expr(v)),
                other => return Err(bad(&fpath, "true or false", other)),
            },
            Kind::Duration => out.attr(name, duration_expr(v, &fpath)?),
            Kind::StrList | Kind::IntList => {
                let Value::Array(items) = v else {
                    return Err(bad(&fpath, "a list", v));
                };
                let strings = matches!(field.kind, Kind::StrList);
                let mut exprs = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Value::String(s) if strings => exprs.push(nested_string_expr(s)),
                        Value::Number(_) if !strings => exprs.push(scalar_expr(item)),
                        other => {
                            let want = if strings { "a string" } else { "a number" };
                            return Err(bad(&format!("{fpath}[{i}]"), want, other));
                        }
                    }
                }
                out.attr(name, Expression::Array(exprs));
            }
            Kind::StrMap { block } => {
                let Value::Object(m) = v else {
                    return Err(bad(&fpath, "a map of strings", v));
                };
                for (k, item) in m {
                    if !item.is_string() {
                        return Err(bad(&format!("{fpath}.{k}"), "a string", item));
                    }
                }
                map_out(out, name, m, block, depth)?;
            }
            Kind::StrListMap => {
                let Value::Object(m) = v else {
                    return Err(bad(&fpath, "a map of string lists", v));
                };
                for (k, item) in m {
                    let ok = item
                        .as_array()
                        .is_some_and(|a| a.iter().all(Value::is_string));
                    if !ok {
                        return Err(bad(&format!("{fpath}.{k}"), "a list of strings", item));
                    }
                }
                map_out(out, name, m, true, depth)?;
            }
            Kind::Open => {
                let Value::Object(m) = v else {
                    return Err(bad(&fpath, "an object", v));
                };
                let mut inner = Out::default();
                open_body(m, &fpath, depth + 1, &mut inner)?;
                out.blocks.push(block(name, None, inner));
            }
            Kind::Block(sub) => {
                let Value::Object(m) = v else {
                    return Err(bad(&fpath, "an object", v));
                };
                let mut inner = Out::default();
                encode_body(m, sub, &fpath, depth + 1, &[], &mut inner)?;
                out.blocks.push(block(name, None, inner));
            }
            Kind::List(sub) => {
                let Value::Array(items) = v else {
                    return Err(bad(&fpath, "a list", v));
                };
                for (i, item) in items.iter().enumerate() {
                    let ipath = format!("{fpath}[{i}]");
                    let Value::Object(m) = item else {
                        return Err(bad(&ipath, "an object", item));
                    };
                    let mut inner = Out::default();
                    encode_body(m, sub, &ipath, depth + 1, &[], &mut inner)?;
                    out.blocks.push(block(name, None, inner));
                }
            }
            Kind::Labeled(sub, key) => {
                let Value::Array(items) = v else {
                    return Err(bad(&fpath, "a list", v));
                };
                for (i, item) in items.iter().enumerate() {
                    let Value::Object(m) = item else {
                        return Err(bad(&format!("{fpath}[{i}]"), "an object", item));
                    };
                    let label = match m.get(key) {
                        Some(Value::String(s)) => s.clone(),
                        Some(Value::Number(n)) => n.to_string(),
                        other => {
                            return Err(bad(
                                &format!("{fpath}[{i}].{key}"),
                                "a string label",
                                other.unwrap_or(&Value::Null),
                            ))
                        }
                    };
                    let ipath = format!("{fpath}[{label}]");
                    let mut inner = Out::default();
                    encode_body(m, sub, &ipath, depth + 1, &[key], &mut inner)?;
                    out.blocks.push(block(name, Some(label), inner));
                }
            }
            Kind::LabeledMap(sub, key) => {
                let Value::Object(entries) = v else {
                    return Err(bad(&fpath, "an object keyed by name", v));
                };
                for (label, item) in entries {
                    let ipath = format!("{fpath}[{label}]");
                    let Value::Object(m) = item else {
                        return Err(bad(&ipath, "an object", item));
                    };
                    let mut inner = Out::default();
                    encode_body(m, sub, &ipath, depth + 1, &[key], &mut inner)?;
                    out.blocks.push(block(name, Some(label.clone()), inner));
                }
            }
            Kind::TaskScaling => {
                let Value::Array(items) = v else {
                    return Err(bad(&fpath, "a list", v));
                };
                for (i, item) in items.iter().enumerate() {
                    let ipath = format!("{fpath}[{i}]");
                    let Value::Object(m) = item else {
                        return Err(bad(&ipath, "an object", item));
                    };
                    let ty = m.get("Type").and_then(Value::as_str).unwrap_or("");
                    let Some(label) = task_scaling_label(ty) else {
                        return Err(bad(
                            &format!("{ipath}.Type"),
                            "\"vertical_cpu\" or \"vertical_mem\"",
                            &m["Type"],
                        ));
                    };
                    let mut inner = Out::default();
                    encode_body(m, &SCALING, &ipath, depth + 1, &[], &mut inner)?;
                    out.blocks.push(block(name, Some(label.to_string()), inner));
                }
            }
        }
    }

    let mut names: HashSet<String> = HashSet::new();
    for (k, v) in obj {
        if used.contains(k.as_str()) || v.is_null() {
            continue;
        }
        let kpath = format!("{path}.{k}");
        let Some(name) = generic_name(k, Some(schema)) else {
            return Err(Error::field(
                kpath,
                "this key has no HCL spelling that reads back as the same key (or it clashes with a known field)",
                k,
            ));
        };
        if !names.insert(name.clone()) {
            return Err(Error::field(
                kpath,
                format!("two keys are written as {name}"),
                k,
            ));
        }
        generic_value(&name, v, depth + 1, out)?;
    }
    Ok(())
}

fn block(name: &str, label: Option<String>, inner: Out) -> Block {
    let mut b = Block::builder(Identifier::unchecked(name));
    if let Some(label) = label {
        b = b.add_label(label);
    }
    b.add_attributes(inner.attrs)
        .add_blocks(inner.blocks)
        .build()
}

/// Writes a string map as a block (`meta { k = "v" }`) when every key is an identifier and
/// the block form is wanted, else as a map attribute (`meta = { "a.b" = "v" }`).
fn map_out(
    out: &mut Out,
    name: &str,
    m: &Map<String, Value>,
    as_block: bool,
    depth: usize,
) -> Result<(), Error> {
    if as_block && m.keys().all(|k| is_identifier(k)) {
        let mut inner = Out::default();
        for (k, v) in m {
            inner.attr(k, value_expr(v, depth + 1)?);
        }
        out.blocks.push(block(name, None, inner));
    } else {
        out.attr(name, value_expr(&Value::Object(m.clone()), depth + 1)?);
    }
    Ok(())
}

/// Open maps (driver `config`): lists of objects become repeated blocks, everything else an
/// attribute with the value as written; keys are kept as they are.
fn open_body(m: &Map<String, Value>, path: &str, depth: usize, out: &mut Out) -> Result<(), Error> {
    if depth > MAX_NESTING_DEPTH {
        return Err(Error::field(
            path,
            format!("nested deeper than {MAX_NESTING_DEPTH} levels"),
            "...",
        ));
    }
    for (k, v) in m {
        let kpath = format!("{path}.{k}");
        if !is_identifier(k) {
            return Err(Error::field(
                kpath,
                "a key in this block must be an HCL identifier",
                k,
            ));
        }
        if let Value::Array(items) = v {
            if !items.is_empty()
                && items
                    .iter()
                    .all(|i| i.as_object().is_some_and(|o| open_blockable(o, depth + 1)))
            {
                for (i, item) in items.iter().enumerate() {
                    if let Value::Object(o) = item {
                        let mut inner = Out::default();
                        open_body(o, &format!("{kpath}[{i}]"), depth + 1, &mut inner)?;
                        out.blocks.push(block(k, None, inner));
                    }
                }
                continue;
            }
        }
        out.attr(k, value_expr(v, depth + 1)?);
    }
    Ok(())
}

fn open_blockable(o: &Map<String, Value>, depth: usize) -> bool {
    depth <= MAX_NESTING_DEPTH && o.keys().all(|k| is_identifier(k))
}

/// The HCL name of a key the tables do not know: the generic snake_case spelling when it
/// maps back to the key, else the key itself when it is an identifier that maps to itself.
fn generic_name(k: &str, schema: Option<&Schema>) -> Option<String> {
    let snake = snake_case(k);
    let name = if is_identifier(&snake) && pascal_case(&snake) == k {
        snake
    } else if is_identifier(k) && pascal_case(k) == k {
        k.to_string()
    } else {
        return None;
    };
    if schema.is_some_and(|s| s.knows_hcl(&name) || s.knows_json(k)) {
        return None;
    }
    Some(name)
}

/// A value under an unknown key: objects become blocks, lists of two or more objects
/// repeated blocks, when every key inside has an HCL spelling; anything else an attribute
/// holding the value as written.
fn generic_value(name: &str, v: &Value, depth: usize, out: &mut Out) -> Result<(), Error> {
    match v {
        Value::Object(m) => {
            if let Some(inner) = generic_body(m, depth + 1)? {
                out.blocks.push(block(name, None, inner));
                return Ok(());
            }
        }
        Value::Array(items) if items.len() >= 2 && items.iter().all(Value::is_object) => {
            let mut bodies = Vec::with_capacity(items.len());
            for item in items {
                match item
                    .as_object()
                    .map(|m| generic_body(m, depth + 1))
                    .transpose()?
                    .flatten()
                {
                    Some(inner) => bodies.push(inner),
                    None => {
                        bodies.clear();
                        break;
                    }
                }
            }
            if !bodies.is_empty() {
                for inner in bodies {
                    out.blocks.push(block(name, None, inner));
                }
                return Ok(());
            }
        }
        _ => {}
    }
    out.attr(name, value_expr(v, depth)?);
    Ok(())
}

/// `Ok(None)` when some key inside has no HCL spelling (the caller writes an attribute).
fn generic_body(m: &Map<String, Value>, depth: usize) -> Result<Option<Out>, Error> {
    if depth > MAX_NESTING_DEPTH {
        return Ok(None);
    }
    let mut out = Out::default();
    let mut names = HashSet::new();
    for (k, v) in m {
        if v.is_null() {
            continue;
        }
        let Some(name) = generic_name(k, None) else {
            return Ok(None);
        };
        if !names.insert(name.clone()) {
            return Ok(None);
        }
        generic_value(&name, v, depth + 1, &mut out)?;
    }
    Ok(Some(out))
}

fn scalar_expr(v: &Value) -> Expression {
    match v {
        Value::Bool(b) => Expression::Bool(*b),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Expression::Number(i.into())
            } else if let Some(u) = n.as_u64() {
                Expression::Number(u.into())
            } else {
                n.as_f64()
                    .and_then(hcl::Number::from_f64)
                    .map_or(Expression::Null, Expression::Number)
            }
        }
        Value::String(s) => string_expr(s, false),
        _ => Expression::Null,
    }
}

fn duration_expr(v: &Value, path: &str) -> Result<Expression, Error> {
    match v {
        Value::Number(n) => {
            let ns = n
                .as_i64()
                .or_else(|| {
                    n.as_f64()
                        .filter(|f| f.fract() == 0.0 && f.abs() < 9.2e18)
                        .map(|f| f as i64)
                })
                .ok_or_else(|| bad(path, "a duration in nanoseconds", v))?;
            Ok(Expression::String(format_duration(ns)))
        }
        Value::String(s) => Ok(string_expr(s, false)),
        other => Err(bad(path, "a duration in nanoseconds", other)),
    }
}

/// Any JSON value as an HCL expression that reads back as the same value.
fn value_expr(v: &Value, depth: usize) -> Result<Expression, Error> {
    if depth > MAX_NESTING_DEPTH + 8 {
        return Err(Error::field(
            "value",
            format!("nested deeper than {MAX_NESTING_DEPTH} levels"),
            "...",
        ));
    }
    Ok(match v {
        Value::Null => Expression::Null,
        Value::Array(items) => Expression::Array(
            items
                .iter()
                .map(|i| nested_value_expr(i, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(m) => {
            let mut obj = hcl::Object::new();
            for (k, item) in m {
                let key = if is_identifier(k) {
                    ObjectKey::Identifier(Identifier::unchecked(k))
                } else {
                    ObjectKey::Expression(Expression::String(k.clone()))
                };
                obj.insert(key, nested_value_expr(item, depth + 1)?);
            }
            Expression::Object(obj)
        }
        other => scalar_expr(other),
    })
}

/// A value inside a list or object: strings are never heredocs there, since HCL ends a
/// heredoc only on a line that holds its closing marker alone (a following `]` or `,` on
/// that line breaks it).
fn nested_value_expr(v: &Value, depth: usize) -> Result<Expression, Error> {
    match v {
        Value::String(s) => Ok(nested_string_expr(s)),
        other => value_expr(other, depth),
    }
}

/// A string as a quoted string: a template when it holds `${` or `%{` and that reads back
/// unchanged, else an escaped plain string.
fn nested_string_expr(s: &str) -> Expression {
    if s.contains("${") || s.contains("%{") {
        let c = Expression::TemplateExpr(Box::new(TemplateExpr::QuotedString(escape_quoted(s))));
        if reads_back_as(&c, s) {
            return c;
        }
    }
    Expression::String(s.to_string())
}

/// A string as HCL. Strings holding `${...}` are written as templates so that Nomad's
/// run-time interpolation stays readable (`"${NOMAD_PORT_http}"`, not `"$${...}"`); each
/// candidate form is parsed back and kept only if it yields exactly the same string, so an
/// escaped plain string is the fallback. Multi-line text (and template `data`) ending in a
/// newline becomes a heredoc.
pub(crate) fn string_expr(s: &str, is_data: bool) -> Expression {
    let heredoc_ok = s.ends_with('\n') && (is_data || s.matches('\n').count() >= 2);
    let templated = s.contains("${") || s.contains("%{");
    if !templated && !heredoc_ok {
        return Expression::String(s.to_string());
    }
    let mut candidates = Vec::new();
    if heredoc_ok {
        candidates.push(heredoc(s, s));
    }
    if templated {
        candidates.push(Expression::TemplateExpr(Box::new(
            TemplateExpr::QuotedString(escape_quoted(s)),
        )));
        if heredoc_ok {
            candidates.push(heredoc(s, &s.replace("${", "$${").replace("%{", "%%{")));
        }
    }
    for c in candidates {
        if reads_back_as(&c, s) {
            return c;
        }
    }
    Expression::String(s.to_string())
}

fn heredoc(s: &str, raw: &str) -> Expression {
    let mut delim = String::from("EOT");
    let mut n = 0;
    while s.lines().any(|l| l.trim() == delim) {
        n += 1;
        delim = format!("EOT{n}");
    }
    Expression::TemplateExpr(Box::new(TemplateExpr::Heredoc(Heredoc::new(
        Identifier::unchecked(delim),
        raw,
    ))))
}

fn escape_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

fn reads_back_as(expr: &Expression, want: &str) -> bool {
    let body = Body::builder().add_attribute(("x", expr.clone())).build();
    let Ok(text) = hcl::format::to_string(&body) else {
        return false;
    };
    matches!(super::decode::eval_single_attribute(&text), Ok(Value::String(got)) if got == want)
}
