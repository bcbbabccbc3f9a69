//! What differs between the supported Istio releases (1.0.x to 1.7.x), asserted exactly for
//! 1.0.6, 1.3.8 and 1.7.8: the sidecar's arguments and environment, the group's DNS, Pilot's
//! flags and mesh config, Mixer's service meta and checks, Citadel, the VM bundle; refused
//! releases; and the in-memory cluster's health model (a check on a port nothing opens fails the
//! deployment).
#![allow(clippy::unwrap_used)]

mod common;

use istio_nomad_core::backend::{Consul, QueryOptions};
use istio_nomad_core::install::{ApplyOptions, InMemoryCluster, InstallError, Installer};
use istio_nomad_core::nomad::{Job, NetworkResource, Port, Service, ServiceCheck, Task, SECOND};
use istio_nomad_core::plan::control_plane::{check_health, CheckHealth};
use istio_nomad_core::plan::sidecar::SidecarOptions;
use istio_nomad_core::plan::{plan, Plan, Role};
use istio_nomad_core::spec::MeshSpec;
use istio_nomad_core::Error;
use serde_json::{json, Value};
use std::time::Duration;

fn bookinfo(version: &str) -> MeshSpec {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/bookinfo.mesh.hcl"
    ))
    .unwrap()
    .replace(
        "istio_version = \"1.0.0\"",
        &format!("istio_version = \"{version}\""),
    );
    MeshSpec::from_hcl(&text).unwrap()
}

fn job<'a>(p: &'a Plan, id: &str) -> &'a Job {
    &p.job(id).unwrap().job
}

fn task<'a>(j: &'a Job, group: &str, task: &str) -> &'a Task {
    j.find_group(group).unwrap().find_task(task).unwrap()
}

fn args(t: &Task) -> Vec<String> {
    serde_json::from_value(t.config["args"].clone()).unwrap()
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn sidecar_per_release() {
    // 1.0.6: flags; the discovery address names Pilot's gRPC port (1.0 keeps only the host).
    let p = plan(&bookinfo("1.0.6")).unwrap();
    let reviews = job(&p, "reviews");
    let proxy = task(reviews, "reviews-v1", "istio-proxy");
    assert_eq!(proxy.config["image"], "docker.io/istio/proxy_debug:1.0.6");
    assert_eq!(
        args(proxy),
        strs(&[
            "proxy",
            "--serviceregistry",
            "Consul",
            "--serviceCluster",
            "reviews",
            "--discoveryAddress",
            "bookinfo-pilot-grpc.service.consul:15010",
            "--proxyAdminPort",
            "15000",
            "--configPath",
            "/var/lib/istio",
            "--statusPort",
            "15020",
            "--zipkinAddress",
            "bookinfo-zipkin.service.consul:9411",
        ])
    );
    assert!(proxy.env.is_empty());
    let init = task(reviews, "reviews-v1", "istio-init");
    assert_eq!(init.config["image"], "docker.io/istio/proxy_init:1.0.6");
    // Inbound traffic arrives on the proxy port before 1.3.
    assert!(p.iptables[0]
        .restore
        .contains("-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15001"));

    // 1.3.8: the same flags (the address is used as given), proxy_debug still, 15006 inbound.
    let p = plan(&bookinfo("1.3.8")).unwrap();
    let proxy = task(job(&p, "reviews"), "reviews-v2", "istio-proxy");
    assert_eq!(proxy.config["image"], "docker.io/istio/proxy_debug:1.3.8");
    assert_eq!(
        args(proxy)[5..8],
        strs(&[
            "--discoveryAddress",
            "bookinfo-pilot-grpc.service.consul:15010",
            "--proxyAdminPort"
        ])
    );
    assert!(p.iptables[0]
        .restore
        .contains("-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006"));

    // 1.7.8: no flags but the registry and cluster; everything else in PROXY_CONFIG.
    let p = plan(&bookinfo("1.7.8")).unwrap();
    let g = job(&p, "reviews").find_group("reviews-v3").unwrap();
    let proxy = g.find_task("istio-proxy").unwrap();
    assert_eq!(proxy.config["image"], "docker.io/istio/proxyv2:1.7.8");
    assert_eq!(
        args(proxy),
        strs(&[
            "proxy",
            "--serviceregistry",
            "Consul",
            "--serviceCluster",
            "reviews"
        ])
    );
    assert_eq!(
        proxy.env["PROXY_CONFIG"],
        r#"{"discoveryAddress":"bookinfo-pilot-grpc.service.consul:15010","controlPlaneAuthPolicy":"NONE","proxyAdminPort":15000,"statusPort":15020,"tracing":{"zipkin":{"address":"bookinfo-zipkin.service.consul:9411"}}}"#
    );
    assert_eq!(
        g.find_task("istio-init").unwrap().config["image"],
        "docker.io/istio/proxyv2:1.7.8"
    );
    // Every release: Consul's search domain, the protocol in the service meta.
    let dns = g.networks[0].dns.as_ref().unwrap();
    assert_eq!(dns.searches, ["service.consul"]);
    assert!(dns.servers.is_empty());
    assert_eq!(g.services[0].meta["protocol"], "http");
    assert_eq!(g.services[0].tags, ["version|v3"]);
}

#[test]
fn dns_servers_come_from_the_spec_and_user_dns_is_kept() {
    let mut spec = bookinfo("1.0.6");
    spec.control_plane.dns_servers = vec!["172.17.0.1".into()];
    let p = plan(&spec).unwrap();
    let dns = job(&p, "details").task_groups[0].networks[0]
        .dns
        .clone()
        .unwrap();
    assert_eq!(
        (dns.servers, dns.searches),
        (strs(&["172.17.0.1"]), strs(&["service.consul"]))
    );

    // A group's own DNS settings stay; the search domain is added; removal restores them.
    let mut g = istio_nomad_core::nomad::TaskGroup::new("web")
        .task(Task::new("app", "docker").config("image", "nginx:1.27"))
        .service(Service {
            name: Some("web".into()),
            port_label: Some("http".into()),
            ..Default::default()
        });
    g.networks.push(NetworkResource {
        mode: Some("bridge".into()),
        dns: Some(istio_nomad_core::nomad::DnsConfig {
            servers: vec!["10.0.0.2".into()],
            searches: vec!["corp.example".into()],
            ..Default::default()
        }),
        dynamic_ports: vec![Port::dynamic("http", 8080)],
        ..Default::default()
    });
    let user = Job::new("web").datacenters(["dc1"]).group(g);
    let opts = SidecarOptions::new("m")
        .dns_servers(["10.9.9.9"])
        .build()
        .unwrap();
    let meshed = istio_nomad_core::plan::sidecar::inject(&user, &opts).unwrap();
    let dns = meshed.task_groups[0].networks[0].dns.clone().unwrap();
    assert_eq!(dns.servers, ["10.0.0.2"]);
    assert_eq!(dns.searches, ["corp.example", "service.consul"]);
    assert_eq!(
        istio_nomad_core::plan::sidecar::remove_sidecar(&meshed).unwrap(),
        user
    );
}

/// `MeshConfig` fields at 1.0.0 (1.0.3 adds `policyCheckFailOpen`).
const MESH_1_0_0: &[&str] = &[
    "mixerCheckServer",
    "mixerReportServer",
    "disablePolicyChecks",
    "proxyListenPort",
    "proxyHttpPort",
    "connectTimeout",
    "ingressClass",
    "ingressService",
    "ingressControllerMode",
    "authPolicy",
    "rdsRefreshDelay",
    "enableTracing",
    "accessLogFile",
    "defaultConfig",
    "mixerAddress",
    "outboundTrafficPolicy",
    "enableClientSidePolicyCheck",
    "sdsUdsPath",
    "sdsRefreshDelay",
];

/// `ProxyConfig` fields at 1.0.0 (the same at 1.0.3 and 1.0.6).
const PROXY_1_0: &[&str] = &[
    "configPath",
    "binaryPath",
    "serviceCluster",
    "drainDuration",
    "parentShutdownDuration",
    "discoveryAddress",
    "discoveryRefreshDelay",
    "zipkinAddress",
    "connectTimeout",
    "statsdUdpAddress",
    "proxyAdminPort",
    "availabilityZone",
    "controlPlaneAuthPolicy",
    "customConfigFile",
    "statNameLength",
    "concurrency",
    "proxyBootstrapTemplatePath",
    "interceptionMode",
];

/// (tag, MeshConfig fields, MeshConfig fields added to them, ProxyConfig fields).
type FieldTable = (
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
    &'static [&'static str],
);

/// The fields of Pilot's mesh config (`MeshConfig`) and of its `defaultConfig`
/// (`ProxyConfig`) at a tag, from `vendor/istio.io/api/mesh/v1alpha1/config.pb.go` (and
/// `proxy.pb.go` from 1.1) at that tag. Pilot reads the file strictly
/// (`pilot/pkg/model/context.go` `ApplyMeshConfigDefaults` at 1.0.x, `pkg/config/mesh/mesh.go`
/// `ApplyMeshConfig` at 1.3.8): one unknown field and it drops the whole file and runs on its
/// defaults (measured with pilot-discovery 1.0.0: "unknown field \"policyCheckFailOpen\" in
/// v1alpha1.MeshConfig").
const MESH_FIELDS: [FieldTable; 3] = [
    ("1.0.0", MESH_1_0_0, &[], PROXY_1_0),
    ("1.0.3", MESH_1_0_0, &["policyCheckFailOpen"], PROXY_1_0),
    (
        "1.3.8",
        &[
            "mixerCheckServer",
            "mixerReportServer",
            "disablePolicyChecks",
            "policyCheckFailOpen",
            "sidecarToTelemetrySessionAffinity",
            "proxyListenPort",
            "proxyHttpPort",
            "connectTimeout",
            "protocolDetectionTimeout",
            "tcpKeepalive",
            "ingressClass",
            "ingressService",
            "ingressControllerMode",
            "authPolicy",
            "rdsRefreshDelay",
            "enableTracing",
            "accessLogFile",
            "accessLogFormat",
            "accessLogEncoding",
            "enableEnvoyAccessLogService",
            "defaultConfig",
            "mixerAddress",
            "outboundTrafficPolicy",
            "enableClientSidePolicyCheck",
            "sdsUdsPath",
            "sdsRefreshDelay",
            "configSources",
            "enableSdsTokenMount",
            "sdsUseK8sSaJwt",
            "trustDomain",
            "defaultServiceExportTo",
            "defaultVirtualServiceExportTo",
            "defaultDestinationRuleExportTo",
            "rootNamespace",
            "localityLbSetting",
            "dnsRefreshRate",
            "disableReportBatch",
            "reportBatchMaxEntries",
            "reportBatchMaxTime",
            "h2UpgradePolicy",
        ],
        &[],
        &[
            "configPath",
            "binaryPath",
            "serviceCluster",
            "drainDuration",
            "parentShutdownDuration",
            "discoveryAddress",
            "discoveryRefreshDelay",
            "zipkinAddress",
            "connectTimeout",
            "statsdUdpAddress",
            "envoyMetricsServiceAddress",
            "proxyAdminPort",
            "availabilityZone",
            "controlPlaneAuthPolicy",
            "customConfigFile",
            "statNameLength",
            "concurrency",
            "proxyBootstrapTemplatePath",
            "interceptionMode",
            "tracing",
            "sds",
            "envoyAccessLogService",
            "envoyMetricsService",
        ],
    ),
];

#[test]
fn pilot_mesh_config_names_only_fields_its_release_knows() {
    // Each version with the field table of the newest tag above at or before it.
    for (version, table) in [
        ("1.0.0", "1.0.0"),
        ("1.0.2", "1.0.0"),
        ("1.0.3", "1.0.3"),
        ("1.0.6", "1.0.3"),
        ("1.3.8", "1.3.8"),
    ] {
        let (_, mesh_fields, added, proxy_fields) =
            MESH_FIELDS.iter().find(|(t, ..)| *t == table).unwrap();
        let p = plan(&bookinfo(version)).unwrap();
        let t = task(job(&p, "bookinfo-pilot"), "pilot", "pilot");
        let text = t
            .templates
            .iter()
            .find(|x| x.dest_path.as_deref() == Some("local/mesh"))
            .unwrap()
            .embedded_tmpl
            .clone()
            .unwrap();
        let mut seen = 0;
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let key = line.trim_start().split(':').next().unwrap();
            let indent = line.len() - line.trim_start().len();
            match indent {
                0 => assert!(
                    mesh_fields.contains(&key) || added.contains(&key),
                    "{version}: MeshConfig has no {key}"
                ),
                2 => assert!(
                    proxy_fields.contains(&key),
                    "{version}: ProxyConfig has no {key}"
                ),
                _ => continue,
            }
            seen += 1;
        }
        assert!(seen >= 5, "{version}: {text}");
    }
}

#[test]
fn pilot_mixer_citadel_per_release() {
    let expected_pilot = |version: &str, extra: &[&str]| {
        let mut a = strs(&["discovery", "--httpAddr", ":15007", "--grpcAddr", ":15010"]);
        a.extend(strs(extra));
        let _ = version;
        a
    };
    let tail = |interval: bool| {
        let mut t = strs(&[
            "--monitoringAddr",
            ":${NOMAD_PORT_monitoring}",
            "--registries",
            "Consul",
            "--consulserverURL",
            "http://127.0.0.1:8500",
        ]);
        if interval {
            t.extend(strs(&["--consulserverInterval", "2s"]));
        }
        t.extend(strs(&[
            "--kubeconfig",
            "/etc/istio/config/kubeconfig",
            "--meshConfig",
            "/etc/istio/config/mesh",
        ]));
        t
    };
    for (version, secure, interval, mesh_tail, mixer_meta, citadel) in [
        (
            "1.0.2",
            Some("--secureGrpcAddr"),
            true,
            "disablePolicyChecks: true\ndefaultConfig:\n  discoveryAddress: bookinfo-pilot-grpc.service.consul:15010\n  controlPlaneAuthPolicy: NONE\n  zipkinAddress: bookinfo-zipkin.service.consul:9411\n",
            None,
            true,
        ),
        (
            "1.0.3",
            Some("--secureGrpcAddr"),
            true,
            "policyCheckFailOpen: true\ndefaultConfig:\n  discoveryAddress: bookinfo-pilot-grpc.service.consul:15010\n  controlPlaneAuthPolicy: NONE\n  zipkinAddress: bookinfo-zipkin.service.consul:9411\n",
            None,
            true,
        ),
        (
            "1.0.6",
            Some("--secureGrpcAddr"),
            true,
            "policyCheckFailOpen: true\ndefaultConfig:\n  discoveryAddress: bookinfo-pilot-grpc.service.consul:15010\n  controlPlaneAuthPolicy: NONE\n  zipkinAddress: bookinfo-zipkin.service.consul:9411\n",
            None,
            true,
        ),
        (
            "1.3.8",
            Some("--secureGrpcAddr"),
            true,
            "defaultConfig:\n  discoveryAddress: bookinfo-pilot-grpc.service.consul:15010\n  controlPlaneAuthPolicy: NONE\n  tracing:\n    zipkin:\n      address: bookinfo-zipkin.service.consul:9411\n",
            Some("grpc"),
            true,
        ),
        (
            "1.6.14",
            None,
            false,
            "disableMixerHttpReports: false\ndefaultConfig:\n  discoveryAddress: bookinfo-pilot-grpc.service.consul:15010\n  controlPlaneAuthPolicy: NONE\n  tracing:\n    zipkin:\n      address: bookinfo-zipkin.service.consul:9411\n",
            Some("grpc"),
            false,
        ),
        (
            "1.7.8",
            Some("--secureGRPCAddr"),
            false,
            "disableMixerHttpReports: false\ndefaultConfig:\n  discoveryAddress: bookinfo-pilot-grpc.service.consul:15010\n  controlPlaneAuthPolicy: NONE\n  tracing:\n    zipkin:\n      address: bookinfo-zipkin.service.consul:9411\n",
            Some("grpc"),
            false,
        ),
    ] {
        let p = plan(&bookinfo(version)).unwrap();
        let pilot = job(&p, "bookinfo-pilot");
        let t = task(pilot, "pilot", "pilot");
        let mut want = expected_pilot(version, &[]);
        if let Some(flag) = secure {
            want.extend(strs(&[flag, ""]));
        }
        want.extend(tail(interval));
        assert_eq!(args(t), want, "{version}");
        assert_eq!(pilot.meta["istio-nomad.istio-version"], version);
        let mesh = t
            .templates
            .iter()
            .find(|x| x.dest_path.as_deref() == Some("local/mesh"))
            .unwrap()
            .embedded_tmpl
            .clone()
            .unwrap();
        assert_eq!(
            mesh,
            format!(
                "# Mesh configuration of bookinfo for Istio {version} (pilot-discovery --meshConfig).\n\
                 mixerCheckServer: bookinfo-mixer.service.consul:9091\n\
                 mixerReportServer: bookinfo-mixer.service.consul:9091\n{mesh_tail}"
            ),
            "{version}"
        );
        // Pilot registers its gRPC port, which the sidecars dial.
        let g = pilot.find_group("pilot").unwrap();
        assert_eq!(g.services[1].name.as_deref(), Some("bookinfo-pilot-grpc"));
        assert_eq!(g.services[1].port_label.as_deref(), Some("grpc"));

        let mixer = job(&p, "bookinfo-mixer").find_group("mixer").unwrap();
        assert_eq!(
            mixer.services[0].meta.get("protocol").map(String::as_str),
            mixer_meta,
            "{version}"
        );
        let checks: Vec<(&str, &str)> = mixer.services[0]
            .checks
            .iter()
            .map(|c| {
                (
                    c.name.as_deref().unwrap(),
                    c.port_label.as_deref().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            checks,
            [("mixer-grpc", "grpc"), ("mixer-metrics", "monitoring")]
        );
        assert_eq!(p.job("bookinfo-citadel").is_some(), citadel, "{version}");
        if citadel {
            assert_eq!(
                job(&p, "bookinfo-citadel").task_groups[0].count,
                Some(1)
            );
        }
        // Apps wait for what runs.
        let app = p.jobs.iter().find(|j| j.role == Role::App).unwrap();
        assert_eq!(app.depends_on.len(), if citadel { 3 } else { 2 });
    }
}

fn validation(
    r: istio_nomad_core::Result<impl std::fmt::Debug>,
) -> Vec<(String, Option<String>, String)> {
    match r {
        Err(Error::Validation(v)) => v
            .errors()
            .iter()
            .map(|e| (e.path.clone(), e.value.clone(), e.message.clone()))
            .collect(),
        other => panic!("expected a validation error, got {other:?}"),
    }
}

#[test]
fn unsupported_releases_are_refused_naming_the_field_and_value() {
    for bad in ["1.8.0", "0.8.0", "1.0", "2.0.0", "1.0.x", "latest"] {
        let text = format!("mesh \"m\" {{\n  istio_version = \"{bad}\"\n}}\n");
        let e = validation(MeshSpec::from_hcl(&text));
        assert_eq!(e.len(), 1, "{bad}");
        assert_eq!(e[0].0, "mesh.istio_version");
        assert_eq!(e[0].1.as_deref(), Some(bad));
        assert!(e[0].2.ends_with("(line 2)"), "{}", e[0].2);
        let json = format!("{{\"mesh\": {{\"name\": \"m\", \"istio_version\": \"{bad}\"}}}}");
        let e = validation(MeshSpec::from_json(&json));
        assert_eq!(
            (e[0].0.as_str(), e[0].1.as_deref()),
            ("mesh.istio_version", Some(bad))
        );
        let e = validation(SidecarOptions::new("m").istio_version(bad).build());
        assert_eq!(
            (e[0].0.as_str(), e[0].1.as_deref()),
            ("sidecar.istio_version", Some(bad))
        );
    }
    let e = validation(MeshSpec::from_hcl(
        "mesh \"m\" {\n  istio_version = \"1.8.0\"\n}\n",
    ));
    assert!(e[0].2.contains("1.0.x to 1.7.x") && e[0].2.contains("removed in 1.8"));
    // A setter call that fixes the release clears the earlier problem.
    SidecarOptions::new("m")
        .istio_version("1.9.0")
        .istio_version("1.7.8")
        .build()
        .unwrap();
}

#[test]
fn release_dependent_rules() {
    let spec = |body: &str| format!("mesh \"m\" {{\n{body}\n}}\n");
    // One Citadel.
    let e = validation(MeshSpec::from_hcl(&spec(
        "control_plane {\n citadel { count = 2 }\n}",
    )));
    assert_eq!(e[0].0, "mesh.control_plane.citadel.count");
    assert_eq!(e[0].1.as_deref(), Some("2"));
    assert!(e[0].2.contains("ca.go"));
    // No standalone Citadel from 1.6.
    let e = validation(MeshSpec::from_hcl(&spec(
        "istio_version = \"1.7.8\"\ncontrol_plane {\n citadel { enabled = true }\n}",
    )));
    assert_eq!(e[0].0, "mesh.control_plane.citadel.enabled");
    assert!(e[0].2.contains("1.7.8"));
    // 1.0's sidecars dial 15010 whatever the address says.
    let e = validation(MeshSpec::from_hcl(&spec(
        "istio_version = \"1.0.6\"\ncontrol_plane {\n pilot { grpc_port = 15011 }\n}",
    )));
    assert_eq!(e[0].0, "mesh.control_plane.pilot.grpc_port");
    assert_eq!(e[0].1.as_deref(), Some("15011"));
    let ok = MeshSpec::from_hcl(&spec(
        "istio_version = \"1.3.8\"\ncontrol_plane {\n pilot { grpc_port = 15011 }\n}",
    ))
    .unwrap();
    assert_eq!(
        ok.sidecar.options(&ok).discovery_address(),
        "m-pilot-grpc.service.consul:15011"
    );
    let e = validation(
        SidecarOptions::new("m")
            .istio_version("1.0.6")
            .pilot_address("pilot.example:15011")
            .build(),
    );
    assert_eq!(
        (e[0].0.as_str(), e[0].1.as_deref()),
        ("sidecar.pilot_address", Some("pilot.example:15011"))
    );
    // A Consul agent on the node's address keeps Pilot in its container network.
    let mut s = bookinfo("1.3.8");
    s.control_plane.consul_url = Some("http://${attr.unique.network.ip-address}:8500".into());
    let p = plan(&s).unwrap();
    let t = task(job(&p, "bookinfo-pilot"), "pilot", "pilot");
    assert!(t.config.get("network_mode").is_none());
    assert!(args(t).contains(&":9093".to_string()));
}

const VM_SPEC: &str = r#"
mesh "shop" {
  istio_version = "VERSION"
  service "legacy-db" {
    image      = "mysql:5.7"
    vm         = true
    vm_address = "10.0.0.5"
    version    = "v1"
    port "mysql" {
      port     = 3306
      protocol = "mysql"
    }
  }
}
"#;

#[test]
fn vm_bundle_per_release() {
    for version in ["1.0.6", "1.3.8", "1.7.8"] {
        let spec = MeshSpec::from_hcl(&VM_SPEC.replace("VERSION", version)).unwrap();
        let p = plan(&spec).unwrap();
        let b = &p.vm_bundles[0];
        for (name, text) in &b.files {
            common::golden(&format!("sidecar/vm/legacy-db-{version}/{name}"), text);
        }
        let cluster = &b.files["cluster.env"];
        let unit = &b.files["istio.service"];
        let consul: Value = serde_json::from_str(&b.files["consul-service.json"]).unwrap();
        // Every release: PILOT_ADDRESS (read by istio-start.sh from 1.0.1), the VM's IP.
        assert!(cluster.contains("\nPILOT_ADDRESS=shop-pilot-grpc.service.consul:15010\n"));
        assert!(!cluster.contains("ISTIO_PILOT_ADDRESS"));
        assert!(b.files["sidecar.env"].contains("\nISTIO_SVC_IP=10.0.0.5\n"));
        assert_eq!(consul["services"][0]["address"], "10.0.0.5");
        assert_eq!(consul["services"][0]["port"], 3306);
        assert_eq!(consul["services"][0]["tags"], json!(["version|v1"]));
        assert_eq!(consul["services"][0]["meta"], json!({"protocol": "mysql"}));
        match version {
            "1.0.6" => {
                assert_eq!(consul["node_meta"], json!({"protocol": "mysql"}));
                assert!(unit.contains("--ip ${ISTIO_SVC_IP} --discoveryAddress ${PILOT_ADDRESS} --controlPlaneAuthPolicy ${ISTIO_CP_AUTH} $ISTIO_AGENT_FLAGS"));
            }
            "1.3.8" => {
                assert!(consul.get("node_meta").is_none());
                assert!(!cluster.contains("PROXY_CONFIG"));
            }
            _ => {
                assert!(cluster.contains("PROXY_CONFIG=\"{\\\"discoveryAddress\\\":\\\"shop-pilot-grpc.service.consul:15010\\\""));
                assert!(unit.contains(
                    "ExecStart=/usr/local/bin/pilot-agent proxy --serviceCluster ${ISTIO_SERVICE} --ip ${ISTIO_SVC_IP} $ISTIO_AGENT_FLAGS\n"
                ));
                assert!(b.files["sidecar.env"]
                    .contains("\nISTIO_AGENT_FLAGS=\"--serviceregistry Consul\"\n"));
            }
        }
        // The env files read back (PROXY_CONFIG's quotes included).
        let vars = istio_nomad_core::iptables::parse_env_text(cluster).unwrap();
        if version == "1.7.8" {
            let pc = &vars.iter().find(|(k, _)| k == "PROXY_CONFIG").unwrap().1;
            let v: Value = serde_json::from_str(pc).unwrap();
            assert_eq!(v["controlPlaneAuthPolicy"], "NONE");
        }
    }
    // 1.0.0's istio-start.sh reads no PILOT_ADDRESS: the address travels in the agent flags.
    let spec = MeshSpec::from_hcl(&VM_SPEC.replace("VERSION", "1.0.0")).unwrap();
    let b = &plan(&spec).unwrap().vm_bundles[0];
    assert!(!b.files["cluster.env"].contains("PILOT_ADDRESS"));
    assert!(
        b.files["sidecar.env"].contains("--discoveryAddress shop-pilot-grpc.service.consul:15010")
    );
    // 1.0 has one protocol per node: a VM service whose ports differ is refused.
    let mixed = VM_SPEC.replace("VERSION", "1.0.6").replace(
        "      protocol = \"mysql\"\n    }\n",
        "      protocol = \"mysql\"\n    }\n    port \"admin\" {\n      port = 8080\n    }\n",
    );
    let e = validation(plan(&MeshSpec::from_hcl(&mixed).unwrap()));
    assert_eq!(
        (e[0].0.as_str(), e[0].1.as_deref()),
        ("mesh.service[legacy-db].port[admin].protocol", Some("http"))
    );
    // A VM service needs its address.
    let e = validation(MeshSpec::from_hcl(
        &VM_SPEC
            .replace("VERSION", "1.3.8")
            .replace("    vm_address = \"10.0.0.5\"\n", ""),
    ));
    assert_eq!(e[0].0, "mesh.service[legacy-db].vm_address");
}

fn apply_opts() -> ApplyOptions {
    ApplyOptions::builder()
        .health_deadline(Duration::from_secs(20))
        .query_wait(Duration::from_secs(5))
        .lock_ttl(Duration::from_secs(5))
        .build()
        .unwrap()
}

fn cluster() -> InMemoryCluster {
    let c = InMemoryCluster::new();
    c.nomad.set_progress_delay(Duration::from_millis(5));
    c.etcd.set_min_ttl(1);
    c
}

fn health(j: &Job) -> Vec<CheckHealth> {
    check_health(&serde_json::from_str(&j.to_json().unwrap()).unwrap())
}

#[tokio::test]
async fn ha_apply_in_memory_passes_every_stage_with_modelled_health() {
    for version in ["1.0.6", "1.3.8", "1.7.8"] {
        let p = plan(&bookinfo(version)).unwrap();
        // Every control-plane check probes a listener of its component.
        for pj in p.jobs.iter().filter(|j| j.role != Role::App) {
            let h = health(&pj.job);
            assert!(!h.is_empty(), "{}", pj.job.id());
            for c in &h {
                assert!(
                    c.passing,
                    "{version} {}: {} {}",
                    pj.job.id(),
                    c.check,
                    c.reason
                );
                assert!(!c.reason.contains("not modelled"), "{}", c.reason);
            }
        }
        let c = cluster();
        let installer = Installer::builder(c.backends()).build();
        let report = installer.apply(&p, &apply_opts()).await.unwrap();
        assert_eq!(report.created().len(), p.jobs.len(), "{version}");
        // The catalog holds every control-plane service with all its checks passing, one
        // instance per allocation; one Citadel, none from 1.6 (istiod is the CA).
        let citadels = if version == "1.7.8" { 0 } else { 1 };
        for (name, instances, checks) in [
            ("bookinfo-pilot", 2, 2),
            ("bookinfo-pilot-grpc", 2, 1),
            ("bookinfo-mixer", 2, 2),
            ("bookinfo-citadel", citadels, 2),
            ("bookinfo-apiserver", 2, 1),
            ("bookinfo-zipkin", 1, 1),
        ] {
            let entries = c
                .consul
                .health_service(name, false, &QueryOptions::new())
                .await
                .unwrap()
                .value;
            assert_eq!(entries.len(), instances, "{version} {name}");
            for e in &entries {
                // The service's own checks (Consul adds the node's serfHealth).
                let own: Vec<_> = e
                    .checks
                    .iter()
                    .filter(|c| c.check_id != "serfHealth")
                    .collect();
                assert_eq!(own.len(), checks, "{version} {name}");
                assert!(
                    own.iter().all(|c| c.status == "passing"),
                    "{version} {name}: {own:?}"
                );
            }
        }
    }
}

#[tokio::test]
async fn a_check_on_a_port_nothing_opens_fails_the_in_memory_deployment() {
    // The Mixer job as it used to be: a check on 42422, which Mixer opens only with a
    // prometheus handler.
    let mut p = plan(&bookinfo("1.0.6")).unwrap();
    let mixer = p
        .jobs
        .iter_mut()
        .find(|j| j.job.id() == "bookinfo-mixer")
        .unwrap();
    let g = &mut mixer.job.task_groups[0];
    g.networks[0]
        .dynamic_ports
        .push(Port::dynamic("prometheus", 42422));
    g.services.push(Service {
        name: Some("bookinfo-mixer-prometheus".into()),
        port_label: Some("prometheus".into()),
        checks: vec![ServiceCheck {
            name: Some("mixer-prometheus".into()),
            check_type: Some("http".into()),
            path: Some("/metrics".into()),
            port_label: Some("prometheus".into()),
            interval: Some(10 * SECOND),
            timeout: Some(2 * SECOND),
            ..Default::default()
        }],
        ..Default::default()
    });
    let h = health(&mixer.job);
    let bad: Vec<&CheckHealth> = h.iter().filter(|c| !c.passing).collect();
    assert_eq!(bad.len(), 1);
    assert_eq!(
        (bad[0].group.as_str(), bad[0].check.as_str()),
        ("mixer", "mixer-prometheus")
    );
    assert_eq!(
        bad[0].reason,
        "nothing in the group listens on port prometheus (42422)"
    );
    // A probe of the right port but a path the listener does not serve fails too.
    let mut wrong = mixer.job.clone();
    wrong.task_groups[0].services[0].checks[1].path = Some("/healthz".into());
    assert!(health(&wrong)
        .iter()
        .any(|c| !c.passing && c.reason == "the self-monitoring listener serves no /healthz"));

    let c = cluster();
    let installer = Installer::builder(c.backends()).build();
    let err = installer.apply(&p, &apply_opts()).await.unwrap_err();
    match &err {
        Error::Install(InstallError::DeploymentFailed { job, status, .. }) => {
            assert_eq!(job, "bookinfo-mixer");
            assert_eq!(status, "failed");
        }
        e => panic!("unexpected {e}"),
    }
    // Fixed (the check removed), the next apply heals and finishes.
    let fixed = plan(&bookinfo("1.0.6")).unwrap();
    installer.apply(&fixed, &apply_opts()).await.unwrap();
}
