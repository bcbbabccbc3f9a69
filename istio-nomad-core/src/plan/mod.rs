//! A plan: everything a mesh spec turns into, as pure data.
//!
//! [`plan`] is the one entry point: it takes a validated [`MeshSpec`] and returns the Nomad jobs
//! (control plane and meshed apps), their dependency order, and the files the renderers write.
//! Nothing here does I/O except [`Plan::write`].

pub mod control_plane;
pub mod sidecar;
pub mod verify;
pub mod vm;

use crate::error::{Error, Result};
use crate::nomad::{
    CheckRestart, Constraint, Job, NetworkResource, Port, ReschedulePolicy, RestartPolicy, Service,
    ServiceCheck, Spread, Task, TaskGroup, UpdateStrategy, SECOND,
};
pub use crate::spec::control_plane::Role;
use crate::spec::{MeshSpec, ServiceSpec};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// One job of the plan with its place in the dependency graph.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedJob {
    /// The job, validated.
    pub job: Job,
    /// Its role.
    pub role: Role,
    /// IDs of the jobs that must be healthy before this one is applied.
    pub depends_on: Vec<String>,
}

/// A rules file of one meshed group (delivered to its init task).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RulesFile {
    /// Job ID.
    pub job: String,
    /// Group name.
    pub group: String,
    /// `iptables-restore` input.
    pub restore: String,
    /// The matching cleanup, as `iptables-restore` input.
    pub cleanup: String,
    /// `ip6tables-restore` input, when the interception settings turn IPv6 on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restore_v6: Option<String>,
    /// The matching IPv6 cleanup.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cleanup_v6: Option<String>,
}

/// The files of one VM / bare-metal bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VmBundleFiles {
    /// Service name.
    pub service: String,
    /// File name -> contents.
    pub files: BTreeMap<String, String>,
}

/// Everything a mesh spec turns into.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The spec this plan was made from.
    pub spec: MeshSpec,
    /// SHA-256 of the spec's canonical JSON (hex); the installer records it.
    pub spec_hash: String,
    /// The jobs, control plane first, in a stable order.
    pub jobs: Vec<PlannedJob>,
    /// iptables rules files of the meshed groups.
    pub iptables: Vec<RulesFile>,
    /// VM bundles of services that run outside Nomad.
    pub vm_bundles: Vec<VmBundleFiles>,
}

/// Makes the plan of a mesh spec and checks that it carries traffic: a plan with a
/// [`crate::plan::verify`] error (a proxy with no inbound listener, a dialed port with no outbound
/// listener, ...) is refused with a validation error that names each finding's path.
/// [`plan_unverified`] makes it anyway; [`crate::plan::verify::verify`] lists every finding.
pub fn plan(spec: &MeshSpec) -> Result<Plan> {
    let p = plan_unverified(spec)?;
    crate::plan::verify::verify(&p).into_result()?;
    Ok(p)
}

/// Makes the plan of a mesh spec without the data-path check of [`plan`].
pub fn plan_unverified(spec: &MeshSpec) -> Result<Plan> {
    let mut errors = spec.validate_fields();
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let mut jobs = crate::plan::control_plane::jobs(spec)?;
    // Apps need Pilot (configuration), Mixer and Citadel (certificates) before their proxies start.
    let app_deps: Vec<String> = jobs
        .iter()
        .filter(|j| matches!(j.role, Role::Pilot | Role::Mixer | Role::Citadel))
        .map(|j| j.job.id().to_string())
        .collect();
    let sidecar = spec.sidecar.options(spec);
    let mut iptables = Vec::new();
    for s in spec.services.iter().filter(|s| !s.vm) {
        let mut job = app_job(spec, s);
        if spec.sidecar.enabled {
            job = crate::plan::sidecar::inject(&job, &sidecar)?;
            iptables.extend(crate::plan::sidecar::rules_files(&job, &sidecar)?);
        }
        jobs.push(PlannedJob {
            job,
            role: Role::App,
            depends_on: app_deps.clone(),
        });
    }
    for pj in &mut jobs {
        pj.job = std::mem::take(&mut pj.job).with_parser_defaults();
    }
    let vm_bundles = crate::plan::vm::bundles(spec, &sidecar)?;
    let mut ids = BTreeSet::new();
    for pj in &jobs {
        if !ids.insert(pj.job.id().to_string()) {
            errors.add(
                format!("job[{}]", pj.job.id()),
                "two jobs of the plan have the same ID",
                pj.job.id(),
            );
        }
        if let Err(Error::Validation(v)) = pj.job.validate() {
            errors.extend(v);
        }
    }
    errors.into_result()?;
    let canonical = serde_json::to_string(&spec.to_value()).map_err(|source| Error::Encode {
        what: "mesh spec",
        source,
    })?;
    let spec_hash = Sha256::digest(canonical.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(Plan {
        spec: spec.clone(),
        spec_hash,
        jobs,
        iptables,
        vm_bundles,
    })
}

/// The Nomad job of one meshed service: one group per version, in a bridge network, with the
/// Consul service that Pilot's registry reads (`version|v1` tags, `protocol` meta).
pub fn app_job(spec: &MeshSpec, s: &ServiceSpec) -> Job {
    let mut job = Job::new(s.name.clone()).datacenters(spec.datacenters.clone());
    job.region = Some(spec.region.clone());
    job.namespace = Some(spec.namespace.clone());
    job.job_type = Some("service".into());
    job.update = Some(UpdateStrategy {
        max_parallel: Some(1),
        health_check: Some("checks".into()),
        min_healthy_time: Some(10 * SECOND),
        healthy_deadline: Some(300 * SECOND),
        progress_deadline: Some(600 * SECOND),
        auto_revert: Some(true),
        ..Default::default()
    });
    job.meta
        .insert("istio-nomad.mesh".into(), spec.name.clone());
    job.meta.insert("istio-nomad.role".into(), "app".into());
    for w in s.workloads() {
        let gname = match w.version {
            Some(v) if !s.versions.is_empty() => format!("{}-{v}", s.name),
            _ => s.name.clone(),
        };
        let mut g = TaskGroup::new(gname).count(w.count);
        // The network the sidecar settings ask for: the node's in host mode (injection then
        // reserves the app's port statically), else the group's own namespace.
        let mode = match (&spec.sidecar, spec.sidecar.enabled) {
            (sc, true) if sc.mode == crate::spec::sidecar::NetworkMode::Host => None,
            (sc, true) if sc.cni_network.is_some() => {
                sc.cni_network.as_ref().map(|n| format!("cni/{n}"))
            }
            _ => Some("bridge".into()),
        };
        g.networks.push(NetworkResource {
            mode,
            dynamic_ports: s
                .ports
                .iter()
                .map(|p| Port::dynamic(p.name.clone(), p.port))
                .collect(),
            ..Default::default()
        });
        g.restart_policy = Some(RestartPolicy {
            attempts: Some(2),
            interval: Some(1800 * SECOND),
            delay: Some(15 * SECOND),
            mode: Some("fail".into()),
            ..Default::default()
        });
        g.reschedule_policy = Some(ReschedulePolicy {
            delay: Some(30 * SECOND),
            delay_function: Some("exponential".into()),
            max_delay: Some(3600 * SECOND),
            unlimited: Some(true),
            ..Default::default()
        });
        if w.count > 1 {
            g.spreads.push(Spread {
                attribute: Some("${node.unique.id}".into()),
                weight: Some(50),
                ..Default::default()
            });
        }
        for p in &s.ports {
            let mut tags = Vec::new();
            if let Some(v) = w.version {
                tags.push(format!("version|{v}"));
            }
            let mut svc = Service {
                name: Some(s.name.clone()),
                port_label: Some(p.name.clone()),
                tags,
                ..Default::default()
            };
            svc.meta.insert(
                "protocol".into(),
                p.protocol.clone().unwrap_or_else(|| s.protocol.clone()),
            );
            svc.checks.push(ServiceCheck {
                name: Some(format!("{}-{}-tcp", s.name, p.name)),
                check_type: Some("tcp".into()),
                port_label: Some(p.name.clone()),
                interval: Some(10 * SECOND),
                timeout: Some(2 * SECOND),
                ..Default::default()
            });
            svc.check_restart = Some(CheckRestart {
                limit: Some(3),
                grace: Some(30 * SECOND),
                ..Default::default()
            });
            g.services.push(svc);
        }
        let mut task = Task::new("app", "docker")
            .config("image", w.image.to_string())
            .config(
                "ports",
                serde_json::Value::Array(s.ports.iter().map(|p| p.name.clone().into()).collect()),
            )
            .resources(s.cpu, s.memory);
        for (k, v) in &s.env {
            task.env.insert(k.clone(), v.clone());
        }
        if let Some(v) = w.version {
            task.env.insert("SERVICE_VERSION".into(), v.to_string());
        }
        g.tasks.push(task);
        job.task_groups.push(g);
    }
    if s.workloads().iter().map(|w| w.count).sum::<i64>() > 1 {
        job.constraints
            .push(Constraint::new("${attr.kernel.name}", "=", "linux"));
    }
    job
}

impl Plan {
    /// The job with this ID.
    pub fn job(&self, id: &str) -> Option<&PlannedJob> {
        self.jobs.iter().find(|j| j.job.id() == id)
    }

    /// The dependency graph in stages: every job of a stage depends only on jobs of earlier
    /// stages, so the jobs of one stage can be applied concurrently. Job IDs sorted within a stage.
    pub fn order(&self) -> Result<Vec<Vec<String>>> {
        let mut done: BTreeSet<String> = BTreeSet::new();
        let mut left: Vec<&PlannedJob> = self.jobs.iter().collect();
        let mut stages = Vec::new();
        while !left.is_empty() {
            let (ready, rest): (Vec<&PlannedJob>, Vec<&PlannedJob>) =
                left.into_iter().partition(|j| {
                    j.depends_on
                        .iter()
                        .all(|d| done.contains(d) || self.job(d).is_none())
                });
            if ready.is_empty() {
                let ids: Vec<&str> = rest.iter().map(|j| j.job.id()).collect();
                return Err(Error::field(
                    "plan.order",
                    "the job dependencies form a cycle",
                    ids.join(", "),
                ));
            }
            let mut stage: Vec<String> = ready.iter().map(|j| j.job.id().to_string()).collect();
            stage.sort();
            done.extend(stage.iter().cloned());
            stages.push(stage);
            left = rest;
        }
        Ok(stages)
    }

    /// Writes the plan under `dir`: `jobs/<id>.json` (the register payload) for every job,
    /// plus `jobs/<id>.nomad.hcl`, `iptables/<job>.<group>.rules` (and `.v6.rules` when IPv6
    /// interception is on) with their cleanups, and `vm/<service>/` files.
    /// Returns the paths written, relative to `dir`.
    pub fn write(&self, dir: impl AsRef<Path>) -> Result<Vec<String>> {
        let dir = dir.as_ref();
        let mut written = Vec::new();
        for (rel, contents) in self.files()? {
            let path = dir.join(&rel);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|source| Error::Io {
                    op: "create directory",
                    path: parent.to_path_buf(),
                    source,
                })?;
            }
            std::fs::write(&path, contents).map_err(|source| Error::Io {
                op: "write",
                path: path.clone(),
                source,
            })?;
            written.push(rel);
        }
        Ok(written)
    }

    /// Every file of the plan as (relative path, contents), in a stable order.
    pub fn files(&self) -> Result<Vec<(String, String)>> {
        let mut out = Vec::new();
        for pj in &self.jobs {
            let id = pj.job.id();
            out.push((format!("jobs/{id}.nomad.hcl"), pj.job.to_hcl()?));
            out.push((format!("jobs/{id}.json"), pj.job.to_register_json()? + "\n"));
        }
        for r in &self.iptables {
            out.push((
                format!("iptables/{}.{}.rules", r.job, r.group),
                r.restore.clone(),
            ));
            out.push((
                format!("iptables/{}.{}.cleanup.rules", r.job, r.group),
                r.cleanup.clone(),
            ));
            if let (Some(restore), Some(cleanup)) = (&r.restore_v6, &r.cleanup_v6) {
                out.push((
                    format!("iptables/{}.{}.v6.rules", r.job, r.group),
                    restore.clone(),
                ));
                out.push((
                    format!("iptables/{}.{}.v6.cleanup.rules", r.job, r.group),
                    cleanup.clone(),
                ));
            }
        }
        for b in &self.vm_bundles {
            for (name, contents) in &b.files {
                out.push((format!("vm/{}/{name}", b.service), contents.clone()));
            }
        }
        Ok(out)
    }
}
