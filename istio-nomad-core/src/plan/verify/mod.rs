//! The data-path check: would the planned mesh carry traffic?
//!
//! [`verify`] takes a [`Plan`] and, for every meshed group, works out what Nomad will register
//! in Consul ([`nomad`]: address and port per network mode and `address_mode`) and what
//! Istio's Pilot of the spec's release makes of that catalog ([`pilot`]: instances matched to a
//! proxy by IP, listeners per registered port, the protocol source, the ADS port). It reports
//! every place where traffic would stop, as typed [`Finding`]s with the group or service path:
//!
//! | kind | severity | what stops |
//! |---|---|---|
//! | [`FindingKind::NoInboundListener`] | error | no registered instance has the proxy's IP, so Pilot gives the proxy no inbound listener |
//! | [`FindingKind::NoOutboundListener`] | error | callers dial the port the app listens on, but Pilot's listeners for the service are on other (registered) ports |
//! | [`FindingKind::SharedPort`] | error | a port several services share is not HTTP for Pilot, so one TCP listener takes all their traffic (Istio 1.1+ with no `protocol` service meta) |
//! | [`FindingKind::ProtocolIgnored`] | error / warning | Istio 1.0 reads the protocol from the Consul node meta, not the service meta the job sets |
//! | [`FindingKind::DefaultProtocol`] | warning | Istio 1.1+ without `protocol` service meta: TCP |
//! | [`FindingKind::NotRegistered`] | error | a meshed service Nomad does not put in Consul (other provider, no port, Nomad's own address error) |
//! | [`FindingKind::AdsPort`] | error | the proxy's discovery address does not reach Pilot's ADS port |
//! | [`FindingKind::Unresolvable`] | error / warning | a name the proxy or the app dials resolves to nothing |
//! | [`FindingKind::Unreachable`] | warning (error when live) | allocation addresses that other nodes cannot reach |
//! | [`FindingKind::NotCaptured`] | warning | the interception rules let the app's port bypass the proxy |
//! | [`FindingKind::UnsupportedVersion`] | error | the Istio release has no Consul registry |
//!
//! [`verify`] is pure (no I/O); [`verify_live`](crate::install::verify_live) reads the Consul catalog and Nomad's nodes
//! through the backend traits instead of predicting them.
//!
//! ```
//! use istio_nomad_core::{plan::plan_unverified, plan::verify::verify, spec::MeshSpec};
//!
//! let spec = MeshSpec::from_file("../examples/bookinfo.mesh.hcl")?;
//! let report = verify(&plan_unverified(&spec)?);
//! assert!(!report.has_errors(), "{report}");
//! # Ok::<(), istio_nomad_core::Error>(())
//! ```

pub mod pilot;

use crate::error::{Result, ValidationErrors};
use crate::nomad::registration::{
    self as nomad, AddressSource, GroupNetwork, PortSource, Registration,
};
use crate::nomad::{Job, TaskGroup};
use crate::plan::sidecar::{self, PROXY_TASK};
use crate::plan::Plan;
use pilot::{PilotModel, Protocol, ADS_MTLS_PORT, ADS_PORT};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// How bad a finding is: errors stop `plan`, warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Traffic stops.
    Error,
    /// Traffic may stop, depending on what the plan cannot see (the cluster, the app).
    Warning,
}

/// What a finding is about (see the module table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    /// A proxy gets no inbound listener.
    NoInboundListener,
    /// The port callers dial has no outbound listener.
    NoOutboundListener,
    /// A non-HTTP port shared by several services.
    SharedPort,
    /// Istio 1.0 ignores the service meta protocol.
    ProtocolIgnored,
    /// Istio 1.1+ defaults to TCP.
    DefaultProtocol,
    /// A meshed service is not in Consul's catalog.
    NotRegistered,
    /// The discovery address misses Pilot's ADS port.
    AdsPort,
    /// A name resolves to nothing.
    Unresolvable,
    /// An address other nodes cannot reach.
    Unreachable,
    /// Traffic bypasses the proxy.
    NotCaptured,
    /// The Istio release has no Consul registry.
    UnsupportedVersion,
}

impl FindingKind {
    /// The kebab-case name (`no-inbound-listener`).
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::NoInboundListener => "no-inbound-listener",
            FindingKind::NoOutboundListener => "no-outbound-listener",
            FindingKind::SharedPort => "shared-port",
            FindingKind::ProtocolIgnored => "protocol-ignored",
            FindingKind::DefaultProtocol => "default-protocol",
            FindingKind::NotRegistered => "not-registered",
            FindingKind::AdsPort => "ads-port",
            FindingKind::Unresolvable => "unresolvable",
            FindingKind::Unreachable => "unreachable",
            FindingKind::NotCaptured => "not-captured",
            FindingKind::UnsupportedVersion => "unsupported-version",
        }
    }
}

impl fmt::Display for FindingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One place where traffic would stop.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Finding {
    /// How bad.
    pub severity: Severity,
    /// What.
    pub kind: FindingKind,
    /// Where: the group or service path (`job[reviews].group[reviews-v1].service[0]`).
    pub path: String,
    /// Why, and what to change.
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{sev} [{}] {}: {}", self.kind, self.path, self.message)
    }
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The Istio release the plan was checked against.
    pub istio_version: String,
    /// `predicted` (from the plan alone) or `live` (from the servers in [`Report::source`]).
    pub mode: &'static str,
    /// What the catalog came from: the plan, or the servers read.
    pub source: String,
    /// What Nomad registers in Consul for the plan's groups (predicted from the plan).
    pub registrations: Vec<Registration>,
    /// The findings, errors first, then by path.
    pub findings: Vec<Finding>,
}

impl Report {
    /// True when a finding is an error.
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }

    /// The errors.
    pub fn errors(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
    }

    /// The findings as JSON: `{"istio_version", "mode", "source", "findings": [{"severity",
    /// "kind", "path", "message"}], "registrations": [...]}`.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self).map_err(|source| crate::Error::Encode {
            what: "verify report",
            source,
        })
    }

    /// The errors as a validation error (each finding's path, `[kind] message`), or `Ok`.
    pub fn into_result(self) -> Result<Self> {
        let mut e = ValidationErrors::new();
        for f in self.errors() {
            e.add(
                f.path.clone(),
                format!(
                    "[{}] {} (checked by verify; see `mesh verify`)",
                    f.kind, f.message
                ),
                f.kind,
            );
        }
        e.into_result()?;
        Ok(self)
    }

    fn sort(&mut self) {
        self.findings.sort();
        self.findings.dedup();
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let errors = self.errors().count();
        writeln!(
            f,
            "verify ({}, Istio {}, {}): {} error(s), {} warning(s)",
            self.mode,
            self.istio_version,
            self.source,
            errors,
            self.findings.len() - errors
        )?;
        for x in &self.findings {
            writeln!(f, "  {x}")?;
        }
        Ok(())
    }
}

/// Checks a plan (see the module docs). Pure: nothing is read or written.
pub fn verify(plan: &Plan) -> Report {
    let mut v = Verifier::new(plan);
    v.run_predicted();
    v.finish("predicted", "predicted from the plan".into())
}

/// A meshed group of the plan, with what the check needs of it.
pub(crate) struct MeshedGroup<'a> {
    pub group: &'a TaskGroup,
    pub path: String,
    pub network: GroupNetwork,
    pub registrations: Vec<Registration>,
}

pub(crate) struct Verifier<'a> {
    pub plan: &'a Plan,
    pub model: Option<PilotModel>,
    pub registrations: Vec<Registration>,
    pub meshed: Vec<MeshedGroup<'a>>,
    pub findings: Vec<Finding>,
}

fn job_path(job: &Job) -> String {
    format!("job[{}]", job.id())
}

/// The Consul service name in a `[tag.]<name>.service[.<dc>].consul` DNS name (the form
/// Istio's `serviceHostname` comment gives, `pilot/pkg/serviceregistry/consul/conversion.go`).
/// The finding for services that share a registered port while one of them is not HTTP
/// (`pilot/pkg/networking/core/v1alpha3/listener.go` `buildSidecarOutboundListeners`, 1.0.6
/// and 1.3.8: HTTP services share 0.0.0.0:port, a TCP service takes the listener or loses it),
/// or `None` when the port is not shared or every service on it is HTTP. `name` is the
/// service whose traffic can go astray.
pub(crate) fn shared_port_message<'a>(
    port: u16,
    services: impl IntoIterator<Item = (&'a str, pilot::Protocol)>,
    name: &str,
    model: &pilot::PilotModel,
) -> Option<String> {
    let services: Vec<(&str, pilot::Protocol)> = services.into_iter().collect();
    if services.len() < 2 || services.iter().all(|(_, p)| p.is_http()) {
        return None;
    }
    let list: Vec<String> = services
        .iter()
        .map(|(n, p)| format!("{n} ({})", p.as_str()))
        .collect();
    let source = if model.protocol_source() == pilot::ProtocolSource::NodeMeta {
        ", read from node meta by Istio 1.0"
    } else {
        ""
    };
    Some(format!(
        "port {port} is registered by {}; Pilot shares one 0.0.0.0:{port} listener among HTTP services only, and a non-HTTP service there takes the listener (or loses it), so traffic for {name:?} can reach another service; give every service on a shared port an HTTP protocol (service meta \"protocol\"{source}) or its own port",
        list.join(", "),
    ))
}

pub(crate) fn consul_service_of(host: &str) -> Option<&str> {
    let labels: Vec<&str> = host.trim_end_matches('.').split('.').collect();
    if labels.last() != Some(&"consul") {
        return None;
    }
    let at = labels.iter().position(|l| *l == "service")?;
    at.checked_sub(1).map(|i| labels[i])
}

/// The value after `flag` in the proxy task's arguments.
/// Where the proxy task of a group carries its settings: `config.args` (flags, up to Istio 1.5)
/// or `env[PROXY_CONFIG]` (1.6 and later).
fn proxy_settings_path(g: &TaskGroup) -> &'static str {
    let in_env = g
        .find_task(PROXY_TASK)
        .is_some_and(|t| t.env.contains_key("PROXY_CONFIG"));
    if in_env {
        "env[PROXY_CONFIG]"
    } else {
        "config.args"
    }
}

pub(crate) fn proxy_arg(g: &TaskGroup, flag: &str) -> Option<String> {
    let task = g.find_task(PROXY_TASK)?;
    let from_args = task
        .config
        .get("args")
        .and_then(Value::as_array)
        .and_then(|args| {
            let i = args.iter().position(|a| a.as_str() == Some(flag))?;
            args.get(i + 1)?.as_str().map(str::to_owned)
        });
    if from_args.is_some() {
        return from_args;
    }
    // From Istio 1.6 the proxy's settings travel in the `PROXY_CONFIG` environment variable, a
    // ProxyConfig in JSON (`pilot/cmd/pilot-agent/main.go` at 1.6.0 registers it; see
    // `crate::plan::sidecar::tasks::proxy_config_json`).
    let cfg: Value = serde_json::from_str(task.env.get("PROXY_CONFIG")?).ok()?;
    let field = match flag {
        "--discoveryAddress" => cfg.get("discoveryAddress"),
        "--controlPlaneAuthPolicy" => cfg.get("controlPlaneAuthPolicy"),
        "--zipkinAddress" => cfg
            .get("tracing")
            .and_then(|t| t.get("zipkin"))
            .and_then(|z| z.get("address")),
        _ => None,
    };
    field.and_then(Value::as_str).map(str::to_owned)
}

impl<'a> Verifier<'a> {
    pub(crate) fn new(plan: &'a Plan) -> Self {
        let mut registrations = Vec::new();
        let mut meshed = Vec::new();
        let mut findings = Vec::new();
        for pj in &plan.jobs {
            let jp = job_path(&pj.job);
            for g in &pj.job.task_groups {
                let gp = format!("{jp}.group[{}]", g.name());
                let (regs, skipped) = nomad::group_registrations(pj.job.id(), g, &gp);
                registrations.extend(regs.iter().cloned());
                if !sidecar::is_injected(g) {
                    continue;
                }
                for s in skipped {
                    findings.push(Finding {
                        severity: Severity::Error,
                        kind: FindingKind::NotRegistered,
                        path: s.path,
                        message: format!(
                            "service {:?} of a meshed group is not in Consul's catalog, so Pilot never sees it: {}",
                            s.name, s.reason
                        ),
                    });
                }
                meshed.push(MeshedGroup {
                    group: g,
                    path: gp,
                    network: GroupNetwork::of(g),
                    registrations: regs,
                });
            }
        }
        Verifier {
            plan,
            model: Some(PilotModel::of(&plan.spec.istio_version)),
            registrations,
            meshed,
            findings,
        }
    }

    pub(crate) fn push(
        &mut self,
        severity: Severity,
        kind: FindingKind,
        path: impl Into<String>,
        message: String,
    ) {
        self.findings.push(Finding {
            severity,
            kind,
            path: path.into(),
            message,
        });
    }

    pub(crate) fn finish(mut self, mode: &'static str, source: String) -> Report {
        let mut report = Report {
            istio_version: self.plan.spec.istio_version.to_string(),
            mode,
            source,
            registrations: std::mem::take(&mut self.registrations),
            findings: std::mem::take(&mut self.findings),
        };
        report.sort();
        report
    }

    /// The release check; false when nothing more can be said.
    pub(crate) fn check_version(&mut self) -> Option<PilotModel> {
        match self.model {
            Some(m) if m.has_consul_registry() => Some(m),
            _ => {
                self.push(
                    Severity::Error,
                    FindingKind::UnsupportedVersion,
                    "mesh.istio_version",
                    format!(
                        "Istio {} has no Consul service registry (it exists from 1.0.0 to 1.7.x; 1.8 removed it): Pilot would see no service at all; choose a release from 1.0.0 to 1.7.x",
                        self.plan.spec.istio_version
                    ),
                );
                None
            }
        }
    }

    fn run_predicted(&mut self) {
        let Some(model) = self.check_version() else {
            return;
        };
        self.check_listeners(model);
        self.check_protocols(model);
        self.check_discovery(model, true);
        self.check_names(true);
        self.check_reachability();
        self.check_capture();
    }

    /// Inbound (instances matched by IP) and outbound (listeners per registered port).
    fn check_listeners(&mut self, model: PilotModel) {
        // Pilot's service ports: the registered ServicePorts of every instance
        // (`pilot/pkg/serviceregistry/consul/conversion.go` `convertService`, Istio 1.0.6 and
        // 1.3.8). A dynamic port differs per allocation (Nomad picks it at placement:
        // `nomad/structs/network.go` `AssignPorts`, v1.6.9): no caller can know it.
        let mut ports: BTreeMap<&str, BTreeSet<PortSource>> = BTreeMap::new();
        for r in &self.registrations {
            ports
                .entry(&r.name)
                .or_default()
                .insert(r.endpoint.port.clone());
        }
        let mut out = Vec::new();
        for m in &self.meshed {
            // pilot-agent's IP: the first private address of its namespace (1.0.x), all of
            // them (1.1+): in a bridge or CNI group the allocation's, on the host network the
            // node's (`pilot/cmd/pilot-agent/main.go`: 1.0.6 `proxy.GetPrivateIP`, 1.3.8
            // `proxy.GetPrivateIPs`).
            let proxy_ip = if m.network.has_alloc_address() {
                AddressSource::Allocation
            } else {
                AddressSource::Node
            };
            // `pilot/pkg/serviceregistry/consul/controller.go` `GetProxyServiceInstances`
            // (1.0.6, 1.3.8): instances whose address equals one of the proxy's IPs.
            let own: Vec<&Registration> = m
                .registrations
                .iter()
                .filter(|r| same_address(&r.endpoint.address, &proxy_ip))
                .collect();
            if own.is_empty() && !m.registrations.is_empty() {
                let what: BTreeSet<String> = m
                    .registrations
                    .iter()
                    .map(|r| format!("{} at {}", r.name, r.endpoint.address))
                    .collect();
                out.push((
                    Severity::Error,
                    FindingKind::NoInboundListener,
                    m.path.clone(),
                    format!(
                        "Pilot finds a proxy's own instances by IP equality with the proxy's IP ({proxy_ip}: pilot-agent reports the {} address{} of its network namespace), but Nomad registers {}; the proxy gets no inbound listener and drops the traffic it captures; register the group's services with address_mode = \"alloc\" (the default of injection)",
                        if model.reports_all_private_ips() { "private" } else { "first private" },
                        if model.reports_all_private_ips() { "es" } else { "" },
                        what.into_iter().collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
            for r in &m.registrations {
                let Some(dialed) = r.app_port else {
                    out.push((
                        Severity::Error,
                        FindingKind::NoOutboundListener,
                        r.path.clone(),
                        format!(
                            "service {:?} listens on a dynamic port (port {:?} has no `to` or static value), so callers cannot dial a known port and Pilot's listener ports change with every allocation; give the port `to = <the app's port>`",
                            r.name, r.port_label
                        ),
                    ));
                    continue;
                };
                let registered = ports.get(r.name.as_str()).cloned().unwrap_or_default();
                if !registered.contains(&PortSource::Fixed(dialed)) {
                    let list: Vec<String> = registered.iter().map(ToString::to_string).collect();
                    out.push((
                        Severity::Error,
                        FindingKind::NoOutboundListener,
                        r.path.clone(),
                        format!(
                            "callers dial {}.service.consul:{dialed} (the port the app listens on), but Pilot builds the listeners of {:?} from its registered ports ({}), so nothing catches port {dialed} and the traffic goes to the proxy's fallback; register the port the app listens on (address_mode = \"alloc\" with `to = {dialed}`, or a static port {dialed} in host mode)",
                            r.name,
                            r.name,
                            list.join(", ")
                        ),
                    ));
                }
            }
        }
        for (s, k, p, msg) in out {
            self.push(s, k, p, msg);
        }
    }

    /// Protocol source per release, and the listener conflicts of shared ports.
    fn check_protocols(&mut self, model: PilotModel) {
        let meshed_paths: BTreeSet<&str> = self
            .meshed
            .iter()
            .flat_map(|m| m.registrations.iter().map(|r| r.path.as_str()))
            .collect();
        let mut out = Vec::new();
        // Per service and port, the protocol Pilot gives it (the first instance wins:
        // `pilot/pkg/serviceregistry/consul/conversion.go` `convertService`; the meta it reads:
        // `convertPort` callers, `NodeMeta` in 1.0.6, `ServiceMeta` in 1.3.8).
        let mut by_port: BTreeMap<u16, BTreeMap<&str, Protocol>> = BTreeMap::new();
        for r in &self.registrations {
            let PortSource::Fixed(port) = r.endpoint.port else {
                continue;
            };
            let declared = r.meta.get("protocol").map(String::as_str);
            // Nomad registers services, not nodes: its service registration carries no node
            // meta (`command/agent/consul/service_client.go` `serviceRegs`, v1.6.9), so
            // predicted, the node meta is absent.
            let proto = model.protocol(None, declared);
            by_port
                .entry(port)
                .or_default()
                .entry(&r.name)
                .or_insert(proto);
            if !meshed_paths.contains(r.path.as_str()) {
                continue;
            }
            match (model.protocol_source(), declared) {
                (pilot::ProtocolSource::NodeMeta, Some(d)) if Protocol::parse(d) != Protocol::Http => {
                    let p = Protocol::parse(d);
                    let severity = if p.is_http() { Severity::Warning } else { Severity::Error };
                    out.push((
                        severity,
                        FindingKind::ProtocolIgnored,
                        r.path.clone(),
                        format!(
                            "Istio {} reads a service's protocol from the Consul node meta \"protocol\" (default http), not from the service meta, so {:?} is treated as http, not {d}; set node_meta {{ protocol = \"{d}\" }} on the Consul agents of the nodes that run it, or use Istio 1.1 or later",
                            self.plan.spec.istio_version, r.name
                        ),
                    ));
                }
                (pilot::ProtocolSource::ServiceMeta, None) => out.push((
                    Severity::Warning,
                    FindingKind::DefaultProtocol,
                    r.path.clone(),
                    format!(
                        "service {:?} sets no \"protocol\" service meta, so Istio {} treats it as tcp (no HTTP routing); set meta {{ protocol = \"http\" }} for HTTP services",
                        r.name, self.plan.spec.istio_version
                    ),
                )),
                _ => {}
            }
        }
        // `pilot/pkg/networking/core/v1alpha3/listener.go` `buildSidecarOutboundListeners`
        // (1.0.6, 1.3.8): HTTP services share 0.0.0.0:port; a TCP service listens on the
        // service address, 0.0.0.0 for Consul services (`conversion.go` `convertService`
        // leaves `Address` at 0.0.0.0), so a second service on that port conflicts and loses.
        for r in &self.registrations {
            let PortSource::Fixed(port) = r.endpoint.port else {
                continue;
            };
            if !meshed_paths.contains(r.path.as_str()) {
                continue;
            }
            let Some(services) = by_port.get(&port) else {
                continue;
            };
            let services = services.iter().map(|(n, p)| (*n, *p));
            if let Some(msg) = shared_port_message(port, services, &r.name, &model) {
                out.push((
                    Severity::Error,
                    FindingKind::SharedPort,
                    r.path.clone(),
                    msg,
                ));
            }
        }
        for (s, k, p, msg) in out {
            self.push(s, k, p, msg);
        }
    }

    /// The groups that register a Consul service name. A `<name>.service.consul` name
    /// resolves only to the catalog's instances of that service (hashicorp/consul
    /// `agent/dns.go` `handleServiceQuery`: `lookupServiceNodes` over the health endpoint's
    /// `ServiceNodes`, and `errNameNotFound` when there is none), so a name no job registers
    /// resolves to nothing.
    fn registrants(&self, name: &str) -> Vec<&Registration> {
        self.registrations
            .iter()
            .filter(|r| r.name == name)
            .collect()
    }

    /// pilot-agent's discovery address: ADS port per release (`pkg/bootstrap/bootstrap_config.go`:
    /// 1.0.6 `WriteBootstrap` forces 15010/15011 on the discovery host, 1.3.8
    /// `writeBootstrapForPlatform` uses the address as given), and (`predicted`) a Pilot of the
    /// plan behind the name that publishes that port.
    pub(crate) fn check_discovery(&mut self, model: PilotModel, predicted: bool) {
        let mut out = Vec::new();
        let mut seen = BTreeSet::new();
        for m in &self.meshed {
            let Some(discovery) = proxy_arg(m.group, "--discoveryAddress") else {
                continue;
            };
            let discovery = discovery.as_str();
            let mtls =
                proxy_arg(m.group, "--controlPlaneAuthPolicy").as_deref() == Some("MUTUAL_TLS");
            let path = format!(
                "{}.task[{PROXY_TASK}].{}",
                m.path,
                proxy_settings_path(m.group)
            );
            let Some((host, port)) = model.ads_address(discovery, mtls) else {
                out.push((
                    Severity::Error,
                    FindingKind::AdsPort,
                    path,
                    format!("--discoveryAddress {discovery:?} is not host:port"),
                ));
                continue;
            };
            let want = if mtls { ADS_MTLS_PORT } else { ADS_PORT };
            if port != want {
                out.push((
                    Severity::Error,
                    FindingKind::AdsPort,
                    path.clone(),
                    format!(
                        "pilot-agent {} dials ADS at the discovery address as given ({host}:{port}), but Pilot serves ADS on {want}{}; set the discovery address to {host}:{want}",
                        self.plan.spec.istio_version,
                        if mtls { " with mTLS" } else { "" }
                    ),
                ));
            }
            if !predicted || !seen.insert((host.clone(), port)) {
                continue;
            }
            if let Some(name) = consul_service_of(&host) {
                let regs = self.registrants(name);
                if regs.is_empty() {
                    out.push((
                        Severity::Error,
                        FindingKind::Unresolvable,
                        path,
                        format!("the discovery host {host} names Consul service {name:?}, which no job of the plan registers, so the proxy never reaches Pilot"),
                    ));
                } else if port == want && !regs.iter().any(|r| publishes(self.plan, r, want)) {
                    out.push((
                        Severity::Error,
                        FindingKind::AdsPort,
                        path,
                        format!("{host} resolves to the address Nomad registers for {name:?}, but its group publishes no port {want} there (Pilot's ADS)"),
                    ));
                }
            }
        }
        for (s, k, p, msg) in out {
            self.push(s, k, p, msg);
        }
    }

    /// Names the proxy and the app dial (`predicted`: also Zipkin among the plan's services).
    /// Bookinfo calls `http://reviews:9080`; Istio's own Consul sample gave its containers
    /// `dns_search: service.consul` for that (`samples/bookinfo/platform/consul/bookinfo.yaml`,
    /// 1.0.6).
    pub(crate) fn check_names(&mut self, predicted: bool) {
        let mut out = Vec::new();
        for m in &self.meshed {
            if let Some(z) = proxy_arg(m.group, "--zipkinAddress").filter(|_| predicted) {
                let host = z.rsplit_once(':').map_or(z.as_str(), |(h, _)| h);
                if let Some(name) = consul_service_of(host) {
                    if self.registrants(name).is_empty() {
                        out.push((
                            Severity::Warning,
                            FindingKind::Unresolvable,
                            format!(
                                "{}.task[{PROXY_TASK}].{}",
                                m.path,
                                proxy_settings_path(m.group)
                            ),
                            format!("the Zipkin host {host} names Consul service {name:?}, which no job of the plan registers; traces are lost"),
                        ));
                    }
                }
            }
            let searches = m
                .group
                .networks
                .first()
                .and_then(|n| n.dns.as_ref())
                .map(|d| d.searches.clone())
                .unwrap_or_default();
            if m.network.has_alloc_address()
                && !searches
                    .iter()
                    .any(|s| s.trim_end_matches('.').ends_with("service.consul"))
            {
                out.push((
                    Severity::Warning,
                    FindingKind::Unresolvable,
                    format!("{}.network[0].dns", m.path),
                    "the group sets no \"service.consul\" DNS search domain, so an app that calls other services by short name (http://reviews:9080, as Bookinfo does) cannot resolve them; add dns { searches = [\"service.consul\"] } to the group network and make Consul DNS reachable from the allocation".into(),
                ));
            }
        }
        for (s, k, p, msg) in out {
            self.push(s, k, p, msg);
        }
    }

    /// Allocation addresses other nodes cannot reach: Nomad's bridge network uses
    /// `bridge_network_subnet`, default 172.26.64.0/20 on every client
    /// (`client/allocrunner/networking_bridge_linux.go`, v1.6.9).
    fn check_reachability(&mut self) {
        let allocs: i64 = self
            .meshed
            .iter()
            .map(|m| m.group.count.unwrap_or(1).max(0))
            .sum();
        if allocs < 2 || self.plan.spec.sidecar.bridge_routable {
            return;
        }
        let mut out = Vec::new();
        for m in &self.meshed {
            if m.network == GroupNetwork::Bridge
                && m.registrations
                    .iter()
                    .any(|r| r.endpoint.address == AddressSource::Allocation)
            {
                out.push((
                    Severity::Warning,
                    FindingKind::Unreachable,
                    format!("{}.network[0].mode", m.path),
                    format!(
                        "the group registers its allocation's address from Nomad's bridge network, which uses {} on every client unless the client sets bridge_network_subnet: with more than one node, allocations on other nodes cannot reach it; give each client its own bridge_network_subnet with routes between the nodes (then set sidecar {{ bridge_routable = true }}), or use a CNI network with cluster-wide addresses (sidecar {{ cni_network = \"<name>\" }})",
                        nomad::DEFAULT_BRIDGE_SUBNET
                    ),
                ));
            }
        }
        for (s, k, p, msg) in out {
            self.push(s, k, p, msg);
        }
    }

    /// The rules must send the app's port to the proxy (`tools/deb/istio-iptables.sh`, Istio
    /// 1.0.6: `-b "*"` captures every port but 22 and the `-d` exclusions, a list only those
    /// ports).
    pub(crate) fn check_capture(&mut self) {
        let ic = self.plan.spec.sidecar.intercept.clone();
        let mut out = Vec::new();
        for m in &self.meshed {
            for r in &m.registrations {
                let Some(port) = r.app_port else { continue };
                let captured = match &ic.inbound_ports {
                    crate::iptables::PortSelection::All => {
                        port != 22 && !ic.exclude_inbound_ports.contains(&port)
                    }
                    crate::iptables::PortSelection::List(l) => l.contains(&port),
                    crate::iptables::PortSelection::None => false,
                };
                if !captured {
                    out.push((
                        Severity::Warning,
                        FindingKind::NotCaptured,
                        r.path.clone(),
                        format!("the interception rules do not capture inbound port {port}, so traffic to {:?} reaches the app without its proxy (no mTLS, policy or telemetry)", r.name),
                    ));
                }
            }
        }
        for (s, k, p, msg) in out {
            self.push(s, k, p, msg);
        }
    }
}

/// Two registered addresses are equal for Pilot: within one group (one allocation), the same
/// source; the node's address and Consul's fallback to it are the same (an instance's
/// address is `ServiceAddress`, else the node's `Address`:
/// `pilot/pkg/serviceregistry/consul/conversion.go` `convertInstance`, 1.0.6 and 1.3.8; Nomad
/// leaves the address empty for a numeric port label in host mode and a driver without an
/// address: `client/serviceregistration/address.go` `GetAddress`, v1.6.9).
fn same_address(a: &AddressSource, b: &AddressSource) -> bool {
    a == b || (a.is_node() && b.is_node())
}

/// True when the group behind `r` accepts connections to `port` at the address Nomad
/// registers: a static host port for node addresses, the port the app listens on for
/// allocation addresses (the port `GetAddress` returns per mode:
/// `client/serviceregistration/address.go`, v1.6.9).
fn publishes(plan: &Plan, r: &Registration, port: u16) -> bool {
    let Some(g) = plan.job(&r.job).and_then(|pj| pj.job.find_group(&r.group)) else {
        return false;
    };
    let ports = nomad::allocated_ports(g.networks.first());
    match r.endpoint.address {
        AddressSource::Allocation => ports
            .iter()
            .any(|p| nomad::inside_port(&ports, &p.label) == Some(port)),
        _ => ports.iter().any(|p| p.value == Some(port)),
    }
}
