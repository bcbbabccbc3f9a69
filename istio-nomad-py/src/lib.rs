//! `istio_nomad`: the Python binding of istio-nomad.
//!
//! A thin layer over `istio-nomad-core`: every function converts its arguments, calls the core
//! (with the GIL released for parsing, planning, rendering and file output) and converts the
//! result. Errors of the core become the exception of their family (see [`errors`]).
//!
//! The compiled module is `istio_nomad._istio_nomad`; the Python package `istio_nomad`
//! re-exports it and ships the type stubs.

mod convert;
mod errors;
mod install;
mod iptables;
mod job;
mod plan;
mod sidecar;
mod spec;
mod verify;

use pyo3::prelude::*;

/// The extension module.
#[pymodule]
fn _istio_nomad(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<spec::PyMeshSpec>()?;
    m.add_class::<job::PyJob>()?;
    m.add_class::<plan::PyPlan>()?;
    m.add_class::<plan::PyPlannedJob>()?;
    m.add_class::<plan::PyRulesFile>()?;
    m.add_class::<plan::PyVmBundle>()?;
    m.add_class::<iptables::PyInterceptConfig>()?;
    m.add_class::<iptables::PyIptablesPlan>()?;
    m.add_function(wrap_pyfunction!(plan::plan, m)?)?;
    m.add_class::<verify::PyFinding>()?;
    m.add_class::<verify::PyVerifyReport>()?;
    m.add_function(wrap_pyfunction!(verify::verify, m)?)?;
    m.add_function(wrap_pyfunction!(sidecar::inject, m)?)?;
    m.add_function(wrap_pyfunction!(sidecar::remove_sidecar, m)?)?;
    m.add_class::<install::PyInMemoryCluster>()?;
    m.add_function(wrap_pyfunction!(install::verify_live, m)?)?;
    m.add_function(wrap_pyfunction!(install::diff, m)?)?;
    m.add_function(wrap_pyfunction!(install::apply, m)?)?;
    m.add_function(wrap_pyfunction!(install::destroy, m)?)?;
    m.add("MeshError", py.get_type::<errors::MeshError>())?;
    m.add("SpecError", py.get_type::<errors::SpecError>())?;
    m.add("ValidationError", py.get_type::<errors::ValidationError>())?;
    m.add("IptablesError", py.get_type::<errors::IptablesError>())?;
    m.add("BackendError", py.get_type::<errors::BackendError>())?;
    m.add("ConflictError", py.get_type::<errors::ConflictError>())?;
    m.add("InstallError", py.get_type::<errors::InstallError>())?;
    m.add("EncodeError", py.get_type::<errors::EncodeError>())?;
    m.add("MeshIOError", errors::mesh_io_error(py)?)?;
    Ok(())
}
