//! Fault injection and call counting for the backend traits.
//!
//! [`FaultInjector`] numbers every call made through the wrappers [`FaultyNomad`],
//! [`FaultyConsul`] and [`FaultyEtcd`] (one sequence across the three servers) and can make
//! the k-th call fail the way a real server or network fails:
//!
//! * [`FaultKind::Refused`]: the connection is refused, the server never sees the call;
//! * [`FaultKind::ServerError`]: the server answers HTTP 500 without doing anything;
//! * [`FaultKind::Timeout`]: a write reaches the server and takes effect, but the answer is
//!   lost (the caller sees a timeout); a read simply times out.
//!
//! It also keeps the log of calls, which tests use to count writes.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use istio_nomad_core::backend::QueryOptions;
//! use istio_nomad_core::install::fault::{FaultInjector, FaultKind};
//! use istio_nomad_core::install::InMemoryCluster;
//!
//! let faults = FaultInjector::new();
//! let backends = faults.wrap(&InMemoryCluster::new().backends());
//! faults.fail_call(2, FaultKind::ServerError);
//! assert!(backends.consul.kv_get("a", &QueryOptions::new()).await.is_ok());
//! let err = backends.consul.kv_get("a", &QueryOptions::new()).await.unwrap_err();
//! assert_eq!(err.status(), Some(500));
//! assert_eq!(faults.calls(), 2);
//! # });
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use super::backends::Backends;
use crate::backend::consul::{
    CatalogService, KvPair, ServiceEntry, ServiceRegistration, SessionInfo, SessionRequest, TxnOp,
    TxnResponse as ConsulTxnResponse,
};
use crate::backend::etcd::{
    DeleteRangeRequest, DeleteRangeResponse, LeaseGrantResponse, LeaseKeepAliveResponse,
    MemberListResponse, PutRequest, PutResponse, RangeRequest, RangeResponse, ResponseHeader,
    StatusResponse, TxnRequest, TxnResponse,
};
use crate::backend::nomad::{
    AllocationListStub, Deployment, DeregisterResponse, Evaluation, JobVersions, PlanResponse,
    RegisterRequest, RegisterResponse, ValidateResponse,
};
use crate::backend::request::Method;
use crate::backend::{
    BackendError, BackendResult, Consul, Etcd, Indexed, JobBody, Nomad, QueryOptions, Service,
};

/// How an injected fault fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultKind {
    /// Connection refused: the call never reaches the server.
    Refused,
    /// HTTP 500 without effect.
    ServerError,
    /// The call reaches the server (a write takes effect) but the answer is lost.
    Timeout,
}

impl FaultKind {
    /// Every kind.
    pub const ALL: [FaultKind; 3] = [
        FaultKind::Refused,
        FaultKind::ServerError,
        FaultKind::Timeout,
    ];

    fn error(self, service: Service, method: Method, path: &str) -> BackendError {
        match self {
            FaultKind::Refused => BackendError::connect(
                service,
                format!("http://{service}.invalid"),
                "connection refused (injected fault)",
            ),
            FaultKind::ServerError => BackendError::Http {
                service,
                method,
                path: path.to_owned(),
                status: 500,
                message: "injected fault".into(),
            },
            FaultKind::Timeout => BackendError::Timeout {
                service,
                method,
                path: path.to_owned(),
                after: Duration::from_secs(30),
            },
        }
    }
}

/// One call seen by the wrappers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// 1-based number in the sequence.
    pub n: u64,
    /// Server.
    pub service: Service,
    /// Trait method (`register_job`, `kv_put`, `txn`, ...).
    pub method: &'static str,
    /// Whether the call may change the server's state.
    pub write: bool,
    /// The fault injected, if any.
    pub fault: Option<FaultKind>,
}

/// Numbers the calls made through its wrappers and fails the chosen one.
#[derive(Debug, Default)]
pub struct FaultInjector {
    calls: AtomicU64,
    fail: Mutex<Option<(u64, FaultKind)>>,
    log: Mutex<Vec<Call>>,
}

impl FaultInjector {
    /// A counter with no fault armed.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Wraps the three backends so that their calls go through this injector.
    pub fn wrap(self: &Arc<Self>, b: &Backends) -> Backends {
        Backends {
            nomad: Arc::new(FaultyNomad::new(b.nomad.clone(), self.clone())),
            consul: Arc::new(FaultyConsul::new(b.consul.clone(), self.clone())),
            etcd: Arc::new(FaultyEtcd::new(b.etcd.clone(), self.clone())),
            source: b.source.clone(),
        }
    }

    /// Makes call number `n` (1-based, counted since the last [`FaultInjector::reset`])
    /// fail with `kind`. Only one fault is armed at a time.
    pub fn fail_call(&self, n: u64, kind: FaultKind) {
        if let Ok(mut f) = self.fail.lock() {
            *f = Some((n, kind));
        }
    }

    /// Disarms the fault.
    pub fn clear(&self) {
        if let Ok(mut f) = self.fail.lock() {
            *f = None;
        }
    }

    /// Restarts the numbering at 1, clears the log and disarms the fault.
    pub fn reset(&self) {
        self.calls.store(0, Ordering::SeqCst);
        self.clear();
        if let Ok(mut l) = self.log.lock() {
            l.clear();
        }
    }

    /// Calls since the last reset.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }

    /// The calls since the last reset.
    pub fn log(&self) -> Vec<Call> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// How many calls of trait method `method` were made since the last reset.
    pub fn count(&self, method: &str) -> usize {
        self.log().iter().filter(|c| c.method == method).count()
    }

    /// How many calls that may change state were made since the last reset.
    pub fn writes(&self) -> usize {
        self.log().iter().filter(|c| c.write).count()
    }

    fn next(&self, service: Service, method: &'static str, write: bool) -> Option<FaultKind> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let fault = self
            .fail
            .lock()
            .ok()
            .and_then(|f| f.filter(|(k, _)| *k == n).map(|(_, kind)| kind));
        if let Ok(mut l) = self.log.lock() {
            l.push(Call {
                n,
                service,
                method,
                write,
                fault,
            });
        }
        fault
    }
}

/// Runs `$call` through the injector: unchanged, failed before reaching the server, or
/// (a write with [`FaultKind::Timeout`]) forwarded with its answer dropped.
macro_rules! through {
    ($self:ident, $svc:expr, $name:literal, $write:expr, $method:expr, $path:expr, $call:expr) => {{
        match $self.faults.next($svc, $name, $write) {
            None => $call.await,
            Some(kind) => {
                if kind == FaultKind::Timeout && $write {
                    let _ = $call.await;
                }
                Err(kind.error($svc, $method, &$path))
            }
        }
    }};
}

/// A [`Nomad`] whose calls go through a [`FaultInjector`].
#[derive(Clone)]
pub struct FaultyNomad {
    inner: Arc<dyn Nomad>,
    faults: Arc<FaultInjector>,
}

impl FaultyNomad {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Nomad>, faults: Arc<FaultInjector>) -> Self {
        FaultyNomad { inner, faults }
    }
}

impl std::fmt::Debug for FaultyNomad {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultyNomad").finish_non_exhaustive()
    }
}

#[async_trait]
impl Nomad for FaultyNomad {
    async fn register_job(&self, req: &RegisterRequest) -> BackendResult<RegisterResponse> {
        through!(
            self,
            Service::Nomad,
            "register_job",
            true,
            Method::Post,
            "/v1/jobs",
            self.inner.register_job(req)
        )
    }

    async fn plan_job(&self, job: &JobBody, diff: bool) -> BackendResult<PlanResponse> {
        let path = format!(
            "/v1/job/{}/plan",
            job.get("ID").and_then(|v| v.as_str()).unwrap_or("")
        );
        through!(
            self,
            Service::Nomad,
            "plan_job",
            false,
            Method::Post,
            path,
            self.inner.plan_job(job, diff)
        )
    }

    async fn validate_job(&self, job: &JobBody) -> BackendResult<ValidateResponse> {
        through!(
            self,
            Service::Nomad,
            "validate_job",
            false,
            Method::Post,
            "/v1/validate/job",
            self.inner.validate_job(job)
        )
    }

    async fn read_job(&self, job_id: &str, q: &QueryOptions) -> BackendResult<Indexed<JobBody>> {
        through!(
            self,
            Service::Nomad,
            "read_job",
            false,
            Method::Get,
            format!("/v1/job/{job_id}"),
            self.inner.read_job(job_id, q)
        )
    }

    async fn job_versions(&self, job_id: &str, diffs: bool) -> BackendResult<Indexed<JobVersions>> {
        through!(
            self,
            Service::Nomad,
            "job_versions",
            false,
            Method::Get,
            format!("/v1/job/{job_id}/versions"),
            self.inner.job_versions(job_id, diffs)
        )
    }

    async fn deregister_job(&self, job_id: &str, purge: bool) -> BackendResult<DeregisterResponse> {
        through!(
            self,
            Service::Nomad,
            "deregister_job",
            true,
            Method::Delete,
            format!("/v1/job/{job_id}"),
            self.inner.deregister_job(job_id, purge)
        )
    }

    async fn job_allocations(
        &self,
        job_id: &str,
        all: bool,
        q: &QueryOptions,
    ) -> BackendResult<Indexed<Vec<AllocationListStub>>> {
        through!(
            self,
            Service::Nomad,
            "job_allocations",
            false,
            Method::Get,
            format!("/v1/job/{job_id}/allocations"),
            self.inner.job_allocations(job_id, all, q)
        )
    }

    async fn job_deployments(
        &self,
        job_id: &str,
        q: &QueryOptions,
    ) -> BackendResult<Indexed<Vec<Deployment>>> {
        through!(
            self,
            Service::Nomad,
            "job_deployments",
            false,
            Method::Get,
            format!("/v1/job/{job_id}/deployments"),
            self.inner.job_deployments(job_id, q)
        )
    }

    async fn latest_deployment(
        &self,
        job_id: &str,
        q: &QueryOptions,
    ) -> BackendResult<Indexed<Option<Deployment>>> {
        through!(
            self,
            Service::Nomad,
            "latest_deployment",
            false,
            Method::Get,
            format!("/v1/job/{job_id}/deployment"),
            self.inner.latest_deployment(job_id, q)
        )
    }

    async fn job_evaluations(
        &self,
        job_id: &str,
        q: &QueryOptions,
    ) -> BackendResult<Indexed<Vec<Evaluation>>> {
        through!(
            self,
            Service::Nomad,
            "job_evaluations",
            false,
            Method::Get,
            format!("/v1/job/{job_id}/evaluations"),
            self.inner.job_evaluations(job_id, q)
        )
    }

    async fn evaluation(
        &self,
        eval_id: &str,
        q: &QueryOptions,
    ) -> BackendResult<Indexed<Evaluation>> {
        through!(
            self,
            Service::Nomad,
            "evaluation",
            false,
            Method::Get,
            format!("/v1/evaluation/{eval_id}"),
            self.inner.evaluation(eval_id, q)
        )
    }

    async fn list_nodes(
        &self,
        q: &QueryOptions,
    ) -> BackendResult<Indexed<Vec<crate::backend::nomad::NodeListStub>>> {
        through!(
            self,
            Service::Nomad,
            "list_nodes",
            false,
            Method::Get,
            "/v1/nodes",
            self.inner.list_nodes(q)
        )
    }

    async fn read_node(
        &self,
        node_id: &str,
        q: &QueryOptions,
    ) -> BackendResult<Indexed<crate::backend::nomad::NodeInfo>> {
        through!(
            self,
            Service::Nomad,
            "read_node",
            false,
            Method::Get,
            format!("/v1/node/{node_id}"),
            self.inner.read_node(node_id, q)
        )
    }
}

/// A [`Consul`] whose calls go through a [`FaultInjector`].
#[derive(Clone)]
pub struct FaultyConsul {
    inner: Arc<dyn Consul>,
    faults: Arc<FaultInjector>,
}

impl FaultyConsul {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Consul>, faults: Arc<FaultInjector>) -> Self {
        FaultyConsul { inner, faults }
    }
}

impl std::fmt::Debug for FaultyConsul {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultyConsul").finish_non_exhaustive()
    }
}

#[async_trait]
impl Consul for FaultyConsul {
    async fn register_service(
        &self,
        service: &ServiceRegistration,
        replace_existing_checks: bool,
    ) -> BackendResult<()> {
        through!(
            self,
            Service::Consul,
            "register_service",
            true,
            Method::Put,
            "/v1/agent/service/register",
            self.inner
                .register_service(service, replace_existing_checks)
        )
    }

    async fn deregister_service(&self, service_id: &str) -> BackendResult<()> {
        through!(
            self,
            Service::Consul,
            "deregister_service",
            true,
            Method::Put,
            format!("/v1/agent/service/deregister/{service_id}"),
            self.inner.deregister_service(service_id)
        )
    }

    async fn catalog_service(
        &self,
        name: &str,
        q: &QueryOptions,
    ) -> BackendResult<Indexed<Vec<CatalogService>>> {
        through!(
            self,
            Service::Consul,
            "catalog_service",
            false,
            Method::Get,
            format!("/v1/catalog/service/{name}"),
            self.inner.catalog_service(name, q)
        )
    }

    async fn health_service(
        &self,
        name: &str,
        passing: bool,
        q: &QueryOptions,
    ) -> BackendResult<Indexed<Vec<ServiceEntry>>> {
        through!(
            self,
            Service::Consul,
            "health_service",
            false,
            Method::Get,
            format!("/v1/health/service/{name}"),
            self.inner.health_service(name, passing, q)
        )
    }

    async fn kv_get(&self, key: &str, q: &QueryOptions) -> BackendResult<Indexed<Option<KvPair>>> {
        through!(
            self,
            Service::Consul,
            "kv_get",
            false,
            Method::Get,
            format!("/v1/kv/{key}"),
            self.inner.kv_get(key, q)
        )
    }

    async fn kv_list(&self, prefix: &str, q: &QueryOptions) -> BackendResult<Indexed<Vec<KvPair>>> {
        through!(
            self,
            Service::Consul,
            "kv_list",
            false,
            Method::Get,
            format!("/v1/kv/{prefix}"),
            self.inner.kv_list(prefix, q)
        )
    }

    async fn kv_put(&self, key: &str, value: &[u8], cas: Option<u64>) -> BackendResult<bool> {
        through!(
            self,
            Service::Consul,
            "kv_put",
            true,
            Method::Put,
            format!("/v1/kv/{key}"),
            self.inner.kv_put(key, value, cas)
        )
    }

    async fn kv_delete(&self, key: &str, cas: Option<u64>) -> BackendResult<bool> {
        through!(
            self,
            Service::Consul,
            "kv_delete",
            true,
            Method::Delete,
            format!("/v1/kv/{key}"),
            self.inner.kv_delete(key, cas)
        )
    }

    async fn kv_acquire(&self, key: &str, value: &[u8], session: &str) -> BackendResult<bool> {
        through!(
            self,
            Service::Consul,
            "kv_acquire",
            true,
            Method::Put,
            format!("/v1/kv/{key}"),
            self.inner.kv_acquire(key, value, session)
        )
    }

    async fn kv_release(&self, key: &str, value: &[u8], session: &str) -> BackendResult<bool> {
        through!(
            self,
            Service::Consul,
            "kv_release",
            true,
            Method::Put,
            format!("/v1/kv/{key}"),
            self.inner.kv_release(key, value, session)
        )
    }

    async fn session_create(&self, session: &SessionRequest) -> BackendResult<String> {
        through!(
            self,
            Service::Consul,
            "session_create",
            true,
            Method::Put,
            "/v1/session/create",
            self.inner.session_create(session)
        )
    }

    async fn session_renew(&self, id: &str) -> BackendResult<Option<SessionInfo>> {
        through!(
            self,
            Service::Consul,
            "session_renew",
            true,
            Method::Put,
            format!("/v1/session/renew/{id}"),
            self.inner.session_renew(id)
        )
    }

    async fn session_destroy(&self, id: &str) -> BackendResult<()> {
        through!(
            self,
            Service::Consul,
            "session_destroy",
            true,
            Method::Put,
            format!("/v1/session/destroy/{id}"),
            self.inner.session_destroy(id)
        )
    }

    async fn session_info(
        &self,
        id: &str,
        q: &QueryOptions,
    ) -> BackendResult<Indexed<Option<SessionInfo>>> {
        through!(
            self,
            Service::Consul,
            "session_info",
            false,
            Method::Get,
            format!("/v1/session/info/{id}"),
            self.inner.session_info(id, q)
        )
    }

    async fn txn(&self, ops: &[TxnOp]) -> BackendResult<ConsulTxnResponse> {
        through!(
            self,
            Service::Consul,
            "txn",
            ops.iter().any(TxnOp::is_write),
            Method::Put,
            "/v1/txn",
            self.inner.txn(ops)
        )
    }
}

/// An [`Etcd`] whose calls go through a [`FaultInjector`].
#[derive(Clone)]
pub struct FaultyEtcd {
    inner: Arc<dyn Etcd>,
    faults: Arc<FaultInjector>,
}

impl FaultyEtcd {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Etcd>, faults: Arc<FaultInjector>) -> Self {
        FaultyEtcd { inner, faults }
    }
}

impl std::fmt::Debug for FaultyEtcd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultyEtcd").finish_non_exhaustive()
    }
}

#[async_trait]
impl Etcd for FaultyEtcd {
    async fn range(&self, req: &RangeRequest) -> BackendResult<RangeResponse> {
        through!(
            self,
            Service::Etcd,
            "range",
            false,
            Method::Post,
            "/v3/kv/range",
            self.inner.range(req)
        )
    }

    async fn put(&self, req: &PutRequest) -> BackendResult<PutResponse> {
        through!(
            self,
            Service::Etcd,
            "put",
            true,
            Method::Post,
            "/v3/kv/put",
            self.inner.put(req)
        )
    }

    async fn delete_range(&self, req: &DeleteRangeRequest) -> BackendResult<DeleteRangeResponse> {
        through!(
            self,
            Service::Etcd,
            "delete_range",
            true,
            Method::Post,
            "/v3/kv/deleterange",
            self.inner.delete_range(req)
        )
    }

    async fn txn(&self, req: &TxnRequest) -> BackendResult<TxnResponse> {
        through!(
            self,
            Service::Etcd,
            "txn",
            true,
            Method::Post,
            "/v3/kv/txn",
            self.inner.txn(req)
        )
    }

    async fn lease_grant(&self, ttl: i64) -> BackendResult<LeaseGrantResponse> {
        through!(
            self,
            Service::Etcd,
            "lease_grant",
            true,
            Method::Post,
            "/v3/lease/grant",
            self.inner.lease_grant(ttl)
        )
    }

    async fn lease_keepalive(&self, id: i64) -> BackendResult<LeaseKeepAliveResponse> {
        through!(
            self,
            Service::Etcd,
            "lease_keepalive",
            true,
            Method::Post,
            "/v3/lease/keepalive",
            self.inner.lease_keepalive(id)
        )
    }

    async fn lease_revoke(&self, id: i64) -> BackendResult<ResponseHeader> {
        through!(
            self,
            Service::Etcd,
            "lease_revoke",
            true,
            Method::Post,
            "/v3/lease/revoke",
            self.inner.lease_revoke(id)
        )
    }

    async fn status(&self) -> BackendResult<StatusResponse> {
        through!(
            self,
            Service::Etcd,
            "status",
            false,
            Method::Post,
            "/v3/maintenance/status",
            self.inner.status()
        )
    }

    async fn member_list(&self) -> BackendResult<MemberListResponse> {
        through!(
            self,
            Service::Etcd,
            "member_list",
            false,
            Method::Post,
            "/v3/cluster/member/list",
            self.inner.member_list()
        )
    }

    async fn health(&self) -> BackendResult<bool> {
        through!(
            self,
            Service::Etcd,
            "health",
            false,
            Method::Get,
            "/health",
            self.inner.health()
        )
    }
}
