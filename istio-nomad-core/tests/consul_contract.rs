//! Contract tests of `HttpConsul` against a local mock HTTP server (wiremock) whose answers
//! follow Consul's documented API: plain-text errors, `true`/`false` KV writes,
//! `X-Consul-Index`, 404 for absent keys.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::fast_options;
use istio_nomad_core::backend::consul::{AgentCheck, ServiceRegistration};
use istio_nomad_core::backend::{BackendError, Consul, ConsulConfig, HttpConsul, QueryOptions};
use serde_json::json;
use wiremock::matchers::{
    body_bytes, body_json, header, method, path, query_param, query_param_is_missing,
};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn client(server: &MockServer, attempts: u32) -> HttpConsul {
    let lookup = |k: &str| match k {
        "CONSUL_HTTP_ADDR" => Some(server.uri()),
        "CONSUL_HTTP_TOKEN" => Some("consul-acl-token".to_owned()),
        "CONSUL_NAMESPACE" => Some("mesh".to_owned()),
        _ => None,
    };
    let mut cfg = ConsulConfig::from_env_with(lookup).unwrap();
    cfg.options = fast_options(attempts);
    HttpConsul::new(&cfg).unwrap()
}

fn plain(status: u16, text: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .insert_header("Content-Type", "text/plain; charset=utf-8")
        .set_body_string(text)
}

#[tokio::test]
async fn register_service_exact_body() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path("/v1/agent/service/register"))
        .and(query_param("replace-existing-checks", "true"))
        .and(query_param("ns", "mesh"))
        .and(header("X-Consul-Token", "consul-acl-token"))
        .and(body_json(json!({
            "Name": "istio-pilot",
            "ID": "istio-pilot-1",
            "Tags": ["istio"],
            "Address": "10.0.0.5",
            "Port": 15010,
            "Meta": {"version": "1.0"},
            "Checks": [{"Name": "grpc", "TCP": "10.0.0.5:15010", "Interval": "10s", "Timeout": "2s"}]
        })))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    let reg = ServiceRegistration::new("istio-pilot")
        .id("istio-pilot-1")
        .tag("istio")
        .address("10.0.0.5", 15010)
        .meta("version", "1.0")
        .check(AgentCheck {
            name: Some("grpc".into()),
            tcp: Some("10.0.0.5:15010".into()),
            interval: Some("10s".into()),
            timeout: Some("2s".into()),
            ..AgentCheck::default()
        });
    client(&server, 3)
        .register_service(&reg, true)
        .await
        .unwrap();
}

#[tokio::test]
async fn writes_are_not_retried_after_500() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path("/v1/agent/service/deregister/istio-pilot-1"))
        .respond_with(plain(500, "Unknown service ID \"istio-pilot-1\""))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/v1/kv/lock"))
        .respond_with(plain(500, "rpc error"))
        .expect(1)
        .mount(&server)
        .await;
    let c = client(&server, 4);
    let e = c.deregister_service("istio-pilot-1").await.unwrap_err();
    assert_eq!(e.status(), Some(500));
    assert_eq!(e.to_string(), "consul PUT /v1/agent/service/deregister/istio-pilot-1: HTTP 500: Unknown service ID \"istio-pilot-1\"");
    assert_eq!(
        c.kv_put("lock", b"x", Some(0)).await.unwrap_err().status(),
        Some(500)
    );
}

#[tokio::test]
async fn kv_cas_answers_true_or_false() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path("/v1/kv/istio-nomad/state"))
        .and(query_param("cas", "0"))
        .and(body_bytes(b"{\"v\":1}".to_vec()))
        .respond_with(ResponseTemplate::new(200).set_body_string("false"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/v1/kv/istio-nomad/state"))
        .and(query_param("cas", "12"))
        .respond_with(ResponseTemplate::new(200).set_body_string("true"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/v1/kv/istio-nomad/state"))
        .and(query_param("cas", "13"))
        .respond_with(ResponseTemplate::new(200).set_body_string("true\n"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/v1/kv/odd"))
        .respond_with(ResponseTemplate::new(200).set_body_string("maybe"))
        .mount(&server)
        .await;
    let c = client(&server, 1);
    assert!(!c
        .kv_put("istio-nomad/state", b"{\"v\":1}", Some(0))
        .await
        .unwrap());
    assert!(c
        .kv_put("istio-nomad/state", b"{\"v\":2}", Some(12))
        .await
        .unwrap());
    assert!(c.kv_delete("istio-nomad/state", Some(13)).await.unwrap());
    let e = c.kv_put("odd", b"", None).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "consul /v1/kv/odd: cannot decode response: expected true or false, got \"maybe\""
    );
}

#[tokio::test]
async fn kv_reads_block_and_keep_the_index() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/kv/state"))
        .and(query_param("index", "20"))
        .and(query_param("wait", "5000ms"))
        .respond_with(
            ResponseTemplate::new(200).insert_header("X-Consul-Index", "25").set_body_json(json!([
                {"LockIndex": 0, "Key": "state", "Flags": 0, "Value": "eyJ2IjozfQ==", "CreateIndex": 18, "ModifyIndex": 25}
            ])),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/kv/absent"))
        .and(query_param_is_missing("index"))
        .respond_with(ResponseTemplate::new(404).insert_header("X-Consul-Index", "25"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/kv/noindex"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/kv/badindex"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("X-Consul-Index", "-1")
                .set_body_json(json!([])),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/kv/istio-nomad/"))
        .and(query_param("recurse", "true"))
        .respond_with(ResponseTemplate::new(200).insert_header("X-Consul-Index", "30").set_body_json(json!([
            {"LockIndex": 0, "Key": "istio-nomad/a", "Flags": 0, "Value": "MQ==", "CreateIndex": 3, "ModifyIndex": 3},
            {"LockIndex": 0, "Key": "istio-nomad/b", "Flags": 0, "Value": null, "CreateIndex": 4, "ModifyIndex": 30}
        ])))
        .mount(&server)
        .await;
    let c = client(&server, 1);
    let got = c
        .kv_get("state", &QueryOptions::blocking(20, Duration::from_secs(5)))
        .await
        .unwrap();
    assert_eq!(got.index, 25);
    let pair = got.value.unwrap();
    assert_eq!(
        (pair.value.as_slice(), pair.modify_index),
        (b"{\"v\":3}".as_slice(), 25)
    );
    assert_eq!(
        c.kv_get("absent", &QueryOptions::new())
            .await
            .unwrap()
            .value,
        None
    );
    let e = c.kv_get("noindex", &QueryOptions::new()).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "consul /v1/kv/noindex: response has no X-Consul-Index header"
    );
    let e = c
        .kv_get("badindex", &QueryOptions::new())
        .await
        .unwrap_err();
    assert!(
        matches!(e, BackendError::MalformedIndex { ref value, .. } if value == "-1"),
        "{e:?}"
    );
    let list = c
        .kv_list("istio-nomad/", &QueryOptions::new())
        .await
        .unwrap();
    assert_eq!(list.index, 30);
    assert_eq!(
        list.value
            .iter()
            .map(|p| p.key.as_str())
            .collect::<Vec<_>>(),
        vec!["istio-nomad/a", "istio-nomad/b"]
    );
    assert_eq!(list.value[1].value, b"");
}

#[tokio::test]
async fn health_passing_and_catalog() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/health/service/istio-pilot"))
        .and(query_param("passing", "1"))
        .and(query_param("ns", "mesh"))
        .respond_with(ResponseTemplate::new(200).insert_header("X-Consul-Index", "44").set_body_json(json!([{
            "Node": {"ID": "n1", "Node": "node-1", "Address": "10.0.0.5", "Datacenter": "dc1"},
            "Service": {"ID": "istio-pilot-1", "Service": "istio-pilot", "Tags": null, "Address": "10.0.0.5", "Port": 15010,
                "Meta": null, "Kind": "", "CreateIndex": 40, "ModifyIndex": 40},
            "Checks": [
                {"Node": "node-1", "CheckID": "serfHealth", "Name": "Serf Health Status", "Status": "passing", "Notes": "",
                 "Output": "Agent alive and reachable", "ServiceID": "", "ServiceName": "", "CreateIndex": 1, "ModifyIndex": 1},
                {"Node": "node-1", "CheckID": "service:istio-pilot-1", "Name": "grpc", "Status": "passing", "Notes": "",
                 "Output": "TCP connect 10.0.0.5:15010: Success", "ServiceID": "istio-pilot-1", "ServiceName": "istio-pilot",
                 "CreateIndex": 40, "ModifyIndex": 44}
            ]
        }])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/catalog/service/istio-pilot"))
        .respond_with(ResponseTemplate::new(200).insert_header("X-Consul-Index", "44").set_body_json(json!([{
            "ID": "n1", "Node": "node-1", "Address": "10.0.0.5", "Datacenter": "dc1", "ServiceID": "istio-pilot-1",
            "ServiceName": "istio-pilot", "ServiceAddress": "", "ServicePort": 15010, "ServiceTags": ["istio"],
            "ServiceMeta": {}, "ServiceKind": "", "CreateIndex": 40, "ModifyIndex": 40
        }])))
        .expect(1)
        .mount(&server)
        .await;
    let c = client(&server, 1);
    let h = c
        .health_service("istio-pilot", true, &QueryOptions::new())
        .await
        .unwrap();
    assert_eq!(h.index, 44);
    assert!(h.value[0].is_passing());
    assert_eq!(h.value[0].service.port, 15010);
    let cat = c
        .catalog_service("istio-pilot", &QueryOptions::new())
        .await
        .unwrap();
    assert_eq!(cat.value[0].service_id, "istio-pilot-1");
    assert_eq!(
        cat.value[0].service_address, "",
        "empty means: use the node address"
    );
}

#[tokio::test]
async fn acl_and_rate_limit_errors() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/kv/secret"))
        .respond_with(plain(403, "ACL not found"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/catalog/service/busy"))
        .respond_with(plain(429, "rate limit exceeded, try again later"))
        .expect(3)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/health/service/flaky"))
        .respond_with(plain(500, "rpc error making call: EOF"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/health/service/flaky"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("X-Consul-Index", "3")
                .set_body_json(json!([])),
        )
        .expect(1)
        .mount(&server)
        .await;
    let c = client(&server, 3);
    let e = c.kv_get("secret", &QueryOptions::new()).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "consul GET /v1/kv/secret: HTTP 403: ACL not found"
    );
    let e = c
        .catalog_service("busy", &QueryOptions::new())
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(429));
    let h = c
        .health_service("flaky", false, &QueryOptions::new())
        .await
        .unwrap();
    assert_eq!((h.index, h.value.len()), (3, 0));
}
