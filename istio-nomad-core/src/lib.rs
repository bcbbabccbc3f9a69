//! # istio-nomad-core
//!
//! Turns one declarative mesh description into everything an Istio service mesh on
//! HashiCorp Nomad, Consul and etcd needs, verifies it, and applies it.
//!
//! The data flows one way: **spec -> plan -> render / apply**, and so do the modules. Each
//! top-level module uses only its own layer and the layers above it in this table (a test,
//! `tests/module_layers.rs`, fails on a use that points down the table or on a cycle):
//!
//! | layer | modules | what they hold |
//! |---|---|---|
//! | errors | [`error`] | the error types every layer returns |
//! | models and formats | [`nomad`], [`iptables`], [`istio`] | the typed Nomad job model, read and written as API JSON and HCL2 jobspecs, and Nomad's service registration rules; Istio's interception rules as typed data, rendered as `iptables-restore` text and applied atomically; the supported Istio releases (1.0.x to 1.7.x) and what differs between them |
//! | spec | [`spec`] | every configuration type: the mesh description ([`spec::MeshSpec`]) and its builder, the control plane's settings and profiles ([`spec::control_plane`]), the sidecar's ([`spec::sidecar`]); parsed from HCL or JSON and validated once |
//! | plan | [`plan`] | pure functions from a spec to jobs: the control-plane jobs ([`plan::control_plane`]), sidecar injection into any Nomad job ([`plan::sidecar`]), the VM bundle ([`plan::vm`]), and the data-path check ([`plan::verify`]: what Nomad registers in Consul and what Pilot makes of it) |
//! | backends | [`backend`] | Nomad, Consul and etcd clients behind traits, over HTTP or in memory |
//! | apply | [`install`] | diff, apply and destroy against those backends, the state store and its lock, and the data-path check of a running cluster ([`install::verify_live`]) |

#[cfg(feature = "client")]
pub mod backend;
pub mod error;
#[cfg(feature = "client")]
pub mod install;
pub mod iptables;
pub mod istio;
pub mod nomad;
pub mod plan;
pub mod spec;

pub use error::{
    ConflictError, Error, ErrorKind, ErrorReport, FieldError, Result, ValidationErrors,
};
