//! etcd's v3 API through its JSON gateway, behind a trait: ranges, puts, deletes,
//! compare-and-swap transactions, leases and status.

mod http;
#[cfg(feature = "test-util")]
mod memory;
pub mod requests;
mod types;

use async_trait::async_trait;

pub use http::{EtcdConfig, EtcdConfigBuilder, HttpEtcd};
#[cfg(feature = "test-util")]
pub use memory::MemoryEtcd;
pub use types::{
    prefix_end, Compare, CompareResult, CompareTarget, DeleteRangeRequest, DeleteRangeResponse,
    KeyValue, LeaseGrantResponse, LeaseKeepAliveResponse, Member, MemberListResponse, PutRequest,
    PutResponse, RangeRequest, RangeResponse, ResponseHeader, StatusResponse, TxnOp, TxnOpResponse,
    TxnRequest, TxnResponse,
};

use super::{BackendError, BackendResult, Service};

/// An etcd cluster's v3 API.
#[async_trait]
pub trait Etcd: Send + Sync {
    /// `/v3/kv/range`: keys in a range, in key order.
    async fn range(&self, req: &RangeRequest) -> BackendResult<RangeResponse>;

    /// `/v3/kv/put`: writes a key (attached to a lease when `lease` is set).
    async fn put(&self, req: &PutRequest) -> BackendResult<PutResponse>;

    /// `/v3/kv/deleterange`: deletes keys in a range.
    async fn delete_range(&self, req: &DeleteRangeRequest) -> BackendResult<DeleteRangeResponse>;

    /// `/v3/kv/txn`: conditions and operations applied atomically.
    async fn txn(&self, req: &TxnRequest) -> BackendResult<TxnResponse>;

    /// `/v3/lease/grant`: a new lease of `ttl` seconds.
    async fn lease_grant(&self, ttl: i64) -> BackendResult<LeaseGrantResponse>;

    /// `/v3/lease/keepalive`: renews a lease ([`super::BackendError::NotFound`] when gone).
    async fn lease_keepalive(&self, id: i64) -> BackendResult<LeaseKeepAliveResponse>;

    /// `/v3/lease/revoke`: ends a lease and deletes its keys.
    async fn lease_revoke(&self, id: i64) -> BackendResult<ResponseHeader>;

    /// `/v3/maintenance/status`: the answering member's status.
    async fn status(&self) -> BackendResult<StatusResponse>;

    /// `/v3/cluster/member/list`: the members as the answering member knows them.
    async fn member_list(&self) -> BackendResult<MemberListResponse> {
        Err(BackendError::InvalidRequest {
            service: Service::Etcd,
            field: "member_list".into(),
            message: "this client cannot list members".into(),
        })
    }

    /// `GET /health`: whether the answering member has a leader and no alarm.
    async fn health(&self) -> BackendResult<bool> {
        Err(BackendError::InvalidRequest {
            service: Service::Etcd,
            field: "health".into(),
            message: "this client cannot read the health endpoint".into(),
        })
    }

    /// One key, `None` when absent.
    async fn get(&self, key: &[u8]) -> BackendResult<Option<KeyValue>> {
        Ok(self
            .range(&RangeRequest::key(key))
            .await?
            .kvs
            .into_iter()
            .next())
    }

    /// Every key starting with `prefix`, in key order.
    async fn get_prefix(&self, prefix: &[u8]) -> BackendResult<Vec<KeyValue>> {
        Ok(self.range(&RangeRequest::prefix(prefix)).await?.kvs)
    }

    /// Writes `value` at `key` only if the key's mod revision is `expected` (0: only if the
    /// key is absent). Returns whether it was written.
    async fn compare_and_swap(
        &self,
        key: &[u8],
        expected: i64,
        value: &[u8],
        lease: i64,
    ) -> BackendResult<bool> {
        let t = TxnRequest::new()
            .when(Compare::mod_revision(key, expected))
            .and_then(TxnOp::Put(PutRequest::new(key, value).lease(lease)));
        Ok(self.txn(&t).await?.succeeded)
    }

    /// Deletes `key` only if its mod revision is `expected`. Returns whether it was deleted.
    async fn compare_and_delete(&self, key: &[u8], expected: i64) -> BackendResult<bool> {
        let t = TxnRequest::new()
            .when(Compare::mod_revision(key, expected))
            .and_then(TxnOp::DeleteRange(DeleteRangeRequest::key(key)));
        Ok(self.txn(&t).await?.succeeded)
    }
}
