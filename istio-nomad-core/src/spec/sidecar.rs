//! [`SidecarOptions`] (what [`crate::plan::sidecar::inject`] does) and [`SidecarSpec`] (the `sidecar { ... }`
//! block of a mesh spec that produces them).

use crate::error::{Error, Result, ValidationErrors};
use crate::iptables::InterceptConfig;
use crate::istio::{DiscoveryRule, IstioVersion, ReleaseFacts, PILOT_GRPC_PORT};
use serde::{Deserialize, Serialize};

/// Where the interception rules of a meshed group live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NetworkMode {
    /// The group's own network namespace (`network { mode = "bridge" }`, or
    /// `cni/<name>` with [`SidecarSpec::cni_network`]): the rules apply to one allocation, so
    /// any number of meshed groups can share a node. Every meshed service is registered at the
    /// allocation's address and the port the app listens on (`address_mode = "alloc"`), which
    /// is what Pilot needs to match the proxy to its instances and to build a listener on the
    /// port callers dial. The default.
    #[default]
    Bridge,
    /// The node's network namespace: the rules apply to the whole node, as in Istio's original
    /// Nomad instructions. Only one meshed group fits on a node; the injected group reserves the
    /// proxy's ports as static host ports, gets a `distinct_hosts` constraint and the group meta
    /// marker [`crate::plan::sidecar::meta::HOST_MODE`], so the scheduler and the installer can refuse a second.
    /// Services are registered at the node's address with a static port equal to the port the
    /// app listens on.
    Host,
}

/// Which groups [`crate::plan::sidecar::inject`] changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Selection {
    /// Every group that registers a service, except those whose meta sets
    /// `istio-nomad.inject = "false"`; a group without services is injected when its meta sets
    /// `istio-nomad.inject = "true"`. The default (like Kubernetes' injection annotation).
    #[default]
    WithServices,
    /// Only the groups whose meta sets `istio-nomad.inject = "true"`.
    OptIn,
}

/// The `sidecar { ... }` block of a mesh spec: how the plan's app jobs are injected.
///
/// ```hcl
/// sidecar {
///   mode            = "bridge"
///   readiness_gate  = true
///   zipkin_address  = "zipkin.service.consul:9411"
///   intercept {
///     exclude_inbound_ports = [9901]
///   }
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SidecarSpec {
    /// Inject the plan's app jobs (default true).
    pub enabled: bool,
    /// `bridge` (default) or `host`.
    pub mode: NetworkMode,
    /// In bridge mode, put meshed groups that have no network namespace of their own in the
    /// CNI network `cni/<name>` instead of Nomad's `bridge` (the network must give
    /// allocations addresses the other nodes can reach).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cni_network: Option<String>,
    /// The cluster routes Nomad's bridge addresses between nodes (each client has its own
    /// `bridge_network_subnet`, with routes to the others): `verify` then does not warn that
    /// allocation addresses are unreachable from other nodes.
    pub bridge_routable: bool,
    /// Proxy image; default `<hub>/<image>:<version>` with the release's image
    /// ([`crate::istio::ReleaseFacts::proxy_image`]: `proxy_debug` up to 1.3, then `proxyv2`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy_image: Option<String>,
    /// Image of the init task (needs `/bin/sh` and `iptables-restore`); default
    /// `<hub>/proxy_init:<version>` up to 1.5, `<hub>/proxyv2:<version>` from 1.6.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init_image: Option<String>,
    /// Image of the readiness gate (needs `/bin/sh`, `wget` and `date`).
    pub ready_image: String,
    /// Add the readiness gate task, so the app starts only once the proxy is ready.
    pub readiness_gate: bool,
    /// Seconds the readiness gate waits before it fails the allocation.
    pub ready_timeout: u32,
    /// `host:port` of Pilot's gRPC discovery service (ADS); default
    /// `<mesh>-pilot-grpc.service.consul:<pilot grpc port>` (15010).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pilot_address: Option<String>,
    /// `host:port` of Zipkin (`--zipkinAddress`, or `tracing.zipkin.address` from 1.6); in a
    /// mesh spec the mesh's Zipkin job (`<mesh>-zipkin.service.consul:9411`) when it runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zipkin_address: Option<String>,
    /// DNS servers of the meshed groups (`network { dns { servers } }`); in a mesh spec the
    /// control plane's `dns_servers` when empty. Empty: the client's resolver.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns_servers: Vec<String>,
    /// CPU of the proxy task in MHz.
    pub cpu: i64,
    /// Memory of the proxy task in MB.
    pub memory: i64,
    /// Also publish the Envoy admin port (15000) in the group network (off: it is unauthenticated).
    pub expose_admin: bool,
    /// Replace an existing Consul Connect `sidecar_service` instead of refusing the group.
    pub replace_connect: bool,
    /// The traffic interception settings applied in every meshed group.
    pub intercept: InterceptConfig,
}

impl Default for SidecarSpec {
    fn default() -> Self {
        SidecarSpec {
            enabled: true,
            mode: NetworkMode::Bridge,
            cni_network: None,
            bridge_routable: false,
            proxy_image: None,
            init_image: None,
            ready_image: DEFAULT_READY_IMAGE.into(),
            readiness_gate: true,
            ready_timeout: DEFAULT_READY_TIMEOUT,
            pilot_address: None,
            zipkin_address: None,
            dns_servers: Vec::new(),
            cpu: DEFAULT_PROXY_CPU,
            memory: DEFAULT_PROXY_MEMORY,
            expose_admin: false,
            replace_connect: false,
            intercept: InterceptConfig::default(),
        }
    }
}

/// Default image of the readiness gate.
pub const DEFAULT_READY_IMAGE: &str = "docker.io/library/busybox:1.36";
/// Default deadline of the readiness gate, in seconds.
pub const DEFAULT_READY_TIMEOUT: u32 = 120;
/// Default CPU of the proxy task (MHz).
pub const DEFAULT_PROXY_CPU: i64 = 100;
/// Default memory of the proxy task (MB).
pub const DEFAULT_PROXY_MEMORY: i64 = 128;
/// Port of Pilot's plaintext gRPC discovery service (ADS) that sidecars dial
/// ([`crate::istio::PILOT_GRPC_PORT`]; 15007 is Pilot's HTTP port, which serves no ADS).
pub const PILOT_DISCOVERY_PORT: u16 = PILOT_GRPC_PORT;

/// The DNS search domain of meshed groups: Consul's service domain, so that short names such as
/// Bookinfo's `http://reviews:9080` resolve through Consul DNS (Istio's Consul Bookinfo sets
/// `dns_search: [service.consul]` on every app, `samples/bookinfo/platform/consul/bookinfo.yaml`
/// at 1.0.6).
pub const CONSUL_SEARCH_DOMAIN: &str = "service.consul";

impl SidecarSpec {
    /// The injection options for a mesh: this block plus the mesh's name, hub and Istio version,
    /// and, where this block leaves them unset, the control plane's addresses: Pilot's gRPC
    /// service, the mesh's Zipkin and the control plane's DNS servers.
    pub fn options(&self, mesh: &crate::spec::MeshSpec) -> SidecarOptions {
        let mut spec = self.clone();
        let ep = crate::spec::control_plane::sidecar_endpoints(mesh);
        if spec.pilot_address.is_none() {
            spec.pilot_address = Some(ep.discovery_address);
        }
        if spec.zipkin_address.is_none() {
            spec.zipkin_address = ep.zipkin_address;
        }
        if spec.dns_servers.is_empty() {
            spec.dns_servers = ep.dns_servers;
        }
        SidecarOptions {
            mesh: mesh.name.clone(),
            hub: mesh.hub.clone(),
            istio_version: mesh.istio_version.clone(),
            spec,
            selection: Selection::WithServices,
            version: None,
            protocol: None,
            extra_bridge_drivers: Vec::new(),
            invalid: ValidationErrors::new(),
        }
    }
}

/// Everything [`crate::plan::sidecar::inject`] needs to know. Build with [`SidecarOptions::new`] and the
/// consuming setters, then [`SidecarOptions::build`] (which validates).
///
/// ```
/// use istio_nomad_core::plan::sidecar::{NetworkMode, SidecarOptions};
///
/// let opts = SidecarOptions::new("bookinfo")
///     .istio_version("1.0.3")
///     .zipkin_address("zipkin.service.consul:9411")
///     .mode(NetworkMode::Bridge)
///     .build()
///     .unwrap();
/// assert_eq!(opts.discovery_address(), "bookinfo-pilot-grpc.service.consul:15010");
/// assert_eq!(opts.effective_proxy_image(), "docker.io/istio/proxy_debug:1.0.3");
/// assert!(SidecarOptions::new("bookinfo").istio_version("1.8.0").build().is_err());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct SidecarOptions {
    /// Mesh name (Pilot's Consul service is `<mesh>-pilot` unless `pilot_address` is set).
    pub mesh: String,
    /// Registry of the Istio images.
    pub hub: String,
    /// Istio release of the images and flags (set it with [`SidecarOptions::istio_version`],
    /// which validates).
    pub istio_version: IstioVersion,
    /// The settings of the mesh spec's `sidecar` block.
    pub spec: SidecarSpec,
    /// Which groups are injected.
    pub selection: Selection,
    /// Version label added as a `version|<v>` tag to services that have none (group meta
    /// `istio-nomad.version` wins).
    pub version: Option<String>,
    /// Protocol added as the `protocol` service meta where missing (group meta
    /// `istio-nomad.protocol` wins).
    pub protocol: Option<String>,
    /// Drivers besides docker, podman, exec and java whose tasks can join a group network
    /// namespace.
    pub extra_bridge_drivers: Vec<String>,
    /// Problems found by the setters (an unsupported release), reported by
    /// [`SidecarOptions::validate`].
    invalid: ValidationErrors,
}

impl SidecarOptions {
    /// Defaults for a mesh: Istio 1.0.0 images from `docker.io/istio`, bridge mode, readiness
    /// gate on, Istio's interception defaults.
    pub fn new(mesh: impl Into<String>) -> Self {
        SidecarOptions {
            mesh: mesh.into(),
            hub: crate::istio::DEFAULT_HUB.into(),
            istio_version: IstioVersion::default(),
            spec: SidecarSpec::default(),
            selection: Selection::WithServices,
            version: None,
            protocol: None,
            extra_bridge_drivers: Vec::new(),
            invalid: ValidationErrors::new(),
        }
    }

    /// Sets the image registry.
    #[must_use]
    pub fn hub(mut self, hub: impl Into<String>) -> Self {
        self.hub = hub.into();
        self
    }

    /// Sets the Istio release (1.0.x to 1.7.x); an unsupported or malformed release is
    /// reported by [`SidecarOptions::build`] / [`SidecarOptions::validate`] at
    /// `sidecar.istio_version`.
    #[must_use]
    pub fn istio_version(mut self, v: impl AsRef<str>) -> Self {
        self.invalid.0.retain(|e| e.path != "sidecar.istio_version");
        match IstioVersion::parse_at("sidecar.istio_version", v.as_ref()) {
            Ok(v) => self.istio_version = v,
            Err(Error::Validation(e)) => self.invalid.extend(e),
            Err(other) => self
                .invalid
                .add("sidecar.istio_version", other.to_string(), v.as_ref()),
        }
        self
    }

    /// The facts of the chosen Istio release (see [`crate::istio::ReleaseFacts`]).
    pub fn facts(&self) -> &'static ReleaseFacts {
        self.istio_version.facts()
    }

    /// Sets the DNS servers of meshed groups.
    #[must_use]
    pub fn dns_servers<I, S>(mut self, servers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.spec.dns_servers = servers.into_iter().map(Into::into).collect();
        self
    }

    /// Sets bridge or host mode.
    #[must_use]
    pub fn mode(mut self, mode: NetworkMode) -> Self {
        self.spec.mode = mode;
        self
    }

    /// Puts meshed groups in the CNI network `cni/<name>` (bridge mode).
    #[must_use]
    pub fn cni_network(mut self, name: impl Into<String>) -> Self {
        self.spec.cni_network = Some(name.into());
        self
    }

    /// The network mode meshed groups get in bridge mode: `bridge`, or `cni/<name>`.
    pub fn group_network_mode(&self) -> String {
        match &self.spec.cni_network {
            Some(n) => format!("cni/{n}"),
            None => "bridge".into(),
        }
    }

    /// Sets the proxy image.
    #[must_use]
    pub fn proxy_image(mut self, image: impl Into<String>) -> Self {
        self.spec.proxy_image = Some(image.into());
        self
    }

    /// Sets the init task's image.
    #[must_use]
    pub fn init_image(mut self, image: impl Into<String>) -> Self {
        self.spec.init_image = Some(image.into());
        self
    }

    /// Turns the readiness gate on or off.
    #[must_use]
    pub fn readiness_gate(mut self, on: bool) -> Self {
        self.spec.readiness_gate = on;
        self
    }

    /// Sets Pilot's gRPC discovery address (`host:port`).
    #[must_use]
    pub fn pilot_address(mut self, addr: impl Into<String>) -> Self {
        self.spec.pilot_address = Some(addr.into());
        self
    }

    /// Sets Zipkin's address (`host:port`).
    #[must_use]
    pub fn zipkin_address(mut self, addr: impl Into<String>) -> Self {
        self.spec.zipkin_address = Some(addr.into());
        self
    }

    /// Replace existing Consul Connect sidecars instead of refusing them.
    #[must_use]
    pub fn replace_connect(mut self, yes: bool) -> Self {
        self.spec.replace_connect = yes;
        self
    }

    /// Sets the group selection.
    #[must_use]
    pub fn selection(mut self, s: Selection) -> Self {
        self.selection = s;
        self
    }

    /// Sets the version label for `version|<v>` tags.
    #[must_use]
    pub fn version(mut self, v: impl Into<String>) -> Self {
        self.version = Some(v.into());
        self
    }

    /// Sets the protocol written as service meta.
    #[must_use]
    pub fn protocol(mut self, p: impl Into<String>) -> Self {
        self.protocol = Some(p.into());
        self
    }

    /// Sets the interception settings.
    #[must_use]
    pub fn intercept(mut self, cfg: InterceptConfig) -> Self {
        self.spec.intercept = cfg;
        self
    }

    /// Sets the proxy's CPU (MHz) and memory (MB).
    #[must_use]
    pub fn resources(mut self, cpu: i64, memory: i64) -> Self {
        self.spec.cpu = cpu;
        self.spec.memory = memory;
        self
    }

    /// Validates and returns the options.
    pub fn build(self) -> Result<Self> {
        self.validate()?;
        Ok(self)
    }

    /// Checks every setting; all problems at once, each with its field path.
    pub fn validate(&self) -> Result<()> {
        let mut e = self.invalid.clone();
        let p = "sidecar";
        if !is_dns_name(&self.mesh) {
            e.add(
                "sidecar.mesh",
                "the mesh name must be 1-63 lowercase letters, digits or '-'",
                &self.mesh,
            );
        }
        crate::spec::image_rule(&mut e, &format!("{p}.hub"), &self.hub);
        crate::spec::image_rule(
            &mut e,
            &format!("{p}.proxy_image"),
            &self.effective_proxy_image(),
        );
        crate::spec::image_rule(
            &mut e,
            &format!("{p}.init_image"),
            &self.effective_init_image(),
        );
        crate::spec::image_rule(&mut e, &format!("{p}.ready_image"), &self.spec.ready_image);
        if let Some(a) = &self.spec.pilot_address {
            address_rule(&mut e, &format!("{p}.pilot_address"), a);
            let port = a
                .rsplit_once(':')
                .and_then(|(_, port)| port.parse::<u16>().ok());
            if self.facts().discovery == DiscoveryRule::HostOnlyPort15010
                && port.is_some_and(|port| port != PILOT_GRPC_PORT)
            {
                e.add(
                    format!("{p}.pilot_address"),
                    format!(
                        "Istio {}'s pilot-agent keeps only the host of the discovery address and dials ADS on port {PILOT_GRPC_PORT} (pkg/bootstrap/bootstrap_config.go), so Pilot's gRPC port must be {PILOT_GRPC_PORT}",
                        self.istio_version
                    ),
                    a,
                );
            }
        }
        for (i, d) in self.spec.dns_servers.iter().enumerate() {
            if d.parse::<std::net::IpAddr>().is_err() && !(d.starts_with("${") && d.ends_with('}'))
            {
                e.add(
                    format!("{p}.dns_servers[{i}]"),
                    "a DNS server must be an IP address or a Nomad ${...} attribute",
                    d,
                );
            }
        }
        if let Some(a) = &self.spec.zipkin_address {
            address_rule(&mut e, &format!("{p}.zipkin_address"), a);
        }
        if let Some(n) = &self.spec.cni_network {
            if !is_label_value(n) {
                e.add(
                    format!("{p}.cni_network"),
                    "a CNI network name may hold only letters, digits, '.', '_' and '-'",
                    n,
                );
            }
            if self.spec.mode == NetworkMode::Host {
                e.add(
                    format!("{p}.cni_network"),
                    "host mode keeps the node's network; a CNI network needs bridge mode",
                    n,
                );
            }
        }
        if self.spec.ready_timeout == 0 || self.spec.ready_timeout > 3600 {
            e.add(
                format!("{p}.ready_timeout"),
                "the readiness deadline must be 1 to 3600 seconds",
                self.spec.ready_timeout,
            );
        }
        if self.spec.cpu < 1 {
            e.add(
                format!("{p}.cpu"),
                "cpu must be at least 1 MHz",
                self.spec.cpu,
            );
        }
        if self.spec.memory < 10 {
            e.add(
                format!("{p}.memory"),
                "memory must be at least 10 MB",
                self.spec.memory,
            );
        }
        for (key, v) in [("version", &self.version), ("protocol", &self.protocol)] {
            if let Some(v) = v {
                if !is_label_value(v) {
                    e.add(
                        format!("{p}.{key}"),
                        "may hold only letters, digits, '.', '_' and '-'",
                        v,
                    );
                }
            }
        }
        for (i, d) in self.extra_bridge_drivers.iter().enumerate() {
            if !is_label_value(d) {
                e.add(
                    format!("{p}.extra_bridge_drivers[{i}]"),
                    "a driver name may hold only letters, digits, '.', '_' and '-'",
                    d,
                );
            }
        }
        let ic = &self.spec.intercept;
        if ic.mode == crate::iptables::InterceptionMode::Tproxy
            && !(ic.bypass_root || ic.proxy_uids.contains(&0))
        {
            e.add(
                format!("{p}.intercept.bypass_root"),
                "in TPROXY mode the proxy runs as root (it needs IP_TRANSPARENT), so root's traffic must bypass it",
                false,
            );
        }
        e.into_result()?;
        ic.validate()
    }

    /// Pilot's gRPC discovery address (ADS): the configured one, else
    /// `<mesh>-pilot-grpc.service.consul:15010`, the Consul service the Pilot job registers on
    /// its gRPC port.
    pub fn discovery_address(&self) -> String {
        self.spec.pilot_address.clone().unwrap_or_else(|| {
            format!(
                "{}:{PILOT_DISCOVERY_PORT}",
                crate::spec::control_plane::consul_dns(
                    &crate::spec::control_plane::pilot_grpc_service(&self.mesh)
                )
            )
        })
    }

    /// The proxy image: the configured one, else the release's
    /// ([`ReleaseFacts::proxy_image`]).
    pub fn effective_proxy_image(&self) -> String {
        if let Some(i) = &self.spec.proxy_image {
            return i.clone();
        }
        format!(
            "{}/{}:{}",
            self.hub,
            self.facts().proxy_image,
            self.istio_version
        )
    }

    /// The init task's image: the configured one, else the release's
    /// ([`ReleaseFacts::init_image`]).
    pub fn effective_init_image(&self) -> String {
        self.spec.init_image.clone().unwrap_or_else(|| {
            format!(
                "{}/{}:{}",
                self.hub,
                self.facts().init_image,
                self.istio_version
            )
        })
    }

    /// True when the proxy of this release has a status port (15020) and a Prometheus
    /// listener (15090): Istio 1.0.3 and later.
    pub fn has_status_port(&self) -> bool {
        self.istio_version.has_status_port()
    }
}

impl SidecarOptions {
    /// The interception settings for this Istio release. Releases before 1.3 have no inbound
    /// listener on 15006: their Envoy takes inbound traffic on the proxy port, so when the
    /// capture port is left at its 15006 default it becomes the proxy port (what
    /// `istio-iptables.sh` 1.0 does with `INBOUND_CAPTURE_PORT` unset).
    pub fn effective_intercept(&self) -> crate::iptables::InterceptConfig {
        let mut cfg = self.spec.intercept.clone();
        let before_1_3 = self.facts().inbound_capture_port.is_none();
        if before_1_3
            && cfg.inbound_capture_port
                == crate::iptables::InterceptConfig::default().inbound_capture_port
        {
            cfg.inbound_capture_port = cfg.proxy_port;
        }
        cfg
    }
}

/// DNS label: 1-63 lowercase letters, digits and '-', not starting or ending with '-'.
pub(crate) fn is_dns_name(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 63
        && v.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !v.starts_with('-')
        && !v.ends_with('-')
}

/// A name that goes into paths, arguments and Consul: letters, digits, '.', '_' and '-', not
/// starting with '-' or '.'.
pub(crate) fn is_label_value(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 128
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-')
        && !v.starts_with('-')
        && !v.starts_with('.')
}

/// `host:port` with a DNS name or IPv4 address and a port 1..=65535.
pub(crate) fn address_rule(e: &mut ValidationErrors, path: &str, v: &str) {
    let ok = v.rsplit_once(':').is_some_and(|(host, port)| {
        !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
            && !host.starts_with('-')
            && port.parse::<u16>().is_ok_and(|p| p > 0)
    });
    if !ok {
        e.add(
            path,
            "expected host:port (a DNS name or IPv4 address and a port 1-65535)",
            v,
        );
    }
}

/// Injection options as data: the JSON the C ABI takes and what the Python keywords and the
/// command line's flags fill in, read into [`SidecarOptions`] by [`InjectSettings::to_options`].
///
/// ```json
/// {"mesh": "bookinfo", "hub": "docker.io/istio", "istio_version": "1.3.8",
///  "selection": "with_services", "version": "v1", "protocol": "http",
///  "extra_bridge_drivers": [], "sidecar": {"mode": "bridge", "readiness_gate": true}}
/// ```
///
/// Only `mesh` is required; `sidecar` holds the fields of a spec's `sidecar { ... }` block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InjectSettings {
    /// The mesh's name (Pilot is found at `<mesh>-pilot-grpc.service.consul`).
    pub mesh: String,
    /// Image registry of the Istio images ([`crate::istio::DEFAULT_HUB`] when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hub: Option<String>,
    /// Istio release ([`crate::istio::DEFAULT_VERSION`] when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub istio_version: Option<String>,
    /// Which groups are meshed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selection: Option<Selection>,
    /// The `version` label of the proxies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The protocol Pilot is told for the meshed services.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// Task drivers besides the built-in ones whose tasks join the group's bridge network.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_bridge_drivers: Vec<String>,
    /// The sidecar settings (a spec's `sidecar { ... }` block).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sidecar: Option<SidecarSpec>,
}

impl InjectSettings {
    /// Settings for the mesh `mesh`, everything else at its default.
    pub fn new(mesh: impl Into<String>) -> Self {
        InjectSettings {
            mesh: mesh.into(),
            hub: None,
            istio_version: None,
            selection: None,
            version: None,
            protocol: None,
            extra_bridge_drivers: Vec::new(),
            sidecar: None,
        }
    }

    /// The checked [`SidecarOptions`] ([`SidecarOptions::build`]).
    pub fn to_options(&self) -> Result<SidecarOptions> {
        let mut opts = SidecarOptions::new(self.mesh.clone());
        if let Some(spec) = &self.sidecar {
            opts.spec = spec.clone();
        }
        if let Some(hub) = &self.hub {
            opts = opts.hub(hub.clone());
        }
        if let Some(v) = &self.istio_version {
            opts = opts.istio_version(v);
        }
        if let Some(s) = &self.selection {
            opts = opts.selection(*s);
        }
        if let Some(v) = &self.version {
            opts = opts.version(v.clone());
        }
        if let Some(p) = &self.protocol {
            opts = opts.protocol(p.clone());
        }
        opts.extra_bridge_drivers = self.extra_bridge_drivers.clone();
        opts.build()
    }
}
