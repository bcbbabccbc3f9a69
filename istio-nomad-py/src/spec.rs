//! `MeshSpec`: the mesh description, parsed and validated once.

use crate::convert::{as_text, mapping_to_value, to_py};
use crate::errors::IntoPy;
use istio_nomad_core::{spec, Error};
use pyo3::prelude::*;
use pyo3::types::PyString;
use std::path::PathBuf;

/// A validated mesh description. Build it with `from_hcl`, `from_json`, `from_dict` or
/// `from_file`; every problem raises `SpecError` (syntax, wrong types) or `ValidationError`
/// (broken rules, each with its field path).
#[pyclass(module = "istio_nomad", name = "MeshSpec", frozen)]
pub struct PyMeshSpec {
    pub(crate) inner: spec::MeshSpec,
}

#[pymethods]
impl PyMeshSpec {
    /// Parses and validates an HCL mesh spec (`mesh "name" { ... }`).
    #[staticmethod]
    fn from_hcl(py: Python<'_>, text: &Bound<'_, PyString>) -> PyResult<Self> {
        let s = as_text(py, text)?;
        let inner = py.detach(|| spec::MeshSpec::from_hcl(&s)).py_err(py)?;
        Ok(Self { inner })
    }

    /// Parses and validates a JSON mesh spec (`{"mesh": {...}}` or the bare mesh object).
    #[staticmethod]
    fn from_json(py: Python<'_>, text: &Bound<'_, PyString>) -> PyResult<Self> {
        let s = as_text(py, text)?;
        let inner = py.detach(|| spec::MeshSpec::from_json(&s)).py_err(py)?;
        Ok(Self { inner })
    }

    /// Builds and validates a spec from the dict of the mesh object (what `to_dict` returns).
    #[staticmethod]
    fn from_dict(py: Python<'_>, d: &Bound<'_, PyAny>) -> PyResult<Self> {
        let value = mapping_to_value(d, "mesh", "a mesh spec")?;
        let inner = py
            .detach(|| spec::MeshSpec::from_value(value).map_err(Error::as_data))
            .py_err(py)?;
        Ok(Self { inner })
    }

    /// Reads a spec file (`str` or `os.PathLike`): JSON when the name ends in `.json`, else HCL.
    #[staticmethod]
    fn from_file(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let inner = py.detach(|| spec::MeshSpec::from_file(&path)).py_err(py)?;
        Ok(Self { inner })
    }

    /// The spec as a dict of the mesh object, defaults filled in.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.inner.to_value())
    }

    /// The mesh name.
    #[getter]
    fn name(&self) -> &str {
        &self.inner.name
    }

    /// The names of the meshed services, in spec order.
    #[getter]
    fn services(&self) -> Vec<String> {
        self.inner.services.iter().map(|s| s.name.clone()).collect()
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<PyMeshSpec>()
            .is_ok_and(|o| o.get().inner == self.inner)
    }

    fn __repr__(&self) -> String {
        format!(
            "MeshSpec(name={:?}, services={})",
            self.inner.name,
            self.inner.services.len()
        )
    }
}
