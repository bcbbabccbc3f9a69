//! Any bytes as an HCL jobspec: the reader must return a job or a typed error, never panic,
//! hang or use unbounded memory (run with `-timeout` and `-rss_limit_mb`). Read strictly and
//! with unknown fields allowed; a job that reads is also validated and rendered.
#![no_main]

use istio_nomad_core::nomad::hcl::{jobspec_bytes_to_api, jobspec_to_api_with, HclOptions};
use istio_nomad_core::nomad::Job;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let strict = jobspec_bytes_to_api(data);
    let Ok(text) = std::str::from_utf8(data) else {
        assert!(strict.is_err());
        return;
    };
    let lenient = jobspec_to_api_with(text, &HclOptions::new().allow_unknown(true));
    // Allowing unknown fields never turns a valid job into an error.
    if strict.is_ok() {
        assert!(lenient.is_ok(), "strict read but lenient refused: {lenient:?}");
    }
    if let Ok(job) = Job::from_hcl(text) {
        let _ = job.validate();
        let _ = job.to_json();
    }
});
