//! Helpers shared by the integration tests of istio-nomad-core.
#![allow(dead_code, clippy::unwrap_used)]

use istio_nomad_core::backend::{ClientOptions, RetryPolicy};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;

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

/// Fast retries so that retry tests run in milliseconds.
pub fn fast_options(attempts: u32) -> ClientOptions {
    ClientOptions::new()
        .timeout(Duration::from_secs(5))
        .connect_timeout(Duration::from_secs(1))
        .retry(
            RetryPolicy::new()
                .max_attempts(attempts)
                .base_delay(Duration::from_millis(2))
                .max_delay(Duration::from_millis(10)),
        )
}

/// A small service job in Nomad's API JSON form.
pub fn web_job(image: &str, count: u64) -> Value {
    json!({
        "ID": "web",
        "Name": "web",
        "Type": "service",
        "Datacenters": ["dc1"],
        "TaskGroups": [{
            "Name": "frontend",
            "Count": count,
            "Tasks": [{
                "Name": "nginx",
                "Driver": "docker",
                "Config": {"image": image},
                "Resources": {"CPU": 100, "MemoryMB": 64}
            }]
        }]
    })
}

/// Schema check of every job body sent to the mock Nomad server.
///
/// This is the hook where full validation against the Nomad OpenAPI schema plugs in. Until
/// then it checks the field names of the job, its groups and its tasks against the
/// `Job`, `TaskGroup` and `Task` schemas of `nomad-openapi-v1.yaml`.
pub fn check_job_body_against_openapi(job: &Value) {
    let Some(data) = shared_data() else { return };
    let text = std::fs::read_to_string(data.join("nomad-openapi-v1.yaml")).unwrap();
    let spec: Value = serde_norway::from_str(&text).unwrap();
    let props = |schema: &str| -> Vec<String> {
        spec["components"]["schemas"][schema]["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    };
    let check = |obj: &Value, schema: &str, at: &str| {
        let allowed = props(schema);
        for key in obj.as_object().unwrap().keys() {
            assert!(
                allowed.contains(key),
                "{at}.{key} is not a field of the OpenAPI {schema} schema"
            );
        }
    };
    check(job, "Job", "Job");
    for (i, g) in job["TaskGroups"].as_array().unwrap().iter().enumerate() {
        check(g, "TaskGroup", &format!("Job.TaskGroups[{i}]"));
        for (k, t) in g["Tasks"].as_array().unwrap().iter().enumerate() {
            check(t, "Task", &format!("Job.TaskGroups[{i}].Tasks[{k}]"));
        }
    }
}
