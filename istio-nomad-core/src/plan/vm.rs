//! The sidecar bundle for a service that runs on a VM or bare-metal host, outside Nomad.
//!
//! For every service a mesh spec marks `vm = true` (with the host's `vm_address`), [`bundle`]
//! produces the files of Istio's VM package (`istio-sidecar.deb`, installed under
//! `/var/lib/istio/envoy/` and `/lib/systemd/system/`), filled in for this mesh, and the service
//! definition the host's Consul agent registers:
//!
//! | file | installed as | contents |
//! |---|---|---|
//! | `sidecar.env` | `/var/lib/istio/envoy/sidecar.env` | the service's settings in Istio's variables (`ISTIO_SERVICE`, `ISTIO_SVC_IP`, `ISTIO_INBOUND_PORTS`, `ENVOY_PORT`, ...) |
//! | `cluster.env` | `/var/lib/istio/envoy/cluster.env` | the mesh's settings (`ISTIO_SERVICE_CIDR`, `ISTIO_CP_AUTH`, `PILOT_ADDRESS`, and `PROXY_CONFIG` from 1.6) |
//! | `istio.service` | `/lib/systemd/system/istio.service` | the systemd unit: rules applied before the proxy starts, removed after it stops, `Restart=always` |
//! | `istio-iptables.rules` | `/var/lib/istio/envoy/` | the interception rules, `iptables-restore --noflush` input |
//! | `istio-iptables.cleanup.rules` | `/var/lib/istio/envoy/` | their exact removal |
//! | `consul-service.json` | the Consul agent's configuration directory (`/etc/consul.d/`) | the service at the host's address and each port, with the tags and meta Pilot reads |
//!
//! The env files use the variables the chosen release's `istio-start.sh` reads
//! (`tools/deb/istio-start.sh` up to 1.1, `tools/packaging/common/istio-start.sh` later):
//! `PILOT_ADDRESS` from 1.0.1 (1.0.0's script only builds `istio-pilot.<namespace>:<port>`, so
//! there the address travels in `ISTIO_AGENT_FLAGS`), `ISTIO_CP_AUTH`, `ISTIO_SVC_IP`, and from
//! 1.6, whose pilot-agent takes no `--discoveryAddress`, `PROXY_CONFIG`. The unit runs
//! pilot-agent with the same settings (`--ip` is the host's address, so the proxy reports the
//! address Consul registered, which Pilot matches by equality).
//! [`crate::iptables::InterceptConfig::from_env_files`] reads the env files back into the
//! interception settings the rules were rendered from.
//!
//! Pilot reads a port's protocol from the service meta from Istio 1.1, and from the Consul node
//! meta in 1.0 (`pilot/pkg/serviceregistry/consul/conversion.go`); the VM is a Consul node of
//! its own, so for 1.0 the definition also sets the agent's `node_meta` (one protocol per node).
//!
//! On a VM only the service's own ports are captured inbound (Istio's `ISTIO_INBOUND_PORTS`),
//! and root's traffic bypasses the proxy (as Istio's VM scripts do), so SSH, the package
//! manager and node agents keep working. The rules exempt the proxy's uid (1337 unless the
//! settings say otherwise): Istio's package creates the `istio-proxy` user with a dynamic uid,
//! so create it first with `useradd --system --uid 1337 --home-dir /var/lib/istio istio-proxy`.

use crate::error::{Error, Result};
use crate::iptables::{CidrSelection, InterceptConfig, PortSelection};
use crate::istio::ProxyConfigInput;
use crate::plan::sidecar::{rules, tasks, GroupRules, SidecarOptions, ADMIN_PORT, STATUS_PORT};
use crate::plan::VmBundleFiles;
use crate::spec::{MeshSpec, ServiceSpec};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Where the package keeps its configuration on the host.
pub const CONFIG_DIR: &str = "/var/lib/istio/envoy";
/// The bundle's Consul service definition (for the agent's configuration directory).
pub const CONSUL_FILE: &str = "consul-service.json";

/// One VM bundle, as typed values; [`VmBundle::files`] renders it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmBundle {
    /// The service.
    pub service: String,
    /// The mesh.
    pub mesh: String,
    /// `sidecar.env` variables, in order.
    pub sidecar_env: Vec<(String, String)>,
    /// `cluster.env` variables, in order.
    pub cluster_env: Vec<(String, String)>,
    /// The pilot-agent command line of the unit (after `pilot-agent proxy`).
    pub agent_args: String,
    /// The Consul agent's service definition (`consul-service.json`).
    pub consul: Value,
    /// The interception rules.
    pub rules: GroupRules,
    /// The proxy's uid, exempt from capture.
    pub proxy_uid: u32,
}

/// The interception settings of a VM service: the mesh's, capturing only the service's ports
/// inbound, with root bypassing the proxy.
pub fn vm_config(opts: &SidecarOptions, service: &ServiceSpec) -> InterceptConfig {
    let mut cfg = opts.effective_intercept();
    let ports: Vec<u16> = service
        .ports
        .iter()
        .filter_map(|p| u16::try_from(p.port).ok())
        .collect();
    cfg.inbound_ports = PortSelection::List(ports);
    cfg.exclude_inbound_ports.clear();
    cfg.bypass_root = true;
    cfg
}

/// The bundle of one VM service.
pub fn bundle(spec: &MeshSpec, service: &ServiceSpec, opts: &SidecarOptions) -> Result<VmBundle> {
    let sp = format!("mesh.service[{}]", service.name);
    if !service.vm {
        return Err(Error::field(
            format!("{sp}.vm"),
            "a VM bundle is made only for services marked vm = true",
            false,
        ));
    }
    let address = service
        .vm_address
        .clone()
        .filter(|a| a.parse::<std::net::IpAddr>().is_ok())
        .ok_or_else(|| {
            Error::field(
                format!("{sp}.vm_address"),
                "a VM service needs its host's IP address",
                service.vm_address.as_deref().unwrap_or(""),
            )
        })?;
    let facts = opts.facts();
    let cfg = vm_config(opts, service);
    let rules = rules::render(&cfg)?;
    let list = |v: &[u16]| v.iter().map(u16::to_string).collect::<Vec<_>>().join(",");
    let nets = |v: &[crate::iptables::IpNet]| {
        v.iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    let flags_mode = facts.proxy_config == ProxyConfigInput::Flags;
    let reads_pilot_address = opts.istio_version.vm_reads_pilot_address();
    let mut agent_flags = vec!["--serviceregistry Consul".to_string()];
    if flags_mode {
        if !reads_pilot_address {
            agent_flags.push(format!("--discoveryAddress {}", opts.discovery_address()));
        }
        agent_flags.push(format!("--proxyAdminPort {ADMIN_PORT}"));
        if opts.has_status_port() {
            agent_flags.push(format!("--statusPort {STATUS_PORT}"));
        }
        if let Some(z) = &opts.spec.zipkin_address {
            agent_flags.push(format!("--zipkinAddress {z}"));
        }
    }
    let mut sidecar_env = vec![
        ("ISTIO_SERVICE".to_string(), service.name.clone()),
        ("ISTIO_NAMESPACE".into(), spec.namespace.clone()),
        ("ISTIO_SVC_IP".into(), address.clone()),
        (
            "ISTIO_INBOUND_INTERCEPTION_MODE".into(),
            cfg.mode.to_string(),
        ),
        (
            "ISTIO_INBOUND_PORTS".into(),
            match &cfg.inbound_ports {
                PortSelection::All => "*".into(),
                PortSelection::List(v) => list(v),
                PortSelection::None => String::new(),
            },
        ),
        ("ENVOY_PORT".into(), cfg.proxy_port.to_string()),
        (
            "INBOUND_CAPTURE_PORT".into(),
            cfg.inbound_capture_port.to_string(),
        ),
        ("ENVOY_USER".into(), "istio-proxy".into()),
        (
            "ISTIO_INBOUND_TPROXY_MARK".into(),
            cfg.tproxy_mark.to_string(),
        ),
        (
            "ISTIO_INBOUND_TPROXY_ROUTE_TABLE".into(),
            cfg.tproxy_route_table.to_string(),
        ),
        ("ISTIO_AGENT_FLAGS".into(), agent_flags.join(" ")),
    ];
    if !cfg.exclude_outbound_ports.is_empty() {
        sidecar_env.push((
            "ISTIO_LOCAL_OUTBOUND_PORTS_EXCLUDE".into(),
            list(&cfg.exclude_outbound_ports),
        ));
    }
    if cfg.ipv6 {
        sidecar_env.push(("ENABLE_INBOUND_IPV6".into(), "true".into()));
    }
    let mut cluster_env = vec![
        (
            "ISTIO_SERVICE_CIDR".to_string(),
            match &cfg.outbound_cidrs {
                CidrSelection::All => "*".into(),
                CidrSelection::List(v) => nets(v),
                CidrSelection::None => String::new(),
            },
        ),
        ("ISTIO_SYSTEM_NAMESPACE".into(), spec.namespace.clone()),
        ("ISTIO_CP_AUTH".into(), "NONE".into()),
    ];
    if reads_pilot_address {
        cluster_env.push(("PILOT_ADDRESS".into(), opts.discovery_address()));
    }
    if facts.vm_proxy_config_env {
        cluster_env.push(("PROXY_CONFIG".into(), tasks::proxy_config_json(opts)));
    }
    if !cfg.exclude_outbound_cidrs.is_empty() {
        cluster_env.push((
            "ISTIO_SERVICE_EXCLUDE_CIDR".into(),
            nets(&cfg.exclude_outbound_cidrs),
        ));
    }
    let mut agent_args = "--serviceCluster ${ISTIO_SERVICE} --ip ${ISTIO_SVC_IP}".to_string();
    if flags_mode {
        if reads_pilot_address {
            agent_args.push_str(" --discoveryAddress ${PILOT_ADDRESS}");
        }
        agent_args.push_str(" --controlPlaneAuthPolicy ${ISTIO_CP_AUTH}");
    }
    agent_args.push_str(" $ISTIO_AGENT_FLAGS");
    Ok(VmBundle {
        service: service.name.clone(),
        mesh: spec.name.clone(),
        sidecar_env,
        cluster_env,
        agent_args,
        consul: consul_definition(service, &address, opts)?,
        proxy_uid: cfg.proxy_uids.first().copied().unwrap_or(1337),
        rules,
    })
}

/// The Consul agent configuration that registers a VM service: one entry of `services` per
/// port, at the host's address, with a TCP check, the `version|<v>` tag and the `protocol`
/// service meta Pilot reads (keys of `agent/config/config.go` in hashicorp/consul:
/// `ServiceDefinition{id, name, tags, address, meta, port, checks}`,
/// `CheckDefinition{id, name, tcp, interval, timeout}`, `Config.NodeMeta` as `node_meta`).
/// For Istio 1.0, which reads the protocol from the node meta only, the agent's `node_meta`
/// carries it too; a node has one, so the ports must agree.
pub fn consul_definition(
    service: &ServiceSpec,
    address: &str,
    opts: &SidecarOptions,
) -> Result<Value> {
    let host = if address.contains(':') {
        format!("[{address}]")
    } else {
        address.to_string()
    };
    let mut services = Vec::new();
    let mut protocols: Vec<(String, String)> = Vec::new();
    for p in &service.ports {
        let protocol = p
            .protocol
            .clone()
            .unwrap_or_else(|| service.protocol.clone());
        protocols.push((p.name.clone(), protocol.clone()));
        let id = format!("{}-{}", service.name, p.name);
        let mut def = json!({
            "id": id,
            "name": service.name,
            "address": address,
            "port": p.port,
            "meta": { "protocol": protocol },
            "checks": [{
                "id": format!("{id}-tcp"),
                "name": format!("{id}-tcp"),
                "tcp": format!("{host}:{}", p.port),
                "interval": "10s",
                "timeout": "2s",
            }],
        });
        if let Some(v) = &service.version {
            def["tags"] = json!([format!("version|{v}")]);
        }
        services.push(def);
    }
    let mut out = json!({ "services": services });
    if !opts.facts().protocol_in_service_meta() {
        if let Some((_, first)) = protocols.first() {
            if let Some((name, other)) = protocols.iter().find(|(_, p)| p != first) {
                return Err(Error::field(
                    format!("mesh.service[{}].port[{name}].protocol", service.name),
                    format!(
                        "Istio {} reads the protocol from the Consul node meta, one value per node, so every port of a VM service needs the same protocol (the first port's is {first})",
                        opts.istio_version
                    ),
                    other,
                ));
            }
            out["node_meta"] = json!({ "protocol": first });
        }
    }
    Ok(out)
}

/// The bundles of every `vm = true` service of a mesh, as the plan writes them.
pub fn bundles(spec: &MeshSpec, opts: &SidecarOptions) -> Result<Vec<VmBundleFiles>> {
    spec.services
        .iter()
        .filter(|s| s.vm)
        .map(|s| {
            bundle(spec, s, opts).map(|b| VmBundleFiles {
                service: b.service.clone(),
                files: b.files(),
            })
        })
        .collect()
}

/// Quotes a value for an env file read both by systemd's `EnvironmentFile=` and by `sh`
/// (`. sidecar.env`): plain when it needs nothing, else in double quotes.
fn env_value(v: &str) -> String {
    if !v.is_empty()
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "*,./:_-|".contains(c))
    {
        v.to_string()
    } else {
        let escaped: String = v
            .chars()
            .flat_map(|c| match c {
                '"' | '\\' | '$' | '`' => vec!['\\', c],
                c => vec![c],
            })
            .collect();
        format!("\"{escaped}\"")
    }
}

impl VmBundle {
    fn env_text(&self, title: &str, vars: &[(String, String)]) -> String {
        let mut out = format!("# {title}\n");
        let _ = writeln!(
            out,
            "# Generated by istio-nomad for service {:?} of mesh {:?}.",
            self.service, self.mesh
        );
        for (k, v) in vars {
            let _ = writeln!(out, "{k}={}", env_value(v));
        }
        out
    }

    /// `sidecar.env`.
    pub fn sidecar_env_text(&self) -> String {
        self.env_text(
            "Istio sidecar settings of this host (read by istio.service and istio-start.sh).",
            &self.sidecar_env,
        )
    }

    /// `cluster.env`.
    pub fn cluster_env_text(&self) -> String {
        self.env_text(
            "Istio mesh settings (read by istio.service and istio-start.sh).",
            &self.cluster_env,
        )
    }

    /// The systemd unit `istio.service`.
    pub fn unit_text(&self) -> String {
        let d = CONFIG_DIR;
        let rules = rules::RULES_FILE;
        let cleanup = rules::CLEANUP_FILE;
        let (v6_start, v6_stop) = if self.rules.restore6.is_some() {
            let (r6, c6) = (rules::RULES6_FILE, rules::CLEANUP6_FILE);
            (
                format!(
                    "ExecStartPre=+/bin/sh -c 'ip6tables-restore --noflush < {d}/{c6} 2>/dev/null || true'\n\
                     ExecStartPre=+/bin/sh -c 'ip6tables-restore --noflush < {d}/{r6}'\n"
                ),
                format!("ExecStopPost=+/bin/sh -c 'ip6tables-restore --noflush < {d}/{c6} 2>/dev/null || true'\n"),
            )
        } else {
            (String::new(), String::new())
        };
        format!(
            "[Unit]\n\
             Description=Istio sidecar of {svc} (mesh {mesh})\n\
             Wants=network-online.target\n\
             After=network-online.target\n\
             \n\
             [Service]\n\
             EnvironmentFile={d}/sidecar.env\n\
             EnvironmentFile={d}/cluster.env\n\
             # The proxy runs as istio-proxy (uid {uid}, which the rules exempt from capture);\n\
             # the rules are applied and removed with full privileges ('+').\n\
             User=istio-proxy\n\
             Group=istio-proxy\n\
             ExecStartPre=+/bin/sh -c 'iptables-restore --noflush < {d}/{cleanup} 2>/dev/null || true'\n\
             ExecStartPre=+/bin/sh -c 'iptables-restore --noflush < {d}/{rules}'\n\
             {v6_start}\
             ExecStart=/usr/local/bin/pilot-agent proxy {agent_args}\n\
             ExecStopPost=+/bin/sh -c 'iptables-restore --noflush < {d}/{cleanup} 2>/dev/null || true'\n\
             {v6_stop}\
             Restart=always\n\
             RestartSec=10\n\
             StartLimitInterval=0\n\
             \n\
             [Install]\n\
             WantedBy=multi-user.target\n",
            svc = self.service,
            mesh = self.mesh,
            uid = self.proxy_uid,
            v6_start = v6_start,
            v6_stop = v6_stop,
            agent_args = self.agent_args,
        )
    }

    /// Every file of the bundle: name -> contents.
    pub fn files(&self) -> BTreeMap<String, String> {
        let mut files = BTreeMap::new();
        files.insert("sidecar.env".into(), self.sidecar_env_text());
        files.insert("cluster.env".into(), self.cluster_env_text());
        files.insert("istio.service".into(), self.unit_text());
        files.insert(
            CONSUL_FILE.into(),
            serde_json::to_string_pretty(&self.consul).unwrap_or_default() + "\n",
        );
        for (name, text) in self.rules.files() {
            files.insert(name.to_string(), text.to_string());
        }
        files
    }
}
