//! Full applies through the HTTP clients against the HTTP fake of Nomad and Consul
//! (`istio_nomad_tests::mock_cluster`, answering from the in-memory servers whose rules follow
//! the servers' code, see `tests/FAKES.md`), with the installer's state in a real etcd 3.4
//! or in the fake Consul:
//!
//! * apply of the sample on a fresh cluster (index 0 before the first deployment, deployments
//!   made after the register answers), apply again (0 writes), diff (in sync), destroy;
//! * the same after an unrelated job already ran;
//! * the lock lost in the middle of an apply (etcd lease revoked, Consul session destroyed):
//!   the apply stops with a conflict before its next write, and a re-run converges.
#![allow(clippy::unwrap_used)]

#[path = "../../istio-nomad-core/tests/common/mod.rs"]
mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use istio_nomad_core::backend::etcd::RangeRequest;
use istio_nomad_core::backend::nomad::{
    AllocationListStub, Deployment, DeregisterResponse, Evaluation, JobVersions, NodeInfo,
    NodeListStub, PlanResponse, RegisterRequest, RegisterResponse, ValidateResponse,
};
use istio_nomad_core::backend::{
    BackendResult, Consul, ConsulConfig, Etcd, EtcdConfig, HttpConsul, HttpEtcd, HttpNomad,
    Indexed, JobBody, Nomad, NomadConfig, QueryOptions,
};
use istio_nomad_core::install::{
    ApplyOptions, Backends, ConsulStateStore, EtcdStateStore, Installer, StateStore,
};
use istio_nomad_core::plan::{plan, Plan};
use istio_nomad_core::spec::MeshSpec;
use istio_nomad_core::Error;
use istio_nomad_tests::etcd::{etcd_binary_or_skip, EtcdMember};
use istio_nomad_tests::mock_cluster::MockCluster;
use serde_json::Value;

fn bookinfo() -> Plan {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/bookinfo.mesh.hcl"
    ))
    .unwrap();
    plan(&MeshSpec::from_hcl(&text).unwrap()).unwrap()
}

fn http_nomad(mock: &MockCluster) -> Arc<dyn Nomad> {
    Arc::new(
        HttpNomad::new(
            &NomadConfig::builder()
                .address(mock.nomad.uri())
                .token("nomad-secret")
                .options(common::fast_options(2))
                .build()
                .unwrap(),
        )
        .unwrap(),
    )
}

fn http_consul(mock: &MockCluster) -> Arc<dyn Consul> {
    Arc::new(
        HttpConsul::new(
            &ConsulConfig::builder()
                .address(mock.consul.uri())
                .options(common::fast_options(1))
                .build()
                .unwrap(),
        )
        .unwrap(),
    )
}

fn http_etcd(url: &str) -> Arc<dyn Etcd> {
    Arc::new(
        HttpEtcd::new(
            &EtcdConfig::builder()
                .endpoints([url])
                .options(common::fast_options(2))
                .build()
                .unwrap(),
        )
        .unwrap(),
    )
}

fn opts() -> ApplyOptions {
    ApplyOptions::builder()
        .query_wait(Duration::from_secs(10))
        .health_deadline(Duration::from_secs(60))
        .build()
        .unwrap()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StateIn {
    Etcd,
    Consul,
}

fn store(state: StateIn, consul: Arc<dyn Consul>, etcd: Arc<dyn Etcd>) -> Arc<dyn StateStore> {
    match state {
        StateIn::Etcd => Arc::new(EtcdStateStore::new(etcd)),
        StateIn::Consul => {
            Arc::new(ConsulStateStore::new(consul).lock_delay(Duration::from_secs(1)))
        }
    }
}

/// Registers and runs a job that has nothing to do with the mesh.
async fn run_unrelated_job(n: &dyn Nomad) {
    let r = n
        .register_job(&RegisterRequest::new(common::scenarios::job(
            "billing",
            "nginx:1.27",
            2,
        )))
        .await
        .unwrap();
    common::scenarios::wait_deployment(n, "billing", r.job_modify_index).await;
}

async fn apply_again_diff_destroy(state: StateIn, unrelated: bool) {
    let Some(bin) = etcd_binary_or_skip("apply_again_diff_destroy") else {
        return;
    };
    let member = EtcdMember::start_single(&bin, &[]).unwrap();
    let mock = MockCluster::start(Duration::ZERO).await;
    let (nomad, consul, etcd) = (
        http_nomad(&mock),
        http_consul(&mock),
        http_etcd(member.client_url()),
    );
    if unrelated {
        run_unrelated_job(nomad.as_ref()).await;
    }
    let installer = Installer::builder(Backends::new(nomad.clone(), consul.clone(), etcd.clone()))
        .state_store(store(state, consul.clone(), etcd.clone()))
        .holder("ci@fake")
        .build();
    let plan = bookinfo();
    let what = format!("state in {state:?}, unrelated job: {unrelated}");

    // 1. apply on a fresh cluster.
    let report = installer.apply(&plan, &opts()).await.unwrap();
    assert_eq!(report.created().len(), 10, "{what}");
    assert_eq!(report.writes.registers, 10, "{what}");
    assert_eq!(report.writes.state_writes, 11, "{what}: 10 jobs + the spec");
    let requests = mock.requests();
    // Every register: check-and-set on a new job, the planned job as sent, valid per the
    // Nomad OpenAPI schema.
    let registers: Vec<Value> = requests
        .iter()
        .filter(|(m, p, _, _)| m == "POST" && p == "/v1/jobs")
        .map(|(_, _, _, b)| serde_json::from_slice(b).unwrap())
        .filter(|b: &Value| b["Job"]["ID"] != "billing")
        .collect();
    assert_eq!(registers.len(), 10, "{what}");
    for body in &registers {
        assert_eq!(body["EnforceIndex"], Value::Bool(true));
        assert_eq!(body["JobModifyIndex"], 0);
        let id = body["Job"]["ID"].as_str().unwrap();
        assert_eq!(
            body["Job"],
            plan.job(id).unwrap().job.to_json_value().unwrap()
        );
        common::check_job_body_against_openapi(&body["Job"]);
    }
    // Every plan asked for the diff.
    for (_, p, _, b) in requests
        .iter()
        .filter(|(m, p, _, _)| m == "POST" && p.ends_with("/plan"))
    {
        let body: Value = serde_json::from_slice(b).unwrap();
        assert_eq!(body["Diff"], Value::Bool(true), "{p}");
    }
    // The installer followed each register's evaluation with a blocking query past its
    // create index, then read the deployment Nomad made for it.
    let evals = requests
        .iter()
        .filter(|(m, p, q, _)| {
            m == "GET" && p.starts_with("/v1/evaluation/") && q.contains("index=")
        })
        .count();
    assert!(evals >= 10, "{what}: {evals} blocking evaluation reads");
    if !unrelated {
        // The first deployment read of a fresh cluster answered X-Nomad-Index 0 (the
        // deployment table was empty) and was followed by no blocking query on index 0.
        assert!(requests
            .iter()
            .all(|(_, _, q, _)| !q.split('&').any(|kv| kv == "index=0")));
    }
    // The Consul health gate asked for passing instances only, once per service at least:
    // 12 services (Mixer registers no prometheus service: nothing configures that handler).
    let health: Vec<&(String, String, String, Vec<u8>)> = requests
        .iter()
        .filter(|(_, p, _, _)| p.starts_with("/v1/health/service/"))
        .collect();
    assert!(health.len() >= 12, "{what}: {} health reads", health.len());
    for (_, p, q, _) in &health {
        assert!(
            q.split('&')
                .any(|kv| kv == "passing" || kv.starts_with("passing=")),
            "{p}?{q}"
        );
    }
    // The etcd members are one group's allocations; their tags name each member by its
    // allocation index, as Nomad's client interpolates them.
    let mut members: Vec<Vec<String>> = consul
        .catalog_service("bookinfo-etcd", &QueryOptions::new())
        .await
        .unwrap()
        .value
        .into_iter()
        .map(|i| i.service_tags)
        .collect();
    members.sort();
    assert_eq!(members, [["etcd-0"], ["etcd-1"], ["etcd-2"]], "{what}");
    let state_now = installer.state("bookinfo").await.unwrap();
    assert_eq!(state_now.jobs.len(), 10);
    assert!(state_now.lock.is_none(), "{what}: the lock was released");
    for (id, r) in &state_now.jobs {
        let j = nomad
            .read_job(id, &QueryOptions::new())
            .await
            .unwrap()
            .value;
        assert_eq!(
            Some(r.value.job_modify_index),
            j["JobModifyIndex"].as_u64(),
            "{id}"
        );
        assert_eq!(Some(r.value.version), j["Version"].as_u64(), "{id}");
    }

    // 2. apply again: nothing to write, no lock.
    let before = mock.requests().len();
    let again = installer.apply(&plan, &opts()).await.unwrap();
    assert_eq!(again.writes.total(), 0, "{what}: {:?}", again.writes);
    let new: Vec<(String, String)> = mock.requests()[before..]
        .iter()
        .map(|(m, p, _, _)| (m.clone(), p.clone()))
        .collect();
    assert!(
        new.iter()
            .all(|(m, p)| (m == "POST" && p.ends_with("/plan")) || m == "GET"),
        "{what}: only plans and reads: {new:?}"
    );
    assert_eq!(
        new.iter()
            .filter(|(m, p)| m == "POST" && p.ends_with("/plan"))
            .count(),
        10,
        "{what}: one plan per job"
    );

    // 3. diff: in sync.
    let d = installer.diff(&plan).await.unwrap();
    assert!(d.in_sync(), "{what}: {:?}", d.jobs);

    // 4. destroy: every mesh job purged, services gone, state cleared; the unrelated job
    // untouched.
    let gone = installer.destroy(&plan, &opts()).await.unwrap();
    assert_eq!(gone.deregistered.len(), 10, "{what}");
    let left: Vec<String> = mock.jobs().await.into_keys().collect();
    if unrelated {
        assert_eq!(left, ["billing"], "{what}");
    } else {
        assert!(left.is_empty(), "{what}: {left:?}");
    }
    assert!(installer.state("bookinfo").await.unwrap().is_empty());
    assert!(consul
        .health_service("productpage", false, &QueryOptions::new())
        .await
        .unwrap()
        .value
        .is_empty());
    // A second destroy finds nothing and writes nothing.
    let again = installer.destroy(&plan, &opts()).await.unwrap();
    assert_eq!(again.writes.total(), 0);
}

#[tokio::test]
async fn fresh_cluster_apply_again_diff_destroy_state_in_etcd() {
    apply_again_diff_destroy(StateIn::Etcd, false).await;
}

#[tokio::test]
async fn fresh_cluster_apply_again_diff_destroy_state_in_consul() {
    apply_again_diff_destroy(StateIn::Consul, false).await;
}

#[tokio::test]
async fn after_an_unrelated_job_state_in_etcd() {
    apply_again_diff_destroy(StateIn::Etcd, true).await;
}

#[tokio::test]
async fn after_an_unrelated_job_state_in_consul() {
    apply_again_diff_destroy(StateIn::Consul, true).await;
}

/// A Nomad whose `n`-th register, once answered, takes the mesh lock away (as an operator
/// deleting it, or the lease / session expiring) and returns only after the keepalive had
/// time to notice.
struct LoseLockAt {
    inner: Arc<dyn Nomad>,
    at: usize,
    registers: AtomicUsize,
    lose: Arc<dyn Fn() -> futures_like::BoxFuture + Send + Sync>,
}

mod futures_like {
    pub type BoxFuture = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;
}

#[async_trait]
impl Nomad for LoseLockAt {
    async fn register_job(&self, req: &RegisterRequest) -> BackendResult<RegisterResponse> {
        let r = self.inner.register_job(req).await;
        if self.registers.fetch_add(1, Ordering::SeqCst) + 1 == self.at {
            (self.lose)().await;
            tokio::time::sleep(Duration::from_millis(1200)).await;
        }
        r
    }
    async fn plan_job(&self, job: &JobBody, diff: bool) -> BackendResult<PlanResponse> {
        self.inner.plan_job(job, diff).await
    }
    async fn validate_job(&self, job: &JobBody) -> BackendResult<ValidateResponse> {
        self.inner.validate_job(job).await
    }
    async fn read_job(&self, id: &str, q: &QueryOptions) -> BackendResult<Indexed<JobBody>> {
        self.inner.read_job(id, q).await
    }
    async fn job_versions(&self, id: &str, diffs: bool) -> BackendResult<Indexed<JobVersions>> {
        self.inner.job_versions(id, diffs).await
    }
    async fn deregister_job(&self, id: &str, purge: bool) -> BackendResult<DeregisterResponse> {
        self.inner.deregister_job(id, purge).await
    }
    async fn job_allocations(
        &self,
        id: &str,
        all: bool,
        q: &QueryOptions,
    ) -> BackendResult<Indexed<Vec<AllocationListStub>>> {
        self.inner.job_allocations(id, all, q).await
    }
    async fn job_deployments(
        &self,
        id: &str,
        q: &QueryOptions,
    ) -> BackendResult<Indexed<Vec<Deployment>>> {
        self.inner.job_deployments(id, q).await
    }
    async fn latest_deployment(
        &self,
        id: &str,
        q: &QueryOptions,
    ) -> BackendResult<Indexed<Option<Deployment>>> {
        self.inner.latest_deployment(id, q).await
    }
    async fn job_evaluations(
        &self,
        id: &str,
        q: &QueryOptions,
    ) -> BackendResult<Indexed<Vec<Evaluation>>> {
        self.inner.job_evaluations(id, q).await
    }
    async fn evaluation(&self, id: &str, q: &QueryOptions) -> BackendResult<Indexed<Evaluation>> {
        self.inner.evaluation(id, q).await
    }
    async fn list_nodes(&self, q: &QueryOptions) -> BackendResult<Indexed<Vec<NodeListStub>>> {
        self.inner.list_nodes(q).await
    }
    async fn read_node(&self, id: &str, q: &QueryOptions) -> BackendResult<Indexed<NodeInfo>> {
        self.inner.read_node(id, q).await
    }
}

async fn lock_lost_mid_apply(state: StateIn) {
    let Some(bin) = etcd_binary_or_skip("lock_lost_mid_apply") else {
        return;
    };
    let member = EtcdMember::start_single(&bin, &[]).unwrap();
    let mock = MockCluster::start(Duration::ZERO).await;
    let (nomad, consul, etcd) = (
        http_nomad(&mock),
        http_consul(&mock),
        http_etcd(member.client_url()),
    );
    let lose: Arc<dyn Fn() -> futures_like::BoxFuture + Send + Sync> = {
        let (etcd, consul) = (etcd.clone(), consul.clone());
        Arc::new(move || {
            let (etcd, consul) = (etcd.clone(), consul.clone());
            Box::pin(async move {
                match state {
                    StateIn::Etcd => {
                        // Revoke the lease the lock key is bound to.
                        let kv = etcd
                            .range(&RangeRequest::key(b"istio-nomad/bookinfo/lock"))
                            .await
                            .unwrap()
                            .kvs
                            .remove(0);
                        etcd.lease_revoke(kv.lease).await.unwrap();
                    }
                    StateIn::Consul => {
                        // Destroy the session holding the lock key.
                        let pair = consul
                            .kv_get("istio-nomad/bookinfo/lock", &QueryOptions::new())
                            .await
                            .unwrap()
                            .value
                            .unwrap();
                        consul
                            .session_destroy(&pair.session.unwrap())
                            .await
                            .unwrap();
                    }
                }
            })
        })
    };
    let faulty = Arc::new(LoseLockAt {
        inner: nomad.clone(),
        at: 2,
        registers: AtomicUsize::new(0),
        lose,
    });
    let o = ApplyOptions::builder()
        .lock_ttl(Duration::from_secs(1))
        .lock_wait(Duration::from_secs(5))
        .query_wait(Duration::from_secs(5))
        .build()
        .unwrap();
    let installer = Installer::builder(Backends::new(faulty.clone(), consul.clone(), etcd.clone()))
        .state_store(store(state, consul.clone(), etcd.clone()))
        .holder("ci@fake")
        .build();
    let plan = bookinfo();
    let err = installer.apply(&plan, &o).await.unwrap_err();
    match &err {
        Error::Conflict(c) => assert!(
            c.name() == "lock_lost" && c.to_string().contains("was lost"),
            "{state:?}: {c}"
        ),
        e => panic!("{state:?}: expected a conflict, got {e}"),
    }
    // Stage 1 has two jobs (etcd, zipkin): both registers were in flight; nothing was
    // written after the loss was noticed: no state record, no other register.
    let registers_before_rerun = faulty.registers.load(Ordering::SeqCst);
    assert_eq!(registers_before_rerun, 2, "{state:?}");
    let recorded = installer.state("bookinfo").await.unwrap();
    assert!(
        recorded.jobs.is_empty(),
        "{state:?}: {:?}",
        recorded.jobs.keys()
    );
    assert!(recorded.spec.is_none());
    // A re-run (with a lock wait past Consul's lock delay) converges.
    let report = installer.apply(&plan, &o).await.unwrap();
    assert_eq!(report.unchanged().len() + report.created().len(), 10);
    assert_eq!(
        report.created().len(),
        8,
        "{state:?}: the two registered jobs are kept"
    );
    let d = installer.diff(&plan).await.unwrap();
    assert!(d.in_sync(), "{state:?}");
    let again = installer.apply(&plan, &o).await.unwrap();
    assert_eq!(again.writes.total(), 0);
    // The session / lease the re-run used was given back.
    if state == StateIn::Consul {
        assert!(mock.cluster.consul.session_ids().is_empty());
    }
}

#[tokio::test]
async fn lock_lost_mid_apply_etcd_lease_revoked() {
    lock_lost_mid_apply(StateIn::Etcd).await;
}

#[tokio::test]
async fn lock_lost_mid_apply_consul_session_destroyed() {
    lock_lost_mid_apply(StateIn::Consul).await;
}
