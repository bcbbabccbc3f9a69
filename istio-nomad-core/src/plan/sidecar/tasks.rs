//! The tasks injection adds to a group.

use super::rules::{GroupRules, CLEANUP_FILE};
use super::{
    SidecarOptions, ADMIN_PORT, CLEANUP_TASK, INIT_TASK, PROXY_TASK, READY_TASK, STATUS_PORT,
};
use crate::error::{Error, Result};
use crate::iptables::InterceptionMode;
use crate::istio::ProxyConfigInput;
use crate::nomad::{DnsConfig, LogConfig, Task, Template};
use crate::spec::sidecar::CONSUL_SEARCH_DOMAIN;
use serde_json::{json, Value};

/// Left template delimiter of the rules files. The rules are data, not templates: Nomad's
/// default `{{ }}` would be read as template actions, so the templates use delimiters that
/// the rendered rules never contain (checked when the task is built).
pub const LEFT_DELIM: &str = "[[istio-nomad:";
/// Right template delimiter of the rules files (see [`LEFT_DELIM`]).
pub const RIGHT_DELIM: &str = ":istio-nomad]]";

/// Where a docker task's `local/` directory appears inside its container.
const TASK_LOCAL: &str = "/local";

fn template(file: &str, data: &str, perms: &str) -> Result<Template> {
    if data.contains(LEFT_DELIM) || data.contains(RIGHT_DELIM) {
        return Err(Error::field(
            format!("template[local/{file}].data"),
            "the rendered file contains the template delimiters",
            LEFT_DELIM,
        ));
    }
    Ok(Template {
        dest_path: Some(format!("local/{file}")),
        embedded_tmpl: Some(data.to_string()),
        change_mode: Some("noop".into()),
        perms: Some(perms.into()),
        left_delim: Some(LEFT_DELIM.into()),
        right_delim: Some(RIGHT_DELIM.into()),
        ..Default::default()
    })
}

fn small_logs() -> LogConfig {
    LogConfig {
        max_files: Some(2),
        max_file_size_mb: Some(2),
        ..Default::default()
    }
}

fn strings(items: &[&str]) -> Value {
    Value::Array(items.iter().map(|s| Value::String((*s).into())).collect())
}

/// `istio-init`: a prestart task (not a sidecar, so the app waits for it to exit) that applies
/// the group's interception rules with `iptables-restore --noflush`.
///
/// It needs `NET_ADMIN` and `NET_RAW`, which the docker driver refuses unless the client's
/// plugin configuration allows them: Nomad's default `allow_caps` leaves both out. Every
/// client that runs meshed groups needs
///
/// ```hcl
/// plugin "docker" {
///   config {
///     allow_caps = ["audit_write", "chown", "dac_override", "fowner", "fsetid", "kill",
///                   "mknod", "net_bind_service", "setfcap", "setgid", "setpcap", "setuid",
///                   "sys_chroot", "net_admin", "net_raw"]
///   }
/// }
/// ```
///
/// (Nomad's defaults plus `net_admin` and `net_raw`); without it the allocation fails with
/// "cap_add configured with capabilities not allowed by the client".
pub fn init_task(opts: &SidecarOptions, rules: &GroupRules, host: bool) -> Result<Task> {
    let mut config = serde_json::Map::new();
    config.insert("image".into(), opts.effective_init_image().into());
    config.insert("entrypoint".into(), strings(&["/bin/sh", "-c"]));
    config.insert(
        "args".into(),
        Value::Array(vec![rules.apply_script(TASK_LOCAL).into()]),
    );
    config.insert("cap_add".into(), strings(&["NET_ADMIN", "NET_RAW"]));
    if host {
        config.insert("network_mode".into(), "host".into());
    }
    let mut task = Task::new(INIT_TASK, "docker")
        .lifecycle("prestart", false)
        .resources(50, 32);
    task.config = config;
    task.log_config = Some(small_logs());
    for (file, data) in rules.files() {
        task.templates.push(template(file, data, "0644")?);
    }
    Ok(task)
}

/// `istio-cleanup` (host mode only): a poststop task that removes the node-wide rules when
/// the allocation stops, so the node is left as it was.
pub fn cleanup_task(opts: &SidecarOptions, rules: &GroupRules) -> Result<Task> {
    let script = "istio-iptables-cleanup.sh";
    let mut task = Task::new(CLEANUP_TASK, "docker")
        .lifecycle("poststop", false)
        .resources(50, 32)
        .config("image", opts.effective_init_image())
        .config("entrypoint", strings(&["/bin/sh"]))
        .config(
            "args",
            Value::Array(vec![format!("{TASK_LOCAL}/{script}").into()]),
        )
        .config("cap_add", strings(&["NET_ADMIN", "NET_RAW"]))
        .config("network_mode", "host");
    task.log_config = Some(small_logs());
    task.templates
        .push(template(script, &rules.cleanup_shell, "0755")?);
    // The restore-form cleanup rides along so an operator can run it by hand.
    task.templates
        .push(template(CLEANUP_FILE, &rules.cleanup, "0644")?);
    Ok(task)
}

/// `istio-proxy`: the sidecar (`prestart`, `sidecar = true`) running `pilot-agent proxy` with
/// Pilot's Consul registry, as the proxy uid (1337 unless the interception settings say
/// otherwise) so that its own traffic is not captured again.
///
/// What the proxy is told, and how, follows the release ([`crate::istio::ReleaseFacts`]):
///
/// * up to 1.5, flags (`pilot/cmd/pilot-agent/main.go`): `--discoveryAddress` naming Pilot's
///   gRPC port (1.0 keeps only its host and dials 15010; from 1.1 the address is used as given),
///   `--proxyAdminPort`, `--configPath` (the Consul sample's `/var/lib/istio`), `--statusPort`
///   (from 1.0.3) and `--zipkinAddress`;
/// * from 1.6, which removed those flags and ignores unknown ones, the `PROXY_CONFIG`
///   environment variable ([`proxy_config_json`]).
pub fn proxy_task(opts: &SidecarOptions, rules: &GroupRules, cluster: &str, host: bool) -> Task {
    let uid = rules.config.proxy_uids.first().copied().unwrap_or(1337);
    let tproxy = rules.config.mode == InterceptionMode::Tproxy;
    let facts = opts.facts();
    let mut args: Vec<String> = vec![
        "proxy".into(),
        "--serviceregistry".into(),
        "Consul".into(),
        "--serviceCluster".into(),
        cluster.into(),
    ];
    let mut env: Vec<(String, String)> = Vec::new();
    match facts.proxy_config {
        ProxyConfigInput::Flags => {
            args.extend([
                "--discoveryAddress".into(),
                opts.discovery_address(),
                "--proxyAdminPort".into(),
                ADMIN_PORT.to_string(),
            ]);
            if let Some(path) = facts.config_path {
                args.extend(["--configPath".into(), path.into()]);
            }
            if opts.has_status_port() {
                args.extend(["--statusPort".into(), STATUS_PORT.to_string()]);
            }
            if let Some(z) = &opts.spec.zipkin_address {
                args.extend(["--zipkinAddress".into(), z.clone()]);
            }
        }
        ProxyConfigInput::EnvProxyConfig => {
            env.push(("PROXY_CONFIG".into(), proxy_config_json(opts)));
        }
    }
    let mut task = Task::new(PROXY_TASK, "docker")
        .lifecycle("prestart", true)
        .resources(opts.spec.cpu, opts.spec.memory)
        .config("image", opts.effective_proxy_image())
        .config("entrypoint", strings(&["/usr/local/bin/pilot-agent"]))
        .config(
            "args",
            Value::Array(args.into_iter().map(Value::String).collect()),
        );
    for (k, v) in env {
        task.env.insert(k, v);
    }
    if tproxy {
        // TPROXY listeners need IP_TRANSPARENT: Istio runs the proxy as root with NET_ADMIN.
        task.user = Some("0".into());
        task.config.insert("cap_add".into(), json!(["NET_ADMIN"]));
    } else {
        task.user = Some(uid.to_string());
    }
    if host {
        task.config.insert("network_mode".into(), "host".into());
    }
    task.log_config = Some(LogConfig {
        max_files: Some(2),
        max_file_size_mb: Some(10),
        ..Default::default()
    });
    task
}

/// The proxy's settings as a ProxyConfig in JSON, the form pilot-agent 1.6 and later read
/// from `PROXY_CONFIG` (`pilot/cmd/pilot-agent/config.go` at 1.6.0 and 1.7.8, `getMeshConfig`:
/// applied over the release's defaults with `mesh.ApplyProxyConfig`, a YAML/JSON reader of the
/// ProxyConfig message). It names:
///
/// * `discoveryAddress`: Pilot's gRPC port (the default `istiod.istio-system.svc:15012` does
///   not exist here, `pkg/config/mesh/mesh.go` `DefaultProxyConfig`);
/// * `controlPlaneAuthPolicy: NONE` (1.7's default is `MUTUAL_TLS`, which needs istiod's
///   certificates);
/// * `proxyAdminPort` and `statusPort` (the defaults, 15000 and 15020, written out);
/// * `tracing.zipkin.address` when Zipkin is set (the default names
///   `zipkin.istio-system:9411`).
pub fn proxy_config_json(opts: &SidecarOptions) -> String {
    let mut cfg = serde_json::Map::new();
    cfg.insert("discoveryAddress".into(), opts.discovery_address().into());
    cfg.insert("controlPlaneAuthPolicy".into(), "NONE".into());
    cfg.insert("proxyAdminPort".into(), ADMIN_PORT.into());
    cfg.insert("statusPort".into(), STATUS_PORT.into());
    if let Some(z) = &opts.spec.zipkin_address {
        cfg.insert("tracing".into(), json!({ "zipkin": { "address": z } }));
    }
    Value::Object(cfg).to_string()
}

/// The group network's DNS settings for a meshed group: Consul's service domain as a search
/// domain (so `http://reviews:9080` resolves as `reviews.service.consul`) and the configured
/// DNS servers. Settings the group already has are kept; what is missing is added.
///
/// Nomad writes the allocation's `resolv.conf` from the group network's `dns` block
/// (`client/allocrunner/taskrunner/task_runner.go` `buildTaskConfig` at v1.6.9 copies
/// `Networks[0].DNS`; `drivers/docker/driver.go` mounts the generated file;
/// `api/resources.go` `DNSConfig{Servers, Searches, Options}`).
pub fn group_dns(opts: &SidecarOptions, current: Option<&DnsConfig>) -> DnsConfig {
    let mut dns = current.cloned().unwrap_or_default();
    if !dns.searches.iter().any(|s| s == CONSUL_SEARCH_DOMAIN) {
        dns.searches.push(CONSUL_SEARCH_DOMAIN.into());
    }
    if dns.servers.is_empty() {
        dns.servers = opts.spec.dns_servers.clone();
    }
    dns
}

/// Sets the proxy task's `--serviceCluster`.
pub fn set_service_cluster(task: &mut Task, cluster: &str) {
    if let Some(Value::Array(args)) = task.config.get_mut("args") {
        if let Some(i) = args.iter().position(|a| a == "--serviceCluster") {
            if let Some(v) = args.get_mut(i + 1) {
                *v = Value::String(cluster.to_string());
            }
        }
    }
}

/// `istio-ready`: a prestart task (not a sidecar) that polls the proxy until it reports
/// ready, with a deadline, so the app's main tasks start only once the proxy can carry their
/// traffic (Nomad starts prestart sidecars and main tasks without waiting for readiness,
/// hashicorp/nomad#15709). It polls the status port's `/healthz/ready` (Istio 1.0.3 and
/// later) or else the Envoy admin `/server_info`.
pub fn ready_task(opts: &SidecarOptions, host: bool) -> Task {
    let url = if opts.has_status_port() {
        format!("http://127.0.0.1:{STATUS_PORT}/healthz/ready")
    } else {
        format!("http://127.0.0.1:{ADMIN_PORT}/server_info")
    };
    let timeout = opts.spec.ready_timeout;
    let script = format!(
        "deadline=$(( $(date +%s) + {timeout} ))\n\
         until wget -q -O /dev/null {url}; do\n\
         \x20 if [ \"$(date +%s)\" -ge \"$deadline\" ]; then\n\
         \x20   echo \"istio-proxy not ready after {timeout}s ({url})\" >&2\n\
         \x20   exit 1\n\
         \x20 fi\n\
         \x20 sleep 1\n\
         done\n\
         echo \"istio-proxy ready\"\n"
    );
    let mut task = Task::new(READY_TASK, "docker")
        .lifecycle("prestart", false)
        .resources(20, 16)
        .config("image", opts.spec.ready_image.clone())
        .config("entrypoint", strings(&["/bin/sh", "-c"]))
        .config("args", Value::Array(vec![script.into()]));
    if host {
        task.config.insert("network_mode".into(), "host".into());
    }
    task.log_config = Some(small_logs());
    task
}
