//! The Consul HTTP API behind a trait: agent service registration, catalog and health
//! reads, and the KV store with check-and-set, all reads blocking-capable.

mod http;
mod memory;
pub mod requests;
mod types;

use async_trait::async_trait;

pub use http::{ConsulConfig, ConsulConfigBuilder, HttpConsul};
pub use memory::MemoryConsul;
pub use types::{
    check_status, AgentCheck, AgentService, CatalogService, HealthCheck, KvPair, Node,
    ServiceConnect, ServiceEntry, ServiceRegistration,
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
    /// `ModifyIndex` is `N`. Returns whether it was deleted (true when it was already absent
    /// and no `cas` was given).
    async fn kv_delete(&self, key: &str, cas: Option<u64>) -> BackendResult<bool>;
}
