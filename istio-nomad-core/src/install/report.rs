//! What diff, apply and destroy report: per-job changes, outcomes and the writes made.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::ser::{SerializeStruct, Serializer};
use serde::Serialize;

use super::state::MeshState;
use crate::backend::nomad::DesiredUpdates;
use crate::plan::Role;

/// What applying would do to one job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// The job does not exist (or is stopped): it is registered.
    Create,
    /// The job differs from the plan: it is registered again.
    Update,
    /// Nomad's job is the planned one.
    Unchanged,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Change::Create => "create",
            Change::Update => "update",
            Change::Unchanged => "unchanged",
        })
    }
}

/// One job of a [`Diff`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobChange {
    /// Job ID.
    pub job_id: String,
    /// Role in the mesh.
    pub role: Role,
    /// 0-based stage in the dependency order.
    pub stage: usize,
    /// What applying does.
    pub change: Change,
    /// The job's current `JobModifyIndex` (0: absent); an apply registers with it as
    /// `EnforceIndex`.
    pub job_modify_index: u64,
    /// Nomad's plan annotations: per group, what the scheduler would do.
    pub desired_updates: BTreeMap<String, DesiredUpdates>,
    /// The changed fields Nomad's diff lists (`TaskGroups[api].Tasks[app].Config.image`).
    pub changed_fields: Vec<String>,
    /// True when the state store's record matches the job (content hash and index).
    pub recorded: bool,
    /// SHA-256 of the planned job's API JSON.
    pub content_hash: String,
}

/// What applying a plan would change. Computed without writing anything.
#[derive(Debug, Clone, PartialEq)]
pub struct Diff {
    /// Mesh name.
    pub mesh: String,
    /// Hash of the spec of the plan.
    pub spec_hash: String,
    /// Hash recorded by the last complete apply.
    pub recorded_spec_hash: Option<String>,
    /// Job IDs in dependency stages.
    pub stages: Vec<Vec<String>>,
    /// Every job of the plan, in plan order.
    pub jobs: Vec<JobChange>,
    /// Jobs recorded by an earlier apply that the plan no longer has (an apply with
    /// `prune` deregisters them).
    pub removed: Vec<String>,
    /// The state as read.
    pub state: MeshState,
}

impl Diff {
    /// The entry of one job.
    pub fn job(&self, id: &str) -> Option<&JobChange> {
        self.jobs.iter().find(|j| j.job_id == id)
    }

    /// Jobs that an apply would register.
    pub fn changes(&self) -> impl Iterator<Item = &JobChange> {
        self.jobs.iter().filter(|j| j.change != Change::Unchanged)
    }

    /// True when Nomad already runs every planned job, the state records all of them and
    /// the spec, and nothing is left to remove: an apply would write nothing.
    pub fn in_sync(&self) -> bool {
        self.jobs
            .iter()
            .all(|j| j.change == Change::Unchanged && j.recorded)
            && self.removed.is_empty()
            && self.state.spec.as_ref().is_some_and(|s| {
                s.value.spec_hash == self.spec_hash && s.value.stages == self.stages
            })
    }
}

/// What an apply did to one job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JobAction {
    /// Registered as a new job.
    Created,
    /// Registered again with changes.
    Updated,
    /// Not registered.
    Unchanged,
}

/// One job of an [`ApplyReport`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobOutcome {
    /// Job ID.
    pub job_id: String,
    /// What was done.
    pub action: JobAction,
    /// The job version running.
    pub version: u64,
    /// Its `JobModifyIndex`.
    pub job_modify_index: u64,
    /// Whether its state record was written.
    pub state_written: bool,
}

/// Writes made by an operation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Writes {
    /// Jobs registered.
    pub registers: u64,
    /// Jobs deregistered.
    pub deregisters: u64,
    /// State keys written or deleted (the lock not counted).
    pub state_writes: u64,
    /// Lock acquisitions (0 when the operation found nothing to do).
    pub locks: u64,
}

impl Writes {
    /// Every write, the lock included.
    pub fn total(&self) -> u64 {
        self.registers + self.deregisters + self.state_writes + self.locks
    }
}

#[derive(Debug, Default)]
pub(super) struct WriteCounter {
    pub(super) registers: AtomicU64,
    pub(super) deregisters: AtomicU64,
    pub(super) state_writes: AtomicU64,
    pub(super) locks: AtomicU64,
}

impl WriteCounter {
    pub(super) fn snapshot(&self) -> Writes {
        Writes {
            registers: self.registers.load(Ordering::SeqCst),
            deregisters: self.deregisters.load(Ordering::SeqCst),
            state_writes: self.state_writes.load(Ordering::SeqCst),
            locks: self.locks.load(Ordering::SeqCst),
        }
    }
}

/// What an apply did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyReport {
    /// Mesh name.
    pub mesh: String,
    /// Hash of the spec applied.
    pub spec_hash: String,
    /// Every job of the plan, in stage order.
    pub jobs: Vec<JobOutcome>,
    /// Jobs deregistered because the plan no longer has them.
    pub removed: Vec<String>,
    /// Writes made.
    pub writes: Writes,
    /// Things that went wrong without failing the apply (a lock that could not be given
    /// back expires on its own).
    pub warnings: Vec<String>,
    /// Wall time.
    pub elapsed: Duration,
}

impl ApplyReport {
    fn ids(&self, action: JobAction) -> Vec<&str> {
        self.jobs
            .iter()
            .filter(|j| j.action == action)
            .map(|j| j.job_id.as_str())
            .collect()
    }

    /// Jobs created.
    pub fn created(&self) -> Vec<&str> {
        self.ids(JobAction::Created)
    }

    /// Jobs updated.
    pub fn updated(&self) -> Vec<&str> {
        self.ids(JobAction::Updated)
    }

    /// Jobs left as they were.
    pub fn unchanged(&self) -> Vec<&str> {
        self.ids(JobAction::Unchanged)
    }
}

/// What a destroy did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestroyReport {
    /// Mesh name.
    pub mesh: String,
    /// Jobs deregistered (purged), in the order they were.
    pub deregistered: Vec<String>,
    /// Writes made.
    pub writes: Writes,
    /// Things that went wrong without failing the destroy.
    pub warnings: Vec<String>,
    /// Wall time.
    pub elapsed: Duration,
}

// ---------------------------------------------------------------------------------------
// The serialized forms: the one document every binding gives (Python dicts, the C ABI's
// JSON, the command line's --json). Field names are part of the API.

/// `{"registers", "deregisters", "state_writes", "locks", "total"}`.
impl Serialize for Writes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_struct("Writes", 5)?;
        m.serialize_field("registers", &self.registers)?;
        m.serialize_field("deregisters", &self.deregisters)?;
        m.serialize_field("state_writes", &self.state_writes)?;
        m.serialize_field("locks", &self.locks)?;
        m.serialize_field("total", &self.total())?;
        m.end()
    }
}

/// `{"mesh", "spec_hash", "recorded_spec_hash", "in_sync", "stages", "jobs": [{"job_id",
/// "role", "stage", "change", "job_modify_index", "desired_updates", "changed_fields",
/// "recorded", "content_hash"}], "removed"}`; the state read is not part of it.
impl Serialize for Diff {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_struct("Diff", 7)?;
        m.serialize_field("mesh", &self.mesh)?;
        m.serialize_field("spec_hash", &self.spec_hash)?;
        m.serialize_field("recorded_spec_hash", &self.recorded_spec_hash)?;
        m.serialize_field("in_sync", &self.in_sync())?;
        m.serialize_field("stages", &self.stages)?;
        m.serialize_field("jobs", &self.jobs)?;
        m.serialize_field("removed", &self.removed)?;
        m.end()
    }
}

/// `{"mesh", "spec_hash", "jobs": [{"job_id", "action", "version", "job_modify_index",
/// "state_written"}], "created", "updated", "unchanged", "removed", "writes", "warnings",
/// "elapsed_ms"}`.
impl Serialize for ApplyReport {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_struct("ApplyReport", 10)?;
        m.serialize_field("mesh", &self.mesh)?;
        m.serialize_field("spec_hash", &self.spec_hash)?;
        m.serialize_field("jobs", &self.jobs)?;
        m.serialize_field("created", &self.created())?;
        m.serialize_field("updated", &self.updated())?;
        m.serialize_field("unchanged", &self.unchanged())?;
        m.serialize_field("removed", &self.removed)?;
        m.serialize_field("writes", &self.writes)?;
        m.serialize_field("warnings", &self.warnings)?;
        m.serialize_field("elapsed_ms", &millis(self.elapsed))?;
        m.end()
    }
}

/// `{"mesh", "deregistered", "writes", "warnings", "elapsed_ms"}`.
impl Serialize for DestroyReport {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_struct("DestroyReport", 5)?;
        m.serialize_field("mesh", &self.mesh)?;
        m.serialize_field("deregistered", &self.deregistered)?;
        m.serialize_field("writes", &self.writes)?;
        m.serialize_field("warnings", &self.warnings)?;
        m.serialize_field("elapsed_ms", &millis(self.elapsed))?;
        m.end()
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
