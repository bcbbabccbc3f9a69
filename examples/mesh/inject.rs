//! `mesh inject`: adds the Istio sidecar (proxy, iptables init task, readiness gate) to a
//! Nomad job file and prints the result.
//!
//! ```text
//! mesh inject my-job.nomad.hcl --mesh bookinfo
//! mesh inject my-job.json --format json --replace-connect
//! mesh inject meshed.nomad.hcl --remove
//! ```

use clap::{Args, ValueEnum};
use istio_nomad_core::plan::sidecar::{
    inject, remove_sidecar, InjectSettings, NetworkMode, Selection, SidecarSpec,
};
use std::path::PathBuf;

/// Output format of the injected job.
#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    /// HCL2 jobspec (`nomad job run` input).
    Hcl,
    /// The `POST /v1/jobs` body.
    Json,
}

/// Arguments of `mesh inject`.
#[derive(Args)]
pub struct InjectArgs {
    /// The job file (HCL, or JSON when it ends in .json).
    pub job: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Hcl)]
    pub format: Format,
    /// Mesh name (Pilot's gRPC discovery is found at <mesh>-pilot-grpc.service.consul:15010).
    #[arg(long, default_value = "mesh")]
    pub mesh: String,
    /// Istio release of the proxy images and flags.
    #[arg(long, default_value = istio_nomad_core::istio::DEFAULT_VERSION)]
    pub istio_version: String,
    /// Image registry of the Istio images.
    #[arg(long, default_value = istio_nomad_core::istio::DEFAULT_HUB)]
    pub hub: String,
    /// Pilot's discovery address (host:port).
    #[arg(long)]
    pub pilot_address: Option<String>,
    /// Zipkin's address (host:port).
    #[arg(long)]
    pub zipkin_address: Option<String>,
    /// Replace Consul Connect sidecars instead of refusing the group.
    #[arg(long)]
    pub replace_connect: bool,
    /// Node-wide rules: one meshed group per node (guarded by static ports and distinct_hosts).
    #[arg(long, conflicts_with = "cni_network")]
    pub host_mode: bool,
    /// Put meshed groups without a network namespace of their own in the CNI network
    /// `cni/<NAME>` instead of Nomad's bridge (its addresses must be reachable from every node).
    #[arg(long, value_name = "NAME")]
    pub cni_network: Option<String>,
    /// Leave out the readiness gate task.
    #[arg(long)]
    pub no_readiness_gate: bool,
    /// Inject only groups whose meta sets istio-nomad.inject = "true".
    #[arg(long)]
    pub opt_in: bool,
    /// Version label added as a version|<v> tag to services without one.
    #[arg(long)]
    pub version_label: Option<String>,
    /// Protocol added as `protocol` service meta where missing.
    #[arg(long)]
    pub protocol: Option<String>,
    /// Remove an injected sidecar instead (restores the job exactly).
    #[arg(long)]
    pub remove: bool,
    /// How to read an HCL job.
    #[command(flatten)]
    pub read: crate::read::ReadArgs,
}

/// The flags as the core's [`InjectSettings`] (the C ABI's options JSON, Python's keywords):
/// one reading of injection options for every face.
fn settings(args: &InjectArgs) -> InjectSettings {
    InjectSettings {
        mesh: args.mesh.clone(),
        hub: Some(args.hub.clone()),
        istio_version: Some(args.istio_version.clone()),
        selection: Some(if args.opt_in {
            Selection::OptIn
        } else {
            Selection::WithServices
        }),
        version: args.version_label.clone(),
        protocol: args.protocol.clone(),
        extra_bridge_drivers: Vec::new(),
        sidecar: Some(SidecarSpec {
            mode: if args.host_mode {
                NetworkMode::Host
            } else {
                NetworkMode::Bridge
            },
            cni_network: args.cni_network.clone(),
            readiness_gate: !args.no_readiness_gate,
            pilot_address: args.pilot_address.clone(),
            zipkin_address: args.zipkin_address.clone(),
            replace_connect: args.replace_connect,
            ..SidecarSpec::default()
        }),
    }
}

/// Runs `mesh inject`.
pub fn run(args: InjectArgs) -> Result<(), Box<dyn std::error::Error>> {
    let job = args.read.read(&args.job)?;
    let out = if args.remove {
        remove_sidecar(&job)?
    } else {
        inject(&job, &settings(&args).to_options()?)?
    };
    match args.format {
        Format::Hcl => print!("{}", out.to_hcl()?),
        Format::Json => println!("{}", out.to_register_json()?),
    }
    Ok(())
}
