//! A fake Nomad and Consul on local HTTP servers: the HTTP API of both (paths, query
//! parameters, JSON and plain-text bodies, status codes, `X-Nomad-Index` / `X-Consul-Index`)
//! in front of the in-memory cluster of istio-nomad-core ([`InMemoryCluster`]), whose
//! behaviours follow the servers' source code (listed with their sources in
//! `tests/FAKES.md`). The HTTP layer adds what the servers' HTTP handlers do:
//!
//! * `?namespace=` wins over the job's `Namespace`, which wins over `default`
//!   (hashicorp/nomad `command/agent/job_endpoint.go` `namespaceForJob`);
//! * `X-Nomad-Index` is sent as the server computed it, 0 included (`command/agent/http.go`
//!   `setIndex`); `X-Consul-Index` never 0 (hashicorp/consul `agent/http.go` `setIndex`);
//! * a malformed `index` or `wait` is a 400 (`parseWait` in both);
//! * errors are plain text with the server's status (`errCodeFromHandler`, `wrap`);
//! * a Consul transaction that rolled back answers 409 with its errors
//!   (`agent/txn_endpoint.go` `Txn`).
//!
//! Every answer waits `latency` first. It is a fake of the HTTP API, not Nomad or Consul: it
//! runs no tasks and answers from the in-memory servers.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use istio_nomad_core::backend::consul::{
    ServiceRegistration, SessionBehavior, SessionRequest, TxnOp,
};
use istio_nomad_core::backend::nomad::RegisterRequest;
use istio_nomad_core::backend::{BackendError, Consul, Nomad, QueryOptions};
use istio_nomad_core::install::{ClusterNomad, InMemoryCluster};
use serde_json::{json, Value};
use tokio::net::TcpListener;

/// One request received: (method, path, query, body).
pub type Received = (String, String, String, Vec<u8>);

/// A local HTTP server of the fake cluster.
pub struct FakeServer {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl FakeServer {
    /// `http://127.0.0.1:<port>`.
    pub fn uri(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Fake Nomad and Consul servers in front of one in-memory cluster.
pub struct MockCluster {
    /// The fake Nomad (`/v1/jobs`, `/v1/job/...`, `/v1/evaluation/...`, `/v1/nodes`,
    /// `/v1/node/...`).
    pub nomad: FakeServer,
    /// The fake Consul (agent services, catalog, health, KV, sessions, txn).
    pub consul: FakeServer,
    /// The in-memory cluster answering behind both.
    pub cluster: InMemoryCluster,
    log: Arc<Mutex<Vec<Received>>>,
}

type Answer = Response<Full<Bytes>>;

fn answer(status: u16, headers: &[(&str, String)], body: Vec<u8>) -> Answer {
    let mut b = Response::builder().status(StatusCode::from_u16(status).unwrap_or(StatusCode::OK));
    for (k, v) in headers {
        b = b.header(*k, v.as_str());
    }
    b.body(Full::new(Bytes::from(body)))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

fn plain(status: u16, text: &str) -> Answer {
    answer(
        status,
        &[("Content-Type", "text/plain; charset=utf-8".into())],
        text.as_bytes().to_vec(),
    )
}

fn json_answer(status: u16, value: &Value, index: Option<(&'static str, u64)>) -> Answer {
    let mut headers = vec![("Content-Type", "application/json".to_owned())];
    if let Some((h, i)) = index {
        headers.push((h, i.to_string()));
    }
    answer(status, &headers, value.to_string().into_bytes())
}

/// The answer a server gives for a failed call.
fn failure(e: &BackendError) -> Answer {
    match e {
        BackendError::Http {
            status, message, ..
        }
        | BackendError::NotFound {
            status, message, ..
        } => plain(*status, message),
        BackendError::Conflict {
            status, message, ..
        } => plain(status.unwrap_or(500), message),
        other => plain(500, &other.to_string()),
    }
}

/// Parses a Go duration (`300000ms`, `5s`, `1m30s`, `1.5s`), as `time.ParseDuration` does for
/// the units the clients send.
pub fn parse_go_duration(s: &str) -> Option<Duration> {
    if s == "0" {
        return Some(Duration::ZERO);
    }
    let mut total = 0f64;
    let mut rest = s;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return None;
        }
        let n: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += n * scale;
    }
    Some(Duration::from_secs_f64(total))
}

fn query_map(query: &str) -> BTreeMap<String, String> {
    url_pairs(query).into_iter().collect()
}

fn url_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|s| !s.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                    }
                    Err(_) => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `?index=&wait=&stale` as the servers parse them (`parseWait`, `parseConsistency`).
fn query_options(q: &BTreeMap<String, String>) -> Result<QueryOptions, &'static str> {
    let mut o = QueryOptions::new();
    if let Some(w) = q.get("wait").filter(|w| !w.is_empty()) {
        o.wait = Some(parse_go_duration(w).ok_or("Invalid wait time")?);
    }
    if let Some(i) = q.get("index").filter(|i| !i.is_empty()) {
        o.index = Some(i.parse().map_err(|_| "Invalid index")?);
    }
    o.stale = q.contains_key("stale");
    Ok(o)
}

struct Fake {
    cluster: InMemoryCluster,
    latency: Duration,
    log: Arc<Mutex<Vec<Received>>>,
}

impl Fake {
    /// The Nomad handle for a request: `?namespace=` when given, else `fallback` (the job's
    /// own namespace for a register), else `default`.
    fn nomad(&self, q: &BTreeMap<String, String>, fallback: Option<&str>) -> ClusterNomad {
        let ns = q
            .get("namespace")
            .filter(|n| !n.is_empty())
            .map(String::as_str)
            .or(fallback.filter(|n| !n.is_empty()))
            .unwrap_or("default");
        self.cluster.nomad_in(ns)
    }

    async fn nomad_answer(
        &self,
        method: &Method,
        path: &str,
        q: &BTreeMap<String, String>,
        body: &[u8],
    ) -> Answer {
        let segments: Vec<String> = path
            .trim_start_matches("/v1/")
            .split('/')
            .map(percent_decode)
            .collect();
        let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
        let opts = match query_options(q) {
            Ok(o) => o,
            Err(m) => return plain(400, m),
        };
        let indexed = |v: Value, i: u64| json_answer(200, &v, Some(("X-Nomad-Index", i)));
        let body_json = || serde_json::from_slice::<Value>(body).unwrap_or(Value::Null);
        match (method.as_str(), segs.as_slice()) {
            ("POST" | "PUT", ["jobs"]) | ("POST" | "PUT", ["job", _]) => {
                let b = body_json();
                let job = b.get("Job").cloned().unwrap_or(Value::Null);
                if job.is_null() {
                    return plain(400, "Job must be specified");
                }
                let Some(id) = job.get("ID").and_then(Value::as_str) else {
                    return plain(400, "Job ID hasn't been provided");
                };
                if let ["job", path_id] = segs.as_slice() {
                    if *path_id != id {
                        return plain(400, "Job ID does not match name");
                    }
                }
                let n = self.nomad(q, job.get("Namespace").and_then(Value::as_str));
                let mut req = RegisterRequest::new(job.clone());
                if b.get("EnforceIndex").and_then(Value::as_bool) == Some(true) {
                    req = req.enforce_index(
                        b.get("JobModifyIndex").and_then(Value::as_u64).unwrap_or(0),
                    );
                }
                if b.get("PreserveCounts").and_then(Value::as_bool) == Some(true) {
                    req = req.preserve_counts(true);
                }
                match n.register_job(&req).await {
                    Ok(r) => {
                        let index = if r.eval_create_index > 0 {
                            r.eval_create_index
                        } else {
                            r.job_modify_index
                        };
                        indexed(
                            json!({
                                "EvalID": r.eval_id, "EvalCreateIndex": r.eval_create_index,
                                "JobModifyIndex": r.job_modify_index, "Warnings": r.warnings,
                                "Index": index, "LastContact": 0, "KnownLeader": false
                            }),
                            index,
                        )
                    }
                    Err(e) => failure(&e),
                }
            }
            ("POST" | "PUT", ["job", id, "plan"]) => {
                let b = body_json();
                let job = b.get("Job").cloned().unwrap_or(Value::Null);
                if job.get("ID").and_then(Value::as_str) != Some(*id) {
                    return plain(400, "Job ID does not match");
                }
                let diff = b.get("Diff").and_then(Value::as_bool).unwrap_or(false);
                let n = self.nomad(q, job.get("Namespace").and_then(Value::as_str));
                match n.plan_job(&job, diff).await {
                    Ok(p) => {
                        let index = p.job_modify_index;
                        indexed(serde_json::to_value(&p).unwrap_or(Value::Null), index)
                    }
                    Err(e) => failure(&e),
                }
            }
            ("POST" | "PUT", ["validate", "job"]) => {
                let job = body_json().get("Job").cloned().unwrap_or(Value::Null);
                match self.nomad(q, None).validate_job(&job).await {
                    Ok(v) => {
                        json_answer(200, &serde_json::to_value(&v).unwrap_or(Value::Null), None)
                    }
                    Err(e) => failure(&e),
                }
            }
            ("GET", ["job", id]) => match self.nomad(q, None).read_job(id, &opts).await {
                Ok(i) => indexed(i.value, i.index),
                Err(e) => failure(&e),
            },
            ("DELETE", ["job", id]) => {
                let purge = q.get("purge").is_some_and(|p| p == "true");
                match self.nomad(q, None).deregister_job(id, purge).await {
                    Ok(r) => indexed(
                        json!({"EvalID": r.eval_id, "EvalCreateIndex": r.eval_create_index,
                               "JobModifyIndex": r.job_modify_index, "VolumeEvalID": "",
                               "VolumeEvalIndex": 0, "Index": r.job_modify_index,
                               "LastContact": 0, "KnownLeader": false}),
                        r.job_modify_index,
                    ),
                    Err(e) => failure(&e),
                }
            }
            ("GET", ["job", id, "versions"]) => {
                let diffs = q.get("diffs").is_some_and(|d| d == "true");
                match self.nomad(q, None).job_versions(id, diffs).await {
                    Ok(i) => indexed(
                        serde_json::to_value(&i.value).unwrap_or(Value::Null),
                        i.index,
                    ),
                    Err(e) => failure(&e),
                }
            }
            ("GET", ["job", id, "allocations"]) => {
                let all = q.get("all").is_some_and(|a| a == "true");
                match self.nomad(q, None).job_allocations(id, all, &opts).await {
                    Ok(i) => indexed(
                        serde_json::to_value(&i.value).unwrap_or(Value::Null),
                        i.index,
                    ),
                    Err(e) => failure(&e),
                }
            }
            ("GET", ["job", id, "deployments"]) => {
                match self.nomad(q, None).job_deployments(id, &opts).await {
                    Ok(i) => indexed(
                        serde_json::to_value(&i.value).unwrap_or(Value::Null),
                        i.index,
                    ),
                    Err(e) => failure(&e),
                }
            }
            ("GET", ["job", id, "deployment"]) => {
                match self.nomad(q, None).latest_deployment(id, &opts).await {
                    Ok(i) => indexed(
                        serde_json::to_value(&i.value).unwrap_or(Value::Null),
                        i.index,
                    ),
                    Err(e) => failure(&e),
                }
            }
            ("GET", ["job", id, "evaluations"]) => {
                match self.nomad(q, None).job_evaluations(id, &opts).await {
                    Ok(i) => indexed(
                        serde_json::to_value(&i.value).unwrap_or(Value::Null),
                        i.index,
                    ),
                    Err(e) => failure(&e),
                }
            }
            ("GET", ["evaluation", id]) => match self.nomad(q, None).evaluation(id, &opts).await {
                Ok(i) => indexed(
                    serde_json::to_value(&i.value).unwrap_or(Value::Null),
                    i.index,
                ),
                Err(e) => failure(&e),
            },
            ("GET", ["nodes"]) => match self.nomad(q, None).list_nodes(&opts).await {
                Ok(i) => indexed(
                    serde_json::to_value(&i.value).unwrap_or(Value::Null),
                    i.index,
                ),
                Err(e) => failure(&e),
            },
            ("GET", ["node", id]) => match self.nomad(q, None).read_node(id, &opts).await {
                Ok(i) => indexed(
                    serde_json::to_value(&i.value).unwrap_or(Value::Null),
                    i.index,
                ),
                Err(e) => failure(&e),
            },
            _ => plain(404, &format!("Invalid URL: {method} {path}")),
        }
    }

    async fn consul_answer(
        &self,
        method: &Method,
        path: &str,
        q: &BTreeMap<String, String>,
        body: &[u8],
    ) -> Answer {
        let c = &self.cluster.consul;
        let opts = match query_options(q) {
            Ok(o) => o,
            Err(m) => return plain(400, m),
        };
        let indexed = |v: Value, i: u64| json_answer(200, &v, Some(("X-Consul-Index", i.max(1))));
        let flag = |ok: bool| json_answer(200, &json!(ok), None);
        let rest = |prefix: &str| path.strip_prefix(prefix).map(percent_decode);
        let m = method.as_str();
        if m == "PUT" && path == "/v1/agent/service/register" {
            let reg: ServiceRegistration = match serde_json::from_slice(body) {
                Ok(r) => r,
                Err(e) => return plain(400, &format!("Request decode failed: {e}")),
            };
            let replace = q.contains_key("replace-existing-checks");
            return match c.register_service(&reg, replace).await {
                Ok(()) => answer(200, &[], Vec::new()),
                Err(e) => failure(&e),
            };
        }
        if let (Some(id), "PUT") = (rest("/v1/agent/service/deregister/"), m) {
            return match c.deregister_service(&id).await {
                Ok(()) => answer(200, &[], Vec::new()),
                Err(e) => failure(&e),
            };
        }
        if let (Some(name), "GET") = (rest("/v1/catalog/service/"), m) {
            return match c.catalog_service(&name, &opts).await {
                Ok(i) => indexed(
                    serde_json::to_value(&i.value).unwrap_or(Value::Null),
                    i.index,
                ),
                Err(e) => failure(&e),
            };
        }
        if let (Some(name), "GET") = (rest("/v1/health/service/"), m) {
            let passing = q.contains_key("passing");
            return match c.health_service(&name, passing, &opts).await {
                Ok(i) => indexed(
                    serde_json::to_value(&i.value).unwrap_or(Value::Null),
                    i.index,
                ),
                Err(e) => failure(&e),
            };
        }
        if let Some(key) = rest("/v1/kv/") {
            return self.kv(m, &key, q, &opts, body).await;
        }
        if m == "PUT" && path == "/v1/session/create" {
            let v: Value = if body.is_empty() {
                json!({})
            } else {
                match serde_json::from_slice(body) {
                    Ok(v) => v,
                    Err(e) => return plain(400, &format!("Request decode failed: {e}")),
                }
            };
            let field = |k: &str| {
                v.as_object().and_then(|o| {
                    o.iter()
                        .find(|(key, _)| key.eq_ignore_ascii_case(k))
                        .map(|(_, v)| v.clone())
                })
            };
            let mut req = SessionRequest::new(
                field("Name")
                    .and_then(|n| n.as_str().map(str::to_owned))
                    .unwrap_or_default(),
            );
            if let Some(t) = field("TTL")
                .and_then(|t| t.as_str().map(str::to_owned))
                .filter(|t| !t.is_empty())
            {
                match parse_go_duration(&t) {
                    Some(d) => req = req.ttl(d),
                    None => return plain(500, &format!("Session TTL '{t}' invalid")),
                }
            }
            // FixupLockDelay: a string is a Go duration, a number nanoseconds; under 1000
            // (ns) the value means seconds (hashicorp/consul agent/session_endpoint.go).
            match field("LockDelay") {
                Some(Value::String(s)) => match parse_go_duration(&s) {
                    Some(d) if d < Duration::from_nanos(1000) => {
                        req = req.lock_delay(Duration::from_secs(d.as_nanos() as u64))
                    }
                    Some(d) => req = req.lock_delay(d),
                    None => {
                        return plain(
                            400,
                            &format!("Request decode failed: invalid LockDelay {s:?}"),
                        )
                    }
                },
                Some(Value::Number(n)) => {
                    let ns = n.as_u64().unwrap_or(0);
                    req = req.lock_delay(if ns < 1000 {
                        Duration::from_secs(ns)
                    } else {
                        Duration::from_nanos(ns)
                    });
                }
                _ => {}
            }
            match field("Behavior")
                .and_then(|b| b.as_str().map(str::to_owned))
                .as_deref()
            {
                None | Some("") | Some("release") => {}
                Some("delete") => req = req.behavior(SessionBehavior::Delete),
                Some(other) => return plain(500, &format!("Invalid Behavior setting '{other}'")),
            }
            return match c.session_create(&req).await {
                Ok(id) => json_answer(200, &json!({"ID": id}), None),
                Err(e) => failure(&e),
            };
        }
        if let (Some(id), "PUT") = (rest("/v1/session/renew/"), m) {
            return match c.session_renew(&id).await {
                Ok(Some(s)) => json_answer(200, &json!([s]), None),
                Ok(None) => plain(404, &format!("Session id '{id}' not found")),
                Err(e) => failure(&e),
            };
        }
        if let (Some(id), "PUT") = (rest("/v1/session/destroy/"), m) {
            return match c.session_destroy(&id).await {
                Ok(()) => flag(true),
                Err(e) => failure(&e),
            };
        }
        if let (Some(id), "GET") = (rest("/v1/session/info/"), m) {
            return match c.session_info(&id, &opts).await {
                Ok(i) => indexed(json!(i.value.into_iter().collect::<Vec<_>>()), i.index),
                Err(e) => failure(&e),
            };
        }
        if m == "PUT" && path == "/v1/txn" {
            return self.txn(body).await;
        }
        plain(404, &format!("Invalid URL: {method} {path}"))
    }

    async fn kv(
        &self,
        m: &str,
        key: &str,
        q: &BTreeMap<String, String>,
        opts: &QueryOptions,
        body: &[u8],
    ) -> Answer {
        let c = &self.cluster.consul;
        let flag = |ok: bool| json_answer(200, &json!(ok), None);
        let cas = match q.get("cas").map(|v| v.parse::<u64>()) {
            None => None,
            Some(Ok(v)) => Some(v),
            Some(Err(_)) => return plain(400, "Invalid CAS index"),
        };
        match m {
            "GET" => {
                let recurse = q.contains_key("recurse") || q.contains_key("keys");
                let r = if recurse {
                    c.kv_list(key, opts).await.map(|i| (i.index, i.value))
                } else {
                    c.kv_get(key, opts)
                        .await
                        .map(|i| (i.index, i.value.into_iter().collect()))
                };
                match r {
                    Ok((index, pairs)) if pairs.is_empty() => answer(
                        404,
                        &[("X-Consul-Index", index.max(1).to_string())],
                        Vec::new(),
                    ),
                    Ok((index, pairs)) => json_answer(
                        200,
                        &serde_json::to_value(&pairs).unwrap_or(Value::Null),
                        Some(("X-Consul-Index", index.max(1))),
                    ),
                    Err(e) => failure(&e),
                }
            }
            "PUT" => {
                let r = if let Some(s) = q.get("acquire") {
                    c.kv_acquire(key, body, s).await
                } else if let Some(s) = q.get("release") {
                    c.kv_release(key, body, s).await
                } else {
                    c.kv_put(key, body, cas).await
                };
                match r {
                    Ok(ok) => flag(ok),
                    Err(e) => failure(&e),
                }
            }
            "DELETE" => match c.kv_delete(key, cas).await {
                Ok(ok) => flag(ok),
                Err(e) => failure(&e),
            },
            _ => plain(405, "Method not allowed"),
        }
    }

    async fn txn(&self, body: &[u8]) -> Answer {
        let raw: Vec<Value> = match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => return plain(400, &format!("Failed to parse body: {e}")),
        };
        if raw.len() > 64 {
            return plain(
                413,
                &format!(
                    "Transaction contains too many operations ({} > 64)",
                    raw.len()
                ),
            );
        }
        let mut ops = Vec::new();
        for op in &raw {
            let kv = &op["KV"];
            let key = kv["Key"].as_str().unwrap_or_default().to_owned();
            let value = match kv["Value"].as_str() {
                None => Vec::new(),
                Some(s) => match base64::engine::general_purpose::STANDARD.decode(s) {
                    Ok(v) => v,
                    Err(e) => {
                        return plain(
                            400,
                            &format!("Failed to parse body: failed to decode value: {e}"),
                        )
                    }
                },
            };
            let index = kv["Index"].as_u64().unwrap_or(0);
            let session = kv["Session"].as_str().unwrap_or_default().to_owned();
            ops.push(match kv["Verb"].as_str().unwrap_or_default() {
                "set" => TxnOp::Set { key, value },
                "cas" => TxnOp::Cas { key, value, index },
                "lock" => TxnOp::Lock {
                    key,
                    value,
                    session,
                },
                "unlock" => TxnOp::Unlock {
                    key,
                    value,
                    session,
                },
                "get" => TxnOp::Get { key },
                "get-tree" => TxnOp::GetTree { prefix: key },
                "check-index" => TxnOp::CheckIndex { key, index },
                "check-session" => TxnOp::CheckSession { key, session },
                "check-not-exists" => TxnOp::CheckNotExists { key },
                "delete" => TxnOp::Delete { key },
                "delete-cas" => TxnOp::DeleteCas { key, index },
                other => {
                    return plain(
                        400,
                        &format!("Failed to parse body: unknown KV verb {other:?}"),
                    )
                }
            });
        }
        match self.cluster.consul.txn(&ops).await {
            Ok(r) if r.succeeded() => {
                let results: Vec<Value> = r.results.iter().map(|p| json!({"KV": p})).collect();
                json_answer(200, &json!({"Results": results, "Errors": null}), None)
            }
            Ok(r) => json_answer(409, &json!({"Results": null, "Errors": r.errors}), None),
            Err(e) => failure(&e),
        }
    }
}

async fn serve(fake: Arc<Fake>, nomad: bool) -> std::io::Result<FakeServer> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let fake = fake.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: Request<Incoming>| {
                    let fake = fake.clone();
                    async move {
                        let (parts, body) = req.into_parts();
                        let body = body
                            .collect()
                            .await
                            .map(|b| b.to_bytes().to_vec())
                            .unwrap_or_default();
                        let path = parts.uri.path().to_owned();
                        let query = parts.uri.query().unwrap_or_default().to_owned();
                        if let Ok(mut l) = fake.log.lock() {
                            l.push((
                                parts.method.to_string(),
                                path.clone(),
                                query.clone(),
                                body.clone(),
                            ));
                        }
                        let q = query_map(&query);
                        if !fake.latency.is_zero() {
                            tokio::time::sleep(fake.latency).await;
                        }
                        let a = if nomad {
                            fake.nomad_answer(&parts.method, &path, &q, &body).await
                        } else {
                            fake.consul_answer(&parts.method, &path, &q, &body).await
                        };
                        Ok::<_, Infallible>(a)
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(FakeServer { addr, task })
}

impl MockCluster {
    /// Starts both servers over a fresh in-memory cluster; every answer waits `latency`
    /// first.
    pub async fn start(latency: Duration) -> Self {
        Self::start_with(InMemoryCluster::new(), latency).await
    }

    /// Starts both servers over `cluster`.
    pub async fn start_with(cluster: InMemoryCluster, latency: Duration) -> Self {
        let log = Arc::new(Mutex::new(Vec::new()));
        let fake = Arc::new(Fake {
            cluster: cluster.clone(),
            latency,
            log: log.clone(),
        });
        let nomad = serve(fake.clone(), true)
            .await
            .unwrap_or_else(|e| panic!("cannot listen on loopback: {e}"));
        let consul = serve(fake, false)
            .await
            .unwrap_or_else(|e| panic!("cannot listen on loopback: {e}"));
        MockCluster {
            nomad,
            consul,
            cluster,
            log,
        }
    }

    /// IDs of the registered jobs (namespace `default`) with their version and
    /// `JobModifyIndex`.
    pub async fn jobs(&self) -> BTreeMap<String, (u64, u64)> {
        let n = self.cluster.nomad_in("default");
        let mut out = BTreeMap::new();
        for id in self.cluster.nomad.in_namespace("default").job_ids() {
            if let Ok(j) = n.read_job(&id, &QueryOptions::new()).await {
                let int = |k: &str| j.value.get(k).and_then(Value::as_u64).unwrap_or(0);
                out.insert(id, (int("Version"), int("JobModifyIndex")));
            }
        }
        out
    }

    /// Every request both servers received, in order: (method, path, query, body).
    pub fn requests(&self) -> Vec<Received> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(
            parse_go_duration("300000ms"),
            Some(Duration::from_secs(300))
        );
        assert_eq!(parse_go_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_go_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_go_duration("0"), Some(Duration::ZERO));
        assert_eq!(parse_go_duration("soon"), None);
        assert_eq!(parse_go_duration(""), None);
        assert_eq!(percent_decode("a%2Fb%20c"), "a/b c");
    }
}
