//! The stateless components: the Istio API server, Pilot, Mixer, Citadel and Zipkin.

use super::etcd;
use super::templates::{
    base_job, docker_task, http_check, kubeconfig_template, kubeconfig_volume, network, service,
    stateless_group, tcp_check, tls_templates, KUBECONFIG_PATH,
};
use crate::error::Result;
use crate::istio::ZipkinField;
use crate::nomad::{Job, Port, Service, Task, Template};
use crate::spec::control_plane::Role;
use crate::spec::control_plane::{
    consul_dns, job_id, MeshContext, Profile, Resolved, ResolvedControlPlane,
};
use serde_json::Value;

/// Pilot's HTTP (legacy xDS and debug) port in the container, as in the compose file.
pub const PILOT_HTTP: i64 = 15007;
/// Pilot's gRPC xDS port.
pub const PILOT_GRPC: i64 = 15010;
/// The self-monitoring port the jobs give Pilot, Mixer and Citadel (`/metrics`, `/version`):
/// 1.0's default, passed explicitly to every release (1.1 moved the default to 15014).
pub const MONITORING: i64 = 9093;
/// Mixer's gRPC API port.
pub const MIXER_GRPC: i64 = 9091;
/// Citadel's gRPC port.
pub const CITADEL_GRPC: i64 = 8060;
/// Zipkin's port.
pub const ZIPKIN_PORT: i64 = 9411;
/// The API server's insecure port in the compose file.
pub const APISERVER_INSECURE: i64 = 8080;
/// Where Pilot reads its mesh configuration (`--meshConfig`; the flag's default path at 1.0.6
/// to 1.6, `pilot/cmd/pilot-discovery/main.go`).
pub const MESH_CONFIG_PATH: &str = "/etc/istio/config/mesh";

fn s(v: &str) -> String {
    v.to_string()
}

fn with_tls(
    mut t: Task,
    ctx: &MeshContext,
    r: &ResolvedControlPlane,
    role: Role,
    server: bool,
) -> Task {
    if let Some(tls) = &r.tls {
        let cn = if server {
            consul_dns(&job_id(&ctx.name, Role::ApiServer))
        } else {
            job_id(&ctx.name, role)
        };
        let (templates, vault) = tls_templates(tls, &cn, server);
        t.templates.extend(templates);
        t.vault = vault;
    }
    t
}

fn with_kubeconfig(mut t: Task, ctx: &MeshContext, r: &ResolvedControlPlane, role: Role) -> Task {
    t = t.template(kubeconfig_template(ctx, r, role.as_str()));
    t = t.config("volumes", Value::from(vec![kubeconfig_volume()]));
    with_tls(t, ctx, r, role, false)
}

fn single_group(
    job: &mut Job,
    name: &str,
    r: &ResolvedControlPlane,
    res: &Resolved,
    net: crate::nomad::NetworkResource,
    services: Vec<Service>,
    task: Task,
) {
    let mut g = stateless_group(name, r, res);
    g.networks.push(net);
    g.services = services;
    g.tasks.push(task);
    job.task_groups.push(g);
}

/// The Istio API server (kube-apiserver) job.
pub(crate) fn apiserver_job(ctx: &MeshContext, r: &ResolvedControlPlane) -> Result<Job> {
    let res = &r.apiserver;
    let mut job = base_job(ctx, r, Role::ApiServer, res);
    let svc = job_id(&ctx.name, Role::ApiServer);
    let etcd_servers = etcd::client_urls(ctx, r).join(",");
    let (args, port_label, container_port, check) = match &r.tls {
        // TLS is off only in the dev profile (validation refuses it in ha).
        None => (
            // The compose file's command, in its order.
            vec![
                s("--etcd-servers"),
                etcd_servers,
                s("--service-cluster-ip-range"),
                r.service_cidr.clone(),
                s("--insecure-port"),
                APISERVER_INSECURE.to_string(),
                s("-v"),
                s("2"),
                s("--insecure-bind-address"),
                s("0.0.0.0"),
            ],
            "http",
            APISERVER_INSECURE,
            http_check("apiserver-healthz", "http", "/healthz"),
        ),
        Some(_) => (
            vec![
                format!("--etcd-servers={etcd_servers}"),
                s("--storage-backend=etcd3"),
                format!("--service-cluster-ip-range={}", r.service_cidr),
                s("--bind-address=0.0.0.0"),
                format!("--secure-port={}", r.apiserver_port),
                s("--insecure-port=0"),
                s("--tls-cert-file=/secrets/apiserver.crt"),
                s("--tls-private-key-file=/secrets/apiserver.key"),
                s("--client-ca-file=/secrets/ca.crt"),
                s("--anonymous-auth=false"),
                s("--authorization-mode=AlwaysAllow"),
                s("-v=2"),
            ],
            "https",
            r.apiserver_port,
            // Anonymous requests are refused, so an HTTP check would fail: check the listener.
            tcp_check("apiserver-tls", "https"),
        ),
    };
    let mut t =
        docker_task("apiserver", r, res, args, &[port_label]).config("command", "kube-apiserver");
    if r.profile == Profile::Dev {
        // The compose file runs it privileged (the client needs `allow_privileged`).
        t = t.config("privileged", true);
    }
    t = with_tls(t, ctx, r, Role::ApiServer, true);
    single_group(
        &mut job,
        "apiserver",
        r,
        res,
        network(&[(port_label, r.apiserver_port, container_port)], &[]),
        vec![service(&svc, port_label, vec![], vec![check], true)],
        t,
    );
    Ok(job)
}

/// Pilot's mesh configuration (`pilot-discovery --meshConfig`), in the YAML Pilot reads
/// (`pilot/pkg/model/context.go` `ApplyMeshConfigDefaults` at 1.0.6, `pkg/config/mesh/mesh.go`
/// `ApplyMeshConfig` at 1.3.8 and 1.7.8: the text is merged over the release's defaults, a
/// partial `defaultConfig` included, and unknown fields are refused):
///
/// * `mixerCheckServer` / `mixerReportServer`: Mixer's Consul name and gRPC port, when Mixer
///   runs. Pilot names the sidecars' Mixer cluster `outbound|<port>||<host>` from them
///   (`pilot/pkg/networking/plugin/mixer/mixer.go` `buildUpstreamName`), the cluster of Mixer's
///   Consul service. Istio 1.0 reads that service's protocol from the node meta (default http),
///   so its cluster speaks HTTP/1.1 and Mixer's gRPC cannot answer: for 1.0 the policy check
///   fails open (`policyCheckFailOpen: true`), so a mesh without
///   `node_meta { protocol = "grpc" }` on Mixer's nodes still carries traffic. 1.0.0 to 1.0.2
///   have no `policyCheckFailOpen` (Pilot 1.0.0 refuses the whole file: "unknown field
///   \"policyCheckFailOpen\" in v1alpha1.MeshConfig", then runs on its defaults, without Mixer
///   or Zipkin), so for them the checks are turned off (`disablePolicyChecks: true`); reports
///   still go to Mixer. From 1.6, whose defaults turn the sidecars' reports to Mixer off
///   (`DisableMixerHttpReports: true`, `pkg/config/mesh/mesh.go` at 1.6.0), the text turns them
///   back on. Policy checks keep each release's default (on in 1.0, off from 1.1:
///   `DisablePolicyChecks` in `DefaultMeshConfig`).
/// * `defaultConfig`: the discovery address (Pilot's gRPC port), `controlPlaneAuthPolicy: NONE`
///   and Zipkin (`zipkinAddress` in 1.0, `tracing.zipkin.address` from 1.1).
pub(crate) fn pilot_mesh_config(ctx: &MeshContext, r: &ResolvedControlPlane) -> String {
    let ep = crate::spec::control_plane::endpoints(ctx, r);
    let facts = ctx.istio_version.facts();
    let mut text = format!(
        "# Mesh configuration of {mesh} for Istio {v} (pilot-discovery --meshConfig).\n",
        mesh = ctx.name,
        v = ctx.istio_version
    );
    if let Some(m) = &ep.mixer_address {
        text.push_str(&format!("mixerCheckServer: {m}\nmixerReportServer: {m}\n"));
        if !facts.protocol_in_service_meta() {
            if ctx.istio_version.has_policy_fail_open() {
                text.push_str("policyCheckFailOpen: true\n");
            } else {
                text.push_str("disablePolicyChecks: true\n");
            }
        }
        if facts.mixer_reports_off_by_default {
            text.push_str("disableMixerHttpReports: false\n");
        }
    }
    text.push_str(&format!(
        "defaultConfig:\n  discoveryAddress: {}\n  controlPlaneAuthPolicy: NONE\n",
        ep.discovery_address
    ));
    if let Some(z) = &ep.zipkin_address {
        match facts.zipkin {
            ZipkinField::ZipkinAddress => text.push_str(&format!("  zipkinAddress: {z}\n")),
            ZipkinField::Tracing => {
                text.push_str(&format!("  tracing:\n    zipkin:\n      address: {z}\n"))
            }
        }
    }
    text
}

/// The Pilot job.
///
/// Pilot reads the Consul catalog from `consul_url`. Consul's agents listen on loopback by
/// default, so with a loopback URL (the default, `http://127.0.0.1:8500`) the Pilot container
/// shares the node's network (`network_mode = "host"`) and its listeners bind the static host
/// ports directly; otherwise it keeps its own container network with the ports mapped.
///
/// The flags follow the release (`pilot/cmd/pilot-discovery/main.go` at each tag;
/// pilot-discovery refuses flags it does not know): `--consulserverInterval` up to 1.4, the
/// secure gRPC listener turned off with `--secureGrpcAddr ""` up to 1.5 and
/// `--secureGRPCAddr ""` in 1.7 (1.6 has no such flag).
pub(crate) fn pilot_job(ctx: &MeshContext, r: &ResolvedControlPlane) -> Result<Job> {
    let res = &r.pilot;
    let facts = ctx.istio_version.facts();
    let mut job = base_job(ctx, r, Role::Pilot, res);
    let svc = job_id(&ctx.name, Role::Pilot);
    let host_net = crate::spec::control_plane::is_loopback_url(&r.consul_url);
    let ha = r.profile == Profile::Ha;
    // Ports Pilot listens on inside its network: the static host ports in the node's network,
    // the compose file's container ports otherwise.
    let (http_in, grpc_in) = if host_net {
        (r.pilot_http_port, r.pilot_grpc_port)
    } else {
        (PILOT_HTTP, PILOT_GRPC)
    };
    let mut args = vec![s("discovery"), s("--httpAddr"), format!(":{http_in}")];
    if ha || grpc_in != PILOT_GRPC {
        args.extend([s("--grpcAddr"), format!(":{grpc_in}")]);
    }
    if ha {
        if let Some(flag) = facts.pilot.secure_grpc_flag {
            // No certificates for the secure gRPC listener outside Kubernetes (Istio 1.1
            // turned it off the same way for Consul).
            args.extend([s(flag), s("")]);
        }
        let monitoring = if host_net {
            s(":${NOMAD_PORT_monitoring}")
        } else {
            format!(":{MONITORING}")
        };
        args.extend([s("--monitoringAddr"), monitoring]);
    }
    args.extend([
        s("--registries"),
        s("Consul"),
        s("--consulserverURL"),
        r.consul_url.clone(),
    ]);
    if ha && facts.pilot.consul_interval {
        args.extend([s("--consulserverInterval"), s("2s")]);
    }
    args.extend([
        s("--kubeconfig"),
        s(KUBECONFIG_PATH),
        s("--meshConfig"),
        s(MESH_CONFIG_PATH),
    ]);
    let fixed_to = |container: i64| if host_net { None } else { Some(container) };
    let mut net = network(&[], &[]);
    net.reserved_ports = vec![
        Port::fixed("http", r.pilot_http_port, fixed_to(PILOT_HTTP)),
        Port::fixed("grpc", r.pilot_grpc_port, fixed_to(PILOT_GRPC)),
    ];
    if ha {
        net.dynamic_ports = vec![if host_net {
            Port {
                label: Some("monitoring".into()),
                ..Default::default()
            }
        } else {
            Port::dynamic("monitoring", MONITORING)
        }];
    }
    let mut http_checks = vec![tcp_check("pilot-http", "http")];
    if ha {
        http_checks.push(http_check("pilot-metrics", "monitoring", "/metrics"));
    }
    let services = vec![
        service(&svc, "http", vec![], http_checks, true),
        service(
            &crate::spec::control_plane::pilot_grpc_service(&ctx.name),
            "grpc",
            vec![],
            vec![tcp_check("pilot-grpc", "grpc")],
            false,
        ),
    ];
    let ports: Vec<&str> = if host_net {
        Vec::new()
    } else if ha {
        vec!["http", "grpc", "monitoring"]
    } else {
        vec!["http", "grpc"]
    };
    let mut t = with_kubeconfig(
        docker_task("pilot", r, res, args, &ports),
        ctx,
        r,
        Role::Pilot,
    );
    if host_net {
        t.config.remove("ports");
        t = t.config("network_mode", "host");
    }
    t = t.template(Template {
        embedded_tmpl: Some(pilot_mesh_config(ctx, r)),
        dest_path: Some("local/mesh".into()),
        change_mode: Some("restart".into()),
        ..Default::default()
    });
    if let Some(Value::Array(v)) = t.config.get_mut("volumes") {
        v.push(Value::String(format!("local/mesh:{MESH_CONFIG_PATH}")));
    }
    single_group(&mut job, "pilot", r, res, net, services, t);
    Ok(job)
}

/// The Mixer job (`mixs server`, config store through the kubeconfig).
///
/// Mixer listens on its gRPC port (`--port`) and its self-monitoring port (`--monitoringPort`,
/// `/metrics` and `/version`, `mixer/pkg/server/monitoring.go`); its checks probe only those.
/// Port 42422 belongs to the Prometheus adapter, which opens it only when a `prometheus`
/// handler is configured (`mixer/adapter/prometheus/server.go`, started from the builder's
/// `Build`), and this deployment configures none. From Istio 1.1 the service carries
/// `protocol = "grpc"` in its meta, so Pilot gives the sidecars an HTTP/2 cluster to Mixer
/// (`pilot/pkg/serviceregistry/consul/conversion.go` reads the service meta).
pub(crate) fn mixer_job(ctx: &MeshContext, r: &ResolvedControlPlane) -> Result<Job> {
    let res = &r.mixer;
    let mut job = base_job(ctx, r, Role::Mixer, res);
    let svc = job_id(&ctx.name, Role::Mixer);
    let mut args = vec![
        s("server"),
        s("--port"),
        MIXER_GRPC.to_string(),
        s("--monitoringPort"),
        MONITORING.to_string(),
        s("--configStoreURL"),
        format!("k8s://{KUBECONFIG_PATH}"),
        s("--configDefaultNamespace"),
        r.mixer_config_namespace.clone(),
    ];
    if r.zipkin.enabled {
        args.extend([
            s("--trace_zipkin_url"),
            format!(
                "http://{}:{}/api/v1/spans",
                consul_dns(&job_id(&ctx.name, Role::Zipkin)),
                r.zipkin_port
            ),
        ]);
    }
    let t = with_kubeconfig(
        docker_task("mixer", r, res, args, &["grpc", "monitoring"]),
        ctx,
        r,
        Role::Mixer,
    );
    let mut grpc = service(
        &svc,
        "grpc",
        vec![],
        vec![
            tcp_check("mixer-grpc", "grpc"),
            http_check("mixer-metrics", "monitoring", "/metrics"),
        ],
        true,
    );
    if ctx.istio_version.facts().protocol_in_service_meta() {
        grpc.meta.insert("protocol".into(), "grpc".into());
    }
    single_group(
        &mut job,
        "mixer",
        r,
        res,
        network(
            &[("grpc", r.mixer_grpc_port, MIXER_GRPC)],
            &[("monitoring", MONITORING)],
        ),
        vec![grpc],
        t,
    );
    Ok(job)
}

/// The Citadel job (`istio_ca` with a self-signed root, serving gRPC).
pub(crate) fn citadel_job(ctx: &MeshContext, r: &ResolvedControlPlane) -> Result<Job> {
    let res = &r.citadel;
    let mut job = base_job(ctx, r, Role::Citadel, res);
    let svc = job_id(&ctx.name, Role::Citadel);
    let args = vec![
        s("--grpc-port"),
        CITADEL_GRPC.to_string(),
        s("--monitoring-port"),
        MONITORING.to_string(),
        s("--self-signed-ca=true"),
        s("--kube-config"),
        s(KUBECONFIG_PATH),
        s("--citadel-storage-namespace"),
        r.citadel_storage_namespace.clone(),
    ];
    let t = with_kubeconfig(
        docker_task("citadel", r, res, args, &["grpc", "monitoring"]),
        ctx,
        r,
        Role::Citadel,
    );
    single_group(
        &mut job,
        "citadel",
        r,
        res,
        network(
            &[("grpc", r.citadel_grpc_port, CITADEL_GRPC)],
            &[("monitoring", MONITORING)],
        ),
        vec![service(
            &svc,
            "grpc",
            vec![],
            vec![
                tcp_check("citadel-grpc", "grpc"),
                http_check("citadel-metrics", "monitoring", "/metrics"),
            ],
            true,
        )],
        t,
    );
    Ok(job)
}

/// The Zipkin job.
pub(crate) fn zipkin_job(ctx: &MeshContext, r: &ResolvedControlPlane) -> Result<Job> {
    let res = &r.zipkin;
    let mut job = base_job(ctx, r, Role::Zipkin, res);
    let svc = job_id(&ctx.name, Role::Zipkin);
    let t = docker_task("zipkin", r, res, vec![], &["http"]);
    single_group(
        &mut job,
        "zipkin",
        r,
        res,
        network(&[("http", r.zipkin_port, ZIPKIN_PORT)], &[]),
        vec![service(
            &svc,
            "http",
            vec![],
            vec![http_check("zipkin-health", "http", "/health")],
            true,
        )],
        t,
    );
    Ok(job)
}
