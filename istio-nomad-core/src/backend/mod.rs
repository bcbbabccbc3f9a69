//! Nomad, Consul and etcd clients behind traits, over HTTP or in memory.
//!
//! Each server has a trait ([`Nomad`], [`Consul`], [`Etcd`]) with two implementations:
//!
//! * an HTTP client ([`HttpNomad`], [`HttpConsul`], [`HttpEtcd`]) configured from the tool's
//!   standard environment variables (`NOMAD_ADDR`, `CONSUL_HTTP_ADDR`, `ETCDCTL_ENDPOINTS`, ...)
//!   or from an explicit builder;
//! * an in-memory server ([`MemoryNomad`], [`MemoryConsul`], [`MemoryEtcd`]) that keeps the
//!   rules of the real one: indexes only grow, check-and-set is enforced, blocking queries wake
//!   on change, jobs get versions and deployments, missing objects give 404.
//!
//! Requests are built as data first ([`request::Request`], by pure functions in each
//! `requests` module) and only then executed by [`transport::HttpTransport`], which adds
//! timeouts and retries: connection failures are retried for every call (the server cannot
//! have seen the request), 429 and 5xx answers and timeouts only for idempotent calls.
//!
//! Tokens travel only in headers (`X-Nomad-Token`, `X-Consul-Token`, etcd's `Authorization`),
//! are held in [`Secret`] values, and never appear in `Debug` output, logs or errors.
//!
//! Blocking reads return [`Indexed`] values: the index comes from the `X-Nomad-Index` /
//! `X-Consul-Index` header, and a missing or malformed header is an error, never 0.

mod blocking;
pub mod consul;
mod env;
mod error;
pub mod etcd;
pub mod nomad;
pub mod request;
mod secret;
pub mod transport;

use std::fmt;
use std::time::Duration;

pub use consul::{Consul, ConsulConfig, HttpConsul, MemoryConsul};
pub use error::BackendError;
pub use etcd::{Etcd, EtcdConfig, HttpEtcd, MemoryEtcd};
pub use nomad::{HttpNomad, JobBody, MemoryNomad, Nomad, NomadConfig};
pub use secret::Secret;
pub use transport::{ClientOptions, RetryPolicy, TlsConfig};

/// Result of a backend call.
pub type BackendResult<T> = std::result::Result<T, BackendError>;

/// The server a request goes to (named in errors and logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    /// HashiCorp Nomad.
    Nomad,
    /// HashiCorp Consul.
    Consul,
    /// etcd (v3 JSON gateway).
    Etcd,
}

impl Service {
    /// Lower-case name: `nomad`, `consul` or `etcd`.
    pub fn as_str(self) -> &'static str {
        match self {
            Service::Nomad => "nomad",
            Service::Consul => "consul",
            Service::Etcd => "etcd",
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A value read with a blocking query, with the index to pass to the next query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Indexed<T> {
    /// The server's index for this read (`X-Nomad-Index`, `X-Consul-Index`); never 0.
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
/// With `index` set, the server holds the request until its index for the data is greater
/// than `index` or `wait` runs out (the server's default is 5 minutes, its maximum 10).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryOptions {
    /// Return only when the data's index is greater than this.
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

    /// The longest time the server may hold this query: `wait` (default 5 minutes, capped at
    /// 10) plus the up-to-wait/16 jitter the server adds. Zero when the query does not block.
    pub fn server_hold(&self) -> Duration {
        if self.index.is_none() {
            return Duration::ZERO;
        }
        let wait = self.wait.unwrap_or(DEFAULT_WAIT).min(MAX_WAIT);
        wait + wait / 16
    }

    /// The `wait` the server will use (default 5 minutes, capped at 10), when blocking.
    pub(crate) fn effective_wait(&self) -> Duration {
        self.wait.unwrap_or(DEFAULT_WAIT).min(MAX_WAIT)
    }
}

/// Default hold time of a blocking query (Nomad and Consul).
pub(crate) const DEFAULT_WAIT: Duration = Duration::from_secs(300);
/// Longest hold time a server accepts for a blocking query.
pub(crate) const MAX_WAIT: Duration = Duration::from_secs(600);

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
