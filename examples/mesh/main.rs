//! `mesh`: the istio-nomad command line. Run `cargo run --example mesh -- --help`.
//!
//! Subcommands:
//! * `mesh iptables [istio-iptables flags] [--format restore|shell|cleanup|cleanup-shell]`
//!   prints the interception rules; `mesh iptables apply|clean [--netns NAME] [flags]`
//!   installs or removes them.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod iptables;

#[derive(Parser)]
#[command(name = "mesh", about = "Istio service mesh on Nomad, Consul and etcd")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print, apply or clean Istio's traffic interception rules.
    Iptables(iptables::IptablesArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Iptables(args) => iptables::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
