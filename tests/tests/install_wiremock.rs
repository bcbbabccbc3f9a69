//! A full apply through the HTTP clients against mock Nomad and Consul servers (wiremock,
//! answering like the documented API): every register carries `EnforceIndex` with the
//! index Nomad's plan returned, every job body sent passes the OpenAPI schema hook, the
//! deployment wait is a blocking query (`index`, `wait`), the Consul gate asks for passing
//! instances, and a second apply sends no write. State in the in-memory etcd.
#![allow(clippy::unwrap_used)]

#[path = "../../istio-nomad-core/tests/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::Duration;

use istio_nomad_core::backend::{ConsulConfig, HttpConsul, HttpNomad, MemoryEtcd, NomadConfig};
use istio_nomad_core::install::{ApplyOptions, Backends, Installer};
use istio_nomad_core::plan::plan;
use istio_nomad_core::spec::MeshSpec;
use istio_nomad_tests::mock_cluster::MockCluster;
use serde_json::Value;

fn backends(mock: &MockCluster) -> Backends {
    let nomad = NomadConfig::builder()
        .address(mock.nomad.uri())
        .token("nomad-secret")
        .options(common::fast_options(1))
        .build()
        .unwrap();
    let consul = ConsulConfig::builder()
        .address(mock.consul.uri())
        .options(common::fast_options(1))
        .build()
        .unwrap();
    Backends::new(
        Arc::new(HttpNomad::new(&nomad).unwrap()),
        Arc::new(HttpConsul::new(&consul).unwrap()),
        Arc::new(MemoryEtcd::new()),
    )
}

fn query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|s| !s.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

#[tokio::test]
async fn full_apply_over_http_with_check_and_set_blocking_waits_and_health() {
    let mock = MockCluster::start(Duration::ZERO, 1).await;
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/bookinfo.mesh.hcl"
    ))
    .unwrap();
    let plan = plan(&MeshSpec::from_hcl(&text).unwrap()).unwrap();
    let installer = Installer::new(backends(&mock));
    let o = ApplyOptions::builder()
        .query_wait(Duration::from_secs(30))
        .build()
        .unwrap();
    let report = installer.apply(&plan, &o).await.unwrap();
    assert_eq!(report.created().len(), 10);

    let requests = mock.requests().await;
    // Registers: one per job, with EnforceIndex 0 (new), the planned job as sent.
    let registers: Vec<Value> = requests
        .iter()
        .filter(|(m, p, _, _)| m == "POST" && p == "/v1/jobs")
        .map(|(_, _, _, b)| serde_json::from_slice(b).unwrap())
        .collect();
    assert_eq!(registers.len(), 10);
    for body in &registers {
        assert_eq!(body["EnforceIndex"], Value::Bool(true));
        assert_eq!(body["JobModifyIndex"], 0);
        let id = body["Job"]["ID"].as_str().unwrap();
        assert_eq!(
            body["Job"],
            plan.job(id).unwrap().job.to_json_value().unwrap()
        );
    }
    // Every job body sent (plan and register) against the OpenAPI schema.
    let mut bodies = 0;
    for (_, _, _, b) in &requests {
        if let Ok(v) = serde_json::from_slice::<Value>(b) {
            if let Some(job) = v.get("Job") {
                common::check_job_body_against_openapi(job);
                bodies += 1;
            }
        }
    }
    assert_eq!(bodies, 20, "10 plans + 10 registers");

    // Deployment wait: a plain read, then a blocking query with the index it returned.
    for pj in &plan.jobs {
        let path = format!("/v1/job/{}/deployment", pj.job.id());
        let reads: Vec<Vec<(String, String)>> = requests
            .iter()
            .filter(|(m, p, _, _)| m == "GET" && *p == path)
            .map(|(_, _, q, _)| query(q))
            .collect();
        assert_eq!(reads.len(), 2, "{path}: {reads:?}");
        assert!(!reads[0].iter().any(|(k, _)| k == "index"));
        let index: u64 = reads[1]
            .iter()
            .find(|(k, _)| k == "index")
            .unwrap()
            .1
            .parse()
            .unwrap();
        assert!(index >= 1);
        let wait = &reads[1].iter().find(|(k, _)| k == "wait").unwrap().1;
        assert!(
            wait.ends_with("ms") && wait.trim_end_matches("ms").parse::<u64>().unwrap() <= 30_000,
            "{wait}"
        );
    }
    // Consul health gate: passing instances of every service of every job.
    let health: Vec<&(String, String, String, Vec<u8>)> = requests
        .iter()
        .filter(|(_, p, _, _)| p.starts_with("/v1/health/service/"))
        .collect();
    // (Mixer registers no prometheus service: nothing opens 42422 without a prometheus handler.)
    assert_eq!(health.len(), 12, "one per service");
    for (_, p, q, _) in &health {
        assert!(query(q).iter().any(|(k, _)| k == "passing"), "{p}?{q}");
    }
    assert!(mock.jobs().values().all(|(version, _)| *version == 0));

    // A second apply: plans and deployment reads only.
    let kind = |(m, p, _, _): &(String, String, String, Vec<u8>)| {
        let tail = p.rsplit('/').next().unwrap_or_default();
        let tail = if p.starts_with("/v1/job/")
            && !matches!(tail, "plan" | "deployment" | "allocations")
        {
            "job"
        } else {
            tail
        };
        format!(
            "{m} {}",
            if p.starts_with("/v1/health/") {
                "health"
            } else {
                tail
            }
        )
    };
    let histogram = |rs: &[(String, String, String, Vec<u8>)]| {
        let mut h = std::collections::BTreeMap::<String, usize>::new();
        for r in rs {
            *h.entry(kind(r)).or_default() += 1;
        }
        h
    };
    let before = histogram(&requests);
    let again = installer.apply(&plan, &o).await.unwrap();
    assert_eq!(again.writes.total(), 0);
    let after = histogram(&mock.requests().await);
    let mut new: Vec<(String, usize)> = after
        .iter()
        .map(|(k, n)| (k.clone(), n - before.get(k).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect();
    new.sort();
    assert_eq!(
        new,
        [
            ("GET deployment".to_owned(), 10),
            ("POST plan".to_owned(), 10)
        ]
    );
}
