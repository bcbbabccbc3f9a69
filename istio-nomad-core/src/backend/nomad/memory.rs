//! An in-memory Nomad that follows the server's rules, each cited from hashicorp/nomad
//! (v1.6.9 and v1.11.3) in `tests/FAKES.md`:
//!
//! * one growing Raft index, and per-table indexes that start at 0 (a table nothing was
//!   written to reports index 0, as `/v1/job/:id/deployment` does before the first
//!   deployment of the cluster);
//! * job versions, `ModifyIndex` (moved by status and stability changes too) and
//!   `JobModifyIndex` (moved only by a change of the specification), `EnforceIndex`
//!   check-and-set, `?namespace=` winning over the job's `Namespace`;
//! * a register creates a pending evaluation; the scheduler runs it a moment later
//!   ([`MemoryNomad::set_schedule_delay`]), so a read right after the register sees no
//!   deployment or the previous one; an unchanged register writes no job and creates no
//!   deployment, and answers with the job's `ModifyIndex` from 1.11.2 on, its
//!   `JobModifyIndex` before ([`NomadVersion`]);
//! * deployments are created only when `createDeployment` would: not for an empty update
//!   strategy (`max_parallel = 0`), a group count of 0, batch jobs, or system jobs before
//!   1.11; a deployment's `JobModifyIndex` is the job's `ModifyIndex` and its
//!   `JobSpecModifyIndex` the job's `JobModifyIndex`; canaries without `auto_promote` wait
//!   for a promotion that never comes; deployments can be paused;
//! * allocations start `pending` and, after the progress delay, run (service and system
//!   jobs) or complete (batch jobs), healthy; a successful deployment marks the job
//!   version stable;
//! * deregistering an unknown job answers an empty evaluation and index 0; missing objects
//!   give 404.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{json, Value};

use super::diff::{job_diff, spec_of, ADDED, NONE};
use super::types::{
    deployment_status, AllocDeploymentStatus, AllocationListStub, Deployment, DeploymentState,
    DeregisterResponse, DesiredUpdates, Evaluation, JobVersions, PlanAnnotations, PlanResponse,
    RegisterRequest, RegisterResponse, ValidateResponse,
};
use super::{job_id, job_json, JobBody, Nomad};
use crate::backend::blocking::{lock, new_id, now_ns, now_rfc3339, Changes};
use crate::backend::request::{encode_segment, Method};
use crate::backend::{BackendError, BackendResult, Indexed, QueryOptions, Service};

/// Name of the node every in-memory allocation is placed on.
pub const MEMORY_NODE_NAME: &str = "memory-node-1";
const MEMORY_NODE_ID: &str = "00000000-0000-4000-8000-000000000001";

/// The Nomad release an in-memory server behaves like, where releases differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NomadVersion {
    /// Major version.
    pub major: u32,
    /// Minor version.
    pub minor: u32,
    /// Patch version.
    pub patch: u32,
}

impl NomadVersion {
    /// Nomad 1.6.9.
    pub const V1_6_9: NomadVersion = NomadVersion::new(1, 6, 9);
    /// Nomad 1.11.1 (the last release whose unchanged register answers `JobModifyIndex`).
    pub const V1_11_1: NomadVersion = NomadVersion::new(1, 11, 1);
    /// Nomad 1.11.3 (the default).
    pub const V1_11_3: NomadVersion = NomadVersion::new(1, 11, 3);

    /// A version.
    pub const fn new(major: u32, minor: u32, patch: u32) -> Self {
        NomadVersion {
            major,
            minor,
            patch,
        }
    }

    /// From 1.11.2 an unchanged register answers the job's `ModifyIndex`, before it its
    /// `JobModifyIndex` (hashicorp/nomad `nomad/job_endpoint.go` `Register`).
    pub fn unchanged_register_answers_modify_index(self) -> bool {
        self >= NomadVersion::new(1, 11, 2)
    }

    /// From 1.11.0 the system scheduler creates deployments (hashicorp/nomad
    /// `scheduler/reconciler/reconcile_node.go` `createDeployment`; 1.6.9 has none).
    pub fn system_jobs_have_deployments(self) -> bool {
        self >= NomadVersion::new(1, 11, 0)
    }
}

impl Default for NomadVersion {
    fn default() -> Self {
        NomadVersion::V1_11_3
    }
}

impl fmt::Display for NomadVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

#[derive(Debug, Clone)]
struct StoredJob {
    /// The job as read back (server fields set).
    current: Value,
    /// Every version, oldest first.
    versions: Vec<Value>,
    create_index: u64,
}

#[derive(Debug, Clone)]
struct StoredAlloc {
    job_create_index: u64,
    deployment_id: Option<String>,
    canary: bool,
    stub: AllocationListStub,
}

#[derive(Debug, Default)]
struct State {
    index: u64,
    jobs: BTreeMap<(String, String), StoredJob>,
    allocs: Vec<StoredAlloc>,
    deployments: Vec<Deployment>,
    evals: Vec<Evaluation>,
    jobs_index: u64,
    allocs_index: u64,
    deployments_index: u64,
    evals_index: u64,
    failing_jobs: HashSet<String>,
    progress_delay: Duration,
    schedule_delay: Duration,
    version: NomadVersion,
}

struct Inner {
    state: Mutex<State>,
    changes: Changes,
}

/// An in-memory Nomad server. Clones share the same cluster.
///
/// A handle made with [`MemoryNomad::new`] behaves like a client that sends no
/// `?namespace=`: a job's own `Namespace` decides where it is registered, reads go to
/// `default`. [`MemoryNomad::in_namespace`] gives a handle that sends `?namespace=`, which
/// wins over the job's field (hashicorp/nomad `command/agent/job_endpoint.go`
/// `namespaceForJob`).
///
/// The scheduler runs an evaluation [`MemoryNomad::set_schedule_delay`] (default 5 ms)
/// after it is created; allocations become running and healthy (and the deployment
/// successful) [`MemoryNomad::set_progress_delay`] (default 20 ms) later, unless the job was
/// marked with [`MemoryNomad::fail_deployments`].
#[derive(Clone)]
pub struct MemoryNomad {
    inner: Arc<Inner>,
    namespace: Option<String>,
    nodes: super::nodes::MemoryNodes,
}

impl fmt::Debug for MemoryNomad {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = lock(&self.inner.state);
        f.debug_struct("MemoryNomad")
            .field("namespace", &self.namespace)
            .field("version", &s.version)
            .field("index", &s.index)
            .field("jobs", &s.jobs.len())
            .finish()
    }
}

impl Default for MemoryNomad {
    fn default() -> Self {
        Self::new()
    }
}

fn err(status: u16, method: Method, path: String, message: impl Into<String>) -> BackendError {
    let message = message.into();
    if status == 404 {
        BackendError::NotFound {
            service: Service::Nomad,
            method,
            path,
            status,
            message,
        }
    } else {
        BackendError::Http {
            service: Service::Nomad,
            method,
            path,
            status,
            message,
        }
    }
}

fn conflict(path: &str, message: String) -> BackendError {
    BackendError::Conflict {
        service: Service::Nomad,
        method: Method::Post,
        path: path.into(),
        status: Some(500),
        message,
    }
}

/// Nomad's multi-error text (go-multierror).
fn multierror(errors: &[String]) -> String {
    let head = if errors.len() == 1 {
        "1 error occurred:".to_owned()
    } else {
        format!("{} errors occurred:", errors.len())
    };
    let items: String = errors.iter().map(|e| format!("\n\t* {e}")).collect();
    format!("{head}{items}\n\n")
}

/// The server-side checks Nomad applies to a job on register, plan and validate.
fn validate(job: &Value) -> Vec<String> {
    let mut errs = Vec::new();
    match job.get("ID").and_then(Value::as_str) {
        None | Some("") => errs.push("Missing job ID".to_owned()),
        Some(id) if id.contains(' ') => errs.push("Job ID contains a space".to_owned()),
        _ => {}
    }
    if let Some(t) = job.get("Type").and_then(Value::as_str) {
        if !["service", "batch", "system", "sysbatch"].contains(&t) {
            errs.push(format!("Invalid job type: {t:?}"));
        }
    }
    if let Some(p) = job.get("Priority").and_then(Value::as_i64) {
        if !(1..=100).contains(&p) {
            errs.push("Job priority must be between [1, 100]".to_owned());
        }
    }
    let groups = job
        .get("TaskGroups")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if groups.is_empty() {
        errs.push("Missing job task groups".to_owned());
    }
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, g) in groups.iter().enumerate() {
        let name = g.get("Name").and_then(Value::as_str).unwrap_or_default();
        if name.is_empty() {
            errs.push(format!("Job task group {} missing name", i + 1));
            continue;
        }
        if let Some(j) = seen.insert(name, i) {
            errs.push(format!(
                "Job task group {} redefines '{name}' from group {}",
                i + 1,
                j + 1
            ));
        }
        if g.get("Count")
            .and_then(Value::as_i64)
            .is_some_and(|c| c < 0)
        {
            errs.push(format!(
                "Task group {name} validation failed: Task group count can't be negative"
            ));
        }
        let tasks = g
            .get("Tasks")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        if tasks.is_empty() {
            errs.push(format!(
                "Task group {name} validation failed: Missing tasks for task group"
            ));
        }
        for (k, t) in tasks.iter().enumerate() {
            match t.get("Name").and_then(Value::as_str) {
                None | Some("") => errs.push(format!(
                    "Task group {name} validation failed: Task {} missing name",
                    k + 1
                )),
                Some(tn) => {
                    if t.get("Driver")
                        .and_then(Value::as_str)
                        .is_none_or(str::is_empty)
                    {
                        errs.push(format!("Task group {name} validation failed: Task {tn} validation failed: Missing task driver"));
                    }
                }
            }
        }
    }
    errs
}

fn groups_of(job: &Value) -> Vec<(String, u64)> {
    job.get("TaskGroups")
        .and_then(Value::as_array)
        .map(|gs| {
            gs.iter()
                .map(|g| {
                    (
                        g.get("Name")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned(),
                        g.get("Count").and_then(Value::as_u64).unwrap_or(1),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn group_of<'a>(job: &'a Value, name: &str) -> Option<&'a Value> {
    job.get("TaskGroups")
        .and_then(Value::as_array)
        .and_then(|gs| {
            gs.iter()
                .find(|g| g.get("Name").and_then(Value::as_str) == Some(name))
        })
}

fn str_field<'a>(job: &'a Value, key: &str, default: &'a str) -> &'a str {
    job.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or(default)
}

fn is_stopped(job: &Value) -> bool {
    job.get("Stop").and_then(Value::as_bool).unwrap_or(false)
}

fn job_type(job: &Value) -> &str {
    str_field(job, "Type", "service")
}

fn is_batch(job: &Value) -> bool {
    matches!(job_type(job), "batch" | "sysbatch")
}

/// Periodic and parameterized jobs get no evaluation on register (hashicorp/nomad
/// `nomad/job_endpoint.go` `Register`: "If the job is periodic or parameterized, we don't
/// create an eval").
fn creates_no_eval(job: &Value) -> bool {
    let set = |k: &str| job.get(k).is_some_and(|v| !v.is_null());
    set("Periodic") || set("ParameterizedJob")
}

/// A group's update strategy after the server's canonicalization: the job's `Update`
/// (defaulted to `DefaultUpdateStrategy` for service and system jobs when absent, kept
/// absent for batch jobs) merged under the group's own (hashicorp/nomad `api/jobs.go`
/// `Job.Canonicalize`, `api/tasks.go` `TaskGroup.Canonicalize`,
/// `api/jobs.go` `UpdateStrategy.Canonicalize`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Strategy {
    max_parallel: i64,
    canary: u64,
    auto_promote: bool,
    auto_revert: bool,
    progress_deadline: i64,
}

impl Strategy {
    fn of(job: &Value, group: &Value) -> Option<Strategy> {
        let present = |v: Option<&Value>| v.filter(|u| u.is_object()).cloned();
        let job_update = present(job.get("Update"))
            .or_else(|| matches!(job_type(job), "service" | "system").then(|| json!({})));
        let merged = match (job_update, present(group.get("Update"))) {
            (Some(mut j), Some(g)) => {
                if let (Some(jm), Some(gm)) = (j.as_object_mut(), g.as_object()) {
                    for (k, v) in gm.iter().filter(|(_, v)| !v.is_null()) {
                        jm.insert(k.clone(), v.clone());
                    }
                }
                j
            }
            (Some(j), None) => j,
            (None, Some(g)) => g,
            (None, None) => return None,
        };
        let int = |k: &str, d: i64| merged.get(k).and_then(Value::as_i64).unwrap_or(d);
        let flag = |k: &str| merged.get(k).and_then(Value::as_bool).unwrap_or(false);
        Some(Strategy {
            max_parallel: int("MaxParallel", 1),
            canary: int("Canary", 0).max(0) as u64,
            auto_promote: flag("AutoPromote"),
            auto_revert: flag("AutoRevert"),
            progress_deadline: int("ProgressDeadline", 600_000_000_000),
        })
    }

    /// `UpdateStrategy.IsEmpty` (hashicorp/nomad `nomad/structs/structs.go`): no
    /// deployment for a group whose `MaxParallel` is 0.
    fn is_empty(s: Option<Strategy>) -> bool {
        s.is_none_or(|s| s.max_parallel == 0)
    }
}

/// The group's specification without its count (a count change alone is no update of the
/// allocations).
fn group_spec(group: Option<&Value>) -> Value {
    let mut g = group.cloned().unwrap_or(Value::Null);
    if let Some(m) = g.as_object_mut() {
        m.remove("Count");
    }
    g
}

use super::types::deployment_status::is_active;

impl MemoryNomad {
    /// An empty cluster, behaving like Nomad 1.11.3; the handle sends no `?namespace=`.
    pub fn new() -> Self {
        let state = State {
            index: 1,
            progress_delay: Duration::from_millis(20),
            schedule_delay: Duration::from_millis(5),
            ..State::default()
        };
        MemoryNomad {
            inner: Arc::new(Inner {
                state: Mutex::new(state),
                changes: Changes::new(),
            }),
            namespace: None,
            nodes: super::nodes::MemoryNodes::default(),
        }
    }

    /// Replaces the cluster's client nodes (default: one node, [`super::NodeInfo::memory_node`]).
    pub fn set_nodes(&self, nodes: Vec<super::NodeInfo>) {
        self.nodes.set(nodes);
    }

    /// A handle on the same cluster that sends `?namespace=ns` with every request.
    #[must_use]
    pub fn in_namespace(&self, ns: impl Into<String>) -> Self {
        MemoryNomad {
            inner: self.inner.clone(),
            namespace: Some(ns.into()),
            nodes: self.nodes.clone(),
        }
    }

    /// Behaves like Nomad `version` where releases differ.
    pub fn set_version(&self, version: NomadVersion) {
        lock(&self.inner.state).version = version;
    }

    /// Sets how long allocations take to become healthy (0: at once).
    pub fn set_progress_delay(&self, delay: Duration) {
        lock(&self.inner.state).progress_delay = delay;
    }

    /// Sets how long an evaluation waits for the scheduler (0: scheduled before the register
    /// answers, as if the scheduler were instantaneous).
    pub fn set_schedule_delay(&self, delay: Duration) {
        lock(&self.inner.state).schedule_delay = delay;
    }

    /// From now on, deployments of `job_id` fail (allocations unhealthy).
    pub fn fail_deployments(&self, job_id: &str) {
        lock(&self.inner.state)
            .failing_jobs
            .insert(job_id.to_owned());
    }

    /// From now on, deployments of `job_id` succeed again (undoes
    /// [`MemoryNomad::fail_deployments`]).
    pub fn heal_deployments(&self, job_id: &str) {
        lock(&self.inner.state).failing_jobs.remove(job_id);
    }

    /// Pauses (or resumes) a running deployment, as `POST /v1/deployment/pause/:id` does
    /// (hashicorp/nomad `nomad/deployment_endpoint.go` `Pause`). False when there is no
    /// active deployment with that ID.
    pub fn pause_deployment(&self, deployment_id: &str, pause: bool) -> bool {
        let mut st = lock(&self.inner.state);
        st.index += 1;
        let index = st.index;
        let Some(d) = st
            .deployments
            .iter_mut()
            .find(|d| d.id == deployment_id && is_active(&d.status))
        else {
            st.index -= 1;
            return false;
        };
        if pause {
            d.status = deployment_status::PAUSED.into();
            d.status_description = "Deployment is paused".into();
        } else {
            d.status = deployment_status::RUNNING.into();
            d.status_description = "Deployment is running".into();
        }
        d.modify_index = index;
        st.deployments_index = index;
        self.inner.changes.bump();
        true
    }

    /// The current Raft index.
    pub fn index(&self) -> u64 {
        lock(&self.inner.state).index
    }

    /// IDs of the jobs registered in this handle's namespace (purged jobs excluded).
    pub fn job_ids(&self) -> Vec<String> {
        let ns = self.read_namespace();
        lock(&self.inner.state)
            .jobs
            .keys()
            .filter(|(n, _)| *n == ns)
            .map(|(_, id)| id.clone())
            .collect()
    }

    /// The namespace reads go to: the `?namespace=` of the handle, else `default`.
    fn read_namespace(&self) -> String {
        self.namespace.clone().unwrap_or_else(|| "default".into())
    }

    fn key(&self, id: &str) -> (String, String) {
        (self.read_namespace(), id.to_owned())
    }

    /// The job as the server stores it: defaults filled in, namespace decided by
    /// `namespaceForJob` (query, then body, then `default`). Fails like the server (HTTP 500
    /// with the multi-error text) when validation fails.
    fn canonical(&self, job: &JobBody, plan: bool) -> BackendResult<(String, String, Value)> {
        let mut v = job_json(job)?;
        let errs = validate(&v);
        if !errs.is_empty() {
            let path = match (plan, v.get("ID").and_then(Value::as_str)) {
                (true, Some(id)) => format!("/v1/job/{}/plan", encode_segment(id)),
                _ => "/v1/jobs".to_owned(),
            };
            return Err(err(500, Method::Post, path, multierror(&errs)));
        }
        let id = job_id(&v)?;
        let ns = self
            .namespace
            .clone()
            .filter(|n| !n.is_empty())
            .or_else(|| {
                v.get("Namespace")
                    .and_then(Value::as_str)
                    .filter(|n| !n.is_empty())
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| "default".into());
        if let Some(m) = v.as_object_mut() {
            m.insert("Namespace".into(), json!(ns));
            m.entry("Name").or_insert_with(|| json!(id));
            m.entry("Type").or_insert_with(|| json!("service"));
            m.entry("Priority").or_insert_with(|| json!(50));
            m.entry("Stop").or_insert_with(|| json!(false));
        }
        Ok((id, ns, v))
    }

    fn new_eval(
        st: &mut State,
        ns: &str,
        id: &str,
        job: Option<&Value>,
        triggered_by: &str,
        job_modify_index: u64,
    ) -> Evaluation {
        let now = now_ns();
        let eval = Evaluation {
            id: new_id(),
            namespace: ns.into(),
            priority: job
                .and_then(|j| j.get("Priority"))
                .and_then(Value::as_i64)
                .unwrap_or(50),
            kind: job
                .map(|j| job_type(j).to_owned())
                .unwrap_or_else(|| "service".into()),
            triggered_by: triggered_by.into(),
            job_id: id.into(),
            job_modify_index,
            status: "pending".into(),
            create_index: st.index,
            modify_index: st.index,
            create_time: now,
            modify_time: now,
            ..Evaluation::default()
        };
        st.evals.push(eval.clone());
        st.evals_index = st.index;
        eval
    }

    /// Runs the scheduler for `eval_id` after the schedule delay (at once without a tokio
    /// runtime or with no delay), then lets allocations progress.
    fn spawn_scheduler(&self, eval_id: String) {
        let weak = Arc::downgrade(&self.inner);
        let delay = lock(&self.inner.state).schedule_delay;
        match tokio::runtime::Handle::try_current() {
            Ok(handle) if !delay.is_zero() => {
                handle.spawn(async move {
                    tokio::time::sleep(delay).await;
                    run_scheduler(&weak, &eval_id);
                });
            }
            _ => run_scheduler(&weak, &eval_id),
        }
    }

    fn plan_annotations(
        old: Option<&Value>,
        new: &Value,
        diff: &super::types::JobDiff,
    ) -> PlanAnnotations {
        let old_groups = old.map(groups_of).unwrap_or_default();
        let mut out = BTreeMap::new();
        let old_stopped = old.is_some_and(is_stopped);
        for (name, count) in groups_of(new) {
            let prev = if old_stopped {
                None
            } else {
                old_groups.iter().find(|(g, _)| *g == name).map(|(_, c)| *c)
            };
            let gd = diff.task_groups.iter().find(|g| g.name == name);
            let mut u = DesiredUpdates::default();
            match prev {
                None => u.place = count,
                Some(prev) => {
                    let keep = prev.min(count);
                    u.place = count.saturating_sub(prev);
                    u.stop = prev.saturating_sub(count);
                    let tasks_changed = gd.is_some_and(|g| !g.tasks.is_empty());
                    let others_changed = gd.is_some_and(|g| {
                        !g.objects.is_empty() || g.fields.iter().any(|f| f.name != "Count")
                    });
                    if tasks_changed {
                        u.destructive_update = keep;
                    } else if others_changed {
                        u.in_place_update = keep;
                    } else {
                        u.ignore = keep;
                    }
                }
            }
            out.insert(name, u);
        }
        if !old_stopped {
            for (name, count) in old_groups {
                out.entry(name).or_insert_with(|| DesiredUpdates {
                    stop: count,
                    ..DesiredUpdates::default()
                });
            }
        }
        PlanAnnotations {
            desired_tg_updates: out,
            preempted_allocs: Vec::new(),
        }
    }
}

/// The scheduler's run of one evaluation (hashicorp/nomad `scheduler/generic_sched.go`
/// `process`, `scheduler/reconciler/reconcile_cluster.go` `Compute`): stops what the job no
/// longer needs, cancels deployments of older versions, places and updates allocations,
/// creates a deployment when `createDeployment` would, and completes the evaluation with the
/// `DeploymentID` of the job's current deployment.
fn run_scheduler(weak: &Weak<Inner>, eval_id: &str) {
    let Some(inner) = weak.upgrade() else { return };
    let placed = {
        let mut guard = lock(&inner.state);
        let st = &mut *guard;
        let Some(eval) = st.evals.iter().find(|e| e.id == eval_id).cloned() else {
            return;
        };
        if eval.status != "pending" {
            return;
        }
        st.index += 1;
        let index = st.index;
        let placed = schedule(st, &eval.namespace, &eval.job_id, index);
        let latest = st
            .deployments
            .iter()
            .filter(|d| d.namespace == eval.namespace && d.job_id == eval.job_id)
            .max_by_key(|d| d.create_index)
            .map(|d| d.id.clone());
        if let Some(e) = st.evals.iter_mut().find(|e| e.id == eval_id) {
            e.status = "complete".into();
            e.deployment_id = latest.unwrap_or_default();
            e.modify_index = index;
            e.modify_time = now_ns();
        }
        st.evals_index = index;
        inner.changes.bump();
        placed.map(|v| {
            (
                eval.namespace.clone(),
                eval.job_id.clone(),
                v,
                st.progress_delay,
            )
        })
    };
    if let Some((ns, id, version, delay)) = placed {
        let weak = weak.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(handle) if !delay.is_zero() => {
                handle.spawn(async move {
                    tokio::time::sleep(delay).await;
                    progress(&weak, &ns, &id, version);
                });
            }
            _ => progress(&weak, &ns, &id, version),
        }
    }
}

/// Reconciles the job's allocations with its current version at Raft index `index`.
/// Returns the version placed when allocations were placed or updated.
fn schedule(st: &mut State, ns: &str, id: &str, index: u64) -> Option<u64> {
    let now = now_ns();
    let job = st
        .jobs
        .get(&(ns.to_owned(), id.to_owned()))
        .map(|j| (j.current.clone(), j.create_index, j.versions.clone()));
    let stopped = job.as_ref().is_none_or(|(j, _, _)| is_stopped(j));
    if stopped {
        for a in st.allocs.iter_mut().filter(|a| {
            a.stub.namespace == ns && a.stub.job_id == id && a.stub.desired_status == "run"
        }) {
            a.stub.desired_status = "stop".into();
            a.stub.desired_description = "alloc not needed due to job update".into();
            a.stub.client_status = "complete".into();
            a.stub.modify_index = index;
            a.stub.modify_time = now;
            st.allocs_index = index;
        }
        for d in st
            .deployments
            .iter_mut()
            .filter(|d| d.namespace == ns && d.job_id == id && is_active(&d.status))
        {
            d.status = deployment_status::CANCELLED.into();
            d.status_description = "Cancelled because job is stopped".into();
            d.modify_index = index;
            st.deployments_index = index;
        }
        return None;
    }
    let (job, create_index, versions) = job?;
    let version = job.get("Version").and_then(Value::as_u64).unwrap_or(0);
    // cancelUnneededDeployments: an active deployment of another version is cancelled.
    for d in st.deployments.iter_mut().filter(|d| {
        d.namespace == ns
            && d.job_id == id
            && is_active(&d.status)
            && (d.job_version != version || d.job_create_index != create_index)
    }) {
        d.status = deployment_status::CANCELLED.into();
        d.status_description = "Cancelled due to newer version of job".into();
        d.modify_index = index;
        st.deployments_index = index;
    }
    let mut current_dep = st
        .deployments
        .iter()
        .filter(|d| {
            d.namespace == ns
                && d.job_id == id
                && d.job_version == version
                && d.job_create_index == create_index
                && is_active(&d.status)
        })
        .max_by_key(|d| d.create_index)
        .map(|d| d.id.clone());
    let had_deployment = current_dep.is_some();
    let system_deployments = st.version.system_jobs_have_deployments();
    let kind = job_type(&job).to_owned();
    let generic = matches!(kind.as_str(), "service" | "batch");
    let may_deploy = generic || (kind == "system" && system_deployments);
    let old_group = |v: u64, name: &str| -> Value {
        versions
            .iter()
            .find(|j| j.get("Version").and_then(Value::as_u64) == Some(v))
            .map_or(Value::Null, |j| group_spec(group_of(j, name)))
    };
    let mut new_dep: Option<Deployment> = None;
    let mut touched = false;
    let groups: Vec<(String, u64, Value)> = groups_of(&job)
        .into_iter()
        .map(|(g, c)| {
            let spec = group_of(&job, &g).cloned().unwrap_or(Value::Null);
            (g, c, spec)
        })
        .collect();
    // Groups no longer in the job: their allocations stop.
    for a in st.allocs.iter_mut().filter(|a| {
        a.stub.namespace == ns
            && a.stub.job_id == id
            && a.stub.desired_status == "run"
            && !groups.iter().any(|(g, _, _)| *g == a.stub.task_group)
    }) {
        a.stub.desired_status = "stop".into();
        a.stub.desired_description = "alloc not needed as task group was removed".into();
        a.stub.client_status = "complete".into();
        a.stub.modify_index = index;
        touched = true;
    }
    for (g, count, spec) in &groups {
        let strategy = Strategy::of(&job, spec);
        let new_spec = group_spec(Some(spec));
        let live: Vec<usize> = st
            .allocs
            .iter()
            .enumerate()
            .filter(|(_, a)| {
                a.stub.namespace == ns
                    && a.stub.job_id == id
                    && a.stub.task_group == *g
                    && a.stub.desired_status == "run"
                    && a.stub.client_status != "failed"
                    && a.job_create_index == create_index
            })
            .map(|(i, _)| i)
            .collect();
        // A failed allocation is terminal: the reconciler replaces it instead of updating it
        // (scheduler/reconcile_util.go `filterByTerminal`, `filterByRescheduleable`, v1.6.9).
        // reconcile_cluster.go createDeployment: hadRunning looks at every allocation of
        // the job, terminal ones included.
        let had_running = st.allocs.iter().any(|a| {
            a.stub.namespace == ns
                && a.stub.job_id == id
                && a.stub.task_group == *g
                && a.stub.job_version == version
                && a.job_create_index == create_index
        });
        let mut destructive: Vec<usize> = Vec::new();
        let mut inplace: Vec<usize> = Vec::new();
        for &i in &live {
            let v = st.allocs[i].stub.job_version;
            if v == version {
                continue;
            }
            if old_group(v, g).get("Tasks") != new_spec.get("Tasks") {
                destructive.push(i);
            } else {
                inplace.push(i);
            }
        }
        let canaries_wanted = strategy
            .filter(|s| s.canary > 0 && !s.auto_promote && !destructive.is_empty())
            .map_or(0, |s| s.canary);
        let updating_spec = !destructive.is_empty() || !inplace.is_empty();
        let mut placed: u64 = 0;
        // Names taken by allocations that stay (updated in place or already current).
        let mut taken: Vec<u64> = Vec::new();
        for &i in &live {
            if !destructive.contains(&i) || canaries_wanted > 0 {
                taken.push(alloc_index(&st.allocs[i].stub.name));
            }
        }
        for &i in &inplace {
            let a = &mut st.allocs[i];
            a.stub.job_version = version;
            a.stub.modify_index = index;
            a.stub.modify_time = now;
            touched = true;
        }
        let mut to_place: Vec<(u64, bool)> = Vec::new();
        if canaries_wanted > 0 {
            let have = st
                .allocs
                .iter()
                .filter(|a| {
                    a.canary
                        && a.stub.namespace == ns
                        && a.stub.job_id == id
                        && a.stub.task_group == *g
                        && a.stub.job_version == version
                        && a.stub.desired_status == "run"
                })
                .count() as u64;
            let first = taken.iter().copied().max().map_or(0, |m| m + 1);
            for n in first..first + canaries_wanted.saturating_sub(have) {
                to_place.push((n, true));
            }
        } else {
            for &i in &destructive {
                let a = &mut st.allocs[i];
                a.stub.desired_status = "stop".into();
                a.stub.desired_description = "alloc is being updated due to job update".into();
                a.stub.client_status = "complete".into();
                a.stub.modify_index = index;
                a.stub.modify_time = now;
                to_place.push((alloc_index(&a.stub.name), false));
                touched = true;
            }
            let kept = live.len() - destructive.len() + to_place.len();
            let want = *count as usize;
            if kept < want {
                let mut n = 0u64;
                for _ in kept..want {
                    while taken.contains(&n) || to_place.iter().any(|(p, _)| *p == n) {
                        n += 1;
                    }
                    to_place.push((n, false));
                }
            } else if kept > want {
                let mut stay: Vec<usize> = live
                    .iter()
                    .copied()
                    .filter(|i| !destructive.contains(i))
                    .collect();
                stay.sort_by_key(|i| std::cmp::Reverse(alloc_index(&st.allocs[*i].stub.name)));
                for &i in stay.iter().take(kept - want) {
                    let a = &mut st.allocs[i];
                    a.stub.desired_status = "stop".into();
                    a.stub.desired_description = "alloc not needed due to job update".into();
                    a.stub.client_status = "complete".into();
                    a.stub.modify_index = index;
                    touched = true;
                }
                to_place.sort();
                to_place.truncate(want.saturating_sub(live.len() - destructive.len()));
            }
        }
        placed += to_place.len() as u64;
        // createDeployment: not for an existing deployment, an empty strategy, a count of 0,
        // or a job that ran this version already without a change of its specification.
        let create = may_deploy
            && !had_deployment
            && !Strategy::is_empty(strategy)
            && *count > 0
            && (!had_running || updating_spec)
            && (placed > 0 || updating_spec);
        if create && current_dep.is_none() && new_dep.is_none() {
            let dep = Deployment {
                id: new_id(),
                namespace: ns.into(),
                job_id: id.into(),
                job_version: version,
                // NewDeployment: JobModifyIndex is the job's ModifyIndex, JobSpecModifyIndex
                // its JobModifyIndex (hashicorp/nomad nomad/structs/deployment.go).
                job_modify_index: job.get("ModifyIndex").and_then(Value::as_u64).unwrap_or(0),
                job_spec_modify_index: job
                    .get("JobModifyIndex")
                    .and_then(Value::as_u64)
                    .unwrap_or(0),
                job_create_index: create_index,
                status: deployment_status::RUNNING.into(),
                status_description: "Deployment is running".into(),
                task_groups: BTreeMap::new(),
                create_index: index,
                modify_index: index,
            };
            current_dep = Some(dep.id.clone());
            new_dep = Some(dep);
        }
        if create {
            if let (Some(dep), Some(s)) = (new_dep.as_mut(), strategy) {
                dep.task_groups.insert(
                    g.clone(),
                    DeploymentState {
                        auto_revert: s.auto_revert,
                        auto_promote: s.auto_promote,
                        desired_canaries: canaries_wanted,
                        desired_total: *count,
                        placed_allocs: placed,
                        progress_deadline: s.progress_deadline,
                        ..DeploymentState::default()
                    },
                );
                if canaries_wanted > 0 {
                    dep.status_description =
                        "Deployment is running but requires manual promotion".into();
                }
            }
        }
        let dep_id = current_dep.clone();
        for (n, canary) in to_place {
            touched = true;
            st.allocs.push(StoredAlloc {
                job_create_index: create_index,
                deployment_id: dep_id.clone(),
                canary,
                stub: AllocationListStub {
                    id: new_id(),
                    eval_id: String::new(),
                    name: format!("{id}.{g}[{n}]"),
                    namespace: ns.into(),
                    node_id: MEMORY_NODE_ID.into(),
                    node_name: MEMORY_NODE_NAME.into(),
                    job_id: id.into(),
                    job_version: version,
                    task_group: g.clone(),
                    desired_status: "run".into(),
                    client_status: "pending".into(),
                    deployment_status: canary.then(|| AllocDeploymentStatus {
                        canary: true,
                        ..AllocDeploymentStatus::default()
                    }),
                    create_index: index,
                    modify_index: index,
                    create_time: now,
                    modify_time: now,
                    ..AllocationListStub::default()
                },
            });
        }
    }
    if let Some(dep) = new_dep {
        st.deployments.push(dep);
        st.deployments_index = index;
    }
    if touched {
        st.allocs_index = index;
    }
    // setJobStatus: a job with allocations to run is running.
    let running = st.allocs.iter().any(|a| {
        a.stub.namespace == ns
            && a.stub.job_id == id
            && a.stub.desired_status == "run"
            && matches!(a.stub.client_status.as_str(), "pending" | "running")
    });
    if let Some(j) = st.jobs.get_mut(&(ns.to_owned(), id.to_owned())) {
        if running && j.current.get("Status").and_then(Value::as_str) != Some("running") {
            j.current["Status"] = json!("running");
            j.current["ModifyIndex"] = json!(index);
            st.jobs_index = index;
        }
    }
    touched.then_some(version)
}

/// The allocation index of a name `job.group[i]`.
fn alloc_index(name: &str) -> u64 {
    name.rsplit('[')
        .next()
        .and_then(|s| s.trim_end_matches(']').parse().ok())
        .unwrap_or(0)
}

/// After the delay, the allocations of job version `version` run (service and system jobs)
/// or complete (batch jobs), healthy, or fail; deployments count them and end successful
/// (the job version marked stable) or failed. Canaries waiting for promotion keep their
/// deployment running.
fn progress(weak: &Weak<Inner>, ns: &str, id: &str, version: u64) {
    let Some(inner) = weak.upgrade() else { return };
    let mut guard = lock(&inner.state);
    let st = &mut *guard;
    let failing = st.failing_jobs.contains(id);
    let batch = st
        .jobs
        .get(&(ns.to_owned(), id.to_owned()))
        .is_some_and(|j| is_batch(&j.current));
    st.index += 1;
    let index = st.index;
    let now = now_ns();
    let mut touched = false;
    for a in st.allocs.iter_mut() {
        let canary = a.canary;
        let s = &mut a.stub;
        if s.namespace == ns
            && s.job_id == id
            && s.job_version == version
            && s.desired_status == "run"
            && s.client_status == "pending"
        {
            s.client_status = match (failing, batch) {
                (true, _) => "failed",
                (false, true) => "complete",
                (false, false) => "running",
            }
            .into();
            s.client_description = match (failing, batch) {
                (true, _) => "Failed tasks",
                (false, true) => "All tasks have completed",
                (false, false) => "Tasks are running",
            }
            .into();
            if a.deployment_id.is_some() {
                s.deployment_status = Some(AllocDeploymentStatus {
                    healthy: Some(!failing),
                    canary,
                    timestamp: Some(now_rfc3339()),
                    modify_index: index,
                });
            }
            s.modify_index = index;
            s.modify_time = now;
            touched = true;
        }
    }
    if !touched {
        st.index -= 1;
        return;
    }
    st.allocs_index = index;
    let mut successful = false;
    let allocs = st.allocs.clone();
    for d in st.deployments.iter_mut() {
        if d.status != deployment_status::RUNNING
            || d.namespace != ns
            || d.job_id != id
            || d.job_version != version
        {
            continue;
        }
        let mut all_healthy = true;
        let mut needs_promotion = false;
        for (g, state) in d.task_groups.iter_mut() {
            let mine = allocs.iter().filter(|a| {
                a.deployment_id.as_deref() == Some(d.id.as_str())
                    && a.stub.task_group == *g
                    && a.stub.desired_status == "run"
            });
            let (mut healthy, mut unhealthy, mut placed) = (0u64, 0u64, 0u64);
            let mut canaries = Vec::new();
            for a in mine {
                placed += 1;
                if a.canary {
                    canaries.push(a.stub.id.clone());
                }
                match a.stub.deployment_status.as_ref().and_then(|s| s.healthy) {
                    Some(true) => healthy += 1,
                    Some(false) => unhealthy += 1,
                    None => {}
                }
            }
            state.healthy_allocs = healthy;
            state.unhealthy_allocs = unhealthy;
            state.placed_allocs = placed;
            state.placed_canaries = canaries;
            if state.desired_canaries > 0 && !state.promoted {
                needs_promotion = true;
            }
            // isDeploymentComplete: enough healthy allocations and no promotion pending.
            if healthy < state.desired_total.max(state.desired_canaries) {
                all_healthy = false;
            }
        }
        if failing {
            d.status = deployment_status::FAILED.into();
            d.status_description = "Failed due to unhealthy allocations".into();
        } else if needs_promotion {
            d.status_description = "Deployment is running but requires manual promotion".into();
        } else if all_healthy {
            d.status = deployment_status::SUCCESSFUL.into();
            d.status_description = "Deployment completed successfully".into();
            successful = true;
        }
        d.modify_index = index;
        st.deployments_index = index;
    }
    if let Some(job) = st.jobs.get_mut(&(ns.to_owned(), id.to_owned())) {
        if job.current.get("Version").and_then(Value::as_u64) == Some(version) {
            let status = if batch && !failing {
                "dead"
            } else if failing {
                "pending"
            } else {
                "running"
            };
            let mut changed = false;
            if job.current.get("Status").and_then(Value::as_str) != Some(status) {
                job.current["Status"] = json!(status);
                changed = true;
            }
            // UpdateJobStability: a successful deployment marks the version stable, which
            // moves the job's ModifyIndex but not its JobModifyIndex.
            if successful && job.current.get("Stable") != Some(&json!(true)) {
                job.current["Stable"] = json!(true);
                changed = true;
            }
            if changed {
                job.current["ModifyIndex"] = json!(index);
                st.jobs_index = index;
            }
        }
    }
    inner.changes.bump();
}

#[async_trait]
impl Nomad for MemoryNomad {
    async fn register_job(&self, req: &RegisterRequest) -> BackendResult<RegisterResponse> {
        let (id, ns, mut job) = self.canonical(&req.job, false)?;
        let key = (ns.clone(), id.clone());
        let mut st = lock(&self.inner.state);
        let existing = st.jobs.get(&key).cloned();
        if let Some(want) = req.enforce_index {
            // Register: RegisterEnforceIndexErrPrefix "Enforcing job modify index".
            let have = existing
                .as_ref()
                .and_then(|e| e.current.get("JobModifyIndex"))
                .and_then(Value::as_u64);
            match (want, have) {
                (0, Some(_)) => return Err(conflict("/v1/jobs", format!("Enforcing job modify index {want}: job already exists"))),
                (w, None) if w != 0 => {
                    return Err(conflict("/v1/jobs", format!("Enforcing job modify index {want}: job does not exist")))
                }
                (w, Some(h)) if w != h => {
                    return Err(conflict(
                        "/v1/jobs",
                        format!("Enforcing job modify index {want}: job exists with conflicting job modify index: {h}"),
                    ))
                }
                _ => {}
            }
        }
        if req.preserve_counts {
            if let Some(e) = &existing {
                let old = groups_of(&e.current);
                if let Some(groups) = job.get_mut("TaskGroups").and_then(Value::as_array_mut) {
                    for g in groups {
                        let name = g
                            .get("Name")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned();
                        if let Some((_, c)) = old.iter().find(|(n, _)| *n == name) {
                            g["Count"] = json!(c);
                        }
                    }
                }
            }
        }
        let with_eval = !creates_no_eval(&job);
        let changed = existing
            .as_ref()
            .is_none_or(|e| spec_of(&e.current) != spec_of(&job));
        if !changed {
            // The job is not written; an evaluation is still forced (Register: "Force an
            // eval for service/batch jobs"). The answer's JobModifyIndex is the job's
            // ModifyIndex from 1.11.2 on, its JobModifyIndex before.
            let current = existing.map(|e| e.current).unwrap_or_default();
            let field = if st.version.unchanged_register_answers_modify_index() {
                "ModifyIndex"
            } else {
                "JobModifyIndex"
            };
            let jmi = current.get(field).and_then(Value::as_u64).unwrap_or(0);
            let eval_jmi = if st.version.unchanged_register_answers_modify_index() {
                0
            } else {
                jmi
            };
            let (eval_id, eval_index) = if with_eval {
                st.index += 1;
                let e = Self::new_eval(&mut st, &ns, &id, Some(&current), "job-register", eval_jmi);
                (e.id, st.index)
            } else {
                (String::new(), 0)
            };
            self.inner.changes.bump();
            drop(st);
            if with_eval {
                self.spawn_scheduler(eval_id.clone());
            }
            return Ok(RegisterResponse {
                eval_id,
                eval_create_index: eval_index,
                job_modify_index: jmi,
                warnings: String::new(),
            });
        }
        st.index += 1;
        let index = st.index;
        let (create_index, version, mut versions) = match &existing {
            Some(e) => {
                let v = e
                    .current
                    .get("Version")
                    .and_then(Value::as_u64)
                    .unwrap_or(0);
                (e.create_index, v + 1, e.versions.clone())
            }
            None => (index, 0, Vec::new()),
        };
        let stopped = is_stopped(&job);
        job["Version"] = json!(version);
        job["CreateIndex"] = json!(create_index);
        job["ModifyIndex"] = json!(index);
        job["JobModifyIndex"] = json!(index);
        job["Status"] = json!(if stopped { "dead" } else { "pending" });
        job["Stable"] = json!(false);
        job["SubmitTime"] = json!(now_ns());
        versions.push(job.clone());
        st.jobs.insert(
            key,
            StoredJob {
                current: job.clone(),
                versions,
                create_index,
            },
        );
        st.jobs_index = index;
        let eval_id = if with_eval {
            Self::new_eval(&mut st, &ns, &id, Some(&job), "job-register", index).id
        } else {
            String::new()
        };
        self.inner.changes.bump();
        drop(st);
        if with_eval {
            self.spawn_scheduler(eval_id.clone());
        }
        Ok(RegisterResponse {
            eval_id,
            eval_create_index: if with_eval { index } else { 0 },
            job_modify_index: index,
            warnings: String::new(),
        })
    }

    async fn plan_job(&self, job: &JobBody, diff: bool) -> BackendResult<PlanResponse> {
        let (id, ns, job) = self.canonical(job, true)?;
        let st = lock(&self.inner.state);
        let existing = st.jobs.get(&(ns, id.clone()));
        let current = existing.map(|e| &e.current);
        let mut d = job_diff(&id, current, Some(&job));
        let annotations = Self::plan_annotations(current, &job, &d);
        for g in d.task_groups.iter_mut() {
            if let Some(u) = annotations.desired_tg_updates.get(&g.name) {
                for (k, n) in [
                    ("create", u.place),
                    ("destroy", u.stop),
                    ("ignore", u.ignore),
                    ("in-place update", u.in_place_update),
                    ("create/destroy update", u.destructive_update),
                ] {
                    if n > 0 {
                        g.updates.insert(k.into(), n);
                    }
                }
            }
        }
        if current.is_some_and(is_stopped) && d.kind == NONE {
            d.kind = ADDED.into();
        }
        Ok(PlanResponse {
            job_modify_index: current
                .and_then(|c| c.get("JobModifyIndex"))
                .and_then(Value::as_u64)
                .unwrap_or(0),
            diff: diff.then_some(d),
            annotations: Some(annotations),
            ..PlanResponse::default()
        })
    }

    async fn validate_job(&self, job: &JobBody) -> BackendResult<ValidateResponse> {
        let v = job_json(job)?;
        let errs = validate(&v);
        Ok(ValidateResponse {
            driver_config_validated: false,
            error: if errs.is_empty() {
                String::new()
            } else {
                multierror(&errs)
            },
            validation_errors: errs,
            warnings: String::new(),
        })
    }

    async fn read_job(&self, job_id: &str, q: &QueryOptions) -> BackendResult<Indexed<JobBody>> {
        let key = self.key(job_id);
        let path = format!("/v1/job/{}", encode_segment(job_id));
        self.inner
            .changes
            .block(&self.inner.state, q, Service::Nomad, |st: &State| {
                match st.jobs.get(&key) {
                    // GetJob: the job's ModifyIndex, else the jobs table index.
                    Some(j) => (
                        j.current
                            .get("ModifyIndex")
                            .and_then(Value::as_u64)
                            .unwrap_or(st.jobs_index),
                        Ok(j.current.clone()),
                    ),
                    None => (
                        st.jobs_index,
                        Err(err(404, Method::Get, path.clone(), "job not found")),
                    ),
                }
            })
            .await
            .and_then(|i| {
                let index = i.index;
                serde_json::from_value(i.value)
                    .map(|v| Indexed::new(index, v))
                    .map_err(|e| BackendError::Decode {
                        service: Service::Nomad,
                        path: path.clone(),
                        message: e.to_string(),
                    })
            })
    }

    async fn job_versions(&self, job_id: &str, diffs: bool) -> BackendResult<Indexed<JobVersions>> {
        let key = self.key(job_id);
        let path = format!("/v1/job/{}/versions", encode_segment(job_id));
        let st = lock(&self.inner.state);
        let Some(j) = st.jobs.get(&key) else {
            return Err(err(404, Method::Get, path, "job versions not found"));
        };
        let newest_first: Vec<Value> = j.versions.iter().rev().cloned().collect();
        let diffs = if diffs {
            newest_first
                .windows(2)
                .map(|w| job_diff(job_id, Some(&w[1]), Some(&w[0])))
                .collect()
        } else {
            Vec::new()
        };
        let versions = newest_first
            .into_iter()
            .map(serde_json::from_value)
            .collect::<Result<Vec<JobBody>, _>>()
            .map_err(|e| BackendError::Decode {
                service: Service::Nomad,
                path,
                message: e.to_string(),
            })?;
        Ok(Indexed::new(st.jobs_index, JobVersions { versions, diffs }))
    }

    async fn deregister_job(&self, job_id: &str, purge: bool) -> BackendResult<DeregisterResponse> {
        let key = self.key(job_id);
        let mut st = lock(&self.inner.state);
        let Some(existing) = st.jobs.get(&key).cloned() else {
            // Deregister: an unknown job is not an error, and nothing is written: an empty
            // evaluation and index 0 (hashicorp/nomad nomad/job_endpoint.go).
            return Ok(DeregisterResponse::default());
        };
        st.index += 1;
        let index = st.index;
        let mut job = existing.current.clone();
        if purge {
            st.jobs.remove(&key);
        } else if !is_stopped(&job) {
            let version = job.get("Version").and_then(Value::as_u64).unwrap_or(0) + 1;
            job["Stop"] = json!(true);
            job["Status"] = json!("dead");
            job["Version"] = json!(version);
            job["ModifyIndex"] = json!(index);
            job["JobModifyIndex"] = json!(index);
            job["Stable"] = json!(false);
            let mut versions = existing.versions.clone();
            versions.push(job.clone());
            st.jobs.insert(
                key.clone(),
                StoredJob {
                    current: job.clone(),
                    versions,
                    create_index: existing.create_index,
                },
            );
        }
        st.jobs_index = index;
        let eval = Self::new_eval(&mut st, &key.0, job_id, Some(&job), "job-deregister", index);
        self.inner.changes.bump();
        drop(st);
        self.spawn_scheduler(eval.id.clone());
        Ok(DeregisterResponse {
            eval_id: eval.id,
            eval_create_index: index,
            job_modify_index: index,
        })
    }

    async fn job_allocations(
        &self,
        job_id: &str,
        all: bool,
        q: &QueryOptions,
    ) -> BackendResult<Indexed<Vec<AllocationListStub>>> {
        let key = self.key(job_id);
        self.inner
            .changes
            .block(&self.inner.state, q, Service::Nomad, |st: &State| {
                let current_create = st.jobs.get(&key).map(|j| j.create_index);
                let list = st
                    .allocs
                    .iter()
                    .filter(|a| a.stub.namespace == key.0 && a.stub.job_id == key.1)
                    .filter(|a| all || current_create.is_none_or(|c| a.job_create_index >= c))
                    .map(|a| a.stub.clone())
                    .collect();
                (st.allocs_index, Ok(list))
            })
            .await
    }

    async fn job_deployments(
        &self,
        job_id: &str,
        q: &QueryOptions,
    ) -> BackendResult<Indexed<Vec<Deployment>>> {
        let key = self.key(job_id);
        self.inner
            .changes
            .block(&self.inner.state, q, Service::Nomad, |st: &State| {
                let mut list: Vec<Deployment> = st
                    .deployments
                    .iter()
                    .filter(|d| d.namespace == key.0 && d.job_id == key.1)
                    .cloned()
                    .collect();
                list.sort_by_key(|d| std::cmp::Reverse(d.create_index));
                (st.deployments_index, Ok(list))
            })
            .await
    }

    async fn latest_deployment(
        &self,
        job_id: &str,
        q: &QueryOptions,
    ) -> BackendResult<Indexed<Option<Deployment>>> {
        let key = self.key(job_id);
        self.inner
            .changes
            .block(&self.inner.state, q, Service::Nomad, |st: &State| {
                // LatestDeployment: the deployment table's index, 0 before any deployment.
                let latest = st
                    .deployments
                    .iter()
                    .filter(|d| d.namespace == key.0 && d.job_id == key.1)
                    .max_by_key(|d| d.create_index)
                    .cloned();
                (st.deployments_index, Ok(latest))
            })
            .await
    }

    async fn job_evaluations(
        &self,
        job_id: &str,
        q: &QueryOptions,
    ) -> BackendResult<Indexed<Vec<Evaluation>>> {
        let key = self.key(job_id);
        self.inner
            .changes
            .block(&self.inner.state, q, Service::Nomad, |st: &State| {
                let list = st
                    .evals
                    .iter()
                    .filter(|e| e.namespace == key.0 && e.job_id == key.1)
                    .cloned()
                    .collect();
                (st.evals_index, Ok(list))
            })
            .await
    }

    async fn evaluation(
        &self,
        eval_id: &str,
        q: &QueryOptions,
    ) -> BackendResult<Indexed<Evaluation>> {
        let path = format!("/v1/evaluation/{}", encode_segment(eval_id));
        self.inner
            .changes
            .block(&self.inner.state, q, Service::Nomad, |st: &State| {
                // GetEval: the evaluation's ModifyIndex, else the evals table index.
                match st.evals.iter().find(|e| e.id == eval_id) {
                    Some(e) => (e.modify_index, Ok(e.clone())),
                    None => (
                        st.evals_index,
                        Err(err(404, Method::Get, path.clone(), "eval not found")),
                    ),
                }
            })
            .await
    }

    async fn list_nodes(
        &self,
        _q: &QueryOptions,
    ) -> BackendResult<Indexed<Vec<super::NodeListStub>>> {
        let index = lock(&self.inner.state).index;
        Ok(Indexed::new(
            index,
            self.nodes
                .list()
                .iter()
                .map(super::NodeInfo::stub)
                .collect(),
        ))
    }

    async fn read_node(
        &self,
        node_id: &str,
        _q: &QueryOptions,
    ) -> BackendResult<Indexed<super::NodeInfo>> {
        let index = lock(&self.inner.state).index;
        match self.nodes.list().into_iter().find(|n| n.id == node_id) {
            Some(n) => Ok(Indexed::new(index, n)),
            None => Err(err(
                404,
                Method::Get,
                format!("/v1/node/{}", encode_segment(node_id)),
                "node not found",
            )),
        }
    }
}
