//! What Istio's Pilot (Consul registry) and pilot-agent make of a Consul catalog, per release.
//!
//! Every rule is Istio's, read in `istio/istio` at tags `1.0.6`, `1.1.0`, `1.3.8` and `1.7.8`
//! (the Consul registry was removed in 1.8):
//!
//! | rule | source |
//! |---|---|
//! | a service's hostname is `<name>.service.consul`; `key\|value` tags become labels | `pilot/pkg/serviceregistry/consul/conversion.go` `serviceHostname`, `convertLabels` |
//! | a service's ports are the **registered** `ServicePort`s of its instances; an instance's address is `ServiceAddress`, else the node's `Address` | `conversion.go` `convertService`, `convertInstance` |
//! | protocol: 1.0.x reads `NodeMeta["protocol"]` (default `http`); 1.1 and later read `ServiceMeta["protocol"]` (default `tcp`); an unknown name is `tcp` | `conversion.go` `convertPort`, `convertProtocol` |
//! | a proxy's own instances are those whose address **equals** the proxy's IP | `controller.go` `GetProxyServiceInstances` |
//! | pilot-agent's IP in Consul mode: 1.0.x the first private address of its network namespace, 1.1+ all of them (unless `--ip` / `INSTANCE_IP`) | `pilot/cmd/pilot-agent/main.go` (1.0.6 `proxy.GetPrivateIP`, 1.3.8 `proxy.GetPrivateIPs`) |
//! | an inbound listener per own instance on `address:port`, forwarding to `127.0.0.1:port` | `pilot/pkg/networking/core/v1alpha3/listener.go` `buildSidecarInboundListeners` |
//! | an outbound listener per service port: HTTP ports share one `0.0.0.0:<port>` listener (virtual hosts per service); a TCP port listens on the service address, which is `0.0.0.0` for Consul services, and a second TCP service on the same port, or TCP beside HTTP, is a conflict and loses | `listener.go` `buildSidecarOutboundListeners` (the `outboundListenerConflict` cases) |
//! | ADS: 1.0.x dials the discovery host on port 15010 (15011 with mTLS) whatever port is given; 1.1+ dial the address as given | `pkg/bootstrap/bootstrap_config.go` `WriteBootstrap` (1.0.6: `grpcPort := "15010"`), `writeBootstrapForPlatform` (1.3.8: `pilot_grpc_address` from `DiscoveryAddress`) |
//! | protocol names: `tcp`, `udp`, `grpc`, `http`, `http2`, `https`, `tls`, `mongo`, `redis` (1.1+ also `mysql`); HTTP means http, http2 and grpc; UDP gets no listener | `pilot/pkg/model/service.go` `ParseProtocol`, `IsHTTP` (1.0.6); `pkg/config/protocol` (1.3.8) |
//!
//! The measured results behind these rules (Pilot 1.0.0, 1.0.6 and 1.3.8 fed the Bookinfo
//! catalogs Nomad registers) are summed up in the project's README.

use serde::Serialize;

/// Where a release of Pilot reads a service's protocol from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProtocolSource {
    /// `NodeMeta["protocol"]` of the Consul node, default `http` (1.0.x).
    NodeMeta,
    /// `ServiceMeta["protocol"]` of the instance, default `tcp` (1.1 and later).
    ServiceMeta,
}

/// The Pilot and pilot-agent behaviour of one Istio release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PilotModel {
    /// `(major, minor, patch)`.
    pub version: (u32, u32, u32),
}

/// Pilot's ADS port (`--grpcAddr :15010`).
pub const ADS_PORT: u16 = 15010;
/// Pilot's ADS port behind mTLS.
pub const ADS_MTLS_PORT: u16 = 15011;

impl PilotModel {
    /// The model of a release string (`1.0.6`); `None` when it is not a release number.
    pub fn for_version(v: &str) -> Option<PilotModel> {
        version_tuple(v).map(|version| PilotModel { version })
    }

    /// The model of a mesh's (validated) release.
    pub fn of(v: &crate::istio::IstioVersion) -> PilotModel {
        PilotModel {
            version: (1, v.minor(), v.patch()),
        }
    }

    /// True for the releases that have the Consul registry: 1.0.0 to 1.7.x.
    pub fn has_consul_registry(&self) -> bool {
        let (ma, mi, _) = self.version;
        ma == 1 && mi <= 7
    }

    /// Where this release reads the protocol.
    pub fn protocol_source(&self) -> ProtocolSource {
        if self.version < (1, 1, 0) {
            ProtocolSource::NodeMeta
        } else {
            ProtocolSource::ServiceMeta
        }
    }

    /// The protocol Pilot gives an instance with this node meta and service meta value.
    pub fn protocol(&self, node_meta: Option<&str>, service_meta: Option<&str>) -> Protocol {
        let (raw, default) = match self.protocol_source() {
            ProtocolSource::NodeMeta => (node_meta, "http"),
            ProtocolSource::ServiceMeta => (service_meta, "tcp"),
        };
        Protocol::parse(raw.filter(|s| !s.is_empty()).unwrap_or(default))
    }

    /// The default protocol when the meta this release reads is absent.
    pub fn default_protocol(&self) -> Protocol {
        self.protocol(None, None)
    }

    /// The `host:port` pilot-agent dials for ADS given `--discoveryAddress` (1.0.x: the
    /// host and 15010, or 15011 with mTLS; later: as given). `None` when it is not
    /// `host:port`.
    pub fn ads_address(&self, discovery: &str, mtls: bool) -> Option<(String, u16)> {
        let (host, port) = discovery.rsplit_once(':')?;
        let port: u16 = port.parse().ok()?;
        if self.version < (1, 1, 0) {
            Some((
                host.to_string(),
                if mtls { ADS_MTLS_PORT } else { ADS_PORT },
            ))
        } else {
            Some((host.to_string(), port))
        }
    }

    /// True when pilot-agent reports every private address of its namespace (1.1 and later),
    /// not only the first.
    pub fn reports_all_private_ips(&self) -> bool {
        self.version >= (1, 1, 0)
    }
}

/// `major.minor.patch` of a release string (`1.0.3`, `1.1.0-rc.1`).
fn version_tuple(v: &str) -> Option<(u32, u32, u32)> {
    let core = v.split(['-', '+']).next()?;
    let mut it = core.split('.');
    let major = it.next()?.parse().ok()?;
    let minor = it.next()?.parse().ok()?;
    let patch = match it.next() {
        Some(p) => p.parse().ok()?,
        None => 0,
    };
    if it.next().is_some() {
        return None;
    }
    Some((major, minor, patch))
}

/// A protocol as Pilot parses it (`model.ParseProtocol`; unknown names become TCP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// `http`.
    Http,
    /// `http2`.
    Http2,
    /// `grpc`.
    Grpc,
    /// `https`.
    Https,
    /// `tcp`, and every name Pilot does not know.
    Tcp,
    /// `tls`.
    Tls,
    /// `mongo`.
    Mongo,
    /// `redis`.
    Redis,
    /// `mysql`.
    Mysql,
    /// `udp` (Pilot builds no listener for it).
    Udp,
}

impl Protocol {
    /// Parses a name case-insensitively; unknown names are TCP (`convertProtocol`).
    pub fn parse(name: &str) -> Protocol {
        match name.to_ascii_lowercase().as_str() {
            "http" => Protocol::Http,
            "http2" => Protocol::Http2,
            "grpc" => Protocol::Grpc,
            "https" => Protocol::Https,
            "tls" => Protocol::Tls,
            "mongo" => Protocol::Mongo,
            "redis" => Protocol::Redis,
            "mysql" => Protocol::Mysql,
            "udp" => Protocol::Udp,
            _ => Protocol::Tcp,
        }
    }

    /// True for the protocols that share one `0.0.0.0:<port>` HTTP listener
    /// (`Protocol.IsHTTP`: http, http2, grpc).
    pub fn is_http(self) -> bool {
        matches!(self, Protocol::Http | Protocol::Http2 | Protocol::Grpc)
    }

    /// The name.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Http => "http",
            Protocol::Http2 => "http2",
            Protocol::Grpc => "grpc",
            Protocol::Https => "https",
            Protocol::Tcp => "tcp",
            Protocol::Tls => "tls",
            Protocol::Mongo => "mongo",
            Protocol::Redis => "redis",
            Protocol::Mysql => "mysql",
            Protocol::Udp => "udp",
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn releases_read_the_protocol_where_their_source_says() {
        let v10 = PilotModel::for_version("1.0.6").unwrap();
        let v13 = PilotModel::for_version("1.3.8").unwrap();
        assert_eq!(v10.protocol(None, Some("tcp")), Protocol::Http);
        assert_eq!(v10.protocol(Some("grpc"), None), Protocol::Grpc);
        assert_eq!(v13.protocol(Some("http"), None), Protocol::Tcp);
        assert_eq!(v13.protocol(None, Some("http")), Protocol::Http);
        assert_eq!(v13.protocol(None, Some("bogus")), Protocol::Tcp);
        assert!(
            v10.has_consul_registry()
                && PilotModel::for_version("1.7.8")
                    .unwrap()
                    .has_consul_registry()
        );
        assert!(!PilotModel::for_version("1.8.0")
            .unwrap()
            .has_consul_registry());
    }

    #[test]
    fn ads_port_is_forced_before_1_1_only() {
        let v10 = PilotModel::for_version("1.0.0").unwrap();
        let v11 = PilotModel::for_version("1.1.0").unwrap();
        assert_eq!(
            v10.ads_address("p.service.consul:15007", false),
            Some(("p.service.consul".into(), 15010))
        );
        assert_eq!(
            v10.ads_address("p.service.consul:15007", true),
            Some(("p.service.consul".into(), 15011))
        );
        assert_eq!(
            v11.ads_address("p.service.consul:15007", false),
            Some(("p.service.consul".into(), 15007))
        );
        assert_eq!(v11.ads_address("nonsense", false), None);
    }
}
