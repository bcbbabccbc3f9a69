//! The shared server scenarios (`istio-nomad-core/tests/common/scenarios.rs`) run through the
//! HTTP clients against the HTTP fake of Nomad and Consul (`istio_nomad_tests::mock_cluster`),
//! and the etcd ones against a real etcd 3.4: what the in-memory servers do must also hold
//! on the wire (status codes, index headers, bodies). The same scenarios run against live
//! servers in `behaviour.rs` when `NOMAD_ADDR` / `CONSUL_HTTP_ADDR` are set.
#![allow(clippy::unwrap_used)]

#[path = "../../istio-nomad-core/tests/common/mod.rs"]
mod common;

use std::time::Duration;

use common::scenarios::*;
use istio_nomad_core::backend::{
    ConsulConfig, EtcdConfig, HttpConsul, HttpEtcd, HttpNomad, Nomad, NomadConfig, QueryOptions,
};
use istio_nomad_tests::etcd::{etcd_binary_or_skip, EtcdMember};
use istio_nomad_tests::mock_cluster::MockCluster;

const FAKE: Env = Env {
    fresh: true,
    allocs_run: true,
};

fn nomad(mock: &MockCluster) -> HttpNomad {
    HttpNomad::new(
        &NomadConfig::builder()
            .address(mock.nomad.uri())
            .options(common::fast_options(2))
            .build()
            .unwrap(),
    )
    .unwrap()
}

fn consul(mock: &MockCluster) -> HttpConsul {
    HttpConsul::new(
        &ConsulConfig::builder()
            .address(mock.consul.uri())
            .options(common::fast_options(1))
            .build()
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn fake_nomad_index_zero_and_async_deployment() {
    let mock = MockCluster::start(Duration::ZERO).await;
    nomad_index_zero_and_async_deployment(&nomad(&mock), FAKE, "web").await;
    // On the wire: the first deployment read of the fresh cluster said 0.
    let first = mock
        .requests()
        .into_iter()
        .find(|(m, p, _, _)| m == "GET" && p == "/v1/job/web/deployment")
        .unwrap();
    assert_eq!(first.2, "", "a plain read");
}

#[tokio::test]
async fn fake_nomad_versions_and_check_and_set() {
    let mock = MockCluster::start(Duration::ZERO).await;
    nomad_versions_and_check_and_set(&nomad(&mock), FAKE, "web").await;
}

#[tokio::test]
async fn fake_nomad_no_deployment_cases() {
    let mock = MockCluster::start(Duration::ZERO).await;
    nomad_no_deployment_cases(&nomad(&mock), FAKE, "nd").await;
}

#[tokio::test]
async fn fake_nomad_deregister_unknown_and_update_and_purge() {
    let mock = MockCluster::start(Duration::ZERO).await;
    let n = nomad(&mock);
    nomad_deregister_unknown(&n, "nope").await;
    nomad_update_and_purge(&n, FAKE, "web").await;
}

#[tokio::test]
async fn fake_nomad_namespace_query_wins_over_the_body() {
    let mock = MockCluster::start(Duration::ZERO).await;
    let mut j = job("web", "nginx", 1);
    j["Namespace"] = serde_json::json!("from-body");
    // No namespace configured: the body decides.
    nomad(&mock)
        .register_job(&istio_nomad_core::backend::nomad::RegisterRequest::new(
            j.clone(),
        ))
        .await
        .unwrap();
    assert_eq!(
        mock.cluster.nomad.in_namespace("from-body").job_ids(),
        vec!["web".to_owned()]
    );
    // ?namespace=team-b wins.
    let b = HttpNomad::new(
        &NomadConfig::builder()
            .address(mock.nomad.uri())
            .namespace("team-b")
            .build()
            .unwrap(),
    )
    .unwrap();
    b.register_job(&istio_nomad_core::backend::nomad::RegisterRequest::new(j))
        .await
        .unwrap();
    assert_eq!(
        b.read_job("web", &QueryOptions::new()).await.unwrap().value["Namespace"],
        serde_json::json!("team-b")
    );
}

#[tokio::test]
async fn fake_consul_kv_sessions_and_txn() {
    let mock = MockCluster::start(Duration::ZERO).await;
    let c = consul(&mock);
    consul_kv_check_and_set(&c, "mesh").await;
    consul_sessions_and_locks(&c, "sessions", Duration::from_secs(10)).await;
    consul_txn(&c, "txn", Duration::from_secs(10)).await;
}

#[tokio::test]
async fn real_etcd_keepalive_of_unknown_lease() {
    let Some(bin) = etcd_binary_or_skip("real_etcd_keepalive_of_unknown_lease") else {
        return;
    };
    let member = EtcdMember::start_single(&bin, &[]).unwrap();
    let e = HttpEtcd::new(
        &EtcdConfig::builder()
            .endpoints([member.client_url()])
            .build()
            .unwrap(),
    )
    .unwrap();
    etcd_keepalive_of_unknown_lease(&e).await;
}

#[tokio::test]
async fn fake_nomad_nodes_as_the_in_memory_cluster_has_them() {
    let mock = MockCluster::start(Duration::ZERO).await;
    let n = nomad(&mock);
    let want = mock
        .cluster
        .nomad
        .list_nodes(&QueryOptions::new())
        .await
        .unwrap()
        .value;
    let got = n.list_nodes(&QueryOptions::new()).await.unwrap().value;
    assert_eq!(got, want);
    assert!(!got.is_empty());
    let one = n.read_node(&got[0].id, &QueryOptions::new()).await.unwrap();
    assert_eq!(one.value.stub(), got[0]);
    let e = n
        .read_node("no-such-node", &QueryOptions::new())
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(404));
}
