//! The health gate of the mesh's etcd cluster: every member started and listed, and every
//! member's `/health` true.
//!
//! The etcd job rolls its members one at a time (one group, `count` members, `update {
//! max_parallel = 1 }`, see [`crate::plan::control_plane`]), and Nomad itself holds each member
//! back until the previous one is healthy. The installer adds two checks around that:
//!
//! * before it registers a *change* of the etcd job, the cluster must be whole (every
//!   member listed, started and healthy): a rolling restart of a cluster that already lost
//!   a member would take it below quorum;
//! * after the job's deployment succeeds, the cluster must be whole again, checked through
//!   etcd's own API: `/v3/cluster/member/list` (names and client URLs of started members,
//!   etcd-io/etcd v3.4 `etcdserver/api/v3rpc/member.go` `MemberList`) and `/health` (a
//!   leader and no alarm, `etcdserver/api/etcdhttp/metrics.go` `checkHealth`).
//!
//! The members' client URLs come from an [`EtcdEndpoints`]: by default the Consul catalog
//! (service `<mesh>-etcd`, the instance tagged with the member name), which is what Consul
//! DNS answers for `etcd-<i>.<mesh>-etcd.service.consul`.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use crate::backend::{
    ClientOptions, Consul, Etcd, EtcdConfig, HttpEtcd, QueryOptions, RetryPolicy,
};
use crate::error::install::InstallError;
use crate::error::{Error, Result};
use crate::nomad::Job;

/// Where the members of a mesh's etcd cluster answer.
#[async_trait]
pub trait EtcdEndpoints: Send + Sync + fmt::Debug {
    /// The client URL of each member in `members` that can be found (by member name).
    async fn endpoints(&self, mesh: &str, members: &[String]) -> Result<BTreeMap<String, String>>;
}

/// Members found through the Consul catalog: service `<mesh>-etcd`, the instance tagged with
/// the member's name, at its service address (the node address when empty) and port.
#[derive(Clone)]
pub struct ConsulEtcdEndpoints {
    consul: Arc<dyn Consul>,
}

impl fmt::Debug for ConsulEtcdEndpoints {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsulEtcdEndpoints")
            .finish_non_exhaustive()
    }
}

impl ConsulEtcdEndpoints {
    /// Looks members up in `consul`.
    pub fn new(consul: Arc<dyn Consul>) -> Self {
        ConsulEtcdEndpoints { consul }
    }
}

#[async_trait]
impl EtcdEndpoints for ConsulEtcdEndpoints {
    async fn endpoints(&self, mesh: &str, members: &[String]) -> Result<BTreeMap<String, String>> {
        let service = crate::plan::control_plane::client_service(mesh);
        let instances = self
            .consul
            .catalog_service(&service, &QueryOptions::new())
            .await?
            .value;
        let mut out = BTreeMap::new();
        for m in members {
            if let Some(i) = instances.iter().find(|i| i.service_tags.contains(m)) {
                let host = if i.service_address.is_empty() {
                    &i.address
                } else {
                    &i.service_address
                };
                let host = if host.contains(':') && !host.starts_with('[') {
                    format!("[{host}]")
                } else {
                    host.clone()
                };
                out.insert(m.clone(), format!("http://{host}:{}", i.service_port));
            }
        }
        Ok(out)
    }
}

/// Fixed member URLs (members not in the map are treated as unreachable).
#[derive(Debug, Clone, Default)]
pub struct StaticEtcdEndpoints(pub BTreeMap<String, String>);

#[async_trait]
impl EtcdEndpoints for StaticEtcdEndpoints {
    async fn endpoints(&self, _mesh: &str, members: &[String]) -> Result<BTreeMap<String, String>> {
        Ok(self
            .0
            .iter()
            .filter(|(k, _)| members.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }
}

/// The member names an etcd job runs: the `--name` of its etcd task in every group, with
/// `${NOMAD_ALLOC_INDEX}` taking each allocation index of the group's count (etcd's default
/// `default` when the task names none).
pub fn member_names(job: &Job) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(v) = job.to_json_value() else {
        return out;
    };
    for g in v
        .get("TaskGroups")
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
    {
        let count = g
            .get("Count")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(1);
        for t in g
            .get("Tasks")
            .and_then(serde_json::Value::as_array)
            .into_iter()
            .flatten()
        {
            let config = t.get("Config");
            let command = config
                .and_then(|c| c.get("command"))
                .and_then(serde_json::Value::as_str);
            if command != Some(crate::plan::control_plane::ETCD_BINARY) {
                continue;
            }
            let name = config
                .and_then(|c| c.get("args"))
                .and_then(serde_json::Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(serde_json::Value::as_str)
                .find_map(|a| a.strip_prefix("--name="))
                .unwrap_or("default")
                .to_owned();
            if name.contains("${NOMAD_ALLOC_INDEX}") {
                for i in 0..count {
                    out.push(name.replace("${NOMAD_ALLOC_INDEX}", &i.to_string()));
                }
            } else {
                out.push(name);
            }
        }
    }
    out.sort();
    out
}

/// What the gate saw of the cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EtcdClusterHealth {
    /// The member names the job runs.
    pub expected: Vec<String>,
    /// Started members in the member list (by name).
    pub listed: Vec<String>,
    /// Members whose `/health` answered true.
    pub healthy: Vec<String>,
    /// Members that could not be asked, with why.
    pub unreachable: BTreeMap<String, String>,
}

impl EtcdClusterHealth {
    /// True when every expected member is listed as started and healthy.
    pub fn is_whole(&self) -> bool {
        self.expected
            .iter()
            .all(|m| self.listed.contains(m) && self.healthy.contains(m))
    }

    /// True when a majority of the expected members is healthy.
    pub fn has_quorum(&self) -> bool {
        self.healthy.len() * 2 > self.expected.len()
    }
}

impl fmt::Display for EtcdClusterHealth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let missing: Vec<&String> = self
            .expected
            .iter()
            .filter(|m| !self.healthy.contains(m))
            .collect();
        write!(
            f,
            "{}/{} members healthy, {} listed as started",
            self.healthy.len(),
            self.expected.len(),
            self.listed.len()
        )?;
        if !missing.is_empty() {
            let names: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
            write!(f, "; not healthy: {}", names.join(", "))?;
        }
        for (m, why) in &self.unreachable {
            write!(f, "; {m}: {why}")?;
        }
        Ok(())
    }
}

/// The etcd health gate (see the [module documentation](self)).
#[derive(Clone)]
pub struct EtcdGate {
    endpoints: Arc<dyn EtcdEndpoints>,
    poll: Duration,
    request_timeout: Duration,
}

impl fmt::Debug for EtcdGate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EtcdGate")
            .field("endpoints", &self.endpoints)
            .field("poll", &self.poll)
            .finish()
    }
}

impl EtcdGate {
    /// A gate that finds members through `endpoints`, polling every 500 ms.
    pub fn new(endpoints: Arc<dyn EtcdEndpoints>) -> Self {
        EtcdGate {
            endpoints,
            poll: Duration::from_millis(500),
            request_timeout: Duration::from_secs(3),
        }
    }

    /// Sets the pause between two looks at the cluster.
    #[must_use]
    pub fn poll(mut self, every: Duration) -> Self {
        self.poll = every.max(Duration::from_millis(10));
        self
    }

    fn client(&self, url: &str) -> Result<HttpEtcd> {
        let cfg = EtcdConfig::builder()
            .endpoints([url])
            .options(
                ClientOptions::new()
                    .timeout(self.request_timeout)
                    .connect_timeout(self.request_timeout)
                    .retry(RetryPolicy::none()),
            )
            .build()?;
        Ok(HttpEtcd::new(&cfg)?)
    }

    /// Looks at the cluster once.
    pub async fn health(&self, mesh: &str, job: &Job) -> Result<EtcdClusterHealth> {
        let expected = member_names(job);
        let urls = self.endpoints.endpoints(mesh, &expected).await?;
        let mut health = EtcdClusterHealth {
            expected: expected.clone(),
            ..EtcdClusterHealth::default()
        };
        let mut listed: Option<Vec<String>> = None;
        for m in &expected {
            let Some(url) = urls.get(m) else {
                health
                    .unreachable
                    .insert(m.clone(), "no address registered".into());
                continue;
            };
            let client = self.client(url)?;
            match client.health().await {
                Ok(true) => health.healthy.push(m.clone()),
                Ok(false) => {}
                Err(e) => {
                    health.unreachable.insert(m.clone(), e.to_string());
                    continue;
                }
            }
            if listed.is_none() {
                if let Ok(list) = client.member_list().await {
                    listed = Some(
                        list.members
                            .iter()
                            .filter(|m| m.is_started())
                            .map(|m| m.name.clone())
                            .collect(),
                    );
                }
            }
        }
        health.listed = listed.unwrap_or_default();
        health.listed.sort();
        Ok(health)
    }

    /// Fails unless the cluster is whole now (before a rolling change of the etcd job).
    pub async fn check_whole(&self, mesh: &str, job: &Job) -> Result<EtcdClusterHealth> {
        let h = self.health(mesh, job).await?;
        if h.is_whole() {
            return Ok(h);
        }
        Err(Error::Install(InstallError::EtcdUnhealthy {
            job: job.id().to_owned(),
            when: "before the rolling update (one member at a time needs every other member \
                   up to keep a quorum)"
                .into(),
            health: h.to_string(),
        }))
    }

    /// Waits until the cluster is whole, or fails at `deadline` with what was seen last.
    pub async fn check(&self, mesh: &str, job: &Job, deadline: Instant) -> Result<()> {
        loop {
            let h = self.health(mesh, job).await?;
            if h.is_whole() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(Error::Install(InstallError::EtcdUnhealthy {
                    job: job.id().to_owned(),
                    when: "after the deployment".into(),
                    health: h.to_string(),
                }));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            tokio::time::sleep(left.min(self.poll)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_and_quorum() {
        let mut h = EtcdClusterHealth {
            expected: vec!["etcd-0".into(), "etcd-1".into(), "etcd-2".into()],
            listed: vec!["etcd-0".into(), "etcd-1".into(), "etcd-2".into()],
            healthy: vec!["etcd-0".into(), "etcd-2".into()],
            unreachable: BTreeMap::new(),
        };
        assert!(!h.is_whole());
        assert!(h.has_quorum());
        assert_eq!(
            h.to_string(),
            "2/3 members healthy, 3 listed as started; not healthy: etcd-1"
        );
        h.healthy.push("etcd-1".into());
        assert!(h.is_whole());
        h.healthy.truncate(1);
        assert!(!h.has_quorum());
    }
}
