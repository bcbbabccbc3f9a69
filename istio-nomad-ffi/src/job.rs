//! Nomad jobs: HCL <-> JSON conversion and validation.

use crate::error::{operation, FfiResult, IstioNomadError, IstioNomadResult};
use crate::format::DocFormat;
use crate::string::{input_str, out_slot, put_string, IstioNomadString};
use istio_nomad_core::nomad::Job;
use istio_nomad_core::Result;

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
