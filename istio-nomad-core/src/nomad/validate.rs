//! Nomad's job validation rules (`Job.Validate`, `TaskGroup.Validate` and the register hooks),
//! reporting every problem at once with its path.

use super::model::*;
use crate::error::ValidationErrors;
use std::collections::HashSet;

/// The server's default `job_max_priority`.
pub const NOMAD_MAX_PRIORITY: i64 = 100;

const JOB_TYPES: &[&str] = &["service", "batch", "system", "sysbatch"];
const HOOKS: &[&str] = &["prestart", "poststart", "poststop"];
const CHECK_TYPES_CONSUL: &[&str] = &["http", "tcp", "grpc", "script"];
const CHECK_TYPES_NOMAD: &[&str] = &["http", "tcp"];
/// The constraint and affinity operators Nomad accepts.
pub const CONSTRAINT_OPERATORS: &[&str] = &[
    "=",
    "==",
    "is",
    "!=",
    "not",
    ">",
    ">=",
    "<",
    "<=",
    "distinct_hosts",
    "distinct_property",
    "regexp",
    "set_contains",
    "set_contains_all",
    "set_contains_any",
    "version",
    "semver",
    "is_set",
    "is_not_set",
];
const CHANGE_MODES: &[&str] = &["restart", "noop", "signal", "script"];
const ADDRESS_MODES: &[&str] = &["auto", "host", "driver", "alloc"];
const ON_UPDATE: &[&str] = &["require_healthy", "ignore_warnings", "ignore"];
const HEALTH_CHECKS: &[&str] = &["checks", "task_states", "manual"];

/// Minimum check interval and timeout Nomad accepts (1s).
const MIN_CHECK: i64 = SECOND;

/// True when a duration in nanoseconds is usable (not negative).
pub fn is_duration_ok(ns: i64) -> bool {
    ns >= 0
}

fn q(s: &str) -> String {
    s.to_string()
}

fn bad_name(s: &str) -> bool {
    s.is_empty() || s.chars().any(|c| c.is_control() || c == ' ' || c == '\0')
}

pub(crate) fn validate_job(job: &Job) -> ValidationErrors {
    let mut e = ValidationErrors::new();
    let id = job.id.clone().unwrap_or_default();
    // A pathologically long ID would be repeated in every path: name the job `job` then.
    let jp = if id.is_empty() || id.chars().count() > crate::error::MAX_VALUE_CHARS {
        "job".to_string()
    } else {
        format!("job[{id}]")
    };

    match job.id.as_deref() {
        None | Some("") => e.add(format!("{jp}.id"), "the job needs an ID", "\"\""),
        Some(s) if bad_name(s) => e.add(
            format!("{jp}.id"),
            "the job ID may not contain spaces or control characters",
            s,
        ),
        _ => {}
    }
    let kind = job.kind();
    if !JOB_TYPES.contains(&kind) {
        e.add(
            format!("{jp}.type"),
            "the job type must be one of service, batch, system, sysbatch",
            kind,
        );
    }
    if let Some(p) = job.priority {
        if !(1..=NOMAD_MAX_PRIORITY).contains(&p) {
            e.add(
                format!("{jp}.priority"),
                format!("priority must be between 1 and {NOMAD_MAX_PRIORITY}"),
                p,
            );
        }
    }
    for (i, dc) in job.datacenters.iter().enumerate() {
        if dc.is_empty() {
            e.add(
                format!("{jp}.datacenters[{i}]"),
                "a datacenter name may not be empty",
                "\"\"",
            );
        }
    }
    if job.task_groups.is_empty() {
        e.add(format!("{jp}.group"), "the job needs at least one group", 0);
    }
    let system = kind == "system" || kind == "sysbatch";
    if system {
        if !job.affinities.is_empty() {
            e.add(
                format!("{jp}.affinity"),
                "a system job may not have affinities",
                job.affinities.len(),
            );
        }
        if !job.spreads.is_empty() {
            e.add(
                format!("{jp}.spread"),
                "a system job may not have spreads",
                job.spreads.len(),
            );
        }
    }
    if job.update.is_some() && !(kind == "service" || kind == "system") {
        e.add(
            format!("{jp}.update"),
            "an update block is only allowed in service and system jobs",
            kind,
        );
    }
    if job.migrate.is_some() && kind != "service" {
        e.add(
            format!("{jp}.migrate"),
            "a migrate block is only allowed in service jobs",
            kind,
        );
    }
    if let Some(u) = &job.update {
        update(&mut e, &format!("{jp}.update"), u);
    }
    if let Some(r) = &job.reschedule {
        reschedule(&mut e, &format!("{jp}.reschedule"), r);
    }
    for (i, c) in job.constraints.iter().enumerate() {
        constraint(
            &mut e,
            &format!("{jp}.constraint[{i}]"),
            c.operand.as_deref(),
            c.l_target.as_deref(),
        );
    }
    for (i, a) in job.affinities.iter().enumerate() {
        affinity(&mut e, &format!("{jp}.affinity[{i}]"), a);
    }
    for (i, s) in job.spreads.iter().enumerate() {
        spread(&mut e, &format!("{jp}.spread[{i}]"), s);
    }

    let mut names = HashSet::new();
    for (gi, g) in job.task_groups.iter().enumerate() {
        let gname = g.name.clone().unwrap_or_default();
        let gp = if gname.is_empty() {
            format!("{jp}.group[{gi}]")
        } else {
            format!("{jp}.group[{gname}]")
        };
        if gname.is_empty() {
            e.add(format!("{gp}.name"), "a group needs a name", "\"\"");
        } else if bad_name(&gname) {
            e.add(
                format!("{gp}.name"),
                "a group name may not contain spaces or control characters",
                &gname,
            );
        } else if !names.insert(gname.clone()) {
            e.add(
                format!("{gp}.name"),
                "group names must be unique within the job",
                &gname,
            );
        }
        group(&mut e, &gp, g, kind);
    }
    e
}

fn group(e: &mut ValidationErrors, gp: &str, g: &TaskGroup, kind: &str) {
    if let Some(c) = g.count {
        if c < 0 {
            e.add(format!("{gp}.count"), "count may not be negative", c);
        }
        if (kind == "system" || kind == "sysbatch") && c > 1 {
            e.add(
                format!("{gp}.count"),
                "a system job's group count must be 0 or 1",
                c,
            );
        }
    }
    if g.update.is_some() && !(kind == "service" || kind == "system") {
        e.add(
            format!("{gp}.update"),
            "an update block is only allowed in service and system jobs",
            kind,
        );
    }
    if g.migrate.is_some() && kind != "service" {
        e.add(
            format!("{gp}.migrate"),
            "a migrate block is only allowed in service jobs",
            kind,
        );
    }
    if let Some(u) = &g.update {
        update(e, &format!("{gp}.update"), u);
    }
    if let Some(r) = &g.restart_policy {
        if let Some(m) = r.mode.as_deref() {
            if m != "fail" && m != "delay" {
                e.add(
                    format!("{gp}.restart.mode"),
                    "restart mode must be fail or delay",
                    m,
                );
            }
        }
        if let Some(a) = r.attempts {
            if a < 0 {
                e.add(
                    format!("{gp}.restart.attempts"),
                    "attempts may not be negative",
                    a,
                );
            }
        }
    }
    if let Some(r) = &g.reschedule_policy {
        reschedule(e, &format!("{gp}.reschedule"), r);
    }
    if let Some(d) = &g.ephemeral_disk {
        if let Some(s) = d.size_mb {
            if s < 0 {
                e.add(
                    format!("{gp}.ephemeral_disk.size"),
                    "size may not be negative",
                    s,
                );
            }
        }
    }
    for (i, c) in g.constraints.iter().enumerate() {
        constraint(
            e,
            &format!("{gp}.constraint[{i}]"),
            c.operand.as_deref(),
            c.l_target.as_deref(),
        );
    }
    for (i, a) in g.affinities.iter().enumerate() {
        affinity(e, &format!("{gp}.affinity[{i}]"), a);
    }
    for (i, s) in g.spreads.iter().enumerate() {
        spread(e, &format!("{gp}.spread[{i}]"), s);
    }
    if g.networks.len() > 1 {
        e.add(
            format!("{gp}.network"),
            "a group may have at most one network",
            g.networks.len(),
        );
    }
    for (i, n) in g.networks.iter().enumerate() {
        network(e, &format!("{gp}.network[{i}]"), n);
    }
    for (name, v) in &g.volumes {
        let vp = format!("{gp}.volume[{name}]");
        match v.volume_type.as_deref() {
            Some("host") | Some("csi") | None => {}
            Some(t) => e.add(format!("{vp}.type"), "volume type must be host or csi", t),
        }
        if v.source.as_deref().unwrap_or("").is_empty() {
            e.add(format!("{vp}.source"), "a volume needs a source", "\"\"");
        }
    }

    let labels: HashSet<&str> = g.port_labels().into_iter().collect();
    let providers: HashSet<&str> = g
        .services
        .iter()
        .chain(g.tasks.iter().flat_map(|t| t.services.iter()))
        .map(|s| s.provider.as_deref().unwrap_or("consul"))
        .collect();
    if providers.len() > 1 {
        let mut p: Vec<&str> = providers.into_iter().collect();
        p.sort_unstable();
        e.add(
            format!("{gp}.service"),
            "a group may use only one service provider",
            p.join(", "),
        );
    }
    let task_names: HashSet<&str> = g.tasks.iter().filter_map(|t| t.name.as_deref()).collect();
    for (i, s) in g.services.iter().enumerate() {
        service(
            e,
            &format!("{gp}.service[{i}]"),
            s,
            &labels,
            Some(&task_names),
        );
    }

    let gateways = gateway_services(e, gp, g);
    if g.tasks.is_empty() && gateways == 0 {
        e.add(
            format!("{gp}.task"),
            "a group needs at least one task (or a Consul Connect gateway service, for which Nomad adds the task)",
            0,
        );
    }
    let mut tnames = HashSet::new();
    let mut leaders = 0;
    for (ti, t) in g.tasks.iter().enumerate() {
        let tname = t.name.clone().unwrap_or_default();
        let tp = if tname.is_empty() {
            format!("{gp}.task[{ti}]")
        } else {
            format!("{gp}.task[{tname}]")
        };
        if tname.is_empty() {
            e.add(format!("{tp}.name"), "a task needs a name", "\"\"");
        } else if bad_name(&tname) {
            e.add(
                format!("{tp}.name"),
                "a task name may not contain spaces or control characters",
                &tname,
            );
        } else if !tnames.insert(tname.clone()) {
            e.add(
                format!("{tp}.name"),
                "task names must be unique within the group",
                &tname,
            );
        }
        if t.leader == Some(true) {
            leaders += 1;
        }
        task(e, &tp, t, &labels, g);
    }
    if !g.tasks.is_empty() && !g.tasks.iter().any(Task::is_main) {
        e.add(
            format!("{gp}.task"),
            "a group needs at least one main task (a task without a lifecycle block)",
            g.tasks.len(),
        );
    }
    if leaders > 1 {
        e.add(
            format!("{gp}.task"),
            "only one task may be the leader",
            leaders,
        );
    }
}

/// The `connect { gateway { ... } }` block of a service, when it has one.
fn gateway_of(s: &Service) -> Option<&serde_json::Map<String, serde_json::Value>> {
    s.connect.as_ref()?.get("Gateway")?.as_object()
}

/// Checks the group's Consul Connect gateway services and returns how many there are.
///
/// Nomad's job register hook (`nomad/job_endpoint_hook_connect.go` v1.6.9,
/// `groupConnectHook`) adds the gateway task to a group with a gateway service and a network,
/// so such a group needs no task of its own; `groupConnectGatewayValidate` requires exactly
/// one network in mode `bridge` or `host`, `ConsulGateway.Validate` (`nomad/structs/
/// services.go`) exactly one of `ingress`, `terminating` and `mesh`, and the hook a port for
/// a mesh gateway service.
fn gateway_services(e: &mut ValidationErrors, gp: &str, g: &TaskGroup) -> usize {
    let mut n = 0;
    for (i, s) in g.services.iter().enumerate() {
        let Some(gw) = gateway_of(s) else {
            continue;
        };
        n += 1;
        let sp = format!("{gp}.service[{i}]");
        let kinds: Vec<&str> = ["Ingress", "Terminating", "Mesh"]
            .into_iter()
            .filter(|k| gw.get(*k).is_some_and(|v| !v.is_null()))
            .collect();
        if kinds.len() != 1 {
            e.add(
                format!("{sp}.connect.gateway"),
                "a gateway needs exactly one of ingress, terminating or mesh",
                kinds.len(),
            );
        }
        if kinds == ["Mesh"] && s.port_label.as_deref().unwrap_or("").is_empty() {
            e.add(
                format!("{sp}.port"),
                "a mesh gateway service needs a port (its WAN address)",
                "\"\"",
            );
        }
        match g.networks.as_slice() {
            [net] => {
                let mode = net.mode.as_deref().unwrap_or("");
                if mode != "bridge" && mode != "host" {
                    e.add(
                        format!("{gp}.network[0].mode"),
                        "a Consul Connect gateway group needs network mode bridge or host",
                        mode,
                    );
                }
            }
            nets => e.add(
                format!("{gp}.network"),
                "Consul Connect gateways require exactly 1 network",
                nets.len(),
            ),
        }
    }
    n
}

fn task(e: &mut ValidationErrors, tp: &str, t: &Task, labels: &HashSet<&str>, g: &TaskGroup) {
    if t.driver.as_deref().unwrap_or("").is_empty() {
        e.add(format!("{tp}.driver"), "a task needs a driver", "\"\"");
    }
    if let Some(l) = &t.lifecycle {
        match l.hook.as_deref() {
            Some(h) if HOOKS.contains(&h) => {}
            Some(h) => e.add(
                format!("{tp}.lifecycle.hook"),
                "the lifecycle hook must be prestart, poststart or poststop",
                h,
            ),
            None => e.add(
                format!("{tp}.lifecycle.hook"),
                "a lifecycle block needs a hook",
                "\"\"",
            ),
        }
    }
    if let Some(r) = &t.resources {
        if let Some(c) = r.cpu {
            if c < 1 {
                e.add(
                    format!("{tp}.resources.cpu"),
                    "cpu must be at least 1 MHz",
                    c,
                );
            }
        }
        if let Some(m) = r.memory_mb {
            if m < 10 {
                e.add(
                    format!("{tp}.resources.memory"),
                    "memory must be at least 10 MB",
                    m,
                );
            }
        }
        if let (Some(m), Some(mx)) = (r.memory_mb, r.memory_max_mb) {
            if mx != 0 && mx < m {
                e.add(
                    format!("{tp}.resources.memory_max"),
                    "memory_max must be at least memory",
                    mx,
                );
            }
        }
        for (i, n) in r.networks.iter().enumerate() {
            network(e, &format!("{tp}.resources.network[{i}]"), n);
        }
    }
    if let Some(k) = t.kill_timeout {
        if k < 0 {
            e.add(
                format!("{tp}.kill_timeout"),
                "kill_timeout may not be negative",
                k,
            );
        }
    }
    for (i, s) in t.services.iter().enumerate() {
        service(e, &format!("{tp}.service[{i}]"), s, labels, None);
    }
    for (i, tm) in t.templates.iter().enumerate() {
        let p = format!("{tp}.template[{i}]");
        if tm.dest_path.as_deref().unwrap_or("").is_empty() {
            e.add(
                format!("{p}.destination"),
                "a template needs a destination",
                "\"\"",
            );
        }
        if tm.source_path.is_none() && tm.embedded_tmpl.is_none() {
            e.add(
                format!("{p}.data"),
                "a template needs data or source",
                "\"\"",
            );
        }
        if let Some(m) = tm.change_mode.as_deref() {
            if !CHANGE_MODES.contains(&m) {
                e.add(
                    format!("{p}.change_mode"),
                    "change_mode must be restart, noop, signal or script",
                    m,
                );
            } else if m == "signal" && tm.change_signal.as_deref().unwrap_or("").is_empty() {
                e.add(
                    format!("{p}.change_signal"),
                    "change_mode signal needs a change_signal",
                    "\"\"",
                );
            }
        }
    }
    for (i, m) in t.volume_mounts.iter().enumerate() {
        let v = m.volume.as_deref().unwrap_or("");
        if !g.volumes.contains_key(v) {
            e.add(
                format!("{tp}.volume_mount[{i}].volume"),
                "the volume is not defined in the group",
                v,
            );
        }
    }
    for (i, c) in t.constraints.iter().enumerate() {
        constraint(
            e,
            &format!("{tp}.constraint[{i}]"),
            c.operand.as_deref(),
            c.l_target.as_deref(),
        );
    }
    if let Some(lc) = &t.log_config {
        if lc.max_files.is_some_and(|n| n < 1) {
            e.add(
                format!("{tp}.logs.max_files"),
                "max_files must be at least 1",
                lc.max_files.unwrap_or(0),
            );
        }
    }
}

fn port_ok(p: &str, labels: &HashSet<&str>) -> bool {
    labels.contains(p) || p.parse::<u16>().is_ok_and(|n| n > 0) || p.contains("${")
}

fn service(
    e: &mut ValidationErrors,
    sp: &str,
    s: &Service,
    labels: &HashSet<&str>,
    tasks: Option<&HashSet<&str>>,
) {
    let provider = s.provider.as_deref().unwrap_or("consul");
    if provider != "consul" && provider != "nomad" {
        e.add(
            format!("{sp}.provider"),
            "provider must be consul or nomad",
            provider,
        );
    }
    if let Some(n) = s.name.as_deref() {
        if n.chars().any(|c| c.is_whitespace() || c.is_control()) {
            e.add(
                format!("{sp}.name"),
                "a service name may not contain spaces or control characters",
                n,
            );
        }
    }
    if let Some(p) = s.port_label.as_deref() {
        if !p.is_empty() && !port_ok(p, labels) {
            e.add(
                format!("{sp}.port"),
                "the port label is not defined in the group's network",
                p,
            );
        }
    }
    // An empty string is the server default (Service.Canonicalize), as `GET /v1/job` returns it.
    if let Some(m) = s.address_mode.as_deref().filter(|m| !m.is_empty()) {
        if !ADDRESS_MODES.contains(&m) {
            e.add(
                format!("{sp}.address_mode"),
                "address_mode must be auto, host, driver or alloc",
                m,
            );
        }
    }
    if let Some(m) = s.on_update.as_deref().filter(|m| !m.is_empty()) {
        if !ON_UPDATE.contains(&m) {
            e.add(
                format!("{sp}.on_update"),
                "on_update must be require_healthy, ignore_warnings or ignore",
                m,
            );
        }
    }
    if let (Some(tn), Some(tasks)) = (s.task_name.as_deref(), tasks) {
        if !tn.is_empty() && !tasks.contains(tn) {
            e.add(
                format!("{sp}.task"),
                "the service names a task that is not in the group",
                tn,
            );
        }
    }
    let allowed = if provider == "nomad" {
        CHECK_TYPES_NOMAD
    } else {
        CHECK_TYPES_CONSUL
    };
    for (i, c) in s.checks.iter().enumerate() {
        let cp = format!("{sp}.check[{i}]");
        let ty = c.check_type.as_deref().unwrap_or("");
        if !allowed.contains(&ty) {
            e.add(
                format!("{cp}.type"),
                format!(
                    "check type must be one of {} for provider {provider}",
                    allowed.join(", ")
                ),
                ty,
            );
        }
        if let Some(p) = c.port_label.as_deref() {
            if !p.is_empty() && !port_ok(p, labels) {
                e.add(
                    format!("{cp}.port"),
                    "the port label is not defined in the group's network",
                    p,
                );
            }
        }
        if ty == "http" && c.path.as_deref().unwrap_or("").is_empty() {
            e.add(format!("{cp}.path"), "an http check needs a path", "\"\"");
        }
        if ty == "script" && c.command.as_deref().unwrap_or("").is_empty() {
            e.add(
                format!("{cp}.command"),
                "a script check needs a command",
                "\"\"",
            );
        }
        if CHECK_TYPES_CONSUL.contains(&ty) {
            match c.interval {
                Some(i) if i >= MIN_CHECK => {}
                other => e.add(
                    format!("{cp}.interval"),
                    "a check interval must be at least 1s",
                    other.unwrap_or(0),
                ),
            }
            match c.timeout {
                Some(t) if t >= MIN_CHECK => {}
                other => e.add(
                    format!("{cp}.timeout"),
                    "a check timeout must be at least 1s",
                    other.unwrap_or(0),
                ),
            }
        }
        if let Some(m) = c.on_update.as_deref() {
            if !ON_UPDATE.contains(&m) {
                e.add(
                    format!("{cp}.on_update"),
                    "on_update must be require_healthy, ignore_warnings or ignore",
                    m,
                );
            }
        }
    }
}

fn network(e: &mut ValidationErrors, np: &str, n: &NetworkResource) {
    if let Some(m) = n.mode.as_deref() {
        if !(m == "host" || m == "bridge" || m == "none" || m.starts_with("cni/") || m.is_empty()) {
            e.add(
                format!("{np}.mode"),
                "network mode must be host, bridge, none or cni/<name>",
                m,
            );
        }
    }
    let mut seen = HashSet::new();
    let mut statics = HashSet::new();
    for (kind, ports) in [("port", &n.reserved_ports), ("port", &n.dynamic_ports)] {
        for p in ports.iter() {
            let label = p.label.clone().unwrap_or_default();
            let pp = format!("{np}.{kind}[{label}]");
            if label.is_empty() {
                e.add(format!("{pp}.label"), "a port needs a label", "\"\"");
            } else if !label
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                e.add(
                    format!("{pp}.label"),
                    "a port label may hold only letters, digits, '_' and '-'",
                    &label,
                );
            } else if !seen.insert(label.clone()) {
                e.add(
                    format!("{pp}.label"),
                    "port labels must be unique within the network",
                    &label,
                );
            }
            if let Some(v) = p.value {
                if !(0..=65535).contains(&v) {
                    e.add(
                        format!("{pp}.static"),
                        "a port must be between 0 and 65535",
                        v,
                    );
                } else if v > 0 && !statics.insert((v, p.host_network.clone())) {
                    e.add(format!("{pp}.static"), "the static port is used twice", v);
                }
            }
            if let Some(t) = p.to {
                if !(-1..=65535).contains(&t) {
                    e.add(format!("{pp}.to"), "to must be between -1 and 65535", t);
                }
            }
        }
    }
}

fn constraint(e: &mut ValidationErrors, cp: &str, op: Option<&str>, attr: Option<&str>) {
    let op = op.unwrap_or("=");
    if !CONSTRAINT_OPERATORS.contains(&op) {
        e.add(format!("{cp}.operator"), "unknown constraint operator", op);
    }
    if !matches!(op, "distinct_hosts" | "distinct_property")
        && op != "="
        && attr.unwrap_or("").is_empty()
    {
        e.add(
            format!("{cp}.attribute"),
            "the constraint needs an attribute",
            "\"\"",
        );
    }
}

fn affinity(e: &mut ValidationErrors, ap: &str, a: &Affinity) {
    constraint(e, ap, a.operand.as_deref(), a.l_target.as_deref());
    if let Some(w) = a.weight {
        if w == 0 || !(-100..=100).contains(&w) {
            e.add(
                format!("{ap}.weight"),
                "affinity weight must be between -100 and 100 and not 0",
                w,
            );
        }
    }
}

fn spread(e: &mut ValidationErrors, sp: &str, s: &Spread) {
    if s.attribute.as_deref().unwrap_or("").is_empty() {
        e.add(
            format!("{sp}.attribute"),
            "a spread needs an attribute",
            "\"\"",
        );
    }
    if let Some(w) = s.weight {
        if !(0..=100).contains(&w) {
            e.add(
                format!("{sp}.weight"),
                "spread weight must be between 0 and 100",
                w,
            );
        }
    }
    let total: i64 = s.spread_target.iter().filter_map(|t| t.percent).sum();
    if total > 100 {
        e.add(
            format!("{sp}.target"),
            "spread target percentages may not add up to more than 100",
            total,
        );
    }
    let mut seen = HashSet::new();
    for t in &s.spread_target {
        let v = t.value.clone().unwrap_or_default();
        if !seen.insert(v.clone()) {
            e.add(
                format!("{sp}.target[{v}]"),
                "spread target values must be unique",
                &v,
            );
        }
    }
}

fn update(e: &mut ValidationErrors, up: &str, u: &UpdateStrategy) {
    if let Some(h) = u.health_check.as_deref() {
        if !HEALTH_CHECKS.contains(&h) {
            e.add(
                format!("{up}.health_check"),
                "health_check must be checks, task_states or manual",
                h,
            );
        }
    }
    if let Some(m) = u.max_parallel {
        if m < 0 {
            e.add(
                format!("{up}.max_parallel"),
                "max_parallel may not be negative",
                m,
            );
        }
    }
    if let Some(c) = u.canary {
        if c < 0 {
            e.add(format!("{up}.canary"), "canary may not be negative", c);
        }
    }
    if let (Some(min), Some(dl)) = (u.min_healthy_time, u.healthy_deadline) {
        if min >= dl && dl > 0 {
            e.add(
                format!("{up}.min_healthy_time"),
                "min_healthy_time must be less than healthy_deadline",
                q(&format!("{min}ns")),
            );
        }
    }
    if let (Some(dl), Some(pd)) = (u.healthy_deadline, u.progress_deadline) {
        if pd != 0 && dl >= pd {
            e.add(
                format!("{up}.healthy_deadline"),
                "healthy_deadline must be less than progress_deadline",
                q(&format!("{dl}ns")),
            );
        }
    }
}

fn reschedule(e: &mut ValidationErrors, rp: &str, r: &ReschedulePolicy) {
    if let Some(f) = r.delay_function.as_deref() {
        if !["exponential", "constant", "fibonacci"].contains(&f) {
            e.add(
                format!("{rp}.delay_function"),
                "delay_function must be exponential, constant or fibonacci",
                f,
            );
        }
    }
    if let Some(a) = r.attempts {
        if a < 0 {
            e.add(format!("{rp}.attempts"), "attempts may not be negative", a);
        }
    }
}
