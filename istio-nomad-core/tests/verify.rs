//! The data-path check on the Bookinfo plan: clean with allocation addressing, CNI networks
//! and host networking; the old bridge registration (the node's address and a dynamic host
//! port) reported with the missing inbound listener and the missing 9080 listener, naming the
//! groups; the protocol rules per Istio release; `plan` refusing what `verify` finds; the
//! in-memory cluster registering in Consul exactly what `verify` predicts; and `verify_live`
//! against the in-memory cluster and a mock Nomad and Consul.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use istio_nomad_core::backend::QueryOptions;
use istio_nomad_core::install::verify_live;
use istio_nomad_core::install::{
    dynamic_port, ApplyOptions, Backends, InMemoryCluster, Installer, NODE_ADDRESS,
};
use istio_nomad_core::nomad::registration::{AddressSource, Endpoint, PortSource};
use istio_nomad_core::nomad::Job;
use istio_nomad_core::plan::sidecar::{inject, NetworkMode, SidecarOptions};
use istio_nomad_core::plan::verify::{verify, FindingKind, Report, Severity};
use istio_nomad_core::plan::{plan, plan_unverified, Plan};
use istio_nomad_core::spec::MeshSpec;
use serde_json::{json, Value};

fn bookinfo_spec() -> MeshSpec {
    MeshSpec::from_file(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/bookinfo.mesh.hcl"
    ))
    .unwrap()
}

/// The Bookinfo groups: (job, group).
const GROUPS: [(&str, &str); 6] = [
    ("details", "details"),
    ("productpage", "productpage"),
    ("ratings", "ratings"),
    ("reviews", "reviews-v1"),
    ("reviews", "reviews-v2"),
    ("reviews", "reviews-v3"),
];

fn kinds(r: &Report) -> Vec<(Severity, FindingKind, String)> {
    r.findings
        .iter()
        .map(|f| (f.severity, f.kind, f.path.clone()))
        .collect()
}

/// The warnings a clean bridge plan still gets: no `service.consul` search domain in the
/// group network (when the injected group has none), and, unless the cluster declares routed
/// bridge addresses, the default bridge subnet being the same on every node.
fn expected_bridge_warnings(plan: &Plan, routable: bool) -> Vec<(Severity, FindingKind, String)> {
    let mut out = Vec::new();
    for (job, group) in GROUPS {
        let g = plan.job(job).unwrap().job.find_group(group).unwrap();
        let has_search = g.networks[0]
            .dns
            .as_ref()
            .is_some_and(|d| d.searches.iter().any(|s| s == "service.consul"));
        if !has_search {
            out.push((
                Severity::Warning,
                FindingKind::Unresolvable,
                format!("job[{job}].group[{group}].network[0].dns"),
            ));
        }
    }
    if !routable {
        for (job, group) in GROUPS {
            out.push((
                Severity::Warning,
                FindingKind::Unreachable,
                format!("job[{job}].group[{group}].network[0].mode"),
            ));
        }
    }
    out.sort();
    out
}

#[test]
fn bookinfo_with_allocation_addressing_carries_traffic() {
    let spec = bookinfo_spec();
    let plan = plan(&spec).unwrap();
    let report = verify(&plan);
    assert!(!report.has_errors(), "{report}");
    assert_eq!(kinds(&report), expected_bridge_warnings(&plan, false));
    assert_eq!(report.mode, "predicted");
    assert_eq!(report.istio_version, "1.0.0");

    // What Nomad registers for reviews-v1: the allocation's address and the app's port.
    let r = report
        .registrations
        .iter()
        .find(|r| r.group == "reviews-v1")
        .unwrap();
    assert_eq!(r.path, "job[reviews].group[reviews-v1].service[0]");
    assert_eq!(r.workload, "group-reviews-v1");
    assert_eq!(r.name, "reviews");
    assert_eq!(
        r.endpoint,
        Endpoint {
            address: AddressSource::Allocation,
            port: PortSource::Fixed(9080)
        }
    );
    assert_eq!(r.app_port, Some(9080));
    assert_eq!(r.tags, ["version|v1"]);
    assert_eq!(
        r.meta,
        BTreeMap::from([
            ("external-source".to_string(), "nomad".to_string()),
            ("protocol".to_string(), "http".to_string())
        ])
    );
    assert_eq!(r.checks.len(), 1);
    assert_eq!(r.checks[0].check_type, "tcp");
    assert_eq!(r.checks[0].endpoint, Some(r.endpoint.clone()));
    assert_eq!(
        r.service_id("a1"),
        "_nomad-task-a1-group-reviews-v1-reviews-http"
    );

    // A cluster with routed bridge subnets: only the DNS warnings stay.
    let mut routed = spec.clone();
    routed.sidecar.bridge_routable = true;
    let plan = plan_unverified(&routed).unwrap();
    assert_eq!(kinds(&verify(&plan)), expected_bridge_warnings(&plan, true));
}

#[test]
fn bookinfo_on_a_cni_network_carries_traffic() {
    let mut spec = bookinfo_spec();
    spec.sidecar.cni_network = Some("mesh".into());
    let plan = plan(&spec).unwrap();
    for (job, group) in GROUPS {
        let g = plan.job(job).unwrap().job.find_group(group).unwrap();
        assert_eq!(g.networks[0].mode.as_deref(), Some("cni/mesh"));
    }
    let report = verify(&plan);
    assert!(!report.has_errors(), "{report}");
    // A CNI network is expected to give cluster-wide addresses: no reachability warning.
    assert_eq!(kinds(&report), expected_bridge_warnings(&plan, true));
}

#[test]
fn bookinfo_in_host_mode_carries_traffic() {
    let mut spec = bookinfo_spec();
    spec.sidecar.mode = NetworkMode::Host;
    let plan = plan(&spec).unwrap();
    let report = verify(&plan);
    assert_eq!(kinds(&report), [], "{report}");
    for r in report.registrations.iter().filter(|r| r.name == "reviews") {
        // The node's address and a static port equal to the app's.
        assert_eq!(
            r.endpoint,
            Endpoint {
                address: AddressSource::Node,
                port: PortSource::Fixed(9080)
            }
        );
        let g = plan
            .job("reviews")
            .unwrap()
            .job
            .find_group(&r.group)
            .unwrap();
        assert_eq!(
            g.networks[0].reserved_ports.last().unwrap().value,
            Some(9080)
        );
    }
}

/// The plan before allocation addressing: bridge groups whose services Nomad registers at the
/// node's address and the dynamic host port (`address_mode` unset: `auto`, so `host`).
fn old_bridge_registration(mut plan: Plan, job: &str) -> Plan {
    let pj = plan.jobs.iter_mut().find(|j| j.job.id() == job).unwrap();
    for g in &mut pj.job.task_groups {
        for s in &mut g.services {
            s.address_mode = None;
            for c in &mut s.checks {
                c.address_mode = None;
            }
        }
    }
    plan
}

#[test]
fn old_bridge_registration_has_no_inbound_and_no_9080_listener() {
    let plan = old_bridge_registration(plan_unverified(&bookinfo_spec()).unwrap(), "reviews");
    let report = verify(&plan);
    let errors: Vec<(FindingKind, String)> =
        report.errors().map(|f| (f.kind, f.path.clone())).collect();
    let mut expected = Vec::new();
    for v in ["v1", "v2", "v3"] {
        expected.push((
            FindingKind::NoInboundListener,
            format!("job[reviews].group[reviews-{v}]"),
        ));
    }
    for v in ["v1", "v2", "v3"] {
        expected.push((
            FindingKind::NoOutboundListener,
            format!("job[reviews].group[reviews-{v}].service[0]"),
        ));
    }
    assert_eq!(errors, expected, "{report}");
    let inbound = report
        .errors()
        .find(|f| f.path == "job[reviews].group[reviews-v1]")
        .unwrap();
    assert!(
        inbound.message.contains("IP equality"),
        "{}",
        inbound.message
    );
    assert!(inbound.message.contains("reviews at the node's address"));
    let outbound = report
        .errors()
        .find(|f| f.kind == FindingKind::NoOutboundListener)
        .unwrap();
    assert!(
        outbound
            .message
            .starts_with("callers dial reviews.service.consul:9080"),
        "{}",
        outbound.message
    );
    assert!(outbound
        .message
        .contains("the dynamic host port of \"http\""));
    // As an error: a validation error naming every finding's path.
    let err = report.into_result().unwrap_err();
    assert_eq!(err.family(), "validation");
    let paths: Vec<String> = err.field_errors().iter().map(|f| f.path.clone()).collect();
    assert_eq!(paths.len(), 6);
    assert!(paths.contains(&"job[reviews].group[reviews-v2]".to_string()));
}

#[test]
fn a_single_group_registering_the_node_loses_only_its_own_inbound_listener() {
    let mut plan = plan_unverified(&bookinfo_spec()).unwrap();
    let pj = plan
        .jobs
        .iter_mut()
        .find(|j| j.job.id() == "reviews")
        .unwrap();
    pj.job.task_groups[0].services[0].address_mode = Some("host".into());
    let report = verify(&plan);
    let errors: Vec<(FindingKind, String)> =
        report.errors().map(|f| (f.kind, f.path.clone())).collect();
    // v2 and v3 still register 9080, so Pilot has a 9080 listener for reviews.
    assert_eq!(
        errors,
        [(
            FindingKind::NoInboundListener,
            "job[reviews].group[reviews-v1]".to_string()
        )]
    );
}

fn bookinfo_at(version: &str) -> MeshSpec {
    let mut spec = bookinfo_spec();
    spec.istio_version = version.parse().unwrap();
    spec
}

#[test]
fn istio_1_3_reads_the_service_meta_protocol_and_collapses_shared_tcp_ports() {
    let plan = plan(&bookinfo_at("1.3.8")).unwrap();
    assert!(!verify(&plan).has_errors(), "{}", verify(&plan));
    // Without the protocol service meta, 1.3 treats the four services on 9080 as TCP.
    let mut bare = plan.clone();
    for pj in &mut bare.jobs {
        for g in &mut pj.job.task_groups {
            for s in &mut g.services {
                if s.port_label.as_deref() == Some("http") {
                    s.meta.shift_remove("protocol");
                }
            }
        }
    }
    let report = verify(&bare);
    let shared: BTreeSet<String> = report
        .errors()
        .filter(|f| f.kind == FindingKind::SharedPort)
        .map(|f| f.path.clone())
        .collect();
    let expected: BTreeSet<String> = GROUPS
        .iter()
        .map(|(j, g)| format!("job[{j}].group[{g}].service[0]"))
        .collect();
    assert_eq!(shared, expected, "{report}");
    let f = report
        .errors()
        .find(|f| f.path == "job[reviews].group[reviews-v1].service[0]")
        .unwrap();
    assert!(f.message.starts_with(
        "port 9080 is registered by details (tcp), productpage (tcp), ratings (tcp), reviews (tcp)"
    ));
    let defaults = report
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::DefaultProtocol && f.severity == Severity::Warning)
        .count();
    assert_eq!(defaults, 6);

    // Istio 1.0 reads the node meta (default http): the same catalog works.
    let mut v10 = bare.clone();
    v10.spec.istio_version = "1.0.6".parse().unwrap();
    assert!(!verify(&v10).has_errors(), "{}", verify(&v10));
}

#[test]
fn istio_1_0_ignores_a_tcp_service_meta() {
    let mut spec = bookinfo_spec();
    for s in &mut spec.services {
        if s.name == "ratings" {
            s.protocol = "tcp".into();
        }
    }
    let report = verify(&plan_unverified(&spec).unwrap());
    let errors: Vec<(FindingKind, String)> =
        report.errors().map(|f| (f.kind, f.path.clone())).collect();
    assert_eq!(
        errors,
        [(
            FindingKind::ProtocolIgnored,
            "job[ratings].group[ratings].service[0]".to_string()
        )]
    );
}

#[test]
fn ads_port_follows_the_release() {
    // 1.0.x: pilot-agent dials the discovery host on 15010 whatever the port.
    assert!(!verify(&plan_unverified(&bookinfo_spec()).unwrap()).has_errors());
    // 1.3: the address as given; 15007 is Pilot's HTTP port.
    let mut spec = bookinfo_at("1.3.8");
    spec.sidecar.pilot_address = Some("bookinfo-pilot.service.consul:15007".into());
    let report = verify(&plan_unverified(&spec).unwrap());
    let ads: Vec<String> = report
        .errors()
        .filter(|f| f.kind == FindingKind::AdsPort)
        .map(|f| f.path.clone())
        .collect();
    let expected: Vec<String> = GROUPS
        .iter()
        .map(|(j, g)| format!("job[{j}].group[{g}].task[istio-proxy].config.args"))
        .collect();
    assert_eq!(ads, expected, "{report}");
    // A discovery host no job registers.
    spec.sidecar.pilot_address = Some("nowhere.service.consul:15010".into());
    let report = verify(&plan_unverified(&spec).unwrap());
    let unresolvable: Vec<&str> = report
        .errors()
        .filter(|f| f.kind == FindingKind::Unresolvable)
        .map(|f| f.message.as_str())
        .collect();
    assert_eq!(unresolvable.len(), 1, "{report}");
    assert!(unresolvable[0].contains("\"nowhere\""));
}

#[test]
fn plan_refuses_what_verify_finds_and_plan_unverified_writes_it() {
    // Istio 1.3 dials ADS at the discovery address as given: Pilot's HTTP port serves none.
    let mut spec = bookinfo_at("1.3.8");
    spec.sidecar.pilot_address = Some("bookinfo-pilot.service.consul:15007".into());
    let err = plan(&spec).unwrap_err();
    assert_eq!(err.family(), "validation");
    let f = &err.field_errors()[0];
    assert_eq!(
        f.path,
        "job[details].group[details].task[istio-proxy].config.args"
    );
    assert!(
        f.message.starts_with(
            "[ads-port] pilot-agent 1.3.8 dials ADS at the discovery address as given"
        ),
        "{}",
        f.message
    );
    assert_eq!(f.value.as_deref(), Some("ads-port"));
    assert!(plan_unverified(&spec).is_ok());
    // A release without the Consul registry cannot even be written in a spec.
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/bookinfo.mesh.hcl"
    ))
    .unwrap()
    .replace("istio_version = \"1.0.0\"", "istio_version = \"1.8.0\"");
    let err = MeshSpec::from_hcl(&text).unwrap_err();
    let f = &err.field_errors()[0];
    assert_eq!(f.path, "mesh.istio_version");
    assert_eq!(f.value.as_deref(), Some("1.8.0"));
    assert!(f.message.contains("1.0.x to 1.7.x"), "{}", f.message);
}

#[test]
fn report_json_lists_typed_findings() {
    let plan = old_bridge_registration(plan_unverified(&bookinfo_spec()).unwrap(), "ratings");
    let v: Value = serde_json::from_str(&verify(&plan).to_json().unwrap()).unwrap();
    assert_eq!(v["mode"], "predicted");
    let first = &v["findings"][0];
    assert_eq!(first["severity"], "error");
    assert_eq!(first["kind"], "no-inbound-listener");
    assert_eq!(first["path"], "job[ratings].group[ratings]");
    let reg = v["registrations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["group"] == "ratings")
        .unwrap();
    assert_eq!(
        reg["endpoint"],
        json!({"address": {"source": "node"}, "port": {"source": "dynamic", "value": "http"}})
    );
}

/// A bridge group with the service shapes users write.
fn user_job(edit: impl FnOnce(&mut Job)) -> Job {
    let mut job = Job::from_hcl(
        r#"
job "shop" {
  datacenters = ["dc1"]
  group "api" {
    network {
      mode = "bridge"
      port "http" { to = 8080 }
    }
    service {
      name = "api"
      port = "http"
      check {
        type     = "http"
        path     = "/health"
        interval = "10s"
        timeout  = "2s"
      }
    }
    task "app" {
      driver = "docker"
      config { image = "shop/api:1" }
    }
  }
}
"#,
    )
    .unwrap();
    edit(&mut job);
    job
}

#[test]
fn injection_refuses_services_that_cannot_carry_traffic() {
    let opts = SidecarOptions::new("shop").build().unwrap();
    let ok = inject(&user_job(|_| {}), &opts).unwrap();
    let s = &ok.task_groups[0].services[0];
    assert_eq!(s.address_mode.as_deref(), Some("alloc"));
    assert_eq!(s.checks[0].address_mode.as_deref(), Some("alloc"));

    type Edit = Box<dyn FnOnce(&mut Job)>;
    let cases: Vec<(&str, Edit, &str, &str)> = vec![
        (
            "forced host addressing",
            Box::new(|j| j.task_groups[0].services[0].address_mode = Some("host".into())),
            "job[shop].group[api].service[0].address_mode",
            "host",
        ),
        (
            "driver addressing",
            Box::new(|j| j.task_groups[0].services[0].address_mode = Some("driver".into())),
            "job[shop].group[api].service[0].address_mode",
            "driver",
        ),
        (
            "a dynamic port with no to",
            Box::new(|j| j.task_groups[0].networks[0].dynamic_ports[0].to = None),
            "job[shop].group[api].service[0].port",
            "http",
        ),
        (
            "a custom address",
            Box::new(|j| j.task_groups[0].services[0].address = Some("203.0.113.7".into())),
            "job[shop].group[api].service[0].address",
            "203.0.113.7",
        ),
        (
            "a task's service",
            Box::new(|j| {
                let s = j.task_groups[0].services.remove(0);
                j.task_groups[0].tasks[0].services.push(s);
            }),
            "job[shop].group[api].task[app].service[0]",
            "api",
        ),
        (
            "Nomad's own catalog",
            Box::new(|j| j.task_groups[0].services[0].provider = Some("nomad".into())),
            "job[shop].group[api].service[0].provider",
            "nomad",
        ),
    ];
    for (what, edit, path, value) in cases {
        let err = inject(&user_job(edit), &opts).unwrap_err();
        assert_eq!(err.family(), "validation", "{what}");
        let fields: Vec<(String, Option<String>)> = err
            .field_errors()
            .iter()
            .map(|f| (f.path.clone(), f.value.clone()))
            .collect();
        assert_eq!(
            fields,
            [(path.to_string(), Some(value.to_string()))],
            "{what}: {err}"
        );
    }
    // The reason and the remedy are in the message.
    let err = inject(
        &user_job(|j| j.task_groups[0].services[0].address_mode = Some("host".into())),
        &opts,
    )
    .unwrap_err();
    let msg = &err.field_errors()[0].message;
    assert!(
        msg.contains("no inbound listener") && msg.contains("remove address_mode"),
        "{msg}"
    );
}

#[test]
fn cni_network_is_an_injection_option() {
    let opts = SidecarOptions::new("shop")
        .cni_network("mesh")
        .build()
        .unwrap();
    let mut job = user_job(|_| {});
    job.task_groups[0].networks[0].mode = None;
    let injected = inject(&job, &opts).unwrap();
    assert_eq!(
        injected.task_groups[0].networks[0].mode.as_deref(),
        Some("cni/mesh")
    );
    let err = SidecarOptions::new("shop")
        .cni_network("bad name")
        .build()
        .unwrap_err();
    assert_eq!(err.field_errors()[0].path, "sidecar.cni_network");
}

fn apply_options() -> ApplyOptions {
    ApplyOptions::builder()
        .health_deadline(Duration::from_secs(30))
        .query_wait(Duration::from_secs(5))
        .lock_ttl(Duration::from_secs(5))
        .build()
        .unwrap()
}

/// One Consul instance as compared: (service ID, name, address, port, tags, meta).
type Instance = (
    String,
    String,
    String,
    u16,
    Vec<String>,
    BTreeMap<String, String>,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_memory_apply_registers_what_verify_predicts() {
    let c = InMemoryCluster::new();
    c.nomad.set_progress_delay(Duration::from_millis(5));
    c.etcd.set_min_ttl(1);
    let b = c.backends();
    let plan = plan(&bookinfo_spec()).unwrap();
    Installer::builder(b.clone())
        .build()
        .apply(&plan, &apply_options())
        .await
        .unwrap();
    let report = verify(&plan);

    let mut expected: BTreeSet<Instance> = BTreeSet::new();
    let mut names = BTreeSet::new();
    for r in &report.registrations {
        names.insert(r.name.clone());
        let allocs = b
            .nomad
            .job_allocations(&r.job, false, &QueryOptions::new())
            .await
            .unwrap()
            .value;
        for a in allocs
            .iter()
            .filter(|a| a.task_group == r.group && a.client_status == "running")
        {
            let address = match &r.endpoint.address {
                AddressSource::Allocation => c.alloc_address(&a.id).unwrap(),
                AddressSource::Node => NODE_ADDRESS.to_string(),
                other => panic!("unexpected address source {other:?}"),
            };
            let port = match &r.endpoint.port {
                PortSource::Fixed(p) => *p,
                PortSource::Dynamic(label) => dynamic_port(&a.id, label),
                PortSource::Unset => 0,
            };
            // Nomad's client puts the allocation's index in for `${NOMAD_ALLOC_INDEX}`
            // (the etcd members' tags).
            let index = a
                .name
                .rsplit_once('[')
                .and_then(|(_, i)| i.strip_suffix(']'))
                .unwrap();
            let tags = r
                .tags
                .iter()
                .map(|t| t.replace("${NOMAD_ALLOC_INDEX}", index))
                .collect();
            expected.insert((
                r.service_id(&a.id),
                r.name.clone(),
                address,
                port,
                tags,
                r.meta.clone(),
            ));
        }
    }
    let mut actual: BTreeSet<Instance> = BTreeSet::new();
    for name in &names {
        for e in b
            .consul
            .catalog_service(name, &QueryOptions::new())
            .await
            .unwrap()
            .value
        {
            actual.insert((
                e.service_id,
                e.service_name,
                e.service_address,
                e.service_port,
                e.service_tags,
                e.service_meta,
            ));
        }
    }
    pretty_assertions::assert_eq!(actual, expected);

    // Exact values for the meshed services: one address per allocation in Nomad's default
    // bridge subnet, the app's port, the tags and meta Pilot reads.
    let reviews: Vec<&Instance> = actual.iter().filter(|i| i.1 == "reviews").collect();
    assert_eq!(reviews.len(), 3);
    let mut addrs = BTreeSet::new();
    for i in &reviews {
        assert!(i.2.starts_with("172.26.64."), "{i:?}");
        assert!(addrs.insert(i.2.clone()));
        assert_eq!(i.3, 9080);
        assert_eq!(
            i.5,
            BTreeMap::from([
                ("external-source".to_string(), "nomad".to_string()),
                ("protocol".to_string(), "http".to_string())
            ])
        );
    }
    let tags: BTreeSet<Vec<String>> = reviews.iter().map(|i| i.4.clone()).collect();
    assert_eq!(
        tags,
        BTreeSet::from([
            vec!["version|v1".to_string()],
            vec!["version|v2".to_string()],
            vec!["version|v3".to_string()]
        ])
    );
    // The check goes to the allocation's address and the app's port too.
    let health = b
        .consul
        .health_service("reviews", false, &QueryOptions::new())
        .await
        .unwrap()
        .value;
    for h in &health {
        let checks: Vec<_> = h
            .checks
            .iter()
            .filter(|c| !c.service_id.is_empty())
            .collect();
        assert_eq!(checks.len(), 1, "{h:?}");
        assert_eq!(checks[0].name, "reviews-http-tcp");
        assert_eq!(checks[0].status, "passing");
    }
    // Pilot's control-plane service: the node's address and its static port.
    let pilot = b
        .consul
        .catalog_service("bookinfo-pilot", &QueryOptions::new())
        .await
        .unwrap()
        .value;
    assert!(pilot
        .iter()
        .all(|e| e.service_address == NODE_ADDRESS && e.service_port == 15007));

    // verify_live on the same cluster: what is registered carries traffic.
    let live = verify_live(&plan, &b).await.unwrap();
    assert!(!live.has_errors(), "{live}");
    assert_eq!(live.mode, "live");
    assert_eq!(live.source, "an in-memory cluster");
    let live_kinds: BTreeSet<FindingKind> = live.findings.iter().map(|f| f.kind).collect();
    // One node: no reachability finding; the DNS warnings stay.
    assert!(!live_kinds.contains(&FindingKind::Unreachable), "{live}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_live_reads_what_the_in_memory_cluster_registered_for_the_old_addressing() {
    let c = InMemoryCluster::new();
    c.nomad.set_progress_delay(Duration::from_millis(5));
    let b: Backends = c.backends();
    // The reviews job as it was registered before allocation addressing.
    let plan = old_bridge_registration(plan_unverified(&bookinfo_spec()).unwrap(), "reviews");
    let job = plan.job("reviews").unwrap().job.clone();
    let body = job.to_json_value().unwrap();
    b.nomad
        .register_job(&istio_nomad_core::backend::nomad::RegisterRequest::new(
            body,
        ))
        .await
        .unwrap();
    // Wait until the three allocations' services are in Consul.
    let mut entries = Vec::new();
    for _ in 0..200 {
        entries = b
            .consul
            .catalog_service("reviews", &QueryOptions::new())
            .await
            .unwrap()
            .value;
        if entries.len() == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(entries.len(), 3);
    for e in &entries {
        assert_eq!(e.service_address, NODE_ADDRESS);
        assert!((20_000..32_000).contains(&e.service_port), "{e:?}");
    }
    let live = verify_live(&plan, &b).await.unwrap();
    let errors: BTreeSet<(FindingKind, String)> =
        live.errors().map(|f| (f.kind, f.path.clone())).collect();
    let mut expected = BTreeSet::new();
    for v in ["v1", "v2", "v3"] {
        expected.insert((
            FindingKind::NoInboundListener,
            format!("job[reviews].group[reviews-{v}]"),
        ));
        expected.insert((
            FindingKind::NoOutboundListener,
            format!("job[reviews].group[reviews-{v}].service[0]"),
        ));
    }
    // Pilot's job is not applied here: its name has no instance in the catalog.
    for (job, group) in GROUPS {
        expected.insert((
            FindingKind::Unresolvable,
            format!("job[{job}].group[{group}].task[istio-proxy].config.args"),
        ));
    }
    assert_eq!(errors, expected, "{live}");
}
