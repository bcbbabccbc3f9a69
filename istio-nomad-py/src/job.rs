//! `Job`: a Nomad job in the shape of Nomad's HTTP API.

use crate::convert::{as_text, mapping_to_value, to_py};
use crate::errors::IntoPy;
use istio_nomad_core::nomad::hcl::HclOptions;
use istio_nomad_core::plan as core_plan;
use istio_nomad_core::{nomad, Error};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyString;
use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;

/// Where a `Job` object's data lives: its own, or a job of a plan (shared, not copied).
enum Source {
    Own(Box<nomad::Job>),
    Plan(Arc<core_plan::Plan>, usize),
}

/// A Nomad job (typed, in the shape of Nomad's HTTP API). Read one with `from_hcl`,
/// `from_json`, `from_dict` or `from_file`; render it with `to_hcl`, `to_json`, `to_dict`.
#[pyclass(module = "istio_nomad", name = "Job", frozen)]
pub struct PyJob {
    source: Source,
}

impl PyJob {
    /// Wraps a job of the core.
    pub fn new(job: nomad::Job) -> Self {
        PyJob {
            source: Source::Own(Box::new(job)),
        }
    }

    /// The job at `index` of `plan` (the caller checks the index).
    pub fn in_plan(plan: Arc<core_plan::Plan>, index: usize) -> Self {
        PyJob {
            source: Source::Plan(plan, index),
        }
    }

    /// The job.
    pub fn job(&self) -> &nomad::Job {
        match &self.source {
            Source::Own(job) => job,
            Source::Plan(plan, i) => plan.jobs.get(*i).map_or(&EMPTY, |pj| &pj.job),
        }
    }
}

/// The reader options of `from_hcl` / `from_file`'s keyword arguments.
fn read_options(
    vars: Option<&Bound<'_, PyAny>>,
    var_files: Option<Vec<PathBuf>>,
    env: Option<&Bound<'_, PyAny>>,
    allow_unknown: bool,
    allow_fs: bool,
) -> PyResult<HclOptions> {
    let mut opts = HclOptions::new()
        .allow_unknown(allow_unknown)
        .allow_fs(allow_fs);
    if let Some(vars) = vars {
        let Value::Object(map) = mapping_to_value(vars, "vars", "the variables")? else {
            return Err(PyTypeError::new_err(
                "vars must be a mapping of names to values",
            ));
        };
        for (name, value) in map {
            let text = match value {
                Value::String(s) => s,
                other => other.to_string(),
            };
            opts = opts.var(name, text);
        }
    }
    for f in var_files.unwrap_or_default() {
        opts = opts.var_file(f);
    }
    if let Some(env) = env {
        let mut entries = Vec::new();
        for item in env.call_method0("items")?.try_iter()? {
            let (k, v): (String, String) = item?.extract()?;
            entries.push((k, v));
        }
        opts = opts.env(entries);
    }
    Ok(opts)
}

/// Stands in for an out-of-range plan index (never handed out).
static EMPTY: std::sync::LazyLock<nomad::Job> = std::sync::LazyLock::new(nomad::Job::default);

#[pymethods]
impl PyJob {
    /// Reads an HCL2 jobspec (`job "id" { group ... }`), strictly, like `nomad job run`.
    ///
    /// `vars` gives `-var` values (a `str` is the text after `name=`, any other value is
    /// taken as its JSON form), `var_files` the `-var-file` files in order, `env` the
    /// environment to take `NOMAD_VAR_<name>` values from (pass `os.environ`; none by
    /// default); `allow_unknown` keeps arguments newer than the schema, `allow_fs` allows
    /// `file()` and the other filesystem functions.
    #[staticmethod]
    #[pyo3(signature = (text, *, vars=None, var_files=None, env=None, allow_unknown=false, allow_fs=false))]
    fn from_hcl(
        py: Python<'_>,
        text: &Bound<'_, PyString>,
        vars: Option<&Bound<'_, PyAny>>,
        var_files: Option<Vec<PathBuf>>,
        env: Option<&Bound<'_, PyAny>>,
        allow_unknown: bool,
        allow_fs: bool,
    ) -> PyResult<Self> {
        let s = as_text(py, text)?;
        let opts = read_options(vars, var_files, env, allow_unknown, allow_fs)?;
        let inner = py
            .detach(|| nomad::Job::from_hcl_with(&s, &opts))
            .py_err(py)?;
        Ok(Self::new(inner))
    }

    /// Reads API JSON: the bare job object or the register body `{"Job": {...}}`.
    #[staticmethod]
    fn from_json(py: Python<'_>, text: &Bound<'_, PyString>) -> PyResult<Self> {
        let s = as_text(py, text)?;
        let inner = py.detach(|| nomad::Job::from_json(&s)).py_err(py)?;
        Ok(Self::new(inner))
    }

    /// Reads a job from a dict of API JSON (bare or `{"Job": {...}}`).
    #[staticmethod]
    fn from_dict(py: Python<'_>, d: &Bound<'_, PyAny>) -> PyResult<Self> {
        let value = mapping_to_value(d, "", "a job")?;
        let inner = py
            .detach(|| nomad::Job::from_json_value(value).map_err(Error::as_data))
            .py_err(py)?;
        Ok(Self::new(inner))
    }

    /// Reads a job file (`str` or `os.PathLike`): JSON when the name ends in `.json`, else HCL
    /// with the options of `from_hcl` (filesystem functions read relative to the file's
    /// folder; JSON input ignores the options).
    #[staticmethod]
    #[pyo3(signature = (path, *, vars=None, var_files=None, env=None, allow_unknown=false, allow_fs=false))]
    fn from_file(
        py: Python<'_>,
        path: PathBuf,
        vars: Option<&Bound<'_, PyAny>>,
        var_files: Option<Vec<PathBuf>>,
        env: Option<&Bound<'_, PyAny>>,
        allow_unknown: bool,
        allow_fs: bool,
    ) -> PyResult<Self> {
        let opts = read_options(vars, var_files, env, allow_unknown, allow_fs)?;
        let inner = py
            .detach(|| nomad::Job::from_file_with(&path, &opts))
            .py_err(py)?;
        Ok(Self::new(inner))
    }

    /// The job ID (empty when unset).
    #[getter]
    fn id(&self) -> &str {
        self.job().id()
    }

    /// The names of the task groups, in order.
    #[getter]
    fn groups(&self) -> Vec<String> {
        self.job()
            .task_groups
            .iter()
            .map(|g| g.name().to_string())
            .collect()
    }

    /// Checks the job with Nomad's rules; raises `ValidationError` listing every problem.
    fn validate(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| self.job().validate()).py_err(py)
    }

    /// The job as a `nomad job run`-ready HCL2 jobspec.
    fn to_hcl(&self, py: Python<'_>) -> PyResult<String> {
        py.detach(|| self.job().to_hcl()).py_err(py)
    }

    /// The job as pretty-printed API JSON (the bare job object).
    fn to_json(&self, py: Python<'_>) -> PyResult<String> {
        py.detach(|| self.job().to_json()).py_err(py)
    }

    /// The body of `POST /v1/jobs`: `{"Job": {...}}`, pretty-printed.
    fn to_register_json(&self, py: Python<'_>) -> PyResult<String> {
        py.detach(|| self.job().to_register_json()).py_err(py)
    }

    /// The job as a dict of API JSON (the bare job object).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let value = self.job().to_json_value().py_err(py)?;
        to_py(py, &value)
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<PyJob>()
            .is_ok_and(|o| o.get().job() == self.job())
    }

    fn __repr__(&self) -> String {
        format!(
            "Job(id={:?}, groups={})",
            self.job().id(),
            self.job().task_groups.len()
        )
    }
}
