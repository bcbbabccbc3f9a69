//! Progress events of diff, apply and destroy.

use std::fmt;
use std::sync::Arc;

use super::report::Change;

/// Receives progress events; called from the tasks doing the work, so it must be quick
/// (forward to a channel, update a progress bar).
pub type EventSink = Arc<dyn Fn(&Event) + Send + Sync>;

/// Which operation an event belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    /// [`super::Installer::diff`].
    Diff,
    /// [`super::Installer::apply`].
    Apply,
    /// [`super::Installer::destroy`].
    Destroy,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operation::Diff => "diff",
            Operation::Apply => "apply",
            Operation::Destroy => "destroy",
        })
    }
}

/// What the installer is doing. Serialized as `{"event": "<snake_case variant>", ...fields}`
/// (`{"event": "job_registered", "job": "reviews", "job_modify_index": 12, "eval_id": "..."}`),
/// the form every binding delivers.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Event {
    /// An operation started.
    Started {
        /// The operation.
        operation: Operation,
        /// Mesh name.
        mesh: String,
        /// Number of jobs of the plan.
        jobs: usize,
        /// Number of stages.
        stages: usize,
    },
    /// One job was compared with the cluster and the state.
    JobDiffed {
        /// Job ID.
        job: String,
        /// What applying would do.
        change: Change,
    },
    /// The mesh lock was taken.
    LockAcquired {
        /// Who holds it now.
        holder: String,
    },
    /// The mesh lock was given back.
    LockReleased,
    /// A stage of the dependency graph started.
    StageStarted {
        /// 1-based stage number.
        stage: usize,
        /// Its jobs.
        jobs: Vec<String>,
    },
    /// A job was registered with Nomad.
    JobRegistered {
        /// Job ID.
        job: String,
        /// The job's new `JobModifyIndex`.
        job_modify_index: u64,
        /// Evaluation created.
        eval_id: String,
    },
    /// A job's deployment moved.
    DeploymentProgress {
        /// Job ID.
        job: String,
        /// Deployment status.
        status: String,
        /// Healthy allocations.
        healthy: u64,
        /// Allocations wanted.
        desired: u64,
    },
    /// A job passed its health gates.
    JobHealthy {
        /// Job ID.
        job: String,
        /// The job version running.
        version: u64,
    },
    /// A job needed nothing.
    JobUnchanged {
        /// Job ID.
        job: String,
    },
    /// A state record was written or deleted.
    StateWritten {
        /// The key.
        key: String,
    },
    /// A job was deregistered (purged).
    JobDeregistered {
        /// Job ID.
        job: String,
    },
    /// A job (or the operation) failed.
    Failed {
        /// The job, when one failed.
        job: Option<String>,
        /// The error, as text.
        error: String,
    },
    /// An operation finished successfully.
    Finished {
        /// The operation.
        operation: Operation,
        /// Writes made (registers, deregisters and state writes).
        writes: u64,
    },
}

impl Event {
    /// The job this event is about, when it is about one.
    pub fn job(&self) -> Option<&str> {
        match self {
            Event::JobDiffed { job, .. }
            | Event::JobRegistered { job, .. }
            | Event::DeploymentProgress { job, .. }
            | Event::JobHealthy { job, .. }
            | Event::JobUnchanged { job }
            | Event::JobDeregistered { job } => Some(job),
            Event::Failed { job, .. } => job.as_deref(),
            _ => None,
        }
    }
}
