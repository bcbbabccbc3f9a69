//! An in-memory Consul agent and catalog: one growing Raft index, service registration with
//! generated check IDs, health filtering, a KV store with check-and-set and tombstones,
//! sessions (TTL, lock delay, release/delete behavior), locks (`?acquire=`, `?release=`) and
//! KV transactions. Every rule is cited from hashicorp/consul in `tests/FAKES.md`.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::requests::MAX_VALUE_SIZE;
use super::types::{
    check_status, AgentService, CatalogService, HealthCheck, KvPair, Node, ServiceEntry,
    ServiceRegistration, SessionBehavior, SessionInfo, SessionRequest, TxnError, TxnOp,
    TxnResponse,
};
use super::Consul;
use crate::backend::blocking::{lock, new_id, Changes};
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

#[derive(Debug, Clone)]
struct StoredSession {
    info: SessionInfo,
    ttl: Option<Duration>,
    lock_delay: Duration,
    behavior: SessionBehavior,
    /// When the TTL timer fires (TTL x 2 after the last renewal).
    expires: Option<Instant>,
}

#[derive(Debug, Default, Clone)]
struct State {
    index: u64,
    services: BTreeMap<String, StoredService>,
    services_index: u64,
    kv: BTreeMap<String, KvPair>,
    tombstones: BTreeMap<String, u64>,
    kv_index: u64,
    initial_check_status: Option<String>,
    sessions: BTreeMap<String, StoredSession>,
    sessions_index: u64,
    /// Keys that cannot be acquired before the instant (lock delay).
    lock_delay: BTreeMap<String, Instant>,
    session_ttl_min: Duration,
}

/// Consul's default `session_ttl_min` (hashicorp/consul `agent/config/default.go`).
pub const DEFAULT_SESSION_TTL_MIN: Duration = Duration::from_secs(10);
/// Longest session TTL (`SessionTTLMax`, hashicorp/consul `agent/structs/structs.go`).
pub const SESSION_TTL_MAX: Duration = Duration::from_secs(24 * 3600);
/// A TTL session is invalidated this many TTLs after its last renewal
/// (`SessionTTLMultiplier`, `agent/consul/session_ttl.go` `resetSessionTimer`).
pub const SESSION_TTL_MULTIPLIER: u32 = 2;
/// Longest lock delay (`MaxLockDelay`, `agent/structs/structs.go`).
pub const MAX_LOCK_DELAY: Duration = Duration::from_secs(60);
/// Default lock delay of a new session (`agent/session_endpoint.go` `SessionCreate`).
pub const DEFAULT_LOCK_DELAY: Duration = Duration::from_secs(15);

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
                session_ttl_min: DEFAULT_SESSION_TTL_MIN,
                ..State::default()
            })),
            changes: Arc::new(Changes::new()),
        }
    }

    /// Sets the shortest session TTL accepted (Consul's `session_ttl_min` setting, 10 s by
    /// default).
    pub fn set_session_ttl_min(&self, min: Duration) {
        lock(&self.state).session_ttl_min = min;
    }

    /// IDs of the live sessions.
    pub fn session_ids(&self) -> Vec<String> {
        let mut st = lock(&self.state);
        Self::expire_sessions(&mut st);
        st.sessions.keys().cloned().collect()
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

    /// The index of the KV tables (entries and tombstones), what a single-key read reports
    /// (`agent/consul/state/kvs.go` `kvsGetTxn`: `kvsMaxIndex`).
    fn kv_table_index(st: &State) -> u64 {
        st.kv_index
    }

    /// Invalidates every TTL session whose timer ran out (`agent/consul/session_ttl.go`
    /// `invalidateSession`), as the server's timers would have.
    fn expire_sessions(st: &mut State) -> bool {
        let now = Instant::now();
        let expired: Vec<String> = st
            .sessions
            .iter()
            .filter(|(_, s)| s.expires.is_some_and(|e| e <= now))
            .map(|(id, _)| id.clone())
            .collect();
        let any = !expired.is_empty();
        for id in expired {
            st.index += 1;
            let index = st.index;
            Self::destroy_session(st, &id, index);
        }
        any
    }

    /// Removes a session and releases or deletes the keys it holds, with the lock delay
    /// (`agent/consul/state/session.go` `deleteSessionTxn`).
    fn destroy_session(st: &mut State, id: &str, index: u64) -> bool {
        let Some(sess) = st.sessions.remove(id) else {
            return false;
        };
        st.sessions_index = index;
        let delay = sess.lock_delay.min(MAX_LOCK_DELAY);
        let now = Instant::now();
        let held: Vec<String> = st
            .kv
            .iter()
            .filter(|(_, p)| p.session.as_deref() == Some(id))
            .map(|(k, _)| k.clone())
            .collect();
        for key in held {
            match sess.behavior {
                SessionBehavior::Release => {
                    if let Some(p) = st.kv.get_mut(&key) {
                        p.session = None;
                        p.modify_index = index;
                    }
                }
                SessionBehavior::Delete => {
                    st.kv.remove(&key);
                    st.tombstones.insert(key.clone(), index);
                }
            }
            st.kv_index = index;
            if !delay.is_zero() {
                st.lock_delay.insert(key, now + delay);
            }
        }
        true
    }

    fn session_info_of(s: &StoredSession) -> SessionInfo {
        s.info.clone()
    }

    /// One KV operation of a transaction, applied to `st` at `index`
    /// (`agent/consul/state/txn.go` `txnKVS`). Returns the entry to report, if any.
    fn txn_op(st: &mut State, index: u64, op: &TxnOp) -> Result<Vec<KvPair>, String> {
        let blank = |p: &KvPair| KvPair {
            value: Vec::new(),
            ..p.clone()
        };
        match op {
            TxnOp::Set { key, value } => {
                let p = Self::set_entry(st, index, key, value, None);
                Ok(vec![blank(&p)])
            }
            TxnOp::Cas {
                key,
                value,
                index: want,
            } => {
                let existing = st.kv.get(key).map(|p| p.modify_index);
                let ok = match (want, existing) {
                    (0, None) => true,
                    (0, Some(_)) | (_, None) => false,
                    (w, Some(m)) => *w == m,
                };
                if !ok {
                    return Err(format!("failed to set key {key:?}, index is stale"));
                }
                let p = Self::set_entry(st, index, key, value, None);
                Ok(vec![blank(&p)])
            }
            TxnOp::Lock {
                key,
                value,
                session,
            } => match Self::lock_entry(st, index, key, value, session)? {
                Some(p) => Ok(vec![blank(&p)]),
                None => Err(format!("failed to lock key {key:?}, lock is already held")),
            },
            TxnOp::Unlock {
                key,
                value,
                session,
            } => match Self::unlock_entry(st, index, key, value, session) {
                Some(p) => Ok(vec![blank(&p)]),
                None => Err(format!(
                    "failed to unlock key {key:?}, lock isn't held, or is held by another session"
                )),
            },
            TxnOp::Get { key } => match st.kv.get(key) {
                Some(p) => Ok(vec![p.clone()]),
                None => Err(format!("key {key:?} doesn't exist")),
            },
            TxnOp::GetTree { prefix } => Ok(st
                .kv
                .range(prefix.clone()..)
                .take_while(|(k, _)| k.starts_with(prefix.as_str()))
                .map(|(_, p)| p.clone())
                .collect()),
            TxnOp::CheckIndex { key, index: want } => match st.kv.get(key) {
                None => Err(format!("failed to check index, key {key:?} doesn't exist")),
                Some(p) if p.modify_index != *want => Err(format!(
                    "failed index check for key {key:?}, current modify index {} != {want}",
                    p.modify_index
                )),
                Some(p) => Ok(vec![blank(p)]),
            },
            TxnOp::CheckSession { key, session } => match st.kv.get(key) {
                None => Err(format!(
                    "failed to check session, key {key:?} doesn't exist"
                )),
                Some(p) if p.session.as_deref().unwrap_or("") != session => Err(format!(
                    "failed session check for key {key:?}, current session {:?} != {session:?}",
                    p.session.as_deref().unwrap_or("")
                )),
                Some(p) => Ok(vec![blank(p)]),
            },
            TxnOp::CheckNotExists { key } => match st.kv.get(key) {
                Some(_) => Err(format!("key {key:?} exists")),
                None => Ok(Vec::new()),
            },
            TxnOp::Delete { key } => {
                Self::delete_entry(st, index, key);
                Ok(Vec::new())
            }
            TxnOp::DeleteCas { key, index: want } => match st.kv.get(key).map(|p| p.modify_index) {
                None => Ok(Vec::new()),
                Some(m) if m == *want => {
                    Self::delete_entry(st, index, key);
                    Ok(Vec::new())
                }
                Some(_) => Err(format!("failed to delete key {key:?}, index is stale")),
            },
        }
    }

    /// Writes a value, keeping the entry's session; an entry that would not change keeps
    /// its `ModifyIndex` (`agent/consul/state/kvs.go` `kvsSetTxn`).
    fn set_entry(
        st: &mut State,
        index: u64,
        key: &str,
        value: &[u8],
        session: Option<Option<String>>,
    ) -> KvPair {
        let existing = st.kv.get(key).cloned();
        let session = match session {
            Some(s) => s,
            None => existing.as_ref().and_then(|e| e.session.clone()),
        };
        let mut pair = KvPair {
            key: key.to_owned(),
            value: value.to_vec(),
            flags: 0,
            session,
            create_index: existing.as_ref().map_or(index, |e| e.create_index),
            modify_index: index,
            lock_index: existing.as_ref().map_or(0, |e| e.lock_index),
        };
        if let Some(e) = &existing {
            let same = KvPair {
                modify_index: e.modify_index,
                ..pair.clone()
            };
            if same == *e {
                pair.modify_index = e.modify_index;
                return pair;
            }
        }
        st.kv.insert(key.to_owned(), pair.clone());
        st.tombstones.remove(key);
        st.kv_index = index;
        pair
    }

    fn delete_entry(st: &mut State, index: u64, key: &str) -> bool {
        if st.kv.remove(key).is_some() {
            st.tombstones.insert(key.to_owned(), index);
            st.kv_index = index;
            true
        } else {
            false
        }
    }

    /// Takes the key's lock for `session` (`agent/consul/state/kvs.go` `kvsLockTxn`).
    /// `Ok(None)` when another session holds it; an unknown session is an error.
    fn lock_entry(
        st: &mut State,
        index: u64,
        key: &str,
        value: &[u8],
        session: &str,
    ) -> Result<Option<KvPair>, String> {
        if session.is_empty() {
            return Err("missing session".into());
        }
        if !st.sessions.contains_key(session) {
            return Err(format!("invalid session {session:?}"));
        }
        let existing = st.kv.get(key).cloned();
        let lock_index = match &existing {
            Some(e) if e.session.as_deref() == Some(session) => e.lock_index,
            Some(e) if e.session.is_some() => return Ok(None),
            Some(e) => e.lock_index + 1,
            None => 1,
        };
        let pair = KvPair {
            key: key.to_owned(),
            value: value.to_vec(),
            flags: existing.as_ref().map_or(0, |e| e.flags),
            session: Some(session.to_owned()),
            create_index: existing.as_ref().map_or(index, |e| e.create_index),
            modify_index: index,
            lock_index,
        };
        st.kv.insert(key.to_owned(), pair.clone());
        st.tombstones.remove(key);
        st.kv_index = index;
        Ok(Some(pair))
    }

    /// Gives the key's lock back (`kvsUnlockTxn`): `None` unless `session` holds it.
    fn unlock_entry(
        st: &mut State,
        index: u64,
        key: &str,
        value: &[u8],
        session: &str,
    ) -> Option<KvPair> {
        let e = st.kv.get(key)?.clone();
        if e.session.as_deref() != Some(session) {
            return None;
        }
        let pair = KvPair {
            value: value.to_vec(),
            session: None,
            modify_index: index,
            ..e
        };
        st.kv.insert(key.to_owned(), pair.clone());
        st.kv_index = index;
        Some(pair)
    }

    /// Runs the session timers that ran out (called at the start of every operation).
    fn expire(&self) {
        let mut st = lock(&self.state);
        if Self::expire_sessions(&mut st) {
            self.changes.bump();
        }
    }

    fn check_write(key: &str, value: &[u8]) -> BackendResult<()> {
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
        Ok(())
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
            .block(&self.state, q, Service::Consul, |st| {
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
            .block(&self.state, q, Service::Consul, |st| {
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
        self.expire();
        self.changes
            .block(&self.state, q, Service::Consul, |st| {
                (Self::kv_table_index(st), Ok(st.kv.get(key).cloned()))
            })
            .await
    }

    async fn kv_list(&self, prefix: &str, q: &QueryOptions) -> BackendResult<Indexed<Vec<KvPair>>> {
        self.expire();
        self.changes
            .block(&self.state, q, Service::Consul, |st| {
                let list = st
                    .kv
                    .range(prefix.to_owned()..)
                    .take_while(|(k, _)| k.starts_with(prefix))
                    .map(|(_, v)| v.clone())
                    .collect();
                let index = if prefix.is_empty() {
                    Self::kv_table_index(st)
                } else {
                    Self::key_index(st, prefix, true)
                };
                (index, Ok(list))
            })
            .await
    }

    async fn kv_put(&self, key: &str, value: &[u8], cas: Option<u64>) -> BackendResult<bool> {
        Self::check_write(key, value)?;
        let mut st = lock(&self.state);
        Self::expire_sessions(&mut st);
        let existing = st.kv.get(key).map(|e| e.modify_index);
        // kvsSetCASTxn: 0 means "only if absent", N means "only if ModifyIndex is N".
        match (cas, existing) {
            (Some(0), Some(_)) => return Ok(false),
            (Some(n), None) if n != 0 => return Ok(false),
            (Some(n), Some(m)) if n != 0 && m != n => return Ok(false),
            _ => {}
        }
        st.index += 1;
        let index = st.index;
        Self::set_entry(&mut st, index, key, value, None);
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
        Self::expire_sessions(&mut st);
        let existing = st.kv.get(key).map(|e| e.modify_index);
        // kvsDeleteCASTxn: an absent key answers true; a present one only at its index.
        if let (Some(n), Some(m)) = (cas, existing) {
            if n != m {
                return Ok(false);
            }
        }
        st.index += 1;
        let index = st.index;
        if Self::delete_entry(&mut st, index, key) {
            self.changes.bump();
        }
        Ok(true)
    }

    async fn kv_acquire(&self, key: &str, value: &[u8], session: &str) -> BackendResult<bool> {
        Self::check_write(key, value)?;
        let mut st = lock(&self.state);
        Self::expire_sessions(&mut st);
        // kvsPreApply: a key in its lock delay cannot be acquired.
        if st
            .lock_delay
            .get(key)
            .is_some_and(|until| *until > Instant::now())
        {
            return Ok(false);
        }
        let index = st.index + 1;
        match Self::lock_entry(&mut st, index, key, value, session) {
            Ok(Some(_)) => {
                st.index = index;
                self.changes.bump();
                Ok(true)
            }
            Ok(None) => Ok(false),
            Err(m) => Err(http(500, Method::Put, kv_path(key), &m)),
        }
    }

    async fn kv_release(&self, key: &str, value: &[u8], session: &str) -> BackendResult<bool> {
        Self::check_write(key, value)?;
        let mut st = lock(&self.state);
        Self::expire_sessions(&mut st);
        let index = st.index + 1;
        match Self::unlock_entry(&mut st, index, key, value, session) {
            Some(_) => {
                st.index = index;
                self.changes.bump();
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn session_create(&self, req: &SessionRequest) -> BackendResult<String> {
        let path = "/v1/session/create".to_owned();
        let mut st = lock(&self.state);
        Self::expire_sessions(&mut st);
        if let Some(ttl) = req.ttl {
            // Session.Apply: a TTL other than 0 must lie within [session_ttl_min, 24h].
            if !ttl.is_zero() && (ttl < st.session_ttl_min || ttl > SESSION_TTL_MAX) {
                return Err(http(
                    500,
                    Method::Put,
                    path,
                    &format!(
                        "Invalid Session TTL '{}', must be between [{:?}={:?}]",
                        ttl.as_nanos(),
                        st.session_ttl_min,
                        SESSION_TTL_MAX
                    ),
                ));
            }
        }
        st.index += 1;
        let index = st.index;
        let id = new_id();
        let lock_delay = req.lock_delay.unwrap_or(DEFAULT_LOCK_DELAY);
        let ttl = req.ttl.filter(|t| !t.is_zero());
        let info = SessionInfo {
            id: id.clone(),
            name: req.name.clone(),
            node: MEMORY_NODE.into(),
            lock_delay: lock_delay.as_nanos() as u64,
            behavior: req.behavior.as_str().into(),
            ttl: ttl.map(|t| format!("{}s", t.as_secs())).unwrap_or_default(),
            create_index: index,
            modify_index: index,
        };
        st.sessions.insert(
            id.clone(),
            StoredSession {
                info,
                ttl,
                lock_delay,
                behavior: req.behavior,
                expires: ttl.map(|t| Instant::now() + t * SESSION_TTL_MULTIPLIER),
            },
        );
        st.sessions_index = index;
        self.changes.bump();
        Ok(id)
    }

    async fn session_renew(&self, id: &str) -> BackendResult<Option<SessionInfo>> {
        let mut st = lock(&self.state);
        if Self::expire_sessions(&mut st) {
            self.changes.bump();
        }
        Ok(st.sessions.get_mut(id).map(|s| {
            s.expires = s.ttl.map(|t| Instant::now() + t * SESSION_TTL_MULTIPLIER);
            Self::session_info_of(s)
        }))
    }

    async fn session_destroy(&self, id: &str) -> BackendResult<()> {
        let mut st = lock(&self.state);
        Self::expire_sessions(&mut st);
        st.index += 1;
        let index = st.index;
        if Self::destroy_session(&mut st, id, index) {
            self.changes.bump();
        }
        Ok(())
    }

    async fn session_info(
        &self,
        id: &str,
        q: &QueryOptions,
    ) -> BackendResult<Indexed<Option<SessionInfo>>> {
        self.expire();
        self.changes
            .block(&self.state, q, Service::Consul, |st| {
                (
                    st.sessions_index,
                    Ok(st.sessions.get(id).map(Self::session_info_of)),
                )
            })
            .await
    }

    async fn txn(&self, ops: &[TxnOp]) -> BackendResult<TxnResponse> {
        let req = super::requests::txn(&super::requests::ConsulContext::default(), ops)?;
        let mut st = lock(&self.state);
        Self::expire_sessions(&mut st);
        let index = st.index + 1;
        // TxnRW: every operation runs in one write transaction; any error rolls all back.
        let mut scratch = st.clone();
        let mut results = Vec::new();
        let mut errors = Vec::new();
        for (i, op) in ops.iter().enumerate() {
            if let TxnOp::Lock { key, .. } = op {
                if scratch
                    .lock_delay
                    .get(key)
                    .is_some_and(|until| *until > Instant::now())
                {
                    errors.push(TxnError {
                        op_index: i,
                        what: format!("failed to lock key {key:?}, lock is already held"),
                    });
                    continue;
                }
            }
            match Self::txn_op(&mut scratch, index, op) {
                Ok(r) => results.extend(r),
                Err(what) => errors.push(TxnError { op_index: i, what }),
            }
        }
        if errors.is_empty() {
            if ops.iter().any(TxnOp::is_write) {
                scratch.index = index;
                *st = scratch;
                self.changes.bump();
            }
            Ok(TxnResponse {
                results,
                errors: Vec::new(),
            })
        } else {
            drop(req);
            Ok(TxnResponse {
                results: Vec::new(),
                errors,
            })
        }
    }
}
