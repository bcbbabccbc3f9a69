//! The health gates of an apply: the register's evaluation, the deployment (or the
//! allocations when there is none), the Consul services and the host-mode placement checks.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use tokio::time::Instant;

use super::events::Event;
use super::installer::{expected_allocs, HostModeJobs, Installer};
use super::options::ApplyOptions;
use crate::backend::nomad::{deployment_status, Evaluation};
use crate::backend::QueryOptions;
use crate::error::install::InstallError;
use crate::error::{ConflictError, Result};
use crate::nomad::Job;

/// How long a wait loop pauses after a read that answered index 0.
const ZERO_INDEX_POLL: Duration = Duration::from_millis(200);

/// What an apply waits for after deciding about a job.
#[derive(Debug, Clone)]
pub(super) struct Target {
    /// The register's `JobModifyIndex` answer, or the plan's for a job left unchanged.
    pub(super) job_modify_index: u64,
    /// The evaluation the register created, with its create index.
    pub(super) eval: Option<(String, u64)>,
    /// Whether this apply registered the job.
    pub(super) registered: bool,
}

/// The job version found running, with its `JobModifyIndex`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Placed {
    pub(super) version: u64,
    pub(super) job_modify_index: u64,
}

impl Placed {
    pub(super) fn of_job(job: &serde_json::Value) -> Placed {
        let int = |k: &str| job.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0);
        Placed {
            version: int("Version"),
            job_modify_index: int("JobModifyIndex"),
        }
    }
}

/// True when every group of a running deployment that wants canaries has them placed and
/// healthy but not promoted: only an operator (or `auto_promote`) moves it on
/// (`Deployment.RequiresPromotion`, hashicorp/nomad `nomad/structs/deployment.go`).
fn canaries_await_promotion(d: &crate::backend::nomad::Deployment) -> bool {
    d.requires_promotion()
        && d.task_groups
            .values()
            .filter(|g| g.desired_canaries > 0 && !g.promoted)
            .all(|g| g.healthy_allocs >= g.desired_canaries && !g.auto_promote)
}

impl Installer {
    /// How long the job's health gates have been awaited (the deadline is the gate's start
    /// plus the health deadline).
    pub(super) fn waited(deadline: Instant, opts: &ApplyOptions) -> Duration {
        opts.health_deadline
            .saturating_sub(deadline.saturating_duration_since(Instant::now()))
    }

    pub(super) fn query(index: u64, deadline: Instant, opts: &ApplyOptions) -> QueryOptions {
        if index == 0 {
            return QueryOptions::new();
        }
        let left = deadline.saturating_duration_since(Instant::now());
        QueryOptions::blocking(
            index,
            left.min(opts.query_wait).max(Duration::from_millis(1)),
        )
    }

    /// The index for the next read of a wait loop. A read that answered index 0 cannot be
    /// followed by a blocking query (servers do not block on 0, see
    /// [`crate::backend::Indexed::index`]): pause before reading again instead.
    pub(super) async fn next_index(answered: u64, deadline: Instant) -> u64 {
        if answered == 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            tokio::time::sleep(left.min(ZERO_INDEX_POLL)).await;
        }
        answered
    }

    /// Waits until the scheduler has run the evaluation a register created (Nomad creates
    /// deployments asynchronously, so a read right after the register shows none or the
    /// previous one). Blocks on the evaluation past its create index.
    pub(super) async fn wait_evaluation(
        &self,
        job: &str,
        eval_id: &str,
        create_index: u64,
        deadline: Instant,
        opts: &ApplyOptions,
    ) -> Result<Evaluation> {
        let mut index = create_index;
        loop {
            let r = self
                .backends
                .nomad
                .evaluation(eval_id, &Self::query(index, deadline, opts))
                .await?;
            match r.value.status.as_str() {
                "pending" => {}
                "failed" | "canceled" | "cancelled" => {
                    return Err(InstallError::EvaluationFailed {
                        job: job.to_owned(),
                        eval_id: eval_id.to_owned(),
                        status: r.value.status.clone(),
                        description: r.value.status_description.clone(),
                    }
                    .into())
                }
                _ => return Ok(r.value),
            }
            if Instant::now() >= deadline {
                return Err(InstallError::Deadline {
                    job: job.to_owned(),
                    gate: format!("evaluation {eval_id} processed"),
                    waited: Self::waited(deadline, opts),
                    last_seen: format!("evaluation {}", r.value.status),
                }
                .into());
            }
            index = Self::next_index(r.index, deadline).await;
        }
    }

    /// Waits until the job version the apply registered (or found unchanged) is placed and
    /// healthy. When Nomad made a deployment for it, that deployment must end successful;
    /// when it made none (an empty update strategy, a count of 0, a batch job, a system job
    /// before Nomad 1.11, an unchanged register), the version's allocations must run
    /// (batch: complete). Returns the version and its `JobModifyIndex`.
    ///
    /// The deployment is recognised by its `JobSpecModifyIndex`, the job's
    /// `JobModifyIndex`; its `JobModifyIndex` is the job's `ModifyIndex`, which status and
    /// stability changes move too (hashicorp/nomad `nomad/structs/deployment.go`
    /// `NewDeployment`).
    pub(super) async fn wait_placed(
        &self,
        job: &Job,
        target: &Target,
        deadline: Instant,
        opts: &ApplyOptions,
    ) -> Result<Placed> {
        let id = job.id();
        if let Some((eval_id, create_index)) = &target.eval {
            let eval = self
                .wait_evaluation(id, eval_id, *create_index, deadline, opts)
                .await?;
            if !eval.failed_tg_allocs.is_empty() {
                let groups: Vec<&String> = eval.failed_tg_allocs.keys().collect();
                tracing::warn!(job = %id, ?groups, "Nomad could not place every allocation yet");
            }
        } else if target.registered {
            // Periodic and parameterized jobs get no evaluation and run nothing now.
            let j = self
                .backends
                .nomad
                .read_job(id, &QueryOptions::new())
                .await?
                .value;
            return Ok(Placed::of_job(&j));
        }
        let jmi = target.job_modify_index;
        let mut index = 0;
        let mut last = "no deployment yet".to_owned();
        loop {
            let r = self
                .backends
                .nomad
                .latest_deployment(id, &Self::query(index, deadline, opts))
                .await?;
            match &r.value {
                Some(d) if d.job_spec_modify_index == jmi => {
                    let healthy = d.task_groups.values().map(|g| g.healthy_allocs).sum();
                    let desired = d.task_groups.values().map(|g| g.desired_total).sum();
                    let seen = format!(
                        "deployment {} {} ({healthy}/{desired} healthy)",
                        d.id, d.status
                    );
                    if seen != last {
                        self.emit(Event::DeploymentProgress {
                            job: id.to_owned(),
                            status: d.status.clone(),
                            healthy,
                            desired,
                        });
                        last = seen;
                    }
                    match d.status.as_str() {
                        deployment_status::SUCCESSFUL => {
                            return Ok(Placed {
                                version: d.job_version,
                                job_modify_index: jmi,
                            })
                        }
                        deployment_status::FAILED | deployment_status::CANCELLED => {
                            return Err(InstallError::DeploymentFailed {
                                job: id.to_owned(),
                                deployment_id: d.id.clone(),
                                status: d.status.clone(),
                                description: d.status_description.clone(),
                            }
                            .into())
                        }
                        deployment_status::PAUSED => {
                            return Err(InstallError::DeploymentHeld {
                                job: id.to_owned(),
                                deployment_id: d.id.clone(),
                                reason: format!(
                                    "it is paused ({}); resume it (nomad deployment resume {}) \
                                     and apply again",
                                    d.status_description, d.id
                                ),
                            }
                            .into())
                        }
                        deployment_status::RUNNING if canaries_await_promotion(d) => {
                            return Err(InstallError::DeploymentHeld {
                                job: id.to_owned(),
                                deployment_id: d.id.clone(),
                                reason: format!(
                                    "its canaries are healthy and await a manual promotion \
                                     ({}); promote it (nomad deployment promote {}) and apply \
                                     again",
                                    d.status_description, d.id
                                ),
                            }
                            .into())
                        }
                        // running, pending, initializing, blocked, unblocking: still moving.
                        _ => {}
                    }
                }
                Some(d) if d.job_spec_modify_index > jmi => {
                    return Err(ConflictError::ChangedDuringApply {
                        job: id.to_owned(),
                        seen: "its latest deployment is for",
                        found: d.job_spec_modify_index,
                        expected: jmi,
                    }
                    .into())
                }
                _ => {
                    // The scheduler ran (or nothing was registered) and made no deployment
                    // for this version: its allocations decide.
                    return self.wait_allocations(job, jmi, deadline, opts).await;
                }
            }
            if Instant::now() >= deadline {
                return Err(InstallError::Deadline {
                    job: id.to_owned(),
                    gate: "deployment successful".into(),
                    waited: Self::waited(deadline, opts),
                    last_seen: last,
                }
                .into());
            }
            index = Self::next_index(r.index, deadline).await;
        }
    }

    /// Waits until the allocations of the job's current version run (service and system
    /// jobs) or complete (batch jobs), as many as the job places.
    pub(super) async fn wait_allocations(
        &self,
        job: &Job,
        jmi: u64,
        deadline: Instant,
        opts: &ApplyOptions,
    ) -> Result<Placed> {
        let id = job.id();
        let current = self
            .backends
            .nomad
            .read_job(id, &QueryOptions::new())
            .await?
            .value;
        let placed = Placed::of_job(&current);
        if placed.job_modify_index > jmi {
            return Err(ConflictError::ChangedDuringApply {
                job: id.to_owned(),
                seen: "it is at",
                found: placed.job_modify_index,
                expected: jmi,
            }
            .into());
        }
        let want = expected_allocs(job);
        let done_status = if matches!(job.kind(), "batch" | "sysbatch") {
            "complete"
        } else {
            "running"
        };
        let mut index = 0;
        loop {
            let r = self
                .backends
                .nomad
                .job_allocations(id, false, &Self::query(index, deadline, opts))
                .await?;
            let done = r
                .value
                .iter()
                .filter(|a| {
                    a.job_version == placed.version
                        && a.desired_status == "run"
                        && a.client_status == done_status
                })
                .count() as u64;
            if done >= want {
                return Ok(placed);
            }
            if Instant::now() >= deadline {
                return Err(InstallError::Deadline {
                    job: id.to_owned(),
                    gate: format!(
                        "{want} allocations of version {} {done_status}",
                        placed.version
                    ),
                    waited: Self::waited(deadline, opts),
                    last_seen: format!("{done} {done_status}"),
                }
                .into());
            }
            index = Self::next_index(r.index, deadline).await;
        }
    }

    /// Waits until Consul lists at least `want` passing instances of `service`.
    pub(super) async fn wait_service(
        &self,
        job: &str,
        service: &str,
        want: u64,
        deadline: Instant,
        opts: &ApplyOptions,
    ) -> Result<()> {
        let mut index = 0;
        loop {
            let r = self
                .backends
                .consul
                .health_service(service, true, &Self::query(index, deadline, opts))
                .await?;
            let n = r.value.len() as u64;
            if n >= want {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(InstallError::Deadline {
                    job: job.to_owned(),
                    gate: format!("consul service {service}: {want} passing"),
                    waited: Self::waited(deadline, opts),
                    last_seen: format!("{n} passing"),
                }
                .into());
            }
            index = r.index;
        }
    }

    /// Waits until Consul lists no instance of `service`.
    pub(super) async fn wait_service_gone(
        &self,
        job: &str,
        service: &str,
        deadline: Instant,
        opts: &ApplyOptions,
    ) -> Result<()> {
        let mut index = 0;
        loop {
            let r = self
                .backends
                .consul
                .health_service(service, false, &Self::query(index, deadline, opts))
                .await?;
            if r.value.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(InstallError::Deadline {
                    job: job.to_owned(),
                    gate: format!("consul service {service}: deregistered"),
                    waited: Self::waited(deadline, opts),
                    last_seen: format!("{} instances", r.value.len()),
                }
                .into());
            }
            index = r.index;
        }
    }

    /// Fails when a host-mode group of `job` shares a node with another host-mode group of
    /// the mesh (its own other allocations included).
    pub(super) async fn check_host_mode(
        &self,
        job: &str,
        mine: &BTreeSet<String>,
        peers: &HostModeJobs,
    ) -> Result<()> {
        let live = |a: &crate::backend::nomad::AllocationListStub| {
            a.desired_status == "run" && matches!(a.client_status.as_str(), "running" | "pending")
        };
        let mut taken: BTreeMap<String, (String, String)> = BTreeMap::new();
        for (peer, groups) in peers.iter().filter(|(p, _)| p.as_str() != job) {
            let allocs = match self
                .backends
                .nomad
                .job_allocations(peer, false, &QueryOptions::new())
                .await
            {
                Ok(a) => a.value,
                Err(e) if e.is_not_found() => continue,
                Err(e) => return Err(e.into()),
            };
            for a in allocs.iter().filter(|a| live(a)) {
                if groups.is_empty() || groups.contains(&a.task_group) {
                    taken
                        .entry(a.node_id.clone())
                        .or_insert((peer.clone(), a.task_group.clone()));
                }
            }
        }
        let own = self
            .backends
            .nomad
            .job_allocations(job, false, &QueryOptions::new())
            .await?
            .value;
        for a in own
            .iter()
            .filter(|a| live(a) && mine.contains(&a.task_group))
        {
            if let Some((other_job, other_group)) = taken.get(&a.node_id) {
                let node = if a.node_name.is_empty() {
                    a.node_id.clone()
                } else {
                    format!("{} ({})", a.node_id, a.node_name)
                };
                return Err(InstallError::HostModeCollision {
                    job: job.to_owned(),
                    group: a.task_group.clone(),
                    node,
                    other_job: other_job.clone(),
                    other_group: other_group.clone(),
                }
                .into());
            }
            taken.insert(a.node_id.clone(), (job.to_owned(), a.task_group.clone()));
        }
        Ok(())
    }
}
