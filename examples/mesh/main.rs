//! `mesh`: the istio-nomad command line.
//!
//! Renders a whole mesh with no cluster needed:
//!
//! ```text
//! mesh plan examples/bookinfo.mesh.hcl --out out/bookinfo
//! ```
//!
//! converts a Nomad job between HCL and JSON (validating it first):
//!
//! ```text
//! mesh fmt my-job.nomad.hcl --to json
//! NOMAD_VAR_image=nginx mesh fmt my-job.nomad.hcl --var count=3 --var-file prod.vars.hcl
//! ```
//!
//! (reading is strict, like `nomad job run`: `--allow-unknown` keeps arguments newer than the
//! schema, `--allow-fs` allows `file()` and the other filesystem functions),
//!
//! prints or applies Istio's interception rules:
//!
//! ```text
//! mesh iptables -p 15001 -u 1337 -b '*' -i '*' --format restore
//! sudo mesh iptables apply --netns my-ns -b 9080
//! ```
//!
//! adds the Istio sidecar to a Nomad job:
//!
//! ```text
//! mesh inject my-job.nomad.hcl --mesh bookinfo
//! ```
//!
//! checks that the mesh would carry traffic (what Nomad registers in Consul, what Pilot makes of
//! it), from the plan or, with `--live`, from the cluster's Consul catalog and Nomad nodes:
//!
//! ```text
//! mesh verify examples/bookinfo.mesh.hcl
//! mesh verify examples/bookinfo.mesh.hcl --live --json
//! ```
//!
//! and brings a cluster to the spec (an in-memory one when no server address is set):
//!
//! ```text
//! mesh diff examples/bookinfo.mesh.hcl
//! mesh apply examples/bookinfo.mesh.hcl
//! mesh destroy examples/bookinfo.mesh.hcl
//! ```
//!
//! Run `mesh --help` for every subcommand.

mod inject;
mod install;
mod read;
mod verify;

use clap::{Parser, Subcommand, ValueEnum};
use istio_nomad_core::plan::{plan, plan_unverified};
use istio_nomad_core::spec::MeshSpec;
use std::path::PathBuf;
use std::process::ExitCode;

mod iptables;

#[derive(Parser)]
#[command(
    name = "mesh",
    version,
    about = "Istio service mesh on Nomad and Consul: plan, render, inject, apply"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per run
enum Command {
    /// Plans a mesh spec and writes every job (HCL and register JSON) and file under --out.
    Plan {
        /// The mesh spec (HCL, or JSON when it ends in .json).
        spec: PathBuf,
        /// Output folder.
        #[arg(long, default_value = "out")]
        out: PathBuf,
        /// Write the plan even when `verify` finds that it would not carry traffic.
        #[arg(long)]
        no_verify: bool,
    },
    /// Checks that a mesh spec's plan carries traffic: what Nomad registers in Consul and
    /// what Istio's Pilot makes of it (see `istio_nomad_core::plan::verify`).
    Verify(verify::VerifyArgs),
    /// Converts a Nomad job between HCL and JSON (validating it first).
    Fmt {
        /// The job file (HCL, or JSON when it ends in .json).
        job: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = JobFormat::Hcl)]
        to: JobFormat,
        /// Convert without validating.
        #[arg(long)]
        no_validate: bool,
        /// How to read an HCL job.
        #[command(flatten)]
        read: read::ReadArgs,
    },
    /// Prints, applies or cleans Istio's traffic interception rules.
    Iptables(iptables::IptablesArgs),
    /// Adds the Istio sidecar (proxy, iptables init task, readiness gate) to a Nomad job and
    /// prints it (or removes it with --remove).
    Inject(inject::InjectArgs),
    /// Shows what `apply` would change, per job, with Nomad's plan annotations.
    Diff(install::DiffArgs),
    /// Brings the cluster to the spec: dependency order, health gates, recorded state.
    Apply(install::ApplyArgs),
    /// Removes the mesh's jobs in reverse order and its recorded state.
    Destroy(install::DestroyArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum JobFormat {
    Hcl,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result: Result<(), Box<dyn std::error::Error>> = match cli.command {
        Command::Plan {
            spec,
            out,
            no_verify,
        } => run_plan(&spec, &out, no_verify).map_err(Into::into),
        Command::Verify(a) => verify::run(&a),
        Command::Fmt {
            job,
            to,
            no_validate,
            read,
        } => run_fmt(&job, to, no_validate, &read).map_err(Into::into),
        Command::Iptables(args) => iptables::run(args),
        Command::Inject(args) => inject::run(args),
        Command::Diff(a) => install::run_diff(&a).map_err(Into::into),
        Command::Apply(a) => install::run_apply(&a).map_err(Into::into),
        Command::Destroy(a) => install::run_destroy(&a).map_err(Into::into),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            match e.downcast_ref::<istio_nomad_core::Error>() {
                Some(core) => eprintln!("error ({}): {core}", core.family()),
                None => eprintln!("error: {e}"),
            }
            ExitCode::FAILURE
        }
    }
}

fn run_plan(
    spec_path: &PathBuf,
    out: &PathBuf,
    no_verify: bool,
) -> Result<(), istio_nomad_core::Error> {
    let spec = MeshSpec::from_file(spec_path)?;
    let plan = if no_verify {
        let plan = plan_unverified(&spec)?;
        let report = istio_nomad_core::plan::verify::verify(&plan);
        if report.has_errors() {
            eprintln!("writing a plan that does not carry traffic (--no-verify):\n{report}");
        }
        plan
    } else {
        plan(&spec)?
    };
    let written = plan.write(out)?;
    println!(
        "mesh {:?}: {} jobs, {} files written to {}",
        spec.name,
        plan.jobs.len(),
        written.len(),
        out.display()
    );
    for (i, stage) in plan.order()?.iter().enumerate() {
        println!("  stage {}: {}", i + 1, stage.join(", "));
    }
    for pj in &plan.jobs {
        let groups: Vec<String> = pj
            .job
            .task_groups
            .iter()
            .map(|g| format!("{}x{}", g.name(), g.count.unwrap_or(1)))
            .collect();
        println!(
            "  {:<24} {:<10} {}",
            pj.job.id(),
            pj.role.as_str(),
            groups.join(" ")
        );
    }
    println!("spec hash {}", plan.spec_hash);
    Ok(())
}

fn run_fmt(
    path: &std::path::Path,
    to: JobFormat,
    no_validate: bool,
    read: &read::ReadArgs,
) -> Result<(), istio_nomad_core::Error> {
    let job = read.read(path)?;
    if !no_validate {
        job.validate()?;
    }
    match to {
        JobFormat::Hcl => print!("{}", job.to_hcl()?),
        JobFormat::Json => println!("{}", job.to_register_json()?),
    }
    Ok(())
}
