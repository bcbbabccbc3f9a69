//! The etcd job: in `ha`, one task group `etcd` whose `count` allocations are the members,
//! each named from its allocation index (`etcd-${NOMAD_ALLOC_INDEX}`), so that Nomad's rolling
//! update (`max_parallel = 1`) replaces one member at a time and waits for it to be healthy
//! before the next; static peer and client ports, Consul services per member,
//! `--initial-cluster` from the members' Consul DNS names, data that survives restarts.
//!
//! Why one group and not one group per member: Nomad's reconciler applies `max_parallel` per
//! group (hashicorp/nomad v1.11.3 `scheduler/reconciler/reconcile_cluster.go`
//! `computeUnderProvisionedBy`), so a change to a job of N one-member groups replaces all N
//! members at once and the cluster loses its quorum. In one group, a destructive update
//! replaces at most `MaxParallel` allocations, in name order, and no more while an updated
//! one is not yet healthy; an unhealthy one stops the rollout (`computeDestructiveUpdates`,
//! `computeUnderProvisionedBy`). The replacement keeps the allocation's name, so its index,
//! member name and data directory (`placeName: alloc.Name`). A first placement (no
//! destructive update) places the whole count at once, which a new etcd cluster needs to
//! elect a leader (`computeUnderProvisionedBy`: `group.Count` when nothing is replaced).
//! Nomad interpolates `${NOMAD_ALLOC_INDEX}` in the task's driver arguments
//! (`client/allocrunner/taskrunner/task_runner.go`, `hclutils.ParseHclInterface` with the
//! task environment) and in service tags and check names (`client/taskenv/services.go`
//! `InterpolateService`).

use super::templates::{
    base_job, docker_task, http_check, network, reschedule_policy, restart_policy, service,
    spread_over_nodes, tcp_check,
};
use crate::error::Result;
use crate::nomad::{Constraint, EphemeralDisk, Job, TaskGroup, VolumeMount, VolumeRequest, SECOND};
use crate::spec::control_plane::Role;
use crate::spec::control_plane::{
    consul_dns, job_id, EtcdStorage, MeshContext, Profile, ResolvedControlPlane,
};

use crate::spec::control_plane::DEV_LEGACY_PORT;
/// The etcd binary in the `quay.io/coreos/etcd` images.
pub const ETCD_BINARY: &str = "/usr/local/bin/etcd";
/// Where a host volume is mounted in the etcd container.
pub const HOST_VOLUME_MOUNT: &str = "/var/lib/etcd";
/// The name of the host volume in the group's `volume` block.
const VOLUME_NAME: &str = "etcd-data";

/// Name of member `i` (`etcd-0`): its `--name` and Consul tag.
pub fn member_name(i: i64) -> String {
    format!("etcd-{i}")
}

/// The member name as the job writes it: Nomad puts each allocation's index in its place.
const MEMBER_NAME_AT_RUN_TIME: &str = "etcd-${NOMAD_ALLOC_INDEX}";

/// Consul service of the members' client ports (`<mesh>-etcd`), checked with `/health`.
pub fn client_service(mesh: &str) -> String {
    job_id(mesh, Role::Etcd)
}

/// Consul service of the members' peer ports (`<mesh>-etcd-peer`), checked with TCP so that
/// it resolves before the cluster has a quorum.
pub fn peer_service(mesh: &str) -> String {
    format!("{}-peer", job_id(mesh, Role::Etcd))
}

/// Consul DNS name of member `i`'s peer address: `etcd-<i>.<mesh>-etcd-peer.service.consul`.
pub fn peer_host(mesh: &str, i: i64) -> String {
    format!("{}.{}", member_name(i), consul_dns(&peer_service(mesh)))
}

/// Consul DNS name of member `i`'s client address: `etcd-<i>.<mesh>-etcd.service.consul`.
pub fn client_host(mesh: &str, i: i64) -> String {
    format!("{}.{}", member_name(i), consul_dns(&client_service(mesh)))
}

/// The client URLs of every member, as the API server's `--etcd-servers` lists them.
pub(crate) fn client_urls(ctx: &MeshContext, r: &ResolvedControlPlane) -> Vec<String> {
    match r.profile {
        Profile::Dev => vec![format!(
            "http://{}:{}",
            consul_dns(&client_service(&ctx.name)),
            r.etcd_client_port
        )],
        Profile::Ha => (0..r.etcd.count)
            .map(|i| {
                format!(
                    "http://{}:{}",
                    client_host(&ctx.name, i),
                    r.etcd_client_port
                )
            })
            .collect(),
    }
}

fn data_root(r: &ResolvedControlPlane) -> String {
    match r.etcd_storage {
        EtcdStorage::EphemeralDisk => "${NOMAD_ALLOC_DIR}/data".into(),
        EtcdStorage::HostVolume => HOST_VOLUME_MOUNT.into(),
    }
}

/// The command-line arguments of every member of an `ha` cluster (real etcd 3.4 flags), the
/// member's own name and addresses from its allocation index.
fn member_args(ctx: &MeshContext, r: &ResolvedControlPlane) -> Vec<String> {
    let name = MEMBER_NAME_AT_RUN_TIME;
    let own = |service: &str| format!("{name}.{}", consul_dns(service));
    let initial_cluster: Vec<String> = (0..r.etcd.count)
        .map(|j| {
            format!(
                "{}=http://{}:{}",
                member_name(j),
                peer_host(&ctx.name, j),
                r.etcd_peer_port
            )
        })
        .collect();
    vec![
        format!("--name={name}"),
        format!("--data-dir={}/{name}", data_root(r)),
        // In the container 0.0.0.0 reaches only the ports Docker publishes on the host address.
        "--listen-peer-urls=http://0.0.0.0:${NOMAD_PORT_peer}".into(),
        "--listen-client-urls=http://0.0.0.0:${NOMAD_PORT_client}".into(),
        format!(
            "--advertise-client-urls=http://{}:{}",
            own(&client_service(&ctx.name)),
            r.etcd_client_port
        ),
        format!(
            "--initial-advertise-peer-urls=http://{}:{}",
            own(&peer_service(&ctx.name)),
            r.etcd_peer_port
        ),
        format!("--initial-cluster={}", initial_cluster.join(",")),
        "--initial-cluster-state=new".into(),
        format!("--initial-cluster-token={}", r.etcd_token),
    ]
}

fn storage(g: &mut TaskGroup, r: &ResolvedControlPlane) {
    match r.etcd_storage {
        EtcdStorage::EphemeralDisk => {
            g.ephemeral_disk = Some(EphemeralDisk {
                sticky: Some(true),
                migrate: Some(true),
                size_mb: Some(r.etcd_disk_mb),
                ..Default::default()
            });
        }
        EtcdStorage::HostVolume => {
            g.volumes.insert(
                VOLUME_NAME.into(),
                VolumeRequest {
                    name: Some(VOLUME_NAME.into()),
                    volume_type: Some("host".into()),
                    source: Some(r.etcd_volume.clone()),
                    read_only: Some(false),
                    ..Default::default()
                },
            );
        }
    }
}

fn mount(task: &mut crate::nomad::Task, r: &ResolvedControlPlane) {
    if r.etcd_storage == EtcdStorage::HostVolume {
        task.volume_mounts.push(VolumeMount {
            volume: Some(VOLUME_NAME.into()),
            destination: Some(HOST_VOLUME_MOUNT.into()),
            read_only: Some(false),
            ..Default::default()
        });
    }
}

/// The etcd job of a mesh.
pub(crate) fn etcd_job(ctx: &MeshContext, r: &ResolvedControlPlane) -> Result<Job> {
    let mut job = base_job(ctx, r, Role::Etcd, &r.etcd);
    let client_svc = client_service(&ctx.name);
    match r.profile {
        Profile::Ha => {
            if r.etcd.count > 1 {
                job.constraints.push(Constraint::distinct_hosts());
                job.spreads.push(spread_over_nodes());
            }
            let name = MEMBER_NAME_AT_RUN_TIME.to_owned();
            let mut g = TaskGroup::new("etcd").count(r.etcd.count);
            g.networks.push(network(
                &[
                    ("client", r.etcd_client_port, r.etcd_client_port),
                    ("peer", r.etcd_peer_port, r.etcd_peer_port),
                ],
                &[],
            ));
            storage(&mut g, r);
            g.restart_policy = Some(restart_policy());
            g.reschedule_policy = Some(reschedule_policy());
            g.services.push(service(
                &client_svc,
                "client",
                vec![name.clone()],
                vec![http_check(&format!("{name}-health"), "client", "/health")],
                false,
            ));
            g.services.push(service(
                &peer_service(&ctx.name),
                "peer",
                vec![name.clone()],
                vec![tcp_check(&format!("{name}-peer"), "peer")],
                false,
            ));
            let mut t = docker_task("etcd", r, &r.etcd, member_args(ctx, r), &["client", "peer"])
                .config("command", super::etcd::ETCD_BINARY);
            t.kill_timeout = Some(30 * SECOND);
            mount(&mut t, r);
            g.tasks.push(t);
            job.task_groups.push(g);
        }
        Profile::Dev => {
            let mut g = TaskGroup::new("etcd").count(1);
            g.networks.push(network(
                &[
                    ("client", r.etcd_client_port, 2379),
                    ("peer", r.etcd_peer_port, 2380),
                    ("legacy", DEV_LEGACY_PORT, DEV_LEGACY_PORT),
                ],
                &[],
            ));
            storage(&mut g, r);
            g.restart_policy = Some(restart_policy());
            g.reschedule_policy = Some(reschedule_policy());
            g.services.push(service(
                &client_svc,
                "client",
                vec![],
                vec![http_check("etcd-health", "client", "/health")],
                false,
            ));
            // The compose file's arguments, unchanged; the working directory holds etcd's
            // default data dir (`default.etcd`), so it lives on the allocation's disk.
            let args = vec![
                "-advertise-client-urls=http://0.0.0.0:2379".to_string(),
                "-listen-client-urls=http://0.0.0.0:2379".to_string(),
            ];
            let mut t = docker_task("etcd", r, &r.etcd, args, &["client", "peer", "legacy"])
                .config("command", ETCD_BINARY)
                .config("work_dir", data_root(r));
            t.kill_timeout = Some(30 * SECOND);
            mount(&mut t, r);
            g.tasks.push(t);
            job.task_groups.push(g);
        }
    }
    Ok(job)
}
