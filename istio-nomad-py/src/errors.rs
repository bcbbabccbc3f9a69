//! The exception hierarchy: one class per error kind of the core (`ErrorKind`), chosen by an
//! exhaustive `match`.
//!
//! | family | class | extra attributes |
//! |---|---|---|
//! | parse | `SpecError` | `path`, `line`, `format` |
//! | validation | `ValidationError` | `errors`: list of `(path, message)` |
//! | iptables | `IptablesError` | |
//! | backend | `BackendError` | `status` (HTTP status or `None`), `service` (`nomad`, `consul`, `etcd` or `None`) |
//! | conflict | `ConflictError` | `kind` (`lock_held`, `lock_delay`, `lock_lost`, `state_changed`, `job_changed`, `changed_during_apply`), `subject` |
//! | install | `InstallError` | `job` (the job that failed) |
//! | io | `MeshIOError` (also an `OSError`) | `errno`, `filename`, `op` |
//! | encode | `EncodeError` | `what` |
//!
//! Every class derives from `MeshError`, which carries `family` (the core's family name).

use istio_nomad_core::error::{Error, ErrorKind, Format, ParseError};
use pyo3::exceptions::PyException;
use pyo3::exceptions::PyOSError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyTuple, PyType};
use pyo3::IntoPyObjectExt;
use pyo3::{create_exception, intern};

create_exception!(
    istio_nomad,
    MeshError,
    PyException,
    "Base class of every error raised by istio_nomad; `family` names the error family."
);
create_exception!(
    istio_nomad,
    SpecError,
    MeshError,
    "The input is not valid HCL/JSON, or a value has the wrong type (family `parse`)."
);
create_exception!(
    istio_nomad,
    ValidationError,
    MeshError,
    "The input parsed but breaks rules; `errors` lists every `(path, message)` (family `validation`)."
);
create_exception!(
    istio_nomad,
    IptablesError,
    MeshError,
    "An interception rule set could not be built, read or applied (family `iptables`)."
);
create_exception!(
    istio_nomad,
    BackendError,
    MeshError,
    "A Nomad, Consul or etcd call failed; `status` is the HTTP status when there was one (family `backend`)."
);
create_exception!(
    istio_nomad,
    InstallError,
    MeshError,
    "A job of an apply or destroy failed: deployment failed, deadline passed, host-mode collision; `job` names it (family `install`)."
);
create_exception!(
    istio_nomad,
    ConflictError,
    MeshError,
    "Another operator holds the mesh lock or changed the state first; `kind` says which (`lock_held`, `lock_delay`, `lock_lost`, `state_changed`, `job_changed`, `changed_during_apply`) and `subject` names the mesh, key or job (family `conflict`)."
);
create_exception!(
    istio_nomad,
    EncodeError,
    MeshError,
    "A value could not be written as JSON; `what` names it (family `encode`)."
);
static MESH_IO_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// `MeshIOError(MeshError, OSError)`: a local file could not be read or written (family `io`).
/// Made with `type()` because a class with two exception bases cannot be declared with
/// `create_exception!`.
pub fn mesh_io_error(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    MESH_IO_ERROR
        .get_or_try_init(py, || {
            let bases = PyTuple::new(py, [py.get_type::<MeshError>(), py.get_type::<PyOSError>()])?;
            let ns = PyDict::new(py);
            ns.set_item("__module__", "istio_nomad")?;
            ns.set_item(
                "__doc__",
                "A local file could not be read or written (family `io`); `errno`, `filename` \
                 and `op` say which and why.",
            )?;
            let ty = py
                .get_type::<PyType>()
                .call1(("MeshIOError", bases, ns))?
                .cast_into::<PyType>()?;
            Ok::<_, PyErr>(ty.unbind())
        })
        .map(|t| t.bind(py))
}

fn obj<'py, T: IntoPyObject<'py>>(py: Python<'py>, v: T) -> Py<PyAny> {
    v.into_py_any(py).unwrap_or_else(|_| py.None())
}

/// Sets the attributes every `MeshError` carries, then the family's own.
fn with_attrs(py: Python<'_>, err: PyErr, family: &str, attrs: &[(&str, Py<PyAny>)]) -> PyErr {
    let value = err.value(py);
    // Setting an attribute on a fresh exception instance cannot fail short of memory
    // exhaustion; the exception is still raised if it does.
    let _ = value.setattr(intern!(py, "family"), family);
    for (k, v) in attrs {
        let _ = value.setattr(*k, v);
    }
    err
}

fn format_name(format: Format) -> &'static str {
    match format {
        Format::Hcl => "hcl",
        Format::Json => "json",
        Format::Env => "env",
        Format::IptablesSave => "iptables-save",
        Format::Value => "python",
    }
}

/// The core's [`ErrorReport`](istio_nomad_core::ErrorReport) of an error as a Python `dict`
/// (through `json.loads`, so it is exactly the JSON the C ABI's `istio_nomad_error_json`
/// holds, without its `code` and `name`). `None` if it cannot be built.
fn report_of(py: Python<'_>, e: &Error) -> Py<PyAny> {
    let Ok(text) = serde_json::to_string(&e.report()) else {
        return py.None();
    };
    py.import("json")
        .and_then(|json| json.call_method1("loads", (text,)))
        .map_or_else(|_| py.None(), Bound::unbind)
}

/// A `SpecError` for a parse error of the core.
pub fn parse_error(py: Python<'_>, e: &ParseError) -> PyErr {
    let err = SpecError::new_err(e.to_string());
    let report = report_of(py, &Error::Parse(e.clone()));
    with_attrs(
        py,
        err,
        "parse",
        &[
            ("path", obj(py, e.path.clone())),
            ("line", obj(py, e.line)),
            ("format", obj(py, format_name(e.format))),
            ("kind", obj(py, e.kind.name())),
            ("report", report),
        ],
    )
}

/// A `SpecError` for a Python value that cannot be read as a document (a dict key that is
/// not a string, a set, a float that is not finite...), at `path`.
pub fn value_error(py: Python<'_>, path: &str, message: String) -> PyErr {
    let mut e = ParseError::new(Format::Value, message);
    if !path.is_empty() {
        e = e.at(path);
    }
    parse_error(py, &e)
}

/// The exception class of each error kind. No catch-all arm: a kind added to the core does
/// not compile until it has a class here.
fn class_of(py: Python<'_>, kind: ErrorKind) -> PyResult<Bound<'_, PyType>> {
    Ok(match kind {
        ErrorKind::Parse => py.get_type::<SpecError>(),
        ErrorKind::Validation => py.get_type::<ValidationError>(),
        ErrorKind::Iptables => py.get_type::<IptablesError>(),
        ErrorKind::Backend => py.get_type::<BackendError>(),
        ErrorKind::Conflict => py.get_type::<ConflictError>(),
        ErrorKind::Install => py.get_type::<InstallError>(),
        ErrorKind::Io => mesh_io_error(py)?.clone(),
        ErrorKind::Encode => py.get_type::<EncodeError>(),
    })
}

/// Converts an error of the core into the exception of its kind, with the kind's attributes.
pub fn to_py(py: Python<'_>, e: Error) -> PyErr {
    let kind = e.kind();
    let family = kind.as_str();
    let msg = e.to_string();
    let report = report_of(py, &e);
    let class = match class_of(py, kind) {
        Ok(c) => c,
        Err(err) => return err,
    };
    let err = match e {
        Error::Parse(p) => return parse_error(py, &p),
        Error::Validation(v) => {
            let pairs: Vec<(&str, &str)> = v
                .errors()
                .iter()
                .map(|f| (f.path.as_str(), f.message.as_str()))
                .collect();
            let errors = obj(py, PyList::new(py, pairs).ok());
            with_attrs(
                py,
                PyErr::from_type(class, (msg,)),
                family,
                &[("errors", errors)],
            )
        }
        Error::Backend(b) => with_attrs(
            py,
            PyErr::from_type(class, (msg,)),
            family,
            &[
                ("status", obj(py, b.status())),
                ("service", obj(py, b.service().map(|s| s.as_str()))),
            ],
        ),
        Error::Conflict(c) => with_attrs(
            py,
            PyErr::from_type(class, (msg,)),
            family,
            &[
                ("kind", obj(py, c.name())),
                ("subject", obj(py, c.subject())),
            ],
        ),
        Error::Install(i) => with_attrs(
            py,
            PyErr::from_type(class, (msg,)),
            family,
            &[("job", obj(py, i.job()))],
        ),
        Error::Io { op, path, source } => {
            let filename = path.to_string_lossy().into_owned();
            let strerror = format!("cannot {op}: {source}");
            // OSError's (errno, strerror, filename) form sets those attributes itself and
            // prints `[Errno 2] cannot read: No such file or directory: 'x.hcl'`.
            let err = match source.raw_os_error() {
                Some(n) => PyErr::from_type(class, (n, strerror, filename)),
                None => PyErr::from_type(class, (msg,)),
            };
            with_attrs(py, err, family, &[("op", obj(py, op))])
        }
        Error::Encode { what, .. } => with_attrs(
            py,
            PyErr::from_type(class, (msg,)),
            family,
            &[("what", obj(py, what))],
        ),
        // Kinds without attributes of their own (iptables); the class above is exhaustive.
        _ => with_attrs(py, PyErr::from_type(class, (msg,)), family, &[]),
    };
    with_attrs(py, err, family, &[("report", report)])
}

/// Extension to turn core results into Python results.
pub trait IntoPy<T> {
    /// The value, or the exception of the error's family.
    fn py_err(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> IntoPy<T> for Result<T, Error> {
    fn py_err(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| to_py(py, e))
    }
}
