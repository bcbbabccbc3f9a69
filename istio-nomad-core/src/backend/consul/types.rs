//! Typed Consul bodies (agent service definitions, catalog and health entries, KV pairs).

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::backend::null_default;

/// Check statuses.
pub mod check_status {
    /// The check passes.
    pub const PASSING: &str = "passing";
    /// The check warns (an HTTP 429 answer, for example).
    pub const WARNING: &str = "warning";
    /// The check fails; new checks start here.
    pub const CRITICAL: &str = "critical";
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A health check in a service registration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AgentCheck {
    /// Check ID (generated from the service ID when empty).
    #[serde(rename = "CheckID", skip_serializing_if = "Option::is_none")]
    pub check_id: Option<String>,
    /// Check name.
    #[serde(rename = "Name", skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// URL of an HTTP check (2xx passes, 429 warns).
    #[serde(rename = "HTTP", skip_serializing_if = "Option::is_none")]
    pub http: Option<String>,
    /// `host:port` of a TCP check.
    #[serde(rename = "TCP", skip_serializing_if = "Option::is_none")]
    pub tcp: Option<String>,
    /// `host:port[/service]` of a gRPC check.
    #[serde(rename = "GRPC", skip_serializing_if = "Option::is_none")]
    pub grpc: Option<String>,
    /// TTL of a TTL check (`15s`).
    #[serde(rename = "TTL", skip_serializing_if = "Option::is_none")]
    pub ttl: Option<String>,
    /// Interval (required for HTTP, TCP, gRPC checks).
    #[serde(rename = "Interval", skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    /// Timeout (default 10s).
    #[serde(rename = "Timeout", skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// Initial status.
    #[serde(rename = "Status", skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Remove the service after this long critical (minimum 1m).
    #[serde(
        rename = "DeregisterCriticalServiceAfter",
        skip_serializing_if = "Option::is_none"
    )]
    pub deregister_critical_service_after: Option<String>,
    /// Free text.
    #[serde(rename = "Notes", skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

/// Connect settings of a registration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceConnect {
    /// The service speaks Connect itself.
    #[serde(rename = "Native", skip_serializing_if = "is_false")]
    pub native: bool,
    /// A sidecar service definition.
    #[serde(rename = "SidecarService", skip_serializing_if = "Option::is_none")]
    pub sidecar_service: Option<serde_json::Value>,
}

/// A service definition for `PUT /v1/agent/service/register`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceRegistration {
    /// Service name (required).
    #[serde(rename = "Name")]
    pub name: String,
    /// Instance ID, unique on the agent (defaults to the name).
    #[serde(rename = "ID", skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Tags.
    #[serde(rename = "Tags", skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Address (empty: the node's).
    #[serde(rename = "Address", skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Port.
    #[serde(rename = "Port", skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Metadata.
    #[serde(rename = "Meta", skip_serializing_if = "BTreeMap::is_empty")]
    pub meta: BTreeMap<String, String>,
    /// `connect-proxy`, `mesh-gateway`, ... (empty: a typical service).
    #[serde(rename = "Kind", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Proxy settings (for `connect-proxy` services).
    #[serde(rename = "Proxy", skip_serializing_if = "Option::is_none")]
    pub proxy: Option<serde_json::Value>,
    /// Connect settings.
    #[serde(rename = "Connect", skip_serializing_if = "Option::is_none")]
    pub connect: Option<ServiceConnect>,
    /// Health checks.
    #[serde(rename = "Checks", skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<AgentCheck>,
    /// Namespace (Consul Enterprise).
    #[serde(rename = "Namespace", skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Let tags be changed from the catalog.
    #[serde(rename = "EnableTagOverride", skip_serializing_if = "is_false")]
    pub enable_tag_override: bool,
}

impl ServiceRegistration {
    /// A registration of service `name`.
    pub fn new(name: impl Into<String>) -> Self {
        ServiceRegistration {
            name: name.into(),
            ..Self::default()
        }
    }

    /// Sets the instance ID.
    #[must_use]
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Sets address and port.
    #[must_use]
    pub fn address(mut self, address: impl Into<String>, port: u16) -> Self {
        self.address = Some(address.into());
        self.port = Some(port);
        self
    }

    /// Adds a tag.
    #[must_use]
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.tags.push(tag.into());
        self
    }

    /// Adds a metadata entry.
    #[must_use]
    pub fn meta(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.meta.insert(key.into(), value.into());
        self
    }

    /// Adds a check.
    #[must_use]
    pub fn check(mut self, check: AgentCheck) -> Self {
        self.checks.push(check);
        self
    }

    /// The instance ID (the name when no ID is set).
    pub fn service_id(&self) -> &str {
        self.id
            .as_deref()
            .filter(|s| !s.is_empty())
            .unwrap_or(&self.name)
    }
}

/// One instance from `GET /v1/catalog/service/:name`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CatalogService {
    /// Node ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Node name.
    #[serde(rename = "Node")]
    pub node: String,
    /// Node address.
    #[serde(rename = "Address")]
    pub address: String,
    /// Node metadata (Istio 1.0's Pilot reads the `protocol` key here).
    #[serde(rename = "NodeMeta", deserialize_with = "null_default")]
    pub node_meta: BTreeMap<String, String>,
    /// Datacenter.
    #[serde(rename = "Datacenter")]
    pub datacenter: String,
    /// Instance ID.
    #[serde(rename = "ServiceID")]
    pub service_id: String,
    /// Service name.
    #[serde(rename = "ServiceName")]
    pub service_name: String,
    /// Service address (empty: use the node address).
    #[serde(rename = "ServiceAddress")]
    pub service_address: String,
    /// Service port.
    #[serde(rename = "ServicePort")]
    pub service_port: u16,
    /// Tags.
    #[serde(rename = "ServiceTags", deserialize_with = "null_default")]
    pub service_tags: Vec<String>,
    /// Metadata.
    #[serde(rename = "ServiceMeta", deserialize_with = "null_default")]
    pub service_meta: BTreeMap<String, String>,
    /// Kind (empty for typical services).
    #[serde(rename = "ServiceKind")]
    pub service_kind: String,
    /// Raft index of creation.
    #[serde(rename = "CreateIndex")]
    pub create_index: u64,
    /// Raft index of the last change.
    #[serde(rename = "ModifyIndex")]
    pub modify_index: u64,
}

/// A node in a health entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Node {
    /// Node ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Node name.
    #[serde(rename = "Node")]
    pub node: String,
    /// Address.
    #[serde(rename = "Address")]
    pub address: String,
    /// Datacenter.
    #[serde(rename = "Datacenter")]
    pub datacenter: String,
}

/// A service in a health entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AgentService {
    /// Instance ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Service name.
    #[serde(rename = "Service")]
    pub service: String,
    /// Tags.
    #[serde(rename = "Tags", deserialize_with = "null_default")]
    pub tags: Vec<String>,
    /// Address.
    #[serde(rename = "Address")]
    pub address: String,
    /// Port.
    #[serde(rename = "Port")]
    pub port: u16,
    /// Metadata.
    #[serde(rename = "Meta", deserialize_with = "null_default")]
    pub meta: BTreeMap<String, String>,
    /// Kind.
    #[serde(rename = "Kind")]
    pub kind: String,
    /// Raft index of creation.
    #[serde(rename = "CreateIndex")]
    pub create_index: u64,
    /// Raft index of the last change.
    #[serde(rename = "ModifyIndex")]
    pub modify_index: u64,
}

/// A check's state in a health entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HealthCheck {
    /// Node name.
    #[serde(rename = "Node")]
    pub node: String,
    /// Check ID.
    #[serde(rename = "CheckID")]
    pub check_id: String,
    /// Check name.
    #[serde(rename = "Name")]
    pub name: String,
    /// See [`check_status`].
    #[serde(rename = "Status")]
    pub status: String,
    /// Notes.
    #[serde(rename = "Notes")]
    pub notes: String,
    /// Last output.
    #[serde(rename = "Output")]
    pub output: String,
    /// Instance ID (empty for node checks).
    #[serde(rename = "ServiceID")]
    pub service_id: String,
    /// Service name (empty for node checks).
    #[serde(rename = "ServiceName")]
    pub service_name: String,
    /// Raft index of creation.
    #[serde(rename = "CreateIndex")]
    pub create_index: u64,
    /// Raft index of the last change.
    #[serde(rename = "ModifyIndex")]
    pub modify_index: u64,
}

/// One entry of `GET /v1/health/service/:name`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceEntry {
    /// The node.
    #[serde(rename = "Node")]
    pub node: Node,
    /// The instance.
    #[serde(rename = "Service")]
    pub service: AgentService,
    /// Node and service checks.
    #[serde(rename = "Checks", deserialize_with = "null_default")]
    pub checks: Vec<HealthCheck>,
}

impl ServiceEntry {
    /// True when every check passes.
    pub fn is_passing(&self) -> bool {
        self.checks
            .iter()
            .all(|c| c.status == check_status::PASSING)
    }
}

fn ser_b64<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
    if v.is_empty() {
        s.serialize_none()
    } else {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(v))
    }
}

fn de_b64<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    match Option::<String>::deserialize(d)? {
        None => Ok(Vec::new()),
        Some(s) => base64::engine::general_purpose::STANDARD
            .decode(s.as_bytes())
            .map_err(serde::de::Error::custom),
    }
}

fn empty_none<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.filter(|s| !s.is_empty()))
}

/// A KV entry (`Value` is base64 on the wire).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct KvPair {
    /// Key.
    #[serde(rename = "Key")]
    pub key: String,
    /// Value bytes.
    #[serde(
        rename = "Value",
        serialize_with = "ser_b64",
        deserialize_with = "de_b64"
    )]
    pub value: Vec<u8>,
    /// Opaque flags.
    #[serde(rename = "Flags")]
    pub flags: u64,
    /// Session holding the lock, if any (an empty string reads as none).
    #[serde(
        rename = "Session",
        skip_serializing_if = "Option::is_none",
        deserialize_with = "empty_none"
    )]
    pub session: Option<String>,
    /// Raft index of creation.
    #[serde(rename = "CreateIndex")]
    pub create_index: u64,
    /// Raft index of the last change: the `cas` value for the next write.
    #[serde(rename = "ModifyIndex")]
    pub modify_index: u64,
    /// Times the lock was acquired.
    #[serde(rename = "LockIndex")]
    pub lock_index: u64,
}

/// What happens to the keys a session holds when the session is invalidated (hashicorp/consul
/// `agent/structs/structs.go` `SessionBehavior`; `agent/consul/state/session.go`
/// `deleteSessionTxn`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SessionBehavior {
    /// The lock is released: the key stays, its `Session` is cleared.
    #[default]
    #[serde(rename = "release")]
    Release,
    /// The keys held are deleted.
    #[serde(rename = "delete")]
    Delete,
}

impl SessionBehavior {
    /// `release` or `delete`.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionBehavior::Release => "release",
            SessionBehavior::Delete => "delete",
        }
    }
}

/// A session to create (`PUT /v1/session/create`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionRequest {
    /// Human-readable name.
    pub name: String,
    /// Invalidate the session unless renewed within this time (whole seconds are sent).
    /// Consul refuses a TTL outside `[session_ttl_min, 24h]` (10 s by default).
    pub ttl: Option<std::time::Duration>,
    /// After the session is invalidated, the keys it held cannot be acquired for this long
    /// (Consul default 15 s, capped at 60 s).
    pub lock_delay: Option<std::time::Duration>,
    /// What happens to held keys on invalidation.
    pub behavior: SessionBehavior,
}

impl SessionRequest {
    /// A session named `name` with Consul's defaults (no TTL, 15 s lock delay, release).
    pub fn new(name: impl Into<String>) -> Self {
        SessionRequest {
            name: name.into(),
            ..Self::default()
        }
    }

    /// Sets the TTL.
    #[must_use]
    pub fn ttl(mut self, ttl: std::time::Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// Sets the lock delay.
    #[must_use]
    pub fn lock_delay(mut self, delay: std::time::Duration) -> Self {
        self.lock_delay = Some(delay);
        self
    }

    /// Sets the invalidation behavior.
    #[must_use]
    pub fn behavior(mut self, behavior: SessionBehavior) -> Self {
        self.behavior = behavior;
        self
    }
}

/// A session as `/v1/session/info/:id` and `/v1/session/renew/:id` return it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SessionInfo {
    /// Session ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Name.
    #[serde(rename = "Name")]
    pub name: String,
    /// Node the session belongs to.
    #[serde(rename = "Node")]
    pub node: String,
    /// Lock delay in nanoseconds.
    #[serde(rename = "LockDelay")]
    pub lock_delay: u64,
    /// `release` or `delete`.
    #[serde(rename = "Behavior")]
    pub behavior: String,
    /// TTL as a Go duration (`15s`), empty for none.
    #[serde(rename = "TTL")]
    pub ttl: String,
    /// Raft index of creation.
    #[serde(rename = "CreateIndex")]
    pub create_index: u64,
    /// Raft index of the last change.
    #[serde(rename = "ModifyIndex")]
    pub modify_index: u64,
}

/// One KV operation of a `/v1/txn` transaction (hashicorp/consul `api/txn.go` `KVOp`
/// verbs, applied by `agent/consul/state/txn.go` `txnKVS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxnOp {
    /// `set`: write the value.
    Set {
        /// Key.
        key: String,
        /// Value.
        value: Vec<u8>,
    },
    /// `cas`: write only if the key's `ModifyIndex` is `index` (0: only if absent).
    Cas {
        /// Key.
        key: String,
        /// Value.
        value: Vec<u8>,
        /// Expected `ModifyIndex`.
        index: u64,
    },
    /// `lock`: acquire the key with `session`.
    Lock {
        /// Key.
        key: String,
        /// Value.
        value: Vec<u8>,
        /// Session.
        session: String,
    },
    /// `unlock`: release the key held by `session`.
    Unlock {
        /// Key.
        key: String,
        /// Value.
        value: Vec<u8>,
        /// Session.
        session: String,
    },
    /// `get`: read the key (fails when absent).
    Get {
        /// Key.
        key: String,
    },
    /// `get-tree`: read every key under the prefix.
    GetTree {
        /// Prefix.
        prefix: String,
    },
    /// `check-index`: fail unless the key's `ModifyIndex` is `index`.
    CheckIndex {
        /// Key.
        key: String,
        /// Expected `ModifyIndex`.
        index: u64,
    },
    /// `check-session`: fail unless the key is held by `session`.
    CheckSession {
        /// Key.
        key: String,
        /// Session.
        session: String,
    },
    /// `check-not-exists`: fail when the key exists.
    CheckNotExists {
        /// Key.
        key: String,
    },
    /// `delete`: delete the key.
    Delete {
        /// Key.
        key: String,
    },
    /// `delete-cas`: delete only if the key's `ModifyIndex` is `index`.
    DeleteCas {
        /// Key.
        key: String,
        /// Expected `ModifyIndex`.
        index: u64,
    },
}

impl TxnOp {
    /// The Consul verb (`set`, `cas`, `check-session`, ...).
    pub fn verb(&self) -> &'static str {
        match self {
            TxnOp::Set { .. } => "set",
            TxnOp::Cas { .. } => "cas",
            TxnOp::Lock { .. } => "lock",
            TxnOp::Unlock { .. } => "unlock",
            TxnOp::Get { .. } => "get",
            TxnOp::GetTree { .. } => "get-tree",
            TxnOp::CheckIndex { .. } => "check-index",
            TxnOp::CheckSession { .. } => "check-session",
            TxnOp::CheckNotExists { .. } => "check-not-exists",
            TxnOp::Delete { .. } => "delete",
            TxnOp::DeleteCas { .. } => "delete-cas",
        }
    }

    /// The key (or prefix) the operation is about.
    pub fn key(&self) -> &str {
        match self {
            TxnOp::Set { key, .. }
            | TxnOp::Cas { key, .. }
            | TxnOp::Lock { key, .. }
            | TxnOp::Unlock { key, .. }
            | TxnOp::Get { key }
            | TxnOp::CheckIndex { key, .. }
            | TxnOp::CheckSession { key, .. }
            | TxnOp::CheckNotExists { key }
            | TxnOp::Delete { key }
            | TxnOp::DeleteCas { key, .. } => key,
            TxnOp::GetTree { prefix } => prefix,
        }
    }

    /// True when the operation changes the store (hashicorp/consul `agent/txn_endpoint.go`
    /// `isWrite`).
    pub fn is_write(&self) -> bool {
        matches!(
            self,
            TxnOp::Set { .. }
                | TxnOp::Cas { .. }
                | TxnOp::Lock { .. }
                | TxnOp::Unlock { .. }
                | TxnOp::Delete { .. }
                | TxnOp::DeleteCas { .. }
        )
    }

    /// The operation as the `/v1/txn` body holds it: `{"KV": {"Verb", "Key", ...}}`.
    pub fn to_json(&self) -> serde_json::Value {
        use base64::engine::general_purpose::STANDARD;
        let mut kv = serde_json::Map::new();
        kv.insert("Verb".into(), self.verb().into());
        kv.insert("Key".into(), self.key().into());
        match self {
            TxnOp::Set { value, .. } => {
                kv.insert("Value".into(), STANDARD.encode(value).into());
            }
            TxnOp::Cas { value, index, .. } => {
                kv.insert("Value".into(), STANDARD.encode(value).into());
                kv.insert("Index".into(), (*index).into());
            }
            TxnOp::Lock { value, session, .. } | TxnOp::Unlock { value, session, .. } => {
                kv.insert("Value".into(), STANDARD.encode(value).into());
                kv.insert("Session".into(), session.clone().into());
            }
            TxnOp::CheckIndex { index, .. } | TxnOp::DeleteCas { index, .. } => {
                kv.insert("Index".into(), (*index).into());
            }
            TxnOp::CheckSession { session, .. } => {
                kv.insert("Session".into(), session.clone().into());
            }
            TxnOp::Get { .. }
            | TxnOp::GetTree { .. }
            | TxnOp::CheckNotExists { .. }
            | TxnOp::Delete { .. } => {}
        }
        serde_json::json!({ "KV": kv })
    }
}

/// One failed operation of a transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TxnError {
    /// Position of the operation in the request.
    #[serde(rename = "OpIndex")]
    pub op_index: usize,
    /// Why it failed (`failed session check for key ...`, `failed to set key ..., index is
    /// stale`).
    #[serde(rename = "What")]
    pub what: String,
}

/// The answer to `/v1/txn`: the results of every operation when all succeeded (HTTP 200),
/// or the errors and nothing applied (HTTP 409; hashicorp/consul `agent/txn_endpoint.go`
/// `Txn`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TxnResponse {
    /// One entry per KV operation that returns one, in order (values blanked except for
    /// `get` and `get-tree`).
    pub results: Vec<KvPair>,
    /// The failed operations (empty on success).
    pub errors: Vec<TxnError>,
}

impl TxnResponse {
    /// True when the transaction was applied.
    pub fn succeeded(&self) -> bool {
        self.errors.is_empty()
    }
}
