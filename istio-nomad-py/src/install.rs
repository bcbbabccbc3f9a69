//! `diff`, `apply` and `destroy`: a plan against Nomad, Consul and etcd, or an in-memory cluster.
//!
//! Each call blocks until the operation is over, with the GIL released; the work runs on one
//! tokio runtime shared by the module. Progress events go to an optional callable (called
//! with the GIL held, from the runtime's threads); an exception it raises is re-raised once
//! the operation is over (the operation itself is not interrupted halfway).

use crate::errors::IntoPy;
use crate::plan::PyPlan;
use crate::spec::PyMeshSpec;
use istio_nomad_core::error::Error;
use istio_nomad_core::install::verify_live as core_verify_live;
use istio_nomad_core::install::{
    ApplyOptions, ApplySettings, Backends, Event, InMemoryCluster, Installer, StateBackend,
};
use istio_nomad_core::plan::{plan as make_plan, plan_unverified, Plan};
use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::PyBool;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

/// The runtime every operation runs on.
static RUNTIME: LazyLock<std::io::Result<tokio::runtime::Runtime>> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("istio-nomad")
        .build()
});

fn runtime() -> PyResult<&'static tokio::runtime::Runtime> {
    RUNTIME
        .as_ref()
        .map_err(|e| PyRuntimeError::new_err(format!("cannot start the async runtime: {e}")))
}

/// An in-memory Nomad, Consul and etcd wired together like a real cluster, for trying
/// `apply`/`diff`/`destroy` without servers: registered jobs get allocations that become
/// healthy, and their services appear in Consul. Pass it as `in_memory=` to share it between
/// calls.
#[pyclass(module = "istio_nomad", name = "InMemoryCluster", frozen)]
pub struct PyInMemoryCluster {
    inner: InMemoryCluster,
}

#[pymethods]
impl PyInMemoryCluster {
    /// An empty cluster.
    #[new]
    fn new() -> Self {
        PyInMemoryCluster {
            inner: InMemoryCluster::new(),
        }
    }

    /// IDs of the Nomad jobs registered in `namespace` (purged jobs excluded).
    #[pyo3(signature = (namespace = "default"))]
    fn job_ids(&self, namespace: &str) -> Vec<String> {
        let mut ids = self.inner.nomad.in_namespace(namespace).job_ids();
        ids.sort();
        ids
    }

    /// IDs of the services registered in Consul.
    fn service_ids(&self) -> Vec<String> {
        let mut ids = self.inner.consul.service_ids();
        ids.sort();
        ids
    }

    /// Sets how long allocations take to become healthy, in seconds (0: at once).
    fn set_progress_delay(&self, seconds: f64) -> PyResult<()> {
        let d = seconds_arg("seconds", seconds)?;
        self.inner.nomad.set_progress_delay(d);
        Ok(())
    }

    /// From now on, deployments of `job_id` fail (its allocations never become healthy).
    fn fail_deployments(&self, job_id: &str) {
        self.inner.nomad.fail_deployments(job_id);
    }

    fn __repr__(&self) -> String {
        format!("InMemoryCluster(jobs={})", self.inner.nomad.job_ids().len())
    }
}

fn seconds_arg(name: &str, seconds: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(seconds).map_err(|_| {
        Python::attach(|py| {
            crate::errors::to_py(
                py,
                Error::field(
                    name,
                    "must be a finite, non-negative number of seconds",
                    seconds,
                ),
            )
        })
    })
}

/// The plan of a `MeshSpec`, or a `Plan` as it is.
fn plan_of(py: Python<'_>, target: &Bound<'_, PyAny>) -> PyResult<Arc<Plan>> {
    if let Ok(p) = target.cast::<PyPlan>() {
        return Ok(p.get().shared());
    }
    if let Ok(s) = target.cast::<PyMeshSpec>() {
        let spec = &s.get().inner;
        let p = py.detach(|| make_plan(spec)).py_err(py)?;
        return Ok(Arc::new(p));
    }
    Err(PyTypeError::new_err(format!(
        "expected a MeshSpec or a Plan, not '{}'",
        target
            .get_type()
            .qualname()
            .map_or_else(|_| "object".to_string(), |n| n.to_string())
    )))
}

/// Where the operation goes: an in-memory cluster, or the servers named by the arguments,
/// the spec and the environment (`NOMAD_ADDR`, `CONSUL_HTTP_ADDR`, `ETCDCTL_ENDPOINTS`, tokens
/// and TLS settings). With no address anywhere the core uses a fresh in-memory cluster.
fn backends(
    py: Python<'_>,
    plan: &Plan,
    nomad: Option<String>,
    consul: Option<String>,
    etcd: Option<Vec<String>>,
    in_memory: Option<&Bound<'_, PyAny>>,
) -> PyResult<Backends> {
    let mut fresh = false;
    if let Some(m) = in_memory {
        if let Ok(c) = m.cast::<PyInMemoryCluster>() {
            return Ok(c.get().inner.backends_in(&plan.spec.namespace));
        }
        fresh = m
            .cast::<PyBool>()
            .map_err(|_| PyTypeError::new_err("in_memory must be a bool or an InMemoryCluster"))?
            .is_true();
    }
    if fresh {
        return Ok(InMemoryCluster::new().backends_in(&plan.spec.namespace));
    }
    let etcd = etcd.map(|e| e.join(","));
    py.detach(|| {
        Backends::for_spec_with(&plan.spec, |k| match k {
            "NOMAD_ADDR" if nomad.is_some() => nomad.clone(),
            "CONSUL_HTTP_ADDR" if consul.is_some() => consul.clone(),
            "ETCDCTL_ENDPOINTS" if etcd.is_some() => etcd.clone(),
            _ => std::env::var(k).ok(),
        })
    })
    .py_err(py)
}

fn state_backend(name: &str) -> PyResult<StateBackend> {
    match name {
        "etcd" => Ok(StateBackend::Etcd),
        "consul" => Ok(StateBackend::Consul),
        other => Err(pyo3::exceptions::PyValueError::new_err(format!(
            "state_backend must be \"etcd\" or \"consul\", not {other:?}"
        ))),
    }
}

/// The first exception raised by the progress callable.
type CallbackError = Arc<Mutex<Option<PyErr>>>;

fn installer(
    backends: Backends,
    store: StateBackend,
    holder: Option<String>,
    progress: Option<Py<PyAny>>,
) -> (Installer, CallbackError) {
    let failed: CallbackError = Arc::new(Mutex::new(None));
    let mut b = Installer::builder(backends).state_backend(store);
    if let Some(h) = holder {
        b = b.holder(h);
    }
    if let Some(cb) = progress {
        let failed = failed.clone();
        b = b.on_event(move |e: &Event| {
            Python::attach(|py| {
                let result =
                    crate::convert::to_py(py, e).and_then(|d| cb.call1(py, (d,)).map(drop));
                if let Err(err) = result {
                    if let Ok(mut slot) = failed.lock() {
                        slot.get_or_insert(err);
                    }
                }
            });
        });
    }
    (b.build(), failed)
}

/// Runs `op` with the GIL released; returns its value, its error as the family's exception,
/// or (after a successful operation) the first exception of the progress callable.
fn run<T: Send>(
    py: Python<'_>,
    failed: &CallbackError,
    op: impl std::future::Future<Output = Result<T, Error>> + Send,
) -> PyResult<T> {
    let rt = runtime()?;
    let out = py.detach(|| rt.block_on(op)).py_err(py)?;
    if let Some(err) = failed.lock().ok().and_then(|mut s| s.take()) {
        return Err(err);
    }
    Ok(out)
}

/// The keywords of `apply`/`destroy` as the core's `ApplySettings` (seconds; checked by the
/// core like the C ABI's options JSON). A negative or non-finite number of seconds raises
/// `ValidationError` naming the keyword.
fn options(
    health_deadline: Option<f64>,
    query_wait: Option<f64>,
    lock_ttl: Option<f64>,
    lock_wait: Option<f64>,
    prune: Option<bool>,
    wait_for_health: Option<bool>,
) -> PyResult<ApplyOptions> {
    for (name, v) in [
        ("health_deadline", health_deadline),
        ("query_wait", query_wait),
        ("lock_ttl", lock_ttl),
        ("lock_wait", lock_wait),
    ] {
        if let Some(s) = v {
            seconds_arg(name, s)?;
        }
    }
    let settings = ApplySettings {
        health_deadline_secs: health_deadline,
        query_wait_secs: query_wait,
        lock_ttl_secs: lock_ttl,
        lock_wait_secs: lock_wait,
        prune,
        wait_for_health,
    };
    Python::attach(|py| settings.to_options().py_err(py))
}

/// Checks a plan (or the plan of a spec, made without the predicted check) against a running
/// cluster: reads the Nomad nodes (addresses, fingerprinted CNI plugins and networks) and the
/// Consul catalog of the meshed services and of Pilot, and applies Pilot's rules to what is
/// registered. The cluster is `in_memory` (an `InMemoryCluster`) or the servers named by the
/// arguments, the spec and the environment; with none of them there is nothing live to read
/// and a `ValidationError` is raised. Writes nothing.
#[pyfunction]
#[pyo3(signature = (plan_or_spec, *, nomad = None, consul = None, in_memory = None))]
pub fn verify_live(
    py: Python<'_>,
    plan_or_spec: &Bound<'_, PyAny>,
    nomad: Option<String>,
    consul: Option<String>,
    in_memory: Option<&Bound<'_, PyAny>>,
) -> PyResult<crate::verify::PyVerifyReport> {
    let plan = if let Ok(s) = plan_or_spec.cast::<PyMeshSpec>() {
        let spec = &s.get().inner;
        Arc::new(py.detach(|| plan_unverified(spec)).py_err(py)?)
    } else {
        plan_of(py, plan_or_spec)?
    };
    if let Some(m) = in_memory {
        if m.cast::<PyInMemoryCluster>().is_err() {
            return Err(PyTypeError::new_err(
                "in_memory must be an InMemoryCluster (a fresh one has nothing to read)",
            ));
        }
    }
    let b = backends(py, &plan, nomad, consul, None, in_memory)?;
    if in_memory.is_none() && b.is_in_memory() {
        return Err::<crate::verify::PyVerifyReport, _>(Error::field(
            "verify_live",
            "no nomad=/consul= argument, no NOMAD_ADDR or CONSUL_HTTP_ADDR and no server addresses in the spec: there is no live cluster to read (use verify() for the prediction from the plan)",
            "",
        ))
        .py_err(py);
    }
    let failed: CallbackError = Arc::new(Mutex::new(None));
    let report = run(py, &failed, core_verify_live(&plan, &b))?;
    Ok(report.into())
}

/// Compares a plan (or the plan of a spec) with the cluster and the recorded state, and
/// returns what `apply` would do, per job. Writes nothing.
#[pyfunction]
#[pyo3(signature = (
    spec, *, nomad = None, consul = None, etcd = None, in_memory = None, progress = None,
    state_backend = "etcd",
))]
#[allow(clippy::too_many_arguments)]
pub fn diff<'py>(
    py: Python<'py>,
    spec: &Bound<'py, PyAny>,
    nomad: Option<String>,
    consul: Option<String>,
    etcd: Option<Vec<String>>,
    in_memory: Option<&Bound<'py, PyAny>>,
    progress: Option<Py<PyAny>>,
    state_backend: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let plan = plan_of(py, spec)?;
    let store = self::state_backend(state_backend)?;
    let b = backends(py, &plan, nomad, consul, etcd, in_memory)?;
    let (inst, failed) = installer(b, store, None, progress);
    let d = run(py, &failed, inst.diff(&plan))?;
    crate::convert::to_py(py, &d)
}

/// Applies a plan (or the plan of a spec): registers the jobs in dependency order, waits for
/// each job's health gates, records what was applied. Idempotent and resumable; returns a
/// report of what was done.
#[pyfunction]
#[pyo3(signature = (
    spec, *, nomad = None, consul = None, etcd = None, in_memory = None, progress = None,
    state_backend = "etcd", holder = None, health_deadline = None, query_wait = None,
    lock_ttl = None, lock_wait = None, prune = None, wait_for_health = None,
))]
#[allow(clippy::too_many_arguments)]
pub fn apply<'py>(
    py: Python<'py>,
    spec: &Bound<'py, PyAny>,
    nomad: Option<String>,
    consul: Option<String>,
    etcd: Option<Vec<String>>,
    in_memory: Option<&Bound<'py, PyAny>>,
    progress: Option<Py<PyAny>>,
    state_backend: &str,
    holder: Option<String>,
    health_deadline: Option<f64>,
    query_wait: Option<f64>,
    lock_ttl: Option<f64>,
    lock_wait: Option<f64>,
    prune: Option<bool>,
    wait_for_health: Option<bool>,
) -> PyResult<Bound<'py, PyAny>> {
    let plan = plan_of(py, spec)?;
    let store = self::state_backend(state_backend)?;
    let opts = options(
        health_deadline,
        query_wait,
        lock_ttl,
        lock_wait,
        prune,
        wait_for_health,
    )?;
    let b = backends(py, &plan, nomad, consul, etcd, in_memory)?;
    let (inst, failed) = installer(b, store, holder, progress);
    let r = run(py, &failed, inst.apply(&plan, &opts))?;
    crate::convert::to_py(py, &r)
}

/// Deregisters (purges) the jobs of a plan in reverse dependency order and clears the
/// recorded state; returns a report.
#[pyfunction]
#[pyo3(signature = (
    spec, *, nomad = None, consul = None, etcd = None, in_memory = None, progress = None,
    state_backend = "etcd", holder = None, health_deadline = None, query_wait = None,
    lock_ttl = None, lock_wait = None, wait_for_health = None,
))]
#[allow(clippy::too_many_arguments)]
pub fn destroy<'py>(
    py: Python<'py>,
    spec: &Bound<'py, PyAny>,
    nomad: Option<String>,
    consul: Option<String>,
    etcd: Option<Vec<String>>,
    in_memory: Option<&Bound<'py, PyAny>>,
    progress: Option<Py<PyAny>>,
    state_backend: &str,
    holder: Option<String>,
    health_deadline: Option<f64>,
    query_wait: Option<f64>,
    lock_ttl: Option<f64>,
    lock_wait: Option<f64>,
    wait_for_health: Option<bool>,
) -> PyResult<Bound<'py, PyAny>> {
    let plan = plan_of(py, spec)?;
    let store = self::state_backend(state_backend)?;
    let opts = options(
        health_deadline,
        query_wait,
        lock_ttl,
        lock_wait,
        None,
        wait_for_health,
    )?;
    let b = backends(py, &plan, nomad, consul, etcd, in_memory)?;
    let (inst, failed) = installer(b, store, holder, progress);
    let r = run(py, &failed, inst.destroy(&plan, &opts))?;
    crate::convert::to_py(py, &r)
}
