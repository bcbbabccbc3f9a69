//! The control plane's settings: the `control_plane { ... }` section of a mesh spec
//! ([`ControlPlaneSpec`]), its profiles and per-component defaults, their validation, the
//! component [`Role`]s, and the addresses derived from them ([`SidecarEndpoints`]).
//! The jobs built from them are in [`crate::plan::control_plane`].

use super::MeshSpec;
use crate::error::{Error, Result, ValidationErrors};
use crate::istio::{DiscoveryRule, IstioVersion, PILOT_GRPC_PORT};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// What a job does in the mesh; the installer orders and gates on it.
///
/// Each role has one name ([`Role::as_str`]): the `istio-nomad.role` job meta, the suffix of a
/// control-plane job ID (`<mesh>-apiserver`), the serde form (plans, reports and state records),
/// and what the command line and the bindings print.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The etcd cluster that stores the Istio API server's data.
    Etcd,
    /// The Istio API server (kube-apiserver); named `apiserver`.
    #[serde(alias = "api-server")]
    ApiServer,
    /// Pilot (service discovery and proxy configuration).
    Pilot,
    /// Mixer (policy and telemetry).
    Mixer,
    /// Citadel (certificates).
    Citadel,
    /// Zipkin (tracing).
    Zipkin,
    /// A meshed application.
    App,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 7] = [
        Role::Etcd,
        Role::ApiServer,
        Role::Pilot,
        Role::Mixer,
        Role::Citadel,
        Role::Zipkin,
        Role::App,
    ];

    /// The role's one name: `etcd`, `apiserver`, `pilot`, `mixer`, `citadel`, `zipkin`, `app`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Etcd => "etcd",
            Role::ApiServer => "apiserver",
            Role::Pilot => "pilot",
            Role::Mixer => "mixer",
            Role::Citadel => "citadel",
            Role::Zipkin => "zipkin",
            Role::App => "app",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = Error;

    /// Reads a role name; `api-server`, an earlier spelling kept in existing state records,
    /// reads as [`Role::ApiServer`].
    fn from_str(s: &str) -> Result<Role> {
        if s == "api-server" {
            return Ok(Role::ApiServer);
        }
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                let mut errs = crate::error::ValidationErrors::new();
                errs.push(
                    crate::error::FieldError::new(
                        "role",
                        format!(
                            "unknown role (one of {})",
                            Role::ALL.map(Role::as_str).join(", ")
                        ),
                    )
                    .value(s),
                );
                errs.into()
            })
    }
}

/// A control-plane profile.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// Highly available and secure: 3-member etcd, 2 replicas, TLS, spread, `distinct_hosts`.
    #[default]
    Ha,
    /// The settings of Istio's Consul docker-compose file: single etcd, insecure API server.
    Dev,
}

impl Profile {
    /// `ha` or `dev`.
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Ha => "ha",
            Profile::Dev => "dev",
        }
    }
}

/// A placement constraint of one component (`constraints = [{ attribute = ..., ... }]`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConstraintSpec {
    /// Node attribute (`${attr.kernel.name}`); empty for `distinct_hosts`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attribute: Option<String>,
    /// Nomad constraint operator (default `=`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
    /// Right-hand value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

macro_rules! component_spec {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* pub $f:ident : $t:ty, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct $name {
            /// Container image (the profile's default when unset).
            #[serde(skip_serializing_if = "Option::is_none")]
            pub image: Option<String>,
            /// Extra arguments, appended after the generated ones.
            #[serde(skip_serializing_if = "Vec::is_empty")]
            pub args: Vec<String>,
            /// Extra environment variables of the task.
            #[serde(skip_serializing_if = "IndexMap::is_empty")]
            pub env: IndexMap<String, String>,
            /// CPU in MHz.
            #[serde(skip_serializing_if = "Option::is_none")]
            pub cpu: Option<i64>,
            /// Memory in MB.
            #[serde(skip_serializing_if = "Option::is_none")]
            pub memory: Option<i64>,
            /// Extra placement constraints.
            #[serde(skip_serializing_if = "Vec::is_empty")]
            pub constraints: Vec<ConstraintSpec>,
            /// Datacenters (the mesh's when empty).
            #[serde(skip_serializing_if = "Vec::is_empty")]
            pub datacenters: Vec<String>,
            /// Nomad namespace (the mesh's when unset).
            #[serde(skip_serializing_if = "Option::is_none")]
            pub namespace: Option<String>,
            $( $(#[$fmeta])* pub $f: $t, )*
        }
    };
}

component_spec! {
    /// etcd settings (`etcd { ... }`).
    pub struct EtcdSpec {
        /// Cluster members: 1, 3, 5 or 7 (`ha`: 3, `dev`: 1).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub members: Option<i64>,
        /// Static client port (2379).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub client_port: Option<i64>,
        /// Static peer port (2380).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub peer_port: Option<i64>,
        /// `--initial-cluster-token` (`<mesh>-etcd`).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub cluster_token: Option<String>,
        /// Where the data dir lives.
        pub storage: EtcdStorageSpec,
    }
}

/// Where etcd keeps its data (see the module documentation for the trade-off).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EtcdStorageSpec {
    /// `ephemeral_disk` (default) or `host_volume`.
    #[serde(rename = "type")]
    pub kind: EtcdStorage,
    /// Host volume name (`etcd-data`), for `host_volume`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume: Option<String>,
    /// Ephemeral disk size in MB (1024), for `ephemeral_disk`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<i64>,
}

/// The kind of etcd storage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EtcdStorage {
    /// A sticky, migrating ephemeral disk; data in `${NOMAD_ALLOC_DIR}/data`.
    #[default]
    EphemeralDisk,
    /// A Nomad host volume mounted at `/var/lib/etcd`.
    HostVolume,
}

component_spec! {
    /// Istio API server settings (`apiserver { ... }`).
    pub struct ApiServerSpec {
        /// Replicas (`ha`: 2, `dev`: 1).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub count: Option<i64>,
        /// `--service-cluster-ip-range` (10.99.0.0/16).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub service_cluster_ip_range: Option<String>,
        /// Static port: the TLS port (6443) or, in `dev`, the insecure port (8080).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub port: Option<i64>,
        /// TLS settings.
        pub tls: TlsSpec,
    }
}

/// TLS of the API server and the client certificates of Pilot, Mixer and Citadel.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsSpec {
    /// TLS on the secure port (`ha`: always; `dev`: off, the compose file's insecure port).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Where certificates come from: `vault` (default) or `file`.
    pub source: TlsSource,
    /// Vault PKI issue endpoint (`pki/issue/istio-nomad`), for `vault`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vault_pki_path: Option<String>,
    /// Vault policies of the tasks (`["istio-nomad-pki"]`), for `vault` without a role.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vault_policies: Vec<String>,
    /// Vault role (workload identity), for `vault`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vault_role: Option<String>,
    /// Certificate TTL requested from Vault (`72h`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl: Option<String>,
    /// CA certificate on the client host, for `file`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    /// API server certificate on the client host, for `file`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert_file: Option<String>,
    /// API server key on the client host, for `file`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_file: Option<String>,
    /// Client certificate of Pilot, Mixer and Citadel, for `file`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_cert_file: Option<String>,
    /// Client key of Pilot, Mixer and Citadel, for `file`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_key_file: Option<String>,
}

/// Where TLS certificates come from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsSource {
    /// Issued by Vault's PKI engine through Nomad templates (`secret "pki/issue/..."`).
    #[default]
    Vault,
    /// Files on the client host, copied by Nomad templates (`source = "/path"`; the client needs
    /// `template { disable_file_sandbox = true }`).
    File,
}

component_spec! {
    /// Pilot settings (`pilot { ... }`).
    pub struct PilotSpec {
        /// Replicas (`ha`: 2, `dev`: 1).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub count: Option<i64>,
        /// Static host port of the HTTP xDS / debug listener (`ha`: 15007, `dev`: 8081 -> 15007).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub http_port: Option<i64>,
        /// Static host port of the gRPC xDS listener (15010).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub grpc_port: Option<i64>,
    }
}

component_spec! {
    /// Mixer settings (`mixer { ... }`).
    pub struct MixerSpec {
        /// Run Mixer (`ha`: yes; `dev`: no, as the compose file).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub enabled: Option<bool>,
        /// Replicas (`ha`: 2, `dev`: 1).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub count: Option<i64>,
        /// Static gRPC port (9091).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub grpc_port: Option<i64>,
        /// `--configDefaultNamespace` (`istio-system`).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub config_namespace: Option<String>,
    }
}

component_spec! {
    /// Citadel settings (`citadel { ... }`).
    pub struct CitadelSpec {
        /// Run Citadel (`ha`: yes; `dev`: no, as the compose file).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub enabled: Option<bool>,
        /// Replicas (`ha`: 2, `dev`: 1).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub count: Option<i64>,
        /// Static gRPC port (8060).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub grpc_port: Option<i64>,
        /// `--citadel-storage-namespace` (`default`, which exists in a fresh API server).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub storage_namespace: Option<String>,
    }
}

component_spec! {
    /// Zipkin settings (`zipkin { ... }`).
    pub struct ZipkinSpec {
        /// Run Zipkin (default yes, as the compose file).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub enabled: Option<bool>,
        /// Replicas (1: Zipkin's default storage is in memory, per instance).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub count: Option<i64>,
        /// Static port (9411).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub port: Option<i64>,
    }
}

/// Control-plane settings of a mesh spec (`control_plane { ... }`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ControlPlaneSpec {
    /// `ha` (default) or `dev`.
    pub profile: Profile,
    /// Consul HTTP address Pilot reads the catalog from (default `http://127.0.0.1:8500`: the
    /// node's Consul agent at its default client address, which Pilot reaches by sharing the
    /// node's network). A loopback address puts the Pilot container in the node's network
    /// (`network_mode = "host"`, listening directly on its static ports); any other address
    /// (`http://${attr.unique.network.ip-address}:8500` when the agents set
    /// `client_addr` to the node's address) keeps Pilot in its own container network.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consul_url: Option<String>,
    /// DNS servers of the control-plane containers (Docker `dns_servers`): resolvers that
    /// answer `.consul` names. Empty: the host's resolver.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns_servers: Vec<String>,
    /// etcd.
    pub etcd: EtcdSpec,
    /// The Istio API server.
    pub apiserver: ApiServerSpec,
    /// Pilot.
    pub pilot: PilotSpec,
    /// Mixer.
    pub mixer: MixerSpec,
    /// Citadel.
    pub citadel: CitadelSpec,
    /// Zipkin.
    pub zipkin: ZipkinSpec,
}

/// The mesh-wide values a control-plane job needs besides its own settings.
#[derive(Debug, Clone, PartialEq)]
pub struct MeshContext {
    /// Mesh name (job ID prefix).
    pub name: String,
    /// Nomad region.
    pub region: String,
    /// Default datacenters.
    pub datacenters: Vec<String>,
    /// Default Nomad namespace.
    pub namespace: String,
    /// Istio image registry.
    pub hub: String,
    /// Istio release (1.0.x to 1.7.x).
    pub istio_version: IstioVersion,
}

impl MeshContext {
    /// The defaults of a mesh spec for a mesh with this name.
    pub fn new(name: impl Into<String>) -> Self {
        MeshContext {
            name: name.into(),
            region: "global".into(),
            datacenters: vec!["dc1".into()],
            namespace: "default".into(),
            hub: crate::istio::DEFAULT_HUB.into(),
            istio_version: IstioVersion::default(),
        }
    }

    /// The values of a mesh spec.
    pub fn from_mesh(spec: &MeshSpec) -> Self {
        MeshContext {
            name: spec.name.clone(),
            region: spec.region.clone(),
            datacenters: spec.datacenters.clone(),
            namespace: spec.namespace.clone(),
            hub: spec.hub.clone(),
            istio_version: spec.istio_version.clone(),
        }
    }
}

/// Job ID of a component: `<mesh>-etcd`, `<mesh>-apiserver`, `<mesh>-pilot`, ...
pub fn job_id(mesh: &str, role: Role) -> String {
    format!("{mesh}-{}", role.as_str())
}

/// One component's settings with the profile's defaults filled in.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Resolved {
    pub enabled: bool,
    pub image: String,
    pub args: Vec<String>,
    pub env: IndexMap<String, String>,
    pub cpu: i64,
    pub memory: i64,
    pub count: i64,
    pub constraints: Vec<ConstraintSpec>,
    pub datacenters: Vec<String>,
    pub namespace: String,
}

/// The whole control plane with defaults filled in.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ResolvedControlPlane {
    pub profile: Profile,
    pub consul_url: String,
    pub dns_servers: Vec<String>,
    pub etcd: Resolved,
    pub etcd_client_port: i64,
    pub etcd_peer_port: i64,
    pub etcd_token: String,
    pub etcd_storage: EtcdStorage,
    pub etcd_volume: String,
    pub etcd_disk_mb: i64,
    pub apiserver: Resolved,
    pub apiserver_port: i64,
    pub service_cidr: String,
    pub tls: Option<TlsSpec>,
    pub pilot: Resolved,
    pub pilot_http_port: i64,
    pub pilot_grpc_port: i64,
    pub mixer: Resolved,
    pub mixer_grpc_port: i64,
    pub mixer_config_namespace: String,
    pub citadel: Resolved,
    pub citadel_grpc_port: i64,
    pub citadel_storage_namespace: String,
    pub zipkin: Resolved,
    pub zipkin_port: i64,
}

/// Default images of the `dev` profile: the compose file's.
pub mod images {
    /// etcd in Istio's Consul compose file.
    pub const DEV_ETCD: &str = "quay.io/coreos/etcd:latest";
    /// etcd of the `ha` profile (the 3.4 release line whose flags the jobs use).
    pub const HA_ETCD: &str = "quay.io/coreos/etcd:v3.4.23";
    /// The API server in Istio's Consul compose file (holds the Istio config CRDs).
    pub const APISERVER: &str = "gcr.io/google_containers/kube-apiserver-amd64:v1.7.3";
    /// Zipkin in Istio's Consul compose file.
    pub const ZIPKIN: &str = "docker.io/openzipkin/zipkin:2.7";
}

/// The legacy etcd client port the compose file published (4001), in the `dev` profile.
pub(crate) const DEV_LEGACY_PORT: i64 = 4001;

/// The seed's service cluster IP range.
pub const DEFAULT_SERVICE_CIDR: &str = "10.99.0.0/16";

/// Pilot's default Consul address: the node's agent at Consul's default client address
/// (`client_addr` defaults to 127.0.0.1, so the HTTP API listens on loopback only; Consul's
/// `agent/config/default.go`, `client_addr = "127.0.0.1"`).
pub const DEFAULT_CONSUL_URL: &str = "http://127.0.0.1:8500";

/// True when a URL's host is a loopback address (`127.x.x.x`, `localhost`, `[::1]`): Pilot can
/// reach it only from the node's own network namespace.
pub(crate) fn is_loopback_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .unwrap_or(url);
    let authority = rest.split('/').next().unwrap_or("");
    let host = if let Some(h) = authority.strip_prefix('[') {
        h.split(']').next().unwrap_or("")
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The Consul service of Pilot's gRPC (ADS) port, which sidecars dial: `<mesh>-pilot-grpc`.
pub fn pilot_grpc_service(mesh: &str) -> String {
    format!("{}-grpc", job_id(mesh, Role::Pilot))
}

/// The Consul DNS name of a service (`<name>.service.consul`).
pub fn consul_dns(service: &str) -> String {
    format!("{service}.service.consul")
}

/// What the sidecars of a mesh are told about the control plane, derived from its settings in
/// one place (the sidecar options and Pilot's mesh config both use it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SidecarEndpoints {
    /// Pilot's gRPC (ADS) address: `<mesh>-pilot-grpc.service.consul:<grpc port>`.
    pub discovery_address: String,
    /// The mesh's Zipkin, when it runs: `<mesh>-zipkin.service.consul:<port>`.
    pub zipkin_address: Option<String>,
    /// Mixer's gRPC address (check and report), when it runs.
    pub mixer_address: Option<String>,
    /// The control plane's DNS servers.
    pub dns_servers: Vec<String>,
}

/// The control-plane addresses of a mesh's sidecars (see [`SidecarEndpoints`]).
pub fn sidecar_endpoints(spec: &MeshSpec) -> SidecarEndpoints {
    let ctx = MeshContext::from_mesh(spec);
    endpoints(&ctx, &spec.control_plane.resolve(&ctx))
}

pub(crate) fn endpoints(ctx: &MeshContext, r: &ResolvedControlPlane) -> SidecarEndpoints {
    SidecarEndpoints {
        discovery_address: format!(
            "{}:{}",
            consul_dns(&pilot_grpc_service(&ctx.name)),
            r.pilot_grpc_port
        ),
        zipkin_address: r.zipkin.enabled.then(|| {
            format!(
                "{}:{}",
                consul_dns(&job_id(&ctx.name, Role::Zipkin)),
                r.zipkin_port
            )
        }),
        mixer_address: r.mixer.enabled.then(|| {
            format!(
                "{}:{}",
                consul_dns(&job_id(&ctx.name, Role::Mixer)),
                r.mixer_grpc_port
            )
        }),
        dns_servers: r.dns_servers.clone(),
    }
}

impl ControlPlaneSpec {
    pub(crate) fn resolve(&self, ctx: &MeshContext) -> ResolvedControlPlane {
        let ha = self.profile == Profile::Ha;
        let pick = |ha_v: i64, dev_v: i64| if ha { ha_v } else { dev_v };
        let istio_image = |name: &str| format!("{}/{name}:{}", ctx.hub, ctx.istio_version);
        let facts = ctx.istio_version.facts();
        macro_rules! res {
            ($c:expr, $enabled:expr, $image:expr, $count:expr, $cpu:expr, $mem:expr) => {
                Resolved {
                    enabled: $enabled,
                    image: $c.image.clone().unwrap_or_else(|| $image),
                    args: $c.args.clone(),
                    env: $c.env.clone(),
                    cpu: $c.cpu.unwrap_or($cpu),
                    memory: $c.memory.unwrap_or($mem),
                    count: $count,
                    constraints: $c.constraints.clone(),
                    datacenters: if $c.datacenters.is_empty() {
                        ctx.datacenters.clone()
                    } else {
                        $c.datacenters.clone()
                    },
                    namespace: $c
                        .namespace
                        .clone()
                        .unwrap_or_else(|| ctx.namespace.clone()),
                }
            };
        }
        let e = &self.etcd;
        let a = &self.apiserver;
        let tls_on = a.tls.enabled.unwrap_or(ha);
        ResolvedControlPlane {
            profile: self.profile,
            consul_url: self
                .consul_url
                .clone()
                .unwrap_or_else(|| DEFAULT_CONSUL_URL.into()),
            dns_servers: self.dns_servers.clone(),
            etcd: res!(
                e,
                true,
                if ha {
                    images::HA_ETCD
                } else {
                    images::DEV_ETCD
                }
                .to_string(),
                e.members.unwrap_or(pick(3, 1)),
                pick(500, 200),
                pick(512, 256)
            ),
            etcd_client_port: e.client_port.unwrap_or(2379),
            etcd_peer_port: e.peer_port.unwrap_or(2380),
            etcd_token: e
                .cluster_token
                .clone()
                .unwrap_or_else(|| format!("{}-etcd", ctx.name)),
            etcd_storage: e.storage.kind,
            etcd_volume: e
                .storage
                .volume
                .clone()
                .unwrap_or_else(|| "etcd-data".into()),
            etcd_disk_mb: e.storage.size.unwrap_or(1024),
            apiserver: res!(
                a,
                true,
                images::APISERVER.to_string(),
                a.count.unwrap_or(pick(2, 1)),
                500,
                512
            ),
            apiserver_port: a.port.unwrap_or(if tls_on { 6443 } else { 8080 }),
            service_cidr: a
                .service_cluster_ip_range
                .clone()
                .unwrap_or_else(|| DEFAULT_SERVICE_CIDR.into()),
            tls: tls_on.then(|| a.tls.clone()),
            pilot: res!(
                self.pilot,
                true,
                istio_image("pilot"),
                self.pilot.count.unwrap_or(pick(2, 1)),
                500,
                1024
            ),
            pilot_http_port: self.pilot.http_port.unwrap_or(pick(15007, 8081)),
            pilot_grpc_port: self.pilot.grpc_port.unwrap_or(15010),
            mixer: res!(
                self.mixer,
                self.mixer.enabled.unwrap_or(ha),
                istio_image("mixer"),
                self.mixer.count.unwrap_or(pick(2, 1)),
                500,
                512
            ),
            mixer_grpc_port: self.mixer.grpc_port.unwrap_or(9091),
            mixer_config_namespace: self
                .mixer
                .config_namespace
                .clone()
                .unwrap_or_else(|| "istio-system".into()),
            // One Citadel: with `--self-signed-ca` each instance that finds no CA secret
            // generates a root and tries to store it; the loser of that race logs the failed
            // create and keeps signing with its own root (`security/pkg/pki/ca/ca.go`
            // `NewSelfSignedIstioCAOptions` at 1.0.6: `Secrets(namespace).Create` error only
            // logged), so two replicas can mean two CAs. A single allocation with the restart
            // and reschedule policies of every control-plane group keeps one root; validation
            // refuses more. 1.6 and later have no standalone Citadel (istiod is the CA).
            citadel: res!(
                self.citadel,
                self.citadel
                    .enabled
                    .unwrap_or(ha && facts.standalone_citadel),
                istio_image("citadel"),
                self.citadel.count.unwrap_or(1),
                200,
                256
            ),
            citadel_grpc_port: self.citadel.grpc_port.unwrap_or(8060),
            citadel_storage_namespace: self
                .citadel
                .storage_namespace
                .clone()
                .unwrap_or_else(|| "default".into()),
            zipkin: res!(
                self.zipkin,
                self.zipkin.enabled.unwrap_or(true),
                images::ZIPKIN.to_string(),
                self.zipkin.count.unwrap_or(1),
                200,
                512
            ),
            zipkin_port: self.zipkin.port.unwrap_or(9411),
        }
    }

    /// Checks every control-plane rule and returns all problems, each with its path
    /// (`mesh.control_plane.etcd.members`) and value.
    pub fn validate(&self, spec: &MeshSpec) -> ValidationErrors {
        self.validate_with(&MeshContext::from_mesh(spec))
    }

    pub(crate) fn validate_with(&self, ctx: &MeshContext) -> ValidationErrors {
        let mut e = ValidationErrors::new();
        let p = "mesh.control_plane";
        let ha = self.profile == Profile::Ha;
        let r = self.resolve(ctx);

        // etcd members: quorum rules.
        let m = r.etcd.count;
        let mp = format!("{p}.etcd.members");
        if m < 1 {
            e.add(
                &mp,
                "etcd needs at least one member (1, 3, 5 or 7); with none the API server has no storage",
                m,
            );
        } else if m % 2 == 0 {
            e.add(
                &mp,
                format!(
                    "an even member count adds no fault tolerance: {m} members need a quorum of {} and survive {} failure(s), like {} members; use 1, 3, 5 or 7",
                    m / 2 + 1,
                    (m - 1) / 2,
                    m - 1
                ),
                m,
            );
        } else if m > 7 {
            e.add(
                &mp,
                "more than 7 members slows every write (each needs a majority) without useful extra tolerance; use 1, 3, 5 or 7",
                m,
            );
        } else if !ha && m != 1 {
            e.add(
                &mp,
                "the dev profile runs the compose file's single etcd; use profile = \"ha\" for a cluster",
                m,
            );
        }
        for (name, c) in [
            ("apiserver", &self.apiserver.count),
            ("pilot", &self.pilot.count),
            ("mixer", &self.mixer.count),
            ("citadel", &self.citadel.count),
            ("zipkin", &self.zipkin.count),
        ] {
            if let Some(c) = *c {
                if c < 1 {
                    e.add(
                        format!("{p}.{name}.count"),
                        "a component needs at least 1 replica (disable optional ones with enabled = false)",
                        c,
                    );
                }
            }
        }

        if let Some(c) = self.citadel.count {
            if c > 1 {
                e.add(
                    format!("{p}.citadel.count"),
                    "run one Citadel: with a self-signed CA every replica that starts before the CA secret exists makes its own root (security/pkg/pki/ca/ca.go), so replicas would sign with different CAs; Nomad restarts and reschedules the single allocation",
                    c,
                );
            }
        }
        let facts = ctx.istio_version.facts();
        if self.citadel.enabled == Some(true) && !facts.standalone_citadel {
            e.add(
                format!("{p}.citadel.enabled"),
                format!(
                    "Istio {} has no standalone Citadel (security/cmd/istio_ca was removed in 1.6; Pilot, as istiod, is the certificate authority)",
                    ctx.istio_version
                ),
                true,
            );
        }
        if facts.discovery == DiscoveryRule::HostOnlyPort15010
            && r.pilot_grpc_port != i64::from(PILOT_GRPC_PORT)
        {
            e.add(
                format!("{p}.pilot.grpc_port"),
                format!(
                    "Istio {}'s sidecars dial Pilot's gRPC port {PILOT_GRPC_PORT} whatever the discovery address says (pkg/bootstrap/bootstrap_config.go), so Pilot must serve it there",
                    ctx.istio_version
                ),
                r.pilot_grpc_port,
            );
        }

        // Images, resources, env, args, placement.
        for (name, res, spec_image) in [
            ("etcd", &r.etcd, &self.etcd.image),
            ("apiserver", &r.apiserver, &self.apiserver.image),
            ("pilot", &r.pilot, &self.pilot.image),
            ("mixer", &r.mixer, &self.mixer.image),
            ("citadel", &r.citadel, &self.citadel.image),
            ("zipkin", &r.zipkin, &self.zipkin.image),
        ] {
            let cp = format!("{p}.{name}");
            let image_path = if spec_image.is_some() {
                format!("{cp}.image")
            } else {
                "mesh.hub".to_string()
            };
            crate::spec::image_rule(&mut e, &image_path, &res.image);
            if res.cpu < 1 {
                e.add(format!("{cp}.cpu"), "cpu must be at least 1 MHz", res.cpu);
            }
            if res.memory < 10 {
                e.add(
                    format!("{cp}.memory"),
                    "memory must be at least 10 MB",
                    res.memory,
                );
            }
            for (i, a) in res.args.iter().enumerate() {
                if a.chars().any(|c| c.is_control()) {
                    e.add(
                        format!("{cp}.args[{i}]"),
                        "an argument may not contain control characters",
                        a.escape_debug(),
                    );
                }
            }
            for k in res.env.keys() {
                let ok = !k.is_empty()
                    && !k.starts_with(|c: char| c.is_ascii_digit())
                    && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if !ok {
                    e.add(
                        format!("{cp}.env.{k}"),
                        "an environment variable name may hold only letters, digits and '_', not starting with a digit",
                        k,
                    );
                }
            }
            for (i, dc) in res.datacenters.iter().enumerate() {
                if dc.is_empty() || dc.chars().any(|c| c.is_whitespace() || c.is_control()) {
                    e.add(
                        format!("{cp}.datacenters[{i}]"),
                        "a datacenter name may not be empty or contain spaces",
                        dc,
                    );
                }
            }
            if res.namespace.is_empty()
                || res
                    .namespace
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control())
            {
                e.add(
                    format!("{cp}.namespace"),
                    "a namespace may not be empty or contain spaces",
                    &res.namespace,
                );
            }
            for (i, c) in res.constraints.iter().enumerate() {
                let op = c.operator.as_deref().unwrap_or("=");
                if !crate::nomad::CONSTRAINT_OPERATORS.contains(&op) {
                    e.add(
                        format!("{cp}.constraints[{i}].operator"),
                        format!(
                            "operator must be one of {}",
                            crate::nomad::CONSTRAINT_OPERATORS.join(", ")
                        ),
                        op,
                    );
                }
                if !matches!(op, "distinct_hosts" | "distinct_property")
                    && c.attribute.as_deref().unwrap_or("").is_empty()
                {
                    e.add(
                        format!("{cp}.constraints[{i}].attribute"),
                        "the constraint needs an attribute",
                        "\"\"",
                    );
                }
            }
        }

        // Ports: valid and never shared, since any two components may land on one node.
        let mut ports: Vec<(String, i64)> = vec![
            (format!("{p}.etcd.client_port"), r.etcd_client_port),
            (format!("{p}.etcd.peer_port"), r.etcd_peer_port),
            (format!("{p}.apiserver.port"), r.apiserver_port),
            (format!("{p}.pilot.http_port"), r.pilot_http_port),
            (format!("{p}.pilot.grpc_port"), r.pilot_grpc_port),
        ];
        if !ha {
            ports.push((format!("{p}.etcd"), DEV_LEGACY_PORT));
        }
        if r.mixer.enabled {
            ports.push((format!("{p}.mixer.grpc_port"), r.mixer_grpc_port));
        }
        if r.citadel.enabled {
            ports.push((format!("{p}.citadel.grpc_port"), r.citadel_grpc_port));
        }
        if r.zipkin.enabled {
            ports.push((format!("{p}.zipkin.port"), r.zipkin_port));
        }
        let mut seen: BTreeMap<i64, String> = BTreeMap::new();
        for (path, port) in &ports {
            if !(1..=65535).contains(port) {
                e.add(path, "a port must be between 1 and 65535", port);
            } else if let Some(first) = seen.get(port) {
                e.add(
                    path,
                    format!("port {port} is already used by {first}; control-plane jobs may share a node, so static ports must differ"),
                    port,
                );
            } else {
                seen.insert(*port, path.clone());
            }
        }

        // API server.
        if let Err(msg) = check_cidr(&r.service_cidr) {
            e.add(
                format!("{p}.apiserver.service_cluster_ip_range"),
                msg,
                &r.service_cidr,
            );
        }
        let tp = format!("{p}.apiserver.tls");
        if ha && self.apiserver.tls.enabled == Some(false) {
            e.add(
                format!("{tp}.enabled"),
                "the API server's insecure port is only allowed in the dev profile; keep TLS on in ha",
                false,
            );
        }
        if let Some(tls) = &r.tls {
            match tls.source {
                TlsSource::Vault => {
                    let path = tls.vault_pki_path.as_deref().unwrap_or(DEFAULT_PKI_PATH);
                    if path.is_empty()
                        || path.starts_with('/')
                        || path.contains(|c: char| c.is_whitespace() || c == '"' || c == '{')
                    {
                        e.add(
                            format!("{tp}.vault_pki_path"),
                            "a Vault path like pki/issue/<role>, without spaces or quotes",
                            path,
                        );
                    }
                    if let Some(ttl) = &tls.ttl {
                        let ok = ttl.len() > 1
                            && ttl.ends_with(['s', 'm', 'h'])
                            && ttl[..ttl.len() - 1].chars().all(|c| c.is_ascii_digit());
                        if !ok {
                            e.add(format!("{tp}.ttl"), "a TTL like 72h, 30m or 3600s", ttl);
                        }
                    }
                }
                TlsSource::File => {
                    for (key, v) in [
                        ("ca_file", &tls.ca_file),
                        ("cert_file", &tls.cert_file),
                        ("key_file", &tls.key_file),
                        ("client_cert_file", &tls.client_cert_file),
                        ("client_key_file", &tls.client_key_file),
                    ] {
                        match v {
                            Some(f) if f.starts_with('/') && !f.contains(char::is_whitespace) => {}
                            Some(f) => e.add(
                                format!("{tp}.{key}"),
                                "an absolute path on the client host, without spaces",
                                f,
                            ),
                            None => e.add(
                                format!("{tp}.{key}"),
                                "source = \"file\" needs this file",
                                "\"\"",
                            ),
                        }
                    }
                }
            }
        }

        // Mesh-wide settings.
        let cu = &r.consul_url;
        if !(cu.starts_with("http://") || cu.starts_with("https://"))
            || cu.contains(char::is_whitespace)
        {
            e.add(
                format!("{p}.consul_url"),
                "must be an http:// or https:// URL",
                cu,
            );
        }
        for (i, d) in self.dns_servers.iter().enumerate() {
            if d.parse::<IpAddr>().is_err() && !(d.starts_with("${") && d.ends_with('}')) {
                e.add(
                    format!("{p}.dns_servers[{i}]"),
                    "a DNS server must be an IP address or a Nomad ${...} attribute",
                    d,
                );
            }
        }
        let token = &r.etcd_token;
        if token.is_empty() || token.contains(|c: char| c.is_whitespace() || c == ',') {
            e.add(
                format!("{p}.etcd.cluster_token"),
                "the token may not be empty or contain spaces or commas",
                token,
            );
        }
        if self.etcd.storage.kind == EtcdStorage::HostVolume {
            let v = &r.etcd_volume;
            if v.is_empty() || v.contains(char::is_whitespace) {
                e.add(
                    format!("{p}.etcd.storage.volume"),
                    "a host volume name may not be empty or contain spaces",
                    v,
                );
            }
        }
        if r.etcd_disk_mb < 1 {
            e.add(
                format!("{p}.etcd.storage.size"),
                "the disk size must be at least 1 MB",
                r.etcd_disk_mb,
            );
        }
        for (key, v) in [
            ("mixer.config_namespace", &r.mixer_config_namespace),
            ("citadel.storage_namespace", &r.citadel_storage_namespace),
        ] {
            let ok = !v.is_empty()
                && v.len() <= 63
                && v.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !ok {
                e.add(
                    format!("{p}.{key}"),
                    "a Kubernetes namespace name: lowercase letters, digits and '-'",
                    v,
                );
            }
        }
        e
    }
}

/// Vault PKI issue endpoint used when none is set.
pub const DEFAULT_PKI_PATH: &str = "pki/issue/istio-nomad";

/// Checks a CIDR (`10.99.0.0/16`, `fd00::/108`): an address, a prefix length within the
/// family's bits, and no host bits set.
pub(crate) fn check_cidr(s: &str) -> std::result::Result<(), String> {
    let (addr, len) = s
        .split_once('/')
        .ok_or_else(|| "a CIDR needs a prefix length, like 10.99.0.0/16".to_string())?;
    let ip: IpAddr = addr
        .parse()
        .map_err(|_| format!("{addr:?} is not an IPv4 or IPv6 address"))?;
    let len: u32 = len
        .parse()
        .map_err(|_| format!("{len:?} is not a prefix length"))?;
    let bits = if ip.is_ipv4() { 32 } else { 128 };
    if len > bits {
        return Err(format!("the prefix length must be at most {bits}"));
    }
    let value: u128 = match ip {
        IpAddr::V4(v) => u128::from(u32::from(v)),
        IpAddr::V6(v) => u128::from(v),
    };
    let host_bits = bits - len;
    let mask = 1u128.checked_shl(host_bits).map_or(u128::MAX, |v| v - 1);
    if value & mask != 0 {
        return Err("host bits are set; use the network address of the range".into());
    }
    if host_bits < 2 {
        return Err("the range is too small to hold service IPs".into());
    }
    Ok(())
}
