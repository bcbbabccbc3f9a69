//! Planning Bookinfo through the C ABI (`istio_nomad_plan`, called as an `extern "C"` function
//! with pointer + length in and an owned string out) against the same work done directly in
//! Rust. The difference is the cost of the boundary: UTF-8 check, panic guard, the copy into
//! an owned C string and its free.
//!
//! ```sh
//! cargo bench -p istio-nomad-ffi --bench plan
//! ```
#![allow(clippy::unwrap_used, missing_docs)]

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use istio_nomad_ffi::format::DocFormat;
use istio_nomad_ffi::plan::plan_document;
use istio_nomad_ffi::string::{istio_nomad_string_free, istio_nomad_string_len};
use istio_nomad_ffi::{IstioNomadResult, IstioNomadString, ISTIO_NOMAD_FORMAT_HCL};
use std::ptr;

fn bookinfo() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/bookinfo.mesh.hcl");
    std::fs::read_to_string(path).unwrap()
}

fn via_c_abi(spec: &[u8]) -> usize {
    let mut out: *mut IstioNomadString = ptr::null_mut();
    // SAFETY: valid slice and out slot; no error slot.
    let rc = unsafe {
        istio_nomad_ffi::plan::istio_nomad_plan(
            spec.as_ptr(),
            spec.len(),
            ISTIO_NOMAD_FORMAT_HCL,
            &mut out,
            ptr::null_mut(),
        )
    };
    assert_eq!(rc, IstioNomadResult::ISTIO_NOMAD_OK);
    let n = unsafe { istio_nomad_string_len(out) };
    // SAFETY: `out` was returned by the library.
    unsafe { istio_nomad_string_free(&mut out) };
    n
}

fn direct(spec: &str) -> usize {
    plan_document(spec, DocFormat::Hcl).unwrap().len()
}

fn bench(c: &mut Criterion) {
    let spec = bookinfo();
    assert_eq!(direct(&spec), via_c_abi(spec.as_bytes()));
    let mut g = c.benchmark_group("plan_bookinfo");
    g.bench_function("rust_direct", |b| b.iter(|| direct(black_box(&spec))));
    g.bench_function("c_abi", |b| {
        b.iter(|| via_c_abi(black_box(spec.as_bytes())))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
