//! `InterceptConfig` and `IptablesPlan`: Istio's interception rules, typed, rendered on demand.

use crate::convert::{given, mapping_to_value, to_py, to_value_at};
use crate::errors::{parse_error, value_error, IntoPy};
use istio_nomad_core::error::json::from_json_value;
use istio_nomad_core::iptables::{self, Family};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyMapping;
use serde_json::Value;
use std::path::PathBuf;

/// Every setting of Istio's traffic interception (`istio-iptables`), validated.
///
/// Keyword arguments left out (or `None`) keep Istio's defaults: proxy port 15001, inbound
/// capture port 15006, proxy uid 1337, REDIRECT mode, every inbound port and every outbound
/// destination captured. `inbound_ports` is `"all"`, `"none"` or a list of ports;
/// `outbound_cidrs` is `"all"`, `"none"` or a list of networks (`"10.0.0.0/8"`). A value of
/// the wrong shape or range raises `SpecError` naming `intercept.<field>`; a broken rule
/// (port 0, a reserved routing table...) raises `ValidationError`.
#[pyclass(module = "istio_nomad", name = "InterceptConfig", frozen)]
pub struct PyInterceptConfig {
    pub(crate) inner: iptables::InterceptConfig,
}

fn from_value(py: Python<'_>, value: Value) -> PyResult<iptables::InterceptConfig> {
    let config: iptables::InterceptConfig =
        from_json_value(value, "intercept").map_err(|e| parse_error(py, &e))?;
    py.detach(|| config.build()).py_err(py)
}

#[pymethods]
impl PyInterceptConfig {
    #[new]
    #[pyo3(signature = (
        *,
        proxy_port = None,
        inbound_capture_port = None,
        proxy_uids = None,
        proxy_gids = None,
        bypass_root = None,
        mode = None,
        inbound_ports = None,
        exclude_inbound_ports = None,
        outbound_cidrs = None,
        exclude_outbound_cidrs = None,
        exclude_outbound_ports = None,
        outbound_interfaces = None,
        tproxy_mark = None,
        tproxy_route_table = None,
        ipv6 = None,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        proxy_port: Option<i64>,
        inbound_capture_port: Option<i64>,
        proxy_uids: Option<Vec<i64>>,
        proxy_gids: Option<Vec<i64>>,
        bypass_root: Option<bool>,
        mode: Option<String>,
        inbound_ports: Option<&Bound<'_, PyAny>>,
        exclude_inbound_ports: Option<Vec<i64>>,
        outbound_cidrs: Option<&Bound<'_, PyAny>>,
        exclude_outbound_cidrs: Option<Vec<String>>,
        exclude_outbound_ports: Option<Vec<i64>>,
        outbound_interfaces: Option<Vec<String>>,
        tproxy_mark: Option<i64>,
        tproxy_route_table: Option<i64>,
        ipv6: Option<bool>,
    ) -> PyResult<Self> {
        let mut m = given([
            ("proxy_port", proxy_port.map(Value::from)),
            (
                "inbound_capture_port",
                inbound_capture_port.map(Value::from),
            ),
            ("proxy_uids", proxy_uids.map(Value::from)),
            ("proxy_gids", proxy_gids.map(Value::from)),
            ("bypass_root", bypass_root.map(Value::from)),
            ("mode", mode.map(Value::from)),
            (
                "exclude_inbound_ports",
                exclude_inbound_ports.map(Value::from),
            ),
            (
                "exclude_outbound_cidrs",
                exclude_outbound_cidrs.map(Value::from),
            ),
            (
                "exclude_outbound_ports",
                exclude_outbound_ports.map(Value::from),
            ),
            ("outbound_interfaces", outbound_interfaces.map(Value::from)),
            ("tproxy_mark", tproxy_mark.map(Value::from)),
            ("tproxy_route_table", tproxy_route_table.map(Value::from)),
            ("ipv6", ipv6.map(Value::from)),
        ]);
        if let Some(v) = inbound_ports {
            m.insert(
                "inbound_ports".into(),
                to_value_at(v, "intercept.inbound_ports")?,
            );
        }
        if let Some(v) = outbound_cidrs {
            m.insert(
                "outbound_cidrs".into(),
                to_value_at(v, "intercept.outbound_cidrs")?,
            );
        }
        let inner = from_value(py, Value::Object(m))?;
        Ok(Self { inner })
    }

    /// Reads istio-iptables style flags (`["-p", "15001", "-b", "9080", "--ipv6"]`), starting
    /// from the defaults. A bad flag or value raises `IptablesError`.
    #[staticmethod]
    fn from_flags(py: Python<'_>, flags: Vec<String>) -> PyResult<Self> {
        let inner = py
            .detach(|| iptables::InterceptConfig::from_flags(&flags))
            .py_err(py)?;
        Ok(Self { inner })
    }

    /// Reads the `ISTIO_*` variables of a mapping of environment variables (`os.environ`, a
    /// dict; other keys are ignored), starting from the defaults.
    #[staticmethod]
    fn from_env(py: Python<'_>, env: &Bound<'_, PyMapping>) -> PyResult<Self> {
        let env: Vec<(String, String)> = env.items()?.extract()?;
        let inner = py
            .detach(|| iptables::InterceptConfig::from_env_map(env))
            .py_err(py)?;
        Ok(Self { inner })
    }

    /// Reads `KEY=VALUE` env files in order (`cluster.env`, then `sidecar.env`): a later file
    /// overrides an earlier one.
    #[staticmethod]
    fn from_env_files(py: Python<'_>, paths: Vec<PathBuf>) -> PyResult<Self> {
        let paths: Vec<String> = paths
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        let inner = py
            .detach(|| {
                let refs: Vec<&str> = paths.iter().map(String::as_str).collect();
                iptables::InterceptConfig::from_env_files(&refs)
            })
            .py_err(py)?;
        Ok(Self { inner })
    }

    /// Builds a config from a dict with the field names of the keyword arguments (what
    /// `to_dict` returns); absent keys keep the defaults.
    #[staticmethod]
    fn from_dict(py: Python<'_>, d: &Bound<'_, PyAny>) -> PyResult<Self> {
        let value = mapping_to_value(d, "intercept", "an intercept config")?;
        Ok(Self {
            inner: from_value(py, value)?,
        })
    }

    /// Every setting as a dict (`inbound_ports`/`outbound_cidrs`: `"all"`, `"none"` or a list).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let value = serde_json::to_value(&self.inner)
            .map_err(|e| value_error(py, "intercept", e.to_string()))?;
        to_py(py, &value)
    }

    /// The interception rules of this config.
    fn plan(&self, py: Python<'_>) -> PyResult<PyIptablesPlan> {
        PyIptablesPlan::new(py, self)
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<PyInterceptConfig>()
            .is_ok_and(|o| o.get().inner == self.inner)
    }

    fn __repr__(&self) -> String {
        format!(
            "InterceptConfig(mode={:?}, proxy_port={}, inbound_capture_port={}, ipv6={})",
            self.inner.mode.to_string(),
            self.inner.proxy_port,
            self.inner.inbound_capture_port,
            if self.inner.ipv6 { "True" } else { "False" }
        )
    }
}

/// Istio's interception rules for one `InterceptConfig`, rendered on demand.
#[pyclass(module = "istio_nomad", name = "IptablesPlan", frozen)]
pub struct PyIptablesPlan {
    inner: iptables::IptablesPlan,
}

fn parse_family(name: &str) -> PyResult<Family> {
    match name {
        "ipv4" => Ok(Family::V4),
        "ipv6" => Ok(Family::V6),
        other => Err(PyValueError::new_err(format!(
            "family must be \"ipv4\" or \"ipv6\", not {other:?}"
        ))),
    }
}

#[pymethods]
impl PyIptablesPlan {
    /// Builds the rule set of `config`.
    #[new]
    fn new(py: Python<'_>, config: &PyInterceptConfig) -> PyResult<Self> {
        let inner = py
            .detach(|| iptables::IptablesPlan::new(&config.inner))
            .py_err(py)?;
        Ok(Self { inner })
    }

    /// The config the rules were built from.
    #[getter]
    fn config(&self) -> PyInterceptConfig {
        PyInterceptConfig {
            inner: self.inner.config().clone(),
        }
    }

    /// The address families the rules are installed for: `["ipv4"]` or `["ipv4", "ipv6"]`.
    #[getter]
    fn families(&self) -> Vec<&'static str> {
        self.inner
            .families()
            .map(|f| match f.family {
                Family::V4 => "ipv4",
                Family::V6 => "ipv6",
            })
            .collect()
    }

    /// `iptables-restore --noflush` input installing the rules of `family` (`"ipv4"` or
    /// `"ipv6"`); empty when the family is off.
    #[pyo3(signature = (family = "ipv4"))]
    fn restore(&self, family: &str) -> PyResult<String> {
        Ok(self.inner.render_restore(parse_family(family)?))
    }

    /// `iptables-restore --noflush` input removing what `restore(family)` installs.
    #[pyo3(signature = (family = "ipv4"))]
    fn cleanup(&self, family: &str) -> PyResult<String> {
        Ok(self.inner.render_cleanup_restore(parse_family(family)?))
    }

    /// A POSIX shell script with one command per step, every family, in Istio's order.
    fn shell(&self) -> String {
        self.inner.render_shell()
    }

    /// A POSIX shell script removing everything `shell()` installs, TPROXY routes included.
    fn cleanup_shell(&self) -> String {
        self.inner.render_cleanup_shell()
    }

    /// What an init task writes to its rules files: `{"ipv4": text, "ipv6": text or None,
    /// "ip_commands": [[arg, ...], ...]}`.
    fn rules_file<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let r = self.inner.rules_file();
        let value = serde_json::json!({
            "ipv4": r.v4,
            "ipv6": r.v6,
            "ip_commands": r.ip_commands,
        });
        to_py(py, &value)
    }

    fn __repr__(&self) -> String {
        format!("IptablesPlan(families={:?})", self.families())
    }
}
