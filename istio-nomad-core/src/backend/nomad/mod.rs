//! The Nomad job API behind a trait: register (with check-and-set), plan with diff, validate,
//! read, versions, deregister, allocations, deployments and evaluations.

#[cfg(feature = "test-util")]
mod diff;
mod http;
#[cfg(feature = "test-util")]
mod memory;
mod nodes;
pub mod requests;
mod types;

use async_trait::async_trait;

pub use http::{HttpNomad, NomadConfig, NomadConfigBuilder};
#[cfg(feature = "test-util")]
pub use memory::{MemoryNomad, NomadVersion};
pub use nodes::{NodeInfo, NodeListStub, NodeNetwork, NodeResources};
pub use types::{
    deployment_status, AllocDeploymentStatus, AllocationListStub, Deployment, DeploymentState,
    DeregisterResponse, DesiredUpdates, Evaluation, FieldDiff, JobDiff, JobVersions, ObjectDiff,
    PlanAnnotations, PlanResponse, RegisterRequest, RegisterResponse, TaskDiff, TaskGroupDiff,
    ValidateResponse,
};

use super::{BackendError, BackendResult, Indexed, QueryOptions, Service};

/// The job document sent to and read from Nomad, in API JSON form (`{"ID": ..., "TaskGroups":
/// [...]}`). Every use goes through serde, so any `Serialize + Deserialize` job model in
/// Nomad's JSON form can take its place.
pub type JobBody = serde_json::Value;

/// The header carrying the blocking-query index.
pub const INDEX_HEADER: &str = "X-Nomad-Index";
/// The header carrying the ACL token.
pub const TOKEN_HEADER: &str = "X-Nomad-Token";

/// The job as a JSON object (through serde, whatever [`JobBody`] is).
pub(crate) fn job_json(job: &JobBody) -> BackendResult<serde_json::Value> {
    let v = serde_json::to_value(job).map_err(|e| BackendError::InvalidRequest {
        service: Service::Nomad,
        field: "Job".into(),
        message: format!("cannot encode the job as JSON: {e}"),
    })?;
    if !v.is_object() {
        return Err(BackendError::InvalidRequest {
            service: Service::Nomad,
            field: "Job".into(),
            message: "the job must be a JSON object".into(),
        });
    }
    Ok(v)
}

/// The job's `ID`, which must be a non-empty string.
pub(crate) fn job_id(job: &serde_json::Value) -> BackendResult<String> {
    match job.get("ID") {
        Some(serde_json::Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(other) => Err(BackendError::InvalidRequest {
            service: Service::Nomad,
            field: "Job.ID".into(),
            message: format!("must be a non-empty string, got {other}"),
        }),
        None => Err(BackendError::InvalidRequest {
            service: Service::Nomad,
            field: "Job.ID".into(),
            message: "missing".into(),
        }),
    }
}

/// A Nomad cluster's job API. Namespace and region come from the client's configuration.
#[async_trait]
pub trait Nomad: Send + Sync {
    /// `POST /v1/jobs`: registers (creates or updates) a job; with `enforce_index`, only if
    /// the job's modify index still matches ([`BackendError::Conflict`] otherwise).
    async fn register_job(&self, req: &RegisterRequest) -> BackendResult<RegisterResponse>;

    /// `POST /v1/job/:id/plan`: what registering `job` would change, with the diff when
    /// `diff` is true. Changes nothing.
    async fn plan_job(&self, job: &JobBody, diff: bool) -> BackendResult<PlanResponse>;

    /// `POST /v1/validate/job`: the server's validation of `job`. Changes nothing.
    async fn validate_job(&self, job: &JobBody) -> BackendResult<ValidateResponse>;

    /// `GET /v1/job/:id`: the registered job ([`BackendError::NotFound`] when absent).
    async fn read_job(&self, job_id: &str, q: &QueryOptions) -> BackendResult<Indexed<JobBody>>;

    /// `GET /v1/job/:id/versions`: every stored version, newest first, with diffs when asked.
    async fn job_versions(&self, job_id: &str, diffs: bool) -> BackendResult<Indexed<JobVersions>>;

    /// `DELETE /v1/job/:id`: stops the job; `purge` also removes it and its versions.
    async fn deregister_job(&self, job_id: &str, purge: bool) -> BackendResult<DeregisterResponse>;

    /// `GET /v1/job/:id/allocations`: the job's allocations (`all`: also those of older
    /// job versions with the same ID).
    async fn job_allocations(
        &self,
        job_id: &str,
        all: bool,
        q: &QueryOptions,
    ) -> BackendResult<Indexed<Vec<AllocationListStub>>>;

    /// `GET /v1/job/:id/deployments`: the job's deployments, newest first.
    async fn job_deployments(
        &self,
        job_id: &str,
        q: &QueryOptions,
    ) -> BackendResult<Indexed<Vec<Deployment>>>;

    /// `GET /v1/job/:id/deployment`: the latest deployment, `None` when there is none.
    async fn latest_deployment(
        &self,
        job_id: &str,
        q: &QueryOptions,
    ) -> BackendResult<Indexed<Option<Deployment>>>;

    /// `GET /v1/job/:id/evaluations`: the job's evaluations.
    async fn job_evaluations(
        &self,
        job_id: &str,
        q: &QueryOptions,
    ) -> BackendResult<Indexed<Vec<Evaluation>>>;

    /// `GET /v1/evaluation/:id`: one evaluation ([`BackendError::NotFound`] when absent).
    async fn evaluation(
        &self,
        eval_id: &str,
        q: &QueryOptions,
    ) -> BackendResult<Indexed<Evaluation>>;

    /// `GET /v1/nodes`: the cluster's client nodes.
    async fn list_nodes(&self, q: &QueryOptions) -> BackendResult<Indexed<Vec<NodeListStub>>>;

    /// `GET /v1/node/:id`: one node with its attributes and networks
    /// ([`BackendError::NotFound`] when absent).
    async fn read_node(&self, node_id: &str, q: &QueryOptions) -> BackendResult<Indexed<NodeInfo>>;
}
