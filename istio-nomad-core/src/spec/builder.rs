//! Building a [`MeshSpec`] in code: [`MeshSpec::builder`], [`ServiceSpec::new`],
//! [`PortSpec::new`] and [`VersionSpec::new`], each with the defaults a spec document gets
//! for the fields it leaves out.

use super::{
    default_cpu, default_datacenters, default_hub, default_istio_version, default_memory,
    default_namespace, default_protocol, default_region, one, Endpoint, EtcdEndpoints, MeshSpec,
    PortSpec, ServiceSpec, VersionSpec,
};
use crate::error::{Error, Result, ValidationErrors};
use crate::istio::IstioVersion;
use crate::spec::control_plane::ControlPlaneSpec;
use crate::spec::sidecar::{SidecarOptions, SidecarSpec};

/// A consuming builder of a [`MeshSpec`]; [`MeshSpecBuilder::build`] validates it with the
/// rules a spec document is checked against and reports every problem with its field path.
///
/// ```
/// use istio_nomad_core::spec::{MeshSpec, PortSpec, ServiceSpec};
///
/// let spec = MeshSpec::builder("bookinfo")
///     .datacenters(["dc1", "dc2"])
///     .istio_version("1.3.8")
///     .service(
///         ServiceSpec::new("details")
///             .image("docker.io/istio/examples-bookinfo-details-v1:1.8.0")
///             .port(PortSpec::new("http", 9080)),
///     )
///     .build()?;
/// assert_eq!(spec.services[0].ports[0].port, 9080);
/// assert_eq!(spec.region, "global");
///
/// let err = MeshSpec::builder("bookinfo")
///     .service(ServiceSpec::new("details").image("d:1").port(PortSpec::new("http", 70000)))
///     .build()
///     .unwrap_err();
/// assert_eq!(err.field_errors()[0].path, "mesh.service[details].port[http].port");
/// # Ok::<(), istio_nomad_core::Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct MeshSpecBuilder {
    spec: MeshSpec,
    invalid: ValidationErrors,
}

impl MeshSpec {
    /// A builder of a spec named `name` with every default of a spec document.
    pub fn builder(name: impl Into<String>) -> MeshSpecBuilder {
        MeshSpecBuilder {
            spec: MeshSpec {
                name: name.into(),
                region: default_region(),
                datacenters: default_datacenters(),
                namespace: default_namespace(),
                istio_version: default_istio_version(),
                hub: default_hub(),
                nomad: None,
                consul: None,
                etcd: None,
                control_plane: ControlPlaneSpec::default(),
                sidecar: SidecarSpec::default(),
                services: Vec::new(),
            },
            invalid: ValidationErrors::new(),
        }
    }

    /// The sidecar injection options this spec gives its apps (its `sidecar` block with the
    /// mesh's name, hub, Istio release and control-plane addresses); see
    /// [`SidecarSpec::options`].
    pub fn sidecar_options(&self) -> SidecarOptions {
        self.sidecar.options(self)
    }
}

impl MeshSpecBuilder {
    /// Nomad region of every job (default `global`).
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.spec.region = region.into();
        self
    }

    /// Datacenters every job may run in (default `["dc1"]`).
    pub fn datacenters<I, S>(mut self, dcs: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.spec.datacenters = dcs.into_iter().map(Into::into).collect();
        self
    }

    /// Nomad namespace of every job (default `default`).
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.spec.namespace = namespace.into();
        self
    }

    /// Istio release (1.0.x to 1.7.x); an unsupported or malformed release is reported by
    /// [`MeshSpecBuilder::build`] at `mesh.istio_version`.
    pub fn istio_version(mut self, version: impl AsRef<str>) -> Self {
        self.invalid.0.retain(|e| e.path != "mesh.istio_version");
        match IstioVersion::parse_at("mesh.istio_version", version.as_ref()) {
            Ok(v) => self.spec.istio_version = v,
            Err(Error::Validation(e)) => self.invalid.extend(e),
            Err(other) => {
                self.invalid
                    .add("mesh.istio_version", other.to_string(), version.as_ref());
            }
        }
        self
    }

    /// Image registry of the Istio images (default `docker.io/istio`).
    pub fn hub(mut self, hub: impl Into<String>) -> Self {
        self.spec.hub = hub.into();
        self
    }

    /// Nomad's address (`http://host:port`); the environment's `NOMAD_ADDR` applies otherwise.
    pub fn nomad_address(mut self, address: impl Into<String>) -> Self {
        self.spec.nomad = Some(Endpoint {
            address: address.into(),
        });
        self
    }

    /// Consul's address; the environment's `CONSUL_HTTP_ADDR` applies otherwise.
    pub fn consul_address(mut self, address: impl Into<String>) -> Self {
        self.spec.consul = Some(Endpoint {
            address: address.into(),
        });
        self
    }

    /// etcd endpoints for the installer's state (`http://host:port` URLs).
    pub fn etcd_endpoints<I, S>(mut self, endpoints: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.spec.etcd = Some(EtcdEndpoints {
            endpoints: endpoints.into_iter().map(Into::into).collect(),
        });
        self
    }

    /// Control-plane settings (default: [`ControlPlaneSpec::default`]).
    pub fn control_plane(mut self, control_plane: ControlPlaneSpec) -> Self {
        self.spec.control_plane = control_plane;
        self
    }

    /// How the apps get their sidecar (default: [`SidecarSpec::default`]).
    pub fn sidecar(mut self, sidecar: SidecarSpec) -> Self {
        self.spec.sidecar = sidecar;
        self
    }

    /// Adds a meshed service.
    pub fn service(mut self, service: ServiceSpec) -> Self {
        self.spec.services.push(service);
        self
    }

    /// Validates the spec (every rule of [`MeshSpec::validate_fields`], plus a bad Istio
    /// release) and returns it; all problems at once, each with its field path and value.
    pub fn build(self) -> Result<MeshSpec> {
        let mut errors = self.invalid;
        errors.extend(self.spec.validate_fields());
        errors.into_result()?;
        Ok(self.spec)
    }
}

impl ServiceSpec {
    /// A service named `name` with the defaults of a spec document: one instance, protocol
    /// `http`, 100 MHz and 128 MB, no ports, no versions. Set an image (or versions) and at
    /// least one port before building the mesh.
    #[must_use]
    pub fn new(name: impl Into<String>) -> ServiceSpec {
        ServiceSpec {
            name: name.into(),
            image: None,
            version: None,
            count: one(),
            protocol: default_protocol(),
            ports: Vec::new(),
            versions: Vec::new(),
            env: indexmap::IndexMap::new(),
            cpu: default_cpu(),
            memory: default_memory(),
            vm: false,
            vm_address: None,
        }
    }

    /// Container image (when the service has no versions).
    #[must_use]
    pub fn image(mut self, image: impl Into<String>) -> Self {
        self.image = Some(image.into());
        self
    }

    /// Version label of a service without versions (`version|v1` tag).
    #[must_use]
    pub fn version_label(mut self, version: impl Into<String>) -> Self {
        self.version = Some(version.into());
        self
    }

    /// Instances (per version).
    #[must_use]
    pub fn count(mut self, count: i64) -> Self {
        self.count = count;
        self
    }

    /// Protocol Pilot uses for the service (`http`, `http2`, `grpc`, `tcp`...).
    #[must_use]
    pub fn protocol(mut self, protocol: impl Into<String>) -> Self {
        self.protocol = protocol.into();
        self
    }

    /// Adds a port.
    #[must_use]
    pub fn port(mut self, port: PortSpec) -> Self {
        self.ports.push(port);
        self
    }

    /// Adds a version with its own image.
    #[must_use]
    pub fn version(mut self, version: VersionSpec) -> Self {
        self.versions.push(version);
        self
    }

    /// Sets an environment variable of the app task.
    #[must_use]
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.insert(key.into(), value.into());
        self
    }

    /// CPU (MHz) and memory (MB) of the app task.
    #[must_use]
    pub fn resources(mut self, cpu: i64, memory: i64) -> Self {
        self.cpu = cpu;
        self.memory = memory;
        self
    }

    /// Runs on a VM or bare-metal host at `address` (gets a VM bundle instead of a job).
    #[must_use]
    pub fn vm(mut self, address: impl Into<String>) -> Self {
        self.vm = true;
        self.vm_address = Some(address.into());
        self
    }
}

impl PortSpec {
    /// A port labeled `name` that the app listens on at `port`, with the service's protocol.
    #[must_use]
    pub fn new(name: impl Into<String>, port: i64) -> PortSpec {
        PortSpec {
            name: name.into(),
            port,
            protocol: None,
        }
    }

    /// A protocol of this port other than the service's.
    #[must_use]
    pub fn protocol(mut self, protocol: impl Into<String>) -> Self {
        self.protocol = Some(protocol.into());
        self
    }
}

impl VersionSpec {
    /// A version labeled `name` running `image`, with the service's count.
    #[must_use]
    pub fn new(name: impl Into<String>, image: impl Into<String>) -> VersionSpec {
        VersionSpec {
            name: name.into(),
            image: image.into(),
            count: None,
        }
    }

    /// Instances of this version.
    #[must_use]
    pub fn count(mut self, count: i64) -> Self {
        self.count = Some(count);
        self
    }
}
