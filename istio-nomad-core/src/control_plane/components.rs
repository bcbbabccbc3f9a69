//! The stateless components: the Istio API server, Pilot, Mixer, Citadel and Zipkin.

use super::templates::{
    base_job, consul_dns, docker_task, http_check, kubeconfig_template, kubeconfig_volume, network,
    service, stateless_group, tcp_check, tls_templates, KUBECONFIG_PATH,
};
use super::{etcd, job_id, MeshContext, Profile, Resolved, ResolvedControlPlane};
use crate::error::Result;
use crate::nomad::{Job, Service, Task};
use crate::plan::Role;
use serde_json::Value;

/// Pilot's HTTP (legacy xDS and debug) port in the container, as in the compose file.
pub const PILOT_HTTP: i64 = 15007;
/// Pilot's gRPC xDS port.
pub const PILOT_GRPC: i64 = 15010;
/// The self-monitoring port of Pilot, Mixer and Citadel in 1.0.
pub const MONITORING: i64 = 9093;
/// Mixer's gRPC API port.
pub const MIXER_GRPC: i64 = 9091;
/// Mixer's Prometheus endpoint.
pub const MIXER_PROMETHEUS: i64 = 42422;
/// Citadel's gRPC port.
pub const CITADEL_GRPC: i64 = 8060;
/// Zipkin's port.
pub const ZIPKIN_PORT: i64 = 9411;
/// The API server's insecure port in the compose file.
pub const APISERVER_INSECURE: i64 = 8080;

fn s(v: &str) -> String {
    v.to_string()
}

/// Istio releases before 1.0 name Pilot's HTTP flag `--port`, later ones `--httpAddr`.
fn pre_1_0(version: &str) -> bool {
    version.starts_with("0.")
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
    t = t.template(kubeconfig_template(
        ctx,
        r,
        super::templates::role_name(role),
    ));
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

/// The Pilot job.
pub(crate) fn pilot_job(ctx: &MeshContext, r: &ResolvedControlPlane) -> Result<Job> {
    let res = &r.pilot;
    let mut job = base_job(ctx, r, Role::Pilot, res);
    let svc = job_id(&ctx.name, Role::Pilot);
    let http_flag: [String; 2] = if pre_1_0(&ctx.istio_version) {
        [s("--port"), PILOT_HTTP.to_string()]
    } else {
        [s("--httpAddr"), format!(":{PILOT_HTTP}")]
    };
    let mut args = vec![s("discovery")];
    args.extend(http_flag);
    let (net, services) = match r.profile {
        Profile::Dev => {
            args.extend([
                s("--registries"),
                s("Consul"),
                s("--consulserverURL"),
                r.consul_url.clone(),
                s("--kubeconfig"),
                s(KUBECONFIG_PATH),
            ]);
            (
                network(
                    &[
                        ("http", r.pilot_http_port, PILOT_HTTP),
                        ("grpc", r.pilot_grpc_port, PILOT_GRPC),
                    ],
                    &[],
                ),
                vec![
                    service(
                        &svc,
                        "http",
                        vec![],
                        vec![tcp_check("pilot-http", "http")],
                        true,
                    ),
                    service(
                        &format!("{svc}-grpc"),
                        "grpc",
                        vec![],
                        vec![tcp_check("pilot-grpc", "grpc")],
                        false,
                    ),
                ],
            )
        }
        Profile::Ha => {
            args.extend([s("--grpcAddr"), format!(":{PILOT_GRPC}")]);
            if !pre_1_0(&ctx.istio_version) {
                // No certificates for the secure gRPC listener outside Kubernetes (Istio 1.1
                // turned it off the same way for Consul).
                args.extend([s("--secureGrpcAddr"), s("")]);
            }
            args.extend([
                s("--monitoringAddr"),
                format!(":{MONITORING}"),
                s("--registries"),
                s("Consul"),
                s("--consulserverURL"),
                r.consul_url.clone(),
                s("--consulserverInterval"),
                s("2s"),
                s("--kubeconfig"),
                s(KUBECONFIG_PATH),
            ]);
            (
                network(
                    &[
                        ("http", r.pilot_http_port, PILOT_HTTP),
                        ("grpc", r.pilot_grpc_port, PILOT_GRPC),
                    ],
                    &[("monitoring", MONITORING)],
                ),
                vec![
                    service(
                        &svc,
                        "http",
                        vec![],
                        vec![
                            tcp_check("pilot-http", "http"),
                            http_check("pilot-metrics", "monitoring", "/metrics"),
                        ],
                        true,
                    ),
                    service(
                        &format!("{svc}-grpc"),
                        "grpc",
                        vec![],
                        vec![tcp_check("pilot-grpc", "grpc")],
                        false,
                    ),
                ],
            )
        }
    };
    let ports: Vec<&str> = if r.profile == Profile::Ha {
        vec!["http", "grpc", "monitoring"]
    } else {
        vec!["http", "grpc"]
    };
    let t = with_kubeconfig(
        docker_task("pilot", r, res, args, &ports),
        ctx,
        r,
        Role::Pilot,
    );
    single_group(&mut job, "pilot", r, res, net, services, t);
    Ok(job)
}

/// The Mixer job (`mixs server`, config store through the kubeconfig).
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
        docker_task("mixer", r, res, args, &["grpc", "monitoring", "prometheus"]),
        ctx,
        r,
        Role::Mixer,
    );
    single_group(
        &mut job,
        "mixer",
        r,
        res,
        network(
            &[("grpc", r.mixer_grpc_port, MIXER_GRPC)],
            &[("monitoring", MONITORING), ("prometheus", MIXER_PROMETHEUS)],
        ),
        vec![
            service(
                &svc,
                "grpc",
                vec![],
                vec![
                    tcp_check("mixer-grpc", "grpc"),
                    http_check("mixer-metrics", "monitoring", "/metrics"),
                ],
                true,
            ),
            service(
                &format!("{svc}-prometheus"),
                "prometheus",
                vec![],
                vec![http_check("mixer-prometheus", "prometheus", "/metrics")],
                false,
            ),
        ],
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
