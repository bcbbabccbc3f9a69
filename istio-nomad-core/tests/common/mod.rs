//! Helpers shared by the integration tests of istio-nomad-core.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};

/// `../shared/data` beside the repository, or `None` (after saying why) when it is missing
/// outside CI. With `CI=true` a missing folder fails the test.
pub fn shared_data() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data");
    if dir.is_dir() {
        return Some(dir.canonicalize().unwrap());
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "CI=true but the shared test data folder {} is missing",
            dir.display()
        );
    }
    eprintln!("skipped: ../shared/data not found at {}", dir.display());
    None
}

/// The crate's own test data folder.
pub fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests")
}

/// Compares `actual` with the golden file at `tests/golden/<rel>`; `UPDATE_GOLDEN=1` rewrites it.
pub fn golden(rel: &str, actual: &str) {
    let path = testdata().join("golden").join(rel);
    if std::env::var("UPDATE_GOLDEN").as_deref() == Ok("1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "golden file {} missing ({e}); run with UPDATE_GOLDEN=1",
            path.display()
        )
    });
    if expected != actual {
        let diff: Vec<String> = expected
            .lines()
            .zip(actual.lines())
            .enumerate()
            .filter(|(_, (a, b))| a != b)
            .take(5)
            .map(|(i, (a, b))| format!("line {}:\n  golden: {a}\n  actual: {b}", i + 1))
            .collect();
        panic!(
            "{} differs from the rendering ({} vs {} lines); UPDATE_GOLDEN=1 rewrites it\n{}",
            path.display(),
            expected.lines().count(),
            actual.lines().count(),
            diff.join("\n")
        );
    }
}

/// Removes `null`s, empty lists and empty objects, recursively (Nomad treats them as absent).
pub fn normalize(v: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), normalize(v)))
                .filter(|(_, v)| !is_empty(v))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(normalize).collect()),
        other => other.clone(),
    }
}

fn is_empty(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Null => true,
        serde_json::Value::Array(a) => a.is_empty(),
        serde_json::Value::Object(m) => m.is_empty(),
        _ => false,
    }
}
