//! An in-memory etcd member: one store revision, per-key create/mod revisions and versions,
//! transactions, and leases that expire (checked on every call) and take their keys along.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::requests::{lease_keepalive as keepalive_request, lease_not_found};
use super::types::{
    CompareResult, CompareTarget, DeleteRangeRequest, DeleteRangeResponse, KeyValue,
    LeaseGrantResponse, LeaseKeepAliveResponse, Member, MemberListResponse, PutRequest,
    PutResponse, RangeRequest, RangeResponse, ResponseHeader, StatusResponse, TxnOp, TxnOpResponse,
    TxnRequest, TxnResponse,
};
use super::Etcd;
use crate::backend::blocking::lock;
use crate::backend::request::Method;
use crate::backend::{BackendError, BackendResult, Service};

const CLUSTER_ID: u64 = 0x1c0f_fee0_0000_0001;
const MEMBER_ID: u64 = 0x1c0f_fee0_0000_0002;
const RAFT_TERM: u64 = 2;

/// The shortest lease etcd grants with its default election settings (1.5 s, rounded up).
pub const DEFAULT_MIN_TTL: i64 = 2;

#[derive(Debug)]
struct Lease {
    ttl: i64,
    expires: Instant,
    keys: BTreeSet<Vec<u8>>,
}

#[derive(Debug)]
struct State {
    revision: i64,
    kvs: BTreeMap<Vec<u8>, KeyValue>,
    leases: HashMap<i64, Lease>,
    next_lease: i64,
    min_ttl: i64,
}

/// An in-memory etcd member. Clones share the same store.
#[derive(Clone)]
pub struct MemoryEtcd {
    state: Arc<Mutex<State>>,
}

impl fmt::Debug for MemoryEtcd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = lock(&self.state);
        f.debug_struct("MemoryEtcd")
            .field("revision", &s.revision)
            .field("keys", &s.kvs.len())
            .finish()
    }
}

impl Default for MemoryEtcd {
    fn default() -> Self {
        Self::new()
    }
}

fn http(path: &str, status: u16, message: &str) -> BackendError {
    BackendError::Http {
        service: Service::Etcd,
        method: Method::Post,
        path: path.into(),
        status,
        message: message.into(),
    }
}

fn in_range(key: &[u8], start: &[u8], end: &[u8]) -> bool {
    if end.is_empty() {
        return key == start;
    }
    let from = start == [0] || key >= start;
    let to = end == [0] || key < end;
    from && to
}

impl State {
    fn header(&self) -> ResponseHeader {
        ResponseHeader {
            cluster_id: CLUSTER_ID,
            member_id: MEMBER_ID,
            revision: self.revision,
            raft_term: RAFT_TERM,
        }
    }

    /// Revokes every lease past its deadline (one revision per lease that had keys).
    fn expire(&mut self) {
        let now = Instant::now();
        let expired: Vec<i64> = self
            .leases
            .iter()
            .filter(|(_, l)| l.expires <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            self.revoke(id);
        }
    }

    fn revoke(&mut self, id: i64) -> bool {
        let Some(lease) = self.leases.remove(&id) else {
            return false;
        };
        let attached: Vec<Vec<u8>> = lease
            .keys
            .into_iter()
            .filter(|k| self.kvs.get(k).is_some_and(|kv| kv.lease == id))
            .collect();
        if !attached.is_empty() {
            self.revision += 1;
            for k in attached {
                self.kvs.remove(&k);
            }
        }
        true
    }

    fn range(&self, r: &RangeRequest) -> BackendResult<RangeResponse> {
        if r.revision > self.revision {
            return Err(http(
                "/v3/kv/range",
                400,
                "etcdserver: mvcc: required revision is a future revision",
            ));
        }
        if r.revision != 0 && r.revision < self.revision {
            return Err(http(
                "/v3/kv/range",
                400,
                "etcdserver: mvcc: required revision has been compacted",
            ));
        }
        let matched: Vec<&KeyValue> = self
            .kvs
            .values()
            .filter(|kv| in_range(&kv.key, &r.key, &r.range_end))
            .collect();
        let count = matched.len() as i64;
        let limit = if r.limit > 0 {
            r.limit as usize
        } else {
            usize::MAX
        };
        let kvs: Vec<KeyValue> = if r.count_only {
            Vec::new()
        } else {
            matched
                .iter()
                .take(limit)
                .map(|kv| {
                    let mut kv = (*kv).clone();
                    if r.keys_only {
                        kv.value.clear();
                    }
                    kv
                })
                .collect()
        };
        let more = !r.count_only && matched.len() > limit;
        Ok(RangeResponse {
            header: self.header(),
            kvs,
            more,
            count,
        })
    }

    fn check_lease(&self, lease: i64, path: &str) -> BackendResult<()> {
        if lease != 0 && !self.leases.contains_key(&lease) {
            return Err(BackendError::NotFound {
                service: Service::Etcd,
                method: Method::Post,
                path: path.into(),
                status: 404,
                message: "etcdserver: requested lease not found".into(),
            });
        }
        Ok(())
    }

    /// Applies a put at the current revision (the caller has bumped it).
    fn apply_put(&mut self, r: &PutRequest) -> PutResponse {
        let rev = self.revision;
        let prev = self.kvs.get(&r.key).cloned();
        if let Some(p) = &prev {
            if p.lease != 0 && p.lease != r.lease {
                if let Some(l) = self.leases.get_mut(&p.lease) {
                    l.keys.remove(&r.key);
                }
            }
        }
        if r.lease != 0 {
            if let Some(l) = self.leases.get_mut(&r.lease) {
                l.keys.insert(r.key.clone());
            }
        }
        let kv = KeyValue {
            key: r.key.clone(),
            value: r.value.clone(),
            create_revision: prev.as_ref().map_or(rev, |p| p.create_revision),
            mod_revision: rev,
            version: prev.as_ref().map_or(1, |p| p.version + 1),
            lease: r.lease,
        };
        self.kvs.insert(r.key.clone(), kv);
        PutResponse {
            header: self.header(),
            prev_kv: if r.prev_kv { prev } else { None },
        }
    }

    fn matching(&self, key: &[u8], end: &[u8]) -> Vec<Vec<u8>> {
        self.kvs
            .keys()
            .filter(|k| in_range(k, key, end))
            .cloned()
            .collect()
    }

    /// Applies a delete at the current revision (the caller has bumped it if anything matched).
    fn apply_delete(&mut self, r: &DeleteRangeRequest) -> DeleteRangeResponse {
        let keys = self.matching(&r.key, &r.range_end);
        let mut prev = Vec::new();
        for k in &keys {
            if let Some(kv) = self.kvs.remove(k) {
                if kv.lease != 0 {
                    if let Some(l) = self.leases.get_mut(&kv.lease) {
                        l.keys.remove(k);
                    }
                }
                if r.prev_kv {
                    prev.push(kv);
                }
            }
        }
        DeleteRangeResponse {
            header: self.header(),
            deleted: keys.len() as i64,
            prev_kvs: prev,
        }
    }

    fn compare(&self, c: &super::types::Compare) -> bool {
        let kv = self.kvs.get(&c.key);
        let ord = match (&c.target, kv) {
            (CompareTarget::Value(_), None) => return false,
            (CompareTarget::Value(v), Some(kv)) => kv.value.as_slice().cmp(v.as_slice()),
            (CompareTarget::Version(v), kv) => kv.map_or(0, |k| k.version).cmp(v),
            (CompareTarget::CreateRevision(v), kv) => kv.map_or(0, |k| k.create_revision).cmp(v),
            (CompareTarget::ModRevision(v), kv) => kv.map_or(0, |k| k.mod_revision).cmp(v),
            (CompareTarget::Lease(v), kv) => kv.map_or(0, |k| k.lease).cmp(v),
        };
        match c.result {
            CompareResult::Equal => ord.is_eq(),
            CompareResult::NotEqual => ord.is_ne(),
            CompareResult::Greater => ord.is_gt(),
            CompareResult::Less => ord.is_lt(),
        }
    }
}

impl MemoryEtcd {
    /// An empty store at revision 1.
    pub fn new() -> Self {
        MemoryEtcd {
            state: Arc::new(Mutex::new(State {
                revision: 1,
                kvs: BTreeMap::new(),
                leases: HashMap::new(),
                next_lease: 0x694d_0000_0000_0000,
                min_ttl: DEFAULT_MIN_TTL,
            })),
        }
    }

    /// Sets the shortest TTL granted (etcd derives it from its election timeout).
    pub fn set_min_ttl(&self, secs: i64) {
        lock(&self.state).min_ttl = secs.max(1);
    }

    /// The current store revision.
    pub fn revision(&self) -> i64 {
        let mut s = lock(&self.state);
        s.expire();
        s.revision
    }
}

#[async_trait]
impl Etcd for MemoryEtcd {
    async fn range(&self, req: &RangeRequest) -> BackendResult<RangeResponse> {
        super::requests::range(req, None)?;
        let mut s = lock(&self.state);
        s.expire();
        s.range(req)
    }

    async fn put(&self, req: &PutRequest) -> BackendResult<PutResponse> {
        super::requests::put(req, None)?;
        let mut s = lock(&self.state);
        s.expire();
        s.check_lease(req.lease, "/v3/kv/put")?;
        s.revision += 1;
        Ok(s.apply_put(req))
    }

    async fn delete_range(&self, req: &DeleteRangeRequest) -> BackendResult<DeleteRangeResponse> {
        super::requests::delete_range(req, None)?;
        let mut s = lock(&self.state);
        s.expire();
        if !s.matching(&req.key, &req.range_end).is_empty() {
            s.revision += 1;
        }
        Ok(s.apply_delete(req))
    }

    async fn txn(&self, req: &TxnRequest) -> BackendResult<TxnResponse> {
        super::requests::txn(req, None)?;
        let mut s = lock(&self.state);
        s.expire();
        let succeeded = req.compare.iter().all(|c| s.compare(c));
        let ops = if succeeded {
            &req.success
        } else {
            &req.failure
        };
        for op in ops {
            if let TxnOp::Put(p) = op {
                s.check_lease(p.lease, "/v3/kv/txn")?;
            }
        }
        let writes = ops.iter().any(|op| match op {
            TxnOp::Put(_) => true,
            TxnOp::DeleteRange(d) => !s.matching(&d.key, &d.range_end).is_empty(),
            TxnOp::Range(_) => false,
        });
        if writes {
            s.revision += 1;
        }
        let mut responses = Vec::new();
        for op in ops {
            responses.push(match op {
                TxnOp::Range(r) => TxnOpResponse::Range(s.range(&RangeRequest {
                    revision: 0,
                    ..r.clone()
                })?),
                TxnOp::Put(p) => TxnOpResponse::Put(s.apply_put(p)),
                TxnOp::DeleteRange(d) => TxnOpResponse::DeleteRange(s.apply_delete(d)),
            });
        }
        Ok(TxnResponse {
            header: s.header(),
            succeeded,
            responses,
        })
    }

    async fn lease_grant(&self, ttl: i64) -> BackendResult<LeaseGrantResponse> {
        super::requests::lease_grant(ttl, None)?;
        let mut s = lock(&self.state);
        s.expire();
        let ttl = ttl.max(s.min_ttl);
        s.next_lease += 1;
        let id = s.next_lease;
        s.leases.insert(
            id,
            Lease {
                ttl,
                expires: Instant::now() + Duration::from_secs(ttl as u64),
                keys: BTreeSet::new(),
            },
        );
        Ok(LeaseGrantResponse {
            header: s.header(),
            id,
            ttl,
        })
    }

    async fn lease_keepalive(&self, id: i64) -> BackendResult<LeaseKeepAliveResponse> {
        let mut s = lock(&self.state);
        s.expire();
        let header = s.header();
        match s.leases.get_mut(&id) {
            Some(l) => {
                l.expires = Instant::now() + Duration::from_secs(l.ttl as u64);
                Ok(LeaseKeepAliveResponse {
                    header,
                    id,
                    ttl: l.ttl,
                })
            }
            None => Err(lease_not_found(&keepalive_request(id, None))),
        }
    }

    async fn lease_revoke(&self, id: i64) -> BackendResult<ResponseHeader> {
        let mut s = lock(&self.state);
        s.expire();
        if s.revoke(id) {
            Ok(s.header())
        } else {
            Err(lease_not_found(&super::requests::lease_revoke(id, None)))
        }
    }

    async fn member_list(&self) -> BackendResult<MemberListResponse> {
        let mut s = lock(&self.state);
        s.expire();
        Ok(MemberListResponse {
            header: s.header(),
            members: vec![Member {
                id: MEMBER_ID,
                name: "default".into(),
                peer_urls: vec!["http://localhost:2380".into()],
                client_urls: vec!["http://localhost:2379".into()],
                is_learner: false,
            }],
        })
    }

    async fn health(&self) -> BackendResult<bool> {
        Ok(true)
    }

    async fn status(&self) -> BackendResult<StatusResponse> {
        let mut s = lock(&self.state);
        s.expire();
        let db_size = s
            .kvs
            .values()
            .map(|kv| (kv.key.len() + kv.value.len()) as i64)
            .sum::<i64>()
            + 16384;
        Ok(StatusResponse {
            header: s.header(),
            version: "in-memory".into(),
            db_size,
            leader: MEMBER_ID,
            raft_index: s.revision as u64,
            raft_term: RAFT_TERM,
        })
    }
}
