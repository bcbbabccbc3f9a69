//! Checks Nomad API JSON against Nomad's OpenAPI description
//! (`hashicorp/nomad-openapi` `v1/openapi.yaml`, generated from Nomad 1.4).
//!
//! The checker understands the subset of OpenAPI 3 that file uses: `$ref` to
//! `#/components/schemas/*`, `type` (`object`, `array`, `string`, `integer`, `number`,
//! `boolean`), `properties`, `items`, `additionalProperties` (a map's value schema),
//! `minimum`/`maximum`, `format` (`int32`/`int64` ranges, `byte` as base64) and `nullable`.
//!
//! Two rules go beyond the letter of the file:
//!
//! * **Unknown keys are rejected.** The schemas set no `additionalProperties`, which in
//!   OpenAPI means "anything else is allowed"; Nomad itself ignores misspelled keys
//!   silently. To catch `Taskgroups` or `PortLable`, an object schema with `properties`
//!   accepts only those keys, plus the short list of fields added after Nomad 1.4 in
//!   [`NEWER_FIELDS`] (their values are not checked).
//! * **`null` is accepted for every property.** The file is generated from Go types, where
//!   every pointer, slice and map may be `nil` and is written as `null`
//!   (`GET /v1/job/:id` returns such nulls), but it marks nothing `nullable`.

use std::fmt;
use std::path::Path;

use serde_json::{Map, Value};

use crate::error::{Error, Format, ParseError};

/// A field Nomad added after the 1.4 API that the OpenAPI file describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewerField {
    /// The schema (`#/components/schemas/<name>`) that lacks the field.
    pub schema: &'static str,
    /// The JSON key.
    pub field: &'static str,
    /// The Nomad version that added it.
    pub since: &'static str,
}

const fn newer(schema: &'static str, field: &'static str, since: &'static str) -> NewerField {
    NewerField {
        schema,
        field,
        since,
    }
}

/// Keys accepted although the 1.4 description lacks them; each was added by a later Nomad
/// and appears in jobs this crate reads or writes (the shared example job, jobspec2 defaults,
/// Consul transparent proxy). Keep this list short: every entry is a hole in the check.
pub const NEWER_FIELDS: &[NewerField] = &[
    // Node pools: job `node_pool` (Nomad 1.6.0; `GET /v1/job/:id` returns it).
    newer("Job", "NodePool", "1.6.0"),
    // Group `disconnect` block, which replaced max_client_disconnect and
    // stop_after_client_disconnect (Nomad 1.8.0; the API returns `"Disconnect": null`).
    newer("TaskGroup", "Disconnect", "1.8.0"),
    // The default workload identity, `identity {}` in a task (Nomad 1.4.0 GA; the file was
    // generated from v1.4.0-beta.1, before it).
    newer("Task", "Identity", "1.4.0"),
    // Consul transparent proxy, `transparent_proxy {}` in a sidecar proxy (Nomad 1.8.0).
    newer("ConsulProxy", "TransparentProxy", "1.8.0"),
    // Template `error_on_missing_key`, which jobspec2 always fills in (Nomad 1.5.0).
    newer("Template", "ErrMissingKey", "1.5.0"),
    // Vault `disable_file`, which jobspec2 always fills in (Nomad 1.5.4).
    newer("Vault", "DisableFile", "1.5.4"),
];

/// One place where a value breaks the schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaViolation {
    /// Where: the schema name, then keys and indexes (`Job.TaskGroups[0].Count`).
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for SchemaViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// The `components.schemas` of an OpenAPI document, ready to check values against.
#[derive(Debug, Clone)]
pub struct OpenApiSchema {
    schemas: Map<String, Value>,
}

const MAX_DEPTH: usize = 256;

impl OpenApiSchema {
    /// Reads an OpenAPI document (YAML or JSON) from a file.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the file cannot be read, [`Error::Parse`] when it is not YAML or
    /// has no `components.schemas`.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            op: "read",
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Self::from_yaml(&text)?)
    }

    /// Reads an OpenAPI document from YAML (or JSON) text.
    ///
    /// # Errors
    ///
    /// A [`ParseError`] when the text is not YAML or has no `components.schemas` map.
    pub fn from_yaml(text: &str) -> Result<Self, ParseError> {
        let doc: Value = serde_norway::from_str(text).map_err(|e| {
            let mut err = ParseError::new(Format::Json, format!("OpenAPI document (YAML): {e}"));
            if let Some(loc) = e.location() {
                err = err.line(loc.line());
            }
            err
        })?;
        match doc.pointer("/components/schemas") {
            Some(Value::Object(schemas)) => Ok(OpenApiSchema {
                schemas: schemas.clone(),
            }),
            _ => Err(ParseError::new(
                Format::Json,
                "OpenAPI document has no components.schemas map",
            )
            .at("components.schemas")),
        }
    }

    /// True when the document defines `#/components/schemas/<name>`.
    pub fn has_schema(&self, name: &str) -> bool {
        self.schemas.contains_key(name)
    }

    /// Every place where `value` breaks schema `schema_name`; empty when it conforms.
    pub fn validate(&self, schema_name: &str, value: &Value) -> Vec<SchemaViolation> {
        let mut out = Vec::new();
        match self.schemas.get(schema_name) {
            Some(schema) => self.check(schema, Some(schema_name), value, schema_name, 0, &mut out),
            None => out.push(SchemaViolation {
                path: schema_name.to_string(),
                message: format!("the document has no schema named {schema_name:?}"),
            }),
        }
        out
    }

    fn check(
        &self,
        schema: &Value,
        owner: Option<&str>,
        value: &Value,
        path: &str,
        depth: usize,
        out: &mut Vec<SchemaViolation>,
    ) {
        let mut fail = |message: String| {
            out.push(SchemaViolation {
                path: path.to_string(),
                message,
            })
        };
        if depth > MAX_DEPTH {
            fail(format!("nested deeper than {MAX_DEPTH} levels"));
            return;
        }
        if value.is_null() {
            return;
        }
        if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            let target = reference.strip_prefix("#/components/schemas/");
            match target.and_then(|name| self.schemas.get(name).map(|s| (name, s))) {
                Some((name, s)) => self.check(s, Some(name), value, path, depth + 1, out),
                None => fail(format!("unresolvable $ref {reference:?}")),
            }
            return;
        }
        let ty = schema.get("type").and_then(Value::as_str).or_else(|| {
            if schema.get("properties").is_some() || schema.get("additionalProperties").is_some() {
                Some("object")
            } else if schema.get("items").is_some() {
                Some("array")
            } else {
                None
            }
        });
        match ty {
            Some("object") => {
                let Value::Object(obj) = value else {
                    fail(format!("expected an object, got {}", describe(value)));
                    return;
                };
                let props = schema.get("properties").and_then(Value::as_object);
                let additional = schema.get("additionalProperties");
                for (k, v) in obj {
                    let kpath = match props {
                        Some(_) => format!("{path}.{k}"),
                        None => format!("{path}[{k:?}]"),
                    };
                    if let Some(ps) = props.and_then(|p| p.get(k)) {
                        self.check(ps, None, v, &kpath, depth + 1, out);
                    } else if let Some(ap) = additional {
                        match ap {
                            Value::Bool(false) => out.push(SchemaViolation {
                                path: kpath,
                                message: format!("unknown key {k:?}"),
                            }),
                            Value::Object(_) => self.check(ap, None, v, &kpath, depth + 1, out),
                            _ => {}
                        }
                    } else if props.is_some() {
                        let allowed = owner.is_some_and(|o| {
                            NEWER_FIELDS.iter().any(|n| n.schema == o && n.field == k)
                        });
                        if !allowed {
                            out.push(SchemaViolation {
                                path: kpath,
                                message: match owner {
                                    Some(o) => format!("unknown key {k:?} (not a field of {o})"),
                                    None => format!("unknown key {k:?}"),
                                },
                            });
                        }
                    }
                }
            }
            Some("array") => {
                let Value::Array(items) = value else {
                    fail(format!("expected an array, got {}", describe(value)));
                    return;
                };
                if let Some(item_schema) = schema.get("items") {
                    for (i, item) in items.iter().enumerate() {
                        self.check(
                            item_schema,
                            None,
                            item,
                            &format!("{path}[{i}]"),
                            depth + 1,
                            out,
                        );
                    }
                }
            }
            Some("string") => {
                let Value::String(s) = value else {
                    fail(format!("expected a string, got {}", describe(value)));
                    return;
                };
                if schema.get("format").and_then(Value::as_str) == Some("byte") {
                    use base64::Engine as _;
                    if base64::engine::general_purpose::STANDARD.decode(s).is_err() {
                        fail(format!("expected base64 (format byte), got {s:?}"));
                    }
                }
            }
            Some("integer") => {
                let Some(n) = value.as_number() else {
                    fail(format!("expected an integer, got {}", describe(value)));
                    return;
                };
                let whole =
                    n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0);
                if !whole {
                    fail(format!("expected an integer, got {n}"));
                    return;
                }
                let (fmin, fmax) = match schema.get("format").and_then(Value::as_str) {
                    Some("int32") => (Some(f64::from(i32::MIN)), Some(f64::from(i32::MAX))),
                    Some("int64") => (
                        Some(-9.223_372_036_854_776e18),
                        Some(9.223_372_036_854_776e18),
                    ),
                    _ => (None, None),
                };
                check_range(schema, n, fmin, fmax, &mut fail);
            }
            Some("number") => {
                let Some(n) = value.as_number() else {
                    fail(format!("expected a number, got {}", describe(value)));
                    return;
                };
                check_range(schema, n, None, None, &mut fail);
            }
            Some("boolean") if !value.is_boolean() => {
                fail(format!("expected true or false, got {}", describe(value)));
            }
            _ => {}
        }
    }
}

fn check_range(
    schema: &Value,
    n: &serde_json::Number,
    fmin: Option<f64>,
    fmax: Option<f64>,
    fail: &mut impl FnMut(String),
) {
    let min = schema.get("minimum").and_then(Value::as_f64).or(fmin);
    let max = schema.get("maximum").and_then(Value::as_f64).or(fmax);
    // The bounds in the file are floats (uint64's maximum is written 1.8446744073709552e+19,
    // which is exactly 2^64), so compare as floats.
    let value = n.as_f64().unwrap_or(f64::NAN);
    let below = |m: f64| value < m;
    let above = |m: f64| value > m;
    if let Some(m) = min {
        if below(m) {
            fail(format!("{n} is below the minimum {m}"));
        }
    }
    if let Some(m) = max {
        if above(m) {
            fail(format!("{n} is above the maximum {m}"));
        }
    }
}

fn describe(v: &Value) -> String {
    let kind = match v {
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    };
    let mut shown = v.to_string();
    if shown.len() > 40 {
        let cut = (0..=37)
            .rev()
            .find(|i| shown.is_char_boundary(*i))
            .unwrap_or(0);
        shown.truncate(cut);
        shown.push_str("...");
    }
    format!("{kind} ({shown})")
}
