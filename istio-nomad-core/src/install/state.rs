//! What the installer applied, kept in etcd (default) or Consul KV, and the mesh lock.
//!
//! # Layout
//!
//! Every key of a mesh lives under `istio-nomad/<mesh>/`:
//!
//! | key | value (JSON) |
//! |---|---|
//! | `istio-nomad/<mesh>/lock` | [`LockInfo`]: holder, operation, since, TTL, a random token |
//! | `istio-nomad/<mesh>/spec` | [`SpecRecord`]: the spec hash and the stages of the last complete apply |
//! | `istio-nomad/<mesh>/jobs/<job-id>` | [`JobRecord`]: content hash, version, `JobModifyIndex` of the job as applied |
//!
//! # Writes
//!
//! Every write is a check-and-set on the key's revision (etcd `mod_revision`, Consul
//! `ModifyIndex`; 0 = the key must be absent) made while holding the lock:
//!
//! * **etcd**: one transaction compares the key's `mod_revision` *and* the lock key's
//!   `create_revision` (the fencing token of the lock): a writer whose lock expired, or was
//!   taken over, cannot write.
//! * **Consul**: the lock entry is read first (its token must be ours and unexpired), then
//!   the key is written with `?cas=`. Consul's KV API has no multi-key check-and-set without
//!   `/v1/txn`, so a holder that stalls for longer than the TTL between the two calls could
//!   still write once; etcd has no such window.
//!
//! # Lock
//!
//! * **etcd**: a lease of the lock's TTL is granted and the lock key is created with it in a
//!   transaction that requires the key to be absent (`version == 0`); the holder renews the
//!   lease every TTL/3. When the holder dies the lease expires and etcd deletes the key.
//! * **Consul**: the lock entry carries its expiry time (`expires_at_ms`) and is created with
//!   `cas=0`, or taken over with `cas=<ModifyIndex>` once expired; the holder rewrites it
//!   every TTL/3. Expiry is judged by the clocks of the operators, which must roughly agree.
//!
//! A second operator gets [`Error::Conflict`] naming the holder, the operation and since
//! when.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::error::InstallError;
use crate::backend::etcd::{
    Compare, CompareResult, CompareTarget, DeleteRangeRequest, KeyValue, PutRequest, RangeRequest,
    TxnOp, TxnOpResponse, TxnRequest,
};
use crate::backend::{Consul, Etcd, QueryOptions};
use crate::error::{Error, Result};

/// First segment of every key the installer writes.
pub const KEY_ROOT: &str = "istio-nomad";

/// The key prefix of a mesh: `istio-nomad/<mesh>/`.
pub fn mesh_prefix(mesh: &str) -> String {
    format!("{KEY_ROOT}/{mesh}/")
}

/// A key of a mesh's state.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StateKey {
    /// `istio-nomad/<mesh>/spec`.
    Spec,
    /// `istio-nomad/<mesh>/jobs/<id>`.
    Job(String),
}

impl StateKey {
    /// The full key.
    pub fn path(&self, mesh: &str) -> String {
        match self {
            StateKey::Spec => format!("{}spec", mesh_prefix(mesh)),
            StateKey::Job(id) => format!("{}jobs/{id}", mesh_prefix(mesh)),
        }
    }
}

fn lock_key(mesh: &str) -> String {
    format!("{}lock", mesh_prefix(mesh))
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn unix_now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Who holds a mesh lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    /// Who took it (`user@host pid N` by default).
    pub holder: String,
    /// `apply` or `destroy`.
    pub operation: String,
    /// When it was taken (seconds since the Unix epoch).
    pub acquired_at: u64,
    /// Lease TTL in seconds: the lock expires this long after its holder stops renewing it.
    pub ttl_secs: u64,
    /// Random token that tells this holder's lock from a later one.
    pub token: String,
    /// Consul only: when the lock expires unless renewed (ms since the Unix epoch).
    #[serde(default)]
    pub expires_at_ms: u64,
}

impl LockInfo {
    /// A lock for `operation` by `holder`, taken now.
    pub fn new(holder: impl Into<String>, operation: impl Into<String>, ttl_secs: u64) -> Self {
        use rand::Rng;
        LockInfo {
            holder: holder.into(),
            operation: operation.into(),
            acquired_at: unix_now(),
            ttl_secs: ttl_secs.max(1),
            token: format!("{:032x}", rand::rng().random::<u128>()),
            expires_at_ms: 0,
        }
    }
}

impl fmt::Display for LockInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ago = unix_now().saturating_sub(self.acquired_at);
        write!(
            f,
            "{} (operation {}) since unix time {} ({ago} s ago); the lock expires {} s after its holder stops renewing it",
            self.holder, self.operation, self.acquired_at, self.ttl_secs
        )
    }
}

fn held_message(mesh: &str, info: Option<&LockInfo>) -> String {
    match info {
        Some(i) => format!("mesh {mesh} is locked by {i}"),
        None => format!("mesh {mesh} is locked by another operator"),
    }
}

/// A held mesh lock.
#[derive(Debug, Clone)]
pub struct Lock {
    /// Mesh name.
    pub mesh: String,
    /// What was written into the lock entry.
    pub info: LockInfo,
    /// etcd: the lock key's create revision (the fencing token); Consul: unused.
    fence: i64,
    /// etcd: the lease ID.
    lease: i64,
    /// Consul: the lock entry's current `ModifyIndex`.
    index: Arc<AtomicU64>,
}

/// What the installer recorded about one applied job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRecord {
    /// Job ID.
    pub job_id: String,
    /// Role in the mesh (`etcd`, `api-server`, `pilot`, ..., `app`).
    pub role: String,
    /// 0-based stage in the dependency order.
    pub stage: usize,
    /// SHA-256 of the job's API JSON as planned.
    pub content_hash: String,
    /// The Nomad job version running it.
    pub version: u64,
    /// Its `JobModifyIndex`.
    pub job_modify_index: u64,
    /// Whether the job has host-mode groups.
    #[serde(default)]
    pub host_mode: bool,
    /// The Consul services the job registers (gated on at apply, awaited gone at destroy).
    #[serde(default)]
    pub services: Vec<String>,
}

/// What the installer recorded about the last complete apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpecRecord {
    /// SHA-256 of the mesh spec.
    pub spec_hash: String,
    /// Job IDs in dependency stages.
    pub stages: Vec<Vec<String>>,
}

/// A value with the revision it was read at (etcd `mod_revision`, Consul `ModifyIndex`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned<T> {
    /// Revision of the key (pass it back as the expected revision of the next write).
    pub revision: u64,
    /// The value.
    pub value: T,
}

/// Everything recorded about one mesh.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MeshState {
    /// Mesh name.
    pub mesh: String,
    /// The last complete apply.
    pub spec: Option<Versioned<SpecRecord>>,
    /// Applied jobs by ID.
    pub jobs: BTreeMap<String, Versioned<JobRecord>>,
    /// The lock, when held.
    pub lock: Option<LockInfo>,
    /// etcd: the lock key's create revision.
    lock_create_revision: i64,
}

impl MeshState {
    /// True when nothing is recorded (lock aside).
    pub fn is_empty(&self) -> bool {
        self.spec.is_none() && self.jobs.is_empty()
    }

    /// Every recorded key with its revision (the lock excluded).
    pub fn revisions(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        if let Some(s) = &self.spec {
            out.insert(StateKey::Spec.path(&self.mesh), s.revision);
        }
        for (id, r) in &self.jobs {
            out.insert(StateKey::Job(id.clone()).path(&self.mesh), r.revision);
        }
        out
    }

    /// The recorded values without revisions, as JSON (for comparing two states).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "spec": self.spec.as_ref().map(|s| serde_json::to_value(&s.value).unwrap_or_default()),
            "jobs": self.jobs.values().map(|r| serde_json::to_value(&r.value).unwrap_or_default()).collect::<Vec<_>>(),
        })
    }

    fn decode<'a>(
        mesh: &str,
        entries: impl IntoIterator<Item = (&'a str, &'a [u8], u64, i64)>,
    ) -> Result<MeshState> {
        let prefix = mesh_prefix(mesh);
        let mut st = MeshState {
            mesh: mesh.to_owned(),
            ..MeshState::default()
        };
        for (key, value, revision, create_revision) in entries {
            let Some(rest) = key.strip_prefix(&prefix) else {
                continue;
            };
            let corrupt = |e: serde_json::Error| {
                Error::Install(InstallError::CorruptState {
                    key: key.to_owned(),
                    message: format!("not the JSON the installer writes: {e}"),
                })
            };
            if rest == "lock" {
                st.lock = Some(serde_json::from_slice(value).map_err(corrupt)?);
                st.lock_create_revision = create_revision;
            } else if rest == "spec" {
                st.spec = Some(Versioned {
                    revision,
                    value: serde_json::from_slice(value).map_err(corrupt)?,
                });
            } else if let Some(id) = rest.strip_prefix("jobs/") {
                let value: JobRecord = serde_json::from_slice(value).map_err(corrupt)?;
                if value.job_id != id {
                    return Err(InstallError::CorruptState {
                        key: key.to_owned(),
                        message: format!(
                            "record of job {:?} under the key of {id:?}",
                            value.job_id
                        ),
                    }
                    .into());
                }
                st.jobs.insert(id.to_owned(), Versioned { revision, value });
            }
        }
        Ok(st)
    }
}

/// Where the installer keeps its state and its lock.
#[async_trait]
pub trait StateStore: Send + Sync + fmt::Debug {
    /// `etcd` or `consul`.
    fn name(&self) -> &'static str;

    /// Reads everything recorded about `mesh` (no lock needed).
    async fn load(&self, mesh: &str) -> Result<MeshState>;

    /// Takes the mesh lock and reads the state as of that moment.
    /// [`Error::Conflict`] naming the holder when someone else holds it.
    async fn acquire(&self, mesh: &str, info: &LockInfo) -> Result<(Lock, MeshState)>;

    /// Renews the lock; [`Error::Conflict`] when it was lost (expired or taken over).
    async fn keepalive(&self, lock: &Lock) -> Result<()>;

    /// Gives the lock back.
    async fn release(&self, lock: &Lock) -> Result<()>;

    /// Writes (`Some`) or deletes (`None`) `key` if its revision is still `expected` (0: the
    /// key must be absent) and `lock` is still held. Returns the new revision (0 after a
    /// delete). [`Error::Conflict`] when either check fails.
    async fn write(
        &self,
        lock: &Lock,
        key: &StateKey,
        value: Option<Vec<u8>>,
        expected: u64,
    ) -> Result<u64>;
}

/// Encodes a record as the JSON stored.
pub(crate) fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(Error::from)
}

fn lost_lock(mesh: &str, now: Option<&LockInfo>) -> Error {
    Error::Conflict(match now {
        Some(i) => format!(
            "the lock of mesh {mesh} was lost (it expired and is now held by {i}); nothing more was written"
        ),
        None => format!(
            "the lock of mesh {mesh} was lost (its lease expired); nothing more was written"
        ),
    })
}

fn changed(key: &str, expected: u64, found: u64) -> Error {
    Error::Conflict(format!(
        "state key {key} was changed by another writer (expected revision {expected}, found {found})"
    ))
}

// ---------------------------------------------------------------------------------------
// etcd

/// The state in etcd (v3), locked with a lease.
#[derive(Clone)]
pub struct EtcdStateStore {
    etcd: Arc<dyn Etcd>,
}

impl fmt::Debug for EtcdStateStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EtcdStateStore").finish_non_exhaustive()
    }
}

impl EtcdStateStore {
    /// A store over `etcd`.
    pub fn new(etcd: Arc<dyn Etcd>) -> Self {
        EtcdStateStore { etcd }
    }

    fn decode_kvs<'a>(
        mesh: &str,
        kvs: impl IntoIterator<Item = &'a KeyValue>,
    ) -> Result<MeshState> {
        let entries: Vec<(String, &[u8], u64, i64)> = kvs
            .into_iter()
            .map(|kv| {
                (
                    String::from_utf8_lossy(&kv.key).into_owned(),
                    kv.value.as_slice(),
                    kv.mod_revision.max(0) as u64,
                    kv.create_revision,
                )
            })
            .collect();
        MeshState::decode(
            mesh,
            entries.iter().map(|(k, v, r, c)| (k.as_str(), *v, *r, *c)),
        )
    }

    fn ranges(responses: &[TxnOpResponse]) -> Vec<&KeyValue> {
        responses
            .iter()
            .filter_map(|r| match r {
                TxnOpResponse::Range(r) => Some(r.kvs.iter()),
                _ => None,
            })
            .flatten()
            .collect()
    }

    async fn revoke_quietly(&self, lease: i64) {
        if let Err(e) = self.etcd.lease_revoke(lease).await {
            tracing::debug!(error = %e, "could not revoke the unused lock lease; it expires on its own");
        }
    }
}

#[async_trait]
impl StateStore for EtcdStateStore {
    fn name(&self) -> &'static str {
        "etcd"
    }

    async fn load(&self, mesh: &str) -> Result<MeshState> {
        let kvs = self.etcd.get_prefix(mesh_prefix(mesh).as_bytes()).await?;
        Self::decode_kvs(mesh, &kvs)
    }

    async fn acquire(&self, mesh: &str, info: &LockInfo) -> Result<(Lock, MeshState)> {
        let lease = self.etcd.lease_grant(info.ttl_secs as i64).await?.id;
        let key = lock_key(mesh);
        let prefix = mesh_prefix(mesh);
        let txn = TxnRequest::new()
            .when(Compare::version(key.as_bytes(), 0))
            .and_then(TxnOp::Put(
                PutRequest::new(key.as_bytes(), encode(info)?).lease(lease),
            ))
            .and_then(TxnOp::Range(RangeRequest::prefix(prefix.as_bytes())))
            .or_else(TxnOp::Range(RangeRequest::prefix(prefix.as_bytes())));
        let lock = |fence: i64| Lock {
            mesh: mesh.to_owned(),
            info: info.clone(),
            fence,
            lease,
            index: Arc::new(AtomicU64::new(0)),
        };
        match self.etcd.txn(&txn).await {
            Ok(r) => {
                let state = Self::decode_kvs(mesh, Self::ranges(&r.responses))?;
                if r.succeeded {
                    Ok((lock(r.header.revision), state))
                } else {
                    self.revoke_quietly(lease).await;
                    Err(Error::Conflict(held_message(mesh, state.lock.as_ref())))
                }
            }
            Err(e) if e.is_retryable() => {
                // The transaction may have been applied before the answer was lost.
                if let Ok(state) = self.load(mesh).await {
                    if state.lock.as_ref().is_some_and(|l| l.token == info.token) {
                        let fence = state.lock_create_revision;
                        return Ok((lock(fence), state));
                    }
                }
                self.revoke_quietly(lease).await;
                Err(e.into())
            }
            Err(e) => {
                self.revoke_quietly(lease).await;
                Err(e.into())
            }
        }
    }

    async fn keepalive(&self, lock: &Lock) -> Result<()> {
        match self.etcd.lease_keepalive(lock.lease).await {
            Ok(r) if r.ttl > 0 => Ok(()),
            Ok(_) => Err(lost_lock(&lock.mesh, None)),
            Err(e) if e.is_not_found() => Err(lost_lock(&lock.mesh, None)),
            Err(e) => Err(e.into()),
        }
    }

    async fn release(&self, lock: &Lock) -> Result<()> {
        match self.etcd.lease_revoke(lock.lease).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn write(
        &self,
        lock: &Lock,
        key: &StateKey,
        value: Option<Vec<u8>>,
        expected: u64,
    ) -> Result<u64> {
        let path = key.path(&lock.mesh);
        let lkey = lock_key(&lock.mesh);
        let op = match value {
            Some(v) => TxnOp::Put(PutRequest::new(path.as_bytes(), v)),
            None => TxnOp::DeleteRange(DeleteRangeRequest::key(path.as_bytes())),
        };
        let is_delete = matches!(op, TxnOp::DeleteRange(_));
        let txn = TxnRequest::new()
            .when(Compare::mod_revision(path.as_bytes(), expected as i64))
            .when(Compare {
                key: lkey.as_bytes().to_vec(),
                result: CompareResult::Equal,
                target: CompareTarget::CreateRevision(lock.fence),
            })
            .and_then(op)
            .or_else(TxnOp::Range(RangeRequest::key(lkey.as_bytes())))
            .or_else(TxnOp::Range(RangeRequest::key(path.as_bytes())));
        let r = self.etcd.txn(&txn).await?;
        if r.succeeded {
            return Ok(if is_delete {
                0
            } else {
                r.header.revision.max(0) as u64
            });
        }
        let kvs = Self::ranges(&r.responses);
        let lock_kv = kvs.iter().find(|kv| kv.key == lkey.as_bytes());
        if lock_kv.is_none_or(|kv| kv.create_revision != lock.fence) {
            let now = lock_kv.and_then(|kv| serde_json::from_slice::<LockInfo>(&kv.value).ok());
            return Err(lost_lock(&lock.mesh, now.as_ref()));
        }
        let found = kvs
            .iter()
            .find(|kv| kv.key == path.as_bytes())
            .map_or(0, |kv| kv.mod_revision.max(0) as u64);
        Err(changed(&path, expected, found))
    }
}

// ---------------------------------------------------------------------------------------
// Consul

/// The state in Consul KV, locked with an expiring entry.
#[derive(Clone)]
pub struct ConsulStateStore {
    consul: Arc<dyn Consul>,
}

impl fmt::Debug for ConsulStateStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsulStateStore").finish_non_exhaustive()
    }
}

impl ConsulStateStore {
    /// A store over `consul`.
    pub fn new(consul: Arc<dyn Consul>) -> Self {
        ConsulStateStore { consul }
    }

    async fn read_lock(&self, mesh: &str) -> Result<Option<(LockInfo, u64)>> {
        let key = lock_key(mesh);
        match self.consul.kv_get(&key, &QueryOptions::new()).await?.value {
            None => Ok(None),
            Some(p) => {
                let info: LockInfo = serde_json::from_slice(&p.value).map_err(|e| {
                    Error::Install(InstallError::CorruptState {
                        key: key.clone(),
                        message: e.to_string(),
                    })
                })?;
                Ok(Some((info, p.modify_index)))
            }
        }
    }

    fn with_expiry(info: &LockInfo) -> LockInfo {
        let mut i = info.clone();
        i.expires_at_ms = unix_now_ms() + i.ttl_secs * 1000;
        i
    }
}

#[async_trait]
impl StateStore for ConsulStateStore {
    fn name(&self) -> &'static str {
        "consul"
    }

    async fn load(&self, mesh: &str) -> Result<MeshState> {
        let pairs = self
            .consul
            .kv_list(&mesh_prefix(mesh), &QueryOptions::new())
            .await?
            .value;
        MeshState::decode(
            mesh,
            pairs
                .iter()
                .map(|p| (p.key.as_str(), p.value.as_slice(), p.modify_index, 0)),
        )
    }

    async fn acquire(&self, mesh: &str, info: &LockInfo) -> Result<(Lock, MeshState)> {
        let key = lock_key(mesh);
        let cas = match self.read_lock(mesh).await? {
            None => 0,
            Some((held, index)) => {
                if held.token != info.token && held.expires_at_ms > unix_now_ms() {
                    return Err(Error::Conflict(held_message(mesh, Some(&held))));
                }
                index
            }
        };
        let mine = Self::with_expiry(info);
        let written = match self.consul.kv_put(&key, &encode(&mine)?, Some(cas)).await {
            Ok(w) => w,
            Err(e) if e.is_retryable() => false,
            Err(e) => return Err(e.into()),
        };
        let now = self.read_lock(mesh).await?;
        match now {
            Some((held, index)) if held.token == info.token => {
                let _ = written;
                let state = self.load(mesh).await?;
                Ok((
                    Lock {
                        mesh: mesh.to_owned(),
                        info: info.clone(),
                        fence: 0,
                        lease: 0,
                        index: Arc::new(AtomicU64::new(index)),
                    },
                    state,
                ))
            }
            other => Err(Error::Conflict(held_message(
                mesh,
                other.as_ref().map(|(i, _)| i),
            ))),
        }
    }

    async fn keepalive(&self, lock: &Lock) -> Result<()> {
        let key = lock_key(&lock.mesh);
        let cas = lock.index.load(Ordering::SeqCst);
        let mine = Self::with_expiry(&lock.info);
        if !self.consul.kv_put(&key, &encode(&mine)?, Some(cas)).await? {
            let now = self.read_lock(&lock.mesh).await?;
            return Err(lost_lock(&lock.mesh, now.as_ref().map(|(i, _)| i)));
        }
        if let Some((held, index)) = self.read_lock(&lock.mesh).await? {
            if held.token == lock.info.token {
                lock.index.store(index, Ordering::SeqCst);
            }
        }
        Ok(())
    }

    async fn release(&self, lock: &Lock) -> Result<()> {
        if let Some((held, index)) = self.read_lock(&lock.mesh).await? {
            if held.token == lock.info.token {
                self.consul
                    .kv_delete(&lock_key(&lock.mesh), Some(index))
                    .await?;
            }
        }
        Ok(())
    }

    async fn write(
        &self,
        lock: &Lock,
        key: &StateKey,
        value: Option<Vec<u8>>,
        expected: u64,
    ) -> Result<u64> {
        match self.read_lock(&lock.mesh).await? {
            Some((held, _))
                if held.token == lock.info.token && held.expires_at_ms > unix_now_ms() => {}
            Some((held, _)) if held.token != lock.info.token => {
                return Err(lost_lock(&lock.mesh, Some(&held)))
            }
            _ => return Err(lost_lock(&lock.mesh, None)),
        }
        let path = key.path(&lock.mesh);
        let current = || async {
            Ok::<u64, Error>(
                self.consul
                    .kv_get(&path, &QueryOptions::new())
                    .await?
                    .value
                    .map_or(0, |p| p.modify_index),
            )
        };
        match value {
            Some(v) => {
                if !self.consul.kv_put(&path, &v, Some(expected)).await? {
                    return Err(changed(&path, expected, current().await?));
                }
                current().await
            }
            None => {
                if expected == 0 {
                    let found = current().await?;
                    return if found == 0 {
                        Ok(0)
                    } else {
                        Err(changed(&path, expected, found))
                    };
                }
                if !self.consul.kv_delete(&path, Some(expected)).await? {
                    return Err(changed(&path, expected, current().await?));
                }
                Ok(0)
            }
        }
    }
}
