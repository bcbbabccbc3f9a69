//! Sidecar injection speed: one job with 1,000 groups (each a docker app with a port and a
//! service, in host networking so every group is converted), injected and removed.
//!
//! ```text
//! cargo bench -p istio-nomad-core --bench inject
//! ```
#![allow(clippy::unwrap_used, missing_docs)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use istio_nomad_core::nomad::{Job, NetworkResource, Port, Service, Task, TaskGroup};
use istio_nomad_core::plan::sidecar::{inject, remove_sidecar, SidecarOptions};

fn job(groups: usize) -> Job {
    let mut j = Job::new("big").datacenters(["dc1"]);
    for i in 0..groups {
        let mut g = TaskGroup::new(format!("g{i}"))
            .task(
                Task::new("app", "docker")
                    .config("image", "nginx:1.27")
                    .config("ports", serde_json::json!(["http"]))
                    .resources(100, 64),
            )
            .service(Service {
                name: Some(format!("svc-{i}")),
                port_label: Some("http".into()),
                tags: vec!["version|v1".into()],
                ..Default::default()
            });
        g.networks.push(NetworkResource {
            dynamic_ports: vec![Port::dynamic("http", 8080)],
            ..Default::default()
        });
        j.task_groups.push(g);
    }
    j
}

fn bench(c: &mut Criterion) {
    let opts = SidecarOptions::new("bench")
        .istio_version("1.0.3")
        .build()
        .unwrap();
    let mut g = c.benchmark_group("sidecar");
    for n in [10usize, 1000] {
        let j = job(n);
        let injected = inject(&j, &opts).unwrap();
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("inject", n), &j, |b, j| {
            b.iter(|| inject(j, &opts).unwrap())
        });
        g.bench_with_input(BenchmarkId::new("reinject", n), &injected, |b, j| {
            b.iter(|| inject(j, &opts).unwrap())
        });
        g.bench_with_input(BenchmarkId::new("remove", n), &injected, |b, j| {
            b.iter(|| remove_sidecar(j).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
