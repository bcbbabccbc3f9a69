//! Server behaviour written once against the `Nomad`, `Consul` and `Etcd` traits. The same
//! scenarios run against the in-memory servers (`behaviour.rs`), against the HTTP clients
//! talking to the HTTP fake of the tests crate (`tests/tests/fakes_contract.rs`), and, when
//! `NOMAD_ADDR` / `CONSUL_HTTP_ADDR` are set, against live servers. Each assertion is a
//! behaviour listed with its source in `tests/FAKES.md`.
#![allow(dead_code, clippy::unwrap_used)]

use std::time::Duration;

use istio_nomad_core::backend::consul::{SessionBehavior, SessionRequest, TxnOp};
use istio_nomad_core::backend::nomad::{
    deployment_status, Deployment, Evaluation, RegisterRequest,
};
use istio_nomad_core::backend::{Consul, Etcd, Nomad, QueryOptions};
use serde_json::{json, Value};

/// What the server under test allows a scenario to assume.
#[derive(Debug, Clone, Copy)]
pub struct Env {
    /// No deployment was ever made on the cluster (the deployment table index is 0).
    pub fresh: bool,
    /// Allocations really run (an in-memory or fake cluster; a live agent may lack the
    /// driver).
    pub allocs_run: bool,
}

/// A service job with one group of `count` nginx tasks.
pub fn job(id: &str, image: &str, count: u64) -> Value {
    json!({
        "ID": id,
        "Name": id,
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

/// Waits (blocking on the evaluation past `index`) until the evaluation leaves `pending`.
pub async fn wait_eval(n: &dyn Nomad, id: &str, index: u64) -> Evaluation {
    let mut q = QueryOptions::blocking(index, Duration::from_secs(5));
    for _ in 0..100 {
        let e = n.evaluation(id, &q).await.unwrap();
        if e.value.status != "pending" {
            return e.value;
        }
        q = QueryOptions::blocking(e.index, Duration::from_secs(5));
    }
    panic!("evaluation {id} never left pending");
}

/// Waits until the job's latest deployment with `JobSpecModifyIndex == jmi` leaves
/// `running`. Index 0 (no deployment on the cluster yet) does not block: pauses instead.
pub async fn wait_deployment(n: &dyn Nomad, job: &str, jmi: u64) -> Deployment {
    let mut q = QueryOptions::new();
    for _ in 0..200 {
        let d = n.latest_deployment(job, &q).await.unwrap();
        if let Some(dep) = &d.value {
            if dep.job_spec_modify_index == jmi && dep.status != deployment_status::RUNNING {
                return dep.clone();
            }
        }
        if d.index == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        q = QueryOptions::blocking(d.index, Duration::from_secs(5));
    }
    panic!("no finished deployment of {job} at JobSpecModifyIndex {jmi}");
}

/// Waits until `check` accepts the job's allocations.
pub async fn wait_allocs(
    n: &dyn Nomad,
    job: &str,
    check: impl Fn(&[istio_nomad_core::backend::nomad::AllocationListStub]) -> bool,
) {
    let mut q = QueryOptions::new();
    for _ in 0..200 {
        let a = n.job_allocations(job, false, &q).await.unwrap();
        if check(&a.value) {
            return;
        }
        if a.index == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        q = QueryOptions::blocking(a.index, Duration::from_secs(5));
    }
    panic!("allocations of {job} never reached the expected state");
}

/// Index 0 before the first deployment, and deployments made by the scheduler after the
/// register answered: a read right after the register sees no deployment of the new
/// version; the evaluation, once complete, names it.
pub async fn nomad_index_zero_and_async_deployment(n: &dyn Nomad, env: Env, id: &str) {
    let before = n.latest_deployment(id, &QueryOptions::new()).await.unwrap();
    assert!(before.value.is_none());
    if env.fresh {
        assert_eq!(before.index, 0, "the deployment table is empty: index 0");
        // A blocking query on index 0 does not block.
        let started = std::time::Instant::now();
        let again = n
            .latest_deployment(id, &QueryOptions::blocking(0, Duration::from_secs(5)))
            .await
            .unwrap();
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_eq!(again.index, 0);
    }
    let r = n
        .register_job(&RegisterRequest::new(job(id, "nginx:1.25", 2)).enforce_index(0))
        .await
        .unwrap();
    assert!(!r.eval_id.is_empty());
    assert!(r.eval_create_index >= r.job_modify_index);
    let right_after = n
        .latest_deployment(id, &QueryOptions::new())
        .await
        .unwrap()
        .value;
    let eval_now = n
        .evaluation(&r.eval_id, &QueryOptions::new())
        .await
        .unwrap()
        .value;
    if eval_now.status == "pending" {
        assert!(
            right_after.is_none(),
            "no deployment before the scheduler ran: {right_after:?}"
        );
    }
    let eval = wait_eval(n, &r.eval_id, r.eval_create_index).await;
    assert_eq!(eval.status, "complete");
    assert_eq!(eval.triggered_by, "job-register");
    assert_eq!(eval.job_modify_index, r.job_modify_index);
    let dep = n
        .latest_deployment(id, &QueryOptions::new())
        .await
        .unwrap()
        .value
        .unwrap();
    assert_eq!(eval.deployment_id, dep.id);
    assert_eq!(dep.job_spec_modify_index, r.job_modify_index);
    assert_eq!(dep.job_version, 0);
    if env.allocs_run {
        let done = wait_deployment(n, id, r.job_modify_index).await;
        assert_eq!(done.status, deployment_status::SUCCESSFUL);
        assert_eq!(done.status_description, "Deployment completed successfully");
        let g = &done.task_groups["frontend"];
        assert_eq!((g.desired_total, g.healthy_allocs), (2, 2));
        // A successful deployment marks the version stable: ModifyIndex moves past
        // JobModifyIndex.
        let j = n.read_job(id, &QueryOptions::new()).await.unwrap().value;
        assert_eq!(j["Stable"], json!(true));
        assert_eq!(j["JobModifyIndex"].as_u64(), Some(r.job_modify_index));
        assert!(j["ModifyIndex"].as_u64().unwrap() > r.job_modify_index);
        assert!(dep.job_modify_index < j["ModifyIndex"].as_u64().unwrap());
    }
}

/// Versions, `EnforceIndex`, and the unchanged register: no new version, no new deployment,
/// and an answer that is the job's `ModifyIndex` (1.11.2 and later) or its
/// `JobModifyIndex` (before).
pub async fn nomad_versions_and_check_and_set(n: &dyn Nomad, env: Env, id: &str) {
    let r1 = n
        .register_job(&RegisterRequest::new(job(id, "nginx:1.25", 2)).enforce_index(0))
        .await
        .unwrap();
    let j = n.read_job(id, &QueryOptions::new()).await.unwrap();
    assert_eq!(j.value["Version"], json!(0));
    let jmi = j.value["JobModifyIndex"].as_u64().unwrap();
    assert_eq!(jmi, r1.job_modify_index);

    let e = n
        .register_job(&RegisterRequest::new(job(id, "nginx:1.25", 2)).enforce_index(0))
        .await
        .unwrap_err();
    assert!(e.is_conflict(), "{e:?}");
    assert!(
        e.to_string()
            .contains("Enforcing job modify index 0: job already exists"),
        "{e}"
    );
    let e = n
        .register_job(&RegisterRequest::new(job(id, "nginx:1.26", 2)).enforce_index(jmi + 1000))
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains(&format!(
            "job exists with conflicting job modify index: {jmi}"
        )),
        "{e}"
    );
    if env.allocs_run {
        wait_deployment(n, id, jmi).await;
    }
    let deployments_before = n
        .job_deployments(id, &QueryOptions::new())
        .await
        .unwrap()
        .value
        .len();
    // Same spec again.
    let before = n.read_job(id, &QueryOptions::new()).await.unwrap().value;
    let same = n
        .register_job(&RegisterRequest::new(job(id, "nginx:1.25", 2)).enforce_index(jmi))
        .await
        .unwrap();
    let modify_index = before["ModifyIndex"].as_u64().unwrap();
    assert!(
        same.job_modify_index == jmi || same.job_modify_index == modify_index,
        "an unchanged register answers JobModifyIndex {jmi} (before 1.11.2) or ModifyIndex \
         {modify_index} (1.11.2 on), got {}",
        same.job_modify_index
    );
    let eval = wait_eval(n, &same.eval_id, same.eval_create_index).await;
    assert_eq!(eval.status, "complete");
    let again = n.read_job(id, &QueryOptions::new()).await.unwrap().value;
    assert_eq!(again["Version"], json!(0));
    assert_eq!(again["JobModifyIndex"].as_u64(), Some(jmi));
    assert_eq!(
        n.job_deployments(id, &QueryOptions::new())
            .await
            .unwrap()
            .value
            .len(),
        deployments_before,
        "an unchanged register creates no deployment"
    );
    // A change: version 1, and the versions list shows both with a diff.
    n.register_job(&RegisterRequest::new(job(id, "nginx:1.26", 2)).enforce_index(jmi))
        .await
        .unwrap();
    let v = n.job_versions(id, true).await.unwrap();
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

/// No deployment for an empty update strategy (`max_parallel = 0`), a count of 0, or a
/// batch job; the evaluation completes, allocations decide (batch: `complete`).
pub async fn nomad_no_deployment_cases(n: &dyn Nomad, env: Env, prefix: &str) {
    let no_update = format!("{prefix}-noupdate");
    let mut j = job(&no_update, "nginx", 2);
    j["Update"] = json!({"MaxParallel": 0});
    let r = n.register_job(&RegisterRequest::new(j)).await.unwrap();
    let eval = wait_eval(n, &r.eval_id, r.eval_create_index).await;
    assert_eq!(eval.status, "complete");
    assert_eq!(eval.deployment_id, "", "max_parallel = 0: no deployment");
    assert!(n
        .latest_deployment(&no_update, &QueryOptions::new())
        .await
        .unwrap()
        .value
        .is_none());
    if env.allocs_run {
        wait_allocs(n, &no_update, |a| {
            a.len() == 2
                && a.iter()
                    .all(|a| a.client_status == "running" && a.deployment_status.is_none())
        })
        .await;
    }

    let zero = format!("{prefix}-zero");
    let r = n
        .register_job(&RegisterRequest::new(job(&zero, "nginx", 0)))
        .await
        .unwrap();
    let eval = wait_eval(n, &r.eval_id, r.eval_create_index).await;
    assert_eq!(eval.deployment_id, "", "count 0: no deployment");
    assert!(n
        .job_allocations(&zero, false, &QueryOptions::new())
        .await
        .unwrap()
        .value
        .is_empty());

    let batch = format!("{prefix}-batch");
    let mut j = job(&batch, "busybox", 1);
    j["Type"] = json!("batch");
    let r = n.register_job(&RegisterRequest::new(j)).await.unwrap();
    let eval = wait_eval(n, &r.eval_id, r.eval_create_index).await;
    assert_eq!(eval.kind, "batch");
    assert_eq!(eval.deployment_id, "", "batch jobs get no deployment");
    if env.allocs_run {
        wait_allocs(n, &batch, |a| {
            a.len() == 1 && a[0].client_status == "complete"
        })
        .await;
        let j = n
            .read_job(&batch, &QueryOptions::new())
            .await
            .unwrap()
            .value;
        assert_eq!(j["Status"], json!("dead"));
    }
}

/// Deregistering a job that does not exist is no error and writes nothing: an empty
/// evaluation and index 0.
pub async fn nomad_deregister_unknown(n: &dyn Nomad, id: &str) {
    let d = n.deregister_job(id, true).await.unwrap();
    assert_eq!(
        (d.eval_id.as_str(), d.eval_create_index, d.job_modify_index),
        ("", 0, 0)
    );
}

/// A new version replaces the allocations under a new deployment that cancels nothing
/// finished; a purge removes the job and stops its allocations asynchronously.
pub async fn nomad_update_and_purge(n: &dyn Nomad, env: Env, id: &str) {
    let r = n
        .register_job(&RegisterRequest::new(job(id, "nginx:1.25", 2)))
        .await
        .unwrap();
    if !env.allocs_run {
        n.deregister_job(id, true).await.unwrap();
        return;
    }
    wait_deployment(n, id, r.job_modify_index).await;
    let r2 = n
        .register_job(&RegisterRequest::new(job(id, "nginx:1.26", 1)))
        .await
        .unwrap();
    let d = wait_deployment(n, id, r2.job_modify_index).await;
    assert_eq!(d.status, deployment_status::SUCCESSFUL);
    let deps = n.job_deployments(id, &QueryOptions::new()).await.unwrap();
    assert_eq!(
        deps.value.iter().map(|d| d.job_version).collect::<Vec<_>>(),
        vec![1, 0]
    );
    wait_allocs(n, id, |a| {
        a.iter().filter(|a| a.desired_status == "run").count() == 1
            && a.iter().filter(|a| a.desired_status == "stop").count() == 2
    })
    .await;
    let d = n.deregister_job(id, true).await.unwrap();
    assert!(!d.eval_id.is_empty());
    assert!(n
        .read_job(id, &QueryOptions::new())
        .await
        .unwrap_err()
        .is_not_found());
    wait_eval(n, &d.eval_id, d.eval_create_index).await;
    let allocs = n
        .job_allocations(id, true, &QueryOptions::new())
        .await
        .unwrap()
        .value;
    assert!(allocs.iter().all(|a| a.desired_status == "stop"));
    assert!(n
        .evaluation("00000000-0000-0000-0000-000000000000", &QueryOptions::new())
        .await
        .unwrap_err()
        .is_not_found());
}

/// KV check-and-set, and `?cas` delete: an absent key answers true, a present one only at
/// its `ModifyIndex` (so never with `cas=0`).
pub async fn consul_kv_check_and_set(c: &dyn Consul, prefix: &str) {
    let state = format!("{prefix}/state");
    let other = format!("{prefix}/other");
    assert_eq!(
        c.kv_get(&state, &QueryOptions::new()).await.unwrap().value,
        None
    );
    assert!(c.kv_put(&state, b"v1", Some(0)).await.unwrap());
    assert!(
        !c.kv_put(&state, b"v1-again", Some(0)).await.unwrap(),
        "cas=0 only creates"
    );
    let cur = c.kv_get(&state, &QueryOptions::new()).await.unwrap();
    let pair = cur.value.unwrap();
    assert_eq!(pair.value, b"v1");
    assert!(cur.index >= pair.modify_index);
    assert!(!c
        .kv_put(&state, b"stale", Some(pair.modify_index + 7))
        .await
        .unwrap());
    // Writing the same value changes nothing: the entry keeps its ModifyIndex.
    assert!(c.kv_put(&state, b"v1", None).await.unwrap());
    let same = c
        .kv_get(&state, &QueryOptions::new())
        .await
        .unwrap()
        .value
        .unwrap();
    assert_eq!(same.modify_index, pair.modify_index);
    assert!(c
        .kv_put(&state, b"v2", Some(pair.modify_index))
        .await
        .unwrap());
    let now = c
        .kv_get(&state, &QueryOptions::new())
        .await
        .unwrap()
        .value
        .unwrap();
    assert_eq!(
        (now.value.as_slice(), now.create_index),
        (b"v2".as_slice(), pair.create_index)
    );
    assert!(now.modify_index > pair.modify_index);
    assert!(c.kv_put(&other, b"x", None).await.unwrap());
    let list = c
        .kv_list(&format!("{prefix}/"), &QueryOptions::new())
        .await
        .unwrap()
        .value;
    assert_eq!(
        list.iter().map(|p| p.key.clone()).collect::<Vec<_>>(),
        vec![other.clone(), state.clone()]
    );
    assert!(
        !c.kv_delete(&state, Some(0)).await.unwrap(),
        "cas=0 never deletes a present key"
    );
    assert!(!c.kv_delete(&state, Some(pair.modify_index)).await.unwrap());
    assert!(c.kv_delete(&state, Some(now.modify_index)).await.unwrap());
    assert!(
        c.kv_delete(&state, Some(now.modify_index)).await.unwrap(),
        "a cas delete of an absent key answers true"
    );
    assert!(
        c.kv_delete(&state, Some(0)).await.unwrap(),
        "cas=0 on an absent key answers true"
    );
    assert!(
        c.kv_delete(&state, None).await.unwrap(),
        "deleting an absent key succeeds"
    );
    assert_eq!(
        c.kv_get(&state, &QueryOptions::new()).await.unwrap().value,
        None
    );
    c.kv_delete(&other, None).await.unwrap();
}

/// Sessions and locks: a TTL under the server's minimum is refused; `?acquire=` takes a
/// free key and refuses a held one; a destroyed session's keys go as its behavior says and
/// stay unlockable for the lock delay; renewing a gone session answers none.
pub async fn consul_sessions_and_locks(c: &dyn Consul, prefix: &str, ttl: Duration) {
    let key = format!("{prefix}/lock");
    let e = c
        .session_create(&SessionRequest::new("too short").ttl(Duration::from_secs(1)))
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(500));
    assert!(e.to_string().contains("Invalid Session TTL"), "{e}");

    let a = c
        .session_create(
            &SessionRequest::new("alice")
                .ttl(ttl)
                .lock_delay(Duration::from_millis(300))
                .behavior(SessionBehavior::Delete),
        )
        .await
        .unwrap();
    let b = c
        .session_create(&SessionRequest::new("bob").ttl(ttl))
        .await
        .unwrap();
    assert_ne!(a, b);
    let info = c
        .session_info(&a, &QueryOptions::new())
        .await
        .unwrap()
        .value
        .unwrap();
    assert_eq!(
        (info.name.as_str(), info.behavior.as_str()),
        ("alice", "delete")
    );
    assert_eq!(info.ttl, format!("{}s", ttl.as_secs()));

    assert!(c.kv_acquire(&key, b"alice", &a).await.unwrap());
    assert!(
        c.kv_acquire(&key, b"alice again", &a).await.unwrap(),
        "the holder re-acquires"
    );
    assert!(
        !c.kv_acquire(&key, b"bob", &b).await.unwrap(),
        "held by alice"
    );
    let held = c
        .kv_get(&key, &QueryOptions::new())
        .await
        .unwrap()
        .value
        .unwrap();
    assert_eq!(held.session.as_deref(), Some(a.as_str()));
    assert_eq!(held.lock_index, 1);
    assert_eq!(held.value, b"alice again");
    assert!(
        !c.kv_release(&key, b"", &b).await.unwrap(),
        "bob holds nothing"
    );

    assert!(c.session_renew(&a).await.unwrap().is_some());
    c.session_destroy(&a).await.unwrap();
    assert!(c.session_renew(&a).await.unwrap().is_none(), "gone");
    assert!(c
        .session_info(&a, &QueryOptions::new())
        .await
        .unwrap()
        .value
        .is_none());
    // Behavior delete: the held key went with the session.
    assert!(c
        .kv_get(&key, &QueryOptions::new())
        .await
        .unwrap()
        .value
        .is_none());
    // Lock delay: the key cannot be taken right away.
    assert!(!c.kv_acquire(&key, b"bob", &b).await.unwrap());
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(c.kv_acquire(&key, b"bob", &b).await.unwrap());
    // Behavior release (bob's): the key stays, unlocked.
    c.session_destroy(&b).await.unwrap();
    let released = c
        .kv_get(&key, &QueryOptions::new())
        .await
        .unwrap()
        .value
        .unwrap();
    assert_eq!(released.session, None);
    assert_eq!(released.value, b"bob");
    // Within the lock delay the acquire answers false before the session is even looked
    // at (kvsPreApply runs before the state store's kvsLockTxn).
    assert!(!c.kv_acquire(&key, b"x", &b).await.unwrap());
    let fresh = format!("{prefix}/other-lock");
    let e = c.kv_acquire(&fresh, b"x", &b).await.unwrap_err();
    assert_eq!(e.status(), Some(500), "an unknown session is an error: {e}");
    assert!(e.to_string().contains("invalid session"), "{e}");
    c.kv_delete(&key, None).await.unwrap();
    c.session_destroy(&b).await.unwrap();
}

/// `/v1/txn`: a `check-session` and a `cas` in one transaction; a failed check rolls the
/// whole transaction back and answers the failed operation's index.
pub async fn consul_txn(c: &dyn Consul, prefix: &str, ttl: Duration) {
    let lock = format!("{prefix}/lock");
    let data = format!("{prefix}/data");
    let s = c
        .session_create(&SessionRequest::new("txn").ttl(ttl))
        .await
        .unwrap();
    assert!(c.kv_acquire(&lock, b"me", &s).await.unwrap());
    let r = c
        .txn(&[
            TxnOp::CheckSession {
                key: lock.clone(),
                session: s.clone(),
            },
            TxnOp::Cas {
                key: data.clone(),
                value: b"one".to_vec(),
                index: 0,
            },
        ])
        .await
        .unwrap();
    assert!(r.succeeded(), "{r:?}");
    let written = r.results.iter().find(|p| p.key == data).unwrap();
    assert!(written.value.is_empty(), "results carry no value");
    let first = written.modify_index;
    let stored = c
        .kv_get(&data, &QueryOptions::new())
        .await
        .unwrap()
        .value
        .unwrap();
    assert_eq!(
        (stored.value.as_slice(), stored.modify_index),
        (b"one".as_slice(), first)
    );
    // Stale cas: operation 1 fails, nothing is applied.
    let r = c
        .txn(&[
            TxnOp::CheckSession {
                key: lock.clone(),
                session: s.clone(),
            },
            TxnOp::Cas {
                key: data.clone(),
                value: b"two".to_vec(),
                index: first + 100,
            },
        ])
        .await
        .unwrap();
    assert!(!r.succeeded());
    assert_eq!(r.errors.len(), 1);
    assert_eq!(r.errors[0].op_index, 1);
    assert!(
        r.errors[0].what.contains("index is stale"),
        "{:?}",
        r.errors
    );
    // A session that no longer holds the lock: operation 0 fails, the cas is not applied.
    c.session_destroy(&s).await.unwrap();
    let r = c
        .txn(&[
            TxnOp::CheckSession {
                key: lock.clone(),
                session: s.clone(),
            },
            TxnOp::Cas {
                key: data.clone(),
                value: b"three".to_vec(),
                index: first,
            },
        ])
        .await
        .unwrap();
    assert!(!r.succeeded());
    assert_eq!(r.errors[0].op_index, 0);
    let still = c
        .kv_get(&data, &QueryOptions::new())
        .await
        .unwrap()
        .value
        .unwrap();
    assert_eq!(still.value, b"one");
    let r = c
        .txn(&[TxnOp::DeleteCas {
            key: data.clone(),
            index: first,
        }])
        .await
        .unwrap();
    assert!(r.succeeded());
    c.kv_delete(&lock, None).await.unwrap();
}

/// etcd: keeping a lease alive that does not exist (revoked, expired or never granted) is
/// "not found" (the gateway answers a TTL of 0: etcd-io/etcd v3.4
/// `etcdserver/api/v3rpc/lease.go` `leaseKeepAlive`).
pub async fn etcd_keepalive_of_unknown_lease(e: &dyn Etcd) {
    let l = e.lease_grant(5).await.unwrap();
    assert!(e.lease_keepalive(l.id).await.unwrap().ttl > 0);
    e.lease_revoke(l.id).await.unwrap();
    let err = e.lease_keepalive(l.id).await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    let err = e.lease_keepalive(0x7fff_0000_0000_0001).await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
}
