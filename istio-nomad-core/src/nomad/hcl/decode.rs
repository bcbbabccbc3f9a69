//! HCL2 jobspec -> Nomad API JSON.

use std::collections::HashSet;

use hcl::edit::structure::{Block as EditBlock, Body as EditBody, Structure};
use hcl::edit::Span;
use hcl::eval::{Context, Evaluate};
use hcl::expr::{Operation, TemplateExpr, TraversalOperator};
use hcl::template::{Directive, Element, Template};
use hcl::{Expression, ObjectKey};
use serde_json::{Map, Number, Value};

use super::names::{parse_duration, pascal_case};
use super::schema::{Kind, Schema, JOB, JOB_TASKS, JOB_VAULT, TASK_SCALING_LABEL};
use super::MAX_NESTING_DEPTH;
use crate::error::{Format, ParseError};

/// Reads a jobspec; `vars` gives values for `variable` blocks.
pub(crate) fn decode(text: &str, vars: &Map<String, Value>) -> Result<Value, ParseError> {
    let body = hcl::edit::parser::parse_body(text).map_err(|e| {
        let loc = e.location();
        ParseError::new(
            Format::Hcl,
            format!("{} (column {})", e.message(), loc.column()),
        )
        .line(loc.line())
    })?;
    let mut dec = Decoder {
        lines: LineIndex::new(text),
        ctx: Context::new(),
    };

    let mut job_block: Option<&EditBlock> = None;
    let mut variables: Vec<(&EditBlock, String)> = Vec::new();
    let mut locals: Vec<&EditBlock> = Vec::new();
    for s in body.iter() {
        match s {
            Structure::Attribute(a) => {
                return Err(dec.err(
                    a.key.as_str(),
                    a.span(),
                    "attributes are not allowed outside the job block",
                ));
            }
            Structure::Block(b) => match b.ident.as_str() {
                "job" => {
                    if job_block.is_some() {
                        return Err(dec.err("job", b.span(), "only one job block is allowed"));
                    }
                    job_block = Some(b);
                }
                "variable" => {
                    let name = dec.one_label(b, "variable")?;
                    variables.push((b, name));
                }
                "variables" => variables.push((b, String::new())),
                "locals" => locals.push(b),
                "dynamic" => {
                    return Err(dec.err("dynamic", b.span(), "dynamic blocks are not supported"));
                }
                other => {
                    return Err(dec.err(
                        other,
                        b.span(),
                        "unsupported top-level block: expected job, variable, variables or locals",
                    ));
                }
            },
        }
    }
    dec.declare_variables(&variables, vars)?;
    dec.evaluate_locals(&locals)?;
    let Some(job_block) = job_block else {
        return Err(ParseError::new(
            Format::Hcl,
            "missing job block: a jobspec needs `job \"<id>\" { ... }`",
        ));
    };
    dec.decode_job(job_block).map(Value::Object)
}

/// Evaluates the single attribute of `text` (used to check that rendered strings read back).
pub(crate) fn eval_single_attribute(text: &str) -> Result<Value, String> {
    let body = hcl::edit::parser::parse_body(text).map_err(|e| e.message().to_string())?;
    let mut dec = Decoder {
        lines: LineIndex::new(text),
        ctx: Context::new(),
    };
    dec.ctx
        .declare_var("var", hcl::Value::Object(hcl::Map::new()));
    dec.ctx
        .declare_var("local", hcl::Value::Object(hcl::Map::new()));
    let result = match body.iter().next() {
        Some(Structure::Attribute(a)) => {
            let e: Expression = a.value.clone().into();
            dec.eval_expr(&e, 0)
        }
        _ => Err("expected one attribute".into()),
    };
    result
}

struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(
            text.bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i + 1),
        );
        LineIndex { starts }
    }

    fn line(&self, offset: usize) -> usize {
        match self.starts.binary_search(&offset) {
            Ok(i) => i + 1,
            Err(i) => i,
        }
    }
}

struct Decoder {
    lines: LineIndex,
    ctx: Context<'static>,
}

enum Slot {
    One(Value),
    Many(Vec<Value>),
    Map(Map<String, Value>),
}

impl Slot {
    fn into_value(self) -> Value {
        match self {
            Slot::One(v) => v,
            Slot::Many(v) => Value::Array(v),
            Slot::Map(m) => Value::Object(m),
        }
    }
}

/// Keys the tables do not know, in source order, with an index by key.
#[derive(Default)]
struct Unknowns {
    items: Vec<(String, Unknown)>,
    index: std::collections::HashMap<String, usize>,
}

impl Unknowns {
    fn get_mut(&mut self, key: &str) -> Option<&mut Unknown> {
        let i = *self.index.get(key)?;
        self.items.get_mut(i).map(|(_, u)| u)
    }

    fn push(&mut self, key: String, u: Unknown) {
        self.index.insert(key.clone(), self.items.len());
        self.items.push((key, u));
    }
}

/// Blocks (or one attribute) of a name the tables do not know.
enum Unknown {
    Attr(Value),
    Blocks { items: Vec<Value>, labeled: bool },
}

fn type_name(v: &Value) -> &'static str {
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

impl Decoder {
    fn err(
        &self,
        path: &str,
        span: Option<std::ops::Range<usize>>,
        msg: impl Into<String>,
    ) -> ParseError {
        let mut e = ParseError::new(Format::Hcl, msg).at(path);
        if let Some(span) = span {
            e = e.line(self.lines.line(span.start));
        }
        e
    }

    fn one_label(&self, b: &EditBlock, path: &str) -> Result<String, ParseError> {
        match b.labels.as_slice() {
            [l] => Ok(l.as_str().to_string()),
            _ => Err(self.err(
                path,
                b.span(),
                format!(
                    "a {} block needs exactly one label, found {}",
                    b.ident.as_str(),
                    b.labels.len()
                ),
            )),
        }
    }

    fn no_labels(&self, b: &EditBlock, path: &str) -> Result<(), ParseError> {
        if b.labels.is_empty() {
            Ok(())
        } else {
            Err(self.err(
                path,
                b.span(),
                format!("a {} block takes no labels", b.ident.as_str()),
            ))
        }
    }

    // -----------------------------------------------------------------------------------
    // variables and locals

    fn declare_variables(
        &mut self,
        blocks: &[(&EditBlock, String)],
        provided: &Map<String, Value>,
    ) -> Result<(), ParseError> {
        let mut values = hcl::Map::new();
        for (b, name) in blocks {
            if name.is_empty() {
                // `variables { a = 1 }`
                for s in b.body.iter() {
                    let Structure::Attribute(a) = s else {
                        return Err(self.err(
                            "variables",
                            s.span(),
                            "only attributes are allowed in a variables block",
                        ));
                    };
                    let path = format!("variables.{}", a.key.as_str());
                    let v = self.eval_attr(&a.value, &path, a.span())?;
                    values.insert(a.key.as_str().to_string(), json_to_hcl(v));
                }
                continue;
            }
            let path = format!("variable[{name}]");
            if values.contains_key(name.as_str()) {
                return Err(self.err(
                    &path,
                    b.span(),
                    format!("variable {name:?} is declared twice"),
                ));
            }
            let mut default = None;
            for s in b.body.iter() {
                if let Structure::Attribute(a) = s {
                    if a.key.as_str() == "default" {
                        default =
                            Some(self.eval_attr(&a.value, &format!("{path}.default"), a.span())?);
                    }
                }
            }
            let value = match (provided.get(name.as_str()), default) {
                (Some(v), _) => v.clone(),
                (None, Some(d)) => d,
                (None, None) => {
                    return Err(self.err(
                        &path,
                        b.span(),
                        format!("variable {name:?} has no default and no value was given"),
                    ))
                }
            };
            values.insert(name.clone(), json_to_hcl(value));
        }
        for (k, v) in provided {
            if !values.contains_key(k.as_str()) {
                return Err(ParseError::new(
                    Format::Hcl,
                    format!(
                        "a value was given for variable {k:?}, which the jobspec does not declare"
                    ),
                )
                .at(format!("variable[{k}]")));
            }
            values.insert(k.clone(), json_to_hcl(v.clone()));
        }
        self.ctx.declare_var("var", hcl::Value::Object(values));
        self.ctx
            .declare_var("local", hcl::Value::Object(hcl::Map::new()));
        Ok(())
    }

    fn evaluate_locals(&mut self, blocks: &[&EditBlock]) -> Result<(), ParseError> {
        let mut pending = Vec::new();
        let mut seen = HashSet::new();
        for b in blocks {
            for s in b.body.iter() {
                let Structure::Attribute(a) = s else {
                    return Err(self.err(
                        "locals",
                        s.span(),
                        "only attributes are allowed in a locals block",
                    ));
                };
                let name = a.key.as_str();
                if !seen.insert(name.to_string()) {
                    return Err(self.err(
                        &format!("locals.{name}"),
                        a.span(),
                        format!("local {name:?} is defined twice"),
                    ));
                }
                pending.push(a);
            }
        }
        let mut locals = hcl::Map::new();
        // Locals may refer to each other in any order: evaluate until nothing progresses.
        while !pending.is_empty() {
            let before = pending.len();
            let mut left = Vec::new();
            let mut last_err = None;
            for a in pending.drain(..) {
                let path = format!("locals.{}", a.key.as_str());
                match self.eval_attr(&a.value, &path, a.span()) {
                    Ok(v) => {
                        locals.insert(a.key.as_str().to_string(), json_to_hcl(v));
                        self.ctx
                            .declare_var("local", hcl::Value::Object(locals.clone()));
                    }
                    Err(e) => {
                        last_err = Some(e);
                        left.push(a);
                    }
                }
            }
            if left.len() == before {
                if let Some(e) = last_err {
                    return Err(e);
                }
            }
            pending = left;
        }
        Ok(())
    }

    // -----------------------------------------------------------------------------------
    // the job

    fn decode_job(&self, b: &EditBlock) -> Result<Map<String, Value>, ParseError> {
        let label = self.one_label(b, "job")?;
        let path = format!("job[{label}]");
        let body = self.decode_body(&b.body, &JOB, &path, 1, None)?;
        let mut job = Map::new();
        let id = body
            .get("ID")
            .cloned()
            .unwrap_or_else(|| Value::String(label.clone()));
        let name = body
            .get("Name")
            .cloned()
            .unwrap_or_else(|| Value::String(label.clone()));
        job.insert("ID".into(), id);
        job.insert("Name".into(), name);
        let mut vault = None;
        let mut alone = Vec::new();
        for (k, v) in body {
            match k.as_str() {
                "ID" | "Name" => {}
                k if k == JOB_VAULT => vault = Some(v),
                k if k == JOB_TASKS => {
                    if let Value::Array(tasks) = v {
                        for t in tasks {
                            let name = t.get("Name").cloned().unwrap_or(Value::Null);
                            let mut g = Map::new();
                            g.insert("Name".into(), name);
                            g.insert("Tasks".into(), Value::Array(vec![t]));
                            alone.push(Value::Object(g));
                        }
                    }
                }
                _ => {
                    job.insert(k, v);
                }
            }
        }
        if !alone.is_empty() {
            let groups = match job.remove("TaskGroups") {
                Some(Value::Array(g)) => g,
                _ => Vec::new(),
            };
            alone.extend(groups);
            job.insert("TaskGroups".into(), Value::Array(alone));
        }
        if let Some(vault) = vault {
            if let Some(Value::Array(groups)) = job.get_mut("TaskGroups") {
                for g in groups.iter_mut() {
                    if let Some(Value::Array(tasks)) = g.get_mut("Tasks") {
                        for t in tasks.iter_mut().filter_map(Value::as_object_mut) {
                            if t.get("Vault").is_none_or(Value::is_null) {
                                t.insert("Vault".into(), vault.clone());
                            }
                        }
                    }
                }
            }
        }
        Ok(job)
    }

    fn decode_body(
        &self,
        body: &EditBody,
        schema: &'static Schema,
        path: &str,
        depth: usize,
        label: Option<(&str, String)>,
    ) -> Result<Map<String, Value>, ParseError> {
        if depth > MAX_NESTING_DEPTH {
            return Err(ParseError::new(
                Format::Hcl,
                format!("blocks are nested deeper than {MAX_NESTING_DEPTH} levels"),
            )
            .at(path));
        }
        let mut known: Vec<Option<Slot>> = schema.fields.iter().map(|_| None).collect();
        let mut unknown = Unknowns::default();
        let mut attr_names: HashSet<&str> = HashSet::new();

        for s in body.iter() {
            match s {
                Structure::Attribute(a) => {
                    let name = a.key.as_str();
                    let apath = format!("{path}.{name}");
                    if !attr_names.insert(name) {
                        return Err(self.err(
                            &apath,
                            a.span(),
                            format!("attribute {name:?} is set twice"),
                        ));
                    }
                    let Some(field) = schema.read_field(name) else {
                        let v = self.eval_attr(&a.value, &apath, a.span())?;
                        self.push_unknown_attr(&mut unknown, name, v, &apath, a.span())?;
                        continue;
                    };
                    let idx = field_index(schema, field);
                    match field.kind {
                        Kind::Str
                        | Kind::Int
                        | Kind::Bool
                        | Kind::Duration
                        | Kind::StrList
                        | Kind::IntList
                        | Kind::StrMap { .. }
                        | Kind::StrListMap => {
                            if known[idx].is_some() {
                                return Err(self.err(
                                    &apath,
                                    a.span(),
                                    format!("{name} is set both as a block and as an attribute"),
                                ));
                            }
                            let v = self.eval_attr(&a.value, &apath, a.span())?;
                            if let Some(v) =
                                coerce(field.kind, v).map_err(|m| self.err(&apath, a.span(), m))?
                            {
                                known[idx] = Some(Slot::One(v));
                            }
                        }
                        _ => {
                            return Err(self.err(
                                &apath,
                                a.span(),
                                format!("{name} must be written as a block: {name} {{ ... }}"),
                            ));
                        }
                    }
                }
                Structure::Block(b) => {
                    let name = b.ident.as_str();
                    if name == "dynamic" {
                        return Err(self.err(
                            &format!("{path}.dynamic"),
                            b.span(),
                            "dynamic blocks are not supported",
                        ));
                    }
                    let Some(field) = schema.read_field(name) else {
                        self.push_unknown_block(&mut unknown, b, path, depth)?;
                        continue;
                    };
                    let idx = field_index(schema, field);
                    let slot = &mut known[idx];
                    match field.kind {
                        Kind::Block(sub) => {
                            let bpath = format!("{path}.{name}");
                            self.no_labels(b, &bpath)?;
                            if slot.is_some() {
                                return Err(self.err(
                                    &bpath,
                                    b.span(),
                                    format!("only one {name} block is allowed here"),
                                ));
                            }
                            let v = self.decode_body(&b.body, sub, &bpath, depth + 1, None)?;
                            *slot = Some(Slot::One(Value::Object(v)));
                        }
                        Kind::List(sub) => {
                            let bpath = format!("{path}.{name}[{}]", len_many(slot));
                            self.no_labels(b, &bpath)?;
                            let v = self.decode_body(&b.body, sub, &bpath, depth + 1, None)?;
                            push_many(slot, Value::Object(v));
                        }
                        Kind::Labeled(sub, key) => {
                            let label = self.one_label(b, &format!("{path}.{name}"))?;
                            let bpath = format!("{path}.{name}[{label}]");
                            let v = self.decode_body(
                                &b.body,
                                sub,
                                &bpath,
                                depth + 1,
                                Some((key, label)),
                            )?;
                            push_many(slot, Value::Object(v));
                        }
                        Kind::TaskScaling => {
                            let label = self.one_label(b, &format!("{path}.{name}"))?;
                            let bpath = format!("{path}.{name}[{label}]");
                            let v = self.decode_body(
                                &b.body,
                                &super::schema::SCALING,
                                &bpath,
                                depth + 1,
                                Some((TASK_SCALING_LABEL, label)),
                            )?;
                            push_many(slot, Value::Object(v));
                        }
                        Kind::LabeledMap(sub, key) => {
                            let label = self.one_label(b, &format!("{path}.{name}"))?;
                            let bpath = format!("{path}.{name}[{label}]");
                            let v = self.decode_body(
                                &b.body,
                                sub,
                                &bpath,
                                depth + 1,
                                Some((key, label.clone())),
                            )?;
                            if slot.is_none() {
                                *slot = Some(Slot::Map(Map::new()));
                            }
                            if let Some(Slot::Map(m)) = slot {
                                if m.contains_key(&label) {
                                    return Err(self.err(
                                        &bpath,
                                        b.span(),
                                        format!("{name} {label:?} is defined twice"),
                                    ));
                                }
                                m.insert(label, Value::Object(v));
                            }
                        }
                        Kind::StrMap { .. } | Kind::StrListMap => {
                            let bpath = format!("{path}.{name}");
                            self.no_labels(b, &bpath)?;
                            if slot.is_some() {
                                return Err(self.err(
                                    &bpath,
                                    b.span(),
                                    format!("only one {name} block is allowed here"),
                                ));
                            }
                            let mut m = Map::new();
                            for s in b.body.iter() {
                                let Structure::Attribute(a) = s else {
                                    return Err(self.err(
                                        &bpath,
                                        s.span(),
                                        format!("a {name} block holds only attributes"),
                                    ));
                                };
                                let k = a.key.as_str();
                                let kpath = format!("{bpath}.{k}");
                                let v = self.eval_attr(&a.value, &kpath, a.span())?;
                                let elem = if matches!(field.kind, Kind::StrListMap) {
                                    Kind::StrList
                                } else {
                                    Kind::Str
                                };
                                if let Some(v) =
                                    coerce(elem, v).map_err(|m| self.err(&kpath, a.span(), m))?
                                {
                                    m.insert(k.to_string(), v);
                                }
                            }
                            *slot = Some(Slot::One(Value::Object(m)));
                        }
                        Kind::Open => {
                            let bpath = format!("{path}.{name}");
                            self.no_labels(b, &bpath)?;
                            if slot.is_some() {
                                return Err(self.err(
                                    &bpath,
                                    b.span(),
                                    format!("only one {name} block is allowed here"),
                                ));
                            }
                            let v = self.decode_open(&b.body, &bpath, depth + 1)?;
                            *slot = Some(Slot::One(Value::Object(v)));
                        }
                        Kind::Str
                        | Kind::Int
                        | Kind::Bool
                        | Kind::Duration
                        | Kind::StrList
                        | Kind::IntList => {
                            return Err(self.err(
                                &format!("{path}.{name}"),
                                b.span(),
                                format!("{name} is an attribute: write {name} = ..."),
                            ));
                        }
                    }
                }
            }
        }

        let mut out = Map::new();
        if let Some((key, label)) = label {
            out.insert(key.to_string(), Value::String(label));
        }
        for (field, slot) in schema.fields.iter().zip(known) {
            if let Some(slot) = slot {
                out.insert(field.json.to_string(), slot.into_value());
            }
        }
        for (k, u) in unknown.items {
            let v = match u {
                Unknown::Attr(v) => v,
                Unknown::Blocks { mut items, labeled } => {
                    if items.len() == 1 && !labeled {
                        items.pop().unwrap_or(Value::Null)
                    } else {
                        Value::Array(items)
                    }
                }
            };
            out.insert(k, v);
        }
        if let Some(post) = schema.post {
            post(&mut out).map_err(|m| ParseError::new(Format::Hcl, m).at(path))?;
        }
        Ok(out)
    }

    fn push_unknown_attr(
        &self,
        unknown: &mut Unknowns,
        name: &str,
        v: Value,
        path: &str,
        span: Option<std::ops::Range<usize>>,
    ) -> Result<(), ParseError> {
        let key = pascal_case(name);
        if unknown.index.contains_key(&key) {
            return Err(self.err(
                path,
                span,
                format!("{name} is set twice (or clashes with another key spelled {key})"),
            ));
        }
        if !v.is_null() {
            unknown.push(key, Unknown::Attr(v));
        }
        Ok(())
    }

    fn push_unknown_block(
        &self,
        unknown: &mut Unknowns,
        b: &EditBlock,
        path: &str,
        depth: usize,
    ) -> Result<(), ParseError> {
        let name = b.ident.as_str();
        let key = pascal_case(name);
        let (label, bpath) = match b.labels.as_slice() {
            [] => (None, format!("{path}.{name}")),
            [l] => (
                Some(l.as_str().to_string()),
                format!("{path}.{name}[{}]", l.as_str()),
            ),
            _ => {
                return Err(self.err(
                    &format!("{path}.{name}"),
                    b.span(),
                    format!("{name} blocks take at most one label"),
                ))
            }
        };
        let inner = self.decode_generic(&b.body, &bpath, depth + 1)?;
        let value = match &label {
            Some(l) => {
                let mut m = Map::new();
                m.insert("Name".into(), Value::String(l.clone()));
                m.extend(inner);
                m
            }
            None => inner,
        };
        match unknown.get_mut(&key) {
            Some(Unknown::Blocks { items, labeled }) => {
                items.push(Value::Object(value));
                *labeled |= label.is_some();
            }
            Some(Unknown::Attr(_)) => {
                return Err(self.err(
                    &bpath,
                    b.span(),
                    format!("{name} is set both as an attribute and as a block"),
                ));
            }
            None => unknown.push(
                key,
                Unknown::Blocks {
                    items: vec![Value::Object(value)],
                    labeled: label.is_some(),
                },
            ),
        }
        Ok(())
    }

    /// A block of a name no table knows: attributes get the generic PascalCase key.
    fn decode_generic(
        &self,
        body: &EditBody,
        path: &str,
        depth: usize,
    ) -> Result<Map<String, Value>, ParseError> {
        if depth > MAX_NESTING_DEPTH {
            return Err(ParseError::new(
                Format::Hcl,
                format!("blocks are nested deeper than {MAX_NESTING_DEPTH} levels"),
            )
            .at(path));
        }
        let mut unknown = Unknowns::default();
        for s in body.iter() {
            match s {
                Structure::Attribute(a) => {
                    let name = a.key.as_str();
                    let apath = format!("{path}.{name}");
                    let v = self.eval_attr(&a.value, &apath, a.span())?;
                    self.push_unknown_attr(&mut unknown, name, v, &apath, a.span())?;
                }
                Structure::Block(b) => self.push_unknown_block(&mut unknown, b, path, depth)?,
            }
        }
        let mut out = Map::new();
        for (k, u) in unknown.items {
            let v = match u {
                Unknown::Attr(v) => v,
                Unknown::Blocks { mut items, labeled } => {
                    if items.len() == 1 && !labeled {
                        items.pop().unwrap_or(Value::Null)
                    } else {
                        Value::Array(items)
                    }
                }
            };
            out.insert(k, v);
        }
        Ok(out)
    }

    /// Driver `config` and other open maps: keys as written; nested blocks become lists of
    /// objects (labels nest as `{label: [body]}`), as jobspec2 does.
    fn decode_open(
        &self,
        body: &EditBody,
        path: &str,
        depth: usize,
    ) -> Result<Map<String, Value>, ParseError> {
        if depth > MAX_NESTING_DEPTH {
            return Err(ParseError::new(
                Format::Hcl,
                format!("blocks are nested deeper than {MAX_NESTING_DEPTH} levels"),
            )
            .at(path));
        }
        let mut out = Map::new();
        let mut block_names: HashSet<&str> = HashSet::new();
        for s in body.iter() {
            match s {
                Structure::Attribute(a) => {
                    let name = a.key.as_str();
                    let apath = format!("{path}.{name}");
                    if out.contains_key(name) {
                        return Err(self.err(&apath, a.span(), format!("{name} is set twice")));
                    }
                    let v = self.eval_attr(&a.value, &apath, a.span())?;
                    out.insert(name.to_string(), v);
                }
                Structure::Block(b) => {
                    let name = b.ident.as_str();
                    let bpath = format!("{path}.{name}");
                    if out.contains_key(name) && !block_names.contains(name) {
                        return Err(self.err(
                            &bpath,
                            b.span(),
                            format!("{name} is set both as an attribute and as a block"),
                        ));
                    }
                    block_names.insert(name);
                    let mut v = Value::Object(self.decode_open(&b.body, &bpath, depth + 1)?);
                    for l in b.labels.iter().rev() {
                        let mut m = Map::new();
                        m.insert(l.as_str().to_string(), Value::Array(vec![v]));
                        v = Value::Object(m);
                    }
                    match out
                        .entry(name.to_string())
                        .or_insert_with(|| Value::Array(Vec::new()))
                    {
                        Value::Array(items) => items.push(v),
                        _ => {
                            return Err(self.err(
                                &bpath,
                                b.span(),
                                format!("{name} is set both as an attribute and as a block"),
                            ))
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    // -----------------------------------------------------------------------------------
    // expressions

    fn eval_attr(
        &self,
        expr: &hcl::edit::expr::Expression,
        path: &str,
        span: Option<std::ops::Range<usize>>,
    ) -> Result<Value, ParseError> {
        let e: Expression = expr.clone().into();
        self.eval_expr(&e, 0).map_err(|m| self.err(path, span, m))
    }

    fn eval_expr(&self, e: &Expression, depth: usize) -> Result<Value, String> {
        if depth > MAX_NESTING_DEPTH {
            return Err(format!(
                "expression is nested deeper than {MAX_NESTING_DEPTH} levels"
            ));
        }
        match e {
            Expression::Null => Ok(Value::Null),
            Expression::Bool(b) => Ok(Value::Bool(*b)),
            Expression::Number(n) => number(n),
            Expression::String(s) => Ok(Value::String(s.clone())),
            Expression::Array(items) => items
                .iter()
                .map(|i| self.eval_expr(i, depth + 1))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            Expression::Object(obj) => {
                let mut out = Map::new();
                for (k, v) in obj.iter() {
                    let key = match k {
                        ObjectKey::Identifier(id) => id.to_string(),
                        ObjectKey::Expression(ke) => match self.eval_expr(ke, depth + 1)? {
                            Value::String(s) => s,
                            Value::Number(n) => n.to_string(),
                            Value::Bool(b) => b.to_string(),
                            other => {
                                return Err(format!(
                                    "an object key must be a string, got {}",
                                    type_name(&other)
                                ))
                            }
                        },
                        _ => return Err("unsupported object key".into()),
                    };
                    out.insert(key, self.eval_expr(v, depth + 1)?);
                }
                Ok(Value::Object(out))
            }
            Expression::TemplateExpr(t) => self.eval_template(t, depth),
            Expression::Parenthesis(inner) => self.eval_expr(inner, depth + 1),
            Expression::Variable(v) if !is_scope(v.as_str()) => {
                Ok(Value::String(format!("${{{}}}", v.as_str())))
            }
            Expression::Traversal(t) => match &t.expr {
                Expression::Variable(v) if !is_scope(v.as_str()) => {
                    Ok(Value::String(format!("${{{}}}", source(e))))
                }
                _ => self.eval_complex(e, depth),
            },
            _ => self.eval_complex(e, depth),
        }
    }

    fn eval_template(&self, t: &TemplateExpr, depth: usize) -> Result<Value, String> {
        let tpl = Template::from_expr(t).map_err(|e| format!("invalid template: {e}"))?;
        let elems = tpl.elements();
        let simple = elems.iter().all(|el| match el {
            Element::Literal(_) => true,
            Element::Interpolation(i) => i.strip == hcl::template::Strip::None,
            Element::Directive(_) => false,
        });
        if !simple {
            return self.eval_complex(&Expression::TemplateExpr(Box::new(t.clone())), depth);
        }
        if let [Element::Interpolation(i)] = elems {
            return self.eval_expr(&i.expr, depth + 1);
        }
        let mut out = String::new();
        for el in elems {
            match el {
                Element::Literal(l) => out.push_str(l),
                Element::Interpolation(i) => match self.eval_expr(&i.expr, depth + 1)? {
                    Value::String(s) => out.push_str(&s),
                    Value::Number(n) => out.push_str(&n.to_string()),
                    Value::Bool(b) => out.push_str(if b { "true" } else { "false" }),
                    other => {
                        return Err(format!(
                            "`${{{}}}` is a {} and cannot be part of a string",
                            source(&i.expr),
                            type_name(&other)
                        ))
                    }
                },
                Element::Directive(_) => {}
            }
        }
        Ok(Value::String(out))
    }

    /// Expressions that need evaluation: references to `var.*` / `local.*` are evaluated,
    /// any other reference is left as the `${...}` text Nomad interpolates at run time.
    fn eval_complex(&self, e: &Expression, depth: usize) -> Result<Value, String> {
        let mut bound = Vec::new();
        let rewritten = rewrite(e.clone(), &mut bound, depth)?;
        match rewritten.evaluate(&self.ctx) {
            Ok(v) => hcl_to_json(v),
            Err(err) => Err(format!("cannot evaluate `{}`: {}", source(e), err)),
        }
    }
}

fn push_many(slot: &mut Option<Slot>, v: Value) {
    if let Slot::Many(items) = slot.get_or_insert_with(|| Slot::Many(Vec::new())) {
        items.push(v);
    }
}

fn len_many(slot: &Option<Slot>) -> usize {
    match slot {
        Some(Slot::Many(items)) => items.len(),
        _ => 0,
    }
}

fn field_index(schema: &Schema, field: &super::schema::Field) -> usize {
    schema
        .fields
        .iter()
        .position(|f| std::ptr::eq(f, field))
        .unwrap_or(0)
}

fn is_scope(name: &str) -> bool {
    name == "var" || name == "local"
}

fn source(e: &Expression) -> String {
    hcl::format::to_string(e).unwrap_or_else(|_| "<expression>".to_string())
}

/// Replaces references outside `var`/`local` (and not bound by a `for`) with their
/// `${...}` text, so that evaluation keeps them for Nomad's run-time interpolation.
fn rewrite(e: Expression, bound: &mut Vec<String>, depth: usize) -> Result<Expression, String> {
    if depth > MAX_NESTING_DEPTH {
        return Err(format!(
            "expression is nested deeper than {MAX_NESTING_DEPTH} levels"
        ));
    }
    let d = depth + 1;
    Ok(match e {
        Expression::Variable(v)
            if !is_scope(v.as_str()) && !bound.iter().any(|b| b == v.as_str()) =>
        {
            Expression::String(format!("${{{}}}", v.as_str()))
        }
        Expression::Traversal(mut t) => {
            if let Expression::Variable(v) = &t.expr {
                if !is_scope(v.as_str()) && !bound.iter().any(|b| b == v.as_str()) {
                    let src = source(&Expression::Traversal(t));
                    return Ok(Expression::String(format!("${{{src}}}")));
                }
            }
            t.expr = rewrite(t.expr, bound, d)?;
            for op in t.operators.iter_mut() {
                if let TraversalOperator::Index(ix) = op {
                    *ix = rewrite(std::mem::replace(ix, Expression::Null), bound, d)?;
                }
            }
            Expression::Traversal(t)
        }
        Expression::Array(items) => Expression::Array(
            items
                .into_iter()
                .map(|i| rewrite(i, bound, d))
                .collect::<Result<_, _>>()?,
        ),
        Expression::Object(obj) => {
            let mut out = hcl::Object::new();
            for (k, v) in obj {
                let k = match k {
                    ObjectKey::Expression(ke) => ObjectKey::Expression(rewrite(ke, bound, d)?),
                    other => other,
                };
                out.insert(k, rewrite(v, bound, d)?);
            }
            Expression::Object(out)
        }
        Expression::TemplateExpr(t) => {
            let mut tpl = Template::from_expr(&t).map_err(|e| format!("invalid template: {e}"))?;
            rewrite_template(&mut tpl, bound, d)?;
            Expression::TemplateExpr(Box::new(TemplateExpr::QuotedString(tpl.to_string())))
        }
        Expression::Parenthesis(inner) => {
            Expression::Parenthesis(Box::new(rewrite(*inner, bound, d)?))
        }
        Expression::FuncCall(mut fc) => {
            fc.args = std::mem::take(&mut fc.args)
                .into_iter()
                .map(|a| rewrite(a, bound, d))
                .collect::<Result<_, _>>()?;
            Expression::FuncCall(fc)
        }
        Expression::Conditional(mut c) => {
            c.cond_expr = rewrite(c.cond_expr, bound, d)?;
            c.true_expr = rewrite(c.true_expr, bound, d)?;
            c.false_expr = rewrite(c.false_expr, bound, d)?;
            Expression::Conditional(c)
        }
        Expression::Operation(op) => match *op {
            Operation::Unary(mut u) => {
                u.expr = rewrite(u.expr, bound, d)?;
                Expression::Operation(Box::new(Operation::Unary(u)))
            }
            Operation::Binary(mut b) => {
                b.lhs_expr = rewrite(b.lhs_expr, bound, d)?;
                b.rhs_expr = rewrite(b.rhs_expr, bound, d)?;
                Expression::Operation(Box::new(Operation::Binary(b)))
            }
        },
        Expression::ForExpr(mut fe) => {
            fe.collection_expr = rewrite(fe.collection_expr, bound, d)?;
            let n = bound.len();
            bound.push(fe.value_var.to_string());
            if let Some(k) = &fe.key_var {
                bound.push(k.to_string());
            }
            if let Some(k) = fe.key_expr.take() {
                fe.key_expr = Some(rewrite(k, bound, d)?);
            }
            fe.value_expr = rewrite(fe.value_expr, bound, d)?;
            if let Some(c) = fe.cond_expr.take() {
                fe.cond_expr = Some(rewrite(c, bound, d)?);
            }
            bound.truncate(n);
            Expression::ForExpr(fe)
        }
        other => other,
    })
}

fn rewrite_template(
    tpl: &mut Template,
    bound: &mut Vec<String>,
    depth: usize,
) -> Result<(), String> {
    for el in tpl.elements_mut() {
        match el {
            Element::Literal(_) => {}
            Element::Interpolation(i) => {
                i.expr = rewrite(
                    std::mem::replace(&mut i.expr, Expression::Null),
                    bound,
                    depth + 1,
                )?;
            }
            Element::Directive(dir) => match dir.as_mut() {
                Directive::If(ifd) => {
                    ifd.cond_expr = rewrite(
                        std::mem::replace(&mut ifd.cond_expr, Expression::Null),
                        bound,
                        depth + 1,
                    )?;
                    rewrite_template(&mut ifd.true_template, bound, depth + 1)?;
                    if let Some(f) = ifd.false_template.as_mut() {
                        rewrite_template(f, bound, depth + 1)?;
                    }
                }
                Directive::For(fd) => {
                    fd.collection_expr = rewrite(
                        std::mem::replace(&mut fd.collection_expr, Expression::Null),
                        bound,
                        depth + 1,
                    )?;
                    let n = bound.len();
                    bound.push(fd.value_var.to_string());
                    if let Some(k) = &fd.key_var {
                        bound.push(k.to_string());
                    }
                    rewrite_template(&mut fd.template, bound, depth + 1)?;
                    bound.truncate(n);
                }
            },
        }
    }
    Ok(())
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

fn hcl_to_json(v: hcl::Value) -> Result<Value, String> {
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
fn coerce(kind: Kind, v: Value) -> Result<Option<Value>, String> {
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
            Value::String(s) => Value::from(parse_duration(s)?),
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
