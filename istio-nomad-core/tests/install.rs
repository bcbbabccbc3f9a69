//! The installer against the in-memory cluster: dependency order, health gates,
//! idempotence (zero writes), resumability under injected faults, locks and conflicts,
//! host-mode placement, destroy.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use istio_nomad_core::backend::{Consul, Nomad, QueryOptions};
use istio_nomad_core::install::fault::{FaultInjector, FaultKind};
use istio_nomad_core::install::state::{LockInfo, StateStore};
use istio_nomad_core::install::{
    ApplyOptions, Backends, Change, EtcdStateStore, Event, InMemoryCluster, InstallError,
    Installer, StateBackend, HOST_MODE_META,
};
use istio_nomad_core::plan::{plan, Plan};
use istio_nomad_core::spec::MeshSpec;
use istio_nomad_core::Error;
use serde_json::{json, Value};

fn bookinfo_spec() -> MeshSpec {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/bookinfo.mesh.hcl"
    ))
    .unwrap();
    MeshSpec::from_hcl(&text).unwrap()
}

fn bookinfo() -> Plan {
    plan(&bookinfo_spec()).unwrap()
}

fn opts() -> ApplyOptions {
    ApplyOptions::builder()
        .health_deadline(Duration::from_secs(20))
        .query_wait(Duration::from_secs(5))
        .lock_ttl(Duration::from_secs(5))
        .build()
        .unwrap()
}

fn cluster() -> InMemoryCluster {
    let c = InMemoryCluster::new();
    c.nomad.set_progress_delay(Duration::from_millis(5));
    c.etcd.set_min_ttl(1);
    c
}

fn recorder() -> (
    Arc<Mutex<Vec<Event>>>,
    impl Fn(&Event) + Send + Sync + 'static,
) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    (events, move |e: &Event| {
        sink.lock().unwrap().push(e.clone())
    })
}

/// Everything observable about the cluster after an apply, without raft indexes and IDs
/// that differ from run to run: jobs with versions and content, Consul instances per
/// service, the recorded state; and checks that the state matches Nomad.
async fn snapshot(b: &Backends, installer: &Installer, plan: &Plan) -> Value {
    let mut jobs = BTreeMap::new();
    let mut services = BTreeMap::new();
    for pj in &plan.jobs {
        let id = pj.job.id();
        match b.nomad.read_job(id, &QueryOptions::new()).await {
            Ok(j) => {
                let versions = b.nomad.job_versions(id, false).await.unwrap().value;
                jobs.insert(
                    id.to_owned(),
                    json!({
                        "version": j.value["Version"],
                        "versions": versions.versions.len(),
                        "stop": j.value["Stop"],
                        "status": j.value["Status"],
                        "groups": j.value["TaskGroups"],
                    }),
                );
            }
            Err(e) => {
                assert!(e.is_not_found(), "{e}");
            }
        }
        for g in &pj.job.task_groups {
            for s in &g.services {
                let name = s.name.clone().unwrap();
                let all = b
                    .consul
                    .health_service(&name, false, &QueryOptions::new())
                    .await
                    .unwrap()
                    .value;
                let passing = b
                    .consul
                    .health_service(&name, true, &QueryOptions::new())
                    .await
                    .unwrap()
                    .value;
                let mut ids: Vec<String> = all.iter().map(|e| e.service.id.clone()).collect();
                ids.sort();
                ids.dedup();
                assert_eq!(ids.len(), all.len(), "duplicate instances of {name}");
                services.insert(name, json!({"all": all.len(), "passing": passing.len()}));
            }
        }
    }
    let state = installer.state(&plan.spec.name).await.unwrap();
    assert!(state.lock.is_none(), "lock left behind: {:?}", state.lock);
    // The state store agrees with Nomad.
    for (id, r) in &state.jobs {
        let j = b.nomad.read_job(id, &QueryOptions::new()).await.unwrap();
        assert_eq!(
            j.value["JobModifyIndex"].as_u64(),
            Some(r.value.job_modify_index),
            "record of {id} does not match Nomad"
        );
        assert_eq!(j.value["Version"].as_u64(), Some(r.value.version), "{id}");
    }
    // Raft indexes differ from run to run; their agreement with Nomad was checked above.
    let mut recorded = state.to_json();
    for r in recorded["jobs"].as_array_mut().unwrap() {
        r.as_object_mut().unwrap().remove("job_modify_index");
    }
    json!({"jobs": jobs, "services": services, "state": recorded})
}

/// The top-level entries of two snapshots that differ (for readable failures).
fn differences(a: &Value, b: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for section in ["jobs", "services"] {
        let (x, y) = (
            a[section].as_object().unwrap(),
            b[section].as_object().unwrap(),
        );
        for k in x.keys().chain(y.keys()) {
            if x.get(k) != y.get(k) {
                out.push(format!(
                    "{section}.{k}: {:?} vs {:?}",
                    x.get(k).map(|v| v.to_string().len()),
                    y.get(k).map(|v| v.to_string().len())
                ));
            }
        }
    }
    if a["state"] != b["state"] {
        out.push(format!("state: {} vs {}", a["state"], b["state"]));
    }
    out
}

#[tokio::test]
async fn apply_brings_up_bookinfo_in_dependency_order() {
    let c = cluster();
    let b = c.backends();
    let (events, sink) = recorder();
    let installer = Installer::builder(b.clone()).on_event(sink).build();
    let plan = bookinfo();
    let report = installer.apply(&plan, &opts()).await.unwrap();
    assert_eq!(report.created().len(), 10);
    assert!(report
        .jobs
        .iter()
        .all(|j| j.version == 0 && j.state_written));
    assert_eq!(report.writes.registers, 10);
    assert_eq!(report.writes.state_writes, 11, "10 jobs + the spec record");
    assert_eq!(report.writes.locks, 1);

    // Every job was registered only after all its dependencies were healthy.
    let events = events.lock().unwrap().clone();
    let pos = |pred: &dyn Fn(&Event) -> bool| events.iter().position(pred).unwrap();
    for pj in &plan.jobs {
        let id = pj.job.id();
        let reg = pos(&|e| matches!(e, Event::JobRegistered { job, .. } if job == id));
        for dep in &pj.depends_on {
            let healthy = pos(&|e| matches!(e, Event::JobHealthy { job, .. } if job == dep));
            assert!(healthy < reg, "{id} registered before {dep} was healthy");
        }
    }
    let stages: Vec<Vec<String>> = events
        .iter()
        .filter_map(|e| match e {
            Event::StageStarted { jobs, .. } => Some(jobs.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(stages, plan.order().unwrap());
    assert!(matches!(
        events.last(),
        Some(Event::Finished { writes: 22, .. })
    ));

    // Consul has every instance, passing.
    for (svc, n) in [
        ("bookinfo-etcd", 3),
        ("bookinfo-pilot", 2),
        ("productpage", 2),
        ("reviews", 3),
        ("details", 1),
    ] {
        let e = b
            .consul
            .health_service(svc, true, &QueryOptions::new())
            .await
            .unwrap()
            .value;
        assert_eq!(e.len(), n, "{svc}");
    }
    let snap = snapshot(&b, &installer, &plan).await;
    assert_eq!(snap["state"]["spec"]["spec_hash"], json!(plan.spec_hash));
    assert_eq!(snap["state"]["jobs"].as_array().unwrap().len(), 10);
}

#[tokio::test]
async fn second_apply_writes_nothing() {
    let c = cluster();
    let faults = FaultInjector::new();
    let b = faults.wrap(&c.backends());
    let installer = Installer::new(b.clone());
    let plan = bookinfo();
    installer.apply(&plan, &opts()).await.unwrap();
    faults.reset();
    let nomad_index = c.nomad.index();
    let consul_index = c.consul.index();
    let etcd_rev = c.etcd.revision();

    let report = installer.apply(&plan, &opts()).await.unwrap();
    assert_eq!(report.unchanged().len(), 10);
    assert_eq!(report.writes.total(), 0);
    for m in [
        "register_job",
        "deregister_job",
        "kv_put",
        "kv_delete",
        "put",
        "txn",
        "lease_grant",
        "register_service",
    ] {
        assert_eq!(faults.count(m), 0, "{m} called on a second apply");
    }
    assert_eq!(faults.writes(), 0);
    // Only reads: 1 state range, 10 plans, 10 deployment reads.
    assert_eq!(faults.count("range"), 1);
    assert_eq!(faults.count("plan_job"), 10);
    assert_eq!(faults.count("latest_deployment"), 10);
    assert_eq!(faults.calls(), 21);
    assert_eq!(c.nomad.index(), nomad_index);
    assert_eq!(c.consul.index(), consul_index);
    assert_eq!(c.etcd.revision(), etcd_rev);
}

#[tokio::test]
async fn diff_reports_create_update_unchanged_with_annotations() {
    let c = cluster();
    let installer = Installer::new(c.backends());
    let plan1 = bookinfo();
    let d = installer.diff(&plan1).await.unwrap();
    assert!(d
        .jobs
        .iter()
        .all(|j| j.change == Change::Create && !j.recorded));
    assert_eq!(
        d.job("reviews").unwrap().desired_updates["reviews-v2"].place,
        1
    );
    installer.apply(&plan1, &opts()).await.unwrap();
    assert!(installer.diff(&plan1).await.unwrap().in_sync());

    // productpage gets a new image and one more instance.
    let mut spec = bookinfo_spec();
    spec.services[0].image = Some("docker.io/istio/examples-bookinfo-productpage-v1:1.9.0".into());
    spec.services[0].count = 3;
    let plan2 = plan(&spec).unwrap();
    let d = installer.diff(&plan2).await.unwrap();
    assert!(!d.in_sync());
    let changed: Vec<&str> = d.changes().map(|j| j.job_id.as_str()).collect();
    assert_eq!(changed, ["productpage"]);
    let pp = d.job("productpage").unwrap();
    assert_eq!(pp.change, Change::Update);
    let u = &pp.desired_updates["productpage"];
    assert_eq!((u.place, u.destructive_update), (1, 2));
    assert!(
        pp.changed_fields.iter().any(|f| f.contains("Count")),
        "{:?}",
        pp.changed_fields
    );
    assert!(pp.changed_fields.iter().any(|f| f.contains("Tasks[app]")));

    let report = installer.apply(&plan2, &opts()).await.unwrap();
    assert_eq!(report.updated(), ["productpage"]);
    assert_eq!(report.unchanged().len(), 9);
    assert_eq!(report.writes.registers, 1);
    assert_eq!(
        report.writes.state_writes, 2,
        "productpage record + spec record"
    );
    let pp = report
        .jobs
        .iter()
        .find(|j| j.job_id == "productpage")
        .unwrap();
    assert_eq!(pp.version, 1);
    let passing = c
        .consul
        .health_service("productpage", true, &QueryOptions::new())
        .await
        .unwrap()
        .value;
    assert_eq!(passing.len(), 3);
}

#[tokio::test]
async fn every_fault_then_rerun_converges_to_the_clean_state() {
    let plan = bookinfo();
    // The clean run: count its calls and take its final state.
    let clean = cluster();
    let faults = FaultInjector::new();
    let b = faults.wrap(&clean.backends());
    let installer = Installer::new(b.clone());
    installer.apply(&plan, &opts()).await.unwrap();
    let steps = faults.calls();
    let expected = snapshot(&clean.backends(), &installer, &plan).await;
    assert!(steps > 60, "a clean apply makes {steps} calls");

    let rerun_opts = ApplyOptions::builder()
        .health_deadline(Duration::from_secs(20))
        .query_wait(Duration::from_secs(5))
        .lock_ttl(Duration::from_secs(1))
        .lock_wait(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut failures = 0;
    for k in 1..=steps {
        for kind in FaultKind::ALL {
            let c = cluster();
            let faults = FaultInjector::new();
            let b = faults.wrap(&c.backends());
            let installer = Installer::new(b.clone());
            faults.fail_call(k, kind);
            let first = installer.apply(&plan, &rerun_opts).await;
            let injected = faults.log().iter().any(|c| c.fault.is_some());
            if let Ok(path) = std::env::var("FAULT_SWEEP_LOG") {
                use std::io::Write as _;
                let call = faults
                    .log()
                    .iter()
                    .find(|c| c.fault.is_some())
                    .map_or("-", |c| c.method);
                let outcome = match &first {
                    Ok(_) => "ok".to_owned(),
                    Err(Error::Backend(_)) => "backend-error".to_owned(),
                    Err(e) => format!("other-error: {e}"),
                };
                let mut f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .unwrap();
                writeln!(f, "{k}\t{kind:?}\t{call}\t{outcome}").unwrap();
            }
            if let Err(e) = &first {
                failures += 1;
                assert!(injected, "step {k} {kind:?}: failed without a fault: {e}");
                assert!(
                    matches!(e, Error::Backend(_)),
                    "step {k} {kind:?}: not a backend error: {e}"
                );
            }
            if let Ok(r) = &first {
                // A lost release answer leaves the lock to expire with its lease.
                if !r.warnings.is_empty() {
                    assert!(
                        r.warnings[0].contains("could not release the lock"),
                        "{:?}",
                        r.warnings
                    );
                    tokio::time::sleep(Duration::from_millis(1500)).await;
                }
            }
            faults.clear();
            let second = installer.apply(&plan, &rerun_opts).await;
            let second = second.unwrap_or_else(|e| panic!("step {k} {kind:?}: re-run failed: {e}"));
            assert!(
                second.writes.registers <= 10,
                "step {k} {kind:?}: {:?}",
                second.writes
            );
            let got = snapshot(&c.backends(), &installer, &plan).await;
            assert!(
                got == expected,
                "step {k} {kind:?}: state differs from a clean apply: {:?}",
                differences(&got, &expected)
            );
            // Registrations: every job exactly once in its history.
            let total_registers = faults.count("register_job");
            assert!(total_registers >= 10, "step {k} {kind:?}");
            for pj in &plan.jobs {
                let v = c.nomad.in_namespace("default");
                let versions = v.job_versions(pj.job.id(), false).await.unwrap().value;
                assert_eq!(
                    versions.versions.len(),
                    1,
                    "step {k} {kind:?}: {} re-registered",
                    pj.job.id()
                );
            }
        }
    }
    assert!(
        failures >= steps as usize,
        "only {failures} runs failed out of {}",
        steps * 3
    );
}

#[tokio::test]
async fn two_concurrent_applies_one_wins_the_other_conflicts() {
    let c = cluster();
    let plan = bookinfo();
    let a = Installer::builder(c.backends()).holder("alice@ops").build();
    let b = Installer::builder(c.backends()).holder("bob@ops").build();
    let o = opts();
    let (ra, rb) = tokio::join!(a.apply(&plan, &o), b.apply(&plan, &o));
    let (winner, loser_err, loser) = match (ra, rb) {
        (Ok(r), Err(e)) => (r, e, &b),
        (Err(e), Ok(r)) => (r, e, &a),
        (ra, rb) => panic!("expected one winner: {ra:?} / {rb:?}"),
    };
    assert_eq!(winner.created().len(), 10);
    match &loser_err {
        Error::Conflict(c) => {
            assert_eq!(c.name(), "lock_held");
            let m = c.to_string();
            assert!(m.contains("mesh bookinfo is locked by"), "{m}");
            assert!(
                m.contains("@ops")
                    && m.contains("operation apply")
                    && m.contains("since unix time"),
                "{m}"
            );
        }
        e => panic!("expected a conflict, got {e}"),
    }
    let expected = snapshot(&c.backends(), loser, &plan).await;
    assert_eq!(expected["state"]["jobs"].as_array().unwrap().len(), 10);
    // The loser, re-run, finds nothing to do.
    let again = loser.apply(&plan, &opts()).await.unwrap();
    assert_eq!(again.writes.total(), 0);
}

#[tokio::test]
async fn a_job_changed_by_someone_else_is_a_conflict_not_overwritten() {
    let c = cluster();
    let b = c.backends();
    let plan1 = bookinfo();
    let installer = Installer::builder(b.clone())
        .on_event({
            // Between the diff and the register of stage 4, an operator edits `details`.
            let nomad = c.nomad.clone();
            let done = Arc::new(Mutex::new(false));
            move |e: &Event| {
                if let Event::StageStarted { stage: 4, .. } = e {
                    let mut d = done.lock().unwrap();
                    if !*d {
                        *d = true;
                        let nomad = nomad.clone();
                        let mut job = bookinfo()
                            .job("details")
                            .unwrap()
                            .job
                            .to_json_value()
                            .unwrap();
                        job["Meta"]["edited-by"] = json!("someone");
                        std::thread::spawn(move || {
                            let rt = tokio::runtime::Builder::new_current_thread()
                                .enable_all()
                                .build()
                                .unwrap();
                            rt.block_on(nomad.register_job(
                                &istio_nomad_core::backend::nomad::RegisterRequest::new(job),
                            ))
                            .unwrap();
                        })
                        .join()
                        .unwrap();
                    }
                }
            }
        })
        .build();
    let err = installer.apply(&plan1, &opts()).await.unwrap_err();
    match &err {
        Error::Conflict(c) => {
            assert_eq!(c.name(), "job_changed");
            assert_eq!(c.subject(), "details");
            assert!(
                c.to_string()
                    .contains("job details was changed by someone else"),
                "{c}"
            );
            // The backend's answer is kept as the source.
            assert!(std::error::Error::source(c).is_some());
        }
        e => panic!("expected a conflict, got {e}"),
    }
    let job = b
        .nomad
        .read_job("details", &QueryOptions::new())
        .await
        .unwrap()
        .value;
    assert_eq!(
        job["Meta"]["edited-by"], "someone",
        "the other operator's job was overwritten"
    );
    let state = installer.state("bookinfo").await.unwrap();
    assert!(!state.jobs.contains_key("details"));
    assert!(state.lock.is_none());
}

#[tokio::test]
async fn failed_deployment_stops_the_apply_and_names_the_job() {
    let c = cluster();
    c.nomad.fail_deployments("bookinfo-pilot");
    let (events, sink) = recorder();
    let installer = Installer::builder(c.backends()).on_event(sink).build();
    let plan = bookinfo();
    let err = installer.apply(&plan, &opts()).await.unwrap_err();
    match &err {
        Error::Install(InstallError::DeploymentFailed { job, status, .. }) => {
            assert_eq!(job, "bookinfo-pilot");
            assert_eq!(status, "failed");
        }
        e => panic!("unexpected {e}"),
    }
    assert_eq!(err.family(), "install");
    // Stage 3's other jobs finished, stage 4 never started.
    assert!(c
        .nomad
        .job_ids()
        .iter()
        .all(|id| id.starts_with("bookinfo-")));
    let state = installer.state("bookinfo").await.unwrap();
    assert!(state.jobs.contains_key("bookinfo-mixer"));
    assert!(!state.jobs.contains_key("bookinfo-pilot"));
    assert!(state.spec.is_none());
    let ev = events.lock().unwrap();
    assert!(matches!(ev.last(), Some(Event::Failed { job: Some(j), .. }) if j == "bookinfo-pilot"));
}

#[tokio::test]
async fn health_gate_deadline_names_the_job_and_what_it_waited_for() {
    let c = cluster();
    c.nomad.set_progress_delay(Duration::from_secs(30));
    let installer = Installer::new(c.backends());
    let short = ApplyOptions::builder()
        .health_deadline(Duration::from_millis(300))
        .query_wait(Duration::from_millis(100))
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let err = installer.apply(&bookinfo(), &short).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    match &err {
        Error::Install(InstallError::Deadline {
            job,
            gate,
            last_seen,
            waited,
        }) => {
            assert!(job == "bookinfo-etcd" || job == "bookinfo-zipkin", "{job}");
            assert_eq!(gate, "deployment successful");
            assert!(last_seen.contains("running (0/"), "{last_seen}");
            assert!(*waited >= Duration::from_millis(300));
        }
        e => panic!("expected a deadline, got {e}"),
    }
    // Nothing past stage 1 was registered, the lock was given back.
    let mut ids = c.nomad.job_ids();
    ids.sort();
    assert_eq!(ids, ["bookinfo-etcd", "bookinfo-zipkin"]);
    assert!(installer.state("bookinfo").await.unwrap().lock.is_none());
}

#[tokio::test]
async fn host_mode_groups_never_share_a_node() {
    let c = cluster();
    let installer = Installer::new(c.backends());
    let mut plan = bookinfo();
    for id in ["details", "ratings"] {
        let pj = plan.jobs.iter_mut().find(|j| j.job.id() == id).unwrap();
        pj.job.task_groups[0]
            .meta
            .insert(HOST_MODE_META.into(), "true".into());
    }
    let err = installer.apply(&plan, &opts()).await.unwrap_err();
    let (job, other) = match &err {
        Error::Install(InstallError::HostModeCollision {
            job,
            other_job,
            node,
            ..
        }) => {
            assert!(node.contains("memory-node-1"), "{node}");
            (job.clone(), other_job.clone())
        }
        e => panic!("expected a host-mode collision, got {e}"),
    };
    let mut pair = [job.as_str(), other.as_str()];
    pair.sort();
    assert_eq!(pair, ["details", "ratings"]);
    assert!(err.to_string().contains("at most one may run per node"));
    // The refused job was stopped; at most one host-mode job runs.
    let running: Vec<String> = c
        .nomad
        .job_ids()
        .into_iter()
        .filter(|id| id == "details" || id == "ratings")
        .collect();
    assert!(running.len() <= 1, "{running:?}");
}

#[tokio::test]
async fn destroy_removes_everything_in_reverse_order_and_is_idempotent() {
    let c = cluster();
    let (events, sink) = recorder();
    let installer = Installer::builder(c.backends()).on_event(sink).build();
    let plan = bookinfo();
    installer.apply(&plan, &opts()).await.unwrap();
    events.lock().unwrap().clear();
    let report = installer.destroy(&plan, &opts()).await.unwrap();
    assert_eq!(report.deregistered.len(), 10);
    assert_eq!(report.writes.deregisters, 10);
    assert_eq!(report.writes.state_writes, 11);
    assert!(c.nomad.job_ids().is_empty());
    assert!(c.consul.service_ids().is_empty());
    let state = installer.state("bookinfo").await.unwrap();
    assert!(state.is_empty() && state.lock.is_none());
    let ev = events.lock().unwrap().clone();
    let at = |id: &str| {
        ev.iter()
            .position(|e| matches!(e, Event::JobDeregistered { job } if job == id))
            .unwrap()
    };
    assert!(at("productpage") < at("bookinfo-pilot"));
    assert!(at("bookinfo-pilot") < at("bookinfo-apiserver"));
    assert!(at("bookinfo-apiserver") < at("bookinfo-etcd"));

    let again = installer.destroy(&plan, &opts()).await.unwrap();
    assert_eq!(again.writes.total(), 0);
    assert!(again.deregistered.is_empty());
}

#[tokio::test]
async fn apply_prunes_jobs_removed_from_the_spec() {
    let c = cluster();
    let installer = Installer::new(c.backends());
    installer.apply(&bookinfo(), &opts()).await.unwrap();
    let mut spec = bookinfo_spec();
    spec.services.retain(|s| s.name != "ratings");
    let smaller = plan(&spec).unwrap();
    let d = installer.diff(&smaller).await.unwrap();
    assert_eq!(d.removed, ["ratings"]);
    let report = installer.apply(&smaller, &opts()).await.unwrap();
    assert_eq!(report.removed, ["ratings"]);
    assert_eq!(report.writes.registers, 0);
    assert!(!c.nomad.job_ids().contains(&"ratings".to_owned()));
    let state = installer.state("bookinfo").await.unwrap();
    assert!(!state.jobs.contains_key("ratings"));
    assert_eq!(state.spec.unwrap().value.spec_hash, smaller.spec_hash);
}

#[tokio::test]
async fn a_crashed_holders_lock_expires_and_the_next_apply_proceeds() {
    let c = cluster();
    let store = EtcdStateStore::new(Arc::new(c.etcd.clone()));
    // A holder takes the lock and dies (never renews, never releases).
    let info = LockInfo::new("crashed@host pid 1", "apply", 1);
    let (_lock, _) = store.acquire("bookinfo", &info).await.unwrap();
    let installer = Installer::new(c.backends());
    let err = installer.apply(&bookinfo(), &opts()).await.unwrap_err();
    match err {
        Error::Conflict(c) => assert!(c.to_string().contains("crashed@host pid 1"), "{c}"),
        e => panic!("{e}"),
    }
    let waiting = ApplyOptions::builder()
        .lock_wait(Duration::from_secs(5))
        .lock_ttl(Duration::from_secs(2))
        .build()
        .unwrap();
    let report = installer.apply(&bookinfo(), &waiting).await.unwrap();
    assert_eq!(report.created().len(), 10);
}

#[tokio::test]
async fn consul_kv_state_store_behaves_like_etcd() {
    let c = cluster();
    let faults = FaultInjector::new();
    let b = faults.wrap(&c.backends());
    let mk = |holder: &str| {
        Installer::builder(b.clone())
            .state_backend(StateBackend::Consul)
            .holder(holder)
            .build()
    };
    let (x, y) = (mk("x@ops"), mk("y@ops"));
    let plan = bookinfo();
    let o = opts();
    let (rx, ry) = tokio::join!(x.apply(&plan, &o), y.apply(&plan, &o));
    assert!(rx.is_ok() != ry.is_ok(), "{rx:?} {ry:?}");
    let err = rx.err().or(ry.err()).unwrap();
    assert!(
        matches!(&err, Error::Conflict(c) if c.to_string().contains("is locked by")),
        "{err}"
    );
    let state = x.state("bookinfo").await.unwrap();
    assert_eq!(state.jobs.len(), 10);
    assert!(state.lock.is_none());
    let keys: Vec<String> = c
        .consul
        .kv_list("istio-nomad/bookinfo/", &QueryOptions::new())
        .await
        .unwrap()
        .value
        .into_iter()
        .map(|p| p.key)
        .collect();
    assert!(keys.contains(&"istio-nomad/bookinfo/spec".to_owned()));
    assert!(keys.contains(&"istio-nomad/bookinfo/jobs/reviews".to_owned()));
    assert_eq!(keys.len(), 11);
    // Nothing in etcd.
    assert!(c.etcd.revision() <= 1);
    faults.reset();
    let again = x.apply(&plan, &opts()).await.unwrap();
    assert_eq!(again.writes.total(), 0);
    assert_eq!(faults.count("kv_put") + faults.count("register_job"), 0);
}
