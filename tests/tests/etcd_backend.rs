//! The `Etcd` trait against a real etcd server (spawned on free loopback ports) and against
//! the in-memory implementation: the same behaviour tests run on both.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use istio_nomad_core::backend::etcd::{
    Compare, CompareResult, DeleteRangeRequest, PutRequest, RangeRequest, TxnOp, TxnOpResponse,
    TxnRequest,
};
use istio_nomad_core::backend::{
    BackendError, ClientOptions, Etcd, EtcdConfig, HttpEtcd, MemoryEtcd, RetryPolicy,
};
use istio_nomad_tests::etcd::{etcd_binary_or_skip, EtcdMember};

fn client(member: &EtcdMember) -> HttpEtcd {
    let cfg = EtcdConfig::builder()
        .endpoints([member.client_url()])
        .options(
            ClientOptions::new()
                .timeout(Duration::from_secs(5))
                .connect_timeout(Duration::from_secs(1))
                .retry(
                    RetryPolicy::new()
                        .max_attempts(2)
                        .base_delay(Duration::from_millis(20)),
                ),
        )
        .build()
        .unwrap();
    HttpEtcd::new(&cfg).unwrap()
}

fn start(test: &str, extra: &[&str]) -> Option<EtcdMember> {
    let bin = etcd_binary_or_skip(test)?;
    Some(EtcdMember::start_single(&bin, extra).unwrap())
}

// ---- behaviour, written once ----

async fn kv_basics(etcd: &dyn Etcd) {
    let p1 = etcd.put(&PutRequest::new("mesh/a", "1")).await.unwrap();
    let p2 = etcd.put(&PutRequest::new("mesh/b", "2")).await.unwrap();
    etcd.put(&PutRequest::new("mesi", "outside")).await.unwrap();
    assert!(p2.header.revision > p1.header.revision, "revisions grow");

    let a = etcd.get(b"mesh/a").await.unwrap().unwrap();
    assert_eq!(a.value, b"1");
    assert_eq!(a.version, 1);
    assert_eq!(a.create_revision, p1.header.revision);
    assert_eq!(a.mod_revision, p1.header.revision);
    assert_eq!(a.lease, 0);

    let updated = etcd
        .put(&PutRequest::new("mesh/a", "1b").prev_kv())
        .await
        .unwrap();
    assert_eq!(
        updated.prev_kv.as_ref().map(|kv| kv.value.clone()),
        Some(b"1".to_vec())
    );
    let a = etcd.get(b"mesh/a").await.unwrap().unwrap();
    assert_eq!(
        (a.version, a.create_revision, a.mod_revision),
        (2, p1.header.revision, updated.header.revision)
    );

    let keys: Vec<Vec<u8>> = etcd
        .get_prefix(b"mesh/")
        .await
        .unwrap()
        .into_iter()
        .map(|kv| kv.key)
        .collect();
    assert_eq!(keys, vec![b"mesh/a".to_vec(), b"mesh/b".to_vec()]);

    let limited = etcd
        .range(&RangeRequest::prefix("mesh/").limit(1))
        .await
        .unwrap();
    assert_eq!(
        (limited.kvs.len(), limited.more, limited.count),
        (1, true, 2)
    );
    let count = etcd
        .range(&RangeRequest::prefix("mesh/").count_only())
        .await
        .unwrap();
    assert_eq!((count.kvs.len(), count.count), (0, 2));
    let keys_only = etcd
        .range(&RangeRequest::prefix("mesh/").keys_only())
        .await
        .unwrap();
    assert!(keys_only.kvs.iter().all(|kv| kv.value.is_empty()));

    assert_eq!(etcd.get(b"mesh/none").await.unwrap(), None);

    let d = etcd
        .delete_range(&DeleteRangeRequest::key("mesh/none"))
        .await
        .unwrap();
    assert_eq!(d.deleted, 0);
    let d = etcd
        .delete_range(&DeleteRangeRequest::prefix("mesh/").prev_kv())
        .await
        .unwrap();
    assert_eq!(d.deleted, 2);
    assert_eq!(d.prev_kvs.len(), 2);
    assert!(etcd.get_prefix(b"mesh/").await.unwrap().is_empty());
    assert_eq!(etcd.get(b"mesi").await.unwrap().unwrap().value, b"outside");

    // A deleted key starts again at version 1.
    etcd.put(&PutRequest::new("mesh/a", "again")).await.unwrap();
    assert_eq!(etcd.get(b"mesh/a").await.unwrap().unwrap().version, 1);
}

async fn txn_cas(etcd: &dyn Etcd) {
    // Create only if absent (mod revision 0).
    assert!(etcd.compare_and_swap(b"state", 0, b"v1", 0).await.unwrap());
    assert!(
        !etcd
            .compare_and_swap(b"state", 0, b"other", 0)
            .await
            .unwrap(),
        "second create loses"
    );
    let cur = etcd.get(b"state").await.unwrap().unwrap();
    assert_eq!(cur.value, b"v1");

    // Swap on the right revision wins, a stale one loses and changes nothing.
    assert!(etcd
        .compare_and_swap(b"state", cur.mod_revision, b"v2", 0)
        .await
        .unwrap());
    assert!(!etcd
        .compare_and_swap(b"state", cur.mod_revision, b"v3", 0)
        .await
        .unwrap());
    let now = etcd.get(b"state").await.unwrap().unwrap();
    assert_eq!(now.value, b"v2");

    // The failure branch reports the winner's entry.
    let t = TxnRequest::new()
        .when(Compare::mod_revision("state", cur.mod_revision))
        .and_then(TxnOp::Put(PutRequest::new("state", "lost")))
        .or_else(TxnOp::Range(RangeRequest::key("state")));
    let r = etcd.txn(&t).await.unwrap();
    assert!(!r.succeeded);
    match r.responses.as_slice() {
        [TxnOpResponse::Range(rr)] => assert_eq!(rr.kvs[0].value, b"v2"),
        other => panic!("unexpected responses {other:?}"),
    }

    // Version and value comparisons.
    let t = TxnRequest::new()
        .when(Compare::version("state", 2))
        .when(Compare::value("state", "v2"))
        .when(Compare::mod_revision("state", 0).with_result(CompareResult::Greater))
        .and_then(TxnOp::Put(PutRequest::new("state", "v4")))
        .and_then(TxnOp::DeleteRange(DeleteRangeRequest::key("nothing-here")));
    let r = etcd.txn(&t).await.unwrap();
    assert!(r.succeeded);
    assert_eq!(r.responses.len(), 2);
    assert!(matches!(&r.responses[1], TxnOpResponse::DeleteRange(d) if d.deleted == 0));
    assert!(
        !etcd
            .compare_and_delete(b"state", now.mod_revision)
            .await
            .unwrap(),
        "stale delete loses"
    );
    let last = etcd.get(b"state").await.unwrap().unwrap();
    assert!(etcd
        .compare_and_delete(b"state", last.mod_revision)
        .await
        .unwrap());
    assert_eq!(etcd.get(b"state").await.unwrap(), None);
}

async fn lease_expiry(etcd: &dyn Etcd) {
    let lease = etcd.lease_grant(1).await.unwrap();
    assert!(lease.id != 0);
    assert!(lease.ttl >= 1, "ttl {}", lease.ttl);
    etcd.put(&PutRequest::new("lock/holder", "me").lease(lease.id))
        .await
        .unwrap();
    etcd.put(&PutRequest::new("lock/other", "stays"))
        .await
        .unwrap();
    assert_eq!(
        etcd.get(b"lock/holder").await.unwrap().unwrap().lease,
        lease.id
    );

    let deadline = Instant::now() + Duration::from_secs(lease.ttl as u64 + 8);
    loop {
        if etcd.get(b"lock/holder").await.unwrap().is_none() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "key still present after lease expiry"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        etcd.get(b"lock/other").await.unwrap().unwrap().value,
        b"stays"
    );
    let e = etcd.lease_keepalive(lease.id).await.unwrap_err();
    assert!(e.is_not_found(), "{e:?}");
    let e = etcd
        .put(&PutRequest::new("lock/holder", "late").lease(lease.id))
        .await
        .unwrap_err();
    assert!(e.is_not_found(), "{e:?}");
    assert!(e.to_string().contains("requested lease not found"), "{e}");
}

async fn lease_keepalive_and_revoke(etcd: &dyn Etcd) {
    let lease = etcd.lease_grant(3).await.unwrap();
    etcd.put(&PutRequest::new("session/x", "1").lease(lease.id))
        .await
        .unwrap();
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let k = etcd.lease_keepalive(lease.id).await.unwrap();
        assert_eq!(k.id, lease.id);
        assert_eq!(k.ttl, lease.ttl);
    }
    // 4.5 s after the grant the 3 s lease lives on thanks to the renewals.
    assert!(etcd.get(b"session/x").await.unwrap().is_some());
    let h = etcd.lease_revoke(lease.id).await.unwrap();
    assert!(h.revision > 0);
    assert_eq!(etcd.get(b"session/x").await.unwrap(), None);
    assert!(etcd
        .lease_revoke(lease.id)
        .await
        .unwrap_err()
        .is_not_found());
    assert!(etcd
        .lease_keepalive(lease.id)
        .await
        .unwrap_err()
        .is_not_found());
}

// ---- in-memory ----

#[tokio::test]
async fn memory_kv_basics() {
    kv_basics(&MemoryEtcd::new()).await;
}

#[tokio::test]
async fn memory_txn_cas() {
    txn_cas(&MemoryEtcd::new()).await;
}

#[tokio::test]
async fn memory_lease_expiry() {
    lease_expiry(&MemoryEtcd::new()).await;
}

#[tokio::test]
async fn memory_lease_keepalive_and_revoke() {
    lease_keepalive_and_revoke(&MemoryEtcd::new()).await;
}

// ---- real etcd ----

#[tokio::test]
async fn real_kv_basics() {
    let Some(m) = start("real_kv_basics", &[]) else {
        return;
    };
    kv_basics(&client(&m)).await;
}

#[tokio::test]
async fn real_txn_cas() {
    let Some(m) = start("real_txn_cas", &[]) else {
        return;
    };
    txn_cas(&client(&m)).await;
}

#[tokio::test]
async fn real_lease_expiry() {
    let Some(m) = start("real_lease_expiry", &[]) else {
        return;
    };
    lease_expiry(&client(&m)).await;
}

#[tokio::test]
async fn real_lease_keepalive_and_revoke() {
    let Some(m) = start("real_lease_keepalive_and_revoke", &[]) else {
        return;
    };
    lease_keepalive_and_revoke(&client(&m)).await;
}

#[tokio::test]
async fn real_status() {
    let Some(m) = start("real_status", &[]) else {
        return;
    };
    let s = client(&m).status().await.unwrap();
    assert!(s.version.starts_with("3."), "version {:?}", s.version);
    assert_ne!(s.leader, 0);
    assert_eq!(s.leader, s.header.member_id, "a single member leads itself");
    assert!(s.db_size > 0);
    assert!(s.raft_index > 0);
    assert!(s.raft_term > 0);
}

#[tokio::test]
async fn real_kill_and_restart() {
    let Some(mut m) = start("real_kill_and_restart", &[]) else {
        return;
    };
    let etcd = client(&m);
    etcd.put(&PutRequest::new("durable", "yes")).await.unwrap();
    m.kill();
    let e = etcd.get(b"durable").await.unwrap_err();
    assert!(matches!(e, BackendError::Connect { .. }), "{e:?}");
    assert!(e.is_retryable());
    let e = etcd
        .put(&PutRequest::new("durable", "no"))
        .await
        .unwrap_err();
    assert!(matches!(e, BackendError::Connect { .. }), "{e:?}");
    m.restart().unwrap();
    assert_eq!(
        etcd.get(b"durable").await.unwrap().unwrap().value,
        b"yes",
        "data survives on the same data dir"
    );
    etcd.put(&PutRequest::new("durable", "again"))
        .await
        .unwrap();
    assert_eq!(etcd.get(b"durable").await.unwrap().unwrap().value, b"again");
}

#[tokio::test]
async fn real_failover_to_second_endpoint() {
    let Some(m) = start("real_failover_to_second_endpoint", &[]) else {
        return;
    };
    let dead = format!(
        "http://127.0.0.1:{}",
        istio_nomad_tests::etcd::free_port().unwrap()
    );
    let cfg = EtcdConfig::builder()
        .endpoints([dead.as_str(), m.client_url()])
        .options(
            ClientOptions::new().retry(
                RetryPolicy::new()
                    .max_attempts(3)
                    .base_delay(Duration::from_millis(10)),
            ),
        )
        .build()
        .unwrap();
    let etcd = HttpEtcd::new(&cfg).unwrap();
    etcd.put(&PutRequest::new("k", "v")).await.unwrap();
    assert_eq!(etcd.get(b"k").await.unwrap().unwrap().value, b"v");
}

/// Runs `etcdctl` against the member (for set-up the client does not cover).
fn etcdctl(m: &EtcdMember, args: &[&str]) {
    let out = std::process::Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .arg(format!("--endpoints={}", m.client_url()))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "etcdctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn real_auth_token_and_reauthentication() {
    let Some(m) = start(
        "real_auth_token_and_reauthentication",
        &["--auth-token-ttl=1"],
    ) else {
        return;
    };
    let password = "Sup3r-secret-pw";
    etcdctl(&m, &["user", "add", &format!("root:{password}")]);
    etcdctl(&m, &["auth", "enable"]);

    let url = m.client_url().to_owned();
    let env = |user: String| {
        let url = url.clone();
        move |k: &str| match k {
            "ETCDCTL_ENDPOINTS" => Some(url.clone()),
            "ETCDCTL_USER" => Some(user.clone()),
            _ => None,
        }
    };
    let cfg = EtcdConfig::from_env_with(env(format!("root:{password}"))).unwrap();
    let etcd = HttpEtcd::new(&cfg).unwrap();
    etcd.put(&PutRequest::new("secure", "1")).await.unwrap();
    assert_eq!(etcd.get(b"secure").await.unwrap().unwrap().value, b"1");

    // Simple tokens expire after --auth-token-ttl of idleness: the client authenticates again.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(etcd.get(b"secure").await.unwrap().unwrap().value, b"1");

    // Without credentials: refused.
    let anon = client(&m);
    let e = anon.get(b"secure").await.unwrap_err();
    assert!(matches!(e.status(), Some(400..=499)), "{e:?}");

    // A wrong password: a clean error that never repeats the password.
    let wrong =
        HttpEtcd::new(&EtcdConfig::from_env_with(env("root:wrong-Pa55".into())).unwrap()).unwrap();
    let e = wrong.get(b"secure").await.unwrap_err();
    assert!(e.to_string().contains("authentication failed"), "{e}");
    for text in [
        e.to_string(),
        format!("{e:?}"),
        format!("{wrong:?}"),
        format!("{etcd:?}"),
        format!("{cfg:?}"),
    ] {
        assert!(
            !text.contains("wrong-Pa55") && !text.contains(password),
            "secret leaked: {text}"
        );
    }
    etcdctl(
        &m,
        &["--user", &format!("root:{password}"), "auth", "disable"],
    );
}
