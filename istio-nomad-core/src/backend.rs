//! Nomad, Consul and etcd clients behind traits (placeholder until the module lands).

/// A backend call that failed.
#[derive(Debug, thiserror::Error)]
#[error("backend: {0}")]
pub struct BackendError(pub String);
