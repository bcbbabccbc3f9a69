//! Apply benchmark: a full Bookinfo + control-plane apply against the in-memory cluster and
//! against the HTTP fake of Nomad and Consul (`istio_nomad_tests::mock_cluster`, answering
//! from the in-memory servers) with 20 ms added to every answer (the state in an in-memory
//! etcd with the same 20 ms per call). Prints wall time against the critical path of the
//! dependency graph, HTTP requests per job, and the writes of a second apply.
//!
//! ```text
//! cargo run --release --example install_bench
//! ```
//!
//! The critical path is `stages x sequential round trips per job x latency`: every stage
//! has to wait for its slowest job, and a job needs, one after the other, its plan (the
//! diff), its register, a blocking read of the evaluation the register created (Nomad makes
//! the deployment asynchronously), two deployment reads (the first sees the deployment
//! running, the blocking second one sees it successful), the Consul health read and the
//! state write. The plans of all jobs run at once before the first stage, as one round
//! trip; the in-memory servers add their own scheduling (5 ms) and progress (20 ms) delays.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use istio_nomad_core::backend::etcd::{
    DeleteRangeRequest, DeleteRangeResponse, LeaseGrantResponse, LeaseKeepAliveResponse,
    PutRequest, PutResponse, RangeRequest, RangeResponse, ResponseHeader, StatusResponse,
    TxnRequest, TxnResponse,
};
use istio_nomad_core::backend::{
    BackendResult, ClientOptions, ConsulConfig, Etcd, HttpConsul, HttpNomad, MemoryEtcd,
    NomadConfig,
};
use istio_nomad_core::install::{ApplyOptions, Backends, InMemoryCluster, Installer};
use istio_nomad_core::plan::{plan, Plan};
use istio_nomad_core::spec::MeshSpec;
use istio_nomad_tests::mock_cluster::MockCluster;

const LATENCY: Duration = Duration::from_millis(20);
/// Sequential round trips of one job: register, evaluation (blocking), deployment (running),
/// deployment (blocking, successful), Consul health, state write.
const ROUND_TRIPS_PER_JOB: u32 = 6;

/// An in-memory etcd that answers after a delay, and counts its calls.
struct SlowEtcd {
    inner: MemoryEtcd,
    delay: Duration,
    calls: AtomicU64,
}

impl SlowEtcd {
    async fn wait(&self) {
        self.calls.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(self.delay).await;
    }
}

#[async_trait]
impl Etcd for SlowEtcd {
    async fn range(&self, req: &RangeRequest) -> BackendResult<RangeResponse> {
        self.wait().await;
        self.inner.range(req).await
    }
    async fn put(&self, req: &PutRequest) -> BackendResult<PutResponse> {
        self.wait().await;
        self.inner.put(req).await
    }
    async fn delete_range(&self, req: &DeleteRangeRequest) -> BackendResult<DeleteRangeResponse> {
        self.wait().await;
        self.inner.delete_range(req).await
    }
    async fn txn(&self, req: &TxnRequest) -> BackendResult<TxnResponse> {
        self.wait().await;
        self.inner.txn(req).await
    }
    async fn lease_grant(&self, ttl: i64) -> BackendResult<LeaseGrantResponse> {
        self.wait().await;
        self.inner.lease_grant(ttl).await
    }
    async fn lease_keepalive(&self, id: i64) -> BackendResult<LeaseKeepAliveResponse> {
        self.wait().await;
        self.inner.lease_keepalive(id).await
    }
    async fn lease_revoke(&self, id: i64) -> BackendResult<ResponseHeader> {
        self.wait().await;
        self.inner.lease_revoke(id).await
    }
    async fn status(&self) -> BackendResult<StatusResponse> {
        self.wait().await;
        self.inner.status().await
    }
}

fn bookinfo() -> Result<Plan, istio_nomad_core::Error> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/bookinfo.mesh.hcl");
    plan(&MeshSpec::from_file(path)?)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

async fn in_memory(plan: &Plan) -> Result<(), istio_nomad_core::Error> {
    let runs = 20;
    let (mut first, mut second) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let cluster = InMemoryCluster::new();
        cluster.nomad.set_progress_delay(Duration::ZERO);
        let installer = Installer::new(cluster.backends());
        let t = Instant::now();
        installer.apply(plan, &ApplyOptions::default()).await?;
        first.push(t.elapsed());
        let t = Instant::now();
        let again = installer.apply(plan, &ApplyOptions::default()).await?;
        second.push(t.elapsed());
        assert_eq!(again.writes.total(), 0);
    }
    println!("in-memory cluster ({runs} runs, median):");
    println!("  full apply      {:>9.2?}", median(first));
    println!("  second apply    {:>9.2?}  (0 writes)", median(second));
    Ok(())
}

async fn mock(plan: &Plan) -> Result<(), istio_nomad_core::Error> {
    let mock = MockCluster::start(LATENCY).await;
    let options = ClientOptions::new().timeout(Duration::from_secs(10));
    let nomad = HttpNomad::new(
        &NomadConfig::builder()
            .address(mock.nomad.uri())
            .options(options.clone())
            .build()?,
    )?;
    let consul = HttpConsul::new(
        &ConsulConfig::builder()
            .address(mock.consul.uri())
            .options(options)
            .build()?,
    )?;
    let etcd = Arc::new(SlowEtcd {
        inner: MemoryEtcd::new(),
        delay: LATENCY,
        calls: AtomicU64::new(0),
    });
    let installer = Installer::new(Backends::new(
        Arc::new(nomad),
        Arc::new(consul),
        etcd.clone(),
    ));
    let stages = plan.order()?.len() as u32;
    let jobs = plan.jobs.len() as f64;

    let t = Instant::now();
    let report = installer.apply(plan, &ApplyOptions::default()).await?;
    let wall = t.elapsed();
    let requests = mock.requests();
    let http = requests.len() as u64;
    let etcd_calls = etcd.calls.load(Ordering::SeqCst);
    let mut by_kind: BTreeMap<String, u64> = BTreeMap::new();
    for (m, p, _, _) in &requests {
        let tail = p.rsplit('/').next().unwrap_or_default();
        let k = if p.starts_with("/v1/health/") {
            "GET /v1/health/service/:name".to_owned()
        } else if p.starts_with("/v1/evaluation/") {
            format!("{m} /v1/evaluation/:id")
        } else if p.starts_with("/v1/agent/") || p.starts_with("/v1/catalog/") {
            format!("{m} {p}")
        } else if p == "/v1/jobs" {
            format!("{m} /v1/jobs")
        } else {
            format!("{m} /v1/job/:id/{tail}")
        };
        *by_kind.entry(k).or_default() += 1;
    }
    let critical = LATENCY * stages * ROUND_TRIPS_PER_JOB;
    println!(
        "mock Nomad + Consul over HTTP, {} ms per answer (etcd state: in memory, {} ms per call):",
        LATENCY.as_millis(),
        LATENCY.as_millis()
    );
    println!(
        "  full apply      {wall:>9.2?}  ({} jobs created, {} registers, {} state writes)",
        report.created().len(),
        report.writes.registers,
        report.writes.state_writes
    );
    println!(
        "  critical path   {critical:>9.2?}  ({stages} stages x {ROUND_TRIPS_PER_JOB} round trips x {} ms)",
        LATENCY.as_millis()
    );
    println!(
        "  ratio           {:>9.2}x  (aim: within 1.5x)",
        wall.as_secs_f64() / critical.as_secs_f64()
    );
    println!(
        "  HTTP requests   {http} ({:.1} per job) + {etcd_calls} etcd calls ({:.1} per job)",
        http as f64 / jobs,
        etcd_calls as f64 / jobs
    );
    for (k, n) in &by_kind {
        println!("    {n:>4}  {k}");
    }

    let before_http = http;
    let before_etcd = etcd_calls;
    let t = Instant::now();
    let again = installer.apply(plan, &ApplyOptions::default()).await?;
    let wall2 = t.elapsed();
    let after = mock.requests();
    let writes_http = after[..].iter().filter(|(m, _, _, _)| m != "GET").count() as u64
        - requests.iter().filter(|(m, _, _, _)| m != "GET").count() as u64;
    let plans = plan.jobs.len() as u64;
    println!(
        "  second apply    {wall2:>9.2?}  writes: {} (registers {}, state {}, locks {}); {} new HTTP requests ({} of them the read-only plan POSTs), {} etcd calls",
        again.writes.total(),
        again.writes.registers,
        again.writes.state_writes,
        again.writes.locks,
        after.len() as u64 - before_http,
        writes_http,
        etcd.calls.load(Ordering::SeqCst) - before_etcd
    );
    assert_eq!(again.writes.total(), 0);
    assert_eq!(writes_http, plans);
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), istio_nomad_core::Error> {
    let plan = bookinfo()?;
    println!(
        "Bookinfo + control plane: {} jobs in {} stages\n",
        plan.jobs.len(),
        plan.order()?.len()
    );
    in_memory(&plan).await?;
    println!();
    mock(&plan).await?;
    Ok(())
}
