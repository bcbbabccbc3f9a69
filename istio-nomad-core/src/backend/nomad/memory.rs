//! An in-memory Nomad that follows the server's rules: one growing Raft index, job versions
//! and modify indexes, `EnforceIndex` check-and-set, evaluations, allocations and
//! deployments that progress to `successful` (or `failed`), blocking queries, and 404s.

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
}

struct Inner {
    state: Mutex<State>,
    changes: Changes,
}

/// An in-memory Nomad server. Clones share the same cluster; [`MemoryNomad::in_namespace`]
/// gives a handle that works in another namespace of it.
///
/// Allocations start `pending` and, after the progress delay (default 20 ms), become
/// `running` and healthy, and the deployment `successful`, unless the job was marked with
/// [`MemoryNomad::fail_deployments`], in which case they fail.
#[derive(Clone)]
pub struct MemoryNomad {
    inner: Arc<Inner>,
    namespace: String,
    nodes: super::nodes::MemoryNodes,
}

impl fmt::Debug for MemoryNomad {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = lock(&self.inner.state);
        f.debug_struct("MemoryNomad")
            .field("namespace", &self.namespace)
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

fn str_field<'a>(job: &'a Value, key: &str, default: &'a str) -> &'a str {
    job.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or(default)
}

fn is_stopped(job: &Value) -> bool {
    job.get("Stop").and_then(Value::as_bool).unwrap_or(false)
}

impl MemoryNomad {
    /// An empty cluster, handle in the `default` namespace.
    pub fn new() -> Self {
        let state = State {
            index: 1,
            progress_delay: Duration::from_millis(20),
            ..State::default()
        };
        MemoryNomad {
            inner: Arc::new(Inner {
                state: Mutex::new(state),
                changes: Changes::new(),
            }),
            namespace: "default".into(),
            nodes: super::nodes::MemoryNodes::default(),
        }
    }

    /// Replaces the cluster's client nodes (default: one node, [`super::NodeInfo::memory_node`]).
    pub fn set_nodes(&self, nodes: Vec<super::NodeInfo>) {
        self.nodes.set(nodes);
    }

    /// A handle on the same cluster working in namespace `ns`.
    #[must_use]
    pub fn in_namespace(&self, ns: impl Into<String>) -> Self {
        MemoryNomad {
            inner: self.inner.clone(),
            namespace: ns.into(),
            nodes: self.nodes.clone(),
        }
    }

    /// Sets how long allocations take to become healthy (0: at once).
    pub fn set_progress_delay(&self, delay: Duration) {
        lock(&self.inner.state).progress_delay = delay;
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

    /// The current Raft index.
    pub fn index(&self) -> u64 {
        lock(&self.inner.state).index
    }

    /// IDs of the jobs registered in this handle's namespace (purged jobs excluded).
    pub fn job_ids(&self) -> Vec<String> {
        lock(&self.inner.state)
            .jobs
            .keys()
            .filter(|(ns, _)| *ns == self.namespace)
            .map(|(_, id)| id.clone())
            .collect()
    }

    fn key(&self, id: &str) -> (String, String) {
        (self.namespace.clone(), id.to_owned())
    }

    /// The job as the server stores it: defaults filled in, namespace set.
    /// Fails like the server (HTTP 500 with the multi-error text) when validation fails.
    fn canonical(&self, job: &JobBody, plan: bool) -> BackendResult<(String, Value)> {
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
        if let Some(m) = v.as_object_mut() {
            if m.get("Namespace")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                m.insert("Namespace".into(), json!(self.namespace));
            }
            m.entry("Name").or_insert_with(|| json!(id));
            m.entry("Type").or_insert_with(|| json!("service"));
            m.entry("Priority").or_insert_with(|| json!(50));
            m.entry("Stop").or_insert_with(|| json!(false));
        }
        Ok((id, v))
    }

    /// Places new allocations (and a deployment for service jobs) for the job's current
    /// version, stopping the older ones. Returns the deployment ID.
    fn schedule(
        st: &mut State,
        ns: &str,
        id: &str,
        job: &Value,
        job_create_index: u64,
        eval_id: &str,
    ) -> Option<String> {
        let index = st.index;
        let now = now_ns();
        for a in st.allocs.iter_mut() {
            if a.stub.namespace == ns && a.stub.job_id == id && a.stub.desired_status == "run" {
                a.stub.desired_status = "stop".into();
                a.stub.desired_description = if is_stopped(job) {
                    "alloc not needed due to job update".into()
                } else {
                    "alloc is being updated due to job update".into()
                };
                a.stub.client_status = "complete".into();
                a.stub.modify_index = index;
                a.stub.modify_time = now;
            }
        }
        for d in st.deployments.iter_mut() {
            if d.namespace == ns && d.job_id == id && d.status == deployment_status::RUNNING {
                d.status = deployment_status::CANCELLED.into();
                d.status_description = if is_stopped(job) {
                    "Cancelled because job is stopped".into()
                } else {
                    "Cancelled due to newer version of job".into()
                };
                d.modify_index = index;
            }
        }
        st.allocs_index = index;
        st.deployments_index = index;
        if is_stopped(job) {
            return None;
        }
        let version = job.get("Version").and_then(Value::as_u64).unwrap_or(0);
        let job_modify_index = job
            .get("JobModifyIndex")
            .and_then(Value::as_u64)
            .unwrap_or(index);
        let is_service = str_field(job, "Type", "service") == "service";
        let groups = groups_of(job);
        let deployment_id = is_service.then(new_id);
        if let Some(did) = &deployment_id {
            st.deployments.push(Deployment {
                id: did.clone(),
                namespace: ns.into(),
                job_id: id.into(),
                job_version: version,
                job_modify_index,
                job_spec_modify_index: job_modify_index,
                job_create_index,
                status: deployment_status::RUNNING.into(),
                status_description: "Deployment is running".into(),
                task_groups: groups
                    .iter()
                    .map(|(g, c)| {
                        (
                            g.clone(),
                            DeploymentState {
                                desired_total: *c,
                                placed_allocs: *c,
                                progress_deadline: 600_000_000_000,
                                ..DeploymentState::default()
                            },
                        )
                    })
                    .collect(),
                create_index: index,
                modify_index: index,
            });
        }
        for (g, count) in &groups {
            for i in 0..*count {
                st.allocs.push(StoredAlloc {
                    job_create_index,
                    deployment_id: deployment_id.clone(),
                    stub: AllocationListStub {
                        id: new_id(),
                        eval_id: eval_id.into(),
                        name: format!("{id}.{g}[{i}]"),
                        namespace: ns.into(),
                        node_id: "00000000-0000-4000-8000-000000000001".into(),
                        node_name: MEMORY_NODE_NAME.into(),
                        job_id: id.into(),
                        job_version: version,
                        task_group: g.clone(),
                        desired_status: "run".into(),
                        client_status: "pending".into(),
                        deployment_status: None,
                        create_index: index,
                        modify_index: index,
                        create_time: now,
                        modify_time: now,
                        ..AllocationListStub::default()
                    },
                });
            }
        }
        deployment_id
    }

    /// After the delay, the allocations of job version `version` become running and healthy
    /// (or failed), and their deployment successful (or failed).
    fn spawn_progress(&self, ns: String, id: String, version: u64, delay: Duration) {
        let weak = Arc::downgrade(&self.inner);
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(async move {
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                    progress(&weak, &ns, &id, version);
                });
            }
            Err(_) => progress(&weak, &ns, &id, version),
        }
    }

    fn new_eval(
        st: &mut State,
        ns: &str,
        id: &str,
        job: Option<&Value>,
        triggered_by: &str,
        deployment_id: Option<String>,
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
                .map(|j| str_field(j, "Type", "service").to_owned())
                .unwrap_or_else(|| "service".into()),
            triggered_by: triggered_by.into(),
            job_id: id.into(),
            job_modify_index: job
                .and_then(|j| j.get("JobModifyIndex"))
                .and_then(Value::as_u64)
                .unwrap_or(st.index),
            status: "complete".into(),
            deployment_id: deployment_id.unwrap_or_default(),
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

fn progress(weak: &Weak<Inner>, ns: &str, id: &str, version: u64) {
    let Some(inner) = weak.upgrade() else { return };
    let mut guard = lock(&inner.state);
    let st = &mut *guard;
    let failing = st.failing_jobs.contains(id);
    st.index += 1;
    let index = st.index;
    let now = now_ns();
    let mut touched = false;
    let mut healthy_by_group: BTreeMap<(String, String), u64> = BTreeMap::new();
    for a in st.allocs.iter_mut() {
        let s = &mut a.stub;
        if s.namespace == ns
            && s.job_id == id
            && s.job_version == version
            && s.desired_status == "run"
            && s.client_status == "pending"
        {
            s.client_status = if failing {
                "failed".into()
            } else {
                "running".into()
            };
            s.client_description = if failing {
                "Failed tasks".into()
            } else {
                "Tasks are running".into()
            };
            s.deployment_status = Some(AllocDeploymentStatus {
                healthy: Some(!failing),
                canary: false,
                timestamp: Some(now_rfc3339()),
                modify_index: index,
            });
            s.modify_index = index;
            s.modify_time = now;
            touched = true;
            if let Some(did) = &a.deployment_id {
                *healthy_by_group
                    .entry((did.clone(), s.task_group.clone()))
                    .or_default() += 1;
            }
        }
    }
    if !touched {
        st.index -= 1;
        return;
    }
    st.allocs_index = index;
    for d in st.deployments.iter_mut() {
        if d.status != deployment_status::RUNNING
            || d.namespace != ns
            || d.job_id != id
            || d.job_version != version
        {
            continue;
        }
        for (g, state) in d.task_groups.iter_mut() {
            let n = healthy_by_group
                .get(&(d.id.clone(), g.clone()))
                .copied()
                .unwrap_or(0);
            if failing {
                state.unhealthy_allocs += n;
            } else {
                state.healthy_allocs += n;
            }
        }
        if failing {
            d.status = deployment_status::FAILED.into();
            d.status_description = "Failed due to unhealthy allocations".into();
        } else {
            d.status = deployment_status::SUCCESSFUL.into();
            d.status_description = "Deployment completed successfully".into();
        }
        d.modify_index = index;
        st.deployments_index = index;
    }
    if let Some(job) = st.jobs.get_mut(&(ns.to_owned(), id.to_owned())) {
        if job.current.get("Version").and_then(Value::as_u64) == Some(version) {
            job.current["Status"] = json!(if failing { "pending" } else { "running" });
            if !failing {
                job.current["Stable"] = json!(true);
            }
            job.current["ModifyIndex"] = json!(index);
            st.jobs_index = index;
        }
    }
    inner.changes.bump();
}

#[async_trait]
impl Nomad for MemoryNomad {
    async fn register_job(&self, req: &RegisterRequest) -> BackendResult<RegisterResponse> {
        let (id, mut job) = self.canonical(&req.job, false)?;
        let ns = str_field(&job, "Namespace", "default").to_owned();
        let key = (ns.clone(), id.clone());
        let mut st = lock(&self.inner.state);
        let existing = st.jobs.get(&key).cloned();
        if let Some(want) = req.enforce_index {
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
        st.index += 1;
        let index = st.index;
        let changed = existing
            .as_ref()
            .is_none_or(|e| spec_of(&e.current) != spec_of(&job));
        let (create_index, version, job_modify_index, mut versions) = match &existing {
            Some(e) => {
                let v = e
                    .current
                    .get("Version")
                    .and_then(Value::as_u64)
                    .unwrap_or(0);
                let jmi = e
                    .current
                    .get("JobModifyIndex")
                    .and_then(Value::as_u64)
                    .unwrap_or(index);
                if changed {
                    (e.create_index, v + 1, index, e.versions.clone())
                } else {
                    (e.create_index, v, jmi, e.versions.clone())
                }
            }
            None => (index, 0, index, Vec::new()),
        };
        if changed {
            let stopped = is_stopped(&job);
            job["Version"] = json!(version);
            job["CreateIndex"] = json!(create_index);
            job["ModifyIndex"] = json!(index);
            job["JobModifyIndex"] = json!(job_modify_index);
            job["Status"] = json!(if stopped { "dead" } else { "pending" });
            job["Stable"] = json!(false);
            job["SubmitTime"] = json!(now_ns());
            versions.push(job.clone());
        } else if let Some(e) = &existing {
            job = e.current.clone();
            job["ModifyIndex"] = json!(index);
        }
        st.jobs.insert(
            key,
            StoredJob {
                current: job.clone(),
                versions,
                create_index,
            },
        );
        st.jobs_index = index;
        let eval_id = new_id();
        let deployment = if changed {
            Self::schedule(&mut st, &ns, &id, &job, create_index, &eval_id)
        } else {
            None
        };
        let mut eval = Self::new_eval(&mut st, &ns, &id, Some(&job), "job-register", deployment);
        if let Some(e) = st.evals.last_mut() {
            e.id = eval_id.clone();
            eval.id = eval_id.clone();
        }
        let delay = st.progress_delay;
        self.inner.changes.bump();
        drop(st);
        if changed && !is_stopped(&job) {
            self.spawn_progress(ns, id, version, delay);
        }
        Ok(RegisterResponse {
            eval_id: eval.id,
            eval_create_index: index,
            job_modify_index: index,
            warnings: String::new(),
        })
    }

    async fn plan_job(&self, job: &JobBody, diff: bool) -> BackendResult<PlanResponse> {
        let (id, job) = self.canonical(job, true)?;
        let ns = str_field(&job, "Namespace", "default").to_owned();
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
            .block(&self.inner.state, q, |st| match st.jobs.get(&key) {
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
        Ok(Indexed::new(
            st.jobs_index.max(1),
            JobVersions { versions, diffs },
        ))
    }

    async fn deregister_job(&self, job_id: &str, purge: bool) -> BackendResult<DeregisterResponse> {
        let key = self.key(job_id);
        let mut st = lock(&self.inner.state);
        st.index += 1;
        let index = st.index;
        let Some(existing) = st.jobs.get(&key).cloned() else {
            self.inner.changes.bump();
            return Ok(DeregisterResponse {
                eval_id: String::new(),
                eval_create_index: 0,
                job_modify_index: index,
            });
        };
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
        let mut stopped = job.clone();
        stopped["Stop"] = json!(true);
        Self::schedule(&mut st, &key.0, job_id, &stopped, existing.create_index, "");
        let eval = Self::new_eval(&mut st, &key.0, job_id, Some(&job), "job-deregister", None);
        self.inner.changes.bump();
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
            .block(&self.inner.state, q, |st| {
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
            .block(&self.inner.state, q, |st| {
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
            .block(&self.inner.state, q, |st| {
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
            .block(&self.inner.state, q, |st| {
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
            .block(&self.inner.state, q, |st| {
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
