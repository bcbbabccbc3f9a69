//! The Istio releases a mesh can run, and what differs between them.
//!
//! [`IstioVersion`] is the validated release number of a mesh (`mesh { istio_version = "1.0.6" }`,
//! [`crate::spec::sidecar::SidecarOptions::istio_version`]). The supported range is **1.0.x to 1.7.x**:
//! the releases whose Pilot still has the Consul service registry (it was removed in 1.8,
//! istio/istio PR #25521). Anything else is refused with an error that names the field and the
//! value.
//!
//! Every behaviour that differs between releases is decided from one table,
//! [`ReleaseFacts`] (one row per minor release, see [`IstioVersion::facts`]); the code that renders
//! jobs, sidecars and VM bundles reads the row and never compares version numbers itself. Each
//! field cites the Istio source it comes from (`istio/istio`, read with `git show <tag>:<path>`).
//!
//! ```
//! use istio_nomad_core::istio::{IstioVersion, ProtocolSource};
//!
//! let v: IstioVersion = "1.3.8".parse()?;
//! assert_eq!(v.facts().protocol, ProtocolSource::ServiceMeta { default: "tcp" });
//! assert_eq!(v.facts().inbound_capture_port, Some(15006));
//! assert!("1.8.0".parse::<IstioVersion>().is_err());
//! # Ok::<(), istio_nomad_core::Error>(())
//! ```

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The oldest supported minor release (`1.0`).
pub const OLDEST_MINOR: u32 = 0;
/// The newest supported minor release (`1.7`): Pilot's Consul registry is gone in 1.8.
pub const NEWEST_MINOR: u32 = 7;
/// The release a mesh uses when its spec names none (Istio's Consul samples of Bookinfo).
pub const DEFAULT_VERSION: &str = "1.0.0";
/// The image registry of the Istio images when a spec or an injection names none.
pub const DEFAULT_HUB: &str = "docker.io/istio";

/// Pilot's plaintext gRPC (ADS) port (`--grpcAddr`, default `:15010` at every supported tag,
/// `pilot/cmd/pilot-discovery/main.go`).
pub const PILOT_GRPC_PORT: u16 = 15010;
/// Pilot's gRPC port behind mutual TLS (`pkg/bootstrap/bootstrap_config.go` at 1.0.6 picks it
/// when `controlPlaneAuthPolicy` is `MUTUAL_TLS`; served by Pilot's own Envoy,
/// `pilot/docker/envoy_pilot.yaml.tmpl`). The meshes rendered here run with
/// `controlPlaneAuthPolicy: NONE`, so they use [`PILOT_GRPC_PORT`].
pub const PILOT_MTLS_GRPC_PORT: u16 = 15011;

/// A supported Istio release: `1.<minor>.<patch>`, optionally with a pre-release suffix
/// (`1.1.0-rc.1`), minor 0 to 7. The default is [`DEFAULT_VERSION`], 1.0.0.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IstioVersion {
    minor: u32,
    patch: u32,
    suffix: Option<String>,
}

/// Why a release string was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionError {
    /// Not `MAJOR.MINOR.PATCH[-suffix]`.
    Malformed,
    /// A well-formed release outside 1.0.x to 1.7.x.
    Unsupported,
}

impl VersionError {
    /// What is wrong, in words (without the value).
    pub fn message(&self) -> &'static str {
        match self {
            VersionError::Malformed => {
                "expected an Istio release number such as 1.0.6 (MAJOR.MINOR.PATCH, optionally -suffix)"
            }
            VersionError::Unsupported => {
                "supported Istio releases are 1.0.x to 1.7.x (the releases whose Pilot has the Consul registry; it was removed in 1.8)"
            }
        }
    }
}

impl IstioVersion {
    /// Parses a release string; the error names `path` and the value.
    pub fn parse_at(path: &str, text: &str) -> Result<IstioVersion> {
        Self::parse_str(text).map_err(|e| Error::field(path, e.message(), text))
    }

    fn parse_str(text: &str) -> std::result::Result<IstioVersion, VersionError> {
        let (core, suffix) = match text.split_once('-') {
            Some((c, s)) => (c, Some(s)),
            None => (text, None),
        };
        if let Some(s) = suffix {
            if s.is_empty()
                || s.len() > 32
                || !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '.')
            {
                return Err(VersionError::Malformed);
            }
        }
        let parts: Vec<&str> = core.split('.').collect();
        let num = |s: &str| -> std::result::Result<u32, VersionError> {
            if s.is_empty() || s.len() > 4 || !s.chars().all(|c| c.is_ascii_digit()) {
                return Err(VersionError::Malformed);
            }
            s.parse().map_err(|_| VersionError::Malformed)
        };
        let [major, minor, patch] = parts.as_slice() else {
            return Err(VersionError::Malformed);
        };
        let (major, minor, patch) = (num(major)?, num(minor)?, num(patch)?);
        if major != 1 || !(OLDEST_MINOR..=NEWEST_MINOR).contains(&minor) {
            return Err(VersionError::Unsupported);
        }
        Ok(IstioVersion {
            minor,
            patch,
            suffix: suffix.map(str::to_string),
        })
    }

    /// The minor release (`3` for 1.3.8).
    pub fn minor(&self) -> u32 {
        self.minor
    }

    /// The patch release (`8` for 1.3.8).
    pub fn patch(&self) -> u32 {
        self.patch
    }

    /// The facts of this release's minor line.
    pub fn facts(&self) -> &'static ReleaseFacts {
        // The table has one row per supported minor release, in order; parsing admits no
        // other minor.
        let i = (self.minor - OLDEST_MINOR) as usize;
        &RELEASES[i.min(RELEASES.len() - 1)]
    }

    /// True when the proxy has the status port 15020 (`--statusPort`, readiness at
    /// `/healthz/ready`) and Envoy's Prometheus listener 15090: from 1.0.3
    /// (`pilot/cmd/pilot-agent/main.go` at 1.0.3 adds `statusPort`).
    pub fn has_status_port(&self) -> bool {
        self.patch >= self.facts().status_port_from_patch
    }

    /// True when Pilot's mesh config has `policyCheckFailOpen` (from 1.0.3; see
    /// [`ReleaseFacts::policy_fail_open_from_patch`]).
    pub fn has_policy_fail_open(&self) -> bool {
        self.patch >= self.facts().policy_fail_open_from_patch
    }

    /// True when the VM package's `istio-start.sh` reads `PILOT_ADDRESS` (and accepts the
    /// `run` argument that skips its own iptables step): from 1.0.1 (`tools/deb/istio-start.sh`
    /// at 1.0.0 builds the address from `ISTIO_SYSTEM_NAMESPACE` and `ISTIO_PILOT_PORT` only).
    pub fn vm_reads_pilot_address(&self) -> bool {
        self.patch >= self.facts().vm_pilot_address_from_patch
    }
}

impl fmt::Display for IstioVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "1.{}.{}", self.minor, self.patch)?;
        if let Some(s) = &self.suffix {
            write!(f, "-{s}")?;
        }
        Ok(())
    }
}

impl FromStr for IstioVersion {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse_at("istio_version", s)
    }
}

impl TryFrom<String> for IstioVersion {
    type Error = String;
    fn try_from(s: String) -> std::result::Result<Self, String> {
        Self::parse_str(&s).map_err(|e| format!("{} (got {s:?})", e.message()))
    }
}

impl From<IstioVersion> for String {
    fn from(v: IstioVersion) -> String {
        v.to_string()
    }
}

/// How pilot-agent turns `--discoveryAddress` into the address of its ADS (gRPC) stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiscoveryRule {
    /// 1.0: only the host is kept; ADS is dialed on 15010, or 15011 with
    /// `controlPlaneAuthPolicy: MUTUAL_TLS` (`pkg/bootstrap/bootstrap_config.go` at 1.0.6:
    /// `grpcPort := "15010"`, `grpcHost := h`).
    HostOnlyPort15010,
    /// 1.1 and later: the address is used as given (`pkg/bootstrap/bootstrap_config.go` at
    /// 1.1.0 and 1.3.8 store it as `pilot_grpc_address`; `pkg/bootstrap/config.go` at 1.7.8
    /// passes it as `PilotGRPCAddress`), so it must name Pilot's gRPC port.
    AsGiven,
}

/// Where Pilot's Consul registry reads a service port's protocol, and its default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolSource {
    /// 1.0: `NodeMeta["protocol"]` of the catalog entry, default `http`
    /// (`pilot/pkg/serviceregistry/consul/conversion.go` at 1.0.6, `convertService` /
    /// `convertInstance` and `convertPort`). A Nomad job cannot set Consul node meta: it is the
    /// agent's `node_meta` setting.
    NodeMeta {
        /// Protocol of a port without the meta.
        default: &'static str,
    },
    /// 1.1 and later: `ServiceMeta["protocol"]`, default `tcp`
    /// (`conversion.go` at 1.1.0, 1.3.8 and 1.7.8).
    ServiceMeta {
        /// Protocol of a port without the meta.
        default: &'static str,
    },
}

/// How the proxy's settings (discovery address, Zipkin, admin and status ports) reach
/// pilot-agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyConfigInput {
    /// Command-line flags `--discoveryAddress`, `--zipkinAddress`, `--proxyAdminPort`,
    /// `--statusPort`, `--configPath` (`pilot/cmd/pilot-agent/main.go` at 1.0.6 through 1.5.10).
    Flags,
    /// The `PROXY_CONFIG` environment variable, a ProxyConfig in YAML or JSON: 1.6 removed the
    /// flags (`pilot/cmd/pilot-agent/main.go` at 1.6.0 registers `PROXY_CONFIG`;
    /// `pilot/cmd/pilot-agent/config.go` `getMeshConfig` applies it over the defaults, and
    /// unknown flags are ignored, `FParseErrWhitelist{UnknownFlags: true}`).
    EnvProxyConfig,
}

/// Where a ProxyConfig names Zipkin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZipkinField {
    /// `zipkinAddress` (1.0's `ProxyConfig`, Helm's mesh ConfigMap at 1.0.6).
    ZipkinAddress,
    /// `tracing: {zipkin: {address}}` (1.1 and later; `zipkinAddress` is deprecated,
    /// `vendor/istio.io/api/mesh/v1alpha1/proxy.pb.go` at 1.3.8).
    Tracing,
}

/// The flags of `pilot-discovery discovery` that change between releases
/// (`pilot/cmd/pilot-discovery/main.go` at each tag).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PilotFlags {
    /// `--consulserverInterval` exists (1.0 to 1.4; removed in 1.5). pilot-discovery refuses
    /// unknown flags (no `FParseErrWhitelist`), so a flag that does not exist must not be passed.
    pub consul_interval: bool,
    /// The flag of the secure gRPC listener, turned off with an empty value where it exists
    /// (no certificates outside Kubernetes; 1.1.0 does the same for Consul, istio/istio PR
    /// #12273): `--secureGrpcAddr` (1.0 to 1.5), none (1.6), `--secureGRPCAddr` (1.7).
    pub secure_grpc_flag: Option<&'static str>,
    /// Default of `--monitoringAddr` (`:9093` in 1.0, `:15014` from 1.1).
    pub monitoring_default: u16,
}

/// Everything that differs between the supported minor releases. One row per minor release in
/// [`RELEASES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReleaseFacts {
    /// The minor release (0 for 1.0.x).
    pub minor: u32,
    /// Image of the sidecar proxy: `proxy_debug` in Istio's Consul sample up to 1.3
    /// (`samples/bookinfo/platform/consul/templates/bookinfo.sidecars.yaml.tmpl`), `proxyv2`
    /// from 1.4 (`tools/istio-docker.mk` at 1.4.0 builds no `proxy_debug`).
    pub proxy_image: &'static str,
    /// Image of the init task (needs `/bin/sh` and `iptables-restore`): `proxy_init` up to 1.5,
    /// `proxyv2` from 1.6 (`tools/istio-docker.mk` at 1.6.0 builds no `proxy_init`).
    pub init_image: &'static str,
    /// `--configPath` passed to pilot-agent (the Consul sample passes `/var/lib/istio` up to
    /// 1.5; 1.6 has no such flag and uses `./etc/istio/proxy`).
    pub config_path: Option<&'static str>,
    /// How `--discoveryAddress` becomes the ADS address.
    pub discovery: DiscoveryRule,
    /// Where Pilot reads a port's protocol.
    pub protocol: ProtocolSource,
    /// The inbound capture port: none before 1.3 (inbound traffic arrives on the proxy port
    /// 15001), 15006 from 1.3 (`tools/packaging/common/istio-iptables.sh` at 1.3.0, `-z`).
    pub inbound_capture_port: Option<u16>,
    /// How pilot-agent receives the proxy's settings.
    pub proxy_config: ProxyConfigInput,
    /// Where Zipkin is named in a ProxyConfig.
    pub zipkin: ZipkinField,
    /// Pilot's version-dependent flags.
    pub pilot: PilotFlags,
    /// Default `--monitoringPort` of Mixer (`mixer/pkg/server/args.go`: 9093 in 1.0, 15014
    /// from 1.1) and `--monitoring-port` of Citadel (`security/cmd/istio_ca/main.go`, same).
    pub monitoring_default: u16,
    /// A standalone Citadel (`istio_ca`) exists: 1.0 to 1.5. 1.6 removed
    /// `security/cmd/istio_ca`; Pilot (istiod) is the certificate authority.
    pub standalone_citadel: bool,
    /// First patch release of this line with the status port (1.0.3; 0 for later lines).
    pub status_port_from_patch: u32,
    /// First patch release whose VM package reads `PILOT_ADDRESS` (1.0.1; 0 for later lines).
    pub vm_pilot_address_from_patch: u32,
    /// First patch release whose mesh config has `policyCheckFailOpen` (1.0.3; 0 for later
    /// lines): `MeshConfig` in `vendor/istio.io/api/mesh/v1alpha1/config.pb.go` has no such
    /// field at 1.0.0 to 1.0.2, and Pilot refuses a mesh config with a field it does not know.
    pub policy_fail_open_from_patch: u32,
    /// Pilot's mesh defaults turn the sidecars' telemetry reports to Mixer off
    /// (`DisableMixerHttpReports: true` in `DefaultMeshConfig`, `pkg/config/mesh/mesh.go` at
    /// 1.6.0 and 1.7.8; the field is not set, so false, at 1.3.8), so a mesh that runs Mixer
    /// writes `disableMixerHttpReports: false` in Pilot's mesh config.
    pub mixer_reports_off_by_default: bool,
    /// The VM package's `istio-start.sh` builds `PROXY_CONFIG` from `PILOT_ADDRESS`
    /// (`tools/packaging/common/istio-start.sh` at 1.6.0); before, it passes
    /// `--discoveryAddress`.
    pub vm_proxy_config_env: bool,
}

/// The facts of each supported minor release, 1.0 to 1.7, in order.
pub const RELEASES: [ReleaseFacts; 8] = [
    row(0, "proxy_debug", "proxy_init", Some("/var/lib/istio")),
    row(1, "proxy_debug", "proxy_init", Some("/var/lib/istio")),
    row(2, "proxy_debug", "proxy_init", Some("/var/lib/istio")),
    row(3, "proxy_debug", "proxy_init", Some("/var/lib/istio")),
    row(4, "proxyv2", "proxy_init", Some("/var/lib/istio")),
    row(5, "proxyv2", "proxy_init", Some("/var/lib/istio")),
    row(6, "proxyv2", "proxyv2", None),
    row(7, "proxyv2", "proxyv2", None),
];

const fn row(
    minor: u32,
    proxy_image: &'static str,
    init_image: &'static str,
    config_path: Option<&'static str>,
) -> ReleaseFacts {
    let one_zero = minor == 0;
    ReleaseFacts {
        minor,
        proxy_image,
        init_image,
        config_path,
        discovery: if one_zero {
            DiscoveryRule::HostOnlyPort15010
        } else {
            DiscoveryRule::AsGiven
        },
        protocol: if one_zero {
            ProtocolSource::NodeMeta { default: "http" }
        } else {
            ProtocolSource::ServiceMeta { default: "tcp" }
        },
        inbound_capture_port: if minor >= 3 { Some(15006) } else { None },
        proxy_config: if minor >= 6 {
            ProxyConfigInput::EnvProxyConfig
        } else {
            ProxyConfigInput::Flags
        },
        zipkin: if one_zero {
            ZipkinField::ZipkinAddress
        } else {
            ZipkinField::Tracing
        },
        pilot: PilotFlags {
            consul_interval: minor <= 4,
            secure_grpc_flag: match minor {
                0..=5 => Some("--secureGrpcAddr"),
                6 => None,
                _ => Some("--secureGRPCAddr"),
            },
            monitoring_default: if one_zero { 9093 } else { 15014 },
        },
        monitoring_default: if one_zero { 9093 } else { 15014 },
        standalone_citadel: minor <= 5,
        status_port_from_patch: if one_zero { 3 } else { 0 },
        vm_pilot_address_from_patch: if one_zero { 1 } else { 0 },
        policy_fail_open_from_patch: if one_zero { 3 } else { 0 },
        mixer_reports_off_by_default: minor >= 6,
        vm_proxy_config_env: minor >= 6,
    }
}

impl ReleaseFacts {
    /// The protocol Pilot gives a port whose catalog entry carries no `protocol` meta.
    pub fn default_protocol(&self) -> &'static str {
        match self.protocol {
            ProtocolSource::NodeMeta { default } | ProtocolSource::ServiceMeta { default } => {
                default
            }
        }
    }

    /// True when Pilot reads the protocol from the service meta a Nomad `service` block can set.
    pub fn protocol_in_service_meta(&self) -> bool {
        matches!(self.protocol, ProtocolSource::ServiceMeta { .. })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn v(s: &str) -> IstioVersion {
        s.parse().unwrap()
    }

    #[test]
    fn parses_the_supported_range_and_refuses_the_rest() {
        for ok in [
            "1.0.0",
            "1.0.6",
            "1.1.0-rc.1",
            "1.3.8",
            "1.7.8",
            "1.7.0-beta.2",
        ] {
            assert_eq!(v(ok).to_string(), ok);
        }
        for (bad, kind) in [
            ("1.8.0", VersionError::Unsupported),
            ("0.8.0", VersionError::Unsupported),
            ("2.0.0", VersionError::Unsupported),
            ("1.0", VersionError::Malformed),
            ("1.0.x", VersionError::Malformed),
            ("", VersionError::Malformed),
            ("1.0.0-", VersionError::Malformed),
            ("1.0.0-rc 1", VersionError::Malformed),
            ("v1.0.0", VersionError::Malformed),
            ("1.0.0.1", VersionError::Malformed),
            ("1.00000.0", VersionError::Malformed),
        ] {
            assert_eq!(IstioVersion::parse_str(bad), Err(kind), "{bad}");
        }
        let e = IstioVersion::parse_at("mesh.istio_version", "1.8.0").unwrap_err();
        let f = &e.field_errors()[0];
        assert_eq!(f.path, "mesh.istio_version");
        assert_eq!(f.value.as_deref(), Some("1.8.0"));
        assert!(f.message.contains("1.0.x to 1.7.x"), "{}", f.message);
    }

    #[test]
    fn one_row_per_minor_in_order() {
        for (i, r) in RELEASES.iter().enumerate() {
            assert_eq!(r.minor as usize, i);
        }
        assert_eq!(v("1.5.10").facts().minor, 5);
    }

    #[test]
    fn facts_per_release() {
        let (a, b, c) = (v("1.0.6"), v("1.3.8"), v("1.7.8"));
        assert_eq!(a.facts().discovery, DiscoveryRule::HostOnlyPort15010);
        assert_eq!(b.facts().discovery, DiscoveryRule::AsGiven);
        assert_eq!(a.facts().default_protocol(), "http");
        assert!(!a.facts().protocol_in_service_meta());
        assert_eq!(b.facts().default_protocol(), "tcp");
        assert!(c.facts().protocol_in_service_meta());
        assert_eq!(a.facts().inbound_capture_port, None);
        assert_eq!(b.facts().inbound_capture_port, Some(15006));
        assert_eq!(b.facts().proxy_config, ProxyConfigInput::Flags);
        assert_eq!(c.facts().proxy_config, ProxyConfigInput::EnvProxyConfig);
        assert!(a.facts().pilot.consul_interval && !v("1.5.0").facts().pilot.consul_interval);
        assert_eq!(v("1.6.0").facts().pilot.secure_grpc_flag, None);
        assert_eq!(c.facts().pilot.secure_grpc_flag, Some("--secureGRPCAddr"));
        assert!(v("1.5.0").facts().standalone_citadel && !c.facts().standalone_citadel);
        assert!(!v("1.0.2").has_status_port() && v("1.0.3").has_status_port());
        assert!(v("1.1.0").has_status_port());
        assert!(!v("1.0.0").vm_reads_pilot_address() && v("1.0.1").vm_reads_pilot_address());
        assert_eq!(a.facts().proxy_image, "proxy_debug");
        assert_eq!(c.facts().init_image, "proxyv2");
        assert!(!b.facts().mixer_reports_off_by_default && c.facts().mixer_reports_off_by_default);
    }

    #[test]
    fn serde_round_trip_and_refusal() {
        let x: IstioVersion = serde_json::from_str("\"1.3.8\"").unwrap();
        assert_eq!(serde_json::to_string(&x).unwrap(), "\"1.3.8\"");
        let e = serde_json::from_str::<IstioVersion>("\"1.9.0\"").unwrap_err();
        assert!(e.to_string().contains("\"1.9.0\""), "{e}");
    }
}
