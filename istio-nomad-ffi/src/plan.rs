//! Planning a mesh spec into one JSON document.

use crate::error::{operation, FfiResult, IstioNomadError, IstioNomadResult};
use crate::format::DocFormat;
use crate::string::{input_str, out_slot, put_string, IstioNomadString};
use istio_nomad_core::plan::{plan, Plan};
use istio_nomad_core::spec::MeshSpec;
use istio_nomad_core::Result;
use serde_json::{json, Value};

/// Parses a mesh spec in `format`.
pub fn parse_spec(text: &str, format: DocFormat) -> Result<MeshSpec> {
    match format {
        DocFormat::Hcl => MeshSpec::from_hcl(text),
        DocFormat::Json => MeshSpec::from_json(text),
    }
}

/// The plan as one JSON value:
///
/// ```text
/// { "mesh": "bookinfo", "spec_hash": "<sha-256 hex>",
///   "order": [["<job id>", ...], ...],                       // dependency stages
///   "jobs": [{ "id", "role", "depends_on": [...],
///              "hcl": "<jobspec text>", "json": { <API job object> } }, ...],
///   "iptables": [{ "job", "group", "restore", "cleanup" }, ...],
///   "vm_bundles": [{ "service", "files": { "<name>": "<contents>" } }, ...] }
/// ```
pub fn plan_value(plan: &Plan) -> Result<Value> {
    let mut jobs = Vec::with_capacity(plan.jobs.len());
    for pj in &plan.jobs {
        jobs.push(json!({
            "id": pj.job.id(),
            "role": pj.role,
            "depends_on": pj.depends_on,
            "hcl": pj.job.to_hcl()?,
            "json": pj.job.to_json_value()?,
        }));
    }
    Ok(json!({
        "mesh": plan.spec.name,
        "spec_hash": plan.spec_hash,
        "order": plan.order()?,
        "jobs": jobs,
        "iptables": plan.iptables,
        "vm_bundles": plan.vm_bundles,
    }))
}

/// The plan document of a spec text, pretty-printed with a final newline: what
/// `istio_nomad_plan` returns.
pub fn plan_document(spec: &str, format: DocFormat) -> Result<String> {
    let plan = plan(&parse_spec(spec, format)?)?;
    let mut text = serde_json::to_string_pretty(&plan_value(&plan)?)?;
    text.push('\n');
    Ok(text)
}

/// Plans a mesh spec.
///
/// `spec`/`spec_len`: the spec text (HCL `mesh "name" { ... }` or JSON `{"mesh": {...}}`), not
/// necessarily NUL-terminated; `format`: `ISTIO_NOMAD_FORMAT_AUTO`, `_HCL` or `_JSON`.
///
/// On success `*out` receives a JSON document (free it with `istio_nomad_string_free`):
///
/// ```text
/// { "mesh": "bookinfo", "spec_hash": "<sha-256 hex of the canonical spec>",
///   "order": [["<job id>", ...], ...],             // stages: a stage depends only on earlier ones
///   "jobs": [{ "id", "role", "depends_on": [...],
///              "hcl": "<nomad job run-ready jobspec>", "json": { <Nomad API job object> } }],
///   "iptables": [{ "job", "group", "restore", "cleanup" }],  // iptables-restore inputs
///   "vm_bundles": [{ "service", "files": { "<file name>": "<contents>" } }] }
/// ```
///
/// On failure `*out` is NULL, the code says which family failed, and the detail is in `*error`
/// (when `error` is not NULL; free it with `istio_nomad_error_free`) and in the thread's last
/// error. A plan that would not carry traffic (an error finding of `istio_nomad_verify`) fails
/// with `ISTIO_NOMAD_VALIDATION`, one field per finding.
///
/// # Safety
/// `spec` points to `spec_len` readable bytes (or is NULL with `spec_len` 0); `out` is a
/// writable pointer slot; `error` is NULL or a writable pointer slot.
#[no_mangle]
pub unsafe extern "C" fn istio_nomad_plan(
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
            put_string(out, plan_document(text, format)?);
            Ok(())
        })
    }
}
