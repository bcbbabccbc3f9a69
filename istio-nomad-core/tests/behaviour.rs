//! Server behaviour written once against the `Nomad` and `Consul` traits, run against the
//! in-memory implementations and, when `NOMAD_ADDR` / `CONSUL_HTTP_ADDR` are set, against
//! a real `nomad agent -dev` / `consul agent -dev` (otherwise the live tests say so and
//! return).
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::web_job;
use istio_nomad_core::backend::consul::{check_status, AgentCheck, ServiceRegistration};
use istio_nomad_core::backend::nomad::{deployment_status, RegisterRequest};
use istio_nomad_core::backend::{
    Consul, HttpConsul, HttpNomad, MemoryConsul, MemoryNomad, Nomad, QueryOptions,
};
use serde_json::json;

/// Waits (with blocking queries) until the job's latest deployment leaves `running`.
async fn wait_deployment(n: &dyn Nomad, job: &str) -> String {
    let mut q = QueryOptions::new();
    for _ in 0..50 {
        let d = n.latest_deployment(job, &q).await.unwrap();
        if let Some(dep) = &d.value {
            if dep.status != deployment_status::RUNNING {
                return dep.status.clone();
            }
        }
        q = QueryOptions::blocking(d.index, Duration::from_secs(5));
    }
    panic!("deployment of {job} never finished");
}

async fn nomad_versions_and_check_and_set(n: &dyn Nomad) {
    let r1 = n
        .register_job(&RegisterRequest::new(web_job("nginx:1.25", 2)).enforce_index(0))
        .await
        .unwrap();
    let job = n.read_job("web", &QueryOptions::new()).await.unwrap();
    assert_eq!(job.value["Version"], json!(0));
    let jmi = job.value["JobModifyIndex"].as_u64().unwrap();
    assert_eq!(jmi, r1.job_modify_index);

    // Only-if-new loses now that the job exists.
    let e = n
        .register_job(&RegisterRequest::new(web_job("nginx:1.25", 2)).enforce_index(0))
        .await
        .unwrap_err();
    assert!(e.is_conflict(), "{e:?}");
    assert!(
        e.to_string()
            .contains("Enforcing job modify index 0: job already exists"),
        "{e}"
    );

    // A stale index loses and changes nothing.
    let e = n
        .register_job(&RegisterRequest::new(web_job("nginx:1.26", 2)).enforce_index(jmi + 1000))
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains(&format!(
            "job exists with conflicting job modify index: {jmi}"
        )),
        "{e}"
    );
    assert_eq!(
        n.read_job("web", &QueryOptions::new()).await.unwrap().value["Version"],
        json!(0)
    );

    // Same spec again: no new version, same job modify index.
    n.register_job(&RegisterRequest::new(web_job("nginx:1.25", 2)).enforce_index(jmi))
        .await
        .unwrap();
    let again = n.read_job("web", &QueryOptions::new()).await.unwrap();
    assert_eq!(again.value["Version"], json!(0));
    assert_eq!(again.value["JobModifyIndex"].as_u64(), Some(jmi));
    assert!(again.index > job.index, "indexes only grow");

    // A change: version 1, and the versions list shows both with a diff.
    n.register_job(&RegisterRequest::new(web_job("nginx:1.26", 2)).enforce_index(jmi))
        .await
        .unwrap();
    let v = n.job_versions("web", true).await.unwrap();
    let numbers: Vec<_> = v
        .value
        .versions
        .iter()
        .map(|j| j["Version"].clone())
        .collect();
    assert_eq!(numbers, vec![json!(1), json!(0)]);
    let d = &v.value.diffs[0];
    assert_eq!(d.kind, "Edited");
    let task = &d.task_groups[0].tasks[0];
    assert_eq!(task.objects[0].fields[0].old, "nginx:1.25");
    assert_eq!(task.objects[0].fields[0].new, "nginx:1.26");
}

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

async fn nomad_deployments_progress_and_deregister(n: &dyn Nomad) {
    let r = n
        .register_job(&RegisterRequest::new(web_job("nginx:1.25", 2)))
        .await
        .unwrap();
    let eval = n
        .evaluation(&r.eval_id, &QueryOptions::new())
        .await
        .unwrap();
    assert_eq!(eval.value.triggered_by, "job-register");
    assert_eq!(
        wait_deployment(n, "web").await,
        deployment_status::SUCCESSFUL
    );
    let allocs = n
        .job_allocations("web", false, &QueryOptions::new())
        .await
        .unwrap();
    assert_eq!(allocs.value.len(), 2);
    assert!(allocs.value.iter().all(|a| a.client_status == "running"
        && a.deployment_status.as_ref().and_then(|d| d.healthy) == Some(true)));
    let job = n.read_job("web", &QueryOptions::new()).await.unwrap();
    assert_eq!(
        (job.value["Status"].clone(), job.value["Stable"].clone()),
        (json!("running"), json!(true))
    );

    // A new version cancels nothing finished, replaces the allocations.
    n.register_job(&RegisterRequest::new(web_job("nginx:1.26", 1)))
        .await
        .unwrap();
    assert_eq!(
        wait_deployment(n, "web").await,
        deployment_status::SUCCESSFUL
    );
    let deps = n
        .job_deployments("web", &QueryOptions::new())
        .await
        .unwrap();
    assert_eq!(
        deps.value.iter().map(|d| d.job_version).collect::<Vec<_>>(),
        vec![1, 0]
    );
    let allocs = n
        .job_allocations("web", false, &QueryOptions::new())
        .await
        .unwrap()
        .value;
    assert_eq!(
        allocs.iter().filter(|a| a.desired_status == "run").count(),
        1
    );
    assert_eq!(
        allocs.iter().filter(|a| a.desired_status == "stop").count(),
        2
    );

    let d = n.deregister_job("web", true).await.unwrap();
    assert!(!d.eval_id.is_empty());
    assert!(n
        .read_job("web", &QueryOptions::new())
        .await
        .unwrap_err()
        .is_not_found());
    assert!(n
        .job_versions("web", false)
        .await
        .unwrap_err()
        .is_not_found());
    let allocs = n
        .job_allocations("web", true, &QueryOptions::new())
        .await
        .unwrap()
        .value;
    assert!(allocs.iter().all(|a| a.desired_status == "stop"));
    assert!(n
        .evaluation("no-such-eval", &QueryOptions::new())
        .await
        .unwrap_err()
        .is_not_found());
}

async fn consul_kv_check_and_set(c: &dyn Consul) {
    assert_eq!(
        c.kv_get("mesh/state", &QueryOptions::new())
            .await
            .unwrap()
            .value,
        None
    );
    assert!(c.kv_put("mesh/state", b"v1", Some(0)).await.unwrap());
    assert!(
        !c.kv_put("mesh/state", b"v1-again", Some(0)).await.unwrap(),
        "cas=0 only creates"
    );
    let cur = c.kv_get("mesh/state", &QueryOptions::new()).await.unwrap();
    let pair = cur.value.unwrap();
    assert_eq!(pair.value, b"v1");
    assert_eq!(cur.index, pair.modify_index);
    assert!(!c
        .kv_put("mesh/state", b"stale", Some(pair.modify_index + 7))
        .await
        .unwrap());
    assert!(c
        .kv_put("mesh/state", b"v2", Some(pair.modify_index))
        .await
        .unwrap());
    let now = c
        .kv_get("mesh/state", &QueryOptions::new())
        .await
        .unwrap()
        .value
        .unwrap();
    assert_eq!(
        (now.value.as_slice(), now.create_index),
        (b"v2".as_slice(), pair.create_index)
    );
    assert!(now.modify_index > pair.modify_index);
    assert!(c.kv_put("mesh/other", b"x", None).await.unwrap());
    let list = c
        .kv_list("mesh/", &QueryOptions::new())
        .await
        .unwrap()
        .value;
    assert_eq!(
        list.iter().map(|p| p.key.as_str()).collect::<Vec<_>>(),
        vec!["mesh/other", "mesh/state"]
    );
    assert!(
        !c.kv_delete("mesh/state", Some(0)).await.unwrap(),
        "cas=0 deletes nothing"
    );
    assert!(!c
        .kv_delete("mesh/state", Some(pair.modify_index))
        .await
        .unwrap());
    assert!(c
        .kv_delete("mesh/state", Some(now.modify_index))
        .await
        .unwrap());
    assert!(
        c.kv_delete("mesh/state", None).await.unwrap(),
        "deleting an absent key succeeds"
    );
    assert_eq!(
        c.kv_get("mesh/state", &QueryOptions::new())
            .await
            .unwrap()
            .value,
        None
    );
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

#[tokio::test]
async fn memory_nomad_versions_and_check_and_set() {
    nomad_versions_and_check_and_set(&MemoryNomad::new()).await;
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
async fn memory_nomad_deployments_progress_and_deregister() {
    nomad_deployments_progress_and_deregister(&MemoryNomad::new()).await;
}

#[tokio::test]
async fn memory_nomad_failed_deployment_and_namespaces() {
    let n = MemoryNomad::new();
    n.fail_deployments("web");
    n.register_job(&RegisterRequest::new(web_job("nginx:broken", 1)))
        .await
        .unwrap();
    assert_eq!(wait_deployment(&n, "web").await, deployment_status::FAILED);
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
    n.register_job(&RegisterRequest::new(web_job("nginx", 1)))
        .await
        .unwrap();
    let _ = wait_deployment(&n, "web").await;
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
    consul_kv_check_and_set(&MemoryConsul::new()).await;
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

#[tokio::test]
async fn live_nomad_versions_and_check_and_set() {
    if !live("NOMAD_ADDR", "Nomad") {
        return;
    }
    let n = HttpNomad::from_env().unwrap();
    n.deregister_job("web", true).await.unwrap();
    nomad_versions_and_check_and_set(&n).await;
    n.deregister_job("web", true).await.unwrap();
}

#[tokio::test]
async fn live_nomad_plan_of_new_job() {
    if !live("NOMAD_ADDR", "Nomad") {
        return;
    }
    let n = HttpNomad::from_env().unwrap();
    let mut job = web_job("nginx:1.25", 2);
    job["ID"] = json!("istio-nomad-live-plan");
    job["Name"] = json!("istio-nomad-live-plan");
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
async fn live_consul_kv_check_and_set() {
    if !live("CONSUL_HTTP_ADDR", "Consul") {
        return;
    }
    let c = HttpConsul::from_env().unwrap();
    for key in ["mesh/state", "mesh/other"] {
        c.kv_delete(key, None).await.unwrap();
    }
    consul_kv_check_and_set(&c).await;
    c.kv_delete("mesh/other", None).await.unwrap();
}
