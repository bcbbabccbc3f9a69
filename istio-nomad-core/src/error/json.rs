//! Reading JSON documents into typed values with the path (and line) of a bad value: the one
//! helper the core, the C ABI (JSON text arguments) and the Python binding (dicts) share.

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{Format, ParseError};

fn located(root: &str, path: &str) -> Option<String> {
    match (root.is_empty(), path == "." || path.is_empty()) {
        (_, true) if root.is_empty() => None,
        (_, true) => Some(root.to_owned()),
        (true, false) => Some(path.to_owned()),
        (false, false) => Some(format!("{root}.{path}")),
    }
}

/// Reads JSON `text` as a `T`. A bad value is a [`Format::Json`] parse error whose path is
/// `root.<path in the document>` and whose line is the text's; trailing text is refused.
pub fn from_json_text<T: DeserializeOwned>(text: &str, root: &str) -> Result<T, ParseError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = located(root, &e.path().to_string());
        let inner = e.into_inner();
        let mut p = ParseError::new(Format::Json, inner.to_string()).line(inner.line());
        if let Some(path) = path {
            p = p.at(path);
        }
        p
    })?;
    de.end()
        .map_err(|e| ParseError::new(Format::Json, e.to_string()).line(e.line()))?;
    Ok(value)
}

/// Reads a document given as data (a Python `dict` turned into a [`Value`]) as a `T`. A bad
/// value is a [`Format::Value`] parse error at `root.<path>` ("invalid value in
/// intercept.inbound_ports\[1\]: ...").
pub fn from_json_value<T: DeserializeOwned>(value: Value, root: &str) -> Result<T, ParseError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let mut p = ParseError::new(Format::Value, e.inner().to_string());
        if let Some(path) = located(root, &e.path().to_string()) {
            p = p.at(path);
        }
        p
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Opts {
        port: u16,
        #[serde(default)]
        names: Vec<String>,
    }

    #[test]
    fn text_errors_name_the_root_path_and_line() {
        let e = from_json_text::<Opts>("{\n  \"port\": 70000\n}", "options").unwrap_err();
        assert_eq!(e.path.as_deref(), Some("options.port"));
        assert_eq!(e.line, Some(2));
        assert_eq!(e.format, Format::Json);
        assert!(
            e.message.starts_with("invalid value: integer `70000`"),
            "{e}"
        );
        let e = from_json_text::<Opts>("{\"port\": 1} x", "options").unwrap_err();
        assert!(e.message.contains("trailing characters"), "{e}");
        assert_eq!(
            from_json_text::<Opts>("{\"port\": 1}", "options").unwrap(),
            Opts {
                port: 1,
                names: vec![]
            }
        );
    }

    #[test]
    fn value_errors_say_value_and_have_no_line() {
        let v = serde_json::json!({"port": 1, "names": ["a", 2]});
        let e = from_json_value::<Opts>(v, "intercept").unwrap_err();
        assert_eq!(e.path.as_deref(), Some("intercept.names[1]"));
        assert_eq!(e.line, None);
        assert_eq!(
            e.to_string(),
            "invalid value in intercept.names[1]: invalid type: integer `2`, expected a string"
        );
        let e = from_json_value::<Opts>(serde_json::json!(5), "").unwrap_err();
        assert_eq!(e.path, None);
    }
}
