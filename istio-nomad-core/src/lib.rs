//! # istio-nomad-core
//!
//! Turns one declarative mesh description into everything an Istio service mesh on
//! HashiCorp Nomad, Consul and etcd needs, verifies it, and applies it.
//!
//! The data flows one way: **spec -> plan -> render / apply**.
//!
//! * [`spec`]: the mesh description ([`spec::MeshSpec`]), parsed from HCL or JSON and validated once.
//! * [`nomad`]: the typed Nomad job model, read and written as API JSON and as HCL2 jobspecs.
//! * [`control_plane`]: etcd, the Istio API server, Pilot, Mixer and Citadel as Nomad jobs.
//! * [`sidecar`]: injection of the Istio proxy and its iptables init task into any Nomad job.
//! * [`iptables`]: Istio's interception rules as typed data, rendered and applied atomically.
//! * [`vm`]: the sidecar bundle for hosts outside Nomad.
//! * [`verify`]: the data-path check: what Nomad registers in Consul and what Pilot makes of it.
//! * [`backend`]: Nomad, Consul and etcd clients behind traits, over HTTP or in memory.
//! * [`install`]: plan, diff, apply and destroy against those backends.
//! * [`error`]: the error types every layer returns.

pub mod backend;
pub mod control_plane;
pub mod error;
pub mod install;
pub mod iptables;
pub mod nomad;
pub mod plan;
pub mod sidecar;
pub mod spec;
pub mod verify;
pub mod vm;

pub use error::{Error, FieldError, Result, ValidationErrors};
