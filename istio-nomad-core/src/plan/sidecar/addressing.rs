//! How injection registers a meshed group's services, so that what Nomad puts in Consul is
//! what Pilot needs (see [`crate::plan::verify`]):
//!
//! * **allocation addressing** (bridge and CNI groups): every service and its checks get
//!   `address_mode = "alloc"`, so Nomad registers the allocation's address (the address
//!   pilot-agent reports as the proxy's IP) and the port the app listens on (the port's `to`);
//! * **host networking**: services keep Nomad's default (the node's address and the host
//!   port), and every port a service uses becomes a static port equal to the port the app
//!   listens on.
//!
//! A service that cannot be registered that way is refused, naming its path, saying why and
//! what to change. The rules of Nomad behind each refusal are in [`crate::nomad::registration`].

use super::undo::AddressModeUndo;
use crate::error::ValidationErrors;
use crate::nomad::registration::{
    allocated_ports, get_address, inside_port, is_consul, AddressInput, AddressMode, AddressSource,
    GroupNetwork,
};
use crate::nomad::{Port, Service, TaskGroup};

/// Refuses what Pilot could not see at all: another provider, a custom address.
fn common_rules(s: &Service, sp: &str, e: &mut ValidationErrors) -> bool {
    if !is_consul(s) {
        e.add(
            format!("{sp}.provider"),
            "Pilot reads Consul's catalog, and a service with this provider is kept in Nomad's own catalog, so the mesh never sees it; set provider = \"consul\" (or remove it)",
            s.provider.as_deref().unwrap_or(""),
        );
        return false;
    }
    if let Some(a) = s.address.as_deref().filter(|a| !a.is_empty()) {
        e.add(
            format!("{sp}.address"),
            "Nomad registers a custom address with the host port (client/serviceregistration/address.go GetAddress), so Pilot can neither match it to the proxy's IP nor build a listener on the port callers dial; remove the address",
            a,
        );
        return false;
    }
    true
}

fn port_label(s: &Service, sp: &str, e: &mut ValidationErrors) -> Option<String> {
    match s.port_label.as_deref().filter(|l| !l.is_empty()) {
        Some(l) => Some(l.to_string()),
        None => {
            e.add(
                format!("{sp}.port"),
                "a meshed service needs the port the app listens on: without one Nomad registers port 0 and Pilot builds no listener for the service; set port to the label of the app's port",
                "",
            );
            None
        }
    }
}

/// Allocation addressing for a group in its own network namespace (bridge or CNI). Returns
/// the address modes it set, with their previous values.
pub(super) fn alloc_addressing(
    g: &mut TaskGroup,
    gp: &str,
    e: &mut ValidationErrors,
) -> Vec<AddressModeUndo> {
    let network = GroupNetwork::of(g);
    let ports = allocated_ports(g.networks.first());
    let mut set = Vec::new();
    for (i, s) in g.services.iter_mut().enumerate() {
        let sp = format!("{gp}.service[{i}]");
        if !common_rules(s, &sp, e) {
            continue;
        }
        match s.address_mode.as_deref() {
            None | Some("") | Some("auto") => {
                set.push(AddressModeUndo {
                    service: i,
                    check: None,
                    was: s.address_mode.replace("alloc".into()),
                });
            }
            Some("alloc") => {}
            Some(other) => e.add(
                format!("{sp}.address_mode"),
                format!(
                    "in a {} group Nomad then registers the {} address, but Pilot matches the proxy to its instances by the proxy's IP, which is the allocation's address, and builds listeners on the registered port: the proxy would get no inbound listener; remove address_mode (injection sets \"alloc\")",
                    network.mode(),
                    if other == "host" { "node's" } else { "task driver's (none in a group network: the node's)" }
                ),
                other,
            ),
        }
        let Some(label) = port_label(s, &sp, e) else {
            continue;
        };
        if inside_port(&ports, &label).is_none() {
            e.add(
                format!("{sp}.port"),
                "the port has no `to` (nor a static value), so the app's port is known only after placement and Nomad registers that dynamic port, which callers cannot dial; give the group network port `to = <the port the app listens on>`",
                &label,
            );
            continue;
        }
        for (j, c) in s.checks.iter_mut().enumerate() {
            let is_script = c.check_type.as_deref() == Some("script");
            if is_script || c.address_mode.as_deref().is_some_and(|m| !m.is_empty()) {
                continue;
            }
            let check_label = c
                .port_label
                .as_deref()
                .filter(|l| !l.is_empty())
                .unwrap_or(&label);
            let ok = get_address(&AddressInput {
                custom: "",
                mode: AddressMode::Alloc,
                port_label: check_label,
                network: &network,
                ports: &ports,
                driver: None,
            })
            .is_ok_and(|ep| ep.address == AddressSource::Allocation);
            if ok {
                set.push(AddressModeUndo {
                    service: i,
                    check: Some(j),
                    was: c.address_mode.replace("alloc".into()),
                });
            }
        }
    }
    for t in &g.tasks {
        for (i, s) in t.services.iter().enumerate() {
            if !is_consul(s) {
                continue;
            }
            e.add(
                format!("{gp}.task[{}].service[{i}]", t.name()),
                format!(
                    "a task's service is registered at the node's address and host port (its driver has no address of its own in the group's network namespace, and Nomad allows address_mode = \"alloc\" only for group services: nomad/structs/structs.go validateServices), so Pilot cannot match it to the proxy; move the service block from task {:?} into the group (with task = {:?} if its checks need the task)",
                    t.name(),
                    t.name()
                ),
                s.name.as_deref().unwrap_or(""),
            );
        }
    }
    set
}

/// Host networking: the node's address and a static port equal to the app's port.
pub(super) fn host_addressing(g: &mut TaskGroup, gp: &str, e: &mut ValidationErrors) {
    let mut labels: Vec<(String, String)> = Vec::new();
    let mut check = |s: &Service, sp: String, e: &mut ValidationErrors| {
        if !common_rules(s, &sp, e) {
            return;
        }
        if s.address_mode.as_deref() == Some("alloc") {
            e.add(
                format!("{sp}.address_mode"),
                "in host mode an allocation has no address of its own (Nomad reports none: client/allocrunner/network_hook.go), so Nomad cannot register it; remove address_mode",
                "alloc",
            );
            return;
        }
        if let Some(l) = port_label(s, &sp, e) {
            labels.push((l, sp));
        }
    };
    for (i, s) in g.services.iter().enumerate() {
        check(s, format!("{gp}.service[{i}]"), e);
    }
    for t in &g.tasks {
        for (i, s) in t.services.iter().enumerate() {
            check(s, format!("{gp}.task[{}].service[{i}]", t.name()), e);
        }
    }
    let Some(n) = g.networks.first_mut() else {
        return;
    };
    for (label, sp) in labels {
        if let Some(at) = n
            .dynamic_ports
            .iter()
            .position(|p| p.label.as_deref() == Some(label.as_str()))
        {
            let p = &n.dynamic_ports[at];
            match p.to.filter(|t| *t > 0) {
                Some(to) => {
                    // The app listens on `to`: reserve exactly that port on the node.
                    let p = n.dynamic_ports.remove(at);
                    n.reserved_ports.push(Port {
                        value: Some(to),
                        ..p
                    });
                }
                None => e.add(
                    format!("{sp}.port"),
                    "in host mode Nomad registers the node's address and the host port, and a dynamic port changes with every allocation, so callers cannot dial it; give the port `to = <the port the app listens on>` (injection reserves it statically) or a static value",
                    &label,
                ),
            }
            continue;
        }
        if let Some(p) = n
            .reserved_ports
            .iter()
            .find(|p| p.label.as_deref() == Some(label.as_str()))
        {
            if let (Some(v), Some(to)) = (p.value, p.to.filter(|t| *t > 0)) {
                if v != to {
                    e.add(
                        format!("{sp}.port"),
                        format!("in host mode there is no port mapping: the app listens on {to} but Nomad registers the static port {v}; make them equal"),
                        &label,
                    );
                }
            }
        }
    }
}
