//! Property test: on generated jobs, injection validates, is idempotent and is undone exactly.
#![allow(clippy::unwrap_used)]

use istio_nomad_core::nomad::{Job, NetworkResource, Port, Service, Task, TaskGroup};
use istio_nomad_core::plan::sidecar::{inject, remove_sidecar, NetworkMode, SidecarOptions};
use proptest::prelude::*;

/// App ports that never collide with the proxy's (15000-15090).
fn app_port() -> impl Strategy<Value = i64> {
    prop_oneof![1024i64..15000, 15100i64..20000]
}

fn port(label: String) -> impl Strategy<Value = Port> {
    (app_port(), any::<bool>(), prop::option::of(app_port())).prop_map(move |(p, fixed, to)| {
        if fixed {
            Port::fixed(label.clone(), p, to)
        } else {
            Port::dynamic(label.clone(), to.unwrap_or(p))
        }
    })
}

fn group(index: usize) -> impl Strategy<Value = TaskGroup> {
    let mode = prop::option::of(prop::sample::select(vec!["", "host", "bridge"]));
    (
        1usize..4,
        0usize..3,
        mode,
        any::<bool>(),
        prop::collection::btree_map("[a-z]{1,6}", "[ -~]{0,12}", 0..3),
        prop::option::of("v[0-9]"),
        any::<bool>(),
    )
        .prop_flat_map(
            move |(tasks, ports, mode, with_service, meta, version, exec)| {
                let labels: Vec<String> = (0..ports).map(|i| format!("p{i}")).collect();
                let ports = labels.into_iter().map(port).collect::<Vec<_>>();
                (
                    Just((tasks, mode, with_service, meta, version, exec)),
                    ports,
                )
            },
        )
        .prop_map(
            move |((tasks, mode, with_service, meta, version, exec), ports)| {
                let mut g = TaskGroup::new(format!("g{index}")).count(1);
                for t in 0..tasks {
                    let task = if exec && t > 0 {
                        Task::new(format!("t{t}"), "exec").config("command", "/bin/app")
                    } else {
                        Task::new(format!("t{t}"), "docker").config("image", format!("app:{t}"))
                    };
                    g.tasks.push(task.resources(100, 64));
                }
                let mut reserved = Vec::new();
                let mut dynamic = Vec::new();
                let mut seen = std::collections::HashSet::new();
                for p in ports {
                    if p.value.is_some() && !seen.insert(p.value) {
                        continue;
                    }
                    if p.value.is_some() {
                        reserved.push(p)
                    } else {
                        dynamic.push(p)
                    }
                }
                let first = reserved
                    .iter()
                    .chain(&dynamic)
                    .next()
                    .and_then(|p| p.label.clone());
                if mode.is_some() || !reserved.is_empty() || !dynamic.is_empty() {
                    g.networks.push(NetworkResource {
                        mode: mode.map(str::to_string),
                        reserved_ports: reserved,
                        dynamic_ports: dynamic,
                        ..Default::default()
                    });
                }
                if with_service {
                    let mut tags = vec!["t".to_string()];
                    if let Some(v) = &version {
                        tags.push(format!("version|{v}"));
                    }
                    g.services.push(Service {
                        name: Some(format!("svc-{index}")),
                        port_label: first,
                        tags,
                        ..Default::default()
                    });
                }
                for (k, v) in meta {
                    g.meta.insert(k, v);
                }
                g
            },
        )
}

fn job() -> impl Strategy<Value = Job> {
    (1usize..4)
        .prop_flat_map(|n| (0..n).map(group).collect::<Vec<_>>())
        .prop_map(|groups| {
            let mut j = Job::new("gen").datacenters(["dc1"]);
            j.task_groups = groups;
            j
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn injection_validates_is_idempotent_and_reversible(job in job(), host in any::<bool>(), v3 in any::<bool>()) {
        prop_assume!(job.validate().is_ok());
        let mode = if host { NetworkMode::Host } else { NetworkMode::Bridge };
        let version = if v3 { "1.0.3" } else { "1.0.0" };
        let opts = SidecarOptions::new("prop").mode(mode).istio_version(version).protocol("http").build().unwrap();
        match inject(&job, &opts) {
            Ok(injected) => {
                injected.validate().unwrap();
                prop_assert_eq!(&inject(&injected, &opts).unwrap(), &injected);
                prop_assert_eq!(&remove_sidecar(&injected).unwrap(), &job);
                let reread = Job::from_json(&injected.to_json().unwrap()).unwrap();
                prop_assert_eq!(&remove_sidecar(&reread).unwrap(), &job);
            }
            Err(e) => {
                // The refusals these jobs can meet: a bridge group asked to mesh node-wide, and
                // a service whose port cannot be registered as the app's (none at all; in host
                // mode, a static port that maps elsewhere).
                let paths: Vec<&str> = e.field_errors().iter().map(|f| f.path.as_str()).collect();
                prop_assert!(!paths.is_empty(), "{}", e);
                for p in paths {
                    let group = p.split("group[").nth(1).and_then(|r| r.split(']').next()).unwrap();
                    let g = job.find_group(group).unwrap();
                    if p.ends_with(".network[0].mode") {
                        prop_assert!(host, "{}", e);
                    } else if p.ends_with(".service[0].port") {
                        let s = &g.services[0];
                        let no_port = s.port_label.is_none();
                        let remapped = host && g.networks.first().is_some_and(|n| n.reserved_ports.iter().any(|r| {
                            r.label == s.port_label && r.to.is_some_and(|t| t > 0 && Some(t) != r.value)
                        }));
                        prop_assert!(no_port || remapped, "{}", e);
                    } else {
                        prop_assert!(false, "unexpected refusal: {}", e);
                    }
                }
            }
        }
    }
}
