//! What each control-plane component listens on under its rendered configuration, and what that
//! means for the Consul checks of its job.
//!
//! [`LISTENER_TABLE`] is the one place that says which flag opens which listener of which
//! component, its default per Istio release, the interface it binds and the HTTP paths it
//! serves, each row with the source it comes from. [`listeners`] applies the table to a rendered
//! task (its `args` and `env`); [`check_health`] walks a job's Consul checks and says, for each,
//! whether it probes a port its component opens. The in-memory cluster
//! (`install::InMemoryCluster`) registers checks with that status and fails the
//! deployment of a job with a check on a port nothing opens, as a Nomad deployment with
//! `health_check = "checks"` fails when a check never passes.
//!
//! Tasks of other jobs (apps, injected proxies) are modelled by what they publish: a Docker task
//! of an app job listens on the ports its `config.ports` names. A group with no modelled task is
//! not judged (its checks pass).

use crate::istio::IstioVersion;
use serde_json::Value;

/// Job meta key holding the Istio release of a control-plane job.
pub const VERSION_META: &str = "istio-nomad.istio-version";
/// Job meta key holding a job's role (`pilot`, `mixer`, ... `app`).
pub const ROLE_META: &str = "istio-nomad.role";

/// How a flag's value names a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueForm {
    /// `[host]:port` (`--grpcAddr :15010`).
    HostPort,
    /// A bare port number (`--port 9091`).
    Port,
    /// Comma-separated URLs (`--listen-client-urls http://0.0.0.0:2379`).
    Urls,
}

/// The port a listener has when its flag is not given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultPort {
    /// The same port at every release.
    Always(u16),
    /// The release's self-monitoring default (9093 in 1.0, 15014 from 1.1,
    /// [`crate::istio::ReleaseFacts::monitoring_default`]).
    Monitoring,
    /// Given by a URL (`http://localhost:2379`).
    Url(&'static str),
}

/// One listener of one component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenerRule {
    /// The component (its role name and task name: `pilot`, `mixer`, `citadel`, `etcd`,
    /// `apiserver`, `zipkin`).
    pub component: &'static str,
    /// What the listener serves.
    pub what: &'static str,
    /// Flag names (without dashes) that set it; empty for a fixed port.
    pub flags: &'static [&'static str],
    /// An environment variable that sets the port instead of a flag.
    pub env: Option<&'static str>,
    /// How the flag's value names the port.
    pub form: ValueForm,
    /// The port when nothing sets it.
    pub default: DefaultPort,
    /// A value of 0 turns the listener off.
    pub zero_disables: bool,
    /// The flag that sets the interface, and the interface when it is not given.
    pub bind: Option<(&'static str, &'static str)>,
    /// HTTP paths served (empty: not modelled, any path).
    pub paths: &'static [&'static str],
    /// Where the facts come from.
    pub source: &'static str,
}

const MONITORING_PATHS: &[&str] = &["/metrics", "/version"];

/// Every listener of every control-plane component, as its flags open it.
pub const LISTENER_TABLE: &[ListenerRule] = &[
    ListenerRule {
        component: "pilot",
        what: "HTTP (legacy xDS, debug)",
        flags: &["httpAddr"],
        env: None,
        form: ValueForm::HostPort,
        default: DefaultPort::Always(8080),
        zero_disables: false,
        bind: None,
        paths: &[],
        source: "istio pilot/cmd/pilot-discovery/main.go (--httpAddr, default :8080, 1.0.6 to 1.7.8)",
    },
    ListenerRule {
        component: "pilot",
        what: "gRPC xDS (ADS)",
        flags: &["grpcAddr"],
        env: None,
        form: ValueForm::HostPort,
        default: DefaultPort::Always(15010),
        zero_disables: false,
        bind: None,
        paths: &[],
        source: "istio pilot/cmd/pilot-discovery/main.go (--grpcAddr, default :15010, 1.0.6 to 1.7.8)",
    },
    ListenerRule {
        component: "pilot",
        what: "self-monitoring",
        flags: &["monitoringAddr"],
        env: None,
        form: ValueForm::HostPort,
        default: DefaultPort::Monitoring,
        zero_disables: false,
        bind: None,
        paths: MONITORING_PATHS,
        source: "istio pilot/cmd/pilot-discovery/main.go (--monitoringAddr, :9093 in 1.0.6, :15014 from 1.1.0); pilot/pkg/bootstrap/monitoring.go (/metrics, /version)",
    },
    ListenerRule {
        component: "mixer",
        what: "gRPC API (check, report)",
        flags: &["port", "p"],
        env: None,
        form: ValueForm::Port,
        default: DefaultPort::Always(9091),
        zero_disables: false,
        bind: None,
        paths: &[],
        source: "istio mixer/cmd/mixs/cmd/server.go (--port/-p); mixer/pkg/server/args.go (APIPort 9091)",
    },
    ListenerRule {
        component: "mixer",
        what: "self-monitoring",
        flags: &["monitoringPort"],
        env: None,
        form: ValueForm::Port,
        default: DefaultPort::Monitoring,
        zero_disables: false,
        bind: None,
        paths: MONITORING_PATHS,
        source: "istio mixer/pkg/server/args.go (MonitoringPort 9093 in 1.0.6, 15014 from 1.1.0); mixer/pkg/server/monitoring.go (/metrics, /version). Port 42422 is the prometheus adapter's, opened only with a prometheus handler (mixer/adapter/prometheus/server.go)",
    },
    ListenerRule {
        component: "citadel",
        what: "gRPC CA API",
        flags: &["grpc-port"],
        env: None,
        form: ValueForm::Port,
        default: DefaultPort::Always(8060),
        zero_disables: true,
        bind: None,
        paths: &[],
        source: "istio security/cmd/istio_ca/main.go (--grpc-port, default 8060; `if opts.grpcPort > 0`)",
    },
    ListenerRule {
        component: "citadel",
        what: "self-monitoring",
        flags: &["monitoring-port"],
        env: None,
        form: ValueForm::Port,
        default: DefaultPort::Monitoring,
        zero_disables: true,
        bind: None,
        paths: MONITORING_PATHS,
        source: "istio security/cmd/istio_ca/main.go (--monitoring-port, 9093 in 1.0.6, 15014 from 1.1.0); security/pkg/server/monitoring/monitoring.go (/metrics, /version)",
    },
    ListenerRule {
        component: "etcd",
        what: "client API",
        flags: &["listen-client-urls"],
        env: None,
        form: ValueForm::Urls,
        default: DefaultPort::Url("http://localhost:2379"),
        zero_disables: false,
        bind: None,
        paths: &[],
        source: "etcd-io/etcd v3.4.23 etcdmain/config.go (listen-client-urls), embed/config.go (DefaultListenClientURLs http://localhost:2379)",
    },
    ListenerRule {
        component: "etcd",
        what: "peer API",
        flags: &["listen-peer-urls"],
        env: None,
        form: ValueForm::Urls,
        default: DefaultPort::Url("http://localhost:2380"),
        zero_disables: false,
        bind: None,
        paths: &[],
        source: "etcd-io/etcd v3.4.23 etcdmain/config.go (listen-peer-urls), embed/config.go (DefaultListenPeerURLs http://localhost:2380)",
    },
    ListenerRule {
        component: "apiserver",
        what: "secure (TLS) API",
        flags: &["secure-port"],
        env: None,
        form: ValueForm::Port,
        default: DefaultPort::Always(6443),
        zero_disables: true,
        bind: Some(("bind-address", "0.0.0.0")),
        paths: &[],
        source: "kubernetes pkg/kubeapiserver/options/serving.go (NewSecureServingOptions: 0.0.0.0:6443)",
    },
    ListenerRule {
        component: "apiserver",
        what: "insecure API",
        flags: &["insecure-port"],
        env: None,
        form: ValueForm::Port,
        default: DefaultPort::Always(8080),
        zero_disables: true,
        bind: Some(("insecure-bind-address", "127.0.0.1")),
        paths: &[],
        source: "kubernetes pkg/kubeapiserver/options/serving.go (NewInsecureServingOptions: 127.0.0.1:8080)",
    },
    ListenerRule {
        component: "zipkin",
        what: "HTTP API and UI",
        flags: &[],
        env: Some("QUERY_PORT"),
        form: ValueForm::Port,
        default: DefaultPort::Always(9411),
        zero_disables: false,
        bind: None,
        paths: &[],
        source: "openzipkin/zipkin zipkin-server/src/main/resources/zipkin-server-shared.yml (server.port: ${QUERY_PORT:9411})",
    },
];

/// A port a task listens on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenPort {
    /// A number inside the task's network namespace.
    Number(u16),
    /// The port Nomad gives the label (`${NOMAD_PORT_<label>}`).
    Label(String),
}

/// One listener of a rendered task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    /// The port.
    pub port: ListenPort,
    /// Bound to a loopback address only (unreachable from outside the task's namespace).
    pub loopback: bool,
    /// HTTP paths served (empty: any).
    pub paths: &'static [&'static str],
    /// What it is (the table row's `what`, or `published port`).
    pub what: &'static str,
}

/// The value of `--flag value`, `--flag=value`, `-flag value` or `-flag=value` in `args`
/// (the last one wins, as with Go's flag packages).
fn flag_value(args: &[String], names: &[&str]) -> Option<String> {
    let mut found = None;
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        let stripped = a.strip_prefix("--").or_else(|| a.strip_prefix('-'));
        if let Some(body) = stripped {
            let (name, inline) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (body, None),
            };
            if names.contains(&name) {
                match inline {
                    Some(v) => found = Some(v),
                    None => {
                        found = args.get(i + 1).cloned();
                        i += 1;
                    }
                }
            }
        }
        i += 1;
    }
    found
}

fn label_ref(v: &str) -> Option<String> {
    v.strip_prefix("${NOMAD_PORT_")
        .and_then(|r| r.strip_suffix('}'))
        .map(str::to_string)
}

fn port_of(v: &str) -> Option<ListenPort> {
    if let Some(l) = label_ref(v) {
        return Some(ListenPort::Label(l));
    }
    v.parse::<u16>().ok().map(ListenPort::Number)
}

fn is_loopback_host(h: &str) -> bool {
    let h = h.trim_start_matches('[').trim_end_matches(']');
    h == "localhost"
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `(host, port)` of `host:port` / `:port` / a URL.
fn split_host_port(v: &str) -> (String, String) {
    let rest = v.split_once("://").map_or(v, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or("");
    match authority.rsplit_once(':') {
        Some((h, p)) => (h.to_string(), p.to_string()),
        None => (authority.to_string(), String::new()),
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// The listeners of a control-plane component's rendered task (API JSON: `Config.args`,
/// `Env`), per [`LISTENER_TABLE`]; `None` when the component has no row.
pub fn listeners(component: &str, version: &IstioVersion, task: &Value) -> Option<Vec<Listener>> {
    let rows: Vec<&ListenerRule> = LISTENER_TABLE
        .iter()
        .filter(|r| r.component == component)
        .collect();
    if rows.is_empty() {
        return None;
    }
    let args = strings(task.get("Config").and_then(|c| c.get("args")));
    let env = task.get("Env").and_then(Value::as_object);
    let mut out = Vec::new();
    for row in rows {
        let given = flag_value(&args, row.flags).or_else(|| {
            row.env
                .and_then(|k| env.and_then(|e| e.get(k)).and_then(Value::as_str))
                .map(str::to_string)
        });
        let default_bind_loopback = row.bind.is_some_and(|(flag, default)| {
            let host = flag_value(&args, &[flag]).unwrap_or_else(|| default.to_string());
            is_loopback_host(&host)
        });
        let mut found: Vec<(ListenPort, bool)> = Vec::new();
        match (given, row.form) {
            (Some(v), ValueForm::Urls) => {
                for u in v.split(',') {
                    let (h, p) = split_host_port(u.trim());
                    if let Some(port) = port_of(&p) {
                        found.push((port, is_loopback_host(&h)));
                    }
                }
            }
            (Some(v), ValueForm::HostPort) => {
                let (h, p) = split_host_port(&v);
                if let Some(port) = port_of(&p) {
                    found.push((port, !h.is_empty() && is_loopback_host(&h)));
                }
            }
            (Some(v), ValueForm::Port) => {
                if let Some(port) = port_of(&v) {
                    found.push((port, default_bind_loopback));
                }
            }
            (None, _) => match row.default {
                DefaultPort::Always(p) => {
                    found.push((ListenPort::Number(p), default_bind_loopback))
                }
                DefaultPort::Monitoring => found.push((
                    ListenPort::Number(version.facts().monitoring_default),
                    default_bind_loopback,
                )),
                DefaultPort::Url(u) => {
                    let (h, p) = split_host_port(u);
                    if let Some(port) = port_of(&p) {
                        found.push((port, is_loopback_host(&h)));
                    }
                }
            },
        }
        for (port, loopback) in found {
            if row.zero_disables && port == ListenPort::Number(0) {
                continue;
            }
            out.push(Listener {
                port,
                loopback,
                paths: row.paths,
                what: row.what,
            });
        }
    }
    Some(out)
}

/// The health of one Consul check of a job, as the in-memory cluster models it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckHealth {
    /// Task group.
    pub group: String,
    /// Consul service name.
    pub service: String,
    /// Check name (or `check[<i>]` when it has none).
    pub check: String,
    /// True when the check probes a port (and, for HTTP, a path) its group opens.
    pub passing: bool,
    /// Why it passes or fails.
    pub reason: String,
}

struct GroupNet {
    host_network: bool,
}

/// The port a check reaches inside the task's namespace: the label's `To`, else its `Value`
/// (Nomad maps a host port to `To`, or to the same number when `To` is unset; with
/// `network_mode = "host"` the task sees the host port itself).
fn inside_port(group: &Value, label: &str, net: &GroupNet) -> Option<u16> {
    for n in group
        .get("Networks")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        for p in ["ReservedPorts", "DynamicPorts"]
            .iter()
            .flat_map(|k| n.get(*k).and_then(Value::as_array).into_iter().flatten())
        {
            if p.get("Label").and_then(Value::as_str) != Some(label) {
                continue;
            }
            let value = p.get("Value").and_then(Value::as_i64).unwrap_or(0);
            let to = p.get("To").and_then(Value::as_i64).unwrap_or(0);
            let port = if !net.host_network && to > 0 {
                to
            } else {
                value
            };
            return u16::try_from(port).ok().filter(|p| *p > 0);
        }
    }
    None
}

/// The health of every Consul check of `job` (API JSON), group by group: a check passes when a
/// modelled task of its group listens, on a non-loopback address (or in the node's network),
/// on the port the check probes, and serves the HTTP path of an HTTP check where the table
/// knows the paths. Groups without a modelled task are not judged (their checks pass).
pub fn check_health(job: &Value) -> Vec<CheckHealth> {
    let meta = job.get("Meta");
    let role = meta
        .and_then(|m| m.get(ROLE_META))
        .and_then(Value::as_str)
        .unwrap_or("");
    let version = meta
        .and_then(|m| m.get(VERSION_META))
        .and_then(Value::as_str)
        .and_then(|v| v.parse::<IstioVersion>().ok())
        .unwrap_or_default();
    let mut out = Vec::new();
    for g in job
        .get("TaskGroups")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let gname = g.get("Name").and_then(Value::as_str).unwrap_or("");
        let tasks: Vec<&Value> = g
            .get("Tasks")
            .and_then(Value::as_array)
            .map(|a| a.iter().collect())
            .unwrap_or_default();
        let mut modelled: Option<Vec<(Listener, bool)>> = None;
        for t in &tasks {
            let host_network = t
                .get("Config")
                .and_then(|c| c.get("network_mode"))
                .and_then(Value::as_str)
                == Some("host");
            let tname = t.get("Name").and_then(Value::as_str).unwrap_or("");
            let found = if tname == role {
                listeners(role, &version, t)
            } else if role == "app" && t.get("Driver").and_then(Value::as_str) == Some("docker") {
                let published = strings(t.get("Config").and_then(|c| c.get("ports")));
                (!published.is_empty()).then(|| {
                    published
                        .into_iter()
                        .map(|l| Listener {
                            port: ListenPort::Label(l),
                            loopback: false,
                            paths: &[],
                            what: "published port",
                        })
                        .collect()
                })
            } else {
                None
            };
            if let Some(ls) = found {
                modelled
                    .get_or_insert_with(Vec::new)
                    .extend(ls.into_iter().map(|l| (l, host_network)));
            }
        }
        let services: Vec<&Value> = g
            .get("Services")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .chain(tasks.iter().flat_map(|t| {
                t.get("Services")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
            }))
            .collect();
        for s in services {
            let sname = s.get("Name").and_then(Value::as_str).unwrap_or("");
            let slabel = s.get("PortLabel").and_then(Value::as_str).unwrap_or("");
            for (i, c) in s
                .get("Checks")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                let cname = c
                    .get("Name")
                    .and_then(Value::as_str)
                    .map_or_else(|| format!("check[{i}]"), str::to_string);
                let label = c
                    .get("PortLabel")
                    .and_then(Value::as_str)
                    .filter(|l| !l.is_empty())
                    .unwrap_or(slabel);
                let kind = c.get("Type").and_then(Value::as_str).unwrap_or("");
                let path = c
                    .get("Path")
                    .and_then(Value::as_str)
                    .map(|p| p.split('?').next().unwrap_or(p));
                let (passing, reason) = match (&modelled, kind) {
                    (None, _) => (true, "the group's listeners are not modelled".to_string()),
                    (Some(_), "script") => (true, "a script check probes no port".to_string()),
                    (Some(ls), _) => judge(g, ls, label, kind, path),
                };
                out.push(CheckHealth {
                    group: gname.to_string(),
                    service: sname.to_string(),
                    check: cname,
                    passing,
                    reason,
                });
            }
        }
    }
    out
}

fn judge(
    group: &Value,
    listeners: &[(Listener, bool)],
    label: &str,
    kind: &str,
    path: Option<&str>,
) -> (bool, String) {
    let mut wrong_path = None;
    for (l, host_network) in listeners {
        let net = GroupNet {
            host_network: *host_network,
        };
        let hit = match &l.port {
            ListenPort::Label(x) => x == label,
            ListenPort::Number(n) => inside_port(group, label, &net) == Some(*n),
        };
        if !hit {
            continue;
        }
        if l.loopback && !host_network {
            return (
                false,
                format!(
                    "port {label} reaches the {} listener, bound to loopback inside the task",
                    l.what
                ),
            );
        }
        if kind == "http" && !l.paths.is_empty() {
            if let Some(p) = path {
                if !l.paths.contains(&p) {
                    wrong_path = Some(format!("the {} listener serves no {p}", l.what));
                    continue;
                }
            }
        }
        return (true, format!("port {label} is the {} listener", l.what));
    }
    if let Some(w) = wrong_path {
        return (false, w);
    }
    let port = inside_port(
        group,
        label,
        &GroupNet {
            host_network: listeners.iter().any(|(_, h)| *h),
        },
    )
    .map_or_else(|| "no number".to_string(), |p| p.to_string());
    (
        false,
        format!("nothing in the group listens on port {label} ({port})"),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn v(s: &str) -> IstioVersion {
        s.parse().unwrap()
    }

    #[test]
    fn flags_in_every_form() {
        let a: Vec<String> = ["--port", "1", "-monitoringPort=2", "--x", "--p=3"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(flag_value(&a, &["port", "p"]).as_deref(), Some("3"));
        assert_eq!(flag_value(&a, &["monitoringPort"]).as_deref(), Some("2"));
        assert_eq!(flag_value(&a, &["missing"]), None);
    }

    #[test]
    fn defaults_follow_the_release() {
        let t = json!({"Config": {"args": ["server"]}});
        let l10 = listeners("mixer", &v("1.0.6"), &t).unwrap();
        let l13 = listeners("mixer", &v("1.3.8"), &t).unwrap();
        assert_eq!(l10[1].port, ListenPort::Number(9093));
        assert_eq!(l13[1].port, ListenPort::Number(15014));
        assert_eq!(l10[0].port, ListenPort::Number(9091));
        assert!(listeners("app", &v("1.0.6"), &t).is_none());
    }

    #[test]
    fn loopback_defaults_and_urls() {
        let t = json!({"Config": {"args": ["--insecure-port", "8080"]}});
        let l = listeners("apiserver", &v("1.0.0"), &t).unwrap();
        assert_eq!(l.len(), 2);
        assert!(!l[0].loopback && l[1].loopback);
        let t = json!({"Config": {"args": ["--insecure-port=0", "--secure-port=0"]}});
        assert!(listeners("apiserver", &v("1.0.0"), &t).unwrap().is_empty());
        let t = json!({"Config": {"args": ["--listen-client-urls=http://0.0.0.0:${NOMAD_PORT_client}"]}});
        let l = listeners("etcd", &v("1.0.0"), &t).unwrap();
        assert_eq!(l[0].port, ListenPort::Label("client".into()));
        assert_eq!(l[1].port, ListenPort::Number(2380));
        assert!(l[1].loopback);
        let t = json!({"Env": {"QUERY_PORT": "9999"}});
        assert_eq!(
            listeners("zipkin", &v("1.0.0"), &t).unwrap()[0].port,
            ListenPort::Number(9999)
        );
    }
}
