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

/// Apply and destroy options as data: the JSON the C ABI takes and what the Python keywords
/// fill in. Every field is optional (the default of [`ApplyOptions`] otherwise); durations
/// are seconds, fractions allowed.
///
/// ```json
/// {"health_deadline_secs": 600, "query_wait_secs": 30, "lock_ttl_secs": 30,
///  "lock_wait_secs": 0, "prune": false, "wait_for_health": true}
/// ```
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApplySettings {
    /// [`ApplyOptions::health_deadline`] in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_deadline_secs: Option<f64>,
    /// [`ApplyOptions::query_wait`] in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query_wait_secs: Option<f64>,
    /// [`ApplyOptions::lock_ttl`] in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lock_ttl_secs: Option<f64>,
    /// [`ApplyOptions::lock_wait`] in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lock_wait_secs: Option<f64>,
    /// [`ApplyOptions::prune`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prune: Option<bool>,
    /// [`ApplyOptions::wait_for_health`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait_for_health: Option<bool>,
}

fn seconds(name: &str, v: f64) -> Result<Duration> {
    Duration::try_from_secs_f64(v).map_err(|_| {
        Error::field(
            format!("options.{name}"),
            "must be a non-negative number of seconds",
            v,
        )
    })
}

impl ApplySettings {
    /// The options these settings give, checked like [`ApplyOptionsBuilder::build`]; a bad
    /// duration is a validation error at `options.<field>`.
    pub fn to_options(&self) -> Result<ApplyOptions> {
        let mut b = ApplyOptions::builder();
        if let Some(v) = self.health_deadline_secs {
            b = b.health_deadline(seconds("health_deadline_secs", v)?);
        }
        if let Some(v) = self.query_wait_secs {
            b = b.query_wait(seconds("query_wait_secs", v)?);
        }
        if let Some(v) = self.lock_ttl_secs {
            b = b.lock_ttl(seconds("lock_ttl_secs", v)?);
        }
        if let Some(v) = self.lock_wait_secs {
            b = b.lock_wait(seconds("lock_wait_secs", v)?);
        }
        if let Some(v) = self.prune {
            b = b.prune(v);
        }
        if let Some(v) = self.wait_for_health {
            b = b.wait_for_health(v);
        }
        b.build()
    }
}

impl ApplyOptions {
    /// Reads [`ApplySettings`] JSON (empty text: the defaults); a value of the wrong type is
    /// a parse error at `options.<field>`.
    pub fn from_json(text: &str) -> Result<ApplyOptions> {
        if text.trim().is_empty() {
            return Ok(ApplyOptions::default());
        }
        crate::error::json::from_json_text::<ApplySettings>(text, "options")?.to_options()
    }
}
