//! The three servers an installer talks to: from the environment, from the spec's addresses,
//! or (with the `test-util` feature) an in-memory cluster.

use std::fmt;
use std::sync::Arc;

use crate::backend::{
    Consul, ConsulConfig, Etcd, EtcdConfig, HttpConsul, HttpEtcd, HttpNomad, Nomad, NomadConfig,
};
use crate::error::Result;
use crate::spec::MeshSpec;

/// Where a [`Backends`] talks to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendSource {
    /// An in-memory cluster (no servers; feature `test-util`).
    InMemory,
    /// HTTP servers.
    Remote {
        /// Nomad address.
        nomad: String,
        /// Consul address.
        consul: String,
        /// etcd endpoints.
        etcd: Vec<String>,
    },
    /// Implementations given by the caller.
    Custom,
}

impl fmt::Display for BackendSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BackendSource::InMemory => f.write_str("an in-memory cluster"),
            BackendSource::Remote {
                nomad,
                consul,
                etcd,
            } => write!(
                f,
                "Nomad at {nomad}, Consul at {consul}, etcd at {}",
                etcd.join(",")
            ),
            BackendSource::Custom => f.write_str("caller-provided backends"),
        }
    }
}

/// Nomad, Consul and etcd clients, as trait objects.
#[derive(Clone)]
pub struct Backends {
    /// Nomad.
    pub nomad: Arc<dyn Nomad>,
    /// Consul.
    pub consul: Arc<dyn Consul>,
    /// etcd.
    pub etcd: Arc<dyn Etcd>,
    /// Where they talk to.
    pub source: BackendSource,
}

impl fmt::Debug for Backends {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Backends")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// The environment variables that select real servers.
pub const ADDRESS_VARIABLES: [&str; 3] = ["NOMAD_ADDR", "CONSUL_HTTP_ADDR", "ETCDCTL_ENDPOINTS"];

impl Backends {
    /// Caller-provided implementations.
    pub fn new(nomad: Arc<dyn Nomad>, consul: Arc<dyn Consul>, etcd: Arc<dyn Etcd>) -> Self {
        Backends {
            nomad,
            consul,
            etcd,
            source: BackendSource::Custom,
        }
    }

    /// HTTP clients configured from the standard environment (`NOMAD_ADDR`, `NOMAD_TOKEN`,
    /// `CONSUL_HTTP_ADDR`, `CONSUL_HTTP_TOKEN`, `ETCDCTL_ENDPOINTS`, ...); unset addresses
    /// take the tools' defaults.
    pub fn from_env() -> Result<Self> {
        Self::remote(&|k: &str| std::env::var(k).ok())
    }

    /// The backends for `spec`: its `nomad`, `consul` and `etcd` addresses (which win over
    /// the environment) with the rest of the configuration from the environment; the spec's
    /// namespace and region when `NOMAD_NAMESPACE` / `NOMAD_REGION` are unset. When neither
    /// the spec nor the environment names any server (see [`ADDRESS_VARIABLES`]): with the
    /// `test-util` feature a fresh in-memory cluster, without it a validation error at
    /// `mesh.nomad` that says which variables or spec blocks name the servers.
    pub fn for_spec(spec: &MeshSpec) -> Result<Self> {
        Self::for_spec_with(spec, |k| std::env::var(k).ok())
    }

    /// [`Backends::for_spec`] reading the environment through `lookup`.
    pub fn for_spec_with(spec: &MeshSpec, lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let env = |k: &str| lookup(k).filter(|v| !v.trim().is_empty());
        let any_env = ADDRESS_VARIABLES.iter().any(|k| env(k).is_some());
        let any_spec = spec.nomad.is_some() || spec.consul.is_some() || spec.etcd.is_some();
        if !any_env && !any_spec {
            #[cfg(feature = "test-util")]
            return Ok(super::InMemoryCluster::new().backends_in(&spec.namespace));
            #[cfg(not(feature = "test-util"))]
            return Err(crate::Error::field(
                "mesh.nomad",
                format!(
                    "no servers named: set {} or the spec's nomad, consul and etcd blocks \
                     (an in-memory cluster needs the test-util feature)",
                    ADDRESS_VARIABLES.join(", ")
                ),
                "",
            ));
        }
        let merged = |k: &str| -> Option<String> {
            match k {
                "NOMAD_ADDR" => spec
                    .nomad
                    .as_ref()
                    .map(|e| e.address.clone())
                    .or_else(|| env(k)),
                "CONSUL_HTTP_ADDR" => spec
                    .consul
                    .as_ref()
                    .map(|e| e.address.clone())
                    .or_else(|| env(k)),
                "ETCDCTL_ENDPOINTS" => spec
                    .etcd
                    .as_ref()
                    .map(|e| e.endpoints.join(","))
                    .or_else(|| env(k)),
                "NOMAD_NAMESPACE" => env(k).or_else(|| Some(spec.namespace.clone())),
                "NOMAD_REGION" => env(k).or_else(|| Some(spec.region.clone())),
                _ => env(k),
            }
        };
        Self::remote(&merged)
    }

    fn remote(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self> {
        let nomad_cfg = NomadConfig::from_env_with(lookup)?;
        let consul_cfg = ConsulConfig::from_env_with(lookup)?;
        let etcd_cfg = EtcdConfig::from_env_with(lookup)?;
        let nomad = HttpNomad::new(&nomad_cfg)?;
        let consul = HttpConsul::new(&consul_cfg)?;
        let etcd = HttpEtcd::new(&etcd_cfg)?;
        let or_default = |k: &str, d: &str| {
            lookup(k)
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| d.to_owned())
        };
        let source = BackendSource::Remote {
            nomad: or_default("NOMAD_ADDR", "http://127.0.0.1:4646"),
            consul: or_default("CONSUL_HTTP_ADDR", "127.0.0.1:8500"),
            etcd: etcd
                .endpoints()
                .iter()
                .map(|u| u.as_str().trim_end_matches('/').to_owned())
                .collect(),
        };
        Ok(Backends {
            nomad: Arc::new(nomad),
            consul: Arc::new(consul),
            etcd: Arc::new(etcd),
            source,
        })
    }

    /// True when these talk to an in-memory cluster.
    pub fn is_in_memory(&self) -> bool {
        self.source == BackendSource::InMemory
    }
}
