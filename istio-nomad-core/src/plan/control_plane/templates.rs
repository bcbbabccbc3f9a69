//! Pieces every control-plane job shares: the job shell, policies, checks, the kubeconfig
//! template and the TLS certificate templates.

use crate::nomad::{
    CheckRestart, Constraint, Job, NetworkResource, Port, ReschedulePolicy, RestartPolicy, Service,
    ServiceCheck, Spread, Task, TaskGroup, Template, UpdateStrategy, Vault, SECOND,
};
use crate::spec::control_plane::Role;
use crate::spec::control_plane::{
    consul_dns, job_id, MeshContext, Profile, Resolved, ResolvedControlPlane, TlsSource, TlsSpec,
    DEFAULT_PKI_PATH,
};
use serde_json::Value;

/// Where the kubeconfig is mounted in Pilot, Mixer and Citadel (the compose file's path).
pub(crate) const KUBECONFIG_PATH: &str = "/etc/istio/config/kubeconfig";

/// The job shell: ID, region, namespace, datacenters, priority, meta, update strategy and the
/// user's constraints.
pub(crate) fn base_job(
    ctx: &MeshContext,
    r: &ResolvedControlPlane,
    role: Role,
    res: &Resolved,
) -> Job {
    let mut job = Job::new(job_id(&ctx.name, role))
        .job_type("service")
        .datacenters(res.datacenters.clone())
        .meta("istio-nomad.mesh", ctx.name.clone())
        .meta("istio-nomad.role", role.as_str())
        .meta("istio-nomad.profile", r.profile.as_str())
        .meta(super::opens::VERSION_META, ctx.istio_version.to_string());
    job.region = Some(ctx.region.clone());
    job.namespace = Some(res.namespace.clone());
    job.priority = Some(match role {
        Role::Etcd => 90,
        Role::ApiServer => 85,
        Role::Zipkin => 50,
        _ => 80,
    });
    let min_healthy = if role == Role::Etcd { 30 } else { 10 };
    job.update = Some(UpdateStrategy {
        max_parallel: Some(1),
        health_check: Some("checks".into()),
        min_healthy_time: Some(min_healthy * SECOND),
        healthy_deadline: Some(300 * SECOND),
        progress_deadline: Some(600 * SECOND),
        auto_revert: Some(true),
        ..Default::default()
    });
    for c in &res.constraints {
        job.constraints.push(Constraint {
            l_target: c.attribute.clone(),
            operand: Some(c.operator.clone().unwrap_or_else(|| "=".into())),
            r_target: c.value.clone(),
            ..Default::default()
        });
    }
    job
}

/// A group of a stateless component: count, restart and reschedule policies, and in `ha`
/// `distinct_hosts` plus a spread over nodes when it has more than one replica.
pub(crate) fn stateless_group(name: &str, r: &ResolvedControlPlane, res: &Resolved) -> TaskGroup {
    let mut g = TaskGroup::new(name).count(res.count);
    g.restart_policy = Some(restart_policy());
    g.reschedule_policy = Some(reschedule_policy());
    if r.profile == Profile::Ha && res.count > 1 {
        g.constraints.push(Constraint::distinct_hosts());
        g.spreads.push(spread_over_nodes());
    }
    g
}

/// Spread allocations evenly over nodes.
pub(crate) fn spread_over_nodes() -> Spread {
    Spread {
        attribute: Some("${node.unique.id}".into()),
        weight: Some(100),
        ..Default::default()
    }
}

/// Control-plane tasks keep restarting (a dependency may come up late): 10 attempts in 30
/// minutes, 15s apart, then wait out the interval instead of failing.
pub(crate) fn restart_policy() -> RestartPolicy {
    RestartPolicy {
        attempts: Some(10),
        interval: Some(1800 * SECOND),
        delay: Some(15 * SECOND),
        mode: Some("delay".into()),
        ..Default::default()
    }
}

/// Reschedule failed allocations without limit, backing off exponentially up to an hour.
pub(crate) fn reschedule_policy() -> ReschedulePolicy {
    ReschedulePolicy {
        delay: Some(30 * SECOND),
        delay_function: Some("exponential".into()),
        max_delay: Some(3600 * SECOND),
        unlimited: Some(true),
        ..Default::default()
    }
}

/// A host network with static ports (`(label, host port, port in the container)`) and dynamic
/// ones (`(label, port in the container)`).
pub(crate) fn network(fixed: &[(&str, i64, i64)], dynamic: &[(&str, i64)]) -> NetworkResource {
    NetworkResource {
        mode: Some("host".into()),
        reserved_ports: fixed
            .iter()
            .map(|(l, v, to)| Port::fixed(*l, *v, Some(*to)))
            .collect(),
        dynamic_ports: dynamic
            .iter()
            .map(|(l, to)| Port::dynamic(*l, *to))
            .collect(),
        ..Default::default()
    }
}

/// An HTTP check.
pub(crate) fn http_check(name: &str, port: &str, path: &str) -> ServiceCheck {
    ServiceCheck {
        name: Some(name.into()),
        check_type: Some("http".into()),
        path: Some(path.into()),
        port_label: Some(port.into()),
        interval: Some(10 * SECOND),
        timeout: Some(2 * SECOND),
        ..Default::default()
    }
}

/// A TCP check.
pub(crate) fn tcp_check(name: &str, port: &str) -> ServiceCheck {
    ServiceCheck {
        name: Some(name.into()),
        check_type: Some("tcp".into()),
        port_label: Some(port.into()),
        interval: Some(10 * SECOND),
        timeout: Some(2 * SECOND),
        ..Default::default()
    }
}

/// A Consul service with checks; `restart_on_failure` restarts the task after 3 failed checks
/// (never for etcd, whose health depends on the other members).
pub(crate) fn service(
    name: &str,
    port: &str,
    tags: Vec<String>,
    checks: Vec<ServiceCheck>,
    restart_on_failure: bool,
) -> Service {
    Service {
        name: Some(name.into()),
        port_label: Some(port.into()),
        tags,
        checks,
        check_restart: restart_on_failure.then(|| CheckRestart {
            limit: Some(3),
            grace: Some(60 * SECOND),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A Docker task with the component's image, environment and resources.
pub(crate) fn docker_task(
    name: &str,
    r: &ResolvedControlPlane,
    res: &Resolved,
    args: Vec<String>,
    ports: &[&str],
) -> Task {
    let mut args = args;
    args.extend(res.args.iter().cloned());
    let mut t = Task::new(name, "docker").config("image", res.image.clone());
    if !args.is_empty() {
        t = t.config("args", Value::from(args));
    }
    t = t
        .config(
            "ports",
            Value::Array(ports.iter().map(|p| Value::from(*p)).collect()),
        )
        .resources(res.cpu, res.memory);
    if !r.dns_servers.is_empty() {
        t = t.config("dns_servers", Value::from(r.dns_servers.clone()));
    }
    for (k, v) in &res.env {
        t.env.insert(k.clone(), v.clone());
    }
    t
}

/// The kubeconfig Pilot, Mixer and Citadel read, rendered by a Nomad template from the API
/// server's Consul service: its DNS name and the port of a healthy instance. With TLS the
/// client presents the certificate of [`tls_templates`].
pub(crate) fn kubeconfig_template(
    ctx: &MeshContext,
    r: &ResolvedControlPlane,
    user: &str,
) -> Template {
    let svc = job_id(&ctx.name, Role::ApiServer);
    let scheme = if r.tls.is_some() { "https" } else { "http" };
    let mut text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: {mesh}\n  cluster:\n    server: {scheme}://{host}:{{{{ range $i, $s := service \"{svc}\" }}}}{{{{ if eq $i 0 }}}}{{{{ $s.Port }}}}{{{{ end }}}}{{{{ end }}}}\n",
        mesh = ctx.name,
        host = consul_dns(&svc),
    );
    if r.tls.is_some() {
        text.push_str("    certificate-authority: /secrets/ca.crt\n");
    }
    text.push_str(&format!("users:\n- name: {user}\n  user:\n"));
    if r.tls.is_some() {
        text.push_str(
            "    client-certificate: /secrets/client.crt\n    client-key: /secrets/client.key\n",
        );
    } else {
        text.push_str("    {}\n");
    }
    text.push_str(&format!(
        "contexts:\n- name: {mesh}\n  context:\n    cluster: {mesh}\n    user: {user}\ncurrent-context: {mesh}\n",
        mesh = ctx.name
    ));
    Template {
        embedded_tmpl: Some(text),
        dest_path: Some("local/kubeconfig".into()),
        change_mode: Some("restart".into()),
        ..Default::default()
    }
}

/// The Docker volume that mounts the rendered kubeconfig where the compose file mounted it.
pub(crate) fn kubeconfig_volume() -> String {
    format!("local/kubeconfig:{KUBECONFIG_PATH}")
}

/// Certificate templates into the task's `secrets/` folder (`/secrets` in the container) and the
/// Vault block they need. `server` gives `apiserver.crt`/`apiserver.key` for the API server's
/// own name; otherwise `client.crt`/`client.key` with `common_name` as the client identity.
/// Both get `ca.crt`.
pub(crate) fn tls_templates(
    tls: &TlsSpec,
    common_name: &str,
    server: bool,
) -> (Vec<Template>, Option<Vault>) {
    let (cert, key) = if server {
        ("apiserver.crt", "apiserver.key")
    } else {
        ("client.crt", "client.key")
    };
    let tmpl = |dest: &str, perms: &str| Template {
        dest_path: Some(format!("secrets/{dest}")),
        change_mode: Some("restart".into()),
        perms: Some(perms.into()),
        ..Default::default()
    };
    match tls.source {
        TlsSource::Vault => {
            let path = tls.vault_pki_path.as_deref().unwrap_or(DEFAULT_PKI_PATH);
            let ttl = tls.ttl.as_deref().unwrap_or("72h");
            // The same `secret` call in every template: consul-template fetches it once, so the
            // certificate, key and CA come from one issued bundle.
            let call = if server {
                format!("secret \"{path}\" \"common_name={common_name}\" \"alt_names=localhost\" \"ip_sans=127.0.0.1\" \"ttl={ttl}\"")
            } else {
                format!("secret \"{path}\" \"common_name={common_name}\" \"ttl={ttl}\"")
            };
            let field =
                |f: &str| format!("{{{{ with {call} }}}}{{{{ .Data.{f} }}}}{{{{ end }}}}\n");
            let mut t = Vec::new();
            for (dest, f, perms) in [
                (cert, "certificate", "0644"),
                (key, "private_key", "0600"),
                ("ca.crt", "issuing_ca", "0644"),
            ] {
                let mut x = tmpl(dest, perms);
                x.embedded_tmpl = Some(field(f));
                t.push(x);
            }
            let vault = Vault {
                policies: if tls.vault_role.is_some() {
                    Vec::new()
                } else if tls.vault_policies.is_empty() {
                    vec!["istio-nomad-pki".into()]
                } else {
                    tls.vault_policies.clone()
                },
                role: tls.vault_role.clone(),
                change_mode: Some("restart".into()),
                ..Default::default()
            };
            (t, Some(vault))
        }
        TlsSource::File => {
            let (c, k) = if server {
                (&tls.cert_file, &tls.key_file)
            } else {
                (&tls.client_cert_file, &tls.client_key_file)
            };
            let mut t = Vec::new();
            for (dest, src, perms) in [
                (cert, c, "0644"),
                (key, k, "0600"),
                ("ca.crt", &tls.ca_file, "0644"),
            ] {
                let mut x = tmpl(dest, perms);
                x.source_path = Some(src.clone().unwrap_or_default());
                t.push(x);
            }
            (t, None)
        }
    }
}
