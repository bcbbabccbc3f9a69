//! Any bytes as a mesh spec, HCL or JSON: a validated spec or a typed error, never a panic;
//! a spec that reads is planned.
#![no_main]

use istio_nomad_core::spec::MeshSpec;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let spec = if text.trim_start().starts_with('{') {
        MeshSpec::from_json(text)
    } else {
        MeshSpec::from_hcl(text)
    };
    if let Ok(spec) = spec {
        let _ = istio_nomad_core::plan::plan(&spec);
    }
});
