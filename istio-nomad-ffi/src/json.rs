//! Reading JSON arguments into core types, with the field path and line of a bad value.

use istio_nomad_core::error::{Format, ParseError};
use istio_nomad_core::Result;
use serde::de::DeserializeOwned;

/// Reads `text` as a `T`; a bad value is a parse error naming `what`, the JSON path and line.
pub fn from_json<T: DeserializeOwned>(text: &str, what: &str) -> Result<T> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let mut p = ParseError::new(Format::Json, format!("{what}: {inner}")).line(inner.line());
        if path != "." {
            p = p.at(format!("{what}.{path}"));
        }
        p
    })?;
    de.end()
        .map_err(|e| ParseError::new(Format::Json, format!("{what}: {e}")).line(e.line()))?;
    Ok(value)
}
