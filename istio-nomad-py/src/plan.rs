//! `plan(spec)` and the `Plan` it returns: pure data, rendered on demand.

use crate::errors::IntoPy;
use crate::job::PyJob;
use crate::spec::PyMeshSpec;
use istio_nomad_core::plan as core_plan;
use pyo3::prelude::*;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// Makes the plan of a mesh spec: the Nomad jobs (control plane and meshed apps), their
/// dependency stages, the iptables rules files and VM bundles. Releases the GIL while it works.
/// A plan that `verify` finds would not carry traffic raises `ValidationError` (one entry per
/// finding, with its path); `verify=False` makes it anyway.
#[pyfunction]
#[pyo3(signature = (spec, *, verify = true))]
pub fn plan(py: Python<'_>, spec: PyRef<'_, PyMeshSpec>, verify: bool) -> PyResult<PyPlan> {
    let spec = &spec.inner;
    let inner = py
        .detach(|| {
            if verify {
                core_plan::plan(spec)
            } else {
                core_plan::plan_unverified(spec)
            }
        })
        .py_err(py)?;
    Ok(PyPlan {
        inner: Arc::new(inner),
    })
}

/// Everything a mesh spec turns into.
#[pyclass(module = "istio_nomad", name = "Plan", frozen)]
pub struct PyPlan {
    inner: Arc<core_plan::Plan>,
}

/// One job of a plan with its role and the jobs it waits for.
#[pyclass(module = "istio_nomad", name = "PlannedJob", frozen)]
pub struct PyPlannedJob {
    plan: Arc<core_plan::Plan>,
    index: usize,
}

impl PyPlannedJob {
    fn planned(&self) -> Option<&core_plan::PlannedJob> {
        self.plan.jobs.get(self.index)
    }
}

/// The iptables rules of one meshed task group.
#[pyclass(module = "istio_nomad", name = "RulesFile", frozen, get_all)]
pub struct PyRulesFile {
    /// Job ID.
    job: String,
    /// Task group name.
    group: String,
    /// `iptables-restore` input that installs the interception rules.
    restore: String,
    /// `iptables-restore` input that removes them again.
    cleanup: String,
    /// `ip6tables-restore` input, when IPv6 interception is on.
    restore_v6: Option<String>,
    /// The matching IPv6 cleanup.
    cleanup_v6: Option<String>,
}

/// The files of the bundle of one service that runs outside Nomad.
#[pyclass(module = "istio_nomad", name = "VmBundle", frozen, get_all)]
pub struct PyVmBundle {
    /// Service name.
    service: String,
    /// File name -> contents.
    files: BTreeMap<String, String>,
}

impl PyPlan {
    /// The plan, shared.
    pub fn shared(&self) -> Arc<core_plan::Plan> {
        self.inner.clone()
    }
}

#[pymethods]
impl PyPlan {
    /// The jobs, control plane first, in a stable order.
    #[getter]
    fn jobs(&self) -> Vec<PyJob> {
        (0..self.inner.jobs.len())
            .map(|i| PyJob::in_plan(self.inner.clone(), i))
            .collect()
    }

    /// The jobs with their role and dependencies.
    #[getter]
    fn planned(&self) -> Vec<PyPlannedJob> {
        (0..self.inner.jobs.len())
            .map(|index| PyPlannedJob {
                plan: self.inner.clone(),
                index,
            })
            .collect()
    }

    /// The job with this ID, or `None`.
    fn job(&self, id: &str) -> Option<PyJob> {
        self.inner
            .jobs
            .iter()
            .position(|pj| pj.job.id() == id)
            .map(|i| PyJob::in_plan(self.inner.clone(), i))
    }

    /// The dependency graph in stages: the jobs of one stage depend only on earlier stages.
    #[getter]
    fn order(&self, py: Python<'_>) -> PyResult<Vec<Vec<String>>> {
        self.inner.order().py_err(py)
    }

    /// SHA-256 (hex) of the spec's canonical JSON.
    #[getter]
    fn spec_hash(&self) -> &str {
        &self.inner.spec_hash
    }

    /// The spec this plan was made from.
    #[getter]
    fn spec(&self) -> PyMeshSpec {
        PyMeshSpec {
            inner: self.inner.spec.clone(),
        }
    }

    /// The iptables rules files of the meshed groups.
    #[getter]
    fn iptables(&self) -> Vec<PyRulesFile> {
        self.inner
            .iptables
            .iter()
            .map(|r| PyRulesFile {
                job: r.job.clone(),
                group: r.group.clone(),
                restore: r.restore.clone(),
                cleanup: r.cleanup.clone(),
                restore_v6: r.restore_v6.clone(),
                cleanup_v6: r.cleanup_v6.clone(),
            })
            .collect()
    }

    /// The bundles of services that run outside Nomad.
    #[getter]
    fn vm_bundles(&self) -> Vec<PyVmBundle> {
        self.inner
            .vm_bundles
            .iter()
            .map(|b| PyVmBundle {
                service: b.service.clone(),
                files: b.files.clone(),
            })
            .collect()
    }

    /// Every file of the plan as `(relative path, contents)`, in a stable order.
    fn files(&self, py: Python<'_>) -> PyResult<Vec<(String, String)>> {
        py.detach(|| self.inner.files()).py_err(py)
    }

    /// Writes every file of the plan under `dir` (`str` or `os.PathLike`) and returns the
    /// paths written, relative to `dir`.
    fn write(&self, py: Python<'_>, dir: PathBuf) -> PyResult<Vec<String>> {
        py.detach(|| self.inner.write(&dir)).py_err(py)
    }

    fn __repr__(&self) -> String {
        format!(
            "Plan(mesh={:?}, jobs={}, spec_hash={:?})",
            self.inner.spec.name,
            self.inner.jobs.len(),
            self.inner.spec_hash
        )
    }
}

#[pymethods]
impl PyPlannedJob {
    /// The job.
    #[getter]
    fn job(&self) -> PyJob {
        PyJob::in_plan(self.plan.clone(), self.index)
    }

    /// The job ID.
    #[getter]
    fn id(&self) -> &str {
        self.planned().map_or("", |pj| pj.job.id())
    }

    /// Its role: `etcd`, `apiserver`, `pilot`, `mixer`, `citadel`, `zipkin` or `app`.
    #[getter]
    fn role(&self) -> String {
        self.planned()
            .map_or_else(String::new, |pj| pj.role.as_str().to_string())
    }

    /// IDs of the jobs that must be healthy before this one is applied.
    #[getter]
    fn depends_on(&self) -> Vec<String> {
        self.planned()
            .map_or_else(Vec::new, |pj| pj.depends_on.clone())
    }

    fn __repr__(&self) -> String {
        format!("PlannedJob(id={:?}, role={:?})", self.id(), self.role())
    }
}

#[pymethods]
impl PyRulesFile {
    fn __repr__(&self) -> String {
        format!("RulesFile(job={:?}, group={:?})", self.job, self.group)
    }
}

#[pymethods]
impl PyVmBundle {
    fn __repr__(&self) -> String {
        format!(
            "VmBundle(service={:?}, files={:?})",
            self.service,
            self.files.keys().collect::<Vec<_>>()
        )
    }
}
