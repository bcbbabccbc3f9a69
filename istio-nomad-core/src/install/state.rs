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
//! * **Consul**: one `/v1/txn` holds a `check-session` on the lock key (it must still be held
//!   by this holder's session) and a `cas` (or `delete-cas`, or `check-not-exists`) on the
//!   data key: a writer whose session expired or was destroyed cannot write, with no window
//!   between the check and the write (hashicorp/consul `agent/consul/state/txn.go`
//!   `txnKVS`, `TxnRW`: every operation in one transaction, any error rolls all back).
//!
//! # Lock
//!
//! * **etcd**: a lease of the lock's TTL is granted and the lock key is created with it in a
//!   transaction that requires the key to be absent (`version == 0`); the holder renews the
//!   lease every TTL/3. When the holder dies the lease expires and etcd deletes the key.
//! * **Consul**: as Consul's own locks do (hashicorp/consul `api/lock.go`): a session with
//!   a TTL (at least the server's `session_ttl_min`, 10 s by default), a lock delay and the
//!   `delete` behavior is created, and the lock key is taken with `?acquire=<session>`; the
//!   holder renews the session every TTL/3. Expiry is judged by the Consul servers, not by
//!   the operators' clocks: a holder that dies stops renewing, the session is invalidated
//!   (TTL x 2 after the last renewal, `agent/consul/session_ttl.go`) and the lock key is
//!   deleted with it. On release the key is deleted first (check-session + delete in one
//!   transaction), then the session destroyed, so no lock delay applies.
//!
//! A second operator gets [`Error::Conflict`] naming the holder, the operation and since
//! when. A holder whose lease (etcd) or session (Consul) is gone learns it from the
//! keepalive and stops before its next write ([`StateStore::keepalive`]).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::backend::consul::{SessionBehavior, SessionRequest, TxnOp as KvOp};
use crate::backend::etcd::{
    Compare, CompareResult, CompareTarget, DeleteRangeRequest, KeyValue, PutRequest, RangeRequest,
    TxnOp, TxnOpResponse, TxnRequest,
};
use crate::backend::{BackendError, Consul, Etcd, QueryOptions};
use crate::error::install::InstallError;
use crate::error::{ConflictError, Error, Result};

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
    /// Consul only: the session holding the lock.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub session: String,
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
            session: String::new(),
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

fn held(mesh: &str, info: Option<&LockInfo>) -> Error {
    ConflictError::LockHeld {
        mesh: mesh.to_owned(),
        holder: info.map(LockInfo::to_string),
    }
    .into()
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
    /// Consul: the session ID.
    session: String,
}

/// What the installer recorded about one applied job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRecord {
    /// Job ID.
    pub job_id: String,
    /// Role in the mesh (`etcd`, `apiserver`, `pilot`, ..., `app`: [`crate::spec::control_plane::Role::as_str`]);
    /// the earlier spelling `api-server` still reads as that role through `Role`'s `FromStr`.
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

    /// Renews the lock; [`Error::Conflict`] when it was lost (etcd: the lease is not found;
    /// Consul: the session is gone).
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
    serde_json::to_vec(value).map_err(|source| Error::Encode {
        what: "state record",
        source,
    })
}

fn lost_lock(mesh: &str, now: Option<&LockInfo>, source: Option<BackendError>) -> Error {
    ConflictError::LockLost {
        mesh: mesh.to_owned(),
        how: "its lease expired",
        now_held_by: now.map(LockInfo::to_string),
        source: source.map(Arc::new),
    }
    .into()
}

fn changed(key: &str, expected: u64, found: u64) -> Error {
    ConflictError::StateChanged {
        key: key.to_owned(),
        expected,
        found,
    }
    .into()
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
            session: String::new(),
        };
        match self.etcd.txn(&txn).await {
            Ok(r) => {
                let state = Self::decode_kvs(mesh, Self::ranges(&r.responses))?;
                if r.succeeded {
                    Ok((lock(r.header.revision), state))
                } else {
                    self.revoke_quietly(lease).await;
                    Err(held(mesh, state.lock.as_ref()))
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
            Ok(_) => Err(lost_lock(&lock.mesh, None, None)),
            Err(e) if e.is_not_found() => Err(lost_lock(&lock.mesh, None, Some(e))),
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
            return Err(lost_lock(&lock.mesh, now.as_ref(), None));
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

/// The state in Consul KV, locked with a session (see the [module documentation](self)).
#[derive(Clone)]
pub struct ConsulStateStore {
    consul: Arc<dyn Consul>,
    min_session_ttl: Duration,
    lock_delay: Option<Duration>,
}

impl fmt::Debug for ConsulStateStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsulStateStore")
            .field("min_session_ttl", &self.min_session_ttl)
            .finish_non_exhaustive()
    }
}

/// Consul's default `session_ttl_min`: the shortest session TTL a server accepts.
pub const CONSUL_MIN_SESSION_TTL: Duration = Duration::from_secs(10);

impl ConsulStateStore {
    /// A store over `consul`; session TTLs are at least 10 s (Consul's default
    /// `session_ttl_min`).
    pub fn new(consul: Arc<dyn Consul>) -> Self {
        ConsulStateStore {
            consul,
            min_session_ttl: CONSUL_MIN_SESSION_TTL,
            lock_delay: None,
        }
    }

    /// Sets the session's lock delay (default: the session TTL, at most 60 s): how long
    /// after a holder's session is invalidated Consul keeps others from taking the lock,
    /// so that the holder notices the loss before anyone else writes.
    #[must_use]
    pub fn lock_delay(mut self, delay: Duration) -> Self {
        self.lock_delay = Some(delay);
        self
    }

    /// For servers configured with another `session_ttl_min`.
    #[must_use]
    pub fn min_session_ttl(mut self, min: Duration) -> Self {
        self.min_session_ttl = min;
        self
    }

    async fn read_lock(&self, mesh: &str) -> Result<Option<(LockInfo, Option<String>)>> {
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
                Ok(Some((info, p.session)))
            }
        }
    }

    async fn destroy_quietly(&self, session: &str) {
        if let Err(e) = self.consul.session_destroy(session).await {
            tracing::debug!(error = %e, "could not destroy the unused lock session; its TTL ends it");
        }
    }

    fn lost(mesh: &str) -> Error {
        ConflictError::LockLost {
            mesh: mesh.to_owned(),
            how: "its Consul session is gone",
            now_held_by: None,
            source: None,
        }
        .into()
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
        let ttl = Duration::from_secs(info.ttl_secs).max(self.min_session_ttl);
        let session = self
            .consul
            .session_create(
                &SessionRequest::new(format!("istio-nomad {mesh} {}", info.holder))
                    .ttl(ttl)
                    .lock_delay(self.lock_delay.unwrap_or(ttl).min(Duration::from_secs(60)))
                    .behavior(SessionBehavior::Delete),
            )
            .await?;
        let mut mine = info.clone();
        mine.session = session.clone();
        let acquired = match self
            .consul
            .kv_acquire(&key, &encode(&mine)?, &session)
            .await
        {
            Ok(a) => a,
            Err(e) if e.is_retryable() => {
                // The acquire may have been applied before the answer was lost.
                matches!(self.read_lock(mesh).await, Ok(Some((_, Some(s)))) if s == session)
            }
            Err(e) => {
                self.destroy_quietly(&session).await;
                return Err(e.into());
            }
        };
        if !acquired {
            let holder = self.read_lock(mesh).await;
            self.destroy_quietly(&session).await;
            return Err(match holder? {
                Some((h, Some(_))) => held(mesh, Some(&h)),
                Some((h, None)) => ConflictError::LockDelay {
                    mesh: mesh.to_owned(),
                    previous: Some(h.to_string()),
                }
                .into(),
                None => ConflictError::LockDelay {
                    mesh: mesh.to_owned(),
                    previous: None,
                }
                .into(),
            });
        }
        let state = match self.load(mesh).await {
            Ok(s) => s,
            Err(e) => {
                self.destroy_quietly(&session).await;
                return Err(e);
            }
        };
        Ok((
            Lock {
                mesh: mesh.to_owned(),
                info: mine,
                fence: 0,
                lease: 0,
                session,
            },
            state,
        ))
    }

    async fn keepalive(&self, lock: &Lock) -> Result<()> {
        match self.consul.session_renew(&lock.session).await? {
            Some(_) => Ok(()),
            None => Err(Self::lost(&lock.mesh)),
        }
    }

    async fn release(&self, lock: &Lock) -> Result<()> {
        // Delete the key while the session still holds it, then end the session: a session
        // invalidated while it holds keys would put them under the lock delay.
        let r = self
            .consul
            .txn(&[
                KvOp::CheckSession {
                    key: lock_key(&lock.mesh),
                    session: lock.session.clone(),
                },
                KvOp::Delete {
                    key: lock_key(&lock.mesh),
                },
            ])
            .await;
        let destroyed = self.consul.session_destroy(&lock.session).await;
        r?;
        destroyed?;
        Ok(())
    }

    async fn write(
        &self,
        lock: &Lock,
        key: &StateKey,
        value: Option<Vec<u8>>,
        expected: u64,
    ) -> Result<u64> {
        let path = key.path(&lock.mesh);
        let check = KvOp::CheckSession {
            key: lock_key(&lock.mesh),
            session: lock.session.clone(),
        };
        let is_delete = value.is_none();
        let op = match value {
            Some(v) => KvOp::Cas {
                key: path.clone(),
                value: v,
                index: expected,
            },
            None if expected == 0 => KvOp::CheckNotExists { key: path.clone() },
            None => KvOp::DeleteCas {
                key: path.clone(),
                index: expected,
            },
        };
        let r = self.consul.txn(&[check, op]).await?;
        if r.succeeded() {
            if is_delete {
                return Ok(0);
            }
            return r
                .results
                .iter()
                .find(|p| p.key == path)
                .map(|p| p.modify_index)
                .ok_or_else(|| {
                    Error::Backend(crate::backend::BackendError::Decode {
                        service: crate::backend::Service::Consul,
                        path: "/v1/txn".into(),
                        message: format!("no result for key {path}"),
                    })
                });
        }
        if r.errors.iter().any(|e| e.op_index == 0) {
            let now = self.read_lock(&lock.mesh).await.ok().flatten();
            return Err(match now {
                Some((h, _)) if h.token != lock.info.token => lost_lock(&lock.mesh, Some(&h), None),
                _ => Self::lost(&lock.mesh),
            });
        }
        let found = self
            .consul
            .kv_get(&path, &QueryOptions::new())
            .await?
            .value
            .map_or(0, |p| p.modify_index);
        Err(changed(&path, expected, found))
    }
}
