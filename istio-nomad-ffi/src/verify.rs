//! The data-path check of a mesh spec as one JSON document.

use crate::error::{operation, FfiResult, IstioNomadError, IstioNomadResult};
use crate::format::DocFormat;
use crate::plan::parse_spec;
use crate::string::{input_str, out_slot, put_string, IstioNomadString};
use istio_nomad_core::plan::plan_unverified;
use istio_nomad_core::plan::verify::verify;
use istio_nomad_core::Result;

/// The verify report of a spec text, pretty-printed with a final newline: what
/// `istio_nomad_verify` returns.
pub fn verify_document(spec: &str, format: DocFormat) -> Result<String> {
    let plan = plan_unverified(&parse_spec(spec, format)?)?;
    let mut text = verify(&plan).to_json()?;
    text.push('\n');
    Ok(text)
}

/// Checks that the plan of a mesh spec carries traffic: what Nomad registers in Consul for
/// every meshed group, and what Istio's Pilot of the spec's release makes of it (see the
/// core's `verify` module). Pure: nothing is read or written.
///
/// `spec`/`spec_len`: the spec text (HCL or JSON); `format`: `ISTIO_NOMAD_FORMAT_AUTO`, `_HCL`
/// or `_JSON`.
///
/// On success (the check ran, whatever it found) `*out` receives a JSON document (free it
/// with `istio_nomad_string_free`):
///
/// ```text
/// { "istio_version": "1.0.0", "mode": "predicted", "source": "predicted from the plan",
///   "registrations": [{ "path", "job", "group", "name", "port_label", "network",
///                       "endpoint": { "address": {"source": "allocation"|"node"|...},
///                                     "port": {"source": "fixed", "value": 9080} },
///                       "app_port", "tags", "meta", "checks": [...] }],
///   "findings": [{ "severity": "error"|"warning", "kind": "no-inbound-listener"|...,
///                  "path": "job[reviews].group[reviews-v1]", "message": "..." }] }
/// ```
///
/// A spec that cannot be read or planned fails as `istio_nomad_plan` does; `istio_nomad_plan`
/// itself refuses (`ISTIO_NOMAD_VALIDATION`) a plan with error findings.
///
/// # Safety
/// `spec` points to `spec_len` readable bytes (or is NULL with `spec_len` 0); `out` is a
/// writable pointer slot; `error` is NULL or a writable pointer slot.
#[no_mangle]
pub unsafe extern "C" fn istio_nomad_verify(
    spec: *const u8,
    spec_len: usize,
    format: u32,
    out: *mut *mut IstioNomadString,
    error: *mut *mut IstioNomadError,
) -> IstioNomadResult {
    // SAFETY: pointer contracts forwarded from the caller.
    unsafe {
        operation(error, || -> FfiResult {
            let out = out_slot(out, "out")?;
            let text = input_str(spec, spec_len, "spec")?;
            let format = DocFormat::of_input(format, text, "format")?;
            put_string(out, verify_document(text, format)?);
            Ok(())
        })
    }
}
