//! Sidecar injection into (and removal from) any Nomad job.

use crate::error::{operation, FfiResult, IstioNomadError, IstioNomadResult};
use crate::format::DocFormat;
use crate::job::{parse_job, render_job};
use crate::string::{input_str, out_slot, put_string, IstioNomadString};
use istio_nomad_core::error::json::from_json_text;
use istio_nomad_core::plan::sidecar::{inject, remove_sidecar, SidecarOptions};
use istio_nomad_core::spec::sidecar::InjectSettings;
use istio_nomad_core::Result;

/// Reads injection options ([`istio_nomad_core::spec::sidecar::InjectSettings`] JSON).
pub fn parse_options(text: &str) -> Result<SidecarOptions> {
    from_json_text::<InjectSettings>(text, "options")?.to_options()
}

/// Injects the Istio sidecar (proxy, iptables init task, readiness gate) into every selected
/// group of a Nomad job. Idempotent: injecting an injected job gives the same job.
///
/// `job`: HCL2 jobspec or API JSON (`job_format`: `ISTIO_NOMAD_FORMAT_AUTO`, `_HCL`, `_JSON`).
/// `options`: JSON, only `mesh` required:
///
/// ```text
/// { "mesh": "bookinfo", "hub": "docker.io/istio", "istio_version": "1.0.0",
///   "selection": "with_services" | "opt_in", "version": "v1", "protocol": "http",
///   "extra_bridge_drivers": [],
///   "sidecar": { "mode": "bridge" | "host", "cni_network": "<name>", "readiness_gate": true,
///                "zipkin_address": "...",
///                "cpu": 100, "memory": 128, "intercept": { <InterceptConfig> }, ... } }
/// ```
///
/// (`sidecar` is the mesh spec's `sidecar { ... }` block in JSON.) `out_format`: `_HCL` or
/// `_JSON` (the `POST /v1/jobs` body). Every problem (a group without a network, a port
/// clash...) comes back at once as `ISTIO_NOMAD_VALIDATION` with its group and field.
///
/// # Safety
/// `job` and `options` point to their lengths of readable bytes (or are NULL with length 0);
/// `out` is a writable pointer slot; `error` is NULL or a writable pointer slot.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn istio_nomad_sidecar_inject(
    job: *const u8,
    job_len: usize,
    job_format: u32,
    options: *const u8,
    options_len: usize,
    out_format: u32,
    out: *mut *mut IstioNomadString,
    error: *mut *mut IstioNomadError,
) -> IstioNomadResult {
    // SAFETY: pointer contracts forwarded from the caller.
    unsafe {
        operation(error, || -> FfiResult {
            let out = out_slot(out, "out")?;
            let text = input_str(job, job_len, "job")?;
            let opts = input_str(options, options_len, "options")?;
            let from = DocFormat::of_input(job_format, text, "job_format")?;
            let to = DocFormat::of_output(out_format, "out_format")?;
            let opts = parse_options(opts)?;
            put_string(
                out,
                render_job(&inject(&parse_job(text, from)?, &opts)?, to)?,
            );
            Ok(())
        })
    }
}

/// Removes an injected sidecar, restoring every injected group exactly as it was before
/// injection. Groups that were not injected are left alone.
///
/// # Safety
/// `job` points to `job_len` readable bytes (or is NULL with `job_len` 0); `out` is a writable
/// pointer slot; `error` is NULL or a writable pointer slot.
#[no_mangle]
pub unsafe extern "C" fn istio_nomad_sidecar_remove(
    job: *const u8,
    job_len: usize,
    job_format: u32,
    out_format: u32,
    out: *mut *mut IstioNomadString,
    error: *mut *mut IstioNomadError,
) -> IstioNomadResult {
    // SAFETY: pointer contracts forwarded from the caller.
    unsafe {
        operation(error, || -> FfiResult {
            let out = out_slot(out, "out")?;
            let text = input_str(job, job_len, "job")?;
            let from = DocFormat::of_input(job_format, text, "job_format")?;
            let to = DocFormat::of_output(out_format, "out_format")?;
            put_string(
                out,
                render_job(&remove_sidecar(&parse_job(text, from)?)?, to)?,
            );
            Ok(())
        })
    }
}
