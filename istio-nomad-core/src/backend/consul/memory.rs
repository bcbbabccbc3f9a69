//! An in-memory Consul agent and catalog: one growing Raft index, service registration with
//! generated check IDs, health filtering, and a KV store with check-and-set and tombstones.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::requests::MAX_VALUE_SIZE;
use super::types::{
    check_status, AgentService, CatalogService, HealthCheck, KvPair, Node, ServiceEntry,
    ServiceRegistration,
};
use super::Consul;
use crate::backend::blocking::{lock, Changes};
use crate::backend::request::{encode_key_path, Method};
use crate::backend::{BackendError, BackendResult, Indexed, QueryOptions, Service};

/// Node name of the in-memory agent.
pub const MEMORY_NODE: &str = "memory-agent";
const NODE_ID: &str = "00000000-0000-4000-8000-00000000c0de";
const NODE_ADDRESS: &str = "127.0.0.1";
const DATACENTER: &str = "dc1";

#[derive(Debug, Clone)]
struct StoredService {
    reg: ServiceRegistration,
    checks: Vec<HealthCheck>,
    create_index: u64,
    modify_index: u64,
}

#[derive(Debug, Default)]
struct State {
    index: u64,
    services: BTreeMap<String, StoredService>,
    services_index: u64,
    kv: BTreeMap<String, KvPair>,
    tombstones: BTreeMap<String, u64>,
    kv_index: u64,
    initial_check_status: Option<String>,
}

/// An in-memory Consul (one agent, one node). Clones share the same state.
///
/// New checks start `critical`, as in Consul, unless a check gives its own `Status` or
/// [`MemoryConsul::set_initial_check_status`] chose another start; tests move them with
/// [`MemoryConsul::set_check_status`].
#[derive(Clone)]
pub struct MemoryConsul {
    state: Arc<Mutex<State>>,
    changes: Arc<Changes>,
}

impl fmt::Debug for MemoryConsul {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = lock(&self.state);
        f.debug_struct("MemoryConsul")
            .field("index", &s.index)
            .field("services", &s.services.len())
            .field("keys", &s.kv.len())
            .finish()
    }
}

impl Default for MemoryConsul {
    fn default() -> Self {
        Self::new()
    }
}

fn http(status: u16, method: Method, path: String, message: &str) -> BackendError {
    BackendError::Http {
        service: Service::Consul,
        method,
        path,
        status,
        message: message.into(),
    }
}

fn kv_path(key: &str) -> String {
    format!("/v1/kv/{}", encode_key_path(key))
}

impl MemoryConsul {
    /// An empty agent.
    pub fn new() -> Self {
        MemoryConsul {
            state: Arc::new(Mutex::new(State {
                index: 1,
                ..State::default()
            })),
            changes: Arc::new(Changes::new()),
        }
    }

    /// Status of checks registered from now on without a `Status` of their own (Consul:
    /// `critical`).
    pub fn set_initial_check_status(&self, status: &str) {
        lock(&self.state).initial_check_status = Some(status.to_owned());
    }

    /// Sets a check's status (what the agent does when the check runs). Returns false when
    /// there is no such check.
    pub fn set_check_status(&self, check_id: &str, status: &str) -> bool {
        let mut st = lock(&self.state);
        st.index += 1;
        let index = st.index;
        let mut found = false;
        for svc in st.services.values_mut() {
            for c in svc.checks.iter_mut().filter(|c| c.check_id == check_id) {
                if c.status != status {
                    c.status = status.to_owned();
                    c.modify_index = index;
                }
                found = true;
            }
        }
        if found {
            st.services_index = index;
            self.changes.bump();
        } else {
            st.index -= 1;
        }
        found
    }

    /// Sets every check of a service instance to `status`. Returns false when there is no
    /// such instance.
    pub fn set_service_checks(&self, service_id: &str, status: &str) -> bool {
        let ids: Vec<String> = match lock(&self.state).services.get(service_id) {
            Some(s) => s.checks.iter().map(|c| c.check_id.clone()).collect(),
            None => return false,
        };
        for id in ids {
            self.set_check_status(&id, status);
        }
        true
    }

    /// The current Raft index.
    pub fn index(&self) -> u64 {
        lock(&self.state).index
    }

    /// IDs of the registered service instances.
    pub fn service_ids(&self) -> Vec<String> {
        lock(&self.state).services.keys().cloned().collect()
    }

    fn checks_for(
        st: &State,
        reg: &ServiceRegistration,
        previous: Option<&StoredService>,
        replace: bool,
        index: u64,
    ) -> Vec<HealthCheck> {
        let sid = reg.service_id().to_owned();
        let many = reg.checks.len() > 1;
        let mut out: Vec<HealthCheck> = Vec::new();
        for (i, c) in reg.checks.iter().enumerate() {
            let check_id = c
                .check_id
                .clone()
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| {
                    if many {
                        format!("service:{sid}:{}", i + 1)
                    } else {
                        format!("service:{sid}")
                    }
                });
            let name = c
                .name
                .clone()
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| format!("Service '{}' check", reg.name));
            let old = previous.and_then(|p| p.checks.iter().find(|h| h.check_id == check_id));
            let status = c
                .status
                .clone()
                .or_else(|| old.map(|o| o.status.clone()))
                .or_else(|| st.initial_check_status.clone())
                .unwrap_or_else(|| check_status::CRITICAL.to_owned());
            let mut h = HealthCheck {
                node: MEMORY_NODE.into(),
                check_id,
                name,
                status,
                notes: c.notes.clone().unwrap_or_default(),
                output: String::new(),
                service_id: sid.clone(),
                service_name: reg.name.clone(),
                create_index: old.map_or(index, |o| o.create_index),
                modify_index: old.map_or(index, |o| o.modify_index),
            };
            if old.is_some_and(|o| *o != h) || old.is_none() {
                h.modify_index = index;
            }
            out.push(h);
        }
        if !replace {
            if let Some(p) = previous {
                for old in &p.checks {
                    if !out.iter().any(|h| h.check_id == old.check_id) {
                        out.push(old.clone());
                    }
                }
            }
        }
        out
    }

    fn entry(svc: &StoredService) -> ServiceEntry {
        let mut checks = vec![HealthCheck {
            node: MEMORY_NODE.into(),
            check_id: "serfHealth".into(),
            name: "Serf Health Status".into(),
            status: check_status::PASSING.into(),
            output: "Agent alive and reachable".into(),
            create_index: 1,
            modify_index: 1,
            ..HealthCheck::default()
        }];
        checks.extend(svc.checks.iter().cloned());
        ServiceEntry {
            node: Node {
                id: NODE_ID.into(),
                node: MEMORY_NODE.into(),
                address: NODE_ADDRESS.into(),
                datacenter: DATACENTER.into(),
            },
            service: Self::agent_service(svc),
            checks,
        }
    }

    fn agent_service(svc: &StoredService) -> AgentService {
        AgentService {
            id: svc.reg.service_id().to_owned(),
            service: svc.reg.name.clone(),
            tags: svc.reg.tags.clone(),
            address: svc.reg.address.clone().unwrap_or_default(),
            port: svc.reg.port.unwrap_or(0),
            meta: svc.reg.meta.clone(),
            kind: svc.reg.kind.clone().unwrap_or_default(),
            create_index: svc.create_index,
            modify_index: svc.modify_index,
        }
    }

    fn key_index(st: &State, key: &str, prefix: bool) -> u64 {
        let matches = |k: &String| if prefix { k.starts_with(key) } else { k == key };
        let live = st
            .kv
            .iter()
            .filter(|(k, _)| matches(k))
            .map(|(_, v)| v.modify_index)
            .max();
        let dead = st
            .tombstones
            .iter()
            .filter(|(k, _)| matches(k))
            .map(|(_, i)| *i)
            .max();
        live.max(dead).unwrap_or(st.kv_index)
    }
}

#[async_trait]
impl Consul for MemoryConsul {
    async fn register_service(
        &self,
        service: &ServiceRegistration,
        replace_existing_checks: bool,
    ) -> BackendResult<()> {
        let path = "/v1/agent/service/register".to_owned();
        if service.name.is_empty() {
            return Err(http(400, Method::Put, path, "Missing service name"));
        }
        for c in &service.checks {
            let active = c.http.is_some() || c.tcp.is_some() || c.grpc.is_some();
            if active && c.interval.is_none() {
                return Err(http(400, Method::Put, path, "Invalid check: Interval must be > 0 for Script, HTTP, H2PING, TCP or UDP checks"));
            }
            if let Some(s) = &c.status {
                if ![
                    check_status::PASSING,
                    check_status::WARNING,
                    check_status::CRITICAL,
                ]
                .contains(&s.as_str())
                {
                    return Err(http(
                        400,
                        Method::Put,
                        path,
                        &format!("Invalid check status: {s:?}"),
                    ));
                }
            }
        }
        let mut st = lock(&self.state);
        let sid = service.service_id().to_owned();
        let previous = st.services.get(&sid).cloned();
        let index = st.index + 1;
        let checks = Self::checks_for(
            &st,
            service,
            previous.as_ref(),
            replace_existing_checks,
            index,
        );
        let unchanged = previous
            .as_ref()
            .is_some_and(|p| p.reg == *service && p.checks == checks);
        if unchanged {
            return Ok(());
        }
        st.index = index;
        let create_index = previous.as_ref().map_or(index, |p| p.create_index);
        st.services.insert(
            sid,
            StoredService {
                reg: service.clone(),
                checks,
                create_index,
                modify_index: index,
            },
        );
        st.services_index = index;
        self.changes.bump();
        Ok(())
    }

    async fn deregister_service(&self, service_id: &str) -> BackendResult<()> {
        let mut st = lock(&self.state);
        if st.services.remove(service_id).is_some() {
            st.index += 1;
            st.services_index = st.index;
            self.changes.bump();
        }
        Ok(())
    }

    async fn catalog_service(
        &self,
        name: &str,
        q: &QueryOptions,
    ) -> BackendResult<Indexed<Vec<CatalogService>>> {
        self.changes
            .block(&self.state, q, |st| {
                let list = st
                    .services
                    .values()
                    .filter(|s| s.reg.name == name)
                    .map(|s| CatalogService {
                        id: NODE_ID.into(),
                        node: MEMORY_NODE.into(),
                        address: NODE_ADDRESS.into(),
                        node_meta: BTreeMap::new(),
                        datacenter: DATACENTER.into(),
                        service_id: s.reg.service_id().to_owned(),
                        service_name: s.reg.name.clone(),
                        service_address: s.reg.address.clone().unwrap_or_default(),
                        service_port: s.reg.port.unwrap_or(0),
                        service_tags: s.reg.tags.clone(),
                        service_meta: s.reg.meta.clone(),
                        service_kind: s.reg.kind.clone().unwrap_or_default(),
                        create_index: s.create_index,
                        modify_index: s.modify_index,
                    })
                    .collect();
                (st.services_index, Ok(list))
            })
            .await
    }

    async fn health_service(
        &self,
        name: &str,
        passing: bool,
        q: &QueryOptions,
    ) -> BackendResult<Indexed<Vec<ServiceEntry>>> {
        self.changes
            .block(&self.state, q, |st| {
                let list = st
                    .services
                    .values()
                    .filter(|s| s.reg.name == name)
                    .map(Self::entry)
                    .filter(|e| !passing || e.is_passing())
                    .collect();
                (st.services_index, Ok(list))
            })
            .await
    }

    async fn kv_get(&self, key: &str, q: &QueryOptions) -> BackendResult<Indexed<Option<KvPair>>> {
        if key.is_empty() {
            return Err(BackendError::InvalidRequest {
                service: Service::Consul,
                field: "key".into(),
                message: "the key must not be empty".into(),
            });
        }
        self.changes
            .block(&self.state, q, |st| {
                (Self::key_index(st, key, false), Ok(st.kv.get(key).cloned()))
            })
            .await
    }

    async fn kv_list(&self, prefix: &str, q: &QueryOptions) -> BackendResult<Indexed<Vec<KvPair>>> {
        self.changes
            .block(&self.state, q, |st| {
                let list = st
                    .kv
                    .range(prefix.to_owned()..)
                    .take_while(|(k, _)| k.starts_with(prefix))
                    .map(|(_, v)| v.clone())
                    .collect();
                (Self::key_index(st, prefix, true), Ok(list))
            })
            .await
    }

    async fn kv_put(&self, key: &str, value: &[u8], cas: Option<u64>) -> BackendResult<bool> {
        if key.is_empty() {
            return Err(BackendError::InvalidRequest {
                service: Service::Consul,
                field: "key".into(),
                message: "the key must not be empty".into(),
            });
        }
        if value.len() > MAX_VALUE_SIZE {
            return Err(http(
                413,
                Method::Put,
                kv_path(key),
                &format!(
                    "Request body({} bytes) too large, max size: {MAX_VALUE_SIZE} bytes",
                    value.len()
                ),
            ));
        }
        let mut st = lock(&self.state);
        let existing = st.kv.get(key).cloned();
        match (cas, &existing) {
            (Some(0), Some(_)) => return Ok(false),
            (Some(n), None) if n != 0 => return Ok(false),
            (Some(n), Some(e)) if n != 0 && e.modify_index != n => return Ok(false),
            _ => {}
        }
        st.index += 1;
        let index = st.index;
        let pair = KvPair {
            key: key.to_owned(),
            value: value.to_vec(),
            flags: existing.as_ref().map_or(0, |e| e.flags),
            session: None,
            create_index: existing.as_ref().map_or(index, |e| e.create_index),
            modify_index: index,
            lock_index: existing.as_ref().map_or(0, |e| e.lock_index),
        };
        st.kv.insert(key.to_owned(), pair);
        st.tombstones.remove(key);
        st.kv_index = index;
        self.changes.bump();
        Ok(true)
    }

    async fn kv_delete(&self, key: &str, cas: Option<u64>) -> BackendResult<bool> {
        if key.is_empty() {
            return Err(BackendError::InvalidRequest {
                service: Service::Consul,
                field: "key".into(),
                message: "the key must not be empty".into(),
            });
        }
        let mut st = lock(&self.state);
        let existing = st.kv.get(key).map(|e| e.modify_index);
        match (cas, existing) {
            (Some(0), _) => return Ok(false),
            (Some(_), None) => return Ok(false),
            (Some(n), Some(m)) if n != m => return Ok(false),
            (None, None) => return Ok(true),
            _ => {}
        }
        st.index += 1;
        let index = st.index;
        st.kv.remove(key);
        st.tombstones.insert(key.to_owned(), index);
        st.kv_index = index;
        self.changes.bump();
        Ok(true)
    }
}
