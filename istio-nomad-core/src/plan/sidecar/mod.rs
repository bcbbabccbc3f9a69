//! Sidecar injection: the Istio proxy and its iptables init task, added to any Nomad job.
//!
//! [`inject`] is `istioctl kube-inject` for Nomad. For each selected group of a job (typed,
//! or read from the user's HCL or JSON with every unknown field kept) it adds
//!
//! | task | lifecycle | what it does |
//! |---|---|---|
//! | `istio-init` | prestart | applies the group's [`crate::iptables::IptablesPlan`] with `iptables-restore --noflush` from a rules file delivered by a `template` (needs `NET_ADMIN`/`NET_RAW`, see [`tasks::init_task`] for the client's `allow_caps`) |
//! | `istio-proxy` | prestart, sidecar | `pilot-agent proxy --serviceregistry Consul --serviceCluster <service> --discoveryAddress <mesh>-pilot-grpc.service.consul:15010` (from Istio 1.6 the settings go in `PROXY_CONFIG`), as uid 1337 |
//! | `istio-ready` | prestart (optional) | waits, with a deadline, until the proxy reports ready, so the app starts only then |
//! | `istio-cleanup` | poststop (host mode only) | removes the node-wide rules |
//!
//! and puts the group in a `bridge` network (a host-mode group is converted; its docker
//! `port_map` entries become `to` mappings), so the rules are scoped to the allocation and any
//! number of meshed groups can share a node. [`NetworkMode::Host`] keeps the original,
//! node-wide behaviour and guards it. Services get the tags and meta Pilot's Consul registry
//! reads (`version|v1` tags, `protocol` meta) when a version or protocol is configured.
//!
//! Injection is **idempotent** (injecting an injected job re-injects it from its original
//! form, so twice equals once) and **reversible**: every change is recorded in the group
//! meta ([`meta::UNDO`]), and [`remove_sidecar`] restores the job exactly.
//!
//! ```
//! use istio_nomad_core::nomad::{Job, NetworkResource, Port, Service, Task, TaskGroup};
//! use istio_nomad_core::plan::sidecar::{inject, remove_sidecar, SidecarOptions};
//!
//! let mut group = TaskGroup::new("web")
//!     .task(Task::new("app", "docker").config("image", "nginx:1.27"))
//!     .service(Service { name: Some("web".into()), port_label: Some("http".into()), ..Default::default() });
//! group.networks.push(NetworkResource { dynamic_ports: vec![Port::dynamic("http", 8080)], ..Default::default() });
//! let job = Job::new("web").datacenters(["dc1"]).group(group);
//!
//! let opts = SidecarOptions::new("bookinfo").build()?;
//! let meshed = inject(&job, &opts)?;
//! let g = &meshed.task_groups[0];
//! assert_eq!(g.networks[0].mode.as_deref(), Some("bridge"));
//! assert!(g.find_task("istio-proxy").is_some() && g.find_task("istio-init").is_some());
//! assert_eq!(inject(&meshed, &opts)?, meshed);
//! assert_eq!(remove_sidecar(&meshed)?, job);
//! # Ok::<(), istio_nomad_core::Error>(())
//! ```

mod addressing;
pub mod rules;
pub mod tasks;
mod undo;

pub use crate::spec::sidecar::{
    InjectSettings, NetworkMode, Selection, SidecarOptions, SidecarSpec, CONSUL_SEARCH_DOMAIN,
    DEFAULT_PROXY_CPU, DEFAULT_PROXY_MEMORY, DEFAULT_READY_IMAGE, DEFAULT_READY_TIMEOUT,
    PILOT_DISCOVERY_PORT,
};
pub use rules::GroupRules;

use crate::error::{Error, Result, ValidationErrors};
use crate::nomad::{Constraint, Job, NetworkResource, Port, Service, Task, TaskGroup};
use crate::spec::sidecar::is_label_value;
use serde_json::Value;
use undo::Undo;

/// Group meta keys read and written by injection.
pub mod meta {
    pub use crate::nomad::meta::INJECTED;
    /// Set by the user: `"true"` injects the group even without services (or when the
    /// selection is opt-in), `"false"` leaves it alone.
    pub const INJECT: &str = "istio-nomad.inject";
    /// Set by injection in host mode (`"true"`): the group's rules apply to the whole node.
    /// The installer refuses a second such group on one node.
    pub const HOST_MODE: &str = "istio-nomad.host-mode";
    /// Set by injection: what it changed, as compact JSON, so that removal restores the group.
    pub const UNDO: &str = "istio-nomad.undo";
    /// Set by the user: the version label of the group's services (`version|<v>` tag).
    pub const VERSION: &str = "istio-nomad.version";
    /// Set by the user: the protocol of the group's services (`protocol` service meta).
    pub const PROTOCOL: &str = "istio-nomad.protocol";
    /// Set by the user: the proxy's `--serviceCluster` (default: the group's first service).
    pub const SERVICE_CLUSTER: &str = "istio-nomad.service-cluster";
}

/// Name of the injected init task.
pub const INIT_TASK: &str = "istio-init";
/// Name of the injected proxy task.
pub const PROXY_TASK: &str = "istio-proxy";
/// Name of the injected readiness gate task.
pub const READY_TASK: &str = "istio-ready";
/// Name of the injected cleanup task (host mode).
pub const CLEANUP_TASK: &str = "istio-cleanup";
/// Every task name injection may add; a group may not already use one.
pub const INJECTED_TASKS: [&str; 4] = [INIT_TASK, PROXY_TASK, READY_TASK, CLEANUP_TASK];

/// Envoy's admin port.
pub const ADMIN_PORT: u16 = 15000;
/// pilot-agent's status port (Istio 1.0.3 and later).
pub const STATUS_PORT: u16 = 15020;
/// Envoy's Prometheus port (Istio 1.0.3 and later).
pub const METRICS_PORT: u16 = 15090;

/// Port labels injection adds to the group network.
pub const PORT_LABELS: [&str; 5] = [
    "istio-admin",
    "istio-outbound",
    "istio-inbound",
    "istio-status",
    "istio-metrics",
];

/// Drivers whose tasks can join a group network namespace (besides
/// [`SidecarOptions::extra_bridge_drivers`]).
pub const BRIDGE_DRIVERS: [&str; 4] = ["docker", "podman", "exec", "java"];

/// The ports the proxy listens on in a meshed group, which the app may not use: admin,
/// outbound capture, inbound capture, status and metrics.
pub fn proxy_ports(opts: &SidecarOptions) -> [u16; 5] {
    let c = &opts.spec.intercept;
    [
        ADMIN_PORT,
        c.proxy_port,
        c.inbound_capture_port,
        STATUS_PORT,
        METRICS_PORT,
    ]
}

/// True when the group carries the injection marker.
pub fn is_injected(g: &TaskGroup) -> bool {
    g.meta.contains_key(meta::INJECTED) || g.meta.contains_key(meta::UNDO)
}

/// The rules of every group injected with `opts` (they do not depend on the group).
pub fn group_rules(opts: &SidecarOptions) -> Result<GroupRules> {
    rules::render(&rules::group_config(opts))
}

/// Injects the sidecar into every selected group of `job` (see the module docs). The input
/// job is checked with Nomad's rules first (its problems are returned as they are); every
/// problem injection finds is reported at once, with the group and field; on error nothing is
/// returned half-done.
pub fn inject(job: &Job, opts: &SidecarOptions) -> Result<Job> {
    opts.validate()?;
    job.validate()?;
    let rules = group_rules(opts)?;
    let prebuilt = injected_tasks(opts, &rules)?;
    let mut out = job.clone();
    let mut errors = ValidationErrors::new();
    let jp = job_path(job);
    if !is_label_value(job.id()) {
        errors.add(
            format!("{jp}.id"),
            "a meshed job's ID names files and Consul services: only letters, digits, '.', '_' and '-'",
            job.id(),
        );
    }
    let job_id = job.id().to_string();
    for g in &mut out.task_groups {
        let gp = format!("{jp}.group[{}]", g.name());
        if is_injected(g) {
            if let Err(e) = restore_group(g, &gp) {
                errors.extend(into_validation(e));
                continue;
            }
        }
        match selected(g, opts, &gp) {
            Ok(true) => match inject_group(&job_id, g, &gp, opts, &prebuilt) {
                Ok(()) => {}
                Err(Error::Validation(e)) => errors.extend(e),
                Err(other) => return Err(other),
            },
            Ok(false) => {}
            Err(e) => errors.extend(e),
        }
    }
    errors.into_result()?;
    out.validate()?;
    Ok(out)
}

/// Removes what [`inject`] added, restoring every injected group exactly as it was (tasks,
/// network, services, constraints, meta). Groups without the marker are left alone.
pub fn remove_sidecar(job: &Job) -> Result<Job> {
    let mut out = job.clone();
    let jp = job_path(job);
    let mut errors = ValidationErrors::new();
    for g in &mut out.task_groups {
        if is_injected(g) {
            let gp = format!("{jp}.group[{}]", g.name());
            if let Err(e) = restore_group(g, &gp) {
                errors.extend(into_validation(e));
            }
        }
    }
    errors.into_result()?;
    Ok(out)
}

/// The rules file of every injected group of `job` (which was injected with `opts`), as the
/// plan writes them to `iptables/<job>.<group>.rules`: the same text as the group's init
/// task template, byte for byte.
pub fn rules_files(job: &Job, opts: &SidecarOptions) -> Result<Vec<crate::plan::RulesFile>> {
    let injected: Vec<&TaskGroup> = job.task_groups.iter().filter(|g| is_injected(g)).collect();
    if injected.is_empty() {
        return Ok(Vec::new());
    }
    let rules = group_rules(opts)?;
    Ok(injected
        .into_iter()
        .map(|g| crate::plan::RulesFile {
            job: job.id().to_string(),
            group: g.name().to_string(),
            restore: rules.restore.clone(),
            cleanup: rules.cleanup.clone(),
            restore_v6: rules.restore6.as_ref().map(|(r, _)| r.clone()),
            cleanup_v6: rules.restore6.as_ref().map(|(_, c)| c.clone()),
        })
        .collect())
}

/// The tasks injection adds to a group, in order (the proxy's service cluster is set per
/// group).
pub fn injected_tasks(opts: &SidecarOptions, rules: &GroupRules) -> Result<Vec<Task>> {
    let host = opts.spec.mode == NetworkMode::Host;
    let mut add = vec![
        tasks::init_task(opts, rules, host)?,
        tasks::proxy_task(opts, rules, "", host),
    ];
    if opts.spec.readiness_gate {
        add.push(tasks::ready_task(opts, host));
    }
    if host {
        add.push(tasks::cleanup_task(opts, rules)?);
    }
    Ok(add)
}

fn job_path(job: &Job) -> String {
    match job.id.as_deref() {
        None | Some("") => "job".into(),
        Some(id) => format!("job[{id}]"),
    }
}

fn into_validation(e: Error) -> ValidationErrors {
    match e {
        Error::Validation(v) => v,
        other => {
            let mut v = ValidationErrors::new();
            v.add("job", other.to_string(), "");
            v
        }
    }
}

fn restore_group(g: &mut TaskGroup, gp: &str) -> Result<()> {
    let path = format!("{gp}.meta[{}]", meta::UNDO);
    let text = g.meta.get(meta::UNDO).cloned().ok_or_else(|| {
        Error::field(
            path.clone(),
            "the group is marked as injected but has no undo record",
            g.meta.get(meta::INJECTED).cloned().unwrap_or_default(),
        )
    })?;
    Undo::parse(&text, &path)?.apply(g);
    Ok(())
}

fn has_services(g: &TaskGroup) -> bool {
    !g.services.is_empty() || g.tasks.iter().any(|t| !t.services.is_empty())
}

fn selected(
    g: &TaskGroup,
    opts: &SidecarOptions,
    gp: &str,
) -> std::result::Result<bool, ValidationErrors> {
    match g.meta.get(meta::INJECT).map(String::as_str) {
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(other) => {
            let mut e = ValidationErrors::new();
            e.add(
                format!("{gp}.meta[{}]", meta::INJECT),
                "must be \"true\" or \"false\"",
                other,
            );
            Err(e)
        }
        None => Ok(opts.selection == Selection::WithServices && has_services(g)),
    }
}

/// The name a service is registered under (Nomad's default when it has none).
fn service_name(s: &Service, job: &str, group: &str, task: Option<&str>) -> String {
    match (&s.name, task) {
        (Some(n), _) if !n.is_empty() => n.clone(),
        (_, Some(t)) => format!("{job}-{group}-{t}"),
        (_, None) => format!("{job}-{group}"),
    }
}

fn has_sidecar_service(s: &Service) -> bool {
    matches!(&s.connect, Some(Value::Object(c)) if c.get("SidecarService").is_some_and(|v| !v.is_null()))
}

/// The port a network port listens on inside the group's namespace (`None`: dynamic).
fn inside_port(p: &Port) -> Option<i64> {
    match p.to {
        Some(t) if t > 0 => Some(t),
        _ => p.value.filter(|v| *v > 0),
    }
}

fn inject_group(
    job_id: &str,
    g: &mut TaskGroup,
    gp: &str,
    opts: &SidecarOptions,
    prebuilt: &[Task],
) -> Result<()> {
    let mut e = ValidationErrors::new();
    let mut undo = Undo::default();
    let host = opts.spec.mode == NetworkMode::Host;
    let gname = g.name().to_string();
    if !is_label_value(&gname) {
        e.add(
            format!("{gp}.name"),
            "a meshed group's name names files and the proxy: only letters, digits, '.', '_' and '-'",
            &gname,
        );
    }
    for t in &g.tasks {
        if INJECTED_TASKS.contains(&t.name()) {
            e.add(
                format!("{gp}.task[{}].name", t.name()),
                "the name is taken by an injected task; rename the task",
                t.name(),
            );
        }
        if t.kind
            .as_deref()
            .is_some_and(|k| k.starts_with("connect-proxy"))
        {
            e.add(
                format!("{gp}.task[{}].kind", t.name()),
                "the group runs a Consul Connect proxy task; remove it (or the job's connect blocks) first",
                t.kind.as_deref().unwrap_or(""),
            );
        }
    }

    // Labels of the group, for the version tag and the protocol.
    let version = g.meta.get(meta::VERSION).cloned().or(opts.version.clone());
    let protocol = g
        .meta
        .get(meta::PROTOCOL)
        .cloned()
        .or(opts.protocol.clone());
    for (key, v) in [(meta::VERSION, &version), (meta::PROTOCOL, &protocol)] {
        if let Some(v) = v {
            if !is_label_value(v) {
                e.add(
                    format!("{gp}.meta[{key}]"),
                    "may hold only letters, digits, '.', '_' and '-'",
                    v,
                );
            }
        }
    }
    let own_ports = proxy_ports(opts);
    let mut cluster = g.meta.get(meta::SERVICE_CLUSTER).cloned();
    if let Some(c) = &cluster {
        if !is_label_value(c) {
            e.add(
                format!("{gp}.meta[{}]", meta::SERVICE_CLUSTER),
                "may hold only letters, digits, '.', '_' and '-'",
                c,
            );
        }
    }

    // Services: names, Connect, proxy port collisions, tags and meta.
    let mut services_changed = false;
    let original_services = g.services.clone();
    for (i, s) in g.services.iter_mut().enumerate() {
        let sp = format!("{gp}.service[{i}]");
        let changed = edit_service(
            s,
            &sp,
            job_id,
            &gname,
            None,
            opts,
            &version,
            &protocol,
            &own_ports,
            &mut cluster,
            &mut e,
        );
        services_changed |= changed;
    }
    for t in &mut g.tasks {
        let tname = t.name().to_string();
        let original = t.services.clone();
        let mut changed = false;
        for (i, s) in t.services.iter_mut().enumerate() {
            let sp = format!("{gp}.task[{tname}].service[{i}]");
            changed |= edit_service(
                s,
                &sp,
                job_id,
                &gname,
                Some(&tname),
                opts,
                &version,
                &protocol,
                &own_ports,
                &mut cluster,
                &mut e,
            );
        }
        if changed {
            undo.task_services.insert(tname, original);
        }
    }
    let cluster = cluster.unwrap_or_else(|| format!("{job_id}-{gname}"));

    // Network, then how the services are registered in it.
    let original_networks = g.networks.clone();
    let original_constraints = g.constraints.clone();
    if host {
        host_network(g, gp, opts, &own_ports, &mut undo, &mut e);
        addressing::host_addressing(g, gp, &mut e);
    } else {
        bridge_network(g, gp, opts, &own_ports, &mut e);
        undo.address_modes = addressing::alloc_addressing(g, gp, &mut e);
    }
    if services_changed {
        undo.services = Some(original_services);
    }
    if e.is_empty() {
        if let Some(n) = g.networks.first_mut() {
            n.dns = Some(tasks::group_dns(opts, n.dns.as_ref()));
        }
    }
    if g.networks != original_networks {
        undo.networks = Some(original_networks);
    }
    if host {
        g.constraints.push(Constraint::distinct_hosts());
        undo.constraints = Some(original_constraints);
    }
    if !e.is_empty() {
        return Err(e.into());
    }

    // Tasks: the same for every group but the proxy's service cluster.
    undo.tasks = prebuilt.iter().map(|t| t.name().to_string()).collect();
    for t in prebuilt {
        let mut t = t.clone();
        if t.name() == PROXY_TASK {
            tasks::set_service_cluster(&mut t, &cluster);
        }
        g.tasks.push(t);
    }

    // Meta: the marker, the host-mode marker, and the undo record last.
    undo.set_meta(&mut g.meta, meta::INJECTED, "true".into());
    if host {
        undo.set_meta(&mut g.meta, meta::HOST_MODE, "true".into());
    }
    undo.meta
        .insert(meta::UNDO.into(), g.meta.get(meta::UNDO).cloned());
    let record = serde_json::to_string(&undo).map_err(|source| Error::Encode {
        what: "undo record",
        source,
    })?;
    g.meta.insert(meta::UNDO.into(), record);
    Ok(())
}

/// Checks and edits one service; true when it changed.
#[allow(clippy::too_many_arguments)]
fn edit_service(
    s: &mut Service,
    sp: &str,
    job_id: &str,
    group: &str,
    task: Option<&str>,
    opts: &SidecarOptions,
    version: &Option<String>,
    protocol: &Option<String>,
    own_ports: &[u16],
    cluster: &mut Option<String>,
    e: &mut ValidationErrors,
) -> bool {
    let name = service_name(s, job_id, group, task);
    if !is_label_value(&name) {
        e.add(
            format!("{sp}.name"),
            "a meshed service's name becomes the proxy's service cluster: only letters, digits, '.', '_' and '-'",
            &name,
        );
    }
    if cluster.is_none() {
        *cluster = Some(name);
    }
    if let Some(port) = s.port_label.as_deref().and_then(|p| p.parse::<u16>().ok()) {
        if own_ports.contains(&port) {
            e.add(
                format!("{sp}.port"),
                "the port is the Istio proxy's own (15000 admin, 15001 outbound, 15006 inbound, 15020 status, 15090 metrics)",
                port,
            );
        }
    }
    let mut changed = false;
    if has_sidecar_service(s) {
        if opts.spec.replace_connect {
            s.connect = None;
            changed = true;
        } else {
            e.add(
                format!("{sp}.connect.sidecar_service"),
                "the service already has a Consul Connect sidecar; remove it or ask to replace it (replace_connect, --replace-connect)",
                s.name.as_deref().unwrap_or(""),
            );
        }
    }
    if let Some(v) = version {
        if !s.tags.iter().any(|t| t.starts_with("version|")) {
            s.tags.push(format!("version|{v}"));
            changed = true;
        }
    }
    if let Some(p) = protocol {
        if !s.meta.contains_key("protocol") {
            s.meta.insert("protocol".into(), p.clone());
            changed = true;
        }
    }
    changed
}

fn port_collisions(n: &NetworkResource, np: &str, own_ports: &[u16], e: &mut ValidationErrors) {
    for p in n.reserved_ports.iter().chain(n.dynamic_ports.iter()) {
        let label = p.label.as_deref().unwrap_or("");
        let pp = format!("{np}.port[{label}]");
        if PORT_LABELS.contains(&label) {
            e.add(
                format!("{pp}.label"),
                "the label is taken by a port of the injected proxy; rename the port",
                label,
            );
        }
        if let Some(inside) = inside_port(p) {
            if own_ports.iter().any(|o| i64::from(*o) == inside) {
                let field = if p.to.is_some_and(|t| t > 0) {
                    "to"
                } else {
                    "static"
                };
                e.add(
                    format!("{pp}.{field}"),
                    "the port is the Istio proxy's own (15000 admin, 15001 outbound, 15006 inbound, 15020 status, 15090 metrics)",
                    inside,
                );
            }
        }
    }
}

fn docker_like(t: &Task) -> bool {
    matches!(t.driver.as_deref(), Some("docker" | "podman"))
}

fn bridge_network(
    g: &mut TaskGroup,
    gp: &str,
    opts: &SidecarOptions,
    own_ports: &[u16],
    e: &mut ValidationErrors,
) {
    for t in &g.tasks {
        let tp = format!("{gp}.task[{}]", t.name());
        let driver = t.driver.as_deref().unwrap_or("");
        if !BRIDGE_DRIVERS.contains(&driver)
            && !opts.extra_bridge_drivers.iter().any(|d| d == driver)
        {
            e.add(
                format!("{tp}.driver"),
                "the driver cannot join the group's bridge network, so its traffic would bypass the proxy; use host mode or a docker/podman/exec/java task",
                driver,
            );
        }
        if docker_like(t) {
            if let Some(m) = t.config.get("network_mode") {
                e.add(
                    format!("{tp}.config.network_mode"),
                    "network_mode takes the task out of the group's shared network namespace, past the proxy; remove it",
                    m.as_str().map_or_else(|| m.to_string(), str::to_string),
                );
            }
        }
        if t.resources.as_ref().is_some_and(|r| !r.networks.is_empty()) {
            e.add(
                format!("{tp}.resources.network"),
                "task-level networks (before Nomad 0.12) cannot be bridged; move the ports into the group's network block",
                t.resources.as_ref().map_or(0, |r| r.networks.len()),
            );
        }
    }
    if g.networks.len() > 1 {
        e.add(
            format!("{gp}.network"),
            "a meshed group has exactly one network",
            g.networks.len(),
        );
        return;
    }
    if g.networks.is_empty() {
        g.networks.push(NetworkResource::default());
    }
    let port_maps: Vec<(String, serde_json::Map<String, Value>)> = g
        .tasks
        .iter()
        .filter(|t| docker_like(t))
        .filter_map(|t| port_map(t).map(|m| (t.name().to_string(), m)))
        .collect();
    let np = format!("{gp}.network[0]");
    let n = &mut g.networks[0];
    match n.mode.as_deref() {
        None | Some("") | Some("host") => {
            n.mode = Some(opts.group_network_mode());
            // docker's port_map (host-mode networking) becomes the port's `to`.
            for (task, map) in &port_maps {
                for (label, v) in map {
                    let Some(to) = v
                        .as_i64()
                        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                    else {
                        e.add(
                            format!("{gp}.task[{task}].config.port_map.{label}"),
                            "a port_map entry must be a port number",
                            v,
                        );
                        continue;
                    };
                    let port = n
                        .reserved_ports
                        .iter_mut()
                        .chain(n.dynamic_ports.iter_mut())
                        .find(|p| p.label.as_deref() == Some(label.as_str()));
                    match port {
                        Some(p) if p.to.is_none_or(|t| t <= 0) => p.to = Some(to),
                        Some(p) if p.to == Some(to) => {}
                        Some(p) => e.add(
                            format!("{np}.port[{label}].to"),
                            format!(
                                "the port maps to {} but task {task}'s port_map says {to}",
                                p.to.unwrap_or(0)
                            ),
                            p.to.unwrap_or(0),
                        ),
                        None => e.add(
                            format!("{gp}.task[{task}].config.port_map.{label}"),
                            "the port_map names a port the group network does not have",
                            label,
                        ),
                    }
                }
            }
        }
        Some("bridge") => {}
        Some(m) if m.starts_with("cni/") => {}
        Some(m) => {
            e.add(
                format!("{np}.mode"),
                "a meshed group needs a network namespace of its own (bridge or cni/<name>)",
                m,
            );
            return;
        }
    }
    port_collisions(n, &np, own_ports, e);
    if opts.has_status_port() {
        n.dynamic_ports
            .push(Port::dynamic("istio-status", i64::from(STATUS_PORT)));
        n.dynamic_ports
            .push(Port::dynamic("istio-metrics", i64::from(METRICS_PORT)));
    }
    if opts.spec.expose_admin {
        n.dynamic_ports
            .push(Port::dynamic("istio-admin", i64::from(ADMIN_PORT)));
    }
}

fn port_map(t: &Task) -> Option<serde_json::Map<String, Value>> {
    match t.config.get("port_map")? {
        Value::Object(m) => Some(m.clone()),
        // HCL blocks arrive as a list of objects.
        Value::Array(items) => Some(
            items
                .iter()
                .filter_map(Value::as_object)
                .flat_map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())))
                .collect(),
        ),
        _ => None,
    }
}

fn host_network(
    g: &mut TaskGroup,
    gp: &str,
    opts: &SidecarOptions,
    own_ports: &[u16],
    undo: &mut Undo,
    e: &mut ValidationErrors,
) {
    if g.networks.len() > 1 {
        e.add(
            format!("{gp}.network"),
            "a meshed group has exactly one network",
            g.networks.len(),
        );
        return;
    }
    if g.networks.is_empty() {
        g.networks.push(NetworkResource::default());
    }
    let np = format!("{gp}.network[0]");
    let n = &mut g.networks[0];
    match n.mode.as_deref() {
        None | Some("") | Some("host") => {}
        Some(m) => {
            e.add(
                format!("{np}.mode"),
                "host mode puts the proxy in the node's network namespace; the group must use the host network",
                m,
            );
            return;
        }
    }
    port_collisions(n, &np, own_ports, e);
    let mut ports: Vec<(&str, u16)> = vec![
        ("istio-admin", ADMIN_PORT),
        ("istio-outbound", opts.spec.intercept.proxy_port),
        (
            "istio-inbound",
            opts.effective_intercept().inbound_capture_port,
        ),
    ];
    if opts.has_status_port() {
        ports.extend([
            ("istio-status", STATUS_PORT),
            ("istio-metrics", METRICS_PORT),
        ]);
    }
    // Before Istio 1.3 inbound traffic is captured on the proxy port itself: reserve it once.
    let mut seen = std::collections::HashSet::new();
    ports.retain(|(_, p)| seen.insert(*p));
    // Static reservations: the scheduler then never places two host-mode meshed groups on
    // one node.
    for (label, port) in ports {
        n.reserved_ports
            .push(Port::fixed(label, i64::from(port), None));
    }
    for t in &mut g.tasks {
        if !docker_like(t) {
            continue;
        }
        let tp = format!("{gp}.task[{}]", t.name());
        match t.config.get("network_mode") {
            None => {
                undo.task_configs
                    .insert(t.name().to_string(), t.config.clone());
                t.config.insert("network_mode".into(), "host".into());
            }
            Some(Value::String(m)) if m == "host" => {}
            Some(m) => e.add(
                format!("{tp}.config.network_mode"),
                "in host mode every task shares the node's network namespace (network_mode = \"host\")",
                m.as_str().map_or_else(|| m.to_string(), str::to_string),
            ),
        }
    }
}
