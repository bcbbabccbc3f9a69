//! `mesh verify SPEC [--live] [--json]`: would the mesh carry traffic?
//!
//! Without `--live` the check is predicted from the plan alone: what Nomad will register in
//! Consul and what Istio's Pilot makes of it. With `--live` it reads the Consul catalog and the
//! Nomad nodes of the servers named by the spec or the standard environment (`NOMAD_ADDR`,
//! `CONSUL_HTTP_ADDR`, ...) instead; it refuses to run when no server is set, since there is
//! nothing live to read.

use clap::Args;
use istio_nomad_core::install::verify_live;
use istio_nomad_core::install::Backends;
use istio_nomad_core::plan::plan_unverified;
use istio_nomad_core::plan::verify::verify;
use istio_nomad_core::spec::MeshSpec;
use istio_nomad_core::Error;
use std::path::PathBuf;

/// Arguments of `mesh verify`.
#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The mesh spec (HCL, or JSON when it ends in .json).
    pub spec: PathBuf,
    /// Read the live Consul catalog and Nomad nodes instead of predicting them.
    #[arg(long)]
    pub live: bool,
    /// Print the findings as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `mesh verify`; fails (exit status 1) when there are errors.
pub fn run(args: &VerifyArgs) -> Result<(), Box<dyn std::error::Error>> {
    let spec = MeshSpec::from_file(&args.spec)?;
    let plan = plan_unverified(&spec)?;
    let report = if args.live {
        let backends = Backends::for_spec(&spec)?;
        if backends.is_in_memory() {
            return Err(Box::new(Error::field(
                "verify --live",
                "no NOMAD_ADDR, CONSUL_HTTP_ADDR or ETCDCTL_ENDPOINTS and no server addresses in the spec: there is no live cluster to read (run without --live for the prediction from the plan)",
                "",
            )));
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        rt.block_on(verify_live(&plan, &backends))?
    } else {
        verify(&plan)
    };
    if args.json {
        println!("{}", report.to_json()?);
    } else {
        print!("{report}");
    }
    if report.has_errors() {
        return Err(format!(
            "the mesh would not carry traffic: {} error(s)",
            report.errors().count()
        )
        .into());
    }
    Ok(())
}
