//! A mock Nomad and Consul on local HTTP servers (wiremock) that answer like the real ones
//! for the calls an apply makes: register with `EnforceIndex`, plan with diff, read,
//! deregister, allocations, the latest deployment (successful once registered) and Consul
//! health (every placed instance passing), with `X-Nomad-Index` / `X-Consul-Index` headers
//! and plain-text errors. An optional latency is added to every answer.
//!
//! This is a mock, not Nomad: it only keeps jobs, their versions and modify indexes.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

#[derive(Debug, Clone)]
struct StoredJob {
    job: Value,
    version: u64,
    job_modify_index: u64,
    /// Deployment reads since the last change.
    deployment_reads: u32,
}

#[derive(Debug, Default)]
struct State {
    index: u64,
    jobs: BTreeMap<String, StoredJob>,
    /// Deployment reads answered `running` before `successful`.
    running_reads: u32,
}

/// Mock Nomad and Consul servers sharing one job table.
pub struct MockCluster {
    /// The mock Nomad (`/v1/jobs`, `/v1/job/...`).
    pub nomad: MockServer,
    /// The mock Consul (`/v1/health/service/...`).
    pub consul: MockServer,
    state: Arc<Mutex<State>>,
}

fn plain(status: u16, text: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .insert_header("Content-Type", "text/plain; charset=utf-8")
        .set_body_string(text)
}

fn json_at(body: Value, header: &str, index: u64) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header(header, index.to_string().as_str())
        .set_body_json(body)
}

fn groups(job: &Value) -> Vec<(String, u64, Vec<String>)> {
    job["TaskGroups"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|g| {
            let services = g["Services"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s["Name"].as_str().map(str::to_owned))
                .collect();
            (
                g["Name"].as_str().unwrap_or_default().to_owned(),
                g["Count"].as_u64().unwrap_or(1),
                services,
            )
        })
        .collect()
}

struct NomadResponder {
    state: Arc<Mutex<State>>,
    latency: Duration,
}

impl NomadResponder {
    fn answer(&self, req: &Request) -> ResponseTemplate {
        let mut st = match self.state.lock() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        };
        let path = req.url.path().to_owned();
        let method = req.method.as_str().to_owned();
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        let segments: Vec<&str> = path.trim_start_matches("/v1/").split('/').collect();
        match (method.as_str(), segments.as_slice()) {
            ("POST" | "PUT", ["jobs"]) => {
                let job = body["Job"].clone();
                let Some(id) = job["ID"].as_str().map(str::to_owned) else {
                    return plain(400, "Job ID does not match");
                };
                let existing = st.jobs.get(&id).cloned();
                if body["EnforceIndex"].as_bool() == Some(true) {
                    let want = body["JobModifyIndex"].as_u64().unwrap_or(0);
                    let have = existing.as_ref().map_or(0, |j| j.job_modify_index);
                    if want != have {
                        return plain(
                            500,
                            &format!("Enforcing job modify index {want}: job exists with conflicting job modify index: {have}"),
                        );
                    }
                }
                st.index += 1;
                let index = st.index;
                let (version, jmi, reads) = match &existing {
                    Some(e) if e.job == job => (e.version, e.job_modify_index, e.deployment_reads),
                    Some(e) => (e.version + 1, index, 0),
                    None => (0, index, 0),
                };
                st.jobs.insert(
                    id,
                    StoredJob {
                        job,
                        version,
                        job_modify_index: jmi,
                        deployment_reads: reads,
                    },
                );
                ResponseTemplate::new(200).set_body_json(json!({
                    "EvalID": format!("00000000-0000-4000-8000-{index:012}"),
                    "EvalCreateIndex": index,
                    "JobModifyIndex": jmi,
                    "Warnings": "",
                    "Index": index, "LastContact": 0, "KnownLeader": false
                }))
            }
            ("POST" | "PUT", ["job", id, "plan"]) => {
                let job = &body["Job"];
                let existing = st.jobs.get(*id);
                let kind = match existing {
                    None => "Added",
                    Some(e) if &e.job == job => "None",
                    Some(_) => "Edited",
                };
                let updates: serde_json::Map<String, Value> = groups(job)
                    .into_iter()
                    .map(|(g, n, _)| {
                        let u = match kind {
                            "Added" => json!({"Place": n}),
                            "None" => json!({"Ignore": n}),
                            _ => json!({"DestructiveUpdate": n}),
                        };
                        (g, u)
                    })
                    .collect();
                ResponseTemplate::new(200).set_body_json(json!({
                    "JobModifyIndex": existing.map_or(0, |e| e.job_modify_index),
                    "CreatedEvals": null,
                    "Diff": {"Type": kind, "ID": id, "Fields": null, "Objects": null, "TaskGroups": null},
                    "Annotations": {"DesiredTGUpdates": updates, "PreemptedAllocs": null},
                    "FailedTGAllocs": null,
                    "NextPeriodicLaunch": "0001-01-01T00:00:00Z",
                    "Warnings": ""
                }))
            }
            ("GET", ["job", id]) => match st.jobs.get(*id) {
                None => plain(404, "job not found"),
                Some(e) => {
                    let mut j = e.job.clone();
                    j["Version"] = json!(e.version);
                    j["JobModifyIndex"] = json!(e.job_modify_index);
                    j["ModifyIndex"] = json!(e.job_modify_index);
                    j["Status"] = json!("running");
                    json_at(j, "X-Nomad-Index", e.job_modify_index)
                }
            },
            ("DELETE", ["job", id]) => {
                st.index += 1;
                st.jobs.remove(*id);
                ResponseTemplate::new(200).set_body_json(json!({
                    "EvalID": "", "EvalCreateIndex": 0, "JobModifyIndex": st.index
                }))
            }
            ("GET", ["job", id, "deployment"]) => {
                let index = st.index.max(1);
                let running_reads = st.running_reads;
                match st.jobs.get_mut(*id) {
                    None => json_at(Value::Null, "X-Nomad-Index", index),
                    Some(e) => {
                        e.deployment_reads += 1;
                        let running = e.deployment_reads <= running_reads;
                        let (status, healthy_index) = if running {
                            ("running", index)
                        } else {
                            ("successful", index + 1)
                        };
                        let tgs: serde_json::Map<String, Value> = groups(&e.job)
                            .into_iter()
                            .map(|(g, n, _)| {
                                let healthy = if running { 0 } else { n };
                                (g, json!({"DesiredTotal": n, "PlacedAllocs": n, "HealthyAllocs": healthy, "UnhealthyAllocs": 0}))
                            })
                            .collect();
                        json_at(
                            json!({
                                "ID": format!("d0000000-0000-4000-8000-{:012}", e.job_modify_index),
                                "Namespace": "default",
                                "JobID": id,
                                "JobVersion": e.version,
                                "JobModifyIndex": e.job_modify_index,
                                "Status": status,
                                "StatusDescription": if running { "Deployment is running" } else { "Deployment completed successfully" },
                                "TaskGroups": tgs,
                                "CreateIndex": e.job_modify_index,
                                "ModifyIndex": e.job_modify_index + 1
                            }),
                            "X-Nomad-Index",
                            healthy_index,
                        )
                    }
                }
            }
            ("GET", ["job", id, "allocations"]) => {
                let index = st.index.max(1);
                let allocs: Vec<Value> = st
                    .jobs
                    .get(*id)
                    .map(|e| {
                        groups(&e.job)
                            .into_iter()
                            .flat_map(|(g, n, _)| {
                                (0..n).map(move |i| {
                                    json!({
                                        "ID": format!("a-{id}-{g}-{i}"), "Name": format!("{id}.{g}[{i}]"),
                                        "NodeID": format!("node-{i}"), "NodeName": format!("client-{i}"),
                                        "JobID": id, "JobVersion": e.version, "TaskGroup": g,
                                        "DesiredStatus": "run", "ClientStatus": "running"
                                    })
                                })
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                json_at(Value::Array(allocs), "X-Nomad-Index", index)
            }
            _ => plain(404, &format!("no such endpoint: {method} {path}")),
        }
    }
}

impl Respond for NomadResponder {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        self.answer(req).set_delay(self.latency)
    }
}

struct ConsulResponder {
    state: Arc<Mutex<State>>,
    latency: Duration,
}

impl Respond for ConsulResponder {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let st = match self.state.lock() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        };
        let path = req.url.path();
        let answer = match path.strip_prefix("/v1/health/service/") {
            Some(name) if req.method.as_str() == "GET" => {
                let mut entries = Vec::new();
                for (id, e) in &st.jobs {
                    for (g, n, services) in groups(&e.job) {
                        if !services.iter().any(|s| s == name) {
                            continue;
                        }
                        for i in 0..n {
                            let sid = format!("_nomad-task-a-{id}-{g}-{i}-{name}");
                            entries.push(json!({
                                "Node": {"ID": format!("node-{i}"), "Node": format!("client-{i}"), "Address": "10.0.0.1", "Datacenter": "dc1"},
                                "Service": {"ID": sid, "Service": name, "Tags": [], "Address": "10.0.0.1", "Port": 20000 + i, "Meta": {}},
                                "Checks": [
                                    {"Node": format!("client-{i}"), "CheckID": "serfHealth", "Name": "Serf Health Status", "Status": "passing", "ServiceID": "", "ServiceName": ""},
                                    {"Node": format!("client-{i}"), "CheckID": format!("{sid}-check"), "Name": "check", "Status": "passing", "ServiceID": sid, "ServiceName": name}
                                ]
                            }));
                        }
                    }
                }
                json_at(Value::Array(entries), "X-Consul-Index", st.index.max(1))
            }
            _ => plain(404, &format!("no such endpoint: {path}")),
        };
        answer.set_delay(self.latency)
    }
}

impl MockCluster {
    /// Starts both servers; every answer waits `latency` first. After each change of a
    /// job, its first `running_reads` deployment reads answer `running`, the next ones
    /// `successful` (with a higher `X-Nomad-Index`).
    pub async fn start(latency: Duration, running_reads: u32) -> Self {
        let state = Arc::new(Mutex::new(State {
            index: 1,
            running_reads,
            ..State::default()
        }));
        let nomad = MockServer::start().await;
        Mock::given(any())
            .respond_with(NomadResponder {
                state: state.clone(),
                latency,
            })
            .mount(&nomad)
            .await;
        let consul = MockServer::start().await;
        Mock::given(any())
            .respond_with(ConsulResponder {
                state: state.clone(),
                latency,
            })
            .mount(&consul)
            .await;
        MockCluster {
            nomad,
            consul,
            state,
        }
    }

    /// IDs of the registered jobs with their version and modify index.
    pub fn jobs(&self) -> BTreeMap<String, (u64, u64)> {
        self.state
            .lock()
            .map(|s| {
                s.jobs
                    .iter()
                    .map(|(k, v)| (k.clone(), (v.version, v.job_modify_index)))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every request both servers received: (method, path, query, body).
    pub async fn requests(&self) -> Vec<(String, String, String, Vec<u8>)> {
        let mut out = Vec::new();
        for server in [&self.nomad, &self.consul] {
            for r in server.received_requests().await.unwrap_or_default() {
                out.push((
                    r.method.as_str().to_owned(),
                    r.url.path().to_owned(),
                    r.url.query().unwrap_or_default().to_owned(),
                    r.body.clone(),
                ));
            }
        }
        out
    }
}
