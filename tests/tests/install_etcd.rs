//! The installer's state store and lock on a real etcd server (spawned on free loopback
//! ports): check-and-set conflicts, lease expiry of a crashed holder, and etcd killed and
//! restarted in the middle of an apply. Nomad and Consul are the in-memory cluster.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use istio_nomad_core::backend::{
    ClientOptions, Etcd, EtcdConfig, HttpEtcd, QueryOptions, RetryPolicy,
};
use istio_nomad_core::install::state::{JobRecord, LockInfo, StateKey, StateStore};
use istio_nomad_core::install::{
    ApplyOptions, Backends, EtcdStateStore, Event, InMemoryCluster, Installer,
};
use istio_nomad_core::plan::{plan, Plan};
use istio_nomad_core::spec::MeshSpec;
use istio_nomad_core::{ConflictError, Error};
use istio_nomad_tests::etcd::{etcd_binary_or_skip, EtcdMember};

fn start(test: &str) -> Option<EtcdMember> {
    let bin = etcd_binary_or_skip(test)?;
    Some(EtcdMember::start_single(&bin, &[]).unwrap())
}

fn http_etcd(url: &str) -> Arc<dyn Etcd> {
    let cfg = EtcdConfig::builder()
        .endpoints([url])
        .options(
            ClientOptions::new()
                .timeout(Duration::from_secs(3))
                .connect_timeout(Duration::from_millis(500))
                .retry(
                    RetryPolicy::new()
                        .max_attempts(2)
                        .base_delay(Duration::from_millis(20)),
                ),
        )
        .build()
        .unwrap();
    Arc::new(HttpEtcd::new(&cfg).unwrap())
}

fn bookinfo() -> Plan {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/bookinfo.mesh.hcl"
    ))
    .unwrap();
    plan(&MeshSpec::from_hcl(&text).unwrap()).unwrap()
}

/// In-memory Nomad and Consul, real etcd.
fn backends(cluster: &InMemoryCluster, etcd: Arc<dyn Etcd>) -> Backends {
    let mem = cluster.backends();
    Backends::new(mem.nomad, mem.consul, etcd)
}

fn record(id: &str, version: u64) -> JobRecord {
    JobRecord {
        job_id: id.into(),
        role: "app".into(),
        stage: 3,
        content_hash: "00".repeat(32),
        version,
        job_modify_index: 10 + version,
        host_mode: false,
        services: vec![id.into()],
    }
}

#[tokio::test]
async fn cas_conflicts_and_lock_fencing_on_real_etcd() {
    let Some(member) = start("cas_conflicts_and_lock_fencing_on_real_etcd") else {
        return;
    };
    let store = EtcdStateStore::new(http_etcd(member.client_url()));
    let alice = LockInfo::new("alice@ops", "apply", 10);
    let (lock, state) = store.acquire("mesh1", &alice).await.unwrap();
    assert!(state.is_empty());
    assert_eq!(state.lock.as_ref().unwrap().holder, "alice@ops");

    // A second operator: a clear conflict naming the holder.
    let bob = LockInfo::new("bob@ops", "destroy", 10);
    match store.acquire("mesh1", &bob).await {
        Err(Error::Conflict(c)) => {
            assert!(
                matches!(&c, ConflictError::LockHeld { mesh, holder: Some(h) } if mesh == "mesh1" && h.starts_with("alice@ops")),
                "{c:?}"
            );
            let m = c.to_string();
            assert!(
                m.contains("mesh mesh1 is locked by alice@ops (operation apply) since unix time"),
                "{m}"
            );
        }
        other => panic!("expected a conflict, got {other:?}"),
    }

    // Check-and-set on the record's revision.
    let key = StateKey::Job("reviews".into());
    let v0 = serde_json::to_vec(&record("reviews", 0)).unwrap();
    let rev1 = store.write(&lock, &key, Some(v0.clone()), 0).await.unwrap();
    assert!(rev1 > 0);
    match store.write(&lock, &key, Some(v0.clone()), 0).await {
        Err(Error::Conflict(c)) => {
            assert!(
                matches!(&c, ConflictError::StateChanged { key, expected: 0, found } if key == "istio-nomad/mesh1/jobs/reviews" && *found == rev1),
                "{c:?}"
            );
            let m = c.to_string();
            assert!(
                m.contains(&format!("state key istio-nomad/mesh1/jobs/reviews was changed by another writer (expected revision 0, found {rev1})")),
                "{m}"
            );
        }
        other => panic!("{other:?}"),
    }
    let v1 = serde_json::to_vec(&record("reviews", 1)).unwrap();
    let rev2 = store.write(&lock, &key, Some(v1), rev1).await.unwrap();
    assert!(rev2 > rev1);
    let loaded = store.load("mesh1").await.unwrap();
    assert_eq!(loaded.jobs["reviews"].revision, rev2);
    assert_eq!(loaded.jobs["reviews"].value, record("reviews", 1));

    // Once the lock is gone (released, then taken by bob), alice's handle cannot write.
    store.release(&lock).await.unwrap();
    let (bob_lock, state) = store.acquire("mesh1", &bob).await.unwrap();
    assert_eq!(state.jobs["reviews"].revision, rev2);
    match store.write(&lock, &key, None, rev2).await {
        Err(Error::Conflict(c)) => {
            assert_eq!(c.name(), "lock_lost");
            let m = c.to_string();
            assert!(m.contains("was lost") && m.contains("bob@ops"), "{m}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        store.load("mesh1").await.unwrap().jobs["reviews"].revision,
        rev2
    );
    store.write(&bob_lock, &key, None, rev2).await.unwrap();
    assert!(store.load("mesh1").await.unwrap().jobs.is_empty());
    store.release(&bob_lock).await.unwrap();
    assert!(store.load("mesh1").await.unwrap().lock.is_none());
}

#[tokio::test]
async fn lock_is_kept_alive_and_a_crashed_holders_lock_expires() {
    let Some(member) = start("lock_is_kept_alive_and_a_crashed_holders_lock_expires") else {
        return;
    };
    let etcd = http_etcd(member.client_url());
    let store = EtcdStateStore::new(etcd.clone());
    // Renewed every 700 ms, a 2 s lock outlives its TTL.
    let (kept, _) = store
        .acquire("mesh2", &LockInfo::new("keeper", "apply", 2))
        .await
        .unwrap();
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(700)).await;
        store.keepalive(&kept).await.unwrap();
    }
    assert!(matches!(
        store
            .acquire("mesh2", &LockInfo::new("other", "apply", 2))
            .await,
        Err(Error::Conflict(_))
    ));
    store.release(&kept).await.unwrap();

    // A holder that crashes (never renews, never releases): the next apply waits for the
    // lease to expire, then proceeds.
    let (crashed, _) = store
        .acquire("bookinfo", &LockInfo::new("crashed@host pid 7", "apply", 2))
        .await
        .unwrap();
    let cluster = InMemoryCluster::new();
    let installer = Installer::new(backends(&cluster, etcd.clone()));
    let plan = bookinfo();
    match installer.apply(&plan, &ApplyOptions::default()).await {
        Err(Error::Conflict(c)) => {
            assert_eq!(c.name(), "lock_held");
            assert!(c.to_string().contains("crashed@host pid 7"), "{c}");
        }
        other => panic!("{other:?}"),
    }
    let started = std::time::Instant::now();
    let waiting = ApplyOptions::builder()
        .lock_wait(Duration::from_secs(10))
        .lock_ttl(Duration::from_secs(3))
        .build()
        .unwrap();
    let report = installer.apply(&plan, &waiting).await.unwrap();
    assert_eq!(report.created().len(), 10);
    assert!(started.elapsed() < Duration::from_secs(10));
    // The crashed holder's lease is gone.
    assert!(store.keepalive(&crashed).await.is_err());
    let state = installer.state("bookinfo").await.unwrap();
    assert_eq!(state.jobs.len(), 10);
    assert!(state.lock.is_none());
}

#[tokio::test]
async fn etcd_killed_mid_apply_fails_cleanly_and_a_rerun_converges() {
    let Some(member) = start("etcd_killed_mid_apply_fails_cleanly_and_a_rerun_converges") else {
        return;
    };
    let etcd = http_etcd(member.client_url());
    let member = Arc::new(Mutex::new(member));
    let cluster = InMemoryCluster::new();
    let b = backends(&cluster, etcd.clone());
    let killed = Arc::new(Mutex::new(false));
    let installer = Installer::builder(b.clone())
        .on_event({
            let member = member.clone();
            let killed = killed.clone();
            move |e: &Event| {
                // The API server is healthy; before its state record is written, etcd dies.
                if matches!(e, Event::JobHealthy { job, .. } if job == "bookinfo-apiserver") {
                    member.lock().unwrap().kill();
                    *killed.lock().unwrap() = true;
                }
            }
        })
        .build();
    let plan = bookinfo();
    let o = ApplyOptions::builder()
        .lock_ttl(Duration::from_secs(2))
        .lock_wait(Duration::from_secs(20))
        .build()
        .unwrap();
    let err = installer.apply(&plan, &o).await.unwrap_err();
    assert!(*killed.lock().unwrap());
    match &err {
        Error::Backend(b) => {
            assert_eq!(b.service().map(|s| s.as_str()), Some("etcd"), "{b}");
            assert!(b.is_retryable(), "{b}");
        }
        e => panic!("expected a backend error, got {e}"),
    }
    // Nothing of stage 3 or 4 was registered.
    let mut ids = cluster.nomad.job_ids();
    ids.sort();
    assert_eq!(
        ids,
        ["bookinfo-apiserver", "bookinfo-etcd", "bookinfo-zipkin"]
    );

    {
        let mut m = member.lock().unwrap();
        m.restart().unwrap();
        m.wait_ready(Duration::from_secs(20)).unwrap();
    }
    // The state is as the crash left it: stage 1 recorded, the API server not.
    let store = EtcdStateStore::new(etcd.clone());
    let state = store.load("bookinfo").await.unwrap();
    let mut recorded: Vec<&str> = state.jobs.keys().map(String::as_str).collect();
    recorded.sort();
    assert_eq!(recorded, ["bookinfo-etcd", "bookinfo-zipkin"]);

    let plain = Installer::new(b.clone());
    let report = plain.apply(&plan, &o).await.unwrap();
    assert_eq!(report.writes.registers, 7, "only the jobs never registered");
    let api = report
        .jobs
        .iter()
        .find(|j| j.job_id == "bookinfo-apiserver")
        .unwrap();
    assert!(api.state_written && api.version == 0);
    let state = store.load("bookinfo").await.unwrap();
    assert_eq!(state.jobs.len(), 10);
    assert!(state.lock.is_none());
    for (id, r) in &state.jobs {
        let j = b
            .nomad
            .read_job(id, &QueryOptions::new())
            .await
            .unwrap()
            .value;
        assert_eq!(
            j["JobModifyIndex"].as_u64(),
            Some(r.value.job_modify_index),
            "{id}"
        );
        assert_eq!(j["Version"].as_u64(), Some(0), "{id} registered twice");
    }
    assert_eq!(state.spec.unwrap().value.spec_hash, plan.spec_hash);
    let again = plain.apply(&plan, &o).await.unwrap();
    assert_eq!(again.writes.total(), 0);
}
