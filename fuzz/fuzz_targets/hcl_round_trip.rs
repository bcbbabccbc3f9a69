//! Every HCL jobspec that reads (strictly, as `nomad job run` reads it) renders back to HCL
//! that reads as the same job (API JSON). With `allow_unknown`, an unknown name is kept under
//! a generic PascalCase key that not every spelling survives (`___` and `_` both give `""`),
//! so that mode is left out here.
#![no_main]

use istio_nomad_core::nomad::hcl::{api_to_jobspec, jobspec_to_api_with, HclOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let opts = HclOptions::new();
    let Ok(api) = jobspec_to_api_with(text, &opts) else {
        return;
    };
    let hcl = match api_to_jobspec(&api) {
        Ok(h) => h,
        Err(e) => panic!("a job that reads does not render: {e}\n{api:#}"),
    };
    match jobspec_to_api_with(&hcl, &opts) {
        Ok(back) => assert_eq!(back, api, "round trip changed the job:\n{hcl}"),
        Err(e) => panic!("rendered HCL does not read back: {e}\n{hcl}"),
    }
});
