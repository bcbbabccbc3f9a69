//! An in-memory Nomad, Consul and etcd wired together like a real cluster
//! ([`InMemoryCluster`]), for tests and for trying a mesh without servers (feature
//! `test-util`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use super::backends::{BackendSource, Backends};
use crate::backend::consul::{check_status, AgentCheck, ServiceRegistration};
use crate::backend::nomad::{
    AllocationListStub, Deployment, DeregisterResponse, Evaluation, JobVersions, NodeInfo,
    NodeListStub, PlanResponse, RegisterRequest, RegisterResponse, ValidateResponse,
};
use crate::backend::{
    BackendResult, Consul, Indexed, JobBody, MemoryConsul, MemoryEtcd, MemoryNomad, Nomad,
    QueryOptions,
};
use crate::nomad::registration::{
    group_registrations, AddressSource, Endpoint, GroupNetwork, PortSource, Registration,
};
use crate::nomad::Job;
use crate::plan::control_plane::CheckHealth;
use sha1::{Digest, Sha1};

/// Consul service IDs registered for each (namespace, job).
type Registered = Arc<Mutex<HashMap<(String, String), BTreeSet<String>>>>;
/// Jobs whose deployments the cluster fails because a check probes a port nothing opens.
type Unhealthy = Arc<Mutex<BTreeSet<String>>>;

/// An in-memory Nomad, Consul and etcd wired together like a real cluster: the allocations
/// of registered jobs become running (deployments progress), and then their services show up
/// in Consul with passing checks, as the Nomad client would register them (addresses and
/// ports by network mode and `address_mode`: bridge allocations get addresses from
/// 172.26.64.0/20, CNI ones from 10.89.0.0/16, the node is [`NODE_ADDRESS`]); stopped
/// allocations take their services away. Clones share the same cluster.
#[derive(Clone, Debug, Default)]
pub struct InMemoryCluster {
    /// The Nomad server (default namespace handle).
    pub nomad: MemoryNomad,
    /// The Consul agent.
    pub consul: MemoryConsul,
    /// The etcd member.
    pub etcd: MemoryEtcd,
    registered: Registered,
    unhealthy: Unhealthy,
    sync: Arc<tokio::sync::Mutex<()>>,
    addresses: Arc<Mutex<AllocAddresses>>,
}

impl InMemoryCluster {
    /// An empty cluster.
    pub fn new() -> Self {
        Self::default()
    }

    /// Trait objects over this cluster, Nomad in the `default` namespace.
    pub fn backends(&self) -> Backends {
        self.backends_in("default")
    }

    /// Trait objects over this cluster, Nomad in `namespace`.
    pub fn backends_in(&self, namespace: &str) -> Backends {
        Backends {
            nomad: Arc::new(self.nomad_in(namespace)),
            consul: Arc::new(self.consul.clone()),
            etcd: Arc::new(self.etcd.clone()),
            source: BackendSource::InMemory,
        }
    }

    /// The cluster's Nomad (with the Consul wiring) in `namespace`, as a concrete type for
    /// wrapping.
    pub fn nomad_in(&self, namespace: &str) -> ClusterNomad {
        ClusterNomad {
            inner: self.nomad.in_namespace(namespace),
            namespace: namespace.to_owned(),
            consul: self.consul.clone(),
            registered: self.registered.clone(),
            unhealthy: self.unhealthy.clone(),
            sync: self.sync.clone(),
            addresses: self.addresses.clone(),
        }
    }

    /// The address the cluster gave allocation `alloc_id` in its bridge or CNI network (what
    /// Nomad reports as the allocation's `NetworkStatus.Address`), once a service of it was
    /// registered.
    pub fn alloc_address(&self, alloc_id: &str) -> Option<String> {
        self.addresses
            .lock()
            .ok()
            .and_then(|a| a.by_alloc.get(alloc_id).cloned())
    }
}

/// The in-memory Nomad of an [`InMemoryCluster`]: a [`MemoryNomad`] whose running
/// allocations register their services in the cluster's Consul.
#[derive(Clone, Debug)]
pub struct ClusterNomad {
    inner: MemoryNomad,
    namespace: String,
    consul: MemoryConsul,
    registered: Registered,
    unhealthy: Unhealthy,
    sync: Arc<tokio::sync::Mutex<()>>,
    addresses: Arc<Mutex<AllocAddresses>>,
}

/// How long the cluster follows a job's allocations after a register.
const FOLLOW_FOR: Duration = Duration::from_secs(120);

/// The address of the in-memory Nomad node (its `unique.network.ip-address`, and the address
/// of the in-memory Consul agent's node).
pub const NODE_ADDRESS: &str = "127.0.0.1";

/// The first allocation address of Nomad's bridge network on the in-memory node: the network
/// is [`crate::nomad::registration::DEFAULT_BRIDGE_SUBNET`], whose first address is the bridge's
/// own (`client/allocrunner/networking_bridge_linux.go`, v1.6.9: host-local IPAM over
/// `bridge_network_subnet`).
const BRIDGE_FIRST: [u8; 4] = [172, 26, 64, 2];
/// The first allocation address the in-memory cluster gives a CNI network (`cni/<name>`): a
/// range of its own, 10.89.0.0/16, standing for whatever the CNI configuration's IPAM hands
/// out.
const CNI_FIRST: [u8; 4] = [10, 89, 0, 2];

/// The addresses the cluster gave its allocations, per allocation ID.
#[derive(Debug, Default)]
struct AllocAddresses {
    by_alloc: HashMap<String, String>,
    next_bridge: u32,
    next_cni: u32,
}

impl AllocAddresses {
    fn address(&mut self, alloc_id: &str, network: &GroupNetwork) -> Option<String> {
        if !network.has_alloc_address() {
            return None;
        }
        if let Some(a) = self.by_alloc.get(alloc_id) {
            return Some(a.clone());
        }
        let (first, next) = match network {
            GroupNetwork::Bridge => (BRIDGE_FIRST, &mut self.next_bridge),
            _ => (CNI_FIRST, &mut self.next_cni),
        };
        let ip = std::net::Ipv4Addr::from(u32::from_be_bytes(first).wrapping_add(*next));
        *next += 1;
        let a = ip.to_string();
        self.by_alloc.insert(alloc_id.to_owned(), a.clone());
        Some(a)
    }
}

/// The dynamic host port the in-memory cluster gives `label` in allocation `alloc_id`: stable
/// per allocation and label, in Nomad's default dynamic range (20000-32000).
pub fn dynamic_port(alloc_id: &str, label: &str) -> u16 {
    let h = alloc_id
        .bytes()
        .chain(label.bytes())
        .fold(17u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    (20_000 + h % 12_000) as u16
}

/// Go's `time.Duration.String()` for whole seconds and milliseconds (how Nomad sends a
/// check's interval and timeout to Consul).
fn go_duration(ns: i64) -> String {
    if ns % 1_000_000_000 == 0 {
        format!("{}s", ns / 1_000_000_000)
    } else {
        format!("{}ms", ns / 1_000_000)
    }
}

impl ClusterNomad {
    /// The concrete address and port of an endpoint in allocation `alloc_id`.
    fn resolve(&self, alloc_id: &str, r: &Registration, ep: &Endpoint) -> (String, u16) {
        let address = match &ep.address {
            AddressSource::Allocation => self
                .addresses
                .lock()
                .ok()
                .and_then(|mut a| a.address(alloc_id, &r.network))
                .unwrap_or_default(),
            AddressSource::Node => NODE_ADDRESS.to_owned(),
            // Empty: Consul uses the agent's node address (a docker task in a group network
            // reports no driver address of its own).
            AddressSource::Agent | AddressSource::Driver => String::new(),
            AddressSource::Custom(a) => a.clone(),
        };
        let port = match &ep.port {
            PortSource::Unset => 0,
            PortSource::Fixed(p) => *p,
            PortSource::Dynamic(label) => dynamic_port(alloc_id, label),
        };
        (address, port)
    }

    /// What Nomad's client registers in Consul for one service of a running allocation
    /// (`command/agent/consul/service_client.go` `serviceRegs`, `checkRegs`,
    /// `createCheckReg`, v1.6.9); a check passes unless `health` says it probes a port its group
    /// does not open ([`crate::plan::control_plane::check_health`]).
    /// Tags and check names get the allocation's index for `${NOMAD_ALLOC_INDEX}`, as the
    /// client interpolates them with the task environment (`client/taskenv/services.go`
    /// `InterpolateService`, v1.11.3; the index is the number in the allocation's name,
    /// `client/taskenv/env.go` `AllocIndex`).
    fn consul_registration(
        &self,
        alloc_id: &str,
        alloc_name: &str,
        r: &Registration,
        health: &[CheckHealth],
    ) -> ServiceRegistration {
        let index = alloc_name
            .rsplit_once('[')
            .and_then(|(_, rest)| rest.strip_suffix(']'))
            .unwrap_or("0")
            .to_owned();
        let interpolate = |s: &str| s.replace("${NOMAD_ALLOC_INDEX}", &index);
        let id = r.service_id(alloc_id);
        let (address, port) = self.resolve(alloc_id, r, &r.endpoint);
        let mut reg = ServiceRegistration::new(r.name.clone())
            .id(id.clone())
            .address(address, port);
        reg.tags = r.tags.iter().map(|t| interpolate(t)).collect();
        reg.meta = r.meta.clone();
        for (i, c) in r.checks.iter().enumerate() {
            // Nomad's IDs are `_nomad-check-<hash of the check and the service ID>`
            // (MakeCheckID); the hash here is SHA-1 over the service ID, the check's name and
            // its position: as stable, not byte-equal.
            let digest = Sha1::digest(format!("{id}\n{}\n{i}", c.name).as_bytes());
            let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            // Health modelled from what the group opens (control_plane::opens): a check on a
            // port nothing listens on stays critical.
            let passing = health
                .iter()
                .find(|h| {
                    h.group == r.group
                        && h.service == r.name
                        && (h.check == c.name || h.check == format!("check[{i}]"))
                })
                .is_none_or(|h| h.passing);
            let status = if passing {
                check_status::PASSING
            } else {
                check_status::CRITICAL
            };
            let mut check = AgentCheck {
                check_id: Some(format!("_nomad-check-{hex}")),
                name: Some(interpolate(&c.name)),
                status: Some(status.into()),
                ..AgentCheck::default()
            };
            let target = c.endpoint.as_ref().map(|ep| {
                let (a, p) = self.resolve(alloc_id, r, ep);
                // No address: Consul's agent checks its own.
                let host = if a.is_empty() {
                    NODE_ADDRESS.to_owned()
                } else {
                    a
                };
                format!("{host}:{p}")
            });
            match (c.check_type.as_str(), target) {
                ("tcp", Some(t)) => check.tcp = Some(t),
                ("http", Some(t)) => {
                    let proto = c.protocol.as_deref().unwrap_or("http");
                    let path = c.path.as_deref().unwrap_or("");
                    let sep = if path.starts_with('/') || path.is_empty() {
                        ""
                    } else {
                        "/"
                    };
                    check.http = Some(format!("{proto}://{t}{sep}{path}"));
                }
                ("grpc", Some(t)) => check.grpc = Some(t),
                // Script checks are TTL checks Nomad heartbeats (interval plus a 31 s buffer:
                // service_client.go ttlCheckBuffer).
                _ => check.ttl = Some(go_duration(c.interval.unwrap_or(0) + 31_000_000_000)),
            }
            if check.ttl.is_none() {
                check.interval = c.interval.map(go_duration);
                check.timeout = c.timeout.map(go_duration);
            }
            reg = reg.check(check);
        }
        reg
    }

    /// Makes Consul hold exactly the services of the job's running allocations, registered
    /// the way Nomad's client does: addresses and ports by network mode and `address_mode`
    /// ([`crate::nomad::registration`]), tags, meta (with `external-source = nomad`) and checks.
    async fn sync_services(&self, job_id: &str) -> BackendResult<Vec<AllocationListStub>> {
        let _one_at_a_time = self.sync.lock().await;
        let allocs = self
            .inner
            .job_allocations(job_id, true, &QueryOptions::new())
            .await?
            .value;
        let job = match self.inner.read_job(job_id, &QueryOptions::new()).await {
            Ok(j) => Job::from_json_value(j.value).ok(),
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(e),
        };
        // Check health modelled from what each component opens (control_plane::opens).
        let health = job
            .as_ref()
            .and_then(|j| j.to_json_value().ok())
            .map(|j| crate::plan::control_plane::check_health(&j))
            .unwrap_or_default();
        let mut want: BTreeMap<String, ServiceRegistration> = BTreeMap::new();
        for a in allocs
            .iter()
            .filter(|a| a.desired_status == "run" && a.client_status == "running")
        {
            let Some(group) = job.as_ref().and_then(|j| j.find_group(&a.task_group)) else {
                continue;
            };
            let path = format!("job[{job_id}].group[{}]", a.task_group);
            // Services Nomad would not or could not register stay out of the catalog.
            let (regs, _unregistered) = group_registrations(job_id, group, &path);
            for r in &regs {
                let reg = self.consul_registration(&a.id, &a.name, r, &health);
                want.insert(reg.service_id().to_owned(), reg);
            }
        }
        let key = (self.namespace.clone(), job_id.to_owned());
        let have: BTreeSet<String> = self
            .registered
            .lock()
            .map(|m| m.get(&key).cloned().unwrap_or_default())
            .unwrap_or_default();
        for id in have.iter().filter(|id| !want.contains_key(*id)) {
            self.consul.deregister_service(id).await?;
        }
        for (id, reg) in &want {
            if !have.contains(id) {
                self.consul.register_service(reg, true).await?;
            }
        }
        if let Ok(mut m) = self.registered.lock() {
            m.insert(key, want.into_keys().collect());
        }
        Ok(allocs)
    }

    /// A job with a check on a port nothing in its group opens never becomes healthy: its
    /// deployment fails, as a Nomad deployment with `health_check = "checks"` does
    /// ([`crate::plan::control_plane::check_health`]). A later version without such a check heals.
    fn model_health(&self, req: &RegisterRequest) {
        let Some(id) = req.job.get("ID").and_then(Value::as_str) else {
            return;
        };
        let sick = crate::plan::control_plane::check_health(&req.job)
            .iter()
            .any(|h| !h.passing);
        let Ok(mut set) = self.unhealthy.lock() else {
            return;
        };
        if sick {
            self.inner.fail_deployments(id);
            set.insert(id.to_owned());
        } else if set.remove(id) {
            self.inner.heal_deployments(id);
        }
    }

    /// Follows the job's allocations until none is pending, syncing Consul on each change.
    fn follow(&self, job_id: String) {
        let me = self.clone();
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        handle.spawn(async move {
            let deadline = tokio::time::Instant::now() + FOLLOW_FOR;
            let mut index = 0;
            while tokio::time::Instant::now() < deadline {
                let q = if index == 0 {
                    QueryOptions::new()
                } else {
                    QueryOptions::blocking(index, Duration::from_secs(10))
                };
                let Ok(r) = me.inner.job_allocations(&job_id, true, &q).await else {
                    return;
                };
                index = r.index;
                if index == 0 {
                    // Nomad does not block on index 0: pause instead of spinning.
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                // The scheduler works after the register answers: keep following while an
                // evaluation of the job is pending (read before the allocations, so that a
                // scheduler run in between shows in them) or an allocation is.
                let scheduling = me
                    .inner
                    .job_evaluations(&job_id, &QueryOptions::new())
                    .await
                    .is_ok_and(|e| e.value.iter().any(|e| e.status == "pending"));
                let Ok(allocs) = me.sync_services(&job_id).await else {
                    return;
                };
                if !scheduling
                    && !allocs
                        .iter()
                        .any(|a| a.desired_status == "run" && a.client_status == "pending")
                {
                    return;
                }
            }
        });
    }
}

#[async_trait]
impl Nomad for ClusterNomad {
    async fn register_job(&self, req: &RegisterRequest) -> BackendResult<RegisterResponse> {
        self.model_health(req);
        let r = self.inner.register_job(req).await?;
        if let Some(id) = req.job.get("ID").and_then(Value::as_str) {
            self.follow(id.to_owned());
        }
        Ok(r)
    }

    async fn plan_job(&self, job: &JobBody, diff: bool) -> BackendResult<PlanResponse> {
        self.inner.plan_job(job, diff).await
    }

    async fn validate_job(&self, job: &JobBody) -> BackendResult<ValidateResponse> {
        self.inner.validate_job(job).await
    }

    async fn read_job(&self, job_id: &str, q: &QueryOptions) -> BackendResult<Indexed<JobBody>> {
        self.inner.read_job(job_id, q).await
    }

    async fn job_versions(&self, job_id: &str, diffs: bool) -> BackendResult<Indexed<JobVersions>> {
        self.inner.job_versions(job_id, diffs).await
    }

    async fn deregister_job(&self, job_id: &str, purge: bool) -> BackendResult<DeregisterResponse> {
        let r = self.inner.deregister_job(job_id, purge).await?;
        self.sync_services(job_id).await?;
        self.follow(job_id.to_owned());
        Ok(r)
    }

    async fn job_allocations(
        &self,
        job_id: &str,
        all: bool,
        q: &QueryOptions,
    ) -> BackendResult<Indexed<Vec<AllocationListStub>>> {
        self.inner.job_allocations(job_id, all, q).await
    }

    async fn job_deployments(
        &self,
        job_id: &str,
        q: &QueryOptions,
    ) -> BackendResult<Indexed<Vec<Deployment>>> {
        self.inner.job_deployments(job_id, q).await
    }

    async fn latest_deployment(
        &self,
        job_id: &str,
        q: &QueryOptions,
    ) -> BackendResult<Indexed<Option<Deployment>>> {
        self.inner.latest_deployment(job_id, q).await
    }

    async fn job_evaluations(
        &self,
        job_id: &str,
        q: &QueryOptions,
    ) -> BackendResult<Indexed<Vec<Evaluation>>> {
        self.inner.job_evaluations(job_id, q).await
    }

    async fn evaluation(
        &self,
        eval_id: &str,
        q: &QueryOptions,
    ) -> BackendResult<Indexed<Evaluation>> {
        self.inner.evaluation(eval_id, q).await
    }

    async fn list_nodes(&self, q: &QueryOptions) -> BackendResult<Indexed<Vec<NodeListStub>>> {
        self.inner.list_nodes(q).await
    }

    async fn read_node(&self, node_id: &str, q: &QueryOptions) -> BackendResult<Indexed<NodeInfo>> {
        self.inner.read_node(node_id, q).await
    }
}
