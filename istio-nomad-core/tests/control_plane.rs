//! Control-plane jobs: golden JSON of the Bookinfo mesh in both profiles, every flag and port
//! checked against the facts, the dependency graph, builders and bad input.
#![allow(clippy::unwrap_used)]

mod common;

use istio_nomad_core::nomad::{Job, Task, TaskGroup, SECOND};
use istio_nomad_core::plan::control_plane::{
    ApiServerJob, CitadelJob, EtcdJob, MixerJob, PilotJob, ZipkinJob,
};
use istio_nomad_core::plan::{plan, Plan, Role};
use istio_nomad_core::spec::control_plane::{Profile, TlsSource, TlsSpec};
use istio_nomad_core::spec::MeshSpec;
use istio_nomad_core::Error;
use std::path::Path;

fn bookinfo_text() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/bookinfo.mesh.hcl"
    ))
    .unwrap()
}

fn bookinfo(profile: Profile) -> MeshSpec {
    let mut spec = MeshSpec::from_hcl(&bookinfo_text()).unwrap();
    spec.control_plane.profile = profile;
    spec
}

fn control_plane(p: &Plan) -> Vec<&istio_nomad_core::plan::PlannedJob> {
    p.jobs.iter().filter(|j| j.role != Role::App).collect()
}

/// `../shared/reference/<name>` beside the repository (the facts the jobs are checked against).
fn facts(name: &str) -> Option<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/reference");
    if !dir.is_dir() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("CI=true but {} is missing", dir.display());
        }
        eprintln!("skipped: ../shared/reference not found");
        return None;
    }
    Some(std::fs::read_to_string(dir.join(name)).unwrap())
}

/// The cells of the first table row of `text` whose first cell is `first`.
fn row<'a>(text: &'a str, first: &str) -> Vec<&'a str> {
    let line = text
        .lines()
        .find(|l| l.starts_with('|') && l.split('|').nth(1).map(str::trim) == Some(first))
        .unwrap_or_else(|| panic!("no facts row {first}"));
    line.split('|').map(str::trim).collect::<Vec<_>>()[1..].to_vec()
}

/// The text between the first pair of backticks.
fn code(cell: &str) -> &str {
    cell.split('`').nth(1).unwrap()
}

fn task<'a>(job: &'a Job, group: &str) -> &'a Task {
    &job.find_group(group).unwrap().tasks[0]
}

fn group<'a>(job: &'a Job, name: &str) -> &'a TaskGroup {
    job.find_group(name).unwrap()
}

fn args(t: &Task) -> Vec<String> {
    t.config
        .get("args")
        .map(|a| serde_json::from_value(a.clone()).unwrap())
        .unwrap_or_default()
}

/// `(label, host value or 0 for dynamic, container port)` of a group's network.
fn ports(g: &TaskGroup) -> Vec<(String, i64, i64)> {
    let n = &g.networks[0];
    n.reserved_ports
        .iter()
        .chain(n.dynamic_ports.iter())
        .map(|p| {
            (
                p.label.clone().unwrap(),
                p.value.unwrap_or(0),
                p.to.unwrap_or(0),
            )
        })
        .collect()
}

fn p(label: &str, host: i64, to: i64) -> (String, i64, i64) {
    (label.to_string(), host, to)
}

fn plan_of(spec: &MeshSpec) -> Plan {
    plan(spec).unwrap()
}

#[test]
fn golden_json_of_both_profiles() {
    for (profile, dir) in [(Profile::Ha, "ha"), (Profile::Dev, "dev")] {
        let plan = plan(&bookinfo(profile)).unwrap();
        for pj in control_plane(&plan) {
            pj.job.validate().unwrap();
            // The Nomad OpenAPI schema check (`crate::nomad::openapi`) is called here once it
            // is merged: every control-plane job body must match the schema of `POST /v1/jobs`.
            common::golden(
                &format!("control_plane/{dir}/{}.json", pj.job.id()),
                &(pj.job.to_json().unwrap() + "\n"),
            );
        }
    }
}

#[test]
fn dependency_graph_and_stages() {
    let plan = plan(&bookinfo(Profile::Ha)).unwrap();
    let deps: Vec<(&str, Role, Vec<&str>)> = control_plane(&plan)
        .iter()
        .map(|j| {
            (
                j.job.id(),
                j.role,
                j.depends_on.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        deps,
        vec![
            ("bookinfo-etcd", Role::Etcd, vec![]),
            ("bookinfo-apiserver", Role::ApiServer, vec!["bookinfo-etcd"]),
            ("bookinfo-pilot", Role::Pilot, vec!["bookinfo-apiserver"]),
            ("bookinfo-mixer", Role::Mixer, vec!["bookinfo-apiserver"]),
            (
                "bookinfo-citadel",
                Role::Citadel,
                vec!["bookinfo-apiserver"]
            ),
            ("bookinfo-zipkin", Role::Zipkin, vec![]),
        ]
    );
    let stages = plan.order().unwrap();
    assert_eq!(stages[0], ["bookinfo-etcd", "bookinfo-zipkin"]);
    assert_eq!(stages[1], ["bookinfo-apiserver"]);
    assert_eq!(
        stages[2],
        ["bookinfo-citadel", "bookinfo-mixer", "bookinfo-pilot"]
    );
    assert_eq!(stages[3], ["details", "productpage", "ratings", "reviews"]);
    let app = plan.job("reviews").unwrap();
    assert_eq!(
        app.depends_on,
        ["bookinfo-pilot", "bookinfo-mixer", "bookinfo-citadel"]
    );
    // The plan's files include the control plane.
    let files: Vec<String> = plan.files().unwrap().into_iter().map(|f| f.0).collect();
    assert!(files.contains(&"jobs/bookinfo-etcd.json".to_string()));
    assert!(files.contains(&"jobs/bookinfo-apiserver.json".to_string()));
}

#[test]
fn dev_profile_reproduces_the_compose_file() {
    let Some(f) = facts("istio-outside-k8s.md") else {
        return;
    };
    let plan = plan(&bookinfo(Profile::Dev)).unwrap();
    let ids: Vec<&str> = control_plane(&plan).iter().map(|j| j.job.id()).collect();
    // The compose file never ran Mixer or Citadel (facts section 0).
    assert_eq!(
        ids,
        [
            "bookinfo-etcd",
            "bookinfo-apiserver",
            "bookinfo-pilot",
            "bookinfo-zipkin"
        ]
    );
    for id in &ids {
        let j = &plan.job(id).unwrap().job;
        assert_eq!(j.task_groups.len(), 1, "{id}");
        assert_eq!(j.task_groups[0].count, Some(1), "{id}");
        assert!(j.task_groups[0].constraints.is_empty(), "{id}");
        assert_eq!(j.meta["istio-nomad.profile"], "dev");
    }

    // etcd: image, command and arguments exactly as the compose file; ports 4001, 2380, 2379.
    let r = row(&f, "etcd");
    let etcd = &plan.job("bookinfo-etcd").unwrap().job;
    let t = task(etcd, "etcd");
    assert_eq!(t.config["image"], code(r[1]));
    let compose: Vec<&str> = code(r[2]).split_whitespace().collect();
    assert_eq!(t.config["command"], compose[0]);
    assert_eq!(args(t), compose[1..]);
    assert_eq!(t.config["work_dir"], "${NOMAD_ALLOC_DIR}/data");
    let mut published: Vec<i64> = ports(group(etcd, "etcd")).iter().map(|x| x.1).collect();
    published.sort_unstable();
    assert!(r[3].starts_with("4001, 2380, 2379 published"));
    assert_eq!(published, [2379, 2380, 4001]);
    let disk = group(etcd, "etcd").ephemeral_disk.clone().unwrap();
    assert_eq!((disk.sticky, disk.migrate), (Some(true), Some(true)));

    // API server: the compose image and command; only the etcd alias becomes a Consul name.
    let r = row(&f, "istio-apiserver");
    let api = &plan.job("bookinfo-apiserver").unwrap().job;
    let t = task(api, "apiserver");
    assert_eq!(t.config["image"], code(r[1]));
    let compose: Vec<String> = code(r[2])
        .replace(
            "http://etcd:2379",
            "http://bookinfo-etcd.service.consul:2379",
        )
        .split_whitespace()
        .map(String::from)
        .collect();
    assert_eq!(t.config["command"], compose[0].as_str());
    assert_eq!(args(t), compose[1..]);
    assert!(r[4].contains("`privileged: true`"));
    assert_eq!(t.config["privileged"], true);
    assert_eq!(r[3], "8080:8080");
    assert_eq!(ports(group(api, "apiserver")), [p("http", 8080, 8080)]);
    assert!(t.templates.is_empty() && t.vault.is_none());

    // Pilot 1.0.0: the compose arguments; consul alias -> the node's agent at Consul's default
    // client address, which Pilot reaches in the node's network, listening directly on the
    // published host port (8081); plus the mesh config file.
    let r = row(&f, "pilot (1.0.0)");
    let pilot = &plan.job("bookinfo-pilot").unwrap().job;
    let t = task(pilot, "pilot");
    assert_eq!(t.config["image"], "docker.io/istio/pilot:1.0.0");
    // The 1.0.0 row says "same" image as the 0.8.0 row.
    assert_eq!(r[1], "same");
    assert_eq!(
        code(row(&f, "pilot (0.8.0)")[1]),
        "{PILOT_HUB}/pilot:{PILOT_TAG}"
    );
    let compose: Vec<String> = code(r[2])
        .replace("http://consul:8500", "http://127.0.0.1:8500")
        .replace(":15007", ":8081")
        .split_whitespace()
        .map(String::from)
        .chain(["--meshConfig".into(), "/etc/istio/config/mesh".into()])
        .collect();
    assert_eq!(args(t), compose);
    assert_eq!(t.config["network_mode"], "host");
    assert!(t.config.get("ports").is_none());
    assert!(r[3].contains("publish 8081:15007"));
    assert_eq!(
        ports(group(pilot, "pilot")),
        [p("http", 8081, 0), p("grpc", 15010, 0)]
    );
    assert_eq!(
        t.config["volumes"],
        serde_json::json!([
            "local/kubeconfig:/etc/istio/config/kubeconfig",
            "local/mesh:/etc/istio/config/mesh"
        ])
    );
    // With an agent listening on the node's address, Pilot keeps its container network and the
    // compose file's arguments and port mapping.
    let mut spec = bookinfo(Profile::Dev);
    spec.control_plane.consul_url = Some("http://${attr.unique.network.ip-address}:8500".into());
    let bridged = plan_of(&spec);
    let bt = task(&bridged.job("bookinfo-pilot").unwrap().job, "pilot");
    let compose: Vec<String> = code(r[2])
        .replace(
            "http://consul:8500",
            "http://${attr.unique.network.ip-address}:8500",
        )
        .split_whitespace()
        .map(String::from)
        .chain(["--meshConfig".into(), "/etc/istio/config/mesh".into()])
        .collect();
    assert_eq!(args(bt), compose);
    assert!(bt.config.get("network_mode").is_none());
    assert_eq!(
        ports(group(&bridged.job("bookinfo-pilot").unwrap().job, "pilot")),
        [p("http", 8081, 15007), p("grpc", 15010, 15010)]
    );
    // The 1.0.0 row's volume column says "same" as the 0.8.0 row.
    assert_eq!(r[4], "same");
    assert!(row(&f, "pilot (0.8.0)")[4].contains("./kubeconfig:/etc/istio/config/kubeconfig"));
    let kc = t.templates[0].embedded_tmpl.as_deref().unwrap();
    assert!(kc.contains("server: http://bookinfo-apiserver.service.consul:{{ range $i, $s := service \"bookinfo-apiserver\" }}"));

    // Zipkin: image and port.
    let r = row(&f, "zipkin");
    let z = &plan.job("bookinfo-zipkin").unwrap().job;
    assert_eq!(task(z, "zipkin").config["image"], code(r[1]));
    assert_eq!(r[3], "9411:9411");
    assert_eq!(ports(group(z, "zipkin")), [p("http", 9411, 9411)]);
}

#[test]
fn ha_etcd_is_a_three_member_cluster_with_persistent_data() {
    let plan = plan(&bookinfo(Profile::Ha)).unwrap();
    let etcd = &plan.job("bookinfo-etcd").unwrap().job;
    // One group of three allocations: Nomad rolls a group `max_parallel` allocations at a
    // time, so a change replaces one member at a time.
    assert_eq!(etcd.task_groups.len(), 1);
    assert_eq!(
        etcd.constraints[0].operand.as_deref(),
        Some("distinct_hosts")
    );
    assert_eq!(
        etcd.spreads[0].attribute.as_deref(),
        Some("${node.unique.id}")
    );
    let u = etcd.update.as_ref().unwrap();
    assert_eq!(
        (u.max_parallel, u.auto_revert, u.min_healthy_time),
        (Some(1), Some(true), Some(30 * SECOND))
    );
    let cluster = "etcd-0=http://etcd-0.bookinfo-etcd-peer.service.consul:2380,\
etcd-1=http://etcd-1.bookinfo-etcd-peer.service.consul:2380,\
etcd-2=http://etcd-2.bookinfo-etcd-peer.service.consul:2380";
    {
        // Each allocation names its member from its index.
        let name = "etcd-${NOMAD_ALLOC_INDEX}".to_owned();
        let g = group(etcd, "etcd");
        assert_eq!(g.count, Some(3));
        assert_eq!(ports(g), [p("client", 2379, 2379), p("peer", 2380, 2380)]);
        let disk = g.ephemeral_disk.clone().unwrap();
        assert_eq!(
            (disk.sticky, disk.migrate, disk.size_mb),
            (Some(true), Some(true), Some(1024))
        );
        let t = &g.tasks[0];
        assert_eq!(t.config["image"], "quay.io/coreos/etcd:v3.4.23");
        assert_eq!(t.config["command"], "/usr/local/bin/etcd");
        assert_eq!(
            args(t),
            [
                format!("--name={name}"),
                format!("--data-dir=${{NOMAD_ALLOC_DIR}}/data/{name}"),
                "--listen-peer-urls=http://0.0.0.0:${NOMAD_PORT_peer}".into(),
                "--listen-client-urls=http://0.0.0.0:${NOMAD_PORT_client}".into(),
                format!("--advertise-client-urls=http://{name}.bookinfo-etcd.service.consul:2379"),
                format!(
                    "--initial-advertise-peer-urls=http://{name}.bookinfo-etcd-peer.service.consul:2380"
                ),
                format!("--initial-cluster={cluster}"),
                "--initial-cluster-state=new".into(),
                "--initial-cluster-token=bookinfo-etcd".into(),
            ]
        );
        // A client service checked with /health and a peer service checked with TCP, both
        // tagged with the member name (the Consul DNS tag lookups in the URLs).
        let client = &g.services[0];
        assert_eq!(client.name.as_deref(), Some("bookinfo-etcd"));
        assert_eq!(client.tags, [name.as_str()]);
        assert_eq!(client.port_label.as_deref(), Some("client"));
        let c = &client.checks[0];
        assert_eq!(
            (
                c.check_type.as_deref(),
                c.path.as_deref(),
                c.port_label.as_deref()
            ),
            (Some("http"), Some("/health"), Some("client"))
        );
        assert!(client.check_restart.is_none());
        let peer = &g.services[1];
        assert_eq!(peer.name.as_deref(), Some("bookinfo-etcd-peer"));
        assert_eq!(peer.tags, [name.as_str()]);
        assert_eq!(peer.checks[0].check_type.as_deref(), Some("tcp"));
        assert_eq!(peer.checks[0].port_label.as_deref(), Some("peer"));
    }
}

#[test]
fn ha_apiserver_is_tls_only_with_every_etcd_member() {
    let plan = plan(&bookinfo(Profile::Ha)).unwrap();
    let api = &plan.job("bookinfo-apiserver").unwrap().job;
    let g = group(api, "apiserver");
    assert_eq!(g.count, Some(2));
    assert_eq!(g.constraints[0].operand.as_deref(), Some("distinct_hosts"));
    assert_eq!(g.spreads[0].attribute.as_deref(), Some("${node.unique.id}"));
    assert_eq!(ports(g), [p("https", 6443, 6443)]);
    let t = &g.tasks[0];
    assert_eq!(t.config["command"], "kube-apiserver");
    assert_eq!(
        t.config["image"],
        "gcr.io/google_containers/kube-apiserver-amd64:v1.7.3"
    );
    let a = args(t);
    assert_eq!(
        a,
        [
            "--etcd-servers=http://etcd-0.bookinfo-etcd.service.consul:2379,http://etcd-1.bookinfo-etcd.service.consul:2379,http://etcd-2.bookinfo-etcd.service.consul:2379",
            "--storage-backend=etcd3",
            "--service-cluster-ip-range=10.99.0.0/16",
            "--bind-address=0.0.0.0",
            "--secure-port=6443",
            "--insecure-port=0",
            "--tls-cert-file=/secrets/apiserver.crt",
            "--tls-private-key-file=/secrets/apiserver.key",
            "--client-ca-file=/secrets/ca.crt",
            "--anonymous-auth=false",
            "--authorization-mode=AlwaysAllow",
            "-v=2",
        ]
    );
    assert!(!a.iter().any(|x| x.contains("insecure-bind-address")));
    assert!(t.config.get("privileged").is_none());
    // Certificates from Vault's PKI, one issued bundle per task.
    let dests: Vec<&str> = t
        .templates
        .iter()
        .map(|x| x.dest_path.as_deref().unwrap())
        .collect();
    assert_eq!(
        dests,
        [
            "secrets/apiserver.crt",
            "secrets/apiserver.key",
            "secrets/ca.crt"
        ]
    );
    assert_eq!(
        t.templates[1].embedded_tmpl.as_deref().unwrap(),
        "{{ with secret \"pki/issue/istio-nomad\" \"common_name=bookinfo-apiserver.service.consul\" \"alt_names=localhost\" \"ip_sans=127.0.0.1\" \"ttl=72h\" }}{{ .Data.private_key }}{{ end }}\n"
    );
    assert_eq!(t.templates[1].perms.as_deref(), Some("0600"));
    assert_eq!(t.vault.as_ref().unwrap().policies, ["istio-nomad-pki"]);
    let svc = &g.services[0];
    assert_eq!(svc.name.as_deref(), Some("bookinfo-apiserver"));
    assert_eq!(svc.checks[0].check_type.as_deref(), Some("tcp"));
    assert_eq!(svc.check_restart.as_ref().unwrap().limit, Some(3));
    let u = api.update.as_ref().unwrap();
    assert_eq!((u.auto_revert, u.max_parallel), (Some(true), Some(1)));
}

#[test]
fn ha_pilot_mixer_citadel_flags_and_ports_match_the_facts() {
    let Some(f) = facts("istio-outside-k8s.md") else {
        return;
    };
    let plan = plan(&bookinfo(Profile::Ha)).unwrap();

    // Pilot: the 1.0 compose flags plus the 1.0 defaults made explicit; in the node's network
    // (the Consul agent listens on 127.0.0.1), monitoring on its dynamic port.
    let pilot = &plan.job("bookinfo-pilot").unwrap().job;
    let g = group(pilot, "pilot");
    let t = &g.tasks[0];
    assert_eq!(t.config["image"], "docker.io/istio/pilot:1.0.0");
    assert_eq!(
        args(t),
        [
            "discovery",
            "--httpAddr",
            ":15007",
            "--grpcAddr",
            ":15010",
            "--secureGrpcAddr",
            "",
            "--monitoringAddr",
            ":${NOMAD_PORT_monitoring}",
            "--registries",
            "Consul",
            "--consulserverURL",
            "http://127.0.0.1:8500",
            "--consulserverInterval",
            "2s",
            "--kubeconfig",
            "/etc/istio/config/kubeconfig",
            "--meshConfig",
            "/etc/istio/config/mesh",
        ]
    );
    assert_eq!(t.config["network_mode"], "host");
    let mesh = t
        .templates
        .iter()
        .find(|x| x.dest_path.as_deref() == Some("local/mesh"))
        .unwrap();
    assert_eq!(
        mesh.embedded_tmpl.as_deref().unwrap(),
        "# Mesh configuration of bookinfo for Istio 1.0.0 (pilot-discovery --meshConfig).\n\
         mixerCheckServer: bookinfo-mixer.service.consul:9091\n\
         mixerReportServer: bookinfo-mixer.service.consul:9091\n\
         disablePolicyChecks: true\n\
         defaultConfig:\n  discoveryAddress: bookinfo-pilot-grpc.service.consul:15010\n  \
         controlPlaneAuthPolicy: NONE\n  zipkinAddress: bookinfo-zipkin.service.consul:9411\n"
    );
    for fact in [
        "`--grpcAddr :15010`",
        "`--secureGrpcAddr :15012`",
        "`--monitoringAddr :9093`",
        "`--consulserverInterval 2s`",
        "--httpAddr :15007 --registries Consul --consulserverURL",
    ] {
        assert!(f.contains(fact), "facts lack {fact}");
    }
    assert_eq!(
        ports(g),
        [
            p("http", 15007, 0),
            p("grpc", 15010, 0),
            p("monitoring", 0, 0)
        ]
    );
    let pilot_row = row(&f, "Pilot `discovery`")[1];
    for port in ["15010: gRPC xDS", "9093: monitoring"] {
        assert!(pilot_row.contains(port));
    }
    assert_eq!(g.count, Some(2));
    let kc = t.templates[0].embedded_tmpl.as_deref().unwrap();
    assert_eq!(
        kc,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: bookinfo\n  cluster:\n    server: https://bookinfo-apiserver.service.consul:{{ range $i, $s := service \"bookinfo-apiserver\" }}{{ if eq $i 0 }}{{ $s.Port }}{{ end }}{{ end }}\n    certificate-authority: /secrets/ca.crt\nusers:\n- name: pilot\n  user:\n    client-certificate: /secrets/client.crt\n    client-key: /secrets/client.key\ncontexts:\n- name: bookinfo\n  context:\n    cluster: bookinfo\n    user: pilot\ncurrent-context: bookinfo\n"
    );
    assert!(t.templates[1]
        .embedded_tmpl
        .as_deref()
        .unwrap()
        .contains("\"common_name=bookinfo-pilot\""));
    let names: Vec<&str> = g
        .services
        .iter()
        .map(|s| s.name.as_deref().unwrap())
        .collect();
    assert_eq!(names, ["bookinfo-pilot", "bookinfo-pilot-grpc"]);
    let metrics = &g.services[0].checks[1];
    assert_eq!(
        (metrics.path.as_deref(), metrics.port_label.as_deref()),
        (Some("/metrics"), Some("monitoring"))
    );

    // Mixer: `mixs server`, config store through the kubeconfig, ports 9091 and 9093; no 42422
    // (the prometheus adapter's port, opened only with a prometheus handler).
    let mixer = &plan.job("bookinfo-mixer").unwrap().job;
    let g = group(mixer, "mixer");
    let t = &g.tasks[0];
    assert_eq!(t.config["image"], "docker.io/istio/mixer:1.0.0");
    assert_eq!(
        args(t),
        [
            "server",
            "--port",
            "9091",
            "--monitoringPort",
            "9093",
            "--configStoreURL",
            "k8s:///etc/istio/config/kubeconfig",
            "--configDefaultNamespace",
            "istio-system",
            "--trace_zipkin_url",
            "http://bookinfo-zipkin.service.consul:9411/api/v1/spans",
        ]
    );
    let mixer_row = row(&f, "Mixer (`mixs server`)")[1];
    for port in ["9091: gRPC", "9093: monitoring", "42422: Prometheus"] {
        assert!(mixer_row.contains(port));
    }
    assert_eq!(ports(g), [p("grpc", 9091, 9091), p("monitoring", 0, 9093)]);
    assert_eq!(g.services.len(), 1);
    // 1.0 reads the protocol from the node meta: no service meta.
    assert!(g.services[0].meta.is_empty());

    // Citadel: `istio_ca` on gRPC 8060, monitoring 9093, no 8080.
    let citadel = &plan.job("bookinfo-citadel").unwrap().job;
    let g = group(citadel, "citadel");
    let t = &g.tasks[0];
    assert_eq!(t.config["image"], "docker.io/istio/citadel:1.0.0");
    assert_eq!(
        args(t),
        [
            "--grpc-port",
            "8060",
            "--monitoring-port",
            "9093",
            "--self-signed-ca=true",
            "--kube-config",
            "/etc/istio/config/kubeconfig",
            "--citadel-storage-namespace",
            "default",
        ]
    );
    let citadel_row = row(&f, "Citadel (`istio_ca`)")[1];
    assert!(citadel_row.contains("8060: gRPC (`--grpc-port`)"));
    assert!(citadel_row.contains("9093: monitoring"));
    assert_eq!(ports(g), [p("grpc", 8060, 8060), p("monitoring", 0, 9093)]);

    // One Citadel: no replicas racing to create the CA secret.
    assert_eq!(g.count, Some(1));
    assert!(g.constraints.is_empty());
    assert_eq!(g.reschedule_policy.as_ref().unwrap().unlimited, Some(true));
    assert_eq!(
        g.restart_policy.as_ref().unwrap().mode.as_deref(),
        Some("delay")
    );

    // Every other stateless job: 2 replicas, distinct hosts, spread, rolling update with
    // auto_revert, restart and reschedule policies.
    for id in ["bookinfo-apiserver", "bookinfo-pilot", "bookinfo-mixer"] {
        let j = &plan.job(id).unwrap().job;
        let g = &j.task_groups[0];
        assert_eq!(g.count, Some(2), "{id}");
        assert_eq!(g.constraints[0].operand.as_deref(), Some("distinct_hosts"));
        assert_eq!(g.spreads.len(), 1);
        let u = j.update.as_ref().unwrap();
        assert_eq!(
            (u.auto_revert, u.health_check.as_deref()),
            (Some(true), Some("checks"))
        );
        let rp = g.restart_policy.as_ref().unwrap();
        assert_eq!((rp.attempts, rp.mode.as_deref()), (Some(10), Some("delay")));
        assert_eq!(g.reschedule_policy.as_ref().unwrap().unlimited, Some(true));
        assert_eq!(j.region.as_deref(), Some("global"));
        assert_eq!(j.datacenters, ["dc1"]);
        assert_eq!(j.namespace.as_deref(), Some("default"));
    }
}

#[test]
fn builders_make_one_job_with_overrides() {
    let job = EtcdJob::builder("m")
        .members(5)
        .host_volume("etcd-ssd")
        .ports(12379, 12380)
        .build()
        .unwrap();
    assert_eq!(job.id(), "m-etcd");
    assert_eq!(job.task_groups.len(), 1);
    let g = group(&job, "etcd");
    assert_eq!(g.count, Some(5));
    assert_eq!(g.volumes["etcd-data"].source.as_deref(), Some("etcd-ssd"));
    assert!(g.ephemeral_disk.is_none());
    let t = &g.tasks[0];
    assert_eq!(
        t.volume_mounts[0].destination.as_deref(),
        Some("/var/lib/etcd")
    );
    let a = args(t);
    assert_eq!(a[1], "--data-dir=/var/lib/etcd/etcd-${NOMAD_ALLOC_INDEX}");
    assert!(a[6].ends_with(",etcd-4=http://etcd-4.m-etcd-peer.service.consul:12380"));
    assert_eq!(
        ports(g),
        [p("client", 12379, 12379), p("peer", 12380, 12380)]
    );

    let job = PilotJob::builder("m")
        .image("registry.local/istio/pilot:1.0.3")
        .arg("--log_output_level=default:debug")
        .env("GODEBUG", "netdns=go")
        .resources(250, 512)
        .count(3)
        .constraint("${attr.kernel.name}", "=", "linux")
        .datacenters(["dc2", "dc3"])
        .namespace("mesh")
        .dns_servers(["172.17.0.1"])
        .build()
        .unwrap();
    assert_eq!(job.datacenters, ["dc2", "dc3"]);
    assert_eq!(job.namespace.as_deref(), Some("mesh"));
    assert_eq!(
        job.constraints[0].l_target.as_deref(),
        Some("${attr.kernel.name}")
    );
    let g = group(&job, "pilot");
    assert_eq!(g.count, Some(3));
    let t = &g.tasks[0];
    assert_eq!(t.config["image"], "registry.local/istio/pilot:1.0.3");
    assert_eq!(args(t).last().unwrap(), "--log_output_level=default:debug");
    assert_eq!(t.env["GODEBUG"], "netdns=go");
    assert_eq!(t.config["dns_servers"], serde_json::json!(["172.17.0.1"]));
    let res = t.resources.as_ref().unwrap();
    assert_eq!((res.cpu, res.memory_mb), (Some(250), Some(512)));

    // Releases outside 1.0.x to 1.7.x are refused, naming the field and the value.
    for bad in ["0.8.0", "1.8.0", "latest"] {
        let err = PilotJob::builder("m")
            .istio("docker.io/istio", bad)
            .build()
            .unwrap_err();
        let f = &err.field_errors()[0];
        assert_eq!(
            (f.path.as_str(), f.value.as_deref()),
            ("mesh.istio_version", Some(bad))
        );
    }
    // A bad release can be corrected before build.
    PilotJob::builder("m")
        .istio("docker.io/istio", "1.8.0")
        .istio("docker.io/istio", "1.7.8")
        .build()
        .unwrap();

    // File-based certificates: templates copy host files; no Vault block.
    let tls = TlsSpec {
        source: TlsSource::File,
        ca_file: Some("/etc/istio-nomad/ca.crt".into()),
        cert_file: Some("/etc/istio-nomad/api.crt".into()),
        key_file: Some("/etc/istio-nomad/api.key".into()),
        client_cert_file: Some("/etc/istio-nomad/client.crt".into()),
        client_key_file: Some("/etc/istio-nomad/client.key".into()),
        ..Default::default()
    };
    let job = ApiServerJob::builder("m").tls(tls.clone()).build().unwrap();
    let t = &group(&job, "apiserver").tasks[0];
    assert!(t.vault.is_none());
    let copies: Vec<(&str, &str)> = t
        .templates
        .iter()
        .map(|x| {
            (
                x.source_path.as_deref().unwrap(),
                x.dest_path.as_deref().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        copies,
        [
            ("/etc/istio-nomad/api.crt", "secrets/apiserver.crt"),
            ("/etc/istio-nomad/api.key", "secrets/apiserver.key"),
            ("/etc/istio-nomad/ca.crt", "secrets/ca.crt"),
        ]
    );
    let job = MixerJob::builder("m")
        .tls(tls)
        .zipkin(false)
        .build()
        .unwrap();
    let t = &group(&job, "mixer").tasks[0];
    assert_eq!(
        t.templates[1].source_path.as_deref(),
        Some("/etc/istio-nomad/client.crt")
    );
    assert!(!args(t).iter().any(|a| a.contains("zipkin")));

    // Building a component that a profile leaves off still makes it.
    let job = CitadelJob::builder("m")
        .profile(Profile::Dev)
        .build()
        .unwrap();
    assert_eq!(job.id(), "m-citadel");
    assert!(group(&job, "citadel").tasks[0].vault.is_none());
    let job = ZipkinJob::builder("m").port(19411).build().unwrap();
    assert_eq!(ports(group(&job, "zipkin")), [p("http", 19411, 9411)]);
}

fn hcl_error(control_plane: &str) -> Vec<(String, String, Option<String>)> {
    let text = format!("mesh \"m\" {{\n  control_plane {{\n{control_plane}\n  }}\n}}\n");
    match MeshSpec::from_hcl(&text) {
        Err(Error::Validation(v)) => v
            .errors()
            .iter()
            .map(|e| (e.path.clone(), e.message.clone(), e.value.clone()))
            .collect(),
        other => panic!("expected a validation error, got {other:?}"),
    }
}

#[test]
fn bad_input_gives_typed_errors_naming_the_field() {
    let e = hcl_error("etcd { members = 2 }");
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].0, "mesh.control_plane.etcd.members");
    assert!(e[0].1.contains("even member count") && e[0].1.contains("quorum of 2"));
    assert_eq!(e[0].2.as_deref(), Some("2"));

    let e = hcl_error("etcd { members = 0 }");
    assert_eq!(e[0].0, "mesh.control_plane.etcd.members");
    assert!(e[0].1.contains("at least one member"));

    let e = hcl_error("pilot { count = 0 }");
    assert_eq!(e[0].0, "mesh.control_plane.pilot.count");
    assert_eq!(e[0].2.as_deref(), Some("0"));

    for bad in ["10.99.0.0", "10.99.0.0/33", "10.99.1.0/16", "not-a-cidr/16"] {
        let e = hcl_error(&format!(
            "apiserver {{ service_cluster_ip_range = \"{bad}\" }}"
        ));
        assert_eq!(
            e[0].0,
            "mesh.control_plane.apiserver.service_cluster_ip_range"
        );
        assert_eq!(e[0].2.as_deref(), Some(bad));
    }

    let e = hcl_error("mixer { grpc_port = 15010 }");
    assert_eq!(e[0].0, "mesh.control_plane.mixer.grpc_port");
    assert!(e[0]
        .1
        .contains("already used by mesh.control_plane.pilot.grpc_port"));

    let e = hcl_error("pilot { image = \"docker.io/istio/pilot:1.0.0 --rm\" }");
    assert_eq!(e[0].0, "mesh.control_plane.pilot.image");
    assert_eq!(e[0].2.as_deref(), Some("docker.io/istio/pilot:1.0.0 --rm"));

    let e = hcl_error("apiserver {\n tls { enabled = false }\n }");
    assert_eq!(e[0].0, "mesh.control_plane.apiserver.tls.enabled");

    let e = hcl_error("apiserver {\n tls { source = \"file\" }\n }");
    let paths: Vec<&str> = e.iter().map(|x| x.0.as_str()).collect();
    assert!(paths.contains(&"mesh.control_plane.apiserver.tls.ca_file"));

    // Every problem at once.
    let e = hcl_error("etcd { members = 4 }\n pilot { count = 0 }\n zipkin { port = 70000 }");
    let paths: Vec<&str> = e.iter().map(|x| x.0.as_str()).collect();
    assert_eq!(
        paths,
        [
            "mesh.control_plane.etcd.members",
            "mesh.control_plane.pilot.count",
            "mesh.control_plane.zipkin.port"
        ]
    );

    // Unknown settings are refused with their path.
    let text = "mesh \"m\" {\n  control_plane {\n    etcd { member = 3 }\n  }\n}\n";
    match MeshSpec::from_hcl(text) {
        Err(Error::Parse(p)) => {
            assert_eq!(p.path.as_deref(), Some("mesh.control_plane.etcd.member"));
            assert!(p.message.contains("member"), "{}", p.message);
        }
        other => panic!("{other:?}"),
    }

    // The builders report the same errors.
    let err = EtcdJob::builder("m").members(6).build().unwrap_err();
    assert_eq!(
        err.field_errors()[0].path,
        "mesh.control_plane.etcd.members"
    );
    let err = PilotJob::builder("Bad Name").build().unwrap_err();
    assert!(err
        .field_errors()
        .iter()
        .any(|e| e.path == "mesh.name" && e.value.as_deref() == Some("Bad Name")));
    let err = ApiServerJob::builder("m")
        .service_cluster_ip_range("fd00::1/64")
        .build()
        .unwrap_err();
    assert_eq!(
        err.field_errors()[0].path,
        "mesh.control_plane.apiserver.service_cluster_ip_range"
    );
    ApiServerJob::builder("m")
        .service_cluster_ip_range("fd00::/108")
        .build()
        .unwrap();
}

#[test]
fn json_spec_uses_the_same_names() {
    let text = r#"{"mesh": {"name": "m", "control_plane": {"profile": "dev",
        "etcd": {"storage": {"type": "host_volume", "volume": "etcd"}},
        "mixer": {"enabled": true}}}}"#;
    let spec = MeshSpec::from_json(text).unwrap();
    let jobs = istio_nomad_core::plan::control_plane::jobs(&spec).unwrap();
    let ids: Vec<&str> = jobs.iter().map(|j| j.job.id()).collect();
    assert_eq!(
        ids,
        ["m-etcd", "m-apiserver", "m-pilot", "m-mixer", "m-zipkin"]
    );
    let etcd = &jobs[0].job;
    assert_eq!(task(etcd, "etcd").config["work_dir"], "/var/lib/etcd");
}

#[test]
fn spec_with_control_plane_settings_round_trips_through_json() {
    let text = r#"mesh "m" {
  control_plane {
    profile     = "ha"
    dns_servers = ["172.17.0.1"]
    etcd {
      members = 5
      storage {
        type   = "host_volume"
        volume = "etcd"
      }
    }
    apiserver {
      service_cluster_ip_range = "10.100.0.0/20"
      tls {
        vault_pki_path = "pki_int/issue/mesh"
        ttl            = "24h"
      }
    }
    pilot {
      count = 3
      env   = { GODEBUG = "netdns=go" }
      constraints = [{ attribute = "$${node.class}", value = "control" }]
    }
    zipkin {
      enabled = false
    }
  }
}
"#;
    let spec = MeshSpec::from_hcl(text).unwrap();
    let back = MeshSpec::from_value(spec.to_value()).unwrap();
    assert_eq!(back, spec);
    let jobs = istio_nomad_core::plan::control_plane::jobs(&spec).unwrap();
    let ids: Vec<&str> = jobs.iter().map(|j| j.job.id()).collect();
    assert_eq!(
        ids,
        ["m-etcd", "m-apiserver", "m-pilot", "m-mixer", "m-citadel"]
    );
    assert_eq!(jobs[0].job.task_groups[0].count, Some(5));
    let api = task(&jobs[1].job, "apiserver");
    assert!(args(api).contains(&"--service-cluster-ip-range=10.100.0.0/20".to_string()));
    assert!(api.templates[0]
        .embedded_tmpl
        .as_deref()
        .unwrap()
        .starts_with("{{ with secret \"pki_int/issue/mesh\""));
    let pilot = &jobs[2].job;
    assert_eq!(
        pilot.constraints[0].l_target.as_deref(),
        Some("${node.class}")
    );
    assert_eq!(pilot.constraints[0].operand.as_deref(), Some("="));
    assert_eq!(group(pilot, "pilot").count, Some(3));
    // Without Zipkin, Mixer sends no traces.
    assert!(!args(task(&jobs[3].job, "mixer"))
        .iter()
        .any(|a| a.contains("zipkin")));
}
