//! The Consul HTTP API behind a trait: agent service registration, catalog and health
//! reads, the KV store with check-and-set, sessions and locks (`?acquire=`), and KV
//! transactions (`/v1/txn`), all reads blocking-capable.

mod http;
#[cfg(feature = "test-util")]
mod memory;
pub mod requests;
mod types;

use async_trait::async_trait;

pub use http::{ConsulConfig, ConsulConfigBuilder, HttpConsul};
#[cfg(feature = "test-util")]
pub use memory::MemoryConsul;
pub use types::{
    check_status, AgentCheck, AgentService, CatalogService, HealthCheck, KvPair, Node,
    ServiceConnect, ServiceEntry, ServiceRegistration, SessionBehavior, SessionInfo,
    SessionRequest, TxnError, TxnOp, TxnResponse,
};

use super::{BackendResult, Indexed, QueryOptions};

/// The header carrying the blocking-query index.
pub const INDEX_HEADER: &str = "X-Consul-Index";
/// The header carrying the ACL token.
pub const TOKEN_HEADER: &str = "X-Consul-Token";

/// A Consul agent's HTTP API. Namespace and datacenter come from the client's configuration.
#[async_trait]
pub trait Consul: Send + Sync {
    /// `PUT /v1/agent/service/register[?replace-existing-checks=true]`.
    async fn register_service(
        &self,
        service: &ServiceRegistration,
        replace_existing_checks: bool,
    ) -> BackendResult<()>;

    /// `PUT /v1/agent/service/deregister/:id` (nothing happens when it is absent).
    async fn deregister_service(&self, service_id: &str) -> BackendResult<()>;

    /// `GET /v1/catalog/service/:name`: every instance of the service.
    async fn catalog_service(
        &self,
        name: &str,
        q: &QueryOptions,
    ) -> BackendResult<Indexed<Vec<CatalogService>>>;

    /// `GET /v1/health/service/:name[?passing=1]`: instances with their checks (`passing`:
    /// only those whose checks all pass).
    async fn health_service(
        &self,
        name: &str,
        passing: bool,
        q: &QueryOptions,
    ) -> BackendResult<Indexed<Vec<ServiceEntry>>>;

    /// `GET /v1/kv/:key`: the entry, `None` when absent (the index is still returned, so an
    /// absent key can be waited for).
    async fn kv_get(&self, key: &str, q: &QueryOptions) -> BackendResult<Indexed<Option<KvPair>>>;

    /// `GET /v1/kv/:prefix?recurse=true`: every entry under the prefix, by key.
    async fn kv_list(&self, prefix: &str, q: &QueryOptions) -> BackendResult<Indexed<Vec<KvPair>>>;

    /// `PUT /v1/kv/:key[?cas=N]`: writes the value; with `cas`, only if the entry's
    /// `ModifyIndex` is `N` (0: only if absent). Returns whether it was written.
    async fn kv_put(&self, key: &str, value: &[u8], cas: Option<u64>) -> BackendResult<bool>;

    /// `DELETE /v1/kv/:key[?cas=N]`: deletes the entry; with `cas`, only if its
    /// `ModifyIndex` is `N`. Returns `true` when the entry is gone afterwards: an absent key
    /// answers `true` with or without `cas`, a present one whose `ModifyIndex` is not `N`
    /// (so always with `cas=0`) answers `false` (hashicorp/consul
    /// `agent/consul/state/kvs.go` `kvsDeleteCASTxn`).
    async fn kv_delete(&self, key: &str, cas: Option<u64>) -> BackendResult<bool>;

    /// `PUT /v1/kv/:key?acquire=<session>`: writes the value and takes the key's lock for
    /// `session`. `false` when another session holds it, or within the lock delay after
    /// the previous holder's session was invalidated; an unknown session is an error
    /// (`agent/consul/state/kvs.go` `kvsLockTxn`, `agent/consul/kvs_endpoint.go`
    /// `kvsPreApply`).
    async fn kv_acquire(&self, key: &str, value: &[u8], session: &str) -> BackendResult<bool>;

    /// `PUT /v1/kv/:key?release=<session>`: writes the value and gives the lock back;
    /// `false` unless `session` holds it (`kvsUnlockTxn`).
    async fn kv_release(&self, key: &str, value: &[u8], session: &str) -> BackendResult<bool>;

    /// `PUT /v1/session/create`: a new session; returns its ID.
    async fn session_create(&self, session: &SessionRequest) -> BackendResult<String>;

    /// `PUT /v1/session/renew/:id`: restarts the session's TTL; `None` when the session no
    /// longer exists (expired or destroyed).
    async fn session_renew(&self, id: &str) -> BackendResult<Option<SessionInfo>>;

    /// `PUT /v1/session/destroy/:id`: invalidates the session (its keys are released or
    /// deleted, as its behavior says). Destroying an unknown session succeeds.
    async fn session_destroy(&self, id: &str) -> BackendResult<()>;

    /// `GET /v1/session/info/:id`: the session, `None` when it does not exist.
    async fn session_info(
        &self,
        id: &str,
        q: &QueryOptions,
    ) -> BackendResult<Indexed<Option<SessionInfo>>>;

    /// `PUT /v1/txn`: applies the KV operations atomically. A rolled-back transaction is a
    /// [`TxnResponse`] with `errors`, not an `Err`.
    async fn txn(&self, ops: &[TxnOp]) -> BackendResult<TxnResponse>;
}
