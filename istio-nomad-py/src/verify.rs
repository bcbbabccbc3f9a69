//! `verify(plan_or_spec)`: would the mesh carry traffic? (`verify_live`, which reads a
//! cluster, lives with the other cluster operations in `install`.)

use crate::errors::IntoPy;
use crate::plan::PyPlan;
use crate::spec::PyMeshSpec;
use istio_nomad_core::plan::plan_unverified;
use istio_nomad_core::plan::verify as core_verify;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;

/// One place where traffic would stop.
#[pyclass(module = "istio_nomad", name = "Finding", frozen, get_all)]
pub struct PyFinding {
    /// `"error"` or `"warning"`.
    severity: String,
    /// What it is about: `no-inbound-listener`, `no-outbound-listener`, `shared-port`,
    /// `protocol-ignored`, `default-protocol`, `not-registered`, `ads-port`, `unresolvable`,
    /// `unreachable`, `not-captured` or `unsupported-version`.
    kind: String,
    /// The group or service path (`job[reviews].group[reviews-v1].service[0]`).
    path: String,
    /// Why, and what to change.
    message: String,
}

#[pymethods]
impl PyFinding {
    fn __repr__(&self) -> String {
        format!(
            "Finding(severity={:?}, kind={:?}, path={:?})",
            self.severity, self.kind, self.path
        )
    }
}

/// What `verify` found.
#[pyclass(module = "istio_nomad", name = "VerifyReport", frozen)]
pub struct PyVerifyReport {
    inner: core_verify::Report,
}

impl From<core_verify::Report> for PyVerifyReport {
    fn from(inner: core_verify::Report) -> Self {
        PyVerifyReport { inner }
    }
}

#[pymethods]
impl PyVerifyReport {
    /// The Istio release the plan was checked against.
    #[getter]
    fn istio_version(&self) -> &str {
        &self.inner.istio_version
    }

    /// `"predicted"` (from the plan alone) or `"live"` (from the servers in `source`).
    #[getter]
    fn mode(&self) -> &str {
        self.inner.mode
    }

    /// What the catalog came from.
    #[getter]
    fn source(&self) -> &str {
        &self.inner.source
    }

    /// The findings, errors first, then by path.
    #[getter]
    fn findings(&self) -> Vec<PyFinding> {
        self.inner
            .findings
            .iter()
            .map(|f| PyFinding {
                severity: match f.severity {
                    core_verify::Severity::Error => "error".into(),
                    core_verify::Severity::Warning => "warning".into(),
                },
                kind: f.kind.as_str().into(),
                path: f.path.clone(),
                message: f.message.clone(),
            })
            .collect()
    }

    /// True when a finding is an error (the mesh would not carry traffic).
    #[getter]
    fn has_errors(&self) -> bool {
        self.inner.has_errors()
    }

    /// The report as JSON, with the registrations Nomad would make.
    fn to_json(&self, py: Python<'_>) -> PyResult<String> {
        self.inner.to_json().py_err(py)
    }

    fn __str__(&self) -> String {
        self.inner.to_string()
    }

    fn __repr__(&self) -> String {
        format!(
            "VerifyReport(mode={:?}, errors={}, findings={})",
            self.inner.mode,
            self.inner.errors().count(),
            self.inner.findings.len()
        )
    }
}

/// Checks that a plan (or the plan of a spec, made without the check) carries traffic: what
/// Nomad registers in Consul for every meshed group, and what Istio's Pilot of the spec's
/// release makes of it. Pure: nothing is read or written. Releases the GIL.
#[pyfunction]
pub fn verify(py: Python<'_>, plan_or_spec: &Bound<'_, PyAny>) -> PyResult<PyVerifyReport> {
    if let Ok(p) = plan_or_spec.cast::<PyPlan>() {
        let plan = p.get().shared();
        let inner = py.detach(|| core_verify::verify(&plan));
        return Ok(PyVerifyReport { inner });
    }
    if let Ok(s) = plan_or_spec.cast::<PyMeshSpec>() {
        let spec = &s.get().inner;
        let inner = py
            .detach(|| plan_unverified(spec).map(|p| core_verify::verify(&p)))
            .py_err(py)?;
        return Ok(PyVerifyReport { inner });
    }
    Err(PyTypeError::new_err(format!(
        "expected a MeshSpec or a Plan, not '{}'",
        plan_or_spec
            .get_type()
            .qualname()
            .map_or_else(|_| "object".to_string(), |n| n.to_string())
    )))
}
