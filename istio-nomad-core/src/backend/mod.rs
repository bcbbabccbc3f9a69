//! Nomad, Consul and etcd clients behind traits, over HTTP or in memory.
//!
//! Each server has a trait ([`Nomad`], [`Consul`], [`Etcd`]) with two implementations:
//!
//! * an HTTP client ([`HttpNomad`], [`HttpConsul`], [`HttpEtcd`]) configured from the tool's
//!   standard environment variables (`NOMAD_ADDR`, `CONSUL_HTTP_ADDR`, `ETCDCTL_ENDPOINTS`, ...)
//!   or from an explicit builder;
//! * an in-memory server (`MemoryNomad`, `MemoryConsul`, `MemoryEtcd`; feature `test-util`) that keeps the
//!   rules of the real one: indexes only grow, check-and-set is enforced, blocking queries wake
//!   on change, jobs get versions and deployments, missing objects give 404.
//!
//! Requests are built as data first ([`request::Request`], by pure functions in each
//! `requests` module) and only then executed by [`transport::HttpTransport`], which adds
//! timeouts and retries: connection failures are retried for every call (the server cannot
//! have seen the request), 429 and 5xx answers and timeouts only for idempotent calls. Two
//! exceptions follow Nomad's code: its 429 comes from the HTTP connection limiter before the
//! request is read, so any Nomad call may be repeated after it; and a plan whose 500 carries
//! the job's validation errors is final. Nomad and Consul are also reached over `unix://`
//! sockets, as their Go clients allow.
//!
//! Tokens travel only in headers (`X-Nomad-Token`, `X-Consul-Token`, etcd's `Authorization`),
//! are held in [`Secret`] values, and never appear in `Debug` output, logs or errors.
//!
//! Blocking reads return [`Indexed`] values: the index comes from the `X-Nomad-Index` /
//! `X-Consul-Index` header, and a missing or non-numeric header is an error, never read as
//! 0. Nomad may legitimately send 0 (see [`Indexed::index`]); Consul never does.

#[cfg(feature = "test-util")]
mod blocking;
pub mod consul;
mod env;
pub mod etcd;
pub mod nomad;
pub mod request;
mod secret;
pub mod transport;

use std::time::Duration;

pub use crate::error::backend::{BackendError, Service};
#[cfg(feature = "test-util")]
pub use consul::MemoryConsul;
pub use consul::{Consul, ConsulConfig, HttpConsul};
#[cfg(feature = "test-util")]
pub use etcd::MemoryEtcd;
pub use etcd::{Etcd, EtcdConfig, HttpEtcd};
#[cfg(feature = "test-util")]
pub use nomad::MemoryNomad;
pub use nomad::{HttpNomad, JobBody, Nomad, NomadConfig};
pub use secret::{BasicAuth, Secret};
pub use transport::{ClientOptions, RetryPolicy, TlsConfig};

/// Result of a backend call.
pub type BackendResult<T> = std::result::Result<T, BackendError>;

/// A value read with a blocking query, with the index to pass to the next query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Indexed<T> {
    /// The server's index for this read (`X-Nomad-Index`, `X-Consul-Index`).
    ///
    /// Consul never sends 0 (its `setIndex` turns 0 into 1, hashicorp/consul
    /// `agent/http.go`), but Nomad does: `/v1/job/:id/deployment` reports the deployment
    /// table's index, which is 0 until the first deployment of the cluster exists
    /// (hashicorp/nomad `nomad/job_endpoint.go` `LatestDeployment`,
    /// `nomad/state/state_store.go` `Index`, `command/agent/http.go` `setIndex`, v1.6.9 to
    /// v1.11.3). A query with `index=0` does not block (`nomad/rpc.go` `blockingRPC`: "Fast
    /// path non-blocking"), so a caller that got 0 must pause before reading again.
    pub index: u64,
    /// What was read.
    pub value: T,
}

impl<T> Indexed<T> {
    /// Pairs a value with its index.
    pub fn new(index: u64, value: T) -> Self {
        Indexed { index, value }
    }

    /// Maps the value, keeping the index.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Indexed<U> {
        Indexed {
            index: self.index,
            value: f(self.value),
        }
    }
}

/// Options of a read: blocking (`index`, `wait`) and staleness.
///
/// With `index` set (and not 0), the server holds the request until its index for the data
/// is greater than `index` or `wait` runs out. Both servers default to 5 minutes; Nomad caps
/// the wait at 5 minutes (`MaxBlockingRPCQueryTime`, hashicorp/nomad
/// `nomad/structs/structs.go` `QueryOptions.TimeToBlock`), Consul at 10 (`maxQueryTime`,
/// hashicorp/consul `agent/consul/rpc.go`). Each adds up to wait/16 of jitter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryOptions {
    /// Return only when the data's index is greater than this (0: do not block, as both
    /// servers treat it).
    pub index: Option<u64>,
    /// How long the server may hold a blocking query.
    pub wait: Option<Duration>,
    /// Allow any server (not only the leader) to answer.
    pub stale: bool,
}

impl QueryOptions {
    /// A plain, non-blocking read.
    pub fn new() -> Self {
        Self::default()
    }

    /// A blocking read that returns once the index is greater than `index`, or after `wait`.
    /// An `index` of 0 gives a plain read (servers do not block on 0).
    pub fn blocking(index: u64, wait: Duration) -> Self {
        QueryOptions {
            index: Some(index),
            wait: Some(wait),
            stale: false,
        }
    }

    /// Sets the index to wait past.
    #[must_use]
    pub fn index(mut self, index: u64) -> Self {
        self.index = Some(index);
        self
    }

    /// Sets the longest time the server may hold the query.
    #[must_use]
    pub fn wait(mut self, wait: Duration) -> Self {
        self.wait = Some(wait);
        self
    }

    /// Allows a stale read from any server.
    #[must_use]
    pub fn stale(mut self, stale: bool) -> Self {
        self.stale = stale;
        self
    }

    /// True when the server will hold this query (an index other than 0).
    pub fn is_blocking(&self) -> bool {
        self.index.is_some_and(|i| i > 0)
    }

    /// The longest time `service` may hold this query: its `wait` (default 5 minutes,
    /// capped at the server's maximum) plus the up-to-wait/16 jitter the server adds. Zero
    /// when the query does not block.
    pub fn server_hold(&self, service: Service) -> Duration {
        if !self.is_blocking() {
            return Duration::ZERO;
        }
        let wait = self.effective_wait(service);
        wait + wait / 16
    }

    /// The `wait` `service` will use (default 5 minutes, capped at its maximum).
    pub fn effective_wait(&self, service: Service) -> Duration {
        self.wait.unwrap_or(DEFAULT_WAIT).min(max_wait(service))
    }
}

/// Default hold time of a blocking query (Nomad and Consul).
pub(crate) const DEFAULT_WAIT: Duration = Duration::from_secs(300);
/// Longest hold time Nomad accepts (`MaxBlockingRPCQueryTime`, hashicorp/nomad
/// `nomad/structs/structs.go`, v1.6.9 and v1.11.3).
pub const NOMAD_MAX_WAIT: Duration = Duration::from_secs(300);
/// Longest hold time Consul accepts (`maxQueryTime`, hashicorp/consul `agent/consul/rpc.go`).
pub const CONSUL_MAX_WAIT: Duration = Duration::from_secs(600);

/// The longest blocking wait `service` accepts.
pub fn max_wait(service: Service) -> Duration {
    match service {
        Service::Nomad => NOMAD_MAX_WAIT,
        Service::Consul | Service::Etcd => CONSUL_MAX_WAIT,
    }
}

/// Renders a wait as the Go clients do: whole milliseconds with an `ms` suffix, a positive
/// wait shorter than 1 ms rounded up to `1ms` (0 would make the server use its default).
pub fn wait_param(wait: Duration) -> String {
    let ms = wait.as_millis();
    let ms = if ms == 0 && !wait.is_zero() { 1 } else { ms };
    format!("{ms}ms")
}

/// Reads `null` as the type's default (Nomad and Consul send `null` for empty lists and maps).
pub(crate) fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + serde::Deserialize<'de>,
{
    use serde::Deserialize as _;
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}
