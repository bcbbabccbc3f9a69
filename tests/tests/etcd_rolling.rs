//! A change of the `ha` etcd job rolls a real 3-member etcd 3.4 cluster one member at a time
//! while a client writes and reads every 100 ms: no read fails and no write is lost.
//!
//! No Nomad runs here, so the test plays Nomad's part from the rendered jobs: the members are
//! the job's allocations (`alloc_slots`: the etcd task's exact arguments, `${NOMAD_ALLOC_INDEX}`
//! replaced), replaced in the batches Nomad's reconciler would use (`rolling_batches`:
//! `MaxParallel` per group, every group at once), each replacement stopped with SIGTERM,
//! started with the new version's arguments on the same data directory (the sticky disk), and
//! healthy when its `/health` (the job's Consul check) stays true for the minimum healthy time
//! (the job's 30 s, shortened to 2 s here). After every step the installer's own gate
//! (`EtcdGate`: member list and every member's `/health`) must see the cluster whole.
//!
//! The same load against the earlier job layout (one group per member, each `count = 1`),
//! which Nomad replaces all at once, shows what the layout prevents: no member healthy at
//! one moment. A member that does not come back stops the rollout with a quorum left.
//!
//! Figures are printed (`cargo test -p istio-nomad-tests --test etcd_rolling -- --nocapture`).
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use istio_nomad_core::backend::etcd::{PutRequest, RangeRequest};
use istio_nomad_core::backend::{ClientOptions, Etcd, EtcdConfig, HttpEtcd, RetryPolicy};
use istio_nomad_core::install::{EtcdGate, StaticEtcdEndpoints};
use istio_nomad_core::nomad::Job;
use istio_nomad_core::plan::plan;
use istio_nomad_core::spec::control_plane::Profile;
use istio_nomad_core::spec::MeshSpec;
use istio_nomad_tests::etcd_members::{
    alloc_slots, etcd_binary, free_port, health, member_names, rolling_batches, Member,
    Substitution,
};
use serde_json::Value;

const T: Duration = Duration::from_secs(30);
/// The job's `min_healthy_time` is 30 s; the test waits 2 s of continuous health.
const MIN_HEALTHY: Duration = Duration::from_secs(2);
/// The job's `healthy_deadline` is 300 s; a member that is not healthy in 15 s fails here.
const HEALTHY_DEADLINE: Duration = Duration::from_secs(15);
const TICK: Duration = Duration::from_millis(100);

/// The `ha` etcd job of the sample mesh, with extra etcd arguments.
fn etcd_job(extra_args: &[&str]) -> Job {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/bookinfo.mesh.hcl");
    let mut spec = MeshSpec::from_file(path).unwrap();
    spec.control_plane.profile = Profile::Ha;
    spec.control_plane.etcd.args = extra_args.iter().map(|s| (*s).to_owned()).collect();
    plan(&spec)
        .unwrap()
        .job("bookinfo-etcd")
        .unwrap()
        .job
        .clone()
}

/// The earlier layout of the same job: one group per member, each of count 1.
fn one_group_per_member(job: &Value) -> Value {
    let mut out = job.clone();
    let g = &job["TaskGroups"][0];
    let groups: Vec<Value> = alloc_slots(job)
        .iter()
        .map(|s| {
            let mut m = g.clone();
            m["Name"] = Value::from(s.member.clone());
            m["Count"] = Value::from(1);
            m["Tasks"][0]["Config"]["args"] = Value::from(
                s.args
                    .iter()
                    .map(|a| Value::from(a.clone()))
                    .collect::<Vec<_>>(),
            );
            m
        })
        .collect();
    out["TaskGroups"] = Value::from(groups);
    out
}

/// Three members on loopback, one per allocation of the job.
struct Cluster {
    members: Vec<Member>,
    subs: Vec<Substitution>,
    urls: BTreeMap<String, String>,
    _tmp: tempfile::TempDir,
}

impl Cluster {
    fn start(bin: &std::path::Path, job: &Value) -> Cluster {
        let slots = alloc_slots(job);
        let tmp = tempfile::tempdir().unwrap();
        let ports: Vec<(u16, u16)> = slots.iter().map(|_| (free_port(), free_port())).collect();
        let mut dns = Substitution::new();
        for (i, (client, peer)) in ports.iter().enumerate() {
            dns = dns
                .with(
                    format!("etcd-{i}.bookinfo-etcd-peer.service.consul:2380"),
                    format!("127.0.0.1:{peer}"),
                )
                .with(
                    format!("etcd-{i}.bookinfo-etcd.service.consul:2379"),
                    format!("127.0.0.1:{client}"),
                );
        }
        let (mut members, mut subs, mut urls) = (Vec::new(), Vec::new(), BTreeMap::new());
        for (i, slot) in slots.iter().enumerate() {
            let alloc = tmp.path().join(format!("alloc-{i}"));
            std::fs::create_dir_all(alloc.join("data")).unwrap();
            let (client, peer) = ports[i];
            let sub = dns
                .clone()
                .with("${NOMAD_PORT_client}", client.to_string())
                .with("${NOMAD_PORT_peer}", peer.to_string())
                .with("${NOMAD_ALLOC_DIR}", alloc.display().to_string())
                .with("0.0.0.0", "127.0.0.1");
            let url = format!("http://127.0.0.1:{client}");
            members.push(Member::new(
                slot.member.clone(),
                url.clone(),
                bin,
                slot.args.iter().map(|a| sub.apply(a)).collect(),
                &alloc,
                &tmp.path().join(format!("{}.log", slot.member)),
            ));
            urls.insert(slot.member.clone(), url);
            subs.push(sub);
        }
        for m in &mut members {
            m.start();
        }
        for m in &mut members {
            m.wait_healthy(T);
        }
        Cluster {
            members,
            subs,
            urls,
            _tmp: tmp,
        }
    }

    fn healthy_count(&self) -> usize {
        self.members
            .iter()
            .filter(|m| health(&m.client_url) == Ok(true))
            .count()
    }
}

/// What the client saw.
#[derive(Debug, Default)]
struct Load {
    ticks: u64,
    writes: u64,
    write_retries: u64,
    writes_given_up: u64,
    reads: u64,
    failed_reads: u64,
    lost_writes: u64,
    max_write: Duration,
    max_read: Duration,
}

/// Every 100 ms: write `/load/<n>` (retried until it succeeds, for at most 10 s) and read it
/// back (one linearizable read through the client's failover; an error or another value is a
/// failed read). At the end every acknowledged write is read again.
fn run_load(urls: Vec<String>, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<Load> {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let etcd = HttpEtcd::new(
                &EtcdConfig::builder()
                    .endpoints(urls)
                    .options(
                        ClientOptions::new()
                            .timeout(Duration::from_secs(2))
                            .connect_timeout(Duration::from_millis(500))
                            .retry(RetryPolicy::new().max_attempts(4)),
                    )
                    .build()
                    .unwrap(),
            )
            .unwrap();
            let mut l = Load::default();
            let mut acked = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                let tick = Instant::now();
                l.ticks += 1;
                let key = format!("/load/{:06}", l.ticks);
                let value = format!("v{}", l.ticks);
                let t = Instant::now();
                let mut ok = false;
                while t.elapsed() < Duration::from_secs(10) {
                    l.writes += 1;
                    if etcd
                        .put(&PutRequest::new(key.clone(), value.clone()))
                        .await
                        .is_ok()
                    {
                        ok = true;
                        break;
                    }
                    l.write_retries += 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                l.max_write = l.max_write.max(t.elapsed());
                if !ok {
                    l.writes_given_up += 1;
                    continue;
                }
                acked.push((key.clone(), value.clone()));
                let t = Instant::now();
                l.reads += 1;
                match etcd.range(&RangeRequest::key(key.clone())).await {
                    Ok(r)
                        if r.kvs.first().map(|kv| kv.value.as_slice())
                            == Some(value.as_bytes()) => {}
                    _ => l.failed_reads += 1,
                }
                l.max_read = l.max_read.max(t.elapsed());
                tokio::time::sleep(TICK.saturating_sub(tick.elapsed())).await;
            }
            for (k, v) in &acked {
                let r = etcd.range(&RangeRequest::key(k.clone())).await.unwrap();
                if r.kvs.first().map(|kv| kv.value.as_slice()) != Some(v.as_bytes()) {
                    l.lost_writes += 1;
                }
            }
            l
        })
    })
}

/// How one rollout went.
#[derive(Debug, Default)]
struct Rollout {
    steps: usize,
    /// Fewest members healthy at any look during the rollout.
    min_healthy: usize,
    /// The member that did not come back, if any (the rollout stopped there).
    failed: Option<String>,
    took: Duration,
}

/// Replaces the members batch by batch as Nomad would for a destructive update to `new`;
/// `between` runs after every healthy batch.
fn roll(
    bin: &std::path::Path,
    c: &mut Cluster,
    new: &Value,
    mut between: impl FnMut(&Cluster),
) -> Rollout {
    let started = Instant::now();
    let slots = alloc_slots(new);
    let mut r = Rollout {
        min_healthy: c.members.len(),
        ..Rollout::default()
    };
    for batch in rolling_batches(new) {
        r.steps += 1;
        for &i in &batch {
            c.members[i].stop(Duration::from_secs(30));
            let args = slots[i].args.iter().map(|a| c.subs[i].apply(a)).collect();
            let m = &c.members[i];
            c.members[i] = Member::new(
                m.name.clone(),
                m.client_url.clone(),
                bin,
                args,
                &m.cwd,
                &m.log,
            );
        }
        r.min_healthy = r.min_healthy.min(c.healthy_count());
        for &i in &batch {
            c.members[i].start();
        }
        // Nomad's deployment health: the check passes for the minimum healthy time before
        // the healthy deadline; else the allocation is unhealthy and nothing else is replaced.
        let deadline = Instant::now() + HEALTHY_DEADLINE;
        let mut healthy_since: BTreeMap<usize, Instant> = BTreeMap::new();
        loop {
            r.min_healthy = r.min_healthy.min(c.healthy_count());
            for &i in &batch {
                if c.members[i].exited() || health(&c.members[i].client_url) != Ok(true) {
                    healthy_since.remove(&i);
                } else {
                    healthy_since.entry(i).or_insert_with(Instant::now);
                }
            }
            if batch.iter().all(|i| {
                healthy_since
                    .get(i)
                    .is_some_and(|t| t.elapsed() >= MIN_HEALTHY)
            }) {
                break;
            }
            if Instant::now() > deadline {
                let bad = batch
                    .iter()
                    .find(|i| !healthy_since.contains_key(i))
                    .unwrap_or(&batch[0]);
                r.failed = Some(c.members[*bad].name.clone());
                r.took = started.elapsed();
                return r;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        between(c);
    }
    r.took = started.elapsed();
    r
}

fn gate(c: &Cluster) -> EtcdGate {
    EtcdGate::new(Arc::new(StaticEtcdEndpoints(c.urls.clone()))).poll(Duration::from_millis(100))
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn a_changed_etcd_job_rolls_one_member_at_a_time_without_a_failed_read_or_a_lost_write() {
    let Some(bin) = etcd_binary() else {
        return;
    };
    let v1 = etcd_job(&[]);
    let v2 = etcd_job(&["--snapshot-count=50000"]);
    let (j1, j2) = (v1.to_json_value().unwrap(), v2.to_json_value().unwrap());
    assert_ne!(j1, j2);
    // Three batches of one member, in name order.
    assert_eq!(rolling_batches(&j2), vec![vec![0], vec![1], vec![2]]);
    let mut c = Cluster::start(&bin, &j1);
    let g = gate(&c);
    // The installer's check before a change: the cluster is whole.
    block_on(g.check_whole("bookinfo", &v2)).unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let load = run_load(c.urls.values().cloned().collect(), stop.clone());
    std::thread::sleep(Duration::from_secs(1));
    let mut after_each = Vec::new();
    let r = roll(&bin, &mut c, &j2, |c| {
        let h = block_on(gate(c).health("bookinfo", &v2)).unwrap();
        after_each.push(h.is_whole());
    });
    std::thread::sleep(Duration::from_secs(1));
    stop.store(true, Ordering::SeqCst);
    let l = load.join().unwrap();
    println!(
        "rolling etcd (one group, max_parallel 1): {} steps in {:.1} s, at least {} of 3 \
         members healthy throughout; client: {} ticks of 100 ms, {} reads ({} failed), {} \
         write attempts ({} retried, {} given up), {} lost writes, slowest write {} ms, \
         slowest read {} ms",
        r.steps,
        r.took.as_secs_f64(),
        r.min_healthy,
        l.ticks,
        l.reads,
        l.failed_reads,
        l.writes,
        l.write_retries,
        l.writes_given_up,
        l.lost_writes,
        l.max_write.as_millis(),
        l.max_read.as_millis()
    );
    assert_eq!(r.failed, None);
    assert_eq!(r.steps, 3);
    assert!(r.min_healthy >= 2, "{r:?}");
    assert_eq!(
        after_each,
        [true, true, true],
        "the gate saw the cluster whole after each member"
    );
    assert_eq!(l.failed_reads, 0, "{l:?}");
    assert_eq!(l.lost_writes, 0, "{l:?}");
    assert_eq!(l.writes_given_up, 0, "{l:?}");
    assert!(l.ticks >= 30, "{l:?}");
    // Every member runs the new arguments, with its old name and data.
    for m in &c.members {
        assert!(
            m.args.contains(&"--snapshot-count=50000".to_owned()),
            "{}",
            m.name
        );
        assert_eq!(
            member_names(&m.client_url).unwrap(),
            ["etcd-0", "etcd-1", "etcd-2"]
        );
    }
    block_on(g.check("bookinfo", &v2, tokio::time::Instant::now() + T)).unwrap();
}

#[test]
fn one_group_per_member_is_replaced_all_at_once() {
    let Some(bin) = etcd_binary() else {
        return;
    };
    let j1 = one_group_per_member(&etcd_job(&[]).to_json_value().unwrap());
    let j2 = one_group_per_member(
        &etcd_job(&["--snapshot-count=50000"])
            .to_json_value()
            .unwrap(),
    );
    assert_eq!(rolling_batches(&j2), vec![vec![0, 1, 2]]);
    let mut c = Cluster::start(&bin, &j1);
    let stop = Arc::new(AtomicBool::new(false));
    let load = run_load(c.urls.values().cloned().collect(), stop.clone());
    std::thread::sleep(Duration::from_secs(1));
    let r = roll(&bin, &mut c, &j2, |_| {});
    std::thread::sleep(Duration::from_secs(1));
    stop.store(true, Ordering::SeqCst);
    let l = load.join().unwrap();
    println!(
        "etcd as one group per member (replaced at once): {} step in {:.1} s, {} of 3 members \
         healthy at the lowest; client: {} reads ({} failed), {} write attempts ({} retried), \
         {} lost writes, slowest write {} ms",
        r.steps,
        r.took.as_secs_f64(),
        r.min_healthy,
        l.reads,
        l.failed_reads,
        l.writes,
        l.write_retries,
        l.lost_writes,
        l.max_write.as_millis()
    );
    assert_eq!(r.failed, None);
    assert_eq!(r.min_healthy, 0, "every member was down at once: no quorum");
    assert_eq!(l.lost_writes, 0);
}

#[test]
fn a_member_that_does_not_come_back_stops_the_rollout_with_a_quorum_left() {
    let Some(bin) = etcd_binary() else {
        return;
    };
    let v1 = etcd_job(&[]);
    // etcd refuses an unknown flag and exits: the first replaced member never comes back.
    let bad = etcd_job(&["--no-such-flag"]);
    let (j1, jb) = (v1.to_json_value().unwrap(), bad.to_json_value().unwrap());
    let mut c = Cluster::start(&bin, &j1);
    let stop = Arc::new(AtomicBool::new(false));
    let load = run_load(c.urls.values().cloned().collect(), stop.clone());
    std::thread::sleep(Duration::from_secs(1));
    let r = roll(&bin, &mut c, &jb, |_| {});
    // The rollout stopped at the first member; the two others were not touched.
    assert_eq!(r.failed.as_deref(), Some("etcd-0"));
    assert_eq!(r.steps, 1);
    assert!(c.members[0].exited());
    assert!(!c.members[1].args.contains(&"--no-such-flag".to_owned()));
    assert!(!c.members[2].args.contains(&"--no-such-flag".to_owned()));
    std::thread::sleep(Duration::from_secs(1));
    stop.store(true, Ordering::SeqCst);
    let l = load.join().unwrap();
    println!(
        "etcd rollout stopped at a member that did not come back: after {:.1} s, {} of 3 \
         members healthy at the lowest; client: {} reads ({} failed), {} lost writes",
        r.took.as_secs_f64(),
        r.min_healthy,
        l.reads,
        l.failed_reads,
        l.lost_writes
    );
    assert_eq!(r.min_healthy, 2, "a quorum of two stayed");
    assert_eq!(l.failed_reads, 0, "{l:?}");
    assert_eq!(l.lost_writes, 0, "{l:?}");
    // The installer's gate after the deployment names the missing member and fails.
    let err = block_on(gate(&c).check(
        "bookinfo",
        &bad,
        tokio::time::Instant::now() + Duration::from_secs(1),
    ))
    .unwrap_err()
    .to_string();
    assert!(err.contains("etcd-0"), "{err}");
    let h = block_on(gate(&c).health("bookinfo", &bad)).unwrap();
    assert!(h.has_quorum() && !h.is_whole(), "{h:?}");
}
