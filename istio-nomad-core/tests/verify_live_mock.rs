//! `verify_live` over HTTP against a local mock Nomad and Consul (wiremock) whose answers
//! follow their APIs (`GET /v1/nodes`, `GET /v1/node/:id`: Nomad v1.6.9 `api/nodes.go`;
//! `GET /v1/catalog/service/:name`: Consul's catalog entries with `ServiceAddress`,
//! `ServicePort`, `ServiceMeta`, `NodeMeta`). The mock is not Nomad or Consul: it serves a
//! fixed cluster of two nodes.
#![allow(clippy::unwrap_used)]

use istio_nomad_core::install::verify_live;
use istio_nomad_core::install::Backends;
use istio_nomad_core::plan::plan;
use istio_nomad_core::plan::verify::{FindingKind, Severity};
use istio_nomad_core::spec::MeshSpec;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const GROUPS: [(&str, &str, &str); 6] = [
    ("details", "details", "v1"),
    ("productpage", "productpage", "v1"),
    ("ratings", "ratings", "v1"),
    ("reviews", "reviews-v1", "v1"),
    ("reviews", "reviews-v2", "v2"),
    ("reviews", "reviews-v3", "v3"),
];

fn node(id: &str, name: &str, ip: &str, cni: bool) -> Value {
    let mut attributes = json!({
        "kernel.name": "linux",
        "nomad.version": "1.6.9",
        "unique.network.ip-address": ip,
    });
    if cni {
        for p in ["loopback", "bridge", "host-local", "firewall", "portmap"] {
            attributes[format!("plugins.cni.version.{p}")] = json!("v1.4.0");
        }
    }
    json!({
        "ID": id, "Name": name, "Datacenter": "dc1", "HTTPAddr": format!("{ip}:4646"),
        "Status": "ready", "Attributes": attributes, "Meta": null,
        "NodeResources": {"Networks": [
            {"Mode": "host", "Device": "eth0", "CIDR": format!("{ip}/32"), "IP": ip},
            {"Mode": "bridge", "Device": "", "CIDR": "", "IP": ""}
        ]}
    })
}

fn indexed(body: Value, header_name: &str) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header(header_name, "42")
        .set_body_json(body)
}

/// A catalog entry as Consul returns it.
fn entry(
    node: (&str, &str),
    id: &str,
    name: &str,
    address: &str,
    port: u16,
    tags: &[&str],
) -> Value {
    entry_with(node, id, name, address, port, tags, Some("http"))
}

/// A catalog entry with the given `protocol` service meta (none when `None`).
fn entry_with(
    node: (&str, &str),
    id: &str,
    name: &str,
    address: &str,
    port: u16,
    tags: &[&str],
    protocol: Option<&str>,
) -> Value {
    let mut meta = json!({"external-source": "nomad"});
    if let Some(p) = protocol {
        meta["protocol"] = json!(p);
    }
    json!({
        "ID": "node-id", "Node": node.0, "Address": node.1, "Datacenter": "dc1",
        "NodeMeta": {"consul-network-segment": ""},
        "ServiceID": id, "ServiceName": name, "ServiceAddress": address, "ServicePort": port,
        "ServiceTags": tags, "ServiceMeta": meta,
        "ServiceKind": "", "CreateIndex": 10, "ModifyIndex": 10
    })
}

async fn servers(cni_on_b: bool, b_subnet: &str) -> (MockServer, MockServer) {
    servers_with(cni_on_b, b_subnet, Some("http")).await
}

/// The mock servers; the apps' catalog entries carry `protocol` as their service meta.
async fn servers_with(
    cni_on_b: bool,
    b_subnet: &str,
    protocol: Option<&str>,
) -> (MockServer, MockServer) {
    let nomad = MockServer::start().await;
    let consul = MockServer::start().await;
    let a = node("1a2b-a", "node-a", "10.0.0.11", true);
    let b = node("1a2b-b", "node-b", "10.0.0.12", cni_on_b);
    let stubs: Vec<Value> = [&a, &b]
        .iter()
        .map(|n| {
            json!({"ID": n["ID"], "Name": n["Name"], "Address": "10.0.0.1x", "Datacenter": "dc1",
                   "Status": "ready", "Drain": false, "CreateIndex": 5, "ModifyIndex": 7})
        })
        .collect();
    Mock::given(method("GET"))
        .and(path("/v1/nodes"))
        .and(header("X-Nomad-Token", "nomad-secret"))
        .respond_with(indexed(json!(stubs), "X-Nomad-Index"))
        .expect(1)
        .mount(&nomad)
        .await;
    for n in [a, b] {
        Mock::given(method("GET"))
            .and(path(format!("/v1/node/{}", n["ID"].as_str().unwrap())))
            .respond_with(indexed(n, "X-Nomad-Index"))
            .expect(1)
            .mount(&nomad)
            .await;
    }
    // Every group of the plan has one allocation; odd ones run on node-b.
    let mut by_service: std::collections::BTreeMap<&str, Vec<Value>> = Default::default();
    for (i, (job, group, version)) in GROUPS.iter().enumerate() {
        let on_b = i % 2 == 1;
        let (n, addr) = if on_b {
            (("node-b", "10.0.0.12"), format!("{b_subnet}.{}", 10 + i))
        } else {
            (("node-a", "10.0.0.11"), format!("172.26.64.{}", 10 + i))
        };
        let id =
            format!("_nomad-task-0000000{i}-1111-2222-3333-444444444444-group-{group}-{job}-http");
        by_service.entry(job).or_default().push(entry_with(
            n,
            &id,
            job,
            &addr,
            9080,
            &[&format!("version|{version}")],
            protocol,
        ));
    }
    for (name, entries) in by_service {
        Mock::given(method("GET"))
            .and(path(format!("/v1/catalog/service/{name}")))
            .and(header("X-Consul-Token", "consul-secret"))
            .respond_with(indexed(json!(entries), "X-Consul-Index"))
            .mount(&consul)
            .await;
    }
    let pilot = entry(
        ("node-a", "10.0.0.11"),
        "_nomad-task-99999999-1111-2222-3333-444444444444-group-pilot-bookinfo-pilot-grpc-grpc",
        "bookinfo-pilot-grpc",
        "10.0.0.11",
        15010,
        &[],
    );
    Mock::given(method("GET"))
        .and(path("/v1/catalog/service/bookinfo-pilot-grpc"))
        .respond_with(indexed(json!([pilot]), "X-Consul-Index"))
        .mount(&consul)
        .await;
    (nomad, consul)
}

fn backends(spec: &MeshSpec, nomad: &MockServer, consul: &MockServer) -> Backends {
    let (n, c) = (nomad.uri(), consul.uri());
    Backends::for_spec_with(spec, move |k| match k {
        "NOMAD_ADDR" => Some(n.clone()),
        "NOMAD_TOKEN" => Some("nomad-secret".into()),
        "CONSUL_HTTP_ADDR" => Some(c.clone()),
        "CONSUL_HTTP_TOKEN" => Some("consul-secret".into()),
        _ => None,
    })
    .unwrap()
}

fn bookinfo() -> MeshSpec {
    MeshSpec::from_file(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/bookinfo.mesh.hcl"
    ))
    .unwrap()
}

#[tokio::test]
async fn default_bridge_subnet_on_two_nodes_is_unreachable() {
    let spec = bookinfo();
    let plan = plan(&spec).unwrap();
    let (nomad, consul) = servers(true, "172.26.64").await;
    let report = verify_live(&plan, &backends(&spec, &nomad, &consul))
        .await
        .unwrap();
    assert_eq!(report.mode, "live");
    assert_eq!(
        report.source,
        format!(
            "Nomad at {}, Consul at {}, etcd at http://127.0.0.1:2379",
            nomad.uri(),
            consul.uri()
        )
    );
    let errors: BTreeSet<(FindingKind, String)> =
        report.errors().map(|f| (f.kind, f.path.clone())).collect();
    let expected: BTreeSet<(FindingKind, String)> = GROUPS
        .iter()
        .map(|(j, g, _)| {
            (
                FindingKind::Unreachable,
                format!("job[{j}].group[{g}].network[0].mode"),
            )
        })
        .collect();
    assert_eq!(errors, expected, "{report}");
    let msg = &report.errors().next().unwrap().message;
    assert!(
        msg.contains("172.26.64.0/20 on 2 nodes (node-a, node-b)"),
        "{msg}"
    );
    nomad.verify().await;
}

#[tokio::test]
async fn routed_per_node_subnets_carry_traffic_and_missing_cni_plugins_are_named() {
    let spec = bookinfo();
    let plan = plan(&spec).unwrap();
    let (nomad, consul) = servers(false, "172.26.80").await;
    let report = verify_live(&plan, &backends(&spec, &nomad, &consul))
        .await
        .unwrap();
    assert!(!report.has_errors(), "{report}");
    let cni: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::Unreachable)
        .collect();
    assert_eq!(cni.len(), 1, "{report}");
    assert_eq!(cni[0].severity, Severity::Warning);
    assert!(
        cni[0].message.contains("1 of 2 node(s) lack them (node-b)"),
        "{}",
        cni[0].message
    );
}

#[tokio::test]
async fn services_sharing_a_port_without_the_protocol_meta_are_reported_from_the_catalog() {
    // Istio 1.3 reads the protocol from the service meta (default tcp): with none in the
    // catalog, the four Bookinfo services on 9080 would share one TCP listener.
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/bookinfo.mesh.hcl"
    ))
    .unwrap()
    .replace("istio_version = \"1.0.0\"", "istio_version = \"1.3.8\"");
    let spec = MeshSpec::from_hcl(&text).unwrap();
    let plan = plan(&spec).unwrap();
    let (nomad, consul) = servers_with(false, "172.26.80", None).await;
    let report = verify_live(&plan, &backends(&spec, &nomad, &consul))
        .await
        .unwrap();
    let shared: BTreeSet<String> = report
        .errors()
        .filter(|f| f.kind == FindingKind::SharedPort)
        .map(|f| f.path.clone())
        .collect();
    // Reported once per service and port, at the first group that registers it.
    let expected: BTreeSet<String> = [
        ("details", "details"),
        ("productpage", "productpage"),
        ("ratings", "ratings"),
        ("reviews", "reviews-v1"),
    ]
    .iter()
    .map(|(j, g)| format!("job[{j}].group[{g}].service[0]"))
    .collect();
    assert_eq!(shared, expected, "{report}");
    let f = report
        .errors()
        .find(|f| f.path == "job[reviews].group[reviews-v1].service[0]")
        .unwrap();
    assert!(
        f.message.starts_with(
            "port 9080 is registered by details (tcp), productpage (tcp), ratings (tcp), reviews (tcp); Pilot shares one 0.0.0.0:9080 listener among HTTP services only"
        ),
        "{}",
        f.message
    );
    assert!(
        f.message.contains("traffic for \"reviews\""),
        "{}",
        f.message
    );
}
