//! `inject(job, ...)` and `remove_sidecar(job)`: the Istio proxy added to any Nomad job.

use crate::convert::given;
use crate::errors::{parse_error, IntoPy};
use crate::iptables::PyInterceptConfig;
use crate::job::PyJob;
use istio_nomad_core::error::json::from_json_value;
use istio_nomad_core::plan::sidecar;
use istio_nomad_core::spec::sidecar::InjectSettings;
use pyo3::prelude::*;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Reads a value of the core from JSON; a wrong shape is a `SpecError` at `path`.
fn read<T: DeserializeOwned>(py: Python<'_>, value: Value, path: &str) -> PyResult<T> {
    from_json_value(value, path).map_err(|e| parse_error(py, &e))
}

/// Injects the Istio sidecar into every selected group of `job` and returns the new job (the
/// argument is not changed). Keyword arguments left out keep the defaults: bridge mode, Istio
/// 1.0.0 images from docker.io/istio, the readiness gate on, Istio's interception defaults.
/// Injecting twice equals injecting once; `remove_sidecar` undoes it exactly.
///
/// `mode` is `"bridge"` or `"host"`; `cni_network` puts bridge-mode groups in the CNI
/// network `cni/<name>` instead of Nomad's bridge; `selection` is `"with_services"` (every group with a
/// service) or `"opt_in"` (groups whose meta sets `istio-nomad.inject = "true"`). A value of
/// the wrong shape raises `SpecError` naming `sidecar.<field>`; a broken rule raises
/// `ValidationError` with every problem and its path.
#[pyfunction]
#[pyo3(signature = (
    job,
    *,
    mesh,
    hub = None,
    istio_version = None,
    mode = None,
    cni_network = None,
    selection = None,
    proxy_image = None,
    init_image = None,
    ready_image = None,
    readiness_gate = None,
    ready_timeout = None,
    pilot_address = None,
    zipkin_address = None,
    cpu = None,
    memory = None,
    expose_admin = None,
    replace_connect = None,
    intercept = None,
    version = None,
    protocol = None,
    extra_bridge_drivers = None,
))]
#[allow(clippy::too_many_arguments)]
pub fn inject(
    py: Python<'_>,
    job: &PyJob,
    mesh: String,
    hub: Option<String>,
    istio_version: Option<String>,
    mode: Option<String>,
    cni_network: Option<String>,
    selection: Option<String>,
    proxy_image: Option<String>,
    init_image: Option<String>,
    ready_image: Option<String>,
    readiness_gate: Option<bool>,
    ready_timeout: Option<i64>,
    pilot_address: Option<String>,
    zipkin_address: Option<String>,
    cpu: Option<i64>,
    memory: Option<i64>,
    expose_admin: Option<bool>,
    replace_connect: Option<bool>,
    intercept: Option<&PyInterceptConfig>,
    version: Option<String>,
    protocol: Option<String>,
    extra_bridge_drivers: Option<Vec<String>>,
) -> PyResult<PyJob> {
    // The keywords as the core's InjectSettings (the C ABI's options JSON): the sidecar
    // keywords form its `sidecar` object.
    let side = given([
        ("mode", mode.map(Value::from)),
        ("cni_network", cni_network.map(Value::from)),
        ("proxy_image", proxy_image.map(Value::from)),
        ("init_image", init_image.map(Value::from)),
        ("ready_image", ready_image.map(Value::from)),
        ("readiness_gate", readiness_gate.map(Value::from)),
        ("ready_timeout", ready_timeout.map(Value::from)),
        ("pilot_address", pilot_address.map(Value::from)),
        ("zipkin_address", zipkin_address.map(Value::from)),
        ("cpu", cpu.map(Value::from)),
        ("memory", memory.map(Value::from)),
        ("expose_admin", expose_admin.map(Value::from)),
        ("replace_connect", replace_connect.map(Value::from)),
    ]);
    let doc = given([
        ("mesh", Some(Value::from(mesh))),
        ("hub", hub.map(Value::from)),
        ("istio_version", istio_version.map(Value::from)),
        ("selection", selection.map(Value::from)),
        ("version", version.map(Value::from)),
        ("protocol", protocol.map(Value::from)),
        (
            "extra_bridge_drivers",
            extra_bridge_drivers.map(Value::from),
        ),
        ("sidecar", Some(Value::Object(side))),
    ]);
    let mut settings: InjectSettings = read(py, Value::Object(doc), "")?;
    if let (Some(cfg), Some(spec)) = (intercept, settings.sidecar.as_mut()) {
        spec.intercept = cfg.inner.clone();
    }
    let opts = settings.to_options();
    let src = job.job();
    let out = py
        .detach(|| opts.and_then(|o| sidecar::inject(src, &o)))
        .py_err(py)?;
    Ok(PyJob::new(out))
}

/// Removes what `inject` added, restoring every injected group exactly as it was. Groups that
/// were not injected are left alone.
#[pyfunction]
pub fn remove_sidecar(py: Python<'_>, job: &PyJob) -> PyResult<PyJob> {
    let src = job.job();
    let out = py.detach(|| sidecar::remove_sidecar(src)).py_err(py)?;
    Ok(PyJob::new(out))
}
