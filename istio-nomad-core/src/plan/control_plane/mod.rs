//! The Istio control plane as Nomad jobs: etcd, the Istio API server, Pilot, Mixer, Citadel and
//! Zipkin, HA and secure by default.
//!
//! [`jobs`] turns the `control_plane { ... }` section of a [`MeshSpec`] into one job per
//! component, each with its [`Role`] and the IDs of the jobs it needs first:
//!
//! ```text
//! <mesh>-etcd -> <mesh>-apiserver -> { <mesh>-pilot, <mesh>-mixer, <mesh>-citadel }
//! <mesh>-zipkin (no dependency)
//! ```
//!
//! Each component also has a consuming builder ([`EtcdJob::builder`], [`ApiServerJob::builder`],
//! [`PilotJob::builder`], [`MixerJob::builder`], [`CitadelJob::builder`], [`ZipkinJob::builder`])
//! for Rust programs that want one job alone:
//!
//! ```
//! use istio_nomad_core::plan::control_plane::EtcdJob;
//!
//! let job = EtcdJob::builder("bookinfo").members(5).build().unwrap();
//! assert_eq!(job.id(), "bookinfo-etcd");
//! assert_eq!(job.task_groups.len(), 1); // one group, one allocation per member
//! assert_eq!(job.task_groups[0].count, Some(5));
//! assert!(EtcdJob::builder("bookinfo").members(4).build().is_err());
//! ```
//!
//! Nomad interpolations in settings (`${node.class}` in a constraint, `${attr...}` in
//! `consul_url` or `dns_servers`) are written `$${...}` in an HCL mesh spec (HCL's escape) and
//! `${...}` in JSON; they reach the job unchanged.
//!
//! # Profiles
//!
//! * `ha` (default): a 3-member etcd cluster, two replicas of the API server, Pilot, Mixer and
//!   Citadel, every job spread over hosts with `distinct_hosts`, the API server on its TLS port
//!   only (client certificates required), rolling updates with `auto_revert`.
//! * `dev`: the settings of Istio's Consul docker-compose file (`install/consul/istio.yaml`), so
//!   a user can compare: one etcd (`quay.io/coreos/etcd:latest` with the compose arguments), the
//!   API server `gcr.io/google_containers/kube-apiserver-amd64:v1.7.3` on the insecure port 8080
//!   bound to 0.0.0.0, Pilot with the compose's 1.0 arguments, Zipkin 2.7. Mixer and Citadel are
//!   off, as the compose file never ran them; `enabled = true` turns them on.
//!
//! The few places where a Nomad job cannot copy the compose file are these: compose aliases
//! (`etcd`, `istio-apiserver`, `consul`) become Consul DNS names and the node's Consul agent;
//! the kubeconfig file is a Nomad template mounted where compose mounted it; etcd's working
//! directory is the allocation's `data` folder so its default data dir survives restarts; and
//! Pilot's gRPC port 15010 is published, since sidecars on other hosts reach it through the host.
//!
//! # How etcd members find each other
//!
//! The members are the allocations of one task group `etcd` (`count` = the cluster size), each
//! named from its allocation index: `--name=etcd-${NOMAD_ALLOC_INDEX}`, which Nomad keeps when it
//! replaces an allocation, so a member keeps its name and data across updates. A change to the
//! job rolls the members one at a time (`max_parallel = 1`), each healthy before the next, and
//! the installer checks the whole cluster (member list and `/health`) before and after; see
//! `etcd.rs` for why one group per member would restart every member at once. The members run on
//! static peer and client ports (2380 and 2379 unless set) and register two Consul services
//! tagged with the member name:
//!
//! * `<mesh>-etcd-peer` on the peer port with a TCP check: it passes as soon as etcd listens,
//!   before the cluster has a quorum, so the name `etcd-<i>.<mesh>-etcd-peer.service.consul`
//!   resolves during bootstrap (Consul DNS hides only critical instances);
//! * `<mesh>-etcd` on the client port with an HTTP check of `/health` (healthy once the member
//!   sees a leader); clients use `etcd-<i>.<mesh>-etcd.service.consul`.
//!
//! `--initial-cluster` lists every member by its peer DNS name and the static peer port, which is
//! why the ports are static: a member's peer URL is stored in the cluster membership and must not
//! change across restarts. The containers resolve `.consul` names through the host's resolver or
//! through `dns_servers` (set it to a resolver that forwards `.consul` to Consul).
//!
//! # Where etcd keeps its data
//!
//! `etcd { storage { type = "ephemeral_disk" } }` (default) keeps the data dir in the
//! allocation's `data` folder with a **sticky, migrating** ephemeral disk: it survives task
//! restarts and job updates (sticky) and follows the allocation when Nomad moves it to another
//! node while the old node is still reachable (migrate). No node setup is needed, but when a
//! node is lost its member's data is lost with it, and that member must be removed and re-added
//! with `etcdctl member remove/add`. `type = "host_volume"` mounts a Nomad host volume (`volume =
//! "etcd-data"` by default, declared in each client's config): the data survives anything short
//! of losing the disk, but a member can only run on nodes that have the volume, so a lost node
//! keeps its member down until the node returns or the member is replaced.

mod builders;
mod components;
mod etcd;
pub mod opens;
mod templates;

pub use builders::{
    ApiServerJob, ApiServerJobBuilder, CitadelJob, CitadelJobBuilder, EtcdJob, EtcdJobBuilder,
    MixerJob, MixerJobBuilder, PilotJob, PilotJobBuilder, ZipkinJob, ZipkinJobBuilder,
};

use crate::error::Result;
use crate::plan::PlannedJob;
use crate::spec::control_plane::{job_id, MeshContext, Role};
use crate::spec::MeshSpec;
pub use components::{
    APISERVER_INSECURE, CITADEL_GRPC, MESH_CONFIG_PATH, MIXER_GRPC, MONITORING, PILOT_GRPC,
    PILOT_HTTP, ZIPKIN_PORT,
};
pub use etcd::{
    client_host, client_service, member_name, peer_host, peer_service, ETCD_BINARY,
    HOST_VOLUME_MOUNT,
};
pub use opens::{check_health, CheckHealth, LISTENER_TABLE};

/// The control-plane jobs of a mesh, with their roles and dependencies:
/// etcd -> API server -> {Pilot, Mixer, Citadel}; Zipkin depends on nothing.
pub fn jobs(spec: &MeshSpec) -> Result<Vec<PlannedJob>> {
    let ctx = MeshContext::from_mesh(spec);
    let cp = &spec.control_plane;
    cp.validate_with(&ctx).into_result()?;
    let r = cp.resolve(&ctx);
    let etcd_id = job_id(&ctx.name, Role::Etcd);
    let api_id = job_id(&ctx.name, Role::ApiServer);
    let mut out = vec![
        PlannedJob {
            job: etcd::etcd_job(&ctx, &r)?,
            role: Role::Etcd,
            depends_on: vec![],
        },
        PlannedJob {
            job: components::apiserver_job(&ctx, &r)?,
            role: Role::ApiServer,
            depends_on: vec![etcd_id],
        },
        PlannedJob {
            job: components::pilot_job(&ctx, &r)?,
            role: Role::Pilot,
            depends_on: vec![api_id.clone()],
        },
    ];
    if r.mixer.enabled {
        out.push(PlannedJob {
            job: components::mixer_job(&ctx, &r)?,
            role: Role::Mixer,
            depends_on: vec![api_id.clone()],
        });
    }
    if r.citadel.enabled {
        out.push(PlannedJob {
            job: components::citadel_job(&ctx, &r)?,
            role: Role::Citadel,
            depends_on: vec![api_id],
        });
    }
    if r.zipkin.enabled {
        out.push(PlannedJob {
            job: components::zipkin_job(&ctx, &r)?,
            role: Role::Zipkin,
            depends_on: vec![],
        });
    }
    Ok(out)
}
