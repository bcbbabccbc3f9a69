//! Typed etcd v3 messages (keys and values as bytes, revisions as `i64`).

/// The header of every etcd answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResponseHeader {
    /// Cluster ID.
    pub cluster_id: u64,
    /// ID of the member that answered.
    pub member_id: u64,
    /// Store revision when the request was applied.
    pub revision: i64,
    /// Raft term.
    pub raft_term: u64,
}

/// A stored key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyValue {
    /// Key bytes.
    pub key: Vec<u8>,
    /// Value bytes (empty with `keys_only`).
    pub value: Vec<u8>,
    /// Revision of the key's creation.
    pub create_revision: i64,
    /// Revision of the key's last change: the value to compare for check-and-set.
    pub mod_revision: i64,
    /// Number of changes since creation (1 after the first put).
    pub version: i64,
    /// Lease the key is attached to (0: none).
    pub lease: i64,
}

/// The byte string just after every key starting with `prefix` (for a range end):
/// the prefix with its last byte below 0xff incremented, or `\0` (every key) if none.
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

/// `/v3/kv/range`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangeRequest {
    /// First key.
    pub key: Vec<u8>,
    /// End of the range (exclusive); empty: only `key`; `\0`: every key from `key` on.
    pub range_end: Vec<u8>,
    /// Most keys returned (0: no limit).
    pub limit: i64,
    /// Read at this revision (0: latest).
    pub revision: i64,
    /// Return keys without values.
    pub keys_only: bool,
    /// Return only the count.
    pub count_only: bool,
    /// Allow a local (possibly stale) read.
    pub serializable: bool,
}

impl RangeRequest {
    /// One key.
    pub fn key(key: impl Into<Vec<u8>>) -> Self {
        RangeRequest {
            key: key.into(),
            ..Self::default()
        }
    }

    /// Every key starting with `prefix`.
    pub fn prefix(prefix: impl Into<Vec<u8>>) -> Self {
        let key = prefix.into();
        let range_end = if key.is_empty() {
            vec![0]
        } else {
            prefix_end(&key)
        };
        let key = if key.is_empty() { vec![0] } else { key };
        RangeRequest {
            key,
            range_end,
            ..Self::default()
        }
    }

    /// Sets the limit.
    #[must_use]
    pub fn limit(mut self, limit: i64) -> Self {
        self.limit = limit;
        self
    }

    /// Keys only.
    #[must_use]
    pub fn keys_only(mut self) -> Self {
        self.keys_only = true;
        self
    }

    /// Count only.
    #[must_use]
    pub fn count_only(mut self) -> Self {
        self.count_only = true;
        self
    }
}

/// Answer to a range.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangeResponse {
    /// Header.
    pub header: ResponseHeader,
    /// Keys found, in key order.
    pub kvs: Vec<KeyValue>,
    /// More keys matched than `limit`.
    pub more: bool,
    /// Keys matched.
    pub count: i64,
}

/// `/v3/kv/put`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PutRequest {
    /// Key.
    pub key: Vec<u8>,
    /// Value.
    pub value: Vec<u8>,
    /// Lease to attach the key to (0: none).
    pub lease: i64,
    /// Return the previous entry.
    pub prev_kv: bool,
}

impl PutRequest {
    /// Puts `value` at `key`.
    pub fn new(key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> Self {
        PutRequest {
            key: key.into(),
            value: value.into(),
            ..Self::default()
        }
    }

    /// Attaches the key to a lease.
    #[must_use]
    pub fn lease(mut self, lease: i64) -> Self {
        self.lease = lease;
        self
    }

    /// Asks for the previous entry.
    #[must_use]
    pub fn prev_kv(mut self) -> Self {
        self.prev_kv = true;
        self
    }
}

/// Answer to a put.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PutResponse {
    /// Header (its revision is the key's new `mod_revision`).
    pub header: ResponseHeader,
    /// Previous entry, when asked for and present.
    pub prev_kv: Option<KeyValue>,
}

/// `/v3/kv/deleterange`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeleteRangeRequest {
    /// First key.
    pub key: Vec<u8>,
    /// End of the range, as for [`RangeRequest`].
    pub range_end: Vec<u8>,
    /// Return the deleted entries.
    pub prev_kv: bool,
}

impl DeleteRangeRequest {
    /// One key.
    pub fn key(key: impl Into<Vec<u8>>) -> Self {
        DeleteRangeRequest {
            key: key.into(),
            ..Self::default()
        }
    }

    /// Every key starting with `prefix`.
    pub fn prefix(prefix: impl Into<Vec<u8>>) -> Self {
        let r = RangeRequest::prefix(prefix);
        DeleteRangeRequest {
            key: r.key,
            range_end: r.range_end,
            prev_kv: false,
        }
    }

    /// Asks for the deleted entries.
    #[must_use]
    pub fn prev_kv(mut self) -> Self {
        self.prev_kv = true;
        self
    }
}

/// Answer to a delete.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeleteRangeResponse {
    /// Header.
    pub header: ResponseHeader,
    /// Keys deleted.
    pub deleted: i64,
    /// Deleted entries, when asked for.
    pub prev_kvs: Vec<KeyValue>,
}

/// What a comparison looks at, with the value to compare to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompareTarget {
    /// The key's version (0: absent).
    Version(i64),
    /// The key's create revision (0: absent).
    CreateRevision(i64),
    /// The key's mod revision (0: absent).
    ModRevision(i64),
    /// The key's value (an absent key never matches).
    Value(Vec<u8>),
    /// The key's lease.
    Lease(i64),
}

/// How a comparison compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareResult {
    /// `==`
    Equal,
    /// `>`
    Greater,
    /// `<`
    Less,
    /// `!=`
    NotEqual,
}

/// One condition of a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compare {
    /// Key compared.
    pub key: Vec<u8>,
    /// Comparison.
    pub result: CompareResult,
    /// What is compared, and to what.
    pub target: CompareTarget,
}

impl Compare {
    /// `mod_revision(key) == rev` (0: the key is absent).
    pub fn mod_revision(key: impl Into<Vec<u8>>, rev: i64) -> Self {
        Compare {
            key: key.into(),
            result: CompareResult::Equal,
            target: CompareTarget::ModRevision(rev),
        }
    }

    /// `version(key) == v` (0: the key is absent).
    pub fn version(key: impl Into<Vec<u8>>, v: i64) -> Self {
        Compare {
            key: key.into(),
            result: CompareResult::Equal,
            target: CompareTarget::Version(v),
        }
    }

    /// `value(key) == value`.
    pub fn value(key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> Self {
        Compare {
            key: key.into(),
            result: CompareResult::Equal,
            target: CompareTarget::Value(value.into()),
        }
    }

    /// Uses another comparison than `==`.
    #[must_use]
    pub fn with_result(mut self, result: CompareResult) -> Self {
        self.result = result;
        self
    }
}

/// One operation of a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxnOp {
    /// A read.
    Range(RangeRequest),
    /// A write.
    Put(PutRequest),
    /// A delete.
    DeleteRange(DeleteRangeRequest),
}

/// The answer to one operation of a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxnOpResponse {
    /// Answer to a read.
    Range(RangeResponse),
    /// Answer to a write.
    Put(PutResponse),
    /// Answer to a delete.
    DeleteRange(DeleteRangeResponse),
}

/// `/v3/kv/txn`: if every comparison holds, run `success`, else `failure`, atomically.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TxnRequest {
    /// Conditions.
    pub compare: Vec<Compare>,
    /// Operations when every condition holds.
    pub success: Vec<TxnOp>,
    /// Operations otherwise.
    pub failure: Vec<TxnOp>,
}

impl TxnRequest {
    /// An empty transaction.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a condition.
    #[must_use]
    pub fn when(mut self, c: Compare) -> Self {
        self.compare.push(c);
        self
    }

    /// Adds an operation run on success.
    #[must_use]
    pub fn and_then(mut self, op: TxnOp) -> Self {
        self.success.push(op);
        self
    }

    /// Adds an operation run on failure.
    #[must_use]
    pub fn or_else(mut self, op: TxnOp) -> Self {
        self.failure.push(op);
        self
    }
}

/// Answer to a transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TxnResponse {
    /// Header.
    pub header: ResponseHeader,
    /// Whether every condition held.
    pub succeeded: bool,
    /// One answer per operation run.
    pub responses: Vec<TxnOpResponse>,
}

/// Answer to `/v3/lease/grant`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeaseGrantResponse {
    /// Header.
    pub header: ResponseHeader,
    /// Lease ID.
    pub id: i64,
    /// Granted TTL in seconds (the server may raise a short one to its minimum).
    pub ttl: i64,
}

/// Answer to `/v3/lease/keepalive`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeaseKeepAliveResponse {
    /// Header.
    pub header: ResponseHeader,
    /// Lease ID.
    pub id: i64,
    /// Remaining TTL in seconds after the renewal.
    pub ttl: i64,
}

/// Answer to `/v3/maintenance/status`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusResponse {
    /// Header.
    pub header: ResponseHeader,
    /// Server version (`3.4.23`).
    pub version: String,
    /// Size of the database in bytes.
    pub db_size: i64,
    /// Member ID of the leader.
    pub leader: u64,
    /// Raft index.
    pub raft_index: u64,
    /// Raft term.
    pub raft_term: u64,
}

/// One member of the cluster, as `/v3/cluster/member/list` reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Member {
    /// Member ID.
    pub id: u64,
    /// Name (`--name`); empty for a member that was added but has not started yet.
    pub name: String,
    /// Peer URLs.
    pub peer_urls: Vec<String>,
    /// Client URLs (empty until the member has started).
    pub client_urls: Vec<String>,
    /// True for a learner (a non-voting member).
    pub is_learner: bool,
}

impl Member {
    /// True once the member has started and published its name and client URLs.
    pub fn is_started(&self) -> bool {
        !self.name.is_empty() && !self.client_urls.is_empty()
    }
}

/// Answer to `/v3/cluster/member/list`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberListResponse {
    /// Header.
    pub header: ResponseHeader,
    /// Every member.
    pub members: Vec<Member>,
}
