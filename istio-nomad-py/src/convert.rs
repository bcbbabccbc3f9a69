//! Conversions between Python values and the JSON values the core reads and writes.
//!
//! Python to JSON accepts what `json.dumps` would write without coercion: `dict` (or any
//! mapping) with `str` keys, `list`/`tuple`, `str`, `int` (64-bit), finite `float`, `bool` and
//! `None`. Anything else, a non-string key, or nesting deeper than [`MAX_DEPTH`] (a dict that
//! contains itself, for one) is a `SpecError` naming the path of the value.

use crate::errors::value_error;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyMapping, PyString, PyTuple};
use serde_json::{Map, Number, Value};
use std::borrow::Cow;

/// The deepest nesting accepted from Python (serde_json's limit for JSON text).
pub const MAX_DEPTH: usize = 128;

/// The text of a Python `str`; a lone surrogate (not encodable as UTF-8) is a `SpecError`.
pub fn as_text<'a>(py: Python<'_>, s: &'a Bound<'_, PyString>) -> PyResult<Cow<'a, str>> {
    s.to_cow()
        .map_err(|e| value_error(py, "", format!("the text is not valid Unicode: {e}")))
}

/// Converts a mapping to a JSON object value; `root` prefixes the paths in errors (`mesh`).
/// A value that is not a mapping is a `TypeError`.
pub fn mapping_to_value(obj: &Bound<'_, PyAny>, root: &str, what: &str) -> PyResult<Value> {
    if !(obj.is_instance_of::<PyDict>() || obj.cast::<PyMapping>().is_ok()) {
        return Err(PyTypeError::new_err(format!(
            "{what} must be a dict, not '{}'",
            type_name(obj)
        )));
    }
    let mut path = root.to_string();
    to_value(obj, &mut path, 0)
}

/// Converts any value to JSON; `path` names it in errors (`intercept.inbound_ports`).
pub fn to_value_at(obj: &Bound<'_, PyAny>, path: &str) -> PyResult<Value> {
    let mut path = path.to_string();
    to_value(obj, &mut path, 0)
}

/// The keyword arguments that were given, as a JSON object: `(name, None)` pairs are left out,
/// so the core's defaults apply to them.
pub fn given<'a>(pairs: impl IntoIterator<Item = (&'a str, Option<Value>)>) -> Map<String, Value> {
    pairs
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k.to_string(), v)))
        .collect()
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .qualname()
        .map_or_else(|_| "object".to_string(), |n| n.to_string())
}

fn push_key(path: &mut String, key: &str) {
    if !path.is_empty() {
        path.push('.');
    }
    path.push_str(key);
}

fn to_value(obj: &Bound<'_, PyAny>, path: &mut String, depth: usize) -> PyResult<Value> {
    let py = obj.py();
    if depth > MAX_DEPTH {
        return Err(value_error(
            py,
            path,
            format!("values are nested deeper than {MAX_DEPTH} levels"),
        ));
    }
    if obj.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Value::String(
            s.to_cow()
                .map_err(|e| value_error(py, path, format!("not valid Unicode: {e}")))?
                .into_owned(),
        ));
    }
    if let Ok(i) = obj.cast::<PyInt>() {
        if let Ok(v) = i.extract::<i64>() {
            return Ok(Value::Number(v.into()));
        }
        if let Ok(v) = i.extract::<u64>() {
            return Ok(Value::Number(v.into()));
        }
        return Err(value_error(
            py,
            path,
            format!("the integer {i} does not fit in 64 bits"),
        ));
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        let v = f.value();
        return Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| value_error(py, path, format!("the float {v} is not a finite number")));
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        let mut m = Map::with_capacity(d.len());
        for (k, v) in d.iter() {
            map_item(&mut m, &k, &v, path, depth)?;
        }
        return Ok(Value::Object(m));
    }
    if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
        let mut a = Vec::with_capacity(obj.len()?);
        for (i, item) in obj.try_iter()?.enumerate() {
            let len = path.len();
            path.push_str(&format!("[{i}]"));
            a.push(to_value(&item?, path, depth + 1)?);
            path.truncate(len);
        }
        return Ok(Value::Array(a));
    }
    if let Ok(mapping) = obj.cast::<PyMapping>() {
        let mut m = Map::new();
        for item in mapping.items()?.iter() {
            let (k, v): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item.extract()?;
            map_item(&mut m, &k, &v, path, depth)?;
        }
        return Ok(Value::Object(m));
    }
    Err(value_error(
        py,
        path,
        format!(
            "a value of type '{}' cannot be read (use dict, list, str, int, float, bool or None)",
            type_name(obj)
        ),
    ))
}

fn map_item(
    m: &mut Map<String, Value>,
    k: &Bound<'_, PyAny>,
    v: &Bound<'_, PyAny>,
    path: &mut String,
    depth: usize,
) -> PyResult<()> {
    let py = k.py();
    let Ok(ks) = k.cast::<PyString>() else {
        let shown = k.repr().map_or_else(|_| "?".to_string(), |r| r.to_string());
        return Err(value_error(
            py,
            path,
            format!("dict keys must be strings, got {} {shown}", type_name(k)),
        ));
    };
    let key = ks
        .to_cow()
        .map_err(|e| value_error(py, path, format!("a key is not valid Unicode: {e}")))?;
    let len = path.len();
    push_key(path, &key);
    let value = to_value(v, path, depth + 1)?;
    path.truncate(len);
    m.insert(key.into_owned(), value);
    Ok(())
}

/// A Rust value (a core report, event or document, or a JSON value) as the Python object its
/// serde form gives: dicts, lists, `str`, `int`, `float`, `bool` and `None`.
pub fn to_py<'py, T: serde::Serialize + ?Sized>(
    py: Python<'py>,
    v: &T,
) -> PyResult<Bound<'py, PyAny>> {
    Ok(pythonize::pythonize(py, v)?)
}
