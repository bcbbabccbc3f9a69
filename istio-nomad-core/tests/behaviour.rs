//! Server behaviour written once against the `Nomad`, `Consul` and `Etcd` traits
//! (`common/scenarios.rs`, plus the checks below), run against the in-memory
//! implementations and, when `NOMAD_ADDR` / `CONSUL_HTTP_ADDR` are set, against a real
//! `nomad agent -dev` / `consul agent -dev` (otherwise the live tests say so and return).
//! The same scenarios run against the HTTP fake in `tests/tests/fakes_contract.rs`.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::scenarios::*;
use common::web_job;
use istio_nomad_core::backend::consul::{check_status, AgentCheck, ServiceRegistration};
use istio_nomad_core::backend::nomad::{deployment_status, NomadVersion, RegisterRequest};
use istio_nomad_core::backend::{
    Consul, HttpConsul, HttpNomad, MemoryConsul, MemoryEtcd, MemoryNomad, Nomad, QueryOptions,
};
use serde_json::json;

async fn nomad_plan_annotations(n: &dyn Nomad) {
    let p = n.plan_job(&web_job("nginx:1.25", 3), true).await.unwrap();
    assert_eq!(p.job_modify_index, 0);
    assert_eq!(p.diff.as_ref().unwrap().kind, "Added");
    assert_eq!(
        p.annotations.as_ref().unwrap().desired_tg_updates["frontend"].place,
        3
    );
    assert!(
        n.read_job("web", &QueryOptions::new())
            .await
            .unwrap_err()
            .is_not_found(),
        "plan changes nothing"
    );

    let r = n
        .register_job(&RegisterRequest::new(web_job("nginx:1.25", 3)))
        .await
        .unwrap();
    let p = n.plan_job(&web_job("nginx:1.25", 3), true).await.unwrap();
    assert_eq!(p.diff.as_ref().unwrap().kind, "None");
    assert_eq!(
        p.annotations.as_ref().unwrap().desired_tg_updates["frontend"].ignore,
        3
    );
    assert_eq!(p.job_modify_index, r.job_modify_index);

    let p = n.plan_job(&web_job("nginx:1.26", 4), true).await.unwrap();
    let u = &p.annotations.as_ref().unwrap().desired_tg_updates["frontend"];
    assert_eq!((u.destructive_update, u.place, u.ignore), (3, 1, 0));
    let g = &p.diff.as_ref().unwrap().task_groups[0];
    assert_eq!(g.updates.get("create/destroy update"), Some(&3));
    assert_eq!(g.updates.get("create"), Some(&1));
}

async fn nomad_validation(n: &dyn Nomad) {
    let bad = json!({"ID": "bad job", "Type": "daemon", "TaskGroups": [{"Name": "g", "Count": 1, "Tasks": []}]});
    let v = n.validate_job(&bad).await.unwrap();
    assert_eq!(
        v.validation_errors,
        vec![
            "Job ID contains a space".to_owned(),
            "Invalid job type: \"daemon\"".to_owned(),
            "Task group g validation failed: Missing tasks for task group".to_owned(),
        ]
    );
    let e = n
        .register_job(&RegisterRequest::new(bad))
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(500));
    assert!(e.to_string().contains("3 errors occurred:"), "{e}");
    assert!(n
        .validate_job(&web_job("nginx", 1))
        .await
        .unwrap()
        .validation_errors
        .is_empty());
}

async fn consul_services_and_health(consul: &MemoryConsul) {
    let c: &dyn Consul = consul;
    let reg = ServiceRegistration::new("istio-pilot")
        .id("pilot-1")
        .address("10.0.0.5", 15010)
        .check(AgentCheck {
            tcp: Some("10.0.0.5:15010".into()),
            interval: Some("10s".into()),
            ..AgentCheck::default()
        });
    c.register_service(&reg, true).await.unwrap();
    let all = c
        .health_service("istio-pilot", false, &QueryOptions::new())
        .await
        .unwrap();
    assert_eq!(all.value.len(), 1);
    assert_eq!(all.value[0].checks[1].check_id, "service:pilot-1");
    assert_eq!(
        all.value[0].checks[1].status,
        check_status::CRITICAL,
        "new checks start critical"
    );
    assert!(c
        .health_service("istio-pilot", true, &QueryOptions::new())
        .await
        .unwrap()
        .value
        .is_empty());

    // A blocking query on passing instances wakes when the check passes.
    let waiter = {
        let consul = consul.clone();
        let index = all.index;
        tokio::spawn(async move {
            consul
                .health_service(
                    "istio-pilot",
                    true,
                    &QueryOptions::blocking(index, Duration::from_secs(10)),
                )
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(consul.set_check_status("service:pilot-1", check_status::PASSING));
    let woke = waiter.await.unwrap().unwrap();
    assert!(woke.index > all.index);
    assert_eq!(woke.value.len(), 1);

    // Registering the same definition again writes nothing.
    let before = consul.index();
    c.register_service(&reg, true).await.unwrap();
    assert_eq!(consul.index(), before);

    let cat = c
        .catalog_service("istio-pilot", &QueryOptions::new())
        .await
        .unwrap();
    assert_eq!(
        (cat.value[0].service_id.as_str(), cat.value[0].service_port),
        ("pilot-1", 15010)
    );
    c.deregister_service("pilot-1").await.unwrap();
    c.deregister_service("pilot-1").await.unwrap();
    assert!(c
        .catalog_service("istio-pilot", &QueryOptions::new())
        .await
        .unwrap()
        .value
        .is_empty());
    let e = c
        .register_service(&ServiceRegistration::new(""), false)
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "consul PUT /v1/agent/service/register: HTTP 400: Missing service name"
    );
}

const MEMORY: Env = Env {
    fresh: true,
    allocs_run: true,
};

#[tokio::test]
async fn memory_nomad_index_zero_and_async_deployment() {
    nomad_index_zero_and_async_deployment(&MemoryNomad::new(), MEMORY, "web").await;
}

#[tokio::test]
async fn memory_nomad_versions_and_check_and_set() {
    nomad_versions_and_check_and_set(&MemoryNomad::new(), MEMORY, "web").await;
}

#[tokio::test]
async fn memory_nomad_no_deployment_cases() {
    nomad_no_deployment_cases(&MemoryNomad::new(), MEMORY, "nd").await;
}

#[tokio::test]
async fn memory_nomad_deregister_unknown() {
    let n = MemoryNomad::new();
    let before = n.index();
    nomad_deregister_unknown(&n, "nope").await;
    assert_eq!(n.index(), before, "nothing written");
}

#[tokio::test]
async fn memory_nomad_update_and_purge() {
    nomad_update_and_purge(&MemoryNomad::new(), MEMORY, "web").await;
}

#[tokio::test]
async fn memory_consul_sessions_and_locks() {
    consul_sessions_and_locks(&MemoryConsul::new(), "mesh", Duration::from_secs(10)).await;
}

#[tokio::test]
async fn memory_consul_txn() {
    consul_txn(&MemoryConsul::new(), "mesh", Duration::from_secs(10)).await;
}

#[tokio::test]
async fn memory_etcd_keepalive_of_unknown_lease() {
    etcd_keepalive_of_unknown_lease(&MemoryEtcd::new()).await;
}

#[tokio::test]
async fn memory_nomad_unchanged_register_answer_depends_on_the_version() {
    for (version, field) in [
        (NomadVersion::V1_11_1, "JobModifyIndex"),
        (NomadVersion::V1_11_3, "ModifyIndex"),
        (NomadVersion::V1_6_9, "JobModifyIndex"),
    ] {
        let n = MemoryNomad::new();
        n.set_version(version);
        let r = n
            .register_job(&RegisterRequest::new(job("web", "nginx", 1)))
            .await
            .unwrap();
        wait_deployment(&n, "web", r.job_modify_index).await;
        let j = n.read_job("web", &QueryOptions::new()).await.unwrap().value;
        assert!(
            j["ModifyIndex"].as_u64() > j["JobModifyIndex"].as_u64(),
            "{version}"
        );
        let again = n
            .register_job(&RegisterRequest::new(job("web", "nginx", 1)))
            .await
            .unwrap();
        assert_eq!(
            Some(again.job_modify_index),
            j[field].as_u64(),
            "Nomad {version} answers the job's {field}"
        );
    }
}

#[tokio::test]
async fn memory_nomad_system_jobs_get_deployments_from_1_11() {
    for (version, deployed) in [(NomadVersion::V1_6_9, false), (NomadVersion::V1_11_3, true)] {
        let n = MemoryNomad::new();
        n.set_version(version);
        let mut j = job("agent", "nginx", 1);
        j["Type"] = json!("system");
        let r = n.register_job(&RegisterRequest::new(j)).await.unwrap();
        let eval = wait_eval(&n, &r.eval_id, r.eval_create_index).await;
        assert_eq!(!eval.deployment_id.is_empty(), deployed, "{version}");
        wait_allocs(&n, "agent", |a| {
            a.len() == 1 && a[0].client_status == "running"
        })
        .await;
    }
}

#[tokio::test]
async fn memory_nomad_namespace_query_wins_over_the_body() {
    let n = MemoryNomad::new();
    let mut j = job("web", "nginx", 1);
    j["Namespace"] = json!("from-body");
    // No ?namespace=: the job's own field decides.
    n.register_job(&RegisterRequest::new(j.clone()))
        .await
        .unwrap();
    assert_eq!(
        n.in_namespace("from-body").job_ids(),
        vec!["web".to_owned()]
    );
    // ?namespace=team-b wins over the body (namespaceForJob).
    let b = n.in_namespace("team-b");
    b.register_job(&RegisterRequest::new(j)).await.unwrap();
    assert_eq!(b.job_ids(), vec!["web".to_owned()]);
    assert_eq!(
        b.read_job("web", &QueryOptions::new()).await.unwrap().value["Namespace"],
        json!("team-b")
    );
    assert!(n.job_ids().is_empty(), "nothing in default");
}

#[tokio::test]
async fn memory_nomad_canaries_await_promotion_and_deployments_pause() {
    let n = MemoryNomad::new();
    let mut j = job("web", "nginx:1", 3);
    j["Update"] = json!({"MaxParallel": 1, "Canary": 1});
    let r = n
        .register_job(&RegisterRequest::new(j.clone()))
        .await
        .unwrap();
    // The first version has nothing to canary: it rolls out.
    assert_eq!(
        wait_deployment(&n, "web", r.job_modify_index).await.status,
        deployment_status::SUCCESSFUL
    );
    j["TaskGroups"][0]["Tasks"][0]["Config"]["image"] = json!("nginx:2");
    let r = n.register_job(&RegisterRequest::new(j)).await.unwrap();
    wait_eval(&n, &r.eval_id, r.eval_create_index).await;
    wait_allocs(&n, "web", |a| {
        a.iter()
            .any(|a| a.job_version == 1 && a.client_status == "running")
    })
    .await;
    let d = n
        .latest_deployment("web", &QueryOptions::new())
        .await
        .unwrap()
        .value
        .unwrap();
    assert_eq!(d.status, deployment_status::RUNNING);
    assert_eq!(
        d.status_description,
        deployment_status::DESCRIPTION_NEEDS_PROMOTION
    );
    assert!(d.requires_promotion());
    let g = &d.task_groups["frontend"];
    assert_eq!(
        (g.desired_canaries, g.healthy_allocs, g.promoted),
        (1, 1, false)
    );
    assert_eq!(g.placed_canaries.len(), 1);
    let allocs = n
        .job_allocations("web", false, &QueryOptions::new())
        .await
        .unwrap()
        .value;
    assert_eq!(
        allocs
            .iter()
            .filter(|a| a.job_version == 0 && a.client_status == "running")
            .count(),
        3,
        "the old version keeps running while the canary waits"
    );
    assert!(n.pause_deployment(&d.id, true));
    let paused = n
        .latest_deployment("web", &QueryOptions::new())
        .await
        .unwrap()
        .value
        .unwrap();
    assert_eq!(
        (paused.status.as_str(), paused.status_description.as_str()),
        (deployment_status::PAUSED, "Deployment is paused")
    );
}

#[tokio::test]
async fn memory_nomad_plan_annotations() {
    nomad_plan_annotations(&MemoryNomad::new()).await;
}

#[tokio::test]
async fn memory_nomad_validation() {
    nomad_validation(&MemoryNomad::new()).await;
}

#[tokio::test]
async fn memory_nomad_failed_deployment_and_namespaces() {
    let n = MemoryNomad::new();
    n.fail_deployments("web");
    let r = n
        .register_job(&RegisterRequest::new(web_job("nginx:broken", 1)))
        .await
        .unwrap();
    let d = wait_deployment(&n, "web", r.job_modify_index).await;
    assert_eq!(
        (d.status.as_str(), d.status_description.as_str()),
        (
            deployment_status::FAILED,
            "Failed due to unhealthy allocations"
        )
    );
    let other = n.in_namespace("team-b");
    assert!(other
        .read_job("web", &QueryOptions::new())
        .await
        .unwrap_err()
        .is_not_found());
    other
        .register_job(&RegisterRequest::new(web_job("nginx", 1)))
        .await
        .unwrap();
    assert_eq!(other.job_ids(), vec!["web".to_owned()]);
    assert_eq!(
        other
            .read_job("web", &QueryOptions::new())
            .await
            .unwrap()
            .value["Namespace"],
        json!("team-b")
    );
}

#[tokio::test]
async fn memory_nomad_blocking_read_times_out_with_same_index() {
    let n = MemoryNomad::new();
    let r = n
        .register_job(&RegisterRequest::new(web_job("nginx", 1)))
        .await
        .unwrap();
    let _ = wait_deployment(&n, "web", r.job_modify_index).await;
    let cur = n.read_job("web", &QueryOptions::new()).await.unwrap();
    let started = std::time::Instant::now();
    let again = n
        .read_job(
            "web",
            &QueryOptions::blocking(cur.index, Duration::from_millis(200)),
        )
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_eq!(again.index, cur.index);
}

#[tokio::test]
async fn memory_consul_kv_check_and_set() {
    consul_kv_check_and_set(&MemoryConsul::new(), "mesh").await;
}

#[tokio::test]
async fn memory_consul_services_and_health() {
    consul_services_and_health(&MemoryConsul::new()).await;
}

#[tokio::test]
async fn memory_consul_kv_blocking_wakes_on_change() {
    let c = MemoryConsul::new();
    c.kv_put("k", b"1", None).await.unwrap();
    let cur = c.kv_get("k", &QueryOptions::new()).await.unwrap();
    let waiter = {
        let c = c.clone();
        tokio::spawn(async move {
            c.kv_get(
                "k",
                &QueryOptions::blocking(cur.index, Duration::from_secs(10)),
            )
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(30)).await;
    c.kv_put("unrelated", b"x", None).await.unwrap();
    c.kv_put("k", b"2", None).await.unwrap();
    let got = waiter.await.unwrap().unwrap();
    assert_eq!(got.value.unwrap().value, b"2");
    assert!(got.index > cur.index);
}

// ---- live servers (only when their address is in the environment) ----

fn live(var: &str, what: &str) -> bool {
    if std::env::var(var).is_ok_and(|v| !v.is_empty()) {
        true
    } else {
        eprintln!("live {what} tests not run: {var} not set");
        false
    }
}

const LIVE: Env = Env {
    fresh: false,
    allocs_run: false,
};

/// A job or key name of its own per live run, so that runs do not see each other.
fn live_name(what: &str) -> String {
    format!("istio-nomad-contract-{what}-{}", std::process::id())
}

#[tokio::test]
async fn live_nomad_scenarios() {
    if !live("NOMAD_ADDR", "Nomad") {
        return;
    }
    let n = HttpNomad::from_env().unwrap();
    let id = live_name("async");
    nomad_index_zero_and_async_deployment(&n, LIVE, &id).await;
    n.deregister_job(&id, true).await.unwrap();
    let id = live_name("versions");
    nomad_versions_and_check_and_set(&n, LIVE, &id).await;
    n.deregister_job(&id, true).await.unwrap();
    let prefix = live_name("nodeploy");
    nomad_no_deployment_cases(&n, LIVE, &prefix).await;
    for suffix in ["noupdate", "zero", "batch"] {
        n.deregister_job(&format!("{prefix}-{suffix}"), true)
            .await
            .unwrap();
    }
    nomad_deregister_unknown(&n, &live_name("unknown")).await;
}

#[tokio::test]
async fn live_nomad_plan_of_new_job() {
    if !live("NOMAD_ADDR", "Nomad") {
        return;
    }
    let n = HttpNomad::from_env().unwrap();
    let job = job(&live_name("plan"), "nginx:1.25", 2);
    let p = n.plan_job(&job, true).await.unwrap();
    assert_eq!(p.job_modify_index, 0);
    assert_eq!(p.diff.unwrap().kind, "Added");
    assert!(n
        .validate_job(&job)
        .await
        .unwrap()
        .validation_errors
        .is_empty());
}

#[tokio::test]
async fn live_consul_scenarios() {
    if !live("CONSUL_HTTP_ADDR", "Consul") {
        return;
    }
    let c = HttpConsul::from_env().unwrap();
    let prefix = live_name("kv");
    consul_kv_check_and_set(&c, &prefix).await;
    consul_sessions_and_locks(&c, &live_name("sessions"), Duration::from_secs(10)).await;
    consul_txn(&c, &live_name("txn"), Duration::from_secs(10)).await;
}
