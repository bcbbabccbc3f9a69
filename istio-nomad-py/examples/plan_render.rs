//! The Rust side of the Python binding's parity test and benchmark.
//!
//! `dump` prints, as one JSON document, everything the Python module exposes for a mesh spec:
//! the spec as JSON, the spec hash, the dependency stages, every job with its role,
//! dependencies and renderings (API JSON, register JSON, HCL), and every file of the plan. A
//! rendering that fails is recorded as `{"error": {"family": ..., "message": ...}}`. The
//! Python tests build the same document with `istio_nomad` and compare.
//!
//! `bench` times `plan(spec)` followed by rendering every file of the plan (what
//! `Plan.write` writes, without the disk), the same loop `examples/python/bench_plan.py` runs
//! from Python, and prints the mean per iteration in microseconds of the best of five rounds.
//!
//! ```text
//! cargo run -p istio-nomad-py --example plan_render -- dump examples/bookinfo.mesh.hcl
//! cargo run --release -p istio-nomad-py --example plan_render -- bench examples/bookinfo.mesh.hcl 2000
//! ```

use istio_nomad_core::plan::plan;
use istio_nomad_core::spec::MeshSpec;
use istio_nomad_core::Error;
use serde_json::{json, Value};
use std::process::ExitCode;
use std::time::Instant;

fn outcome(r: Result<String, Error>) -> Value {
    match r {
        Ok(text) => json!({ "ok": text }),
        Err(e) => json!({ "error": { "family": e.family(), "message": e.to_string() } }),
    }
}

fn dump(spec: &MeshSpec) -> Result<Value, Error> {
    let p = plan(spec)?;
    let jobs: Vec<Value> = p
        .jobs
        .iter()
        .map(|pj| {
            json!({
                "id": pj.job.id(),
                "role": serde_json::to_value(pj.role).unwrap_or(Value::Null),
                "depends_on": pj.depends_on,
                "dict": pj.job.to_json_value().unwrap_or(Value::Null),
                "json": outcome(pj.job.to_json()),
                "register_json": outcome(pj.job.to_register_json()),
                "hcl": outcome(pj.job.to_hcl()),
            })
        })
        .collect();
    let files = match p.files() {
        Ok(files) => json!({ "ok": files }),
        Err(e) => json!({ "error": { "family": e.family(), "message": e.to_string() } }),
    };
    Ok(json!({
        "spec": spec.to_value(),
        "spec_hash": p.spec_hash,
        "order": p.order()?,
        "jobs": jobs,
        "iptables": p.iptables,
        "vm_bundles": p.vm_bundles,
        "files": files,
    }))
}

/// One iteration of the benchmark: plan, then render every file (or, while HCL rendering is
/// unavailable, every job's register JSON). Returns the bytes rendered.
fn plan_and_render(spec: &MeshSpec, with_files: bool) -> Result<usize, Error> {
    let p = plan(spec)?;
    if with_files {
        Ok(p.files()?.iter().map(|(_, c)| c.len()).sum())
    } else {
        let mut n = 0;
        for pj in &p.jobs {
            n += pj.job.to_register_json()?.len();
        }
        Ok(n)
    }
}

fn bench(spec: &MeshSpec, iterations: u32) -> Result<Value, Error> {
    let with_files = plan(spec)?.files().is_ok();
    // Warm-up, as the Python side does.
    for _ in 0..iterations / 10 + 1 {
        plan_and_render(spec, with_files)?;
    }
    // The best of ROUNDS rounds: the figure least disturbed by other work on the machine.
    let per_round = (iterations / ROUNDS).max(1);
    let mut best = f64::INFINITY;
    let mut bytes = 0;
    for _ in 0..ROUNDS {
        let start = Instant::now();
        for _ in 0..per_round {
            bytes = plan_and_render(spec, with_files)?;
        }
        best = best.min(start.elapsed().as_secs_f64() * 1e6 / f64::from(per_round));
    }
    Ok(json!({
        "work": if with_files { "plan + files()" } else { "plan + to_register_json()" },
        "iterations": per_round * ROUNDS,
        "mean_us": best,
        "bytes": bytes,
    }))
}

/// Rounds of the benchmark (the Python side uses the same number).
const ROUNDS: u32 = 5;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mode, path) = match (args.first(), args.get(1)) {
        (Some(m), Some(p)) => (m.as_str(), p.as_str()),
        _ => {
            eprintln!("usage: plan_render dump|bench <spec> [iterations]");
            return ExitCode::FAILURE;
        }
    };
    let result = MeshSpec::from_file(path).and_then(|spec| match mode {
        "dump" => dump(&spec),
        "bench" => {
            let n = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(1000);
            bench(&spec, n)
        }
        other => Err(Error::field("mode", "expected dump or bench", other)),
    });
    match result.map(|v| serde_json::to_string_pretty(&v)) {
        Ok(Ok(text)) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Ok(Err(e)) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
