//! Nomad jobs: HCL <-> JSON conversion and validation.

use crate::error::{operation, FfiResult, IstioNomadError, IstioNomadResult};
use crate::format::DocFormat;
use crate::string::{input_str, out_slot, put_string, IstioNomadString};
use istio_nomad_core::error::json::from_json_text;
use istio_nomad_core::nomad::hcl::HclOptions;
use istio_nomad_core::nomad::Job;
use istio_nomad_core::Result;
use serde::Deserialize;
use std::path::PathBuf;

/// The JSON form of the HCL reading options (see `istio_nomad_job_convert_with`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReadOptionsArg {
    #[serde(default)]
    vars: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    var_files: Vec<PathBuf>,
    #[serde(default)]
    env: Vec<(String, String)>,
    #[serde(default)]
    process_env: bool,
    #[serde(default)]
    allow_unknown: bool,
    #[serde(default)]
    allow_fs: bool,
    #[serde(default)]
    base_dir: Option<PathBuf>,
}

/// Reads HCL reading options from JSON (empty text: the defaults).
pub fn parse_read_options(text: &str) -> Result<HclOptions> {
    let arg: ReadOptionsArg = if text.trim().is_empty() {
        ReadOptionsArg::default()
    } else {
        from_json_text(text, "read_options")?
    };
    let mut opts = HclOptions::new();
    if arg.process_env {
        opts = opts.process_env();
    }
    if !arg.env.is_empty() {
        opts = opts.env(arg.env);
    }
    for (name, value) in arg.vars {
        let text = match value {
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        };
        opts = opts.var(name, text);
    }
    for f in arg.var_files {
        opts = opts.var_file(f);
    }
    if let Some(d) = arg.base_dir {
        opts = opts.base_dir(d);
    }
    Ok(opts.allow_unknown(arg.allow_unknown).allow_fs(arg.allow_fs))
}

/// Reads a job in `format` with HCL reading options (JSON input ignores them).
pub fn parse_job_with(text: &str, format: DocFormat, opts: &HclOptions) -> Result<Job> {
    match format {
        DocFormat::Hcl => Job::from_hcl_with(text, opts),
        DocFormat::Json => Job::from_json(text),
    }
}

/// Reads a job in `format` (JSON: the bare job object or the `{"Job": {...}}` register body).
pub fn parse_job(text: &str, format: DocFormat) -> Result<Job> {
    match format {
        DocFormat::Hcl => Job::from_hcl(text),
        DocFormat::Json => Job::from_json(text),
    }
}

/// Renders a job: HCL2 jobspec, or the `POST /v1/jobs` body `{"Job": {...}}` pretty-printed
/// with a final newline (the form of the plan's `jobs/<id>.json` files).
pub fn render_job(job: &Job, format: DocFormat) -> Result<String> {
    match format {
        DocFormat::Hcl => job.to_hcl(),
        DocFormat::Json => Ok(job.to_register_json()? + "\n"),
    }
}

/// Converts a Nomad job between HCL2 and API JSON. The job is read and rendered but not
/// validated (call `istio_nomad_job_validate` for that).
///
/// `from_format`: `ISTIO_NOMAD_FORMAT_AUTO`, `_HCL` or `_JSON`; `to_format`: `_HCL` or `_JSON`
/// (JSON output is the `POST /v1/jobs` body `{"Job": {...}}`). On success `*out` receives the
/// text; on failure it is NULL and the detail is in `*error` and the thread's last error.
///
/// # Safety
/// `job` points to `job_len` readable bytes (or is NULL with `job_len` 0); `out` is a writable
/// pointer slot; `error` is NULL or a writable pointer slot.
#[no_mangle]
pub unsafe extern "C" fn istio_nomad_job_convert(
    job: *const u8,
    job_len: usize,
    from_format: u32,
    to_format: u32,
    out: *mut *mut IstioNomadString,
    error: *mut *mut IstioNomadError,
) -> IstioNomadResult {
    // SAFETY: pointer contracts forwarded from the caller.
    unsafe {
        operation(error, || -> FfiResult {
            let out = out_slot(out, "out")?;
            let text = input_str(job, job_len, "job")?;
            let from = DocFormat::of_input(from_format, text, "from_format")?;
            let to = DocFormat::of_output(to_format, "to_format")?;
            put_string(out, render_job(&parse_job(text, from)?, to)?);
            Ok(())
        })
    }
}

/// Like `istio_nomad_job_convert`, reading HCL with options, as `nomad job run` takes them.
///
/// `read_options`: JSON (NULL with length 0 for the defaults: strict, no variables):
///
/// ```text
/// { "vars": {"image": "nginx:1.27", "count": 3},   // -var name=value; a string is the text
///                                                  // after '=', other values their JSON text
///   "var_files": ["prod.vars.hcl"],                // -var-file, HCL or JSON, in order
///   "env": [["NOMAD_VAR_region", "eu"]],           // NOMAD_VAR_<name> entries, or
///   "process_env": false,                          // true: this process's environment
///   "allow_unknown": false,                        // keep arguments newer than the schema
///   "allow_fs": false,                             // allow file(), fileexists(), ...
///   "base_dir": "jobs/" }                          // folder filesystem functions read from
/// ```
///
/// Precedence (lowest first): a variable's default, `NOMAD_VAR_` entries, var files, `vars`.
/// A variable without a value, a value for an undeclared variable or one of the wrong type is
/// `ISTIO_NOMAD_PARSE` with `"kind": "variable"` and the variable's path in the error JSON.
///
/// # Safety
/// `job` and `read_options` point to their lengths of readable bytes (or are NULL with length
/// 0); `out` is a writable pointer slot; `error` is NULL or a writable pointer slot.
#[no_mangle]
#[allow(clippy::too_many_arguments)] // a C signature: pointer + length pairs
pub unsafe extern "C" fn istio_nomad_job_convert_with(
    job: *const u8,
    job_len: usize,
    from_format: u32,
    to_format: u32,
    read_options: *const u8,
    read_options_len: usize,
    out: *mut *mut IstioNomadString,
    error: *mut *mut IstioNomadError,
) -> IstioNomadResult {
    // SAFETY: pointer contracts forwarded from the caller.
    unsafe {
        operation(error, || -> FfiResult {
            let out = out_slot(out, "out")?;
            let text = input_str(job, job_len, "job")?;
            let options = input_str(read_options, read_options_len, "read_options")?;
            let from = DocFormat::of_input(from_format, text, "from_format")?;
            let to = DocFormat::of_output(to_format, "to_format")?;
            let opts = parse_read_options(options)?;
            put_string(out, render_job(&parse_job_with(text, from, &opts)?, to)?);
            Ok(())
        })
    }
}

/// Checks a Nomad job with Nomad's own rules. `ISTIO_NOMAD_OK` when it is valid; otherwise
/// `ISTIO_NOMAD_VALIDATION` with every problem listed (path, message, value) in the error's
/// JSON `fields`, or `ISTIO_NOMAD_PARSE` when the text is not a job.
///
/// # Safety
/// `job` points to `job_len` readable bytes (or is NULL with `job_len` 0); `error` is NULL or a
/// writable pointer slot.
#[no_mangle]
pub unsafe extern "C" fn istio_nomad_job_validate(
    job: *const u8,
    job_len: usize,
    format: u32,
    error: *mut *mut IstioNomadError,
) -> IstioNomadResult {
    // SAFETY: pointer contracts forwarded from the caller.
    unsafe {
        operation(error, || -> FfiResult {
            let text = input_str(job, job_len, "job")?;
            let format = DocFormat::of_input(format, text, "format")?;
            parse_job(text, format)?.validate()?;
            Ok(())
        })
    }
}
