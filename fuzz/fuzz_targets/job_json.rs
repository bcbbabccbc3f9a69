//! Any bytes as Nomad API job JSON: a typed job or a typed error, never a panic; a job that
//! reads renders to JSON that reads back as the same job.
#![no_main]

use istio_nomad_core::nomad::Job;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(job) = Job::from_json(text) else {
        return;
    };
    let _ = job.validate();
    let json = job.to_json().expect("a job that read renders as JSON");
    let back = Job::from_json(&json).expect("rendered JSON reads back");
    assert_eq!(back, job);
    let _ = job.to_hcl();
});
