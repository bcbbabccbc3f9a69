//! What Nomad registers in Consul for a task group's services and checks.
//!
//! Every rule here is Nomad's, read at tag `v1.6.9` of `hashicorp/nomad`:
//!
//! | rule | source |
//! |---|---|
//! | address and port of a service or check, per `address_mode` | `client/serviceregistration/address.go` `GetAddress` |
//! | a service's mode defaults to `auto`; a check's to `host` (`auto` when the service has a custom address); a check without a port label takes the service's | `command/agent/consul/service_client.go` `serviceRegs`, `checkRegs` |
//! | group services have no driver network (so `auto` means `host`); task services have the driver's | `client/allocrunner/group_service_hook.go` `getWorkloadServicesLocked` |
//! | docker advertises its own address only on a user-defined docker network (none in a group network namespace or with `network_mode = "host"`) | `drivers/docker/driver.go` `detectIP` |
//! | an allocation has an address (`NetworkStatus.Address`) only in `bridge` and `cni/*` networks | `client/allocrunner/network_hook.go` `Prerun` |
//! | a dynamic port with `to = -1` maps to its own host port; a static port keeps its `to` | `nomad/structs/network.go` `AssignPorts` |
//! | `address_mode = "alloc"` only on group services and their checks; `driver` only on task services | `nomad/structs/structs.go` `validateServices`, `TaskGroup.validateServices` |
//! | service ID `_nomad-task-<alloc>-<task or group-<group>>-<service>-<port label>` | `client/serviceregistration/id.go` `MakeAllocServiceID`, `workload.go` `Name` |
//! | the meta Nomad adds: `external-source = nomad` | `command/agent/consul/service_client.go` `serviceRegs` |
//!
//! The results are symbolic: an [`AddressSource`] (the allocation's address, the node's, ...)
//! and a [`PortSource`] (a fixed number, or a dynamic host port known only after placement).
//! [`crate::plan::verify`] reasons with them; the in-memory cluster resolves them to the addresses and
//! ports it gives its allocations.

use crate::nomad::{NetworkResource, Port, Service, ServiceCheck, Task, TaskGroup};
use serde::Serialize;
use std::collections::BTreeMap;

/// The network namespace a group's allocations get (`network { mode = ... }`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "mode", content = "name", rename_all = "snake_case")]
pub enum GroupNetwork {
    /// The node's network namespace (`host`, or no network block).
    Host,
    /// Nomad's bridge network (`bridge`): its own namespace with an address from the
    /// client's `bridge_network_subnet` (default [`DEFAULT_BRIDGE_SUBNET`]).
    Bridge,
    /// A CNI network (`cni/<name>`): its own namespace with an address from that network.
    Cni(String),
    /// No network at all (`none`).
    None,
    /// A mode Nomad does not know.
    Other(String),
}

/// The subnet Nomad's bridge network takes allocation addresses from on every client unless
/// the client sets `bridge_network_subnet` (`client/allocrunner/networking_bridge_linux.go`
/// `defaultNomadAllocSubnet`, v1.6.9).
pub const DEFAULT_BRIDGE_SUBNET: &str = "172.26.64.0/20";

/// The CNI plugins Nomad's bridge network calls (`client/allocrunner/networking_bridge_linux.go`
/// `buildNomadBridgeNetConfig`, v1.6.9: loopback, bridge with host-local IPAM, firewall,
/// portmap); a client fingerprints each as the node attribute `plugins.cni.version.<name>`
/// (`client/fingerprint/plugins_cni.go`).
pub const BRIDGE_CNI_PLUGINS: [&str; 5] =
    ["loopback", "bridge", "host-local", "firewall", "portmap"];

impl GroupNetwork {
    /// The network of a group: its first network's mode (Nomad allows one group network).
    pub fn of(g: &TaskGroup) -> GroupNetwork {
        Self::from_mode(g.networks.first().and_then(|n| n.mode.as_deref()))
    }

    /// The network named by a `Mode` value.
    pub fn from_mode(mode: Option<&str>) -> GroupNetwork {
        match mode {
            None | Some("") | Some("host") => GroupNetwork::Host,
            Some("bridge") => GroupNetwork::Bridge,
            Some("none") => GroupNetwork::None,
            Some(m) => match m.strip_prefix("cni/") {
                Some(name) if !name.is_empty() => GroupNetwork::Cni(name.to_string()),
                _ => GroupNetwork::Other(m.to_string()),
            },
        }
    }

    /// True when allocations get a namespace and an address of their own (Nomad reports a
    /// `NetworkStatus` only then: `client/allocrunner/network_hook.go` `Prerun` returns early
    /// for `host` and no network).
    pub fn has_alloc_address(&self) -> bool {
        matches!(self, GroupNetwork::Bridge | GroupNetwork::Cni(_))
    }

    /// The `Mode` value.
    pub fn mode(&self) -> String {
        match self {
            GroupNetwork::Host => "host".into(),
            GroupNetwork::Bridge => "bridge".into(),
            GroupNetwork::Cni(n) => format!("cni/{n}"),
            GroupNetwork::None => "none".into(),
            GroupNetwork::Other(m) => m.clone(),
        }
    }
}

/// Where the address of a registration comes from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "source", content = "value", rename_all = "snake_case")]
pub enum AddressSource {
    /// The allocation's own address (`NetworkStatus.Address`: the interface of its network
    /// namespace), `address_mode = "alloc"`.
    Allocation,
    /// The host IP of the port's mapping: the node's address (`address_mode = "host"`, and
    /// `auto` without a driver network).
    Node,
    /// The task driver's address (`address_mode = "driver"`); empty for a docker task in a
    /// group network or on the host network, so Consul falls back to the node's address.
    Driver,
    /// A custom advertise address (`address = ...`).
    Custom(String),
    /// No address: Consul uses the agent's (the node's) address.
    Agent,
}

impl AddressSource {
    /// True when the address is the node's (the node's own, or the agent's fallback).
    pub fn is_node(&self) -> bool {
        matches!(
            self,
            AddressSource::Node | AddressSource::Agent | AddressSource::Driver
        )
    }
}

impl std::fmt::Display for AddressSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AddressSource::Allocation => f.write_str("the allocation's address"),
            AddressSource::Node => f.write_str("the node's address"),
            AddressSource::Driver => {
                f.write_str("the task driver's address (none in a group network: the node's)")
            }
            AddressSource::Custom(a) => write!(f, "the custom address {a}"),
            AddressSource::Agent => f.write_str("no address (Consul uses the node's)"),
        }
    }
}

/// Where the port of a registration comes from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "source", content = "value", rename_all = "snake_case")]
pub enum PortSource {
    /// No port (0).
    Unset,
    /// A number known before placement (a static port, a `to`, or a numeric label).
    Fixed(u16),
    /// The dynamic host port Nomad picks for this label when it places the allocation.
    Dynamic(String),
}

impl std::fmt::Display for PortSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PortSource::Unset => f.write_str("no port"),
            PortSource::Fixed(p) => write!(f, "port {p}"),
            PortSource::Dynamic(l) => write!(f, "the dynamic host port of {l:?} (20000-32000)"),
        }
    }
}

/// An address and a port as Nomad computes them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Endpoint {
    /// The address.
    pub address: AddressSource,
    /// The port.
    pub port: PortSource,
}

/// The `address_mode` values (`nomad/structs/services.go`: `auto`, `host`, `driver`, `alloc`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AddressMode {
    /// `auto`: the driver's address when it advertises one, else the host's.
    Auto,
    /// `host`.
    Host,
    /// `driver`.
    Driver,
    /// `alloc`.
    Alloc,
}

impl AddressMode {
    /// Reads a mode; `None` for a value Nomad refuses.
    pub fn parse(v: Option<&str>) -> Option<AddressMode> {
        match v {
            None | Some("") | Some("auto") => Some(AddressMode::Auto),
            Some("host") => Some(AddressMode::Host),
            Some("driver") => Some(AddressMode::Driver),
            Some("alloc") => Some(AddressMode::Alloc),
            Some(_) => None,
        }
    }
}

/// A port of the group network as allocated (`AllocatedPortMapping`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllocatedPort {
    /// Label.
    pub label: String,
    /// The host port: static (`Some`) or dynamic (`None`).
    pub value: Option<u16>,
    /// `To` after allocation: a dynamic port's `-1` becomes its host port (`AssignPorts`),
    /// here [`ToPort::SameAsHost`].
    pub to: ToPort,
}

/// The `To` of an allocated port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToPort {
    /// `To` is 0 (unset).
    Unset,
    /// `To` equals the host port (a dynamic port with `to = -1`).
    SameAsHost,
    /// A port number.
    Port(u16),
}

impl AllocatedPort {
    /// A group network port as Nomad allocates it.
    pub fn from_port(p: &Port, dynamic: bool) -> Option<AllocatedPort> {
        let label = p.label.clone().filter(|l| !l.is_empty())?;
        let value = if dynamic {
            None
        } else {
            p.value
                .and_then(|v| u16::try_from(v).ok())
                .filter(|v| *v > 0)
        };
        let to = match p.to {
            Some(t) if t > 0 => u16::try_from(t).map_or(ToPort::Unset, ToPort::Port),
            // nomad/structs/network.go AssignPorts: only dynamic ports turn -1 into the value.
            Some(-1) if dynamic => ToPort::SameAsHost,
            _ => ToPort::Unset,
        };
        Some(AllocatedPort { label, value, to })
    }

    fn host(&self) -> PortSource {
        match self.value {
            Some(v) => PortSource::Fixed(v),
            None => PortSource::Dynamic(self.label.clone()),
        }
    }
}

/// The allocated ports of a group network (static first, as Nomad offers them).
pub fn allocated_ports(n: Option<&NetworkResource>) -> Vec<AllocatedPort> {
    let Some(n) = n else { return Vec::new() };
    n.reserved_ports
        .iter()
        .filter_map(|p| AllocatedPort::from_port(p, false))
        .chain(
            n.dynamic_ports
                .iter()
                .filter_map(|p| AllocatedPort::from_port(p, true)),
        )
        .collect()
}

/// The port a label listens on inside the allocation's namespace: its `to`, else its static
/// value, else (a numeric label) the number; `None` for a dynamic port with no `to` (its
/// number is known only after placement) or an unknown label.
pub fn inside_port(ports: &[AllocatedPort], label: &str) -> Option<u16> {
    match ports.iter().find(|p| p.label == label) {
        Some(p) => match p.to {
            ToPort::Port(t) => Some(t),
            _ => p.value,
        },
        None => label.parse::<u16>().ok().filter(|p| *p > 0),
    }
}

/// What Nomad knows when it computes an address (the arguments of `GetAddress`).
#[derive(Debug, Clone)]
pub struct AddressInput<'a> {
    /// The custom advertise address (`address`), empty when unset.
    pub custom: &'a str,
    /// The mode.
    pub mode: AddressMode,
    /// The port label (or number), empty when unset.
    pub port_label: &'a str,
    /// The group network.
    pub network: &'a GroupNetwork,
    /// Its allocated ports.
    pub ports: &'a [AllocatedPort],
    /// The task driver's network, `None` for group services (no driver network).
    pub driver: Option<DriverNetwork>,
}

/// A task driver's network (`drivers.DriverNetwork`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DriverNetwork {
    /// `AutoAdvertise`: `auto` uses the driver's address.
    pub auto_advertise: bool,
}

/// Nomad's `GetAddress` (v1.6.9 `client/serviceregistration/address.go`), over symbolic
/// addresses and ports. `Err` holds Nomad's own message: the client then fails to register
/// the service.
pub(crate) fn get_address(i: &AddressInput<'_>) -> Result<Endpoint, String> {
    let ep = |address, port| Ok(Endpoint { address, port });
    let numeric = |label: &str| label.parse::<i64>().ok();
    match i.mode {
        AddressMode::Auto => {
            if !i.custom.is_empty() {
                let custom = AddressSource::Custom(i.custom.to_string());
                if i.port_label.is_empty() {
                    return ep(custom, PortSource::Unset);
                }
                // A custom address with a port map uses the host port (the Value).
                if let Some(p) = i.ports.iter().find(|p| p.label == i.port_label) {
                    return ep(custom, p.host());
                }
                return match numeric(i.port_label) {
                    Some(n) => ep(custom, fixed(n)),
                    None => Err(format!(
                        "invalid port: {:?}: not a valid port mapping or numeric port",
                        i.port_label
                    )),
                };
            }
            let mode = if i.driver.is_some_and(|d| d.auto_advertise) {
                AddressMode::Driver
            } else {
                AddressMode::Host
            };
            get_address(&AddressInput { mode, ..i.clone() })
        }
        AddressMode::Host => {
            if !i.custom.is_empty() {
                return Err(
                    "cannot use custom advertise address with \"host\" address mode".into(),
                );
            }
            if i.port_label.is_empty() {
                // One network: its IP (the node's); otherwise nothing (Consul: the node's).
                return ep(AddressSource::Node, PortSource::Unset);
            }
            if let Some(p) = i.ports.iter().find(|p| p.label == i.port_label) {
                return ep(AddressSource::Node, p.host());
            }
            match numeric(i.port_label) {
                None => Err(format!(
                    "invalid port {:?}: port label not found",
                    i.port_label
                )),
                Some(n) if n <= 0 => {
                    Err(format!("invalid port: {:?}: port must be >0", i.port_label))
                }
                // A number: the Consul agent's address and that port.
                Some(n) => ep(AddressSource::Agent, fixed(n)),
            }
        }
        AddressMode::Driver => {
            if !i.custom.is_empty() {
                return Err(
                    "cannot use custom advertise address with \"driver\" address mode".into(),
                );
            }
            if i.driver.is_none() {
                return Err("cannot use address_mode=\"driver\": no driver network exists".into());
            }
            if i.port_label.is_empty() {
                return ep(AddressSource::Driver, PortSource::Unset);
            }
            if let Some(p) = i.ports.iter().find(|p| p.label == i.port_label) {
                // The driver's port: To (0 when unset).
                let port = match p.to {
                    ToPort::Port(t) => PortSource::Fixed(t),
                    ToPort::SameAsHost => p.host(),
                    ToPort::Unset => PortSource::Unset,
                };
                return ep(AddressSource::Driver, port);
            }
            match numeric(i.port_label) {
                None => Err(format!(
                    "invalid port label {:?}: port labels in driver address_mode must be numeric or in the driver's port map",
                    i.port_label
                )),
                Some(n) if n <= 0 => Err(format!(
                    "invalid port: {:?}: port must be >0",
                    i.port_label
                )),
                Some(n) => ep(AddressSource::Driver, fixed(n)),
            }
        }
        AddressMode::Alloc => {
            if !i.custom.is_empty() {
                return Err(
                    "cannot use custom advertise address with \"alloc\" address mode".into(),
                );
            }
            if !i.network.has_alloc_address() {
                return Err(
                    "cannot use address_mode=\"alloc\": no allocation network status reported"
                        .into(),
                );
            }
            if i.port_label.is_empty() {
                return ep(AddressSource::Allocation, PortSource::Unset);
            }
            if let Some(p) = i.ports.iter().find(|p| p.label == i.port_label) {
                // port.To when set, else the Value.
                let port = match p.to {
                    ToPort::Port(t) => PortSource::Fixed(t),
                    _ => p.host(),
                };
                return ep(AddressSource::Allocation, port);
            }
            match numeric(i.port_label) {
                None => Err(format!(
                    "invalid port {:?}: port label not found or is not numeric",
                    i.port_label
                )),
                Some(n) if n <= 0 => {
                    Err(format!("invalid port: {:?}: port must be >0", i.port_label))
                }
                Some(n) => ep(AddressSource::Allocation, fixed(n)),
            }
        }
    }
}

fn fixed(n: i64) -> PortSource {
    u16::try_from(n).map_or(PortSource::Unset, PortSource::Fixed)
}

/// One check as Nomad registers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckRegistration {
    /// Check name.
    pub name: String,
    /// `tcp`, `http`, `grpc` or `script`.
    pub check_type: String,
    /// Where the check connects (`None` for script checks, which have no address).
    pub endpoint: Option<Endpoint>,
    /// HTTP path, for `http` checks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// `http` or `https`, for `http` checks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// Interval (ns).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<i64>,
    /// Timeout (ns).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<i64>,
}

/// One service of a group as Nomad registers it in Consul.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Registration {
    /// Path of the service in the job (`job[reviews].group[reviews-v1].service[0]`).
    pub path: String,
    /// Job ID.
    pub job: String,
    /// Group name.
    pub group: String,
    /// Task of a task-level service.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    /// The workload name in the service ID: the task, or `group-<group>`
    /// (`client/serviceregistration/workload.go` `Name`).
    pub workload: String,
    /// Service name.
    pub name: String,
    /// Port label as written (empty when unset).
    pub port_label: String,
    /// The group network.
    pub network: GroupNetwork,
    /// Address and port.
    pub endpoint: Endpoint,
    /// The port the app listens on inside its namespace (`to`, else the static value, else
    /// a numeric label), when known.
    pub app_port: Option<u16>,
    /// Tags.
    pub tags: Vec<String>,
    /// Meta, with the `external-source = nomad` Nomad adds.
    pub meta: BTreeMap<String, String>,
    /// Checks.
    pub checks: Vec<CheckRegistration>,
}

impl Registration {
    /// The Consul service ID Nomad gives this registration in allocation `alloc_id`
    /// (`client/serviceregistration/id.go` `MakeAllocServiceID`).
    pub fn service_id(&self, alloc_id: &str) -> String {
        format!(
            "_nomad-task-{alloc_id}-{}-{}-{}",
            self.workload, self.name, self.port_label
        )
    }
}

/// A service Nomad would not register in Consul, or could not (with Nomad's reason).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unregistered {
    /// Path of the service.
    pub path: String,
    /// Service name.
    pub name: String,
    /// Why.
    pub reason: String,
}

/// The name Nomad registers a service under (`Service.Canonicalize`: `<job>-<group>[-<task>]`
/// when unset).
pub fn service_name(s: &Service, job: &str, group: &str, task: Option<&str>) -> String {
    match (&s.name, task) {
        (Some(n), _) if !n.is_empty() => n.clone(),
        (_, Some(t)) => format!("{job}-{group}-{t}"),
        (_, None) => format!("{job}-{group}"),
    }
}

/// True when a service registers in Consul (the default provider) rather than in Nomad's own
/// catalog.
pub fn is_consul(s: &Service) -> bool {
    s.provider
        .as_deref()
        .is_none_or(|p| p.is_empty() || p == "consul")
}

/// The driver network a task's services see: docker (and podman) report no address of their
/// own inside a group network namespace or with `network_mode = "host"`, and advertise one
/// only on a user-defined docker network (`drivers/docker/driver.go` `detectIP`).
pub fn driver_network(t: &Task) -> DriverNetwork {
    let mode = t.config.get("network_mode").and_then(|v| v.as_str());
    let auto_advertise = matches!(t.driver.as_deref(), Some("docker" | "podman"))
        && mode.is_some_and(|m| {
            !m.is_empty()
                && m != "host"
                && m != "bridge"
                && m != "default"
                && !m.starts_with("container:")
        });
    DriverNetwork { auto_advertise }
}

/// Every service of a group as Nomad registers it in Consul, and those it would not register
/// (other provider) or could not (Nomad's own error).
pub fn group_registrations(
    job: &str,
    g: &TaskGroup,
    gp: &str,
) -> (Vec<Registration>, Vec<Unregistered>) {
    let network = GroupNetwork::of(g);
    let ports = allocated_ports(g.networks.first());
    let group = g.name().to_string();
    let mut regs = Vec::new();
    let mut skipped = Vec::new();
    let mut one = |s: &Service, path: String, task: Option<&Task>| {
        let name = service_name(s, job, &group, task.map(Task::name));
        if !is_consul(s) {
            skipped.push(Unregistered {
                path,
                name,
                reason: format!(
                    "provider = {:?}: Nomad keeps the service in its own catalog, not Consul's",
                    s.provider.as_deref().unwrap_or("")
                ),
            });
            return;
        }
        match registration(
            job,
            &group,
            &network,
            &ports,
            s,
            name.clone(),
            path.clone(),
            task,
        ) {
            Ok(r) => regs.push(r),
            Err(reason) => skipped.push(Unregistered { path, name, reason }),
        }
    };
    for (i, s) in g.services.iter().enumerate() {
        one(s, format!("{gp}.service[{i}]"), None);
    }
    for t in &g.tasks {
        for (i, s) in t.services.iter().enumerate() {
            one(s, format!("{gp}.task[{}].service[{i}]", t.name()), Some(t));
        }
    }
    (regs, skipped)
}

#[allow(clippy::too_many_arguments)]
fn registration(
    job: &str,
    group: &str,
    network: &GroupNetwork,
    ports: &[AllocatedPort],
    s: &Service,
    name: String,
    path: String,
    task: Option<&Task>,
) -> Result<Registration, String> {
    let mode = AddressMode::parse(s.address_mode.as_deref()).ok_or_else(|| {
        format!(
            "invalid address_mode {:?}",
            s.address_mode.as_deref().unwrap_or("")
        )
    })?;
    let custom = s.address.as_deref().unwrap_or("");
    let label = s.port_label.as_deref().unwrap_or("");
    let driver = task.map(driver_network);
    let endpoint = get_address(&AddressInput {
        custom,
        mode,
        port_label: label,
        network,
        ports,
        driver,
    })
    .map_err(|e| format!("unable to get address for service {name:?}: {e}"))?;
    let mut checks = Vec::new();
    for c in &s.checks {
        checks.push(check_registration(c, s, network, ports, driver)?);
    }
    let mut meta: BTreeMap<String, String> =
        s.meta.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    meta.insert("external-source".into(), "nomad".into());
    Ok(Registration {
        path,
        job: job.to_string(),
        group: group.to_string(),
        task: task.map(|t| t.name().to_string()),
        workload: task.map_or_else(|| format!("group-{group}"), |t| t.name().to_string()),
        name,
        port_label: label.to_string(),
        network: network.clone(),
        endpoint,
        app_port: if label.is_empty() {
            None
        } else {
            inside_port(ports, label)
        },
        tags: s.tags.clone(),
        meta,
        checks,
    })
}

fn check_registration(
    c: &ServiceCheck,
    s: &Service,
    network: &GroupNetwork,
    ports: &[AllocatedPort],
    driver: Option<DriverNetwork>,
) -> Result<CheckRegistration, String> {
    let check_type = c.check_type.clone().unwrap_or_default();
    let name = c.name.clone().unwrap_or_default();
    let endpoint = if check_type == "script" {
        None
    } else {
        let label = c
            .port_label
            .as_deref()
            .filter(|l| !l.is_empty())
            .or(s.port_label.as_deref())
            .unwrap_or("");
        let custom = s.address.as_deref().unwrap_or("");
        let mode = match c.address_mode.as_deref() {
            None | Some("") if !custom.is_empty() => AddressMode::Auto,
            None | Some("") => AddressMode::Host,
            other => AddressMode::parse(other)
                .ok_or_else(|| format!("check {name:?}: invalid address_mode {other:?}"))?,
        };
        Some(
            get_address(&AddressInput {
                custom,
                mode,
                port_label: label,
                network,
                ports,
                driver,
            })
            .map_err(|e| format!("error getting address for check {name:?}: {e}"))?,
        )
    };
    Ok(CheckRegistration {
        name,
        path: (check_type == "http").then(|| c.path.clone().unwrap_or_default()),
        protocol: (check_type == "http")
            .then(|| c.protocol.clone().unwrap_or_else(|| "http".into())),
        check_type,
        endpoint,
        interval: c.interval,
        timeout: c.timeout,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    //! The cases of Nomad's own `client/serviceregistration/address_test.go`
    //! (`Test_GetAddress`, v1.6.9), as facts about `GetAddress`.
    use super::*;

    fn ports() -> Vec<AllocatedPort> {
        vec![
            AllocatedPort {
                label: "http".into(),
                value: None,
                to: ToPort::Port(8080),
            },
            AllocatedPort {
                label: "https".into(),
                value: None,
                to: ToPort::Unset,
            },
            AllocatedPort {
                label: "static".into(),
                value: Some(7000),
                to: ToPort::Unset,
            },
        ]
    }

    fn addr(
        mode: AddressMode,
        label: &str,
        custom: &str,
        driver: Option<bool>,
    ) -> Result<Endpoint, String> {
        let ports = ports();
        get_address(&AddressInput {
            custom,
            mode,
            port_label: label,
            network: &GroupNetwork::Bridge,
            ports: &ports,
            driver: driver.map(|a| DriverNetwork { auto_advertise: a }),
        })
    }

    fn ep(address: AddressSource, port: PortSource) -> Result<Endpoint, String> {
        Ok(Endpoint { address, port })
    }

    #[test]
    fn host_mode_uses_the_host_port_and_the_node_address() {
        assert_eq!(
            addr(AddressMode::Host, "http", "", None),
            ep(AddressSource::Node, PortSource::Dynamic("http".into()))
        );
        assert_eq!(
            addr(AddressMode::Host, "static", "", None),
            ep(AddressSource::Node, PortSource::Fixed(7000))
        );
        // A numeric label: the agent's address and that port.
        assert_eq!(
            addr(AddressMode::Host, "7070", "", None),
            ep(AddressSource::Agent, PortSource::Fixed(7070))
        );
        assert_eq!(
            addr(AddressMode::Host, "bogus", "", None),
            Err("invalid port \"bogus\": port label not found".into())
        );
        assert_eq!(
            addr(AddressMode::Host, "-1", "", None),
            Err("invalid port: \"-1\": port must be >0".into())
        );
    }

    #[test]
    fn auto_is_host_unless_the_driver_advertises() {
        assert_eq!(
            addr(AddressMode::Auto, "http", "", None),
            addr(AddressMode::Host, "http", "", None)
        );
        assert_eq!(
            addr(AddressMode::Auto, "http", "", Some(false)),
            addr(AddressMode::Host, "http", "", None)
        );
        assert_eq!(
            addr(AddressMode::Auto, "http", "", Some(true)),
            ep(AddressSource::Driver, PortSource::Fixed(8080))
        );
    }

    #[test]
    fn alloc_mode_uses_to_else_the_value() {
        assert_eq!(
            addr(AddressMode::Alloc, "http", "", None),
            ep(AddressSource::Allocation, PortSource::Fixed(8080))
        );
        assert_eq!(
            addr(AddressMode::Alloc, "https", "", None),
            ep(
                AddressSource::Allocation,
                PortSource::Dynamic("https".into())
            )
        );
        assert_eq!(
            addr(AddressMode::Alloc, "static", "", None),
            ep(AddressSource::Allocation, PortSource::Fixed(7000))
        );
        assert_eq!(
            addr(AddressMode::Alloc, "9999", "", None),
            ep(AddressSource::Allocation, PortSource::Fixed(9999))
        );
        assert_eq!(
            addr(AddressMode::Alloc, "", "", None),
            ep(AddressSource::Allocation, PortSource::Unset)
        );
        assert_eq!(
            addr(AddressMode::Alloc, "nope", "", None),
            Err("invalid port \"nope\": port label not found or is not numeric".into())
        );
        let host_ports = ports();
        assert_eq!(
            get_address(&AddressInput {
                custom: "",
                mode: AddressMode::Alloc,
                port_label: "http",
                network: &GroupNetwork::Host,
                ports: &host_ports,
                driver: None,
            }),
            Err("cannot use address_mode=\"alloc\": no allocation network status reported".into())
        );
    }

    #[test]
    fn driver_mode_needs_a_driver_network_and_uses_to() {
        assert_eq!(
            addr(AddressMode::Driver, "http", "", None),
            Err("cannot use address_mode=\"driver\": no driver network exists".into())
        );
        assert_eq!(
            addr(AddressMode::Driver, "http", "", Some(false)),
            ep(AddressSource::Driver, PortSource::Fixed(8080))
        );
        assert_eq!(
            addr(AddressMode::Driver, "static", "", Some(false)),
            ep(AddressSource::Driver, PortSource::Unset)
        );
    }

    #[test]
    fn custom_addresses_take_the_host_port_and_only_auto() {
        assert_eq!(
            addr(AddressMode::Auto, "http", "10.1.2.3", None),
            ep(
                AddressSource::Custom("10.1.2.3".into()),
                PortSource::Dynamic("http".into())
            )
        );
        assert_eq!(
            addr(AddressMode::Auto, "", "10.1.2.3", None),
            ep(AddressSource::Custom("10.1.2.3".into()), PortSource::Unset)
        );
        for mode in ["host", "driver", "alloc"] {
            assert_eq!(
                addr(
                    AddressMode::parse(Some(mode)).unwrap(),
                    "http",
                    "10.1.2.3",
                    Some(true)
                ),
                Err(format!(
                    "cannot use custom advertise address with {mode:?} address mode"
                ))
            );
        }
    }

    #[test]
    fn dynamic_ports_with_to_minus_one_map_to_themselves() {
        let p = AllocatedPort::from_port(&Port::dynamic("x", -1), true).unwrap();
        assert_eq!(p.to, ToPort::SameAsHost);
        let s = AllocatedPort::from_port(&Port::fixed("y", 8000, Some(-1)), false).unwrap();
        assert_eq!((s.value, s.to), (Some(8000), ToPort::Unset));
    }
}
