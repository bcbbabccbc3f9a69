//! Diff, apply and destroy a [`Plan`](crate::plan::Plan) against Nomad, Consul and etcd.
//!
//! [`Installer`] turns a plan into calls on the [backend traits](crate::backend):
//!
//! * [`Installer::diff`] asks Nomad to plan every job and compares with what was recorded:
//!   per job *create*, *update* (with Nomad's `DesiredTGUpdates` annotations) or *unchanged*.
//!   It writes nothing.
//! * [`Installer::apply`] registers the jobs in dependency order ([`Plan::order`](crate::plan::Plan::order)), the jobs
//!   of one stage concurrently, and waits at each job for its health gates: the job's latest
//!   deployment `successful` (blocking queries on `/v1/job/:id/deployment` with `index` and
//!   `wait`) and every Consul service of the job with as many passing instances as the job
//!   places (blocking queries on `/v1/health/service/:name?passing`), each within a deadline.
//!   It stops at the first failed job and reports it ([`InstallError`] names the job).
//! * [`Installer::destroy`] deregisters (purges) the jobs in reverse order and clears the
//!   recorded state.
//!
//! # Idempotent and resumable
//!
//! What was applied is recorded in a [`StateStore`] (etcd by default, or Consul KV): the
//! spec hash and, per job, the content hash, version and `JobModifyIndex`. Every decision is
//! made from that record *and* the server's current job:
//!
//! * a job whose Nomad plan shows no difference is not registered again; a missing or stale
//!   record is written once its health gates pass (this is how an interrupted apply resumes);
//! * a job that differs is registered with `EnforceIndex` and the `JobModifyIndex` Nomad's
//!   plan returned (0 for a new job), so a change made by someone else between the read and
//!   the write is reported as [`Error::Conflict`](crate::Error::Conflict), never overwritten;
//! * when nothing differs and every job's latest deployment is successful, `apply` takes no
//!   lock and writes nothing at all (no register, no state write).
//!
//! # Two operators
//!
//! A locked apply holds the mesh lock (`istio-nomad/<mesh>/lock`, see [`state`]): an etcd key
//! bound to a lease (or a Consul KV entry with an expiry) renewed in the background. A second
//! apply or destroy gets [`Error::Conflict`](crate::Error::Conflict) naming the holder and
//! since when; a crashed holder's lock expires with its lease. Every state write is a
//! check-and-set that also checks the lock is still ours (etcd transaction), so a process
//! that lost its lock cannot write.
//!
//! # Host mode
//!
//! Groups with the meta `istio-nomad.host-mode = "true"` run their proxy in the node's
//! network namespace, so two of them on one node would fight over the node's iptables rules.
//! After a job with such groups is placed, the installer lists its running allocations and
//! those of every other host-mode job of the mesh (allocations API) and fails with
//! [`InstallError::HostModeCollision`] when two share a `NodeID`; a job created by this apply
//! is stopped again so that nothing is left running on the shared node.
//!
//! ```
//! # #[cfg(feature = "test-util")]
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use istio_nomad_core::install::{ApplyOptions, InMemoryCluster, Installer};
//! use istio_nomad_core::{plan::plan, spec::MeshSpec};
//!
//! let spec = MeshSpec::from_hcl(r#"
//!     mesh "demo" {
//!       service "web" {
//!         image = "nginx:1.27"
//!         port "http" { port = 80 }
//!       }
//!     }"#)?;
//! let plan = plan(&spec)?;
//! let cluster = InMemoryCluster::new();
//! let installer = Installer::new(cluster.backends());
//! let report = installer.apply(&plan, &ApplyOptions::default()).await?;
//! assert_eq!(report.created().len(), plan.jobs.len());
//! // A second apply changes nothing and writes nothing.
//! let again = installer.apply(&plan, &ApplyOptions::default()).await?;
//! assert_eq!(again.writes.total(), 0);
//! # Ok::<(), istio_nomad_core::Error>(())
//! # }).unwrap();
//! ```

mod backends;
pub mod etcd_gate;
mod events;
#[cfg(feature = "test-util")]
pub mod fault;
mod health;
mod installer;
#[cfg(feature = "test-util")]
mod memory;
mod options;
mod report;
pub mod state;
mod verify_live;

pub use crate::error::install::InstallError;
pub use backends::{BackendSource, Backends, ADDRESS_VARIABLES};
pub use etcd_gate::{ConsulEtcdEndpoints, EtcdEndpoints, EtcdGate, StaticEtcdEndpoints};
pub use events::{Event, EventSink, Operation};
pub use installer::{Installer, InstallerBuilder, StateBackend};
#[cfg(feature = "test-util")]
pub use memory::{dynamic_port, ClusterNomad, InMemoryCluster, NODE_ADDRESS};
pub use options::{ApplyOptions, ApplyOptionsBuilder, ApplySettings};
pub use report::{
    ApplyReport, Change, DestroyReport, Diff, JobAction, JobChange, JobOutcome, Writes,
};
pub use state::{ConsulStateStore, EtcdStateStore, StateStore};
pub use verify_live::verify_live;

/// Group meta key that marks a group whose proxy runs in the node's network namespace (set by
/// [`crate::plan::sidecar::inject`] in host mode).
pub const HOST_MODE_META: &str = crate::plan::sidecar::meta::HOST_MODE;
