//! The generated etcd job really forms a cluster: the rendered members' commands and
//! arguments, with Nomad's and Consul's run-time values substituted (see
//! `istio_nomad_tests::etcd_members`), run as real etcd processes on loopback.
#![allow(clippy::unwrap_used)]

use istio_nomad_core::plan::plan;
use istio_nomad_core::spec::control_plane::Profile;
use istio_nomad_core::spec::MeshSpec;
use istio_nomad_tests::etcd_members::{
    alloc_slots, etcd_binary, free_port, get, member_names, put, retry, task_command, Member,
    Substitution,
};
use serde_json::Value;
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

fn etcd_job(profile: Profile) -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/bookinfo.mesh.hcl");
    let mut spec = MeshSpec::from_file(path).unwrap();
    spec.control_plane.profile = profile;
    let plan = plan(&spec).unwrap();
    plan.job("bookinfo-etcd")
        .unwrap()
        .job
        .to_json_value()
        .unwrap()
}

#[test]
fn ha_etcd_job_forms_a_three_member_cluster_that_survives_a_member_loss() {
    let Some(bin) = etcd_binary() else {
        return;
    };
    let job = etcd_job(Profile::Ha);
    // One group whose three allocations are the members, named from their index.
    let groups = job["TaskGroups"].as_array().unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0]["Name"], "etcd");
    assert_eq!(groups[0]["Count"], 3);
    let slots = alloc_slots(&job);
    assert_eq!(slots.len(), 3);
    let tmp = tempfile::tempdir().unwrap();
    let ports: Vec<(u16, u16)> = (0..3).map(|_| (free_port(), free_port())).collect();

    // Consul DNS names of every member -> that member's loopback address.
    let mut cluster = Substitution::new();
    for (i, (client, peer)) in ports.iter().enumerate() {
        cluster = cluster
            .with(
                format!("etcd-{i}.bookinfo-etcd-peer.service.consul:2380"),
                format!("127.0.0.1:{peer}"),
            )
            .with(
                format!("etcd-{i}.bookinfo-etcd.service.consul:2379"),
                format!("127.0.0.1:{client}"),
            );
    }
    let mut members: Vec<Member> = Vec::new();
    for (i, slot) in slots.iter().enumerate() {
        let name = slot.member.clone();
        assert_eq!(name, format!("etcd-{i}"));
        assert_eq!(slot.command, "/usr/local/bin/etcd");
        let alloc = tmp.path().join(format!("alloc-{i}"));
        std::fs::create_dir_all(alloc.join("data")).unwrap();
        let (client, peer) = ports[i];
        let sub = cluster
            .clone()
            .with("${NOMAD_PORT_client}", client.to_string())
            .with("${NOMAD_PORT_peer}", peer.to_string())
            .with("${NOMAD_ALLOC_DIR}", alloc.display().to_string())
            .with("0.0.0.0", "127.0.0.1");
        let args: Vec<String> = slot.args.iter().map(|a| sub.apply(a)).collect();
        assert!(args.contains(&format!("--name={name}")));
        assert!(args.contains(&"--initial-cluster-state=new".to_string()));
        members.push(Member::new(
            name,
            format!("http://127.0.0.1:{client}"),
            &bin,
            args,
            &alloc,
            &tmp.path().join(format!("etcd-{i}.log")),
        ));
    }
    for m in &mut members {
        m.start();
    }
    for m in &mut members {
        m.wait_healthy(T);
    }

    // Three members, named as the job names them.
    for m in &members {
        assert_eq!(
            member_names(&m.client_url).unwrap(),
            ["etcd-0", "etcd-1", "etcd-2"]
        );
    }

    // A write on one member is read on another.
    put(&members[0].client_url, "/mesh/a", "written-on-0").unwrap();
    assert_eq!(
        get(&members[2].client_url, "/mesh/a").unwrap().as_deref(),
        Some("written-on-0")
    );

    // One member killed: the other two keep a quorum and stay writable.
    members[1].kill();
    retry(T, || {
        put(&members[2].client_url, "/mesh/b", "written-while-1-down")
    })
    .unwrap();
    assert_eq!(
        get(&members[0].client_url, "/mesh/b").unwrap().as_deref(),
        Some("written-while-1-down")
    );

    // Restarted with the same arguments on its data dir, it rejoins and has all the data.
    let data_dir = tmp.path().join("alloc-1/data/etcd-1/member");
    assert!(data_dir.is_dir(), "{} missing", data_dir.display());
    members[1].start();
    members[1].wait_healthy(T);
    let b = retry(T, || match get(&members[1].client_url, "/mesh/b")? {
        Some(v) => Ok(v),
        None => Err("not replicated yet".into()),
    })
    .unwrap();
    assert_eq!(b, "written-while-1-down");
    assert_eq!(
        get(&members[1].client_url, "/mesh/a").unwrap().as_deref(),
        Some("written-on-0")
    );
    assert_eq!(
        member_names(&members[1].client_url).unwrap(),
        ["etcd-0", "etcd-1", "etcd-2"]
    );
    put(&members[1].client_url, "/mesh/c", "written-on-1").unwrap();
    assert_eq!(
        get(&members[0].client_url, "/mesh/c").unwrap().as_deref(),
        Some("written-on-1")
    );
}

#[test]
fn dev_etcd_job_runs_one_member_that_keeps_its_data() {
    let Some(bin) = etcd_binary() else {
        return;
    };
    let job = etcd_job(Profile::Dev);
    let g = &job["TaskGroups"][0];
    let task = &g["Tasks"][0];
    let (command, args) = task_command(task);
    assert_eq!(command, "/usr/local/bin/etcd");
    // The compose arguments leave the peer URL at etcd's default, localhost:2380.
    if std::net::TcpListener::bind("127.0.0.1:2380").is_err() {
        panic!("port 2380 is in use: the dev etcd (the compose file's arguments) listens for peers on localhost:2380");
    }
    let tmp = tempfile::tempdir().unwrap();
    let client = free_port();
    let alloc = tmp.path().join("alloc");
    std::fs::create_dir_all(alloc.join("data")).unwrap();
    let sub = Substitution::new()
        .with("0.0.0.0:2379", format!("127.0.0.1:{client}"))
        .with("${NOMAD_ALLOC_DIR}", alloc.display().to_string());
    let args: Vec<String> = args.iter().map(|a| sub.apply(a)).collect();
    let cwd = sub.apply(task["Config"]["work_dir"].as_str().unwrap());
    let mut m = Member::new(
        "default",
        format!("http://127.0.0.1:{client}"),
        &bin,
        args,
        std::path::Path::new(&cwd),
        &tmp.path().join("etcd.log"),
    );
    m.start();
    m.wait_healthy(T);
    assert_eq!(member_names(&m.client_url).unwrap(), ["default"]);
    put(&m.client_url, "/mesh/dev", "kept").unwrap();
    assert_eq!(
        get(&m.client_url, "/mesh/dev").unwrap().as_deref(),
        Some("kept")
    );

    // etcd's default data dir sits in the working directory, the allocation's data folder.
    m.kill();
    assert!(alloc.join("data/default.etcd/member").is_dir());
    m.start();
    m.wait_healthy(T);
    assert_eq!(
        get(&m.client_url, "/mesh/dev").unwrap().as_deref(),
        Some("kept")
    );
}
