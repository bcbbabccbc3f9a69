//! The data-path check against a running cluster: the Consul catalog and the Nomad nodes are
//! read through the backend traits instead of being predicted from the plan.

use crate::backend::consul::CatalogService;
use crate::backend::nomad::NodeInfo;
use crate::backend::QueryOptions;
use crate::error::Result;
use crate::install::Backends;
use crate::nomad::registration::{
    GroupNetwork, Registration, BRIDGE_CNI_PLUGINS, DEFAULT_BRIDGE_SUBNET,
};
use crate::plan::sidecar::PROXY_TASK;
use crate::plan::verify::pilot::Protocol;
use crate::plan::verify::{
    consul_service_of, proxy_arg, shared_port_message, FindingKind, Report, Severity, Verifier,
};
use crate::plan::Plan;
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

/// Checks a plan against the live cluster behind `backends`: reads every Nomad node (its
/// address, fingerprinted CNI plugins and networks) and the Consul catalog of every meshed
/// service and of Pilot, then applies the same Pilot rules as [`crate::plan::verify::verify`] to what is
/// really registered. The report's `source` names the servers read; a meshed service with no
/// instance in the catalog yet (not applied, or not running) is a warning.
pub async fn verify_live(plan: &Plan, backends: &Backends) -> Result<Report> {
    let mut v = Verifier::new(plan);
    // Findings that depend only on the plan (release, ADS port, DNS, capture) stay.
    v.findings.retain(|f| f.kind != FindingKind::NotRegistered);
    let Some(model) = v.check_version() else {
        return Ok(v.finish("live", backends.source.to_string()));
    };
    let q = QueryOptions::new();
    let mut nodes: Vec<NodeInfo> = Vec::new();
    for stub in backends.nomad.list_nodes(&q).await?.value {
        nodes.push(backends.nomad.read_node(&stub.id, &q).await?.value);
    }
    let node_ips: BTreeSet<String> = nodes
        .iter()
        .flat_map(|n| {
            n.address()
                .map(str::to_owned)
                .into_iter()
                .chain(n.node_resources.networks.iter().map(|x| x.ip.clone()))
        })
        .filter(|a| !a.is_empty())
        .collect();
    let mut names: BTreeSet<String> = v
        .meshed
        .iter()
        .flat_map(|m| m.registrations.iter().map(|r| r.name.clone()))
        .collect();
    let discovery_hosts: BTreeSet<(String, String)> = v
        .meshed
        .iter()
        .filter_map(|m| {
            let d = proxy_arg(m.group, "--discoveryAddress")?;
            let host = d.rsplit_once(':').map_or(d.as_str(), |(h, _)| h);
            Some((m.path.clone(), consul_service_of(host)?.to_owned()))
        })
        .collect();
    names.extend(discovery_hosts.iter().map(|(_, n)| n.clone()));
    let mut catalog: BTreeMap<String, Vec<CatalogService>> = BTreeMap::new();
    for name in &names {
        let entries = backends.consul.catalog_service(name, &q).await?.value;
        catalog.insert(name.clone(), entries);
    }

    let mut out: Vec<(Severity, FindingKind, String, String)> = Vec::new();
    check_nodes(&v, &nodes, &mut out);
    for (path, name) in &discovery_hosts {
        if catalog.get(name).is_none_or(Vec::is_empty) {
            out.push((
                Severity::Error,
                FindingKind::Unresolvable,
                format!("{path}.task[{PROXY_TASK}].config.args"),
                format!("the discovery address names Consul service {name:?}, which has no instance in the catalog, so the proxy cannot reach Pilot"),
            ));
        }
    }
    // An instance's address: `ServiceAddress`, else the node's `Address`
    // (`pilot/pkg/serviceregistry/consul/conversion.go` `convertInstance`, 1.0.6 and 1.3.8).
    let address = |e: &CatalogService| {
        if e.service_address.is_empty() {
            e.address.clone()
        } else {
            e.service_address.clone()
        }
    };
    // Pilot's ports and protocols per service, from what is registered: the registered
    // `ServicePort`s, the protocol from `NodeMeta` (1.0.x) or `ServiceMeta` (1.1+), the first
    // instance winning (`conversion.go` `convertService`, `convertPort`, 1.0.6 and 1.3.8).
    let mut by_port: BTreeMap<u16, BTreeMap<String, Protocol>> = BTreeMap::new();
    for (name, entries) in &catalog {
        for e in entries {
            let p = model.protocol(
                e.node_meta.get("protocol").map(String::as_str),
                e.service_meta.get("protocol").map(String::as_str),
            );
            by_port
                .entry(e.service_port)
                .or_default()
                .entry(name.clone())
                .or_insert(p);
        }
    }
    let mut reported_ports = BTreeSet::new();
    let mut bridge_addrs: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for m in &v.meshed {
        for r in &m.registrations {
            let entries: Vec<&CatalogService> = catalog
                .get(&r.name)
                .into_iter()
                .flatten()
                .filter(|e| is_instance_of(e, r))
                .collect();
            if entries.is_empty() {
                out.push((
                    Severity::Warning,
                    FindingKind::NotRegistered,
                    r.path.clone(),
                    format!("no instance of {:?} from this group is in Consul's catalog (the job is not applied, or no allocation runs); nothing was checked for it", r.name),
                ));
                continue;
            }
            // The proxy of a bridge or CNI group reports its allocation's address
            // (`pilot/cmd/pilot-agent/main.go` `proxy.GetPrivateIP(s)`), and Pilot keeps the
            // instances whose address equals it (`controller.go` `GetProxyServiceInstances`).
            if m.network.has_alloc_address() {
                for e in &entries {
                    let a = address(e);
                    if node_ips.contains(&a) || a == e.address {
                        out.push((
                            Severity::Error,
                            FindingKind::NoInboundListener,
                            m.path.clone(),
                            format!("instance {} of {:?} is registered at {a}, a node's address, but the proxy of a {} group reports its allocation's address: Pilot matches no instance to it and the proxy gets no inbound listener; register the service with address_mode = \"alloc\"", e.service_id, r.name, m.network.mode()),
                        ));
                    } else if m.network == GroupNetwork::Bridge {
                        bridge_addrs.entry(a).or_default().insert(e.node.clone());
                    }
                }
            }
            // Outbound listeners are built per registered port (`listener.go`
            // `buildSidecarOutboundListeners`, HTTP ports shared, TCP ports conflicting).
            if let Some(dialed) = r.app_port {
                let ports: BTreeSet<u16> = catalog
                    .get(&r.name)
                    .into_iter()
                    .flatten()
                    .map(|e| e.service_port)
                    .collect();
                if !ports.contains(&dialed) {
                    let list: Vec<String> = ports.iter().map(ToString::to_string).collect();
                    out.push((
                        Severity::Error,
                        FindingKind::NoOutboundListener,
                        r.path.clone(),
                        format!("callers dial {}.service.consul:{dialed}, but the catalog registers {:?} on port(s) {}, so Pilot builds no listener on {dialed}; register the port the app listens on", r.name, r.name, list.join(", ")),
                    ));
                }
                if let Some(services) = by_port.get(&dialed) {
                    let services = services.iter().map(|(n, p)| (n.as_str(), *p));
                    if let Some(msg) = shared_port_message(dialed, services, &r.name, &model) {
                        if reported_ports.insert((dialed, r.name.clone())) {
                            out.push((
                                Severity::Error,
                                FindingKind::SharedPort,
                                r.path.clone(),
                                msg,
                            ));
                        }
                    }
                }
            }
        }
    }
    // Nomad's default bridge subnet is the same on every client (`defaultNomadAllocSubnet` in
    // `client/allocrunner/networking_bridge_linux.go`, v1.6.9): an allocation address in it on
    // one node cannot be reached from another.
    let nodes_in_default: BTreeSet<&String> = bridge_addrs
        .iter()
        .filter(|(a, _)| in_default_bridge(a))
        .flat_map(|(_, n)| n.iter())
        .collect();
    if nodes_in_default.len() > 1 {
        for m in v
            .meshed
            .iter()
            .filter(|m| m.network == GroupNetwork::Bridge)
        {
            out.push((
                Severity::Error,
                FindingKind::Unreachable,
                format!("{}.network[0].mode", m.path),
                format!(
                    "the catalog holds allocation addresses in Nomad's default bridge subnet {DEFAULT_BRIDGE_SUBNET} on {} nodes ({}); every client uses that subnet, so no node can route to another's allocations; give each client its own bridge_network_subnet with routes, or use a CNI network with cluster-wide addresses",
                    nodes_in_default.len(),
                    nodes_in_default.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                ),
            ));
        }
    }
    for (a, on) in &bridge_addrs {
        if on.len() > 1 {
            out.push((
                Severity::Error,
                FindingKind::Unreachable,
                "mesh".into(),
                format!("allocation address {a} is registered on several nodes ({}): traffic to it cannot reach all of them", on.iter().cloned().collect::<Vec<_>>().join(", ")),
            ));
        }
    }
    for (s, k, p, msg) in out {
        v.push(s, k, p, msg);
    }
    v.check_discovery(model, false);
    v.check_names(false);
    v.check_capture();
    Ok(v.finish("live", backends.source.to_string()))
}

/// True when a catalog entry is an instance of `r`: Nomad's service ID
/// `_nomad-task-<alloc>-<workload>-<service>-<port label>` (`MakeAllocServiceID`).
fn is_instance_of(e: &CatalogService, r: &Registration) -> bool {
    e.service_id.starts_with("_nomad-task-")
        && e.service_id
            .ends_with(&format!("-{}-{}-{}", r.workload, r.name, r.port_label))
}

/// True for an address in [`DEFAULT_BRIDGE_SUBNET`], 172.26.64.0/20.
fn in_default_bridge(addr: &str) -> bool {
    addr.parse::<Ipv4Addr>()
        .is_ok_and(|ip| u32::from(ip) & 0xffff_f000 == u32::from(Ipv4Addr::new(172, 26, 64, 0)))
}

/// What the nodes must offer the meshed groups' networks (Nomad v1.6.9):
///
/// * `bridge`: the CNI plugins of [`BRIDGE_CNI_PLUGINS`], fingerprinted as the attributes
///   `plugins.cni.version.<name>` (`client/fingerprint/plugins_cni.go`), and a node network of
///   mode `bridge`, which the client adds when the `bridge` kernel module is present
///   (`client/fingerprint/bridge_linux.go` `Fingerprint`);
/// * `cni/<name>`: a node network of mode `cni/<name>`, one per CNI configuration list in the
///   client's `cni_config_dir` (`client/fingerprint/cni.go` `Fingerprint`); the scheduler
///   places a group only on a node that offers its mode (`scheduler/feasible.go`
///   `NetworkChecker`).
fn check_nodes(
    v: &Verifier<'_>,
    nodes: &[NodeInfo],
    out: &mut Vec<(Severity, FindingKind, String, String)>,
) {
    let mut seen = BTreeSet::new();
    for m in &v.meshed {
        if !seen.insert(m.network.clone()) {
            continue;
        }
        let path = format!("{}.network[0].mode", m.path);
        match &m.network {
            GroupNetwork::Bridge => {
                let lacking: Vec<String> = nodes
                    .iter()
                    .filter(|n| {
                        BRIDGE_CNI_PLUGINS.iter().any(|p| {
                            !n.attributes
                                .contains_key(&format!("plugins.cni.version.{p}"))
                        })
                    })
                    .map(|n| n.name.clone())
                    .collect();
                let without_bridge = nodes
                    .iter()
                    .filter(|n| !n.node_resources.networks.iter().any(|x| x.mode == "bridge"))
                    .count();
                if !lacking.is_empty() || without_bridge == nodes.len() {
                    let severity = if lacking.len() == nodes.len() || without_bridge == nodes.len()
                    {
                        Severity::Error
                    } else {
                        Severity::Warning
                    };
                    out.push((
                        severity,
                        FindingKind::Unreachable,
                        path,
                        format!(
                            "Nomad's bridge network needs the CNI plugins {} (node attributes plugins.cni.version.<name>) and the bridge kernel module; {} of {} node(s) lack them ({}): allocations there get no address",
                            BRIDGE_CNI_PLUGINS.join(", "),
                            lacking.len().max(without_bridge),
                            nodes.len(),
                            lacking.join(", ")
                        ),
                    ));
                }
            }
            GroupNetwork::Cni(name) => {
                let mode = format!("cni/{name}");
                if !nodes
                    .iter()
                    .any(|n| n.node_resources.networks.iter().any(|x| x.mode == mode))
                {
                    out.push((
                        Severity::Error,
                        FindingKind::Unreachable,
                        path,
                        format!("no Nomad node offers the network {mode} (a CNI configuration named {name:?} in the client's cni_config_dir), so the group cannot be placed"),
                    ));
                }
            }
            _ => {}
        }
    }
}
