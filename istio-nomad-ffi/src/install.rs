//! Diff, apply and destroy a mesh against a cluster, blocking, on an internal tokio runtime.

use crate::error::{guard, operation, FfiResult, IstioNomadError, IstioNomadResult};
use crate::format::DocFormat;
use crate::plan::parse_spec;
use crate::string::{input_bytes, input_str, out_slot, put_string, IstioNomadString};
use istio_nomad_core::install::{ApplyOptions, Backends, InMemoryCluster, Installer};
use istio_nomad_core::plan::{plan, Plan};
use istio_nomad_core::{ErrorKind, Result};
use serde_json::Value;
use std::ffi::{c_char, c_void, CString};
use std::future::Future;
use std::ptr;
use std::sync::OnceLock;

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

/// Reads apply/destroy options from JSON ([`istio_nomad_core::install::ApplySettings`]);
/// empty text is the defaults.
pub fn parse_options(text: &str) -> Result<ApplyOptions> {
    ApplyOptions::from_json(text)
}

/// A report or event of the core as its JSON document (the core's own serialization).
fn to_value<T: serde::Serialize>(v: &T) -> Result<Value> {
    serde_json::to_value(v).map_err(|source| istio_nomad_core::Error::Encode {
        what: "report",
        source,
    })
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
            let _ = tx.send(serde_json::to_string(e).unwrap_or_default());
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
    let mut s =
        serde_json::to_string_pretty(v).map_err(|source| istio_nomad_core::Error::Encode {
            what: "report",
            source,
        })?;
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
            put_string(out, pretty(&to_value(&diff)?)?);
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
            put_string(out, pretty(&to_value(&report)?)?);
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
            put_string(out, pretty(&to_value(&report)?)?);
            Ok(())
        })
    }
}
