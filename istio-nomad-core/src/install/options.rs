//! How an apply or destroy runs: [`ApplyOptions`] and its builder.

use std::time::Duration;

use crate::error::{Error, Result};

/// How an apply or destroy runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyOptions {
    /// Longest wait for one job's health gates (deployment, then Consul), default 10 min.
    pub health_deadline: Duration,
    /// `wait` of each blocking query (capped by what is left of the deadline), default 60 s.
    pub query_wait: Duration,
    /// TTL of the mesh lock, default 15 s (whole seconds, at least 1).
    pub lock_ttl: Duration,
    /// How long to wait for a lock held by someone else before failing with a conflict,
    /// default 0 (fail at once).
    pub lock_wait: Duration,
    /// Deregister jobs recorded by an earlier apply that are no longer in the plan, default true.
    pub prune: bool,
    /// Wait for health gates (apply) and for services to leave Consul (destroy), default true.
    pub wait_for_health: bool,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            health_deadline: Duration::from_secs(600),
            query_wait: Duration::from_secs(60),
            lock_ttl: Duration::from_secs(15),
            lock_wait: Duration::ZERO,
            prune: true,
            wait_for_health: true,
        }
    }
}

impl ApplyOptions {
    /// A builder starting from the defaults.
    pub fn builder() -> ApplyOptionsBuilder {
        ApplyOptionsBuilder(ApplyOptions::default())
    }
}

/// Builds [`ApplyOptions`].
#[derive(Debug, Clone)]
#[must_use]
pub struct ApplyOptionsBuilder(ApplyOptions);

impl ApplyOptionsBuilder {
    /// Sets [`ApplyOptions::health_deadline`].
    pub fn health_deadline(mut self, d: Duration) -> Self {
        self.0.health_deadline = d;
        self
    }

    /// Sets [`ApplyOptions::query_wait`].
    pub fn query_wait(mut self, d: Duration) -> Self {
        self.0.query_wait = d;
        self
    }

    /// Sets [`ApplyOptions::lock_ttl`].
    pub fn lock_ttl(mut self, d: Duration) -> Self {
        self.0.lock_ttl = d;
        self
    }

    /// Sets [`ApplyOptions::lock_wait`].
    pub fn lock_wait(mut self, d: Duration) -> Self {
        self.0.lock_wait = d;
        self
    }

    /// Sets [`ApplyOptions::prune`].
    pub fn prune(mut self, yes: bool) -> Self {
        self.0.prune = yes;
        self
    }

    /// Sets [`ApplyOptions::wait_for_health`].
    pub fn wait_for_health(mut self, yes: bool) -> Self {
        self.0.wait_for_health = yes;
        self
    }

    /// Checks the values: a lock TTL of whole seconds, at least 1; a positive deadline and
    /// query wait.
    pub fn build(self) -> Result<ApplyOptions> {
        let o = self.0;
        if o.lock_ttl < Duration::from_secs(1) || o.lock_ttl.subsec_nanos() != 0 {
            return Err(Error::field(
                "lock_ttl",
                "must be whole seconds, at least 1 s",
                format!("{:?}", o.lock_ttl),
            ));
        }
        if o.health_deadline.is_zero() {
            return Err(Error::field("health_deadline", "must be positive", "0s"));
        }
        if o.query_wait < Duration::from_millis(1) {
            return Err(Error::field(
                "query_wait",
                "must be at least 1 ms",
                format!("{:?}", o.query_wait),
            ));
        }
        Ok(o)
    }
}
