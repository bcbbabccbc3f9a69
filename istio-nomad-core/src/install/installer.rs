//! The installer: diff, apply and destroy a plan.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::time::Instant;

use super::backends::Backends;
use super::etcd_gate::{ConsulEtcdEndpoints, EtcdGate};
use super::events::{Event, EventSink, Operation};
use super::health::{Placed, Target};
use super::options::ApplyOptions;
use super::report::{
    ApplyReport, Change, DestroyReport, Diff, JobAction, JobChange, JobOutcome, WriteCounter,
};
use super::state::{
    encode, ConsulStateStore, EtcdStateStore, JobRecord, Lock, LockInfo, MeshState, SpecRecord,
    StateKey, StateStore, Versioned,
};
use super::HOST_MODE_META;
use crate::backend::nomad::{deployment_status, JobDiff, PlanResponse, RegisterRequest};
use crate::backend::QueryOptions;
use crate::error::{ConflictError, Error, Result};
use crate::nomad::Job;
use crate::plan::{Plan, PlannedJob, Role};

// ---------------------------------------------------------------------------------------
// Installer

/// Where the installer keeps its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StateBackend {
    /// etcd, under `istio-nomad/<mesh>/` (the default).
    #[default]
    Etcd,
    /// Consul KV, under `istio-nomad/<mesh>/`.
    Consul,
}

/// Builds an [`Installer`].
#[must_use]
pub struct InstallerBuilder {
    backends: Backends,
    store: Option<Arc<dyn StateStore>>,
    state_backend: StateBackend,
    events: Option<EventSink>,
    holder: Option<String>,
    etcd_gate: Option<Option<EtcdGate>>,
}

impl fmt::Debug for InstallerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InstallerBuilder")
            .field("backends", &self.backends)
            .field("state_backend", &self.state_backend)
            .field("holder", &self.holder)
            .finish_non_exhaustive()
    }
}

impl InstallerBuilder {
    /// Keeps the state in etcd (default) or Consul KV.
    pub fn state_backend(mut self, backend: StateBackend) -> Self {
        self.state_backend = backend;
        self
    }

    /// Keeps the state in a store of the caller's.
    pub fn state_store(mut self, store: Arc<dyn StateStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// Sends progress events to `f`.
    pub fn on_event(mut self, f: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        self.events = Some(Arc::new(f));
        self
    }

    /// Sends progress events to `sink`.
    pub fn events(mut self, sink: EventSink) -> Self {
        self.events = Some(sink);
        self
    }

    /// Sets the etcd health gate (`None`: no gate). By default, remote backends get a gate
    /// that finds members through the Consul catalog ([`ConsulEtcdEndpoints`]) and other
    /// backends none.
    pub fn etcd_gate(mut self, gate: Option<EtcdGate>) -> Self {
        self.etcd_gate = Some(gate);
        self
    }

    /// Names the lock holder (default `user@host pid N`).
    pub fn holder(mut self, holder: impl Into<String>) -> Self {
        self.holder = Some(holder.into());
        self
    }

    /// The installer.
    pub fn build(self) -> Installer {
        let store = self.store.unwrap_or_else(|| match self.state_backend {
            StateBackend::Etcd => Arc::new(EtcdStateStore::new(self.backends.etcd.clone())),
            StateBackend::Consul => Arc::new(ConsulStateStore::new(self.backends.consul.clone())),
        });
        let etcd_gate = self.etcd_gate.unwrap_or_else(|| {
            matches!(self.backends.source, super::BackendSource::Remote { .. }).then(|| {
                EtcdGate::new(Arc::new(ConsulEtcdEndpoints::new(
                    self.backends.consul.clone(),
                )))
            })
        });
        Installer {
            backends: self.backends,
            store,
            events: self.events,
            holder: self.holder.unwrap_or_else(default_holder),
            etcd_gate,
        }
    }
}

fn default_holder() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".into());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown-host".into());
    format!("{user}@{host} pid {}", std::process::id())
}

/// Brings a cluster to a plan: diff, apply, destroy. Cheap to clone.
#[derive(Clone)]
pub struct Installer {
    pub(super) backends: Backends,
    pub(super) store: Arc<dyn StateStore>,
    pub(super) events: Option<EventSink>,
    pub(super) holder: String,
    pub(super) etcd_gate: Option<EtcdGate>,
}

impl fmt::Debug for Installer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Installer")
            .field("backends", &self.backends)
            .field("store", &self.store.name())
            .field("holder", &self.holder)
            .finish_non_exhaustive()
    }
}

/// SHA-256 (hex) of a job's API JSON.
pub(crate) fn content_hash(job: &serde_json::Value) -> String {
    let bytes = serde_json::to_vec(job).unwrap_or_default();
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Consul services a job registers, with how many instances it places of each.
fn job_services(job: &Job) -> Vec<(String, u64)> {
    let mut out: BTreeMap<String, u64> = BTreeMap::new();
    for g in &job.task_groups {
        let count = g.count.unwrap_or(1).max(0) as u64;
        let consul = |p: &Option<String>| p.as_deref().unwrap_or("consul") == "consul";
        for s in g.services.iter().filter(|s| consul(&s.provider)) {
            let name = s
                .name
                .clone()
                .unwrap_or_else(|| format!("{}-{}", job.id(), g.name()));
            *out.entry(name).or_default() += count;
        }
        for t in &g.tasks {
            for s in t.services.iter().filter(|s| consul(&s.provider)) {
                let name = s
                    .name
                    .clone()
                    .unwrap_or_else(|| format!("{}-{}-{}", job.id(), g.name(), t.name()));
                *out.entry(name).or_default() += count;
            }
        }
    }
    out.into_iter().collect()
}

/// Groups of a job that run in host mode.
fn host_mode_groups(job: &Job) -> BTreeSet<String> {
    job.task_groups
        .iter()
        .filter(|g| g.meta.get(HOST_MODE_META).is_some_and(|v| v == "true"))
        .map(|g| g.name().to_owned())
        .collect()
}

pub(super) fn expected_allocs(job: &Job) -> u64 {
    job.task_groups
        .iter()
        .map(|g| g.count.unwrap_or(1).max(0) as u64)
        .sum()
}

fn change_of(p: &PlanResponse) -> Change {
    if p.job_modify_index == 0 {
        return Change::Create;
    }
    match p.diff.as_ref().map(|d| d.kind.as_str()) {
        Some("None") => Change::Unchanged,
        Some("Added") => Change::Create,
        _ => Change::Update,
    }
}

fn changed_fields(d: &JobDiff) -> Vec<String> {
    fn objects(prefix: &str, objs: &[crate::backend::nomad::ObjectDiff], out: &mut Vec<String>) {
        for o in objs.iter().filter(|o| o.kind != "None") {
            let p = format!("{prefix}{}", o.name);
            let fields: Vec<_> = o.fields.iter().filter(|f| f.kind != "None").collect();
            if fields.is_empty() && o.objects.is_empty() {
                out.push(p.clone());
            }
            for f in fields {
                out.push(format!("{p}.{}", f.name));
            }
            objects(&format!("{p}."), &o.objects, out);
        }
    }
    let mut out = Vec::new();
    for f in d.fields.iter().filter(|f| f.kind != "None") {
        out.push(f.name.clone());
    }
    objects("", &d.objects, &mut out);
    for g in d.task_groups.iter().filter(|g| g.kind != "None") {
        let gp = format!("TaskGroups[{}]", g.name);
        if g.kind == "Added" || g.kind == "Deleted" {
            out.push(format!("{gp} ({})", g.kind.to_lowercase()));
            continue;
        }
        for f in g.fields.iter().filter(|f| f.kind != "None") {
            out.push(format!("{gp}.{}", f.name));
        }
        objects(&format!("{gp}."), &g.objects, &mut out);
        for t in g.tasks.iter().filter(|t| t.kind != "None") {
            let tp = format!("{gp}.Tasks[{}]", t.name);
            if t.kind == "Added" || t.kind == "Deleted" {
                out.push(format!("{tp} ({})", t.kind.to_lowercase()));
                continue;
            }
            for f in t.fields.iter().filter(|f| f.kind != "None") {
                out.push(format!("{tp}.{}", f.name));
            }
            objects(&format!("{tp}."), &t.objects, &mut out);
        }
    }
    out
}

/// Runs futures concurrently on the current task and returns their outputs in order.
async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, slot) in futures.iter_mut().zip(out.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => *slot = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    out.into_iter().flatten().collect()
}

/// The first error of a batch, after every member finished.
fn first_error<T>(results: Vec<Result<T>>) -> Result<Vec<T>> {
    let mut ok = Vec::with_capacity(results.len());
    let mut err = None;
    for r in results {
        match r {
            Ok(v) => ok.push(v),
            Err(e) => {
                if err.is_none() {
                    err = Some(e);
                }
            }
        }
    }
    match err {
        Some(e) => Err(e),
        None => Ok(ok),
    }
}

fn job_of_error(e: &Error) -> Option<String> {
    match e {
        Error::Install(i) => Some(i.job().to_owned()),
        _ => None,
    }
}

/// What the lock's keepalive learned: `Some(message)` once the lock is known to be lost.
#[derive(Debug, Default)]
struct LockWatch {
    lost: std::sync::Mutex<Option<ConflictError>>,
}

impl LockWatch {
    fn set_lost(&self, conflict: ConflictError) {
        if let Ok(mut l) = self.lost.lock() {
            l.get_or_insert(conflict);
        }
    }

    fn lost(&self) -> Option<ConflictError> {
        self.lost.lock().ok().and_then(|l| l.clone())
    }
}

/// Context of one locked operation.
struct Run<'a> {
    lock: &'a Lock,
    opts: &'a ApplyOptions,
    writes: &'a WriteCounter,
    watch: &'a LockWatch,
}

impl Run<'_> {
    /// Fails with [`Error::Conflict`] when the keepalive found the lock lost: called before
    /// every write (register, deregister, state write), so an operator who lost the lock
    /// stops before writing again.
    fn ensure_held(&self) -> Result<()> {
        match self.watch.lost() {
            Some(c) => Err(Error::Conflict(c)),
            None => Ok(()),
        }
    }
}

/// The jobs of the mesh with host-mode groups (an empty set: every group).
pub(super) type HostModeJobs = BTreeMap<String, BTreeSet<String>>;

impl Installer {
    /// An installer over `backends`, state in etcd, no events.
    pub fn new(backends: Backends) -> Self {
        Self::builder(backends).build()
    }

    /// A builder.
    pub fn builder(backends: Backends) -> InstallerBuilder {
        InstallerBuilder {
            backends,
            store: None,
            state_backend: StateBackend::Etcd,
            events: None,
            holder: None,
            etcd_gate: None,
        }
    }

    /// The backends.
    pub fn backends(&self) -> &Backends {
        &self.backends
    }

    /// The state store.
    pub fn state_store(&self) -> &Arc<dyn StateStore> {
        &self.store
    }

    /// Everything recorded about `mesh`.
    pub async fn state(&self, mesh: &str) -> Result<MeshState> {
        self.store.load(mesh).await
    }

    pub(super) fn emit(&self, e: Event) {
        tracing::debug!(event = ?e, "install");
        if let Some(sink) = &self.events {
            sink(&e);
        }
    }

    /// What applying `plan` would change, per job, with Nomad's plan annotations.
    /// Writes nothing.
    pub async fn diff(&self, plan: &Plan) -> Result<Diff> {
        let stages = plan.order()?;
        self.emit(Event::Started {
            operation: Operation::Diff,
            mesh: plan.spec.name.clone(),
            jobs: plan.jobs.len(),
            stages: stages.len(),
        });
        let d = self.diff_staged(plan, stages).await;
        match &d {
            Ok(_) => self.emit(Event::Finished {
                operation: Operation::Diff,
                writes: 0,
            }),
            Err(e) => self.emit(Event::Failed {
                job: job_of_error(e),
                error: e.to_string(),
            }),
        }
        d
    }

    async fn diff_staged(&self, plan: &Plan, stages: Vec<Vec<String>>) -> Result<Diff> {
        let mesh = plan.spec.name.clone();
        let stage_of: BTreeMap<&str, usize> = stages
            .iter()
            .enumerate()
            .flat_map(|(i, s)| s.iter().map(move |id| (id.as_str(), i)))
            .collect();
        let futures = plan.jobs.iter().map(|pj| {
            let stage = stage_of.get(pj.job.id()).copied().unwrap_or(0);
            self.diff_job(pj, stage)
        });
        // The state and Nomad's plans are independent reads: one round trip for both.
        let (state, jobs) = tokio::join!(self.store.load(&mesh), join_all(futures.collect()));
        let state = state?;
        let mut jobs = first_error(jobs)?;
        for c in jobs.iter_mut() {
            c.recorded = c.change == Change::Unchanged
                && state.jobs.get(&c.job_id).is_some_and(|r| {
                    r.value.content_hash == c.content_hash
                        && r.value.job_modify_index == c.job_modify_index
                });
            self.emit(Event::JobDiffed {
                job: c.job_id.clone(),
                change: c.change,
            });
        }
        let removed = state
            .jobs
            .keys()
            .filter(|id| plan.job(id).is_none())
            .cloned()
            .collect();
        Ok(Diff {
            mesh,
            spec_hash: plan.spec_hash.clone(),
            recorded_spec_hash: state.spec.as_ref().map(|s| s.value.spec_hash.clone()),
            stages,
            jobs,
            removed,
            state,
        })
    }

    /// One job's entry, `recorded` left false (it needs the state).
    async fn diff_job(&self, pj: &PlannedJob, stage: usize) -> Result<JobChange> {
        let body = pj.job.to_json_value()?;
        let hash = content_hash(&body);
        let p = self.backends.nomad.plan_job(&body, true).await?;
        let change = change_of(&p);
        Ok(JobChange {
            job_id: pj.job.id().to_owned(),
            role: pj.role,
            stage,
            change,
            job_modify_index: p.job_modify_index,
            desired_updates: p
                .annotations
                .map(|a| a.desired_tg_updates)
                .unwrap_or_default(),
            changed_fields: p.diff.as_ref().map(changed_fields).unwrap_or_default(),
            recorded: false,
            content_hash: hash,
        })
    }

    /// Brings the cluster to `plan`: registers what differs in dependency order, waits
    /// for health gates, records the result. See the [module documentation](super).
    pub async fn apply(&self, plan: &Plan, opts: &ApplyOptions) -> Result<ApplyReport> {
        let started = Instant::now();
        let stages = plan.order()?;
        self.emit(Event::Started {
            operation: Operation::Apply,
            mesh: plan.spec.name.clone(),
            jobs: plan.jobs.len(),
            stages: stages.len(),
        });
        let writes = WriteCounter::default();
        let r = self.apply_inner(plan, stages, opts, &writes).await;
        match r {
            Ok((jobs, removed, warnings)) => {
                let writes = writes.snapshot();
                self.emit(Event::Finished {
                    operation: Operation::Apply,
                    writes: writes.total(),
                });
                Ok(ApplyReport {
                    mesh: plan.spec.name.clone(),
                    spec_hash: plan.spec_hash.clone(),
                    jobs,
                    removed,
                    writes,
                    warnings,
                    elapsed: started.elapsed(),
                })
            }
            Err(e) => {
                self.emit(Event::Failed {
                    job: job_of_error(&e),
                    error: e.to_string(),
                });
                Err(e)
            }
        }
    }

    async fn apply_inner(
        &self,
        plan: &Plan,
        stages: Vec<Vec<String>>,
        opts: &ApplyOptions,
        writes: &WriteCounter,
    ) -> Result<(Vec<JobOutcome>, Vec<String>, Vec<String>)> {
        let diff = self.diff_staged(plan, stages).await?;
        if diff.in_sync() && self.all_healthy(plan, &diff).await? {
            let jobs = diff
                .stages
                .iter()
                .flatten()
                .filter_map(|id| diff.job(id))
                .map(|c| JobOutcome {
                    job_id: c.job_id.clone(),
                    action: JobAction::Unchanged,
                    version: diff
                        .state
                        .jobs
                        .get(&c.job_id)
                        .map_or(0, |r| r.value.version),
                    job_modify_index: c.job_modify_index,
                    state_written: false,
                })
                .collect::<Vec<_>>();
            for j in &jobs {
                self.emit(Event::JobUnchanged {
                    job: j.job_id.clone(),
                });
            }
            return Ok((jobs, Vec::new(), Vec::new()));
        }
        let mesh = plan.spec.name.clone();
        let (lock, state) = self.lock(&mesh, Operation::Apply, opts, writes).await?;
        let watch = Arc::new(LockWatch::default());
        let keepalive = self.spawn_keepalive(&lock, opts.lock_ttl, watch.clone());
        let run = Run {
            lock: &lock,
            opts,
            writes,
            watch: &watch,
        };
        let result = self.apply_locked(plan, &diff, &state, &run).await;
        keepalive.abort();
        let warning = self.unlock(&lock).await;
        result.map(|(jobs, removed)| (jobs, removed, warning.into_iter().collect()))
    }

    /// True when every job runs its recorded version healthily: its latest deployment is
    /// the recorded version's (`JobSpecModifyIndex`) and successful, or, when that version
    /// has no deployment, its allocations run (batch: complete). Reads only.
    async fn all_healthy(&self, plan: &Plan, diff: &Diff) -> Result<bool> {
        let checks = plan.jobs.iter().map(|pj| async move {
            let id = pj.job.id();
            let Some(record) = diff.state.jobs.get(id) else {
                return Ok::<bool, Error>(false);
            };
            let d = self
                .backends
                .nomad
                .latest_deployment(id, &QueryOptions::new())
                .await?
                .value;
            if let Some(d) = d.filter(|d| d.job_spec_modify_index == record.value.job_modify_index)
            {
                return Ok(d.status == deployment_status::SUCCESSFUL);
            }
            let allocs = self
                .backends
                .nomad
                .job_allocations(id, false, &QueryOptions::new())
                .await?
                .value;
            let done_status = if matches!(pj.job.kind(), "batch" | "sysbatch") {
                "complete"
            } else {
                "running"
            };
            let done = allocs
                .iter()
                .filter(|a| {
                    a.job_version == record.value.version
                        && a.desired_status == "run"
                        && a.client_status == done_status
                })
                .count() as u64;
            Ok(done >= expected_allocs(&pj.job))
        });
        Ok(first_error(join_all(checks.collect()).await)?
            .into_iter()
            .all(|ok| ok))
    }

    async fn lock(
        &self,
        mesh: &str,
        op: Operation,
        opts: &ApplyOptions,
        writes: &WriteCounter,
    ) -> Result<(Lock, MeshState)> {
        let info = LockInfo::new(self.holder.clone(), op.to_string(), opts.lock_ttl.as_secs());
        let deadline = Instant::now() + opts.lock_wait;
        loop {
            match self.store.acquire(mesh, &info).await {
                Ok(x) => {
                    writes.locks.fetch_add(1, Ordering::SeqCst);
                    self.emit(Event::LockAcquired {
                        holder: info.holder.clone(),
                    });
                    return Ok(x);
                }
                Err(Error::Conflict(c)) if Instant::now() < deadline => {
                    tracing::info!(message = %c, "waiting for the mesh lock");
                    let left = deadline.saturating_duration_since(Instant::now());
                    tokio::time::sleep(left.min(Duration::from_millis(250))).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Renews the lock every TTL/3 until aborted. When the store says the lock is gone
    /// (etcd: the lease is not found; Consul: the session is gone), `watch` records it and
    /// the operation stops before its next write.
    fn spawn_keepalive(
        &self,
        lock: &Lock,
        ttl: Duration,
        watch: Arc<LockWatch>,
    ) -> tokio::task::JoinHandle<()> {
        let store = self.store.clone();
        let lock = lock.clone();
        let every = (ttl / 3).max(Duration::from_millis(200));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                match store.keepalive(&lock).await {
                    Ok(()) => {}
                    Err(Error::Conflict(c)) => {
                        tracing::warn!(message = %c, "mesh lock lost");
                        watch.set_lost(c);
                        return;
                    }
                    Err(e) => tracing::warn!(error = %e, "could not renew the mesh lock"),
                }
            }
        })
    }

    /// Gives the lock back; a failure is a warning (the lock expires on its own).
    async fn unlock(&self, lock: &Lock) -> Option<String> {
        match self.store.release(lock).await {
            Ok(()) => {
                self.emit(Event::LockReleased);
                None
            }
            Err(e) => {
                let w = format!(
                    "could not release the lock of mesh {} ({e}); it expires within {} s",
                    lock.mesh, lock.info.ttl_secs
                );
                tracing::warn!("{w}");
                Some(w)
            }
        }
    }

    async fn apply_locked(
        &self,
        plan: &Plan,
        diff: &Diff,
        state: &MeshState,
        run: &Run<'_>,
    ) -> Result<(Vec<JobOutcome>, Vec<String>)> {
        // The diff's decisions still hold when nobody wrote the state in between; Nomad
        // changes in between are caught by EnforceIndex.
        let reuse = state.revisions() == diff.state.revisions();
        let mut host_mode: HostModeJobs = state
            .jobs
            .values()
            .filter(|r| r.value.host_mode)
            .map(|r| (r.value.job_id.clone(), BTreeSet::new()))
            .collect();
        for pj in &plan.jobs {
            let groups = host_mode_groups(&pj.job);
            if !groups.is_empty() {
                host_mode.insert(pj.job.id().to_owned(), groups);
            }
        }
        let mut outcomes = Vec::new();
        for (i, stage) in diff.stages.iter().enumerate() {
            self.emit(Event::StageStarted {
                stage: i + 1,
                jobs: stage.clone(),
            });
            let futures = stage.iter().filter_map(|id| plan.job(id)).map(|pj| {
                let pre = if reuse {
                    diff.job(pj.job.id())
                        .map(|c| (c.change, c.job_modify_index))
                } else {
                    None
                };
                self.apply_job(pj, i, pre, state.jobs.get(pj.job.id()), &host_mode, run)
            });
            outcomes.extend(first_error(join_all(futures.collect()).await)?);
        }
        let mut removed = Vec::new();
        if run.opts.prune {
            let gone: Vec<&Versioned<JobRecord>> = state
                .jobs
                .values()
                .filter(|r| plan.job(&r.value.job_id).is_none())
                .collect();
            let max_stage = gone.iter().map(|r| r.value.stage).max().unwrap_or(0);
            for s in (0..=max_stage).rev() {
                let batch: Vec<_> = gone.iter().filter(|r| r.value.stage == s).collect();
                let futures = batch.iter().map(|r| {
                    self.destroy_job(&r.value.job_id, &r.value.services, Some(*r), true, run)
                });
                first_error(join_all(futures.collect()).await)?;
                removed.extend(batch.iter().map(|r| r.value.job_id.clone()));
            }
        }
        let spec = SpecRecord {
            spec_hash: plan.spec_hash.clone(),
            stages: diff.stages.clone(),
        };
        if state.spec.as_ref().map(|s| &s.value) != Some(&spec) {
            let expected = state.spec.as_ref().map_or(0, |s| s.revision);
            run.ensure_held()?;
            self.store
                .write(run.lock, &StateKey::Spec, Some(encode(&spec)?), expected)
                .await?;
            run.writes.state_writes.fetch_add(1, Ordering::SeqCst);
            self.emit(Event::StateWritten {
                key: StateKey::Spec.path(&plan.spec.name),
            });
        }
        Ok((outcomes, removed))
    }

    async fn apply_job(
        &self,
        pj: &PlannedJob,
        stage: usize,
        pre: Option<(Change, u64)>,
        record: Option<&Versioned<JobRecord>>,
        host_mode: &HostModeJobs,
        run: &Run<'_>,
    ) -> Result<JobOutcome> {
        let id = pj.job.id().to_owned();
        let nomad = &self.backends.nomad;
        let body = pj.job.to_json_value()?;
        let hash = content_hash(&body);
        let (change, read_index) = match pre {
            Some(p) => p,
            None => {
                // Always with the diff: without it Nomad's plan answers no `Diff` and every
                // job would look changed (an unchanged register then waits for a deployment
                // that is never created).
                let p = nomad.plan_job(&body, true).await?;
                (change_of(&p), p.job_modify_index)
            }
        };
        let (action, target) = if change == Change::Unchanged {
            (
                JobAction::Unchanged,
                Target {
                    job_modify_index: read_index,
                    eval: None,
                    registered: false,
                },
            )
        } else {
            if pj.role == Role::Etcd && change == Change::Update && run.opts.wait_for_health {
                if let Some(gate) = &self.etcd_gate {
                    gate.check_whole(&run.lock.mesh, &pj.job).await?;
                }
            }
            run.ensure_held()?;
            let req = RegisterRequest::new(body).enforce_index(read_index);
            let resp = nomad.register_job(&req).await.map_err(|e| {
                if e.is_conflict() {
                    ConflictError::JobChanged {
                        job: id.clone(),
                        read_index,
                        source: Arc::new(e),
                    }
                    .into()
                } else {
                    Error::from(e)
                }
            })?;
            run.writes.registers.fetch_add(1, Ordering::SeqCst);
            self.emit(Event::JobRegistered {
                job: id.clone(),
                job_modify_index: resp.job_modify_index,
                eval_id: resp.eval_id.clone(),
            });
            let action = if change == Change::Create {
                JobAction::Created
            } else {
                JobAction::Updated
            };
            (
                action,
                Target {
                    job_modify_index: resp.job_modify_index,
                    eval: Some((resp.eval_id.clone(), resp.eval_create_index))
                        .filter(|(e, _)| !e.is_empty()),
                    registered: true,
                },
            )
        };
        let deadline = Instant::now() + run.opts.health_deadline;
        let placed = if run.opts.wait_for_health {
            let placed = self
                .wait_placed(&pj.job, &target, deadline, run.opts)
                .await?;
            if pj.role == Role::Etcd {
                if let Some(gate) = &self.etcd_gate {
                    gate.check(&run.lock.mesh, &pj.job, deadline).await?;
                }
            }
            let mine = host_mode_groups(&pj.job);
            if !mine.is_empty() {
                if let Err(e) = self.check_host_mode(&id, &mine, host_mode).await {
                    if action == JobAction::Created {
                        // Refuse the placement: stop the job this apply created.
                        run.ensure_held()?;
                        nomad.deregister_job(&id, true).await?;
                        run.writes.deregisters.fetch_add(1, Ordering::SeqCst);
                        self.emit(Event::JobDeregistered { job: id.clone() });
                    }
                    return Err(e);
                }
            }
            let services = job_services(&pj.job);
            let waits = services
                .iter()
                .map(|(name, n)| self.wait_service(&id, name, *n, deadline, run.opts));
            first_error(join_all(waits.collect()).await)?;
            placed
        } else {
            let job = nomad.read_job(&id, &QueryOptions::new()).await?.value;
            Placed::of_job(&job)
        };
        self.emit(Event::JobHealthy {
            job: id.clone(),
            version: placed.version,
        });
        let new = JobRecord {
            job_id: id.clone(),
            role: pj.role.as_str().to_string(),
            stage,
            content_hash: hash,
            version: placed.version,
            job_modify_index: placed.job_modify_index,
            host_mode: !host_mode_groups(&pj.job).is_empty(),
            services: job_services(&pj.job).into_iter().map(|(n, _)| n).collect(),
        };
        let mut state_written = false;
        if record.map(|r| &r.value) != Some(&new) {
            let expected = record.map_or(0, |r| r.revision);
            run.ensure_held()?;
            self.store
                .write(
                    run.lock,
                    &StateKey::Job(id.clone()),
                    Some(encode(&new)?),
                    expected,
                )
                .await?;
            run.writes.state_writes.fetch_add(1, Ordering::SeqCst);
            state_written = true;
            self.emit(Event::StateWritten {
                key: StateKey::Job(id.clone()).path(run.lock.mesh.as_str()),
            });
        }
        if action == JobAction::Unchanged {
            self.emit(Event::JobUnchanged { job: id.clone() });
        }
        Ok(JobOutcome {
            job_id: id,
            action,
            version: placed.version,
            job_modify_index: placed.job_modify_index,
            state_written,
        })
    }

    /// Removes every job of `plan` (and every job recorded for its mesh) in reverse
    /// dependency order, purging them, and clears the recorded state. Writes nothing when
    /// nothing is left.
    pub async fn destroy(&self, plan: &Plan, opts: &ApplyOptions) -> Result<DestroyReport> {
        let started = Instant::now();
        let stages = plan.order()?;
        self.emit(Event::Started {
            operation: Operation::Destroy,
            mesh: plan.spec.name.clone(),
            jobs: plan.jobs.len(),
            stages: stages.len(),
        });
        let writes = WriteCounter::default();
        match self.destroy_inner(plan, stages, opts, &writes).await {
            Ok((deregistered, warnings)) => {
                let writes = writes.snapshot();
                self.emit(Event::Finished {
                    operation: Operation::Destroy,
                    writes: writes.total(),
                });
                Ok(DestroyReport {
                    mesh: plan.spec.name.clone(),
                    deregistered,
                    writes,
                    warnings,
                    elapsed: started.elapsed(),
                })
            }
            Err(e) => {
                self.emit(Event::Failed {
                    job: job_of_error(&e),
                    error: e.to_string(),
                });
                Err(e)
            }
        }
    }

    async fn job_exists(&self, id: &str) -> Result<bool> {
        match self.backends.nomad.read_job(id, &QueryOptions::new()).await {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    async fn destroy_inner(
        &self,
        plan: &Plan,
        stages: Vec<Vec<String>>,
        opts: &ApplyOptions,
        writes: &WriteCounter,
    ) -> Result<(Vec<String>, Vec<String>)> {
        let mesh = plan.spec.name.clone();
        let state = self.store.load(&mesh).await?;
        // Stage of every job to remove: the plan's, then the records' for the others.
        let mut stage_of: BTreeMap<String, usize> = BTreeMap::new();
        for (i, s) in stages.iter().enumerate() {
            for id in s {
                stage_of.insert(id.clone(), i);
            }
        }
        for r in state.jobs.values() {
            stage_of
                .entry(r.value.job_id.clone())
                .or_insert(r.value.stage);
        }
        let ids: Vec<String> = stage_of.keys().cloned().collect();
        let exists =
            first_error(join_all(ids.iter().map(|id| self.job_exists(id)).collect()).await)?;
        if state.is_empty() && !exists.iter().any(|e| *e) {
            return Ok((Vec::new(), Vec::new()));
        }
        let (lock, state) = self.lock(&mesh, Operation::Destroy, opts, writes).await?;
        let watch = Arc::new(LockWatch::default());
        let keepalive = self.spawn_keepalive(&lock, opts.lock_ttl, watch.clone());
        let run = Run {
            lock: &lock,
            opts,
            writes,
            watch: &watch,
        };
        let run = &run;
        let result = async {
            let mut done = Vec::new();
            let max_stage = stage_of.values().copied().max().unwrap_or(0);
            for s in (0..=max_stage).rev() {
                let batch: Vec<&String> = stage_of
                    .iter()
                    .filter(|(_, st)| **st == s)
                    .map(|(id, _)| id)
                    .collect();
                if batch.is_empty() {
                    continue;
                }
                self.emit(Event::StageStarted {
                    stage: s + 1,
                    jobs: batch.iter().map(|s| (*s).clone()).collect(),
                });
                let futures = batch.iter().map(|id| {
                    let record = state.jobs.get(id.as_str());
                    let services = match plan.job(id) {
                        Some(pj) => job_services(&pj.job).into_iter().map(|(n, _)| n).collect(),
                        None => record.map(|r| r.value.services.clone()).unwrap_or_default(),
                    };
                    async move {
                        self.destroy_job(id, &services, record, true, run)
                            .await
                            .map(|deregistered| deregistered.then(|| (*id).clone()))
                    }
                });
                done.extend(
                    first_error(join_all(futures.collect()).await)?
                        .into_iter()
                        .flatten(),
                );
            }
            if let Some(spec) = &state.spec {
                run.ensure_held()?;
                self.store
                    .write(&lock, &StateKey::Spec, None, spec.revision)
                    .await?;
                writes.state_writes.fetch_add(1, Ordering::SeqCst);
                self.emit(Event::StateWritten {
                    key: StateKey::Spec.path(&mesh),
                });
            }
            Ok::<_, Error>(done)
        }
        .await;
        keepalive.abort();
        let warning = self.unlock(&lock).await;
        result.map(|done| (done, warning.into_iter().collect()))
    }

    /// Purges one job (when it exists), waits for its services to leave Consul, deletes
    /// its record. Returns whether a deregister was sent.
    async fn destroy_job(
        &self,
        id: &str,
        services: &[String],
        record: Option<&Versioned<JobRecord>>,
        check_exists: bool,
        run: &Run<'_>,
    ) -> Result<bool> {
        let exists = !check_exists || self.job_exists(id).await?;
        if exists {
            run.ensure_held()?;
            self.backends.nomad.deregister_job(id, true).await?;
            run.writes.deregisters.fetch_add(1, Ordering::SeqCst);
            self.emit(Event::JobDeregistered { job: id.to_owned() });
        }
        if run.opts.wait_for_health {
            let deadline = Instant::now() + run.opts.health_deadline;
            let waits = services
                .iter()
                .map(|s| self.wait_service_gone(id, s, deadline, run.opts));
            first_error(join_all(waits.collect()).await)?;
        }
        if let Some(r) = record {
            run.ensure_held()?;
            self.store
                .write(run.lock, &StateKey::Job(id.to_owned()), None, r.revision)
                .await?;
            run.writes.state_writes.fetch_add(1, Ordering::SeqCst);
            self.emit(Event::StateWritten {
                key: StateKey::Job(id.to_owned()).path(&run.lock.mesh),
            });
        }
        Ok(exists)
    }
}
