//! How `mesh fmt` and `mesh inject` read an HCL job: the nomad CLI's variable flags
//! (`-var`, `-var-file`, `NOMAD_VAR_<name>`), strictness and filesystem functions.

use clap::Args;
use istio_nomad_core::nomad::hcl::HclOptions;
use istio_nomad_core::nomad::Job;
use std::path::{Path, PathBuf};

/// Options for reading an HCL jobspec (JSON input ignores them).
#[derive(Args, Clone, Default)]
pub struct ReadArgs {
    /// Sets an HCL variable, as `nomad job run -var 'name=value'` (repeatable; a later one
    /// wins). `NOMAD_VAR_<name>` environment variables are read too, at lower precedence.
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// Reads variable values from an HCL or JSON file (repeatable; later files win, -var wins
    /// over every file).
    #[arg(long = "var-file", value_name = "FILE")]
    pub var_files: Vec<PathBuf>,
    /// Keeps arguments and blocks the schema does not know (fields newer than it) instead of
    /// refusing them.
    #[arg(long)]
    pub allow_unknown: bool,
    /// Allows the filesystem functions (`file`, `fileexists`, `fileset`, ...), relative to the
    /// job file's folder.
    #[arg(long)]
    pub allow_fs: bool,
}

impl ReadArgs {
    /// The reader options these flags and the process environment give.
    pub fn options(&self) -> Result<HclOptions, istio_nomad_core::Error> {
        let mut opts = HclOptions::new()
            .process_env()
            .allow_unknown(self.allow_unknown)
            .allow_fs(self.allow_fs);
        for v in &self.vars {
            opts = opts.var_arg(v)?;
        }
        for f in &self.var_files {
            opts = opts.var_file(f);
        }
        Ok(opts)
    }

    /// Reads the job file with these options.
    pub fn read(&self, path: &Path) -> Result<Job, istio_nomad_core::Error> {
        Job::from_file_with(path, &self.options()?)
    }
}
