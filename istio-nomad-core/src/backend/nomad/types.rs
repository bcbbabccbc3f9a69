//! Typed request and response bodies of the Nomad job API (`/v1/jobs`, `/v1/job/:id/...`),
//! in Nomad's JSON form (PascalCase keys).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::JobBody;
use crate::backend::null_default;

/// A job registration (`POST /v1/jobs`).
#[derive(Debug, Clone, PartialEq)]
pub struct RegisterRequest {
    /// The job.
    pub job: JobBody,
    /// Check-and-set: register only if the job's `JobModifyIndex` equals this
    /// (`Some(0)`: only if the job does not exist yet).
    pub enforce_index: Option<u64>,
    /// Override soft-mandatory Sentinel policies.
    pub policy_override: bool,
    /// Keep the running counts of existing groups.
    pub preserve_counts: bool,
    /// Priority of the evaluation created (defaults to the job's priority).
    pub eval_priority: Option<u32>,
}

impl RegisterRequest {
    /// Registers `job` unconditionally.
    pub fn new(job: JobBody) -> Self {
        RegisterRequest {
            job,
            enforce_index: None,
            policy_override: false,
            preserve_counts: false,
            eval_priority: None,
        }
    }

    /// Registers only if the job's modify index is `index` (0: only if the job is new).
    #[must_use]
    pub fn enforce_index(mut self, index: u64) -> Self {
        self.enforce_index = Some(index);
        self
    }

    /// Sets `PolicyOverride`.
    #[must_use]
    pub fn policy_override(mut self, yes: bool) -> Self {
        self.policy_override = yes;
        self
    }

    /// Sets `PreserveCounts`.
    #[must_use]
    pub fn preserve_counts(mut self, yes: bool) -> Self {
        self.preserve_counts = yes;
        self
    }

    /// Sets `EvalPriority`.
    #[must_use]
    pub fn eval_priority(mut self, priority: u32) -> Self {
        self.eval_priority = Some(priority);
        self
    }
}

/// Answer to a registration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RegisterResponse {
    /// Evaluation created for the job (empty for periodic and parameterized jobs).
    #[serde(rename = "EvalID")]
    pub eval_id: String,
    /// Raft index of the evaluation.
    #[serde(rename = "EvalCreateIndex")]
    pub eval_create_index: u64,
    /// Raft index of the write.
    #[serde(rename = "JobModifyIndex")]
    pub job_modify_index: u64,
    /// Warnings (newline separated).
    #[serde(rename = "Warnings", deserialize_with = "null_default")]
    pub warnings: String,
}

/// Answer to a deregistration (`DELETE /v1/job/:id`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DeregisterResponse {
    /// Evaluation created (empty when the job did not exist).
    #[serde(rename = "EvalID")]
    pub eval_id: String,
    /// Raft index of the evaluation.
    #[serde(rename = "EvalCreateIndex")]
    pub eval_create_index: u64,
    /// Raft index of the write.
    #[serde(rename = "JobModifyIndex")]
    pub job_modify_index: u64,
}

/// Answer to `POST /v1/validate/job`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ValidateResponse {
    /// Whether the task driver configurations were checked.
    #[serde(rename = "DriverConfigValidated")]
    pub driver_config_validated: bool,
    /// One entry per problem.
    #[serde(rename = "ValidationErrors", deserialize_with = "null_default")]
    pub validation_errors: Vec<String>,
    /// All problems as one text.
    #[serde(rename = "Error", deserialize_with = "null_default")]
    pub error: String,
    /// Warnings (newline separated).
    #[serde(rename = "Warnings", deserialize_with = "null_default")]
    pub warnings: String,
}

/// One changed field in a diff.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FieldDiff {
    /// `Added`, `Deleted`, `Edited` or `None`.
    #[serde(rename = "Type")]
    pub kind: String,
    /// Field name.
    #[serde(rename = "Name")]
    pub name: String,
    /// Old value as text.
    #[serde(rename = "Old")]
    pub old: String,
    /// New value as text.
    #[serde(rename = "New")]
    pub new: String,
    /// Notes such as `forces create/destroy update`.
    #[serde(rename = "Annotations", deserialize_with = "null_default")]
    pub annotations: Vec<String>,
}

/// A changed nested object in a diff.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ObjectDiff {
    /// `Added`, `Deleted`, `Edited` or `None`.
    #[serde(rename = "Type")]
    pub kind: String,
    /// Object name.
    #[serde(rename = "Name")]
    pub name: String,
    /// Changed fields.
    #[serde(rename = "Fields", deserialize_with = "null_default")]
    pub fields: Vec<FieldDiff>,
    /// Changed nested objects.
    #[serde(rename = "Objects", deserialize_with = "null_default")]
    pub objects: Vec<ObjectDiff>,
}

/// A task's diff.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TaskDiff {
    /// `Added`, `Deleted`, `Edited` or `None`.
    #[serde(rename = "Type")]
    pub kind: String,
    /// Task name.
    #[serde(rename = "Name")]
    pub name: String,
    /// Changed fields.
    #[serde(rename = "Fields", deserialize_with = "null_default")]
    pub fields: Vec<FieldDiff>,
    /// Changed nested objects.
    #[serde(rename = "Objects", deserialize_with = "null_default")]
    pub objects: Vec<ObjectDiff>,
    /// Notes such as `forces create/destroy update`.
    #[serde(rename = "Annotations", deserialize_with = "null_default")]
    pub annotations: Vec<String>,
}

/// A task group's diff.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TaskGroupDiff {
    /// `Added`, `Deleted`, `Edited` or `None`.
    #[serde(rename = "Type")]
    pub kind: String,
    /// Group name.
    #[serde(rename = "Name")]
    pub name: String,
    /// Changed fields.
    #[serde(rename = "Fields", deserialize_with = "null_default")]
    pub fields: Vec<FieldDiff>,
    /// Changed nested objects.
    #[serde(rename = "Objects", deserialize_with = "null_default")]
    pub objects: Vec<ObjectDiff>,
    /// Task diffs.
    #[serde(rename = "Tasks", deserialize_with = "null_default")]
    pub tasks: Vec<TaskDiff>,
    /// Scheduler actions (`create`, `destroy`, `ignore`, `in-place update`,
    /// `create/destroy update`, ...) and their counts.
    #[serde(rename = "Updates", deserialize_with = "null_default")]
    pub updates: BTreeMap<String, u64>,
}

/// A job's diff.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct JobDiff {
    /// `Added`, `Deleted`, `Edited` or `None`.
    #[serde(rename = "Type")]
    pub kind: String,
    /// Job ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Changed fields.
    #[serde(rename = "Fields", deserialize_with = "null_default")]
    pub fields: Vec<FieldDiff>,
    /// Changed nested objects.
    #[serde(rename = "Objects", deserialize_with = "null_default")]
    pub objects: Vec<ObjectDiff>,
    /// Group diffs.
    #[serde(rename = "TaskGroups", deserialize_with = "null_default")]
    pub task_groups: Vec<TaskGroupDiff>,
}

/// What the scheduler would do to one group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DesiredUpdates {
    /// Allocations left alone.
    #[serde(rename = "Ignore")]
    pub ignore: u64,
    /// Allocations placed.
    #[serde(rename = "Place")]
    pub place: u64,
    /// Allocations migrated.
    #[serde(rename = "Migrate")]
    pub migrate: u64,
    /// Allocations stopped.
    #[serde(rename = "Stop")]
    pub stop: u64,
    /// Allocations updated in place.
    #[serde(rename = "InPlaceUpdate")]
    pub in_place_update: u64,
    /// Allocations replaced.
    #[serde(rename = "DestructiveUpdate")]
    pub destructive_update: u64,
    /// Canaries placed.
    #[serde(rename = "Canary")]
    pub canary: u64,
    /// Allocations preempted.
    #[serde(rename = "Preemptions")]
    pub preemptions: u64,
}

/// Plan annotations.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PlanAnnotations {
    /// Per group: what the scheduler would do.
    #[serde(rename = "DesiredTGUpdates", deserialize_with = "null_default")]
    pub desired_tg_updates: BTreeMap<String, DesiredUpdates>,
    /// Allocations that would be preempted.
    #[serde(rename = "PreemptedAllocs", deserialize_with = "null_default")]
    pub preempted_allocs: Vec<serde_json::Value>,
}

/// Answer to `POST /v1/job/:id/plan`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PlanResponse {
    /// The job's current modify index: pass it as `enforce_index` to register exactly what
    /// was planned.
    #[serde(rename = "JobModifyIndex")]
    pub job_modify_index: u64,
    /// Evaluations created (periodic jobs).
    #[serde(rename = "CreatedEvals", deserialize_with = "null_default")]
    pub created_evals: Vec<serde_json::Value>,
    /// The diff against the registered job (when asked for).
    #[serde(rename = "Diff")]
    pub diff: Option<JobDiff>,
    /// What the scheduler would do.
    #[serde(rename = "Annotations")]
    pub annotations: Option<PlanAnnotations>,
    /// Groups that could not be placed, with the scheduler's metrics.
    #[serde(rename = "FailedTGAllocs", deserialize_with = "null_default")]
    pub failed_tg_allocs: BTreeMap<String, serde_json::Value>,
    /// Next launch of a periodic job.
    #[serde(rename = "NextPeriodicLaunch")]
    pub next_periodic_launch: Option<String>,
    /// Warnings (newline separated).
    #[serde(rename = "Warnings", deserialize_with = "null_default")]
    pub warnings: String,
}

/// Answer to `GET /v1/job/:id/versions`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct JobVersions {
    /// Every stored version, newest first.
    #[serde(rename = "Versions", deserialize_with = "null_default")]
    pub versions: Vec<JobBody>,
    /// Diffs between consecutive versions (when asked for), newest first.
    #[serde(rename = "Diffs", deserialize_with = "null_default")]
    pub diffs: Vec<JobDiff>,
}

/// An allocation's deployment health.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AllocDeploymentStatus {
    /// Healthy (`Some(true)`), unhealthy (`Some(false)`) or not yet known.
    #[serde(rename = "Healthy")]
    pub healthy: Option<bool>,
    /// Whether the allocation is a canary.
    #[serde(rename = "Canary")]
    pub canary: bool,
    /// When the health was set (RFC 3339).
    #[serde(rename = "Timestamp")]
    pub timestamp: Option<String>,
    /// Raft index of the change.
    #[serde(rename = "ModifyIndex")]
    pub modify_index: u64,
}

/// One allocation, as listed by `GET /v1/job/:id/allocations`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AllocationListStub {
    /// Allocation ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Evaluation that placed it.
    #[serde(rename = "EvalID")]
    pub eval_id: String,
    /// `job.group[index]`.
    #[serde(rename = "Name")]
    pub name: String,
    /// Namespace.
    #[serde(rename = "Namespace")]
    pub namespace: String,
    /// Node it runs on.
    #[serde(rename = "NodeID")]
    pub node_id: String,
    /// Node name.
    #[serde(rename = "NodeName")]
    pub node_name: String,
    /// Job ID.
    #[serde(rename = "JobID")]
    pub job_id: String,
    /// Job version it runs.
    #[serde(rename = "JobVersion")]
    pub job_version: u64,
    /// Task group.
    #[serde(rename = "TaskGroup")]
    pub task_group: String,
    /// `run`, `stop` or `evict`.
    #[serde(rename = "DesiredStatus")]
    pub desired_status: String,
    /// Why the desired status was set.
    #[serde(rename = "DesiredDescription")]
    pub desired_description: String,
    /// `pending`, `running`, `complete`, `failed` or `lost`.
    #[serde(rename = "ClientStatus")]
    pub client_status: String,
    /// Client's explanation.
    #[serde(rename = "ClientDescription")]
    pub client_description: String,
    /// Deployment health.
    #[serde(rename = "DeploymentStatus")]
    pub deployment_status: Option<AllocDeploymentStatus>,
    /// Raft index of creation.
    #[serde(rename = "CreateIndex")]
    pub create_index: u64,
    /// Raft index of the last change.
    #[serde(rename = "ModifyIndex")]
    pub modify_index: u64,
    /// Creation time (ns since the epoch).
    #[serde(rename = "CreateTime")]
    pub create_time: i64,
    /// Last change (ns since the epoch).
    #[serde(rename = "ModifyTime")]
    pub modify_time: i64,
}

/// A group's progress in a deployment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DeploymentState {
    /// Roll back automatically on failure.
    #[serde(rename = "AutoRevert")]
    pub auto_revert: bool,
    /// Promote healthy canaries without an operator.
    #[serde(rename = "AutoPromote")]
    pub auto_promote: bool,
    /// Canaries promoted.
    #[serde(rename = "Promoted")]
    pub promoted: bool,
    /// Canaries wanted.
    #[serde(rename = "DesiredCanaries")]
    pub desired_canaries: u64,
    /// Allocations wanted.
    #[serde(rename = "DesiredTotal")]
    pub desired_total: u64,
    /// Allocations placed.
    #[serde(rename = "PlacedAllocs")]
    pub placed_allocs: u64,
    /// Allocations healthy.
    #[serde(rename = "HealthyAllocs")]
    pub healthy_allocs: u64,
    /// Allocations unhealthy.
    #[serde(rename = "UnhealthyAllocs")]
    pub unhealthy_allocs: u64,
    /// Progress deadline (ns).
    #[serde(rename = "ProgressDeadline")]
    pub progress_deadline: i64,
    /// Time by which progress must be made (RFC 3339).
    #[serde(rename = "RequireProgressBy")]
    pub require_progress_by: Option<String>,
    /// Canary allocation IDs.
    #[serde(rename = "PlacedCanaries", deserialize_with = "null_default")]
    pub placed_canaries: Vec<String>,
}

/// Deployment statuses Nomad reports (hashicorp/nomad `nomad/structs/deployment.go`).
pub mod deployment_status {
    /// Allocations are being placed and checked (also while canaries await promotion).
    pub const RUNNING: &str = "running";
    /// Every group reached its healthy count.
    pub const SUCCESSFUL: &str = "successful";
    /// A group failed its health checks or deadline.
    pub const FAILED: &str = "failed";
    /// A newer version or a stop replaced it.
    pub const CANCELLED: &str = "cancelled";
    /// Paused by an operator.
    pub const PAUSED: &str = "paused";
    /// Multiregion: waiting for a peer region before it starts.
    pub const PENDING: &str = "pending";
    /// Multiregion: being set up.
    pub const INITIALIZING: &str = "initializing";
    /// Multiregion: complete here, waiting for peer regions.
    pub const BLOCKED: &str = "blocked";
    /// Multiregion: unblocking the remaining regions.
    pub const UNBLOCKING: &str = "unblocking";
    /// The description of a running deployment whose canaries wait for a manual promotion.
    pub const DESCRIPTION_NEEDS_PROMOTION: &str =
        "Deployment is running but requires manual promotion";

    /// `Deployment.Active`: the deployment may still change.
    pub fn is_active(status: &str) -> bool {
        matches!(
            status,
            RUNNING | PAUSED | BLOCKED | UNBLOCKING | INITIALIZING | PENDING
        )
    }
}

impl Deployment {
    /// True when a group has canaries that were not promoted while the deployment runs
    /// (`Deployment.RequiresPromotion`).
    pub fn requires_promotion(&self) -> bool {
        self.status == deployment_status::RUNNING
            && self
                .task_groups
                .values()
                .any(|g| g.desired_canaries > 0 && !g.promoted)
    }
}

/// A deployment of one job version.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Deployment {
    /// Deployment ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Namespace.
    #[serde(rename = "Namespace")]
    pub namespace: String,
    /// Job ID.
    #[serde(rename = "JobID")]
    pub job_id: String,
    /// Job version deployed.
    #[serde(rename = "JobVersion")]
    pub job_version: u64,
    /// Job modify index deployed.
    #[serde(rename = "JobModifyIndex")]
    pub job_modify_index: u64,
    /// Job spec modify index.
    #[serde(rename = "JobSpecModifyIndex")]
    pub job_spec_modify_index: u64,
    /// Job create index.
    #[serde(rename = "JobCreateIndex")]
    pub job_create_index: u64,
    /// See [`deployment_status`].
    #[serde(rename = "Status")]
    pub status: String,
    /// Human description of the status.
    #[serde(rename = "StatusDescription")]
    pub status_description: String,
    /// Per group progress.
    #[serde(rename = "TaskGroups", deserialize_with = "null_default")]
    pub task_groups: BTreeMap<String, DeploymentState>,
    /// Raft index of creation.
    #[serde(rename = "CreateIndex")]
    pub create_index: u64,
    /// Raft index of the last change.
    #[serde(rename = "ModifyIndex")]
    pub modify_index: u64,
}

/// An evaluation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Evaluation {
    /// Evaluation ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Namespace.
    #[serde(rename = "Namespace")]
    pub namespace: String,
    /// Priority.
    #[serde(rename = "Priority")]
    pub priority: i64,
    /// Scheduler type (`service`, `batch`, `system`, ...).
    #[serde(rename = "Type")]
    pub kind: String,
    /// What created it (`job-register`, `job-deregister`, ...).
    #[serde(rename = "TriggeredBy")]
    pub triggered_by: String,
    /// Job ID.
    #[serde(rename = "JobID")]
    pub job_id: String,
    /// Job modify index it evaluated.
    #[serde(rename = "JobModifyIndex")]
    pub job_modify_index: u64,
    /// `pending`, `complete`, `failed`, `blocked`, `canceled`.
    #[serde(rename = "Status")]
    pub status: String,
    /// Human description of the status.
    #[serde(rename = "StatusDescription")]
    pub status_description: String,
    /// Deployment it created or advanced.
    #[serde(rename = "DeploymentID")]
    pub deployment_id: String,
    /// Groups that could not be placed, with metrics.
    #[serde(rename = "FailedTGAllocs", deserialize_with = "null_default")]
    pub failed_tg_allocs: BTreeMap<String, serde_json::Value>,
    /// Blocked follow-up evaluation.
    #[serde(rename = "BlockedEval")]
    pub blocked_eval: String,
    /// Raft index of creation.
    #[serde(rename = "CreateIndex")]
    pub create_index: u64,
    /// Raft index of the last change.
    #[serde(rename = "ModifyIndex")]
    pub modify_index: u64,
    /// Creation time (ns since the epoch).
    #[serde(rename = "CreateTime")]
    pub create_time: i64,
    /// Last change (ns since the epoch).
    #[serde(rename = "ModifyTime")]
    pub modify_time: i64,
}
