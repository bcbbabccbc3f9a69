//! Diff, apply and destroy a mesh against a cluster, blocking, on an internal tokio runtime.

use crate::error::{guard, operation, FfiResult, IstioNomadError, IstioNomadResult};
use crate::format::DocFormat;
use crate::json::from_json;
use crate::plan::parse_spec;
use crate::string::{input_bytes, input_str, out_slot, put_string, IstioNomadString};
use istio_nomad_core::install::{
    ApplyOptions, ApplyReport, Backends, Change, DestroyReport, Diff, Event, InMemoryCluster,
    Installer, JobAction, Operation, Writes,
};
use istio_nomad_core::plan::{plan, Plan};
use istio_nomad_core::{ErrorKind, Result};
use serde::Deserialize;
use serde_json::{json, Value};
use std::ffi::{c_char, c_void, CString};
use std::future::Future;
use std::ptr;
use std::sync::OnceLock;
use std::time::Duration;

/// Where diff, apply and destroy talk to: Nomad, Consul and etcd over HTTP, or an in-memory
/// cluster kept for the life of the handle. Create it with `istio_nomad_cluster_in_memory` or
/// `istio_nomad_cluster_for_spec`; release it with `istio_nomad_cluster_free`. A cluster may be
/// used from several threads at once.
pub struct IstioNomadCluster {
    backends: Backends,
}

/// Receives progress events of diff, apply and destroy: `event_json` is one JSON object
/// (`{"event": "job_registered", "job": "details", ...}`), valid only during the call;
/// `user_data` is the pointer given to the operation. Called on the thread that called the
/// operation, before the operation returns. It must not unwind and must not call
/// `istio_nomad_diff`, `_apply` or `_destroy`.
pub type IstioNomadProgressCallback =
    Option<unsafe extern "C" fn(event_json: *const c_char, user_data: *mut c_void)>;

fn runtime() -> FfiResult<&'static tokio::runtime::Runtime> {
    static RUNTIME: OnceLock<std::result::Result<tokio::runtime::Runtime, String>> =
        OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("istio-nomad")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| {
            IstioNomadError::new(
                IstioNomadResult::ISTIO_NOMAD_IO,
                Some(ErrorKind::Io),
                format!("cannot start the async runtime: {e}"),
                Vec::new(),
            )
        })
}

/// The JSON form of apply and destroy options (every field optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct OptionsArg {
    health_deadline_secs: Option<f64>,
    query_wait_secs: Option<f64>,
    lock_ttl_secs: Option<u64>,
    lock_wait_secs: Option<f64>,
    prune: Option<bool>,
    wait_for_health: Option<bool>,
}

fn secs(name: &str, v: f64) -> Result<Duration> {
    Duration::try_from_secs_f64(v).map_err(|_| {
        istio_nomad_core::Error::field(
            format!("options.{name}"),
            "must be a non-negative number of seconds",
            v,
        )
    })
}

/// Reads apply/destroy options from JSON; empty text is the defaults.
pub fn parse_options(text: &str) -> Result<ApplyOptions> {
    let arg: OptionsArg = if text.trim().is_empty() {
        OptionsArg::default()
    } else {
        from_json(text, "options")?
    };
    let mut b = ApplyOptions::builder();
    if let Some(v) = arg.health_deadline_secs {
        b = b.health_deadline(secs("health_deadline_secs", v)?);
    }
    if let Some(v) = arg.query_wait_secs {
        b = b.query_wait(secs("query_wait_secs", v)?);
    }
    if let Some(v) = arg.lock_ttl_secs {
        b = b.lock_ttl(Duration::from_secs(v));
    }
    if let Some(v) = arg.lock_wait_secs {
        b = b.lock_wait(secs("lock_wait_secs", v)?);
    }
    if let Some(v) = arg.prune {
        b = b.prune(v);
    }
    if let Some(v) = arg.wait_for_health {
        b = b.wait_for_health(v);
    }
    b.build()
}

fn operation_name(o: Operation) -> String {
    o.to_string()
}

fn change_name(c: Change) -> String {
    c.to_string()
}

/// One progress event as JSON: `{"event": "<snake_case name>", ...fields}`.
pub fn event_value(e: &Event) -> Value {
    match e {
        Event::Started {
            operation,
            mesh,
            jobs,
            stages,
        } => json!({"event": "started", "operation": operation_name(*operation), "mesh": mesh,
                    "jobs": jobs, "stages": stages}),
        Event::JobDiffed { job, change } => {
            json!({"event": "job_diffed", "job": job, "change": change_name(*change)})
        }
        Event::LockAcquired { holder } => json!({"event": "lock_acquired", "holder": holder}),
        Event::LockReleased => json!({"event": "lock_released"}),
        Event::StageStarted { stage, jobs } => {
            json!({"event": "stage_started", "stage": stage, "jobs": jobs})
        }
        Event::JobRegistered {
            job,
            job_modify_index,
            eval_id,
        } => json!({"event": "job_registered", "job": job,
                    "job_modify_index": job_modify_index, "eval_id": eval_id}),
        Event::DeploymentProgress {
            job,
            status,
            healthy,
            desired,
        } => json!({"event": "deployment_progress", "job": job, "status": status,
                    "healthy": healthy, "desired": desired}),
        Event::JobHealthy { job, version } => {
            json!({"event": "job_healthy", "job": job, "version": version})
        }
        Event::JobUnchanged { job } => json!({"event": "job_unchanged", "job": job}),
        Event::StateWritten { key } => json!({"event": "state_written", "key": key}),
        Event::JobDeregistered { job } => json!({"event": "job_deregistered", "job": job}),
        Event::Failed { job, error } => json!({"event": "failed", "job": job, "error": error}),
        Event::Finished { operation, writes } => json!({"event": "finished",
                    "operation": operation_name(*operation), "writes": writes}),
        other => json!({"event": "other", "detail": format!("{other:?}")}),
    }
}

fn writes_value(w: &Writes) -> Value {
    json!({"registers": w.registers, "deregisters": w.deregisters,
           "state_writes": w.state_writes, "locks": w.locks, "total": w.total()})
}

/// A diff as JSON.
pub fn diff_value(d: &Diff) -> Value {
    let jobs: Vec<Value> = d
        .jobs
        .iter()
        .map(|j| {
            json!({"id": j.job_id, "role": j.role, "stage": j.stage,
                   "change": change_name(j.change), "job_modify_index": j.job_modify_index,
                   "desired_updates": j.desired_updates, "changed_fields": j.changed_fields,
                   "recorded": j.recorded})
        })
        .collect();
    json!({"mesh": d.mesh, "spec_hash": d.spec_hash, "recorded_spec_hash": d.recorded_spec_hash,
           "in_sync": d.in_sync(), "stages": d.stages, "jobs": jobs, "removed": d.removed})
}

/// An apply report as JSON.
pub fn apply_value(r: &ApplyReport) -> Value {
    let jobs: Vec<Value> = r
        .jobs
        .iter()
        .map(|j| {
            let action = match j.action {
                JobAction::Created => "created",
                JobAction::Updated => "updated",
                JobAction::Unchanged => "unchanged",
            };
            json!({"id": j.job_id, "action": action, "version": j.version,
                   "job_modify_index": j.job_modify_index, "state_written": j.state_written})
        })
        .collect();
    json!({"mesh": r.mesh, "spec_hash": r.spec_hash, "jobs": jobs, "removed": r.removed,
           "writes": writes_value(&r.writes), "warnings": r.warnings,
           "elapsed_ms": r.elapsed.as_millis() as u64})
}

/// A destroy report as JSON.
pub fn destroy_value(r: &DestroyReport) -> Value {
    json!({"mesh": r.mesh, "deregistered": r.deregistered, "writes": writes_value(&r.writes),
           "warnings": r.warnings, "elapsed_ms": r.elapsed.as_millis() as u64})
}

/// Runs one installer operation on the runtime, delivering its events to `progress` on the
/// calling thread.
fn run<T, F, Fut>(
    cluster: &IstioNomadCluster,
    progress: IstioNomadProgressCallback,
    user_data: *mut c_void,
    op: F,
) -> FfiResult<T>
where
    F: FnOnce(Installer) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let rt = runtime()?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let mut builder = Installer::builder(cluster.backends.clone());
    if progress.is_some() {
        builder = builder.on_event(move |e| {
            let _ = tx.send(event_value(e).to_string());
        });
    }
    let installer = builder.build();
    let deliver = |text: String| {
        if let Some(cb) = progress {
            // JSON escapes NUL, so the text has no interior NUL.
            let c = CString::new(text).unwrap_or_default();
            // SAFETY: the caller's callback, called with a valid C string and its user data.
            unsafe { cb(c.as_ptr(), user_data) };
        }
    };
    let result = rt.block_on(async {
        let fut = op(installer);
        tokio::pin!(fut);
        loop {
            tokio::select! {
                biased;
                Some(ev) = rx.recv() => deliver(ev),
                res = &mut fut => break res,
            }
        }
    });
    while let Ok(ev) = rx.try_recv() {
        deliver(ev);
    }
    Ok(result?)
}

/// # Safety
/// As the exported functions: `cluster` NULL or a live handle; `spec` readable.
unsafe fn cluster_and_plan<'a>(
    cluster: *const IstioNomadCluster,
    spec: *const u8,
    spec_len: usize,
    format: u32,
) -> FfiResult<(&'a IstioNomadCluster, Plan)> {
    // SAFETY: NULL or a handle returned by istio_nomad_cluster_* and not yet freed.
    let cluster = unsafe { cluster.as_ref() }.ok_or_else(|| IstioNomadError::null("cluster"))?;
    // SAFETY: forwarded contract.
    let text = unsafe { input_str(spec, spec_len, "spec") }?;
    let format = DocFormat::of_input(format, text, "format")?;
    Ok((cluster, plan(&parse_spec(text, format)?)?))
}

/// # Safety
/// `options` readable for `options_len` bytes, or NULL with 0.
unsafe fn options_arg(options: *const u8, options_len: usize) -> FfiResult<ApplyOptions> {
    // SAFETY: forwarded contract.
    unsafe { input_bytes(options, options_len, "options") }?;
    // SAFETY: forwarded contract.
    let text = unsafe { input_str(options, options_len, "options") }?;
    Ok(parse_options(text)?)
}

fn pretty(v: &Value) -> FfiResult<String> {
    let mut s = serde_json::to_string_pretty(v).map_err(istio_nomad_core::Error::from)?;
    s.push('\n');
    Ok(s)
}

/// Creates an empty in-memory cluster (Nomad, Consul and etcd wired together like real
/// servers: registered jobs get running allocations, their services pass their checks). Its
/// state lives as long as the handle, so an apply followed by a diff sees the applied mesh.
///
/// # Safety
/// `out` is a writable pointer slot; `error` is NULL or a writable pointer slot.
#[no_mangle]
pub unsafe extern "C" fn istio_nomad_cluster_in_memory(
    out: *mut *mut IstioNomadCluster,
    error: *mut *mut IstioNomadError,
) -> IstioNomadResult {
    // SAFETY: pointer contracts forwarded from the caller.
    unsafe {
        operation(error, || -> FfiResult {
            let out = out_slot(out, "out")?;
            let backends = InMemoryCluster::new().backends();
            *out = Box::into_raw(Box::new(IstioNomadCluster { backends }));
            Ok(())
        })
    }
}

/// Creates the cluster a spec names: its `nomad`, `consul` and `etcd` addresses, the rest
/// from the standard environment (`NOMAD_ADDR`, `NOMAD_TOKEN`, `CONSUL_HTTP_ADDR`,
/// `CONSUL_HTTP_TOKEN`, `ETCDCTL_ENDPOINTS`, ...). When neither names a server, a fresh
/// in-memory cluster (see `istio_nomad_cluster_is_in_memory`).
///
/// # Safety
/// `spec` points to `spec_len` readable bytes (or is NULL with 0); `out` is a writable pointer
/// slot; `error` is NULL or a writable pointer slot.
#[no_mangle]
pub unsafe extern "C" fn istio_nomad_cluster_for_spec(
    spec: *const u8,
    spec_len: usize,
    format: u32,
    out: *mut *mut IstioNomadCluster,
    error: *mut *mut IstioNomadError,
) -> IstioNomadResult {
    // SAFETY: pointer contracts forwarded from the caller.
    unsafe {
        operation(error, || -> FfiResult {
            let out = out_slot(out, "out")?;
            let text = input_str(spec, spec_len, "spec")?;
            let format = DocFormat::of_input(format, text, "format")?;
            let backends = Backends::for_spec(&parse_spec(text, format)?)?;
            *out = Box::into_raw(Box::new(IstioNomadCluster { backends }));
            Ok(())
        })
    }
}

/// True when the cluster is in memory (false for HTTP servers and for NULL).
///
/// # Safety
/// `cluster` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn istio_nomad_cluster_is_in_memory(
    cluster: *const IstioNomadCluster,
) -> bool {
    guard(false, || {
        // SAFETY: NULL or a live handle by the caller's contract.
        unsafe { cluster.as_ref() }.is_some_and(|c| c.backends.is_in_memory())
    })
}

/// Frees a cluster and sets `*cluster` to NULL. NULL-safe. An in-memory cluster's state goes
/// with it. No operation may be running on it.
///
/// # Safety
/// `cluster` is NULL or points to NULL or to a pointer returned by this library.
#[no_mangle]
pub unsafe extern "C" fn istio_nomad_cluster_free(cluster: *mut *mut IstioNomadCluster) {
    guard((), || {
        if cluster.is_null() {
            return;
        }
        // SAFETY: a valid slot by the caller's contract.
        let owned = unsafe { std::mem::replace(&mut *cluster, ptr::null_mut()) };
        if !owned.is_null() {
            // SAFETY: created by Box::into_raw above; the slot is NULL now.
            drop(unsafe { Box::from_raw(owned) });
        }
    })
}

/// Compares a mesh spec's plan with the cluster and the recorded state; writes nothing.
///
/// On success `*out` receives `{"mesh", "spec_hash", "recorded_spec_hash", "in_sync",
/// "stages", "jobs": [{"id", "role", "stage", "change": "create" | "update" | "unchanged",
/// "job_modify_index", "desired_updates", "changed_fields", "recorded"}], "removed"}`.
/// `progress` (may be NULL) receives `job_diffed` events.
///
/// # Safety
/// `cluster` is a live handle; `spec` points to `spec_len` readable bytes (or is NULL with 0);
/// `out` is a writable pointer slot; `error` is NULL or a writable pointer slot.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn istio_nomad_diff(
    cluster: *const IstioNomadCluster,
    spec: *const u8,
    spec_len: usize,
    format: u32,
    progress: IstioNomadProgressCallback,
    user_data: *mut c_void,
    out: *mut *mut IstioNomadString,
    error: *mut *mut IstioNomadError,
) -> IstioNomadResult {
    // SAFETY: pointer contracts forwarded from the caller.
    unsafe {
        operation(error, || -> FfiResult {
            let out = out_slot(out, "out")?;
            let (cluster, plan) = cluster_and_plan(cluster, spec, spec_len, format)?;
            let diff = run(cluster, progress, user_data, |i| async move {
                i.diff(&plan).await
            })?;
            put_string(out, pretty(&diff_value(&diff))?);
            Ok(())
        })
    }
}

/// Applies a mesh spec: registers the jobs in dependency order (a stage's jobs concurrently),
/// waits for each job's health gates, records the state; idempotent and resumable. Blocks
/// until done.
///
/// `options`/`options_len`: JSON or empty for the defaults: `{"health_deadline_secs": 600,
/// "query_wait_secs": 60, "lock_ttl_secs": 15, "lock_wait_secs": 0, "prune": true,
/// "wait_for_health": true}`. `progress` (may be NULL) receives every event (`started`,
/// `lock_acquired`, `stage_started`, `job_registered`, `deployment_progress`, `job_healthy`,
/// `job_unchanged`, `state_written`, `failed`, `finished`, ...). On success `*out` receives
/// `{"mesh", "spec_hash", "jobs": [{"id", "action": "created" | "updated" | "unchanged",
/// "version", "job_modify_index", "state_written"}], "removed", "writes": {"registers",
/// "deregisters", "state_writes", "locks", "total"}, "warnings", "elapsed_ms"}`. Another
/// operator's apply is `ISTIO_NOMAD_CONFLICT`; a server's refusal `ISTIO_NOMAD_BACKEND`.
///
/// # Safety
/// `cluster` is a live handle; `spec` and `options` point to their lengths of readable bytes
/// (or are NULL with 0); `out` is a writable pointer slot; `error` is NULL or a writable
/// pointer slot.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn istio_nomad_apply(
    cluster: *const IstioNomadCluster,
    spec: *const u8,
    spec_len: usize,
    format: u32,
    options: *const u8,
    options_len: usize,
    progress: IstioNomadProgressCallback,
    user_data: *mut c_void,
    out: *mut *mut IstioNomadString,
    error: *mut *mut IstioNomadError,
) -> IstioNomadResult {
    // SAFETY: pointer contracts forwarded from the caller.
    unsafe {
        operation(error, || -> FfiResult {
            let out = out_slot(out, "out")?;
            let opts = options_arg(options, options_len)?;
            let (cluster, plan) = cluster_and_plan(cluster, spec, spec_len, format)?;
            let report = run(cluster, progress, user_data, |i| async move {
                i.apply(&plan, &opts).await
            })?;
            put_string(out, pretty(&apply_value(&report))?);
            Ok(())
        })
    }
}

/// Destroys a mesh: deregisters (purges) its jobs in reverse dependency order and clears the
/// recorded state. Options and progress as `istio_nomad_apply`. On success `*out` receives
/// `{"mesh", "deregistered": [...], "writes": {...}, "warnings", "elapsed_ms"}`.
///
/// # Safety
/// As `istio_nomad_apply`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn istio_nomad_destroy(
    cluster: *const IstioNomadCluster,
    spec: *const u8,
    spec_len: usize,
    format: u32,
    options: *const u8,
    options_len: usize,
    progress: IstioNomadProgressCallback,
    user_data: *mut c_void,
    out: *mut *mut IstioNomadString,
    error: *mut *mut IstioNomadError,
) -> IstioNomadResult {
    // SAFETY: pointer contracts forwarded from the caller.
    unsafe {
        operation(error, || -> FfiResult {
            let out = out_slot(out, "out")?;
            let opts = options_arg(options, options_len)?;
            let (cluster, plan) = cluster_and_plan(cluster, spec, spec_len, format)?;
            let report = run(cluster, progress, user_data, |i| async move {
                i.destroy(&plan, &opts).await
            })?;
            put_string(out, pretty(&destroy_value(&report))?);
            Ok(())
        })
    }
}
