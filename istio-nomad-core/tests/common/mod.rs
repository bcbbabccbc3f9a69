//! Helpers shared by the integration tests of istio-nomad-core.
#![allow(dead_code, clippy::unwrap_used)]

pub mod scenarios;

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

/// The Nomad OpenAPI schema of `../shared/data`, loaded once per test binary.
pub fn openapi() -> Option<&'static istio_nomad_core::nomad::openapi::OpenApiSchema> {
    use std::sync::OnceLock;
    static SCHEMA: OnceLock<Option<istio_nomad_core::nomad::openapi::OpenApiSchema>> =
        OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            let data = shared_data()?;
            Some(
                istio_nomad_core::nomad::openapi::OpenApiSchema::load(
                    data.join("nomad-openapi-v1.yaml"),
                )
                .unwrap(),
            )
        })
        .as_ref()
}

/// Validates a job body (bare job object) against the `Job` schema of the Nomad OpenAPI
/// description; fails the test with every violation. Skips (with a message) without the data.
pub fn check_job_body_against_openapi(job: &Value) {
    let Some(schema) = openapi() else { return };
    let violations = schema.validate("Job", job);
    assert!(
        violations.is_empty(),
        "job body breaks the Nomad OpenAPI schema:\n{}",
        violations
            .iter()
            .map(|v| format!("  {}: {}", v.path, v.message))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// A one-connection-at-a-time HTTP/1.1 server on a Unix socket: answers every request with
/// `status`, `headers` and `body`, and sends each request's head (request line and
/// headers, lower-cased names) on the returned channel. For testing clients that reach
/// Nomad or Consul through `unix://` addresses.
#[cfg(unix)]
pub fn unix_http_server(
    path: &Path,
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
) -> tokio::sync::mpsc::UnboundedReceiver<String> {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::UnixListener::bind(path).unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (read, mut write) = stream.into_split();
            let mut reader = BufReader::new(read);
            'requests: loop {
                let mut head = String::new();
                let mut length = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                        break 'requests;
                    }
                    if line == "\r\n" {
                        break;
                    }
                    let lower = line.to_ascii_lowercase();
                    if let Some(v) = lower.strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                    head.push_str(&lower);
                }
                let mut req_body = vec![0u8; length];
                reader.read_exact(&mut req_body).await.unwrap();
                let _ = tx.send(head);
                let mut resp = format!("HTTP/1.1 {status} X\r\ncontent-length: {}\r\n", body.len());
                for (k, v) in &headers {
                    resp.push_str(&format!("{k}: {v}\r\n"));
                }
                resp.push_str("\r\n");
                resp.push_str(&body);
                write.write_all(resp.as_bytes()).await.unwrap();
            }
        }
    });
    rx
}
