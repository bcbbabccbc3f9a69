//! Parse + validate + render (HCL and JSON) a job with 1,000 and 10,000 groups.
//!
//! `cargo bench -p istio-nomad-core --bench job_model`
#![allow(missing_docs, clippy::unwrap_used)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use istio_nomad_core::nomad::Job;

/// A jobspec with `n` groups, each with a bridge network, a service with a check and one task.
fn jobspec(n: usize) -> String {
    let mut s = String::from("job \"big\" {\n  datacenters = [\"dc1\"]\n");
    for i in 0..n {
        s.push_str(&format!(
            r#"  group "g{i}" {{
    count = 2
    network {{
      mode = "bridge"
      port "http" {{
        to = 9080
      }}
    }}
    service {{
      name = "svc-{i}"
      port = "http"
      tags = ["version|v1"]
      check {{
        type     = "http"
        path     = "/health"
        interval = "10s"
        timeout  = "2s"
      }}
    }}
    task "app" {{
      driver = "docker"
      config {{
        image = "docker.io/library/nginx:1.27"
        ports = ["http"]
      }}
      env {{
        PORT = "${{NOMAD_PORT_http}}"
      }}
      resources {{
        cpu    = 100
        memory = 128
      }}
    }}
  }}
"#
        ));
    }
    s.push_str("}\n");
    s
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("job_model");
    g.sample_size(10);
    for n in [1_000usize, 10_000] {
        let hcl = jobspec(n);
        let json = Job::from_hcl(&hcl).unwrap().to_json().unwrap();
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(
            BenchmarkId::new("hcl_parse_validate_render_both", n),
            &hcl,
            |b, hcl| {
                b.iter(|| {
                    let job = Job::from_hcl(hcl).unwrap();
                    job.validate().unwrap();
                    (
                        job.to_hcl().unwrap().len(),
                        job.to_register_json().unwrap().len(),
                    )
                })
            },
        );
        g.bench_with_input(
            BenchmarkId::new("json_parse_validate_render_both", n),
            &json,
            |b, json| {
                b.iter(|| {
                    let job = Job::from_json(json).unwrap();
                    job.validate().unwrap();
                    (
                        job.to_hcl().unwrap().len(),
                        job.to_register_json().unwrap().len(),
                    )
                })
            },
        );
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
