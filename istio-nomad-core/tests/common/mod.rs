//! Shared helpers of the backend integration tests.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::PathBuf;
use std::time::Duration;

use istio_nomad_core::backend::{ClientOptions, RetryPolicy};
use serde_json::{json, Value};

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

/// `<repo root>/../shared/data`, or `None` after printing why (failing under `CI=true`).
pub fn shared_data() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("..")
        .join("shared")
        .join("data");
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("../shared/data not found at {}", dir.display());
    }
    eprintln!("skipped: ../shared/data not found");
    None
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
