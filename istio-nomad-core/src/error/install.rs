//! Failures of one job during an apply or a destroy.

use std::time::Duration;

/// A job of an apply or destroy that failed. Every variant names the job.
///
/// Backend calls that fail keep their own type ([`crate::Error::Backend`], which names the
/// server, the method and the path with the job ID); a job changed by someone else is a
/// [`crate::Error::Conflict`]. This type covers what the cluster reported about the job.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InstallError {
    /// The job's deployment ended without success (failed, cancelled).
    #[error("job {job}: deployment {deployment_id} {status}: {description}")]
    DeploymentFailed {
        /// Job ID.
        job: String,
        /// Deployment ID.
        deployment_id: String,
        /// Final status (`failed`, `cancelled`).
        status: String,
        /// Nomad's description of the status.
        description: String,
    },
    /// A health gate did not pass within its deadline.
    #[error("job {job}: {gate} not reached within {waited:?} (last seen: {last_seen})")]
    Deadline {
        /// Job ID.
        job: String,
        /// What was awaited (`deployment successful`, `consul service reviews: 3 passing`).
        gate: String,
        /// How long it was awaited.
        waited: Duration,
        /// The last state observed.
        last_seen: String,
    },
    /// Two host-mode groups of the mesh were placed on the same node.
    #[error(
        "job {job}: host-mode group {group} was placed on node {node} which already runs \
         host-mode group {other_group} of job {other_job}; host-mode proxies share the node's \
         network namespace, so at most one may run per node"
    )]
    HostModeCollision {
        /// Job ID of the group placed last.
        job: String,
        /// Its group.
        group: String,
        /// The node (`NodeID`, with the name when known).
        node: String,
        /// The job already on the node.
        other_job: String,
        /// Its group.
        other_group: String,
    },
    /// The job's deployment waits for an operator (paused, or canaries awaiting a manual
    /// promotion); the apply stops instead of waiting for its deadline.
    #[error("job {job}: deployment {deployment_id} cannot finish on its own: {reason}")]
    DeploymentHeld {
        /// Job ID.
        job: String,
        /// Deployment ID.
        deployment_id: String,
        /// What it waits for and what to do.
        reason: String,
    },
    /// The evaluation of a register failed or was cancelled.
    #[error("job {job}: evaluation {eval_id} {status}: {description}")]
    EvaluationFailed {
        /// Job ID.
        job: String,
        /// Evaluation ID.
        eval_id: String,
        /// `failed` or `canceled`.
        status: String,
        /// Nomad's description.
        description: String,
    },
    /// The mesh's etcd cluster is not whole (a member missing from the member list or not
    /// healthy).
    #[error("job {job}: etcd cluster not healthy {when}: {health}")]
    EtcdUnhealthy {
        /// The etcd job.
        job: String,
        /// When it was checked.
        when: String,
        /// What was seen (members healthy, listed, unreachable).
        health: String,
    },
    /// The record in the state store cannot be read.
    #[error("state {key}: {message}")]
    CorruptState {
        /// The key.
        key: String,
        /// What is wrong.
        message: String,
    },
}

impl InstallError {
    /// The job the error is about (the key for [`InstallError::CorruptState`]).
    pub fn job(&self) -> &str {
        match self {
            InstallError::DeploymentFailed { job, .. }
            | InstallError::DeploymentHeld { job, .. }
            | InstallError::EvaluationFailed { job, .. }
            | InstallError::EtcdUnhealthy { job, .. }
            | InstallError::Deadline { job, .. }
            | InstallError::HostModeCollision { job, .. } => job,
            InstallError::CorruptState { key, .. } => key,
        }
    }
}
