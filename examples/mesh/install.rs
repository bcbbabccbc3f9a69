//! `mesh diff|apply|destroy SPEC`: bring a cluster to a mesh spec, with a progress display.
//!
//! The servers come from the spec's `nomad` / `consul` / `etcd` addresses or the standard
//! environment (`NOMAD_ADDR`, `CONSUL_HTTP_ADDR`, `ETCDCTL_ENDPOINTS`, tokens and TLS
//! settings). With none of them set, the command runs against an in-memory cluster that
//! lives for the duration of the command, and says so.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use istio_nomad_core::install::{
    ApplyOptions, Backends, Change, Event, Installer, JobAction, StateBackend,
};
use istio_nomad_core::plan::{plan, Plan};
use istio_nomad_core::spec::MeshSpec;
use istio_nomad_core::Error;

/// Where the installer records what it applied.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum StateArg {
    /// etcd (`istio-nomad/<mesh>/...` keys).
    Etcd,
    /// Consul KV (`istio-nomad/<mesh>/...` keys).
    Consul,
}

/// Arguments of `mesh diff`.
#[derive(Args, Debug)]
pub struct DiffArgs {
    /// The mesh spec (HCL, or JSON when it ends in .json).
    pub spec: PathBuf,
    /// Where the applied state is recorded.
    #[arg(long, value_enum, default_value_t = StateArg::Etcd)]
    pub state: StateArg,
}

/// Arguments of `mesh apply`.
#[derive(Args, Debug)]
pub struct ApplyArgs {
    /// The mesh spec (HCL, or JSON when it ends in .json).
    pub spec: PathBuf,
    /// Where the applied state is recorded.
    #[arg(long, value_enum, default_value_t = StateArg::Etcd)]
    pub state: StateArg,
    /// Seconds to wait for each job's health gates.
    #[arg(long, default_value_t = 600)]
    pub deadline: u64,
    /// Seconds to wait for a lock held by another operator.
    #[arg(long, default_value_t = 0)]
    pub lock_wait: u64,
    /// Keep jobs recorded by an earlier apply that the spec no longer has.
    #[arg(long)]
    pub no_prune: bool,
}

/// Arguments of `mesh destroy`.
#[derive(Args, Debug)]
pub struct DestroyArgs {
    /// The mesh spec (HCL, or JSON when it ends in .json).
    pub spec: PathBuf,
    /// Where the applied state is recorded.
    #[arg(long, value_enum, default_value_t = StateArg::Etcd)]
    pub state: StateArg,
    /// Seconds to wait for a lock held by another operator.
    #[arg(long, default_value_t = 0)]
    pub lock_wait: u64,
}

fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|source| Error::Io {
            op: "start the async runtime",
            path: PathBuf::new(),
            source,
        })
}

fn load(spec: &PathBuf) -> Result<(Plan, Backends), Error> {
    let spec = MeshSpec::from_file(spec)?;
    let plan = plan(&spec)?;
    let backends = Backends::for_spec(&spec)?;
    if backends.is_in_memory() {
        println!(
            "no NOMAD_ADDR, CONSUL_HTTP_ADDR or ETCDCTL_ENDPOINTS and no addresses in the spec: \
             using an in-memory cluster (it lives only for this command; nothing is deployed)"
        );
    } else {
        println!("using {}", backends.source);
    }
    Ok((plan, backends))
}

fn installer(backends: Backends, state: StateArg, bar: Option<ProgressBar>) -> Installer {
    let b = Installer::builder(backends).state_backend(match state {
        StateArg::Etcd => StateBackend::Etcd,
        StateArg::Consul => StateBackend::Consul,
    });
    match bar {
        None => b.build(),
        Some(bar) => b
            .events(Arc::new(move |e: &Event| progress(&bar, e)))
            .build(),
    }
}

fn bar(jobs: usize) -> ProgressBar {
    let bar = ProgressBar::new(jobs as u64);
    let style =
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

fn progress(bar: &ProgressBar, e: &Event) {
    match e {
        Event::LockAcquired { holder } => bar.println(format!("  lock taken by {holder}")),
        Event::StageStarted { stage, jobs } => {
            bar.println(format!("stage {stage}: {}", jobs.join(", ")));
        }
        Event::JobRegistered {
            job,
            job_modify_index,
            ..
        } => {
            bar.println(format!(
                "  registered {job} (JobModifyIndex {job_modify_index})"
            ));
            bar.set_message(format!("waiting for {job}"));
        }
        Event::DeploymentProgress {
            job,
            status,
            healthy,
            desired,
        } => bar.set_message(format!("{job}: deployment {status} {healthy}/{desired}")),
        Event::JobHealthy { job, version } => {
            bar.inc(1);
            bar.println(format!("  healthy    {job} (version {version})"));
        }
        Event::JobUnchanged { job } => {
            bar.println(format!("  unchanged  {job}"));
        }
        Event::JobDeregistered { job } => {
            bar.inc(1);
            bar.println(format!("  removed    {job}"));
        }
        Event::Failed { job, error } => {
            let who = job.as_deref().unwrap_or("apply");
            bar.println(format!("  FAILED     {who}: {error}"));
        }
        _ => {}
    }
}

/// `mesh diff SPEC`: what an apply would change, per job.
pub fn run_diff(args: &DiffArgs) -> Result<(), Error> {
    let (plan, backends) = load(&args.spec)?;
    let installer = installer(backends, args.state, None);
    let diff = runtime()?.block_on(installer.diff(&plan))?;
    for (i, stage) in diff.stages.iter().enumerate() {
        println!("stage {}:", i + 1);
        for id in stage {
            let Some(j) = diff.job(id) else { continue };
            let mark = match j.change {
                Change::Create => "+",
                Change::Update => "~",
                Change::Unchanged => "=",
            };
            let note = if j.change == Change::Unchanged && !j.recorded {
                " (not recorded yet)"
            } else {
                ""
            };
            println!("  {mark} {:<24} {}{note}", j.job_id, j.change);
            for (group, u) in &j.desired_updates {
                let mut parts = Vec::new();
                for (n, what) in [
                    (u.place, "place"),
                    (u.destructive_update, "replace"),
                    (u.in_place_update, "in-place"),
                    (u.stop, "stop"),
                    (u.canary, "canary"),
                ] {
                    if n > 0 {
                        parts.push(format!("{n} {what}"));
                    }
                }
                if !parts.is_empty() && j.change != Change::Unchanged {
                    println!("      group {group}: {}", parts.join(", "));
                }
            }
            let fields = if j.change == Change::Update {
                &j.changed_fields[..]
            } else {
                &[]
            };
            for f in fields.iter().take(8) {
                println!("      {f}");
            }
        }
    }
    for id in &diff.removed {
        println!("  - {id:<24} removed from the spec");
    }
    let n = diff.changes().count();
    if diff.in_sync() {
        println!("in sync: apply would write nothing");
    } else {
        println!("{n} job(s) to register, {} to remove", diff.removed.len());
    }
    Ok(())
}

/// `mesh apply SPEC`: brings the cluster to the spec.
pub fn run_apply(args: &ApplyArgs) -> Result<(), Error> {
    let (plan, backends) = load(&args.spec)?;
    let in_memory = backends.is_in_memory();
    let opts = ApplyOptions::builder()
        .health_deadline(Duration::from_secs(args.deadline.max(1)))
        .lock_wait(Duration::from_secs(args.lock_wait))
        .prune(!args.no_prune)
        .build()?;
    let bar = bar(plan.jobs.len());
    let installer = installer(backends, args.state, Some(bar.clone()));
    let rt = runtime()?;
    let report = rt.block_on(installer.apply(&plan, &opts));
    bar.finish_and_clear();
    let report = report?;
    println!(
        "mesh {}: {} created, {} updated, {} unchanged, {} removed in {:.2?}; writes: {} registers, {} state keys",
        report.mesh,
        report.created().len(),
        report.updated().len(),
        report.unchanged().len(),
        report.removed.len(),
        report.elapsed,
        report.writes.registers,
        report.writes.state_writes
    );
    for j in report
        .jobs
        .iter()
        .filter(|j| j.action != JobAction::Unchanged)
    {
        println!(
            "  {:<24} version {} (JobModifyIndex {})",
            j.job_id, j.version, j.job_modify_index
        );
    }
    for w in &report.warnings {
        println!("warning: {w}");
    }
    if in_memory {
        let again = rt.block_on(installer.apply(&plan, &opts))?;
        println!(
            "in-memory check: a second apply made {} writes in {:.2?}",
            again.writes.total(),
            again.elapsed
        );
    }
    Ok(())
}

/// `mesh destroy SPEC`: removes the mesh's jobs in reverse order and its recorded state.
pub fn run_destroy(args: &DestroyArgs) -> Result<(), Error> {
    let (plan, backends) = load(&args.spec)?;
    let opts = ApplyOptions::builder()
        .lock_wait(Duration::from_secs(args.lock_wait))
        .build()?;
    let bar = bar(plan.jobs.len());
    let installer = installer(backends, args.state, Some(bar.clone()));
    let report = runtime()?.block_on(installer.destroy(&plan, &opts));
    bar.finish_and_clear();
    let report = report?;
    if report.writes.total() == 0 {
        println!("mesh {}: nothing to remove", report.mesh);
    } else {
        println!(
            "mesh {}: {} job(s) removed, {} state key(s) cleared in {:.2?}",
            report.mesh,
            report.deregistered.len(),
            report.writes.state_writes,
            report.elapsed
        );
    }
    for w in &report.warnings {
        println!("warning: {w}");
    }
    Ok(())
}
