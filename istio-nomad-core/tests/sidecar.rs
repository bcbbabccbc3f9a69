//! Sidecar injection: the user's jobs, golden files, bad input, idempotence and removal.
#![allow(clippy::unwrap_used)]

mod common;

use istio_nomad_core::iptables::{Family, InterceptConfig, IptablesPlan, PortSelection};
use istio_nomad_core::nomad::openapi::OpenApiSchema;
use istio_nomad_core::nomad::{Job, NetworkResource, Port, Service, Task, TaskGroup};
use istio_nomad_core::plan::plan;
use istio_nomad_core::plan::sidecar::{
    self, inject, meta, remove_sidecar, rules_files, NetworkMode, Selection, SidecarOptions,
};
use istio_nomad_core::spec::MeshSpec;
use istio_nomad_core::Error;
use serde_json::Value;

fn opts() -> SidecarOptions {
    SidecarOptions::new("bookinfo").build().unwrap()
}

/// A host-mode style web job: one docker task, a dynamic port mapped to 8080, one service.
fn web_job() -> Job {
    let mut g = TaskGroup::new("web")
        .task(
            Task::new("app", "docker")
                .config("image", "nginx:1.27")
                .config("ports", serde_json::json!(["http"])),
        )
        .service(Service {
            name: Some("web".into()),
            port_label: Some("http".into()),
            ..Default::default()
        });
    g.networks.push(NetworkResource {
        dynamic_ports: vec![Port::dynamic("http", 8080)],
        ..Default::default()
    });
    Job::new("web").datacenters(["dc1"]).group(g)
}

/// The single field error of a validation error, as (path, value).
fn field_errors(e: &Error) -> Vec<(String, String)> {
    e.field_errors()
        .iter()
        .map(|f| (f.path.clone(), f.value.clone().unwrap_or_default()))
        .collect()
}

/// Every leaf of a JSON value as (pointer, value).
fn leaves(v: &Value, at: String, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Object(m) => m
            .iter()
            .for_each(|(k, v)| leaves(v, format!("{at}/{k}"), out)),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, v)| leaves(v, format!("{at}/{i}"), out)),
        other => out.push((at, other.clone())),
    }
}

/// Checks that injection lost no field: every leaf of the original is in the injected job
/// with the same value, except those under what injection rewrites by design (the network
/// mode, a group service's unset or `auto` address mode, which becomes `alloc`, the Connect
/// block it was asked to replace, and, in host mode, a dynamic port a
/// service uses, which becomes a static port with the same label and `to`).
fn assert_no_field_lost(original: &Job, injected: &Job) {
    let before = common::normalize(&original.to_json_value().unwrap());
    let after = common::normalize(&injected.to_json_value().unwrap());
    let mut ls = Vec::new();
    leaves(&before, String::new(), &mut ls);
    for (ptr, v) in ls {
        let rewritten =
            ptr.contains("/Networks/") && ptr.ends_with("/Mode") || ptr.contains("/Connect/");
        let address_mode = ptr.contains("/Services/")
            && ptr.ends_with("/AddressMode")
            && (v == "" || v == "auto")
            && after.pointer(&ptr) == Some(&Value::from("alloc"));
        if rewritten || address_mode {
            continue;
        }
        if let Some(at) = ptr.find("/DynamicPorts/") {
            // The port (`.../DynamicPorts/i`) moved to the reserved ports: same label and to.
            let port_ptr: String = ptr[..at + "/DynamicPorts/".len()]
                .chars()
                .chain(
                    ptr[at + "/DynamicPorts/".len()..]
                        .chars()
                        .take_while(|c| *c != '/'),
                )
                .collect();
            let port = before.pointer(&port_ptr).unwrap();
            let reserved_ptr = format!("{}/ReservedPorts", &ptr[..at]);
            let moved = after
                .pointer(&reserved_ptr)
                .and_then(Value::as_array)
                .is_some_and(|r| {
                    r.iter()
                        .any(|p| p["Label"] == port["Label"] && p["To"] == port["To"])
                });
            if moved && after.pointer(&ptr) != Some(&v) {
                continue;
            }
        }
        assert_eq!(
            after.pointer(&ptr),
            Some(&v),
            "{}: field {ptr} lost or changed by injection",
            original.id()
        );
    }
}

/// Nomad's OpenAPI description, when the shared data is there.
fn openapi() -> Option<OpenApiSchema> {
    common::shared_data().map(|d| OpenApiSchema::load(d.join("nomad-openapi-v1.yaml")).unwrap())
}

fn assert_schema_valid(job: &Job) {
    if let Some(schema) = openapi() {
        let violations = schema.validate("Job", &job.to_json_value().unwrap());
        assert!(
            violations.is_empty(),
            "{} breaks the Job schema:\n{violations:#?}",
            job.id()
        );
    }
}

/// Through HCL (whose reader fills in Nomad's defaults, such as `Name` or a template's
/// `Splay`), removal still restores the job: the undo record survives HCL's quoting and
/// `${}` escaping, and so do the rules files and scripts of the injected tasks.
fn assert_hcl_round_trip(original: &Job, injected: &Job) {
    let via_hcl = |j: &Job| Job::from_hcl(&j.to_hcl().unwrap()).unwrap();
    let (orig, inj) = (via_hcl(original), via_hcl(injected));
    let removed = remove_sidecar(&inj).unwrap();
    if removed != orig {
        pretty_assertions::assert_eq!(
            removed.to_json_value().unwrap(),
            orig.to_json_value().unwrap(),
            "{}: removal after HCL",
            original.id()
        );
    }
    for (a, b) in injected.task_groups.iter().zip(&inj.task_groups) {
        for name in sidecar::INJECTED_TASKS {
            let (Some(x), Some(y)) = (a.find_task(name), b.find_task(name)) else {
                assert!(a.find_task(name).is_none() && b.find_task(name).is_none());
                continue;
            };
            assert_eq!(x.config, y.config, "{name}: config after HCL");
            let data = |t: &Task| -> Vec<Option<String>> {
                t.templates
                    .iter()
                    .map(|t| t.embedded_tmpl.clone())
                    .collect()
            };
            assert_eq!(data(x), data(y), "{name}: templates after HCL");
        }
    }
}

fn check_user_job(name: &str, job: &Job, opts: &SidecarOptions) -> Job {
    let injected = inject(job, opts).unwrap_or_else(|e| panic!("{name}: {e}"));
    injected.validate().unwrap();
    assert_schema_valid(&injected);
    assert_hcl_round_trip(job, &injected);
    assert_no_field_lost(job, &injected);
    assert_eq!(&remove_sidecar(&injected).unwrap(), job, "{name}: removal");
    assert_eq!(
        inject(&injected, opts).unwrap(),
        injected,
        "{name}: idempotence"
    );
    // The JSON form round-trips too (the undo record survives serialization).
    let reread = Job::from_json(&injected.to_json().unwrap()).unwrap();
    assert_eq!(
        &remove_sidecar(&reread).unwrap(),
        job,
        "{name}: removal after JSON"
    );
    injected
}

#[test]
fn nomad_api_example_job_injects_validates_and_round_trips() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let original = Job::from_file(data.join("nomad-api-example-job.json")).unwrap();
    // Its service is kept in Nomad's own catalog, which Pilot never reads: refused, by path.
    let err = inject(&original, &opts()).unwrap_err();
    assert_eq!(
        field_errors(&err),
        [(
            "job[example].group[cache].service[0].provider".to_string(),
            "nomad".to_string()
        )]
    );
    let mut job = original;
    job.task_groups[0].services[0].provider = Some("consul".into());
    let injected = check_user_job("nomad-api-example-job.json", &job, &opts());
    let g = &injected.task_groups[0];
    // The host-mode group (Mode "") became a bridge group; its port keeps its mapping.
    assert_eq!(g.networks[0].mode.as_deref(), Some("bridge"));
    assert_eq!(g.networks[0].dynamic_ports[0].label.as_deref(), Some("db"));
    assert_eq!(g.networks[0].dynamic_ports[0].to, Some(6379));
    // Registered at the allocation's address and the port redis listens on.
    assert_eq!(g.services[0].address_mode.as_deref(), Some("alloc"));
    let names: Vec<&str> = g.tasks.iter().map(Task::name).collect();
    assert_eq!(names, ["redis", "istio-init", "istio-proxy", "istio-ready"]);
    let proxy = g.find_task("istio-proxy").unwrap();
    assert_eq!(
        proxy.config["args"],
        serde_json::json!([
            "proxy",
            "--serviceregistry",
            "Consul",
            "--serviceCluster",
            "redis-cache",
            "--discoveryAddress",
            "bookinfo-pilot-grpc.service.consul:15010",
            "--proxyAdminPort",
            "15000",
            "--configPath",
            "/var/lib/istio"
        ])
    );
    assert_eq!(proxy.user.as_deref(), Some("1337"));
    assert_eq!(g.meta.get(meta::INJECTED).map(String::as_str), Some("true"));
}

#[test]
fn every_shared_hcl_job_injects_or_fails_with_nomads_own_errors() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let mut seen = 0;
    for entry in std::fs::read_dir(data.join("jobs")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let job = Job::from_file(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        seen += 1;
        if let Err(validation) = job.validate() {
            // jobspec-basic.hcl: a parser fixture Nomad itself rejects. Injection reports
            // exactly Nomad's errors.
            let err = inject(&job, &opts()).unwrap_err();
            assert_eq!(err.to_string(), validation.to_string(), "{name}");
            assert_eq!(err.family(), "validation");
            continue;
        }
        let has_connect = job.task_groups.iter().any(|g| {
            g.services.iter().any(|s| {
                s.connect
                    .as_ref()
                    .is_some_and(|c| c.get("SidecarService").is_some())
            })
        });
        if has_connect {
            // Refused, naming the Connect block, unless asked to replace it.
            let err = inject(&job, &opts()).unwrap_err();
            assert!(
                field_errors(&err)
                    .iter()
                    .all(|(p, _)| p.ends_with(".connect.sidecar_service")),
                "{name}: {err}"
            );
            let replace = opts().replace_connect(true);
            let injected = check_user_job(&name, &job, &replace);
            for g in &injected.task_groups {
                assert!(g.services.iter().all(|s| s.connect.is_none()));
            }
        } else {
            check_user_job(&name, &job, &opts());
        }
    }
    assert!(seen >= 3, "expected the shared job files, found {seen}");
}

#[test]
fn init_task_rules_equal_the_iptables_plan_byte_for_byte() {
    let job = inject(&web_job(), &opts()).unwrap();
    let init = job.task_groups[0].find_task("istio-init").unwrap();
    let tmpl = init
        .templates
        .iter()
        .find(|t| t.dest_path.as_deref() == Some("local/istio-iptables.rules"))
        .unwrap();
    // Istio 1.0 takes inbound traffic on the proxy port (no 15006 listener before 1.3).
    let expected = IptablesPlan::new(&opts().effective_intercept())
        .unwrap()
        .render_restore(Family::V4);
    assert!(expected.contains("ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15001"));
    assert_eq!(tmpl.embedded_tmpl.as_deref(), Some(expected.as_str()));
    assert!(!expected.contains("{{"));
    assert_eq!(tmpl.left_delim.as_deref(), Some(sidecar::tasks::LEFT_DELIM));
    let files = rules_files(&job, &opts()).unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(
        (files[0].job.as_str(), files[0].group.as_str()),
        ("web", "web")
    );
    assert_eq!(files[0].restore, expected);
    let cleanup = IptablesPlan::new(&InterceptConfig::default())
        .unwrap()
        .render_cleanup_restore(Family::V4);
    assert_eq!(files[0].cleanup, cleanup);
    assert_eq!(
        init.config["args"][0],
        "set -e\n\
         iptables-restore --noflush < /local/istio-iptables.cleanup.rules 2>/dev/null || true\n\
         iptables-restore --noflush < /local/istio-iptables.rules\n"
    );
    assert_eq!(
        init.config["cap_add"],
        serde_json::json!(["NET_ADMIN", "NET_RAW"])
    );
    let lc = init.lifecycle.as_ref().unwrap();
    assert_eq!(
        (lc.hook.as_deref(), lc.sidecar),
        (Some("prestart"), Some(false))
    );
}

#[test]
fn status_port_releases_exclude_the_proxys_own_ports_and_publish_them() {
    let o = SidecarOptions::new("m")
        .istio_version("1.0.3")
        .build()
        .unwrap();
    let job = inject(&web_job(), &o).unwrap();
    let g = &job.task_groups[0];
    let labels: Vec<(&str, Option<i64>)> = g.networks[0]
        .dynamic_ports
        .iter()
        .map(|p| (p.label.as_deref().unwrap(), p.to))
        .collect();
    assert_eq!(
        labels,
        [
            ("http", Some(8080)),
            ("istio-status", Some(15020)),
            ("istio-metrics", Some(15090))
        ]
    );
    let cfg = o
        .effective_intercept()
        .exclude_inbound_ports([15020, 15090]);
    let expected = IptablesPlan::new(&cfg).unwrap().render_restore(Family::V4);
    assert_eq!(rules_files(&job, &o).unwrap()[0].restore, expected);
    let ready = g.find_task("istio-ready").unwrap();
    assert!(ready.config["args"][0]
        .as_str()
        .unwrap()
        .contains("until wget -q -O /dev/null http://127.0.0.1:15020/healthz/ready; do"));
    assert_eq!(
        g.find_task("istio-proxy").unwrap().config["image"],
        "docker.io/istio/proxy_debug:1.0.3"
    );
}

#[test]
fn host_mode_is_guarded_and_reversible() {
    let o = SidecarOptions::new("m")
        .mode(NetworkMode::Host)
        .build()
        .unwrap();
    let job = web_job();
    let injected = check_user_job("web", &job, &o);
    let g = &injected.task_groups[0];
    assert_eq!(g.networks[0].mode, None);
    let reserved: Vec<(&str, Option<i64>)> = g.networks[0]
        .reserved_ports
        .iter()
        .map(|p| (p.label.as_deref().unwrap(), p.value))
        .collect();
    assert_eq!(
        reserved,
        [
            ("istio-admin", Some(15000)),
            // Istio 1.0 captures inbound on the proxy port: one reservation covers both.
            ("istio-outbound", Some(15001)),
            // The app's port: static and equal to the port the app listens on, which is what
            // Nomad registers in host networking (the node's address and the host port).
            ("http", Some(8080)),
        ]
    );
    assert!(g.networks[0].dynamic_ports.is_empty());
    assert_eq!(g.services[0].address_mode, None);
    assert_eq!(
        g.constraints.last().unwrap().operand.as_deref(),
        Some("distinct_hosts")
    );
    assert_eq!(
        g.meta.get(meta::HOST_MODE).map(String::as_str),
        Some("true")
    );
    for t in &g.tasks {
        assert_eq!(t.config["network_mode"], "host", "task {}", t.name());
    }
    let cleanup = g.find_task("istio-cleanup").unwrap();
    assert_eq!(
        cleanup.lifecycle.as_ref().unwrap().hook.as_deref(),
        Some("poststop")
    );
    // A bridge group cannot be meshed node-wide.
    let mut bridged = job.clone();
    bridged.task_groups[0].networks[0].mode = Some("bridge".into());
    let err = inject(&bridged, &o).unwrap_err();
    assert_eq!(
        field_errors(&err),
        [(
            "job[web].group[web].network[0].mode".to_string(),
            "bridge".to_string()
        )]
    );
}

#[test]
fn docker_port_map_becomes_to_and_comes_back() {
    let mut job = web_job();
    let g = &mut job.task_groups[0];
    g.networks[0].dynamic_ports[0].to = None;
    g.tasks[0]
        .config
        .insert("port_map".into(), serde_json::json!([{"http": 80}]));
    let injected = check_user_job("port_map", &job, &opts());
    assert_eq!(
        injected.task_groups[0].networks[0].dynamic_ports[0].to,
        Some(80)
    );
}

#[test]
fn version_and_protocol_come_from_options_or_group_meta() {
    let mut job = web_job();
    job.task_groups[0]
        .meta
        .insert(meta::VERSION.into(), "v2".into());
    let o = opts().version("v1").protocol("http");
    let injected = check_user_job("tags", &job, &o);
    let s = &injected.task_groups[0].services[0];
    assert_eq!(s.tags, ["version|v2"]);
    assert_eq!(s.meta.get("protocol").map(String::as_str), Some("http"));
}

#[test]
fn selection_follows_group_meta() {
    let mut job = web_job();
    let mut batch = TaskGroup::new("worker").task(Task::new("w", "docker").config("image", "x"));
    batch.meta.insert(meta::INJECT.into(), "true".into());
    job.task_groups.push(batch);
    job.task_groups[0]
        .meta
        .insert(meta::INJECT.into(), "false".into());
    let injected = inject(&job, &opts()).unwrap();
    assert!(!sidecar::is_injected(&injected.task_groups[0]));
    assert!(sidecar::is_injected(&injected.task_groups[1]));
    // Without services the proxy's cluster is <job>-<group>.
    let args = &injected.task_groups[1]
        .find_task("istio-proxy")
        .unwrap()
        .config["args"];
    assert_eq!(args[4], "web-worker");
    let opt_in = opts().selection(Selection::OptIn);
    let only = inject(&web_job(), &opt_in).unwrap();
    assert_eq!(only, web_job());
    job.task_groups[0]
        .meta
        .insert(meta::INJECT.into(), "yes".into());
    let err = inject(&job, &opts()).unwrap_err();
    assert_eq!(
        field_errors(&err),
        [(
            "job[web].group[web].meta[istio-nomad.inject]".to_string(),
            "yes".to_string()
        )]
    );
}

#[test]
fn bad_input_gives_typed_errors_naming_group_and_field() {
    type Edit = Box<dyn Fn(&mut Job)>;
    type Case = (&'static str, Edit, Vec<(&'static str, &'static str)>);
    let cases: Vec<Case> = vec![
        (
            "port collides with the proxy",
            Box::new(|j| j.task_groups[0].networks[0].dynamic_ports[0].to = Some(15001)),
            vec![("job[web].group[web].network[0].port[http].to", "15001")],
        ),
        (
            "static port collides with the status port",
            Box::new(|j| {
                j.task_groups[0].networks[0]
                    .reserved_ports
                    .push(Port::fixed("stat", 15020, None))
            }),
            vec![("job[web].group[web].network[0].port[stat].static", "15020")],
        ),
        (
            "numeric service port is the admin port",
            Box::new(|j| j.task_groups[0].services[0].port_label = Some("15000".into())),
            vec![("job[web].group[web].service[0].port", "15000")],
        ),
        (
            "group without network whose driver cannot be bridged",
            Box::new(|j| {
                let g = &mut j.task_groups[0];
                g.networks.clear();
                g.services[0].port_label = None;
                g.tasks[0] = Task::new("app", "raw_exec").config("command", "/bin/app");
            }),
            vec![
                ("job[web].group[web].task[app].driver", "raw_exec"),
                // A meshed service needs the port the app listens on.
                ("job[web].group[web].service[0].port", ""),
            ],
        ),
        (
            "docker network_mode",
            Box::new(|j| {
                j.task_groups[0].tasks[0]
                    .config
                    .insert("network_mode".into(), "host".into());
            }),
            vec![("job[web].group[web].task[app].config.network_mode", "host")],
        ),
        (
            "task name clashes",
            Box::new(|j| {
                let t = Task::new("istio-proxy", "docker")
                    .config("image", "envoy")
                    .lifecycle("prestart", true);
                j.task_groups[0].tasks.push(t);
            }),
            vec![("job[web].group[web].task[istio-proxy].name", "istio-proxy")],
        ),
        (
            "group name with shell metacharacters",
            Box::new(|j| j.task_groups[0].name = Some("web;rm".into())),
            vec![("job[web].group[web;rm].name", "web;rm")],
        ),
        (
            "service name with shell metacharacters",
            Box::new(|j| j.task_groups[0].services[0].name = Some("web$(id)".into())),
            vec![("job[web].group[web].service[0].name", "web$(id)")],
        ),
        (
            "two networks",
            Box::new(|j| {
                let n = j.task_groups[0].networks[0].clone();
                j.task_groups[0].networks.push(NetworkResource {
                    dynamic_ports: vec![Port::dynamic("other", 9000)],
                    ..n
                });
            }),
            vec![("job[web].group[web].network", "2")],
        ),
        (
            "network mode none",
            Box::new(|j| j.task_groups[0].networks[0].mode = Some("none".into())),
            vec![("job[web].group[web].network[0].mode", "none")],
        ),
        (
            "label taken by the proxy",
            Box::new(|j| {
                let g = &mut j.task_groups[0];
                g.networks[0].dynamic_ports[0].label = Some("istio-status".into());
                g.services[0].port_label = Some("istio-status".into());
                g.tasks[0]
                    .config
                    .insert("ports".into(), serde_json::json!(["istio-status"]));
            }),
            vec![(
                "job[web].group[web].network[0].port[istio-status].label",
                "istio-status",
            )],
        ),
    ];
    for (what, edit, expected) in cases {
        let mut job = web_job();
        edit(&mut job);
        let err = inject(&job, &opts()).unwrap_err();
        assert_eq!(err.family(), "validation", "{what}");
        let expected: Vec<(String, String)> = expected
            .into_iter()
            .map(|(p, v)| (p.to_string(), v.to_string()))
            .collect();
        assert_eq!(field_errors(&err), expected, "{what}: {err}");
    }
}

#[test]
fn corrupt_undo_record_is_an_error_not_a_guess() {
    let mut job = inject(&web_job(), &opts()).unwrap();
    job.task_groups[0]
        .meta
        .insert(meta::UNDO.into(), "{not json".into());
    let err = remove_sidecar(&job).unwrap_err();
    assert_eq!(
        field_errors(&err)[0].0,
        "job[web].group[web].meta[istio-nomad.undo]"
    );
    job.task_groups[0].meta.shift_remove(meta::UNDO);
    assert!(inject(&job, &opts()).is_err());
}

#[test]
fn bad_options_are_refused_with_their_field() {
    let err = SidecarOptions::new("m")
        .zipkin_address("zipkin;reboot:9411")
        .proxy_image("img with space")
        .build()
        .unwrap_err();
    let paths: Vec<String> = field_errors(&err).into_iter().map(|(p, _)| p).collect();
    assert_eq!(paths, ["sidecar.proxy_image", "sidecar.zipkin_address"]);
    let tproxy = InterceptConfig::new().mode(istio_nomad_core::iptables::InterceptionMode::Tproxy);
    let err = SidecarOptions::new("m")
        .intercept(tproxy)
        .build()
        .unwrap_err();
    assert_eq!(field_errors(&err)[0].0, "sidecar.intercept.bypass_root");
}

fn bookinfo() -> MeshSpec {
    MeshSpec::from_file(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/bookinfo.mesh.hcl"
    ))
    .unwrap()
}

#[test]
fn bookinfo_plan_golden_injected_jobs_and_rules() {
    let spec = bookinfo();
    let p = plan(&spec).unwrap();
    let opts = spec.sidecar.options(&spec);
    let mut groups = 0;
    for pj in p
        .jobs
        .iter()
        .filter(|j| j.role == istio_nomad_core::plan::Role::App)
    {
        let id = pj.job.id();
        common::golden(
            &format!("sidecar/bookinfo/{id}.json"),
            &(pj.job.to_json().unwrap() + "\n"),
        );
        common::golden(
            &format!("sidecar/bookinfo/{id}.nomad.hcl"),
            &pj.job.to_hcl().unwrap(),
        );
        assert_schema_valid(&pj.job);
        for g in &pj.job.task_groups {
            assert!(sidecar::is_injected(g), "{id}/{}", g.name());
            groups += 1;
        }
        let original = istio_nomad_core::plan::app_job(
            &spec,
            spec.services.iter().find(|s| s.name == id).unwrap(),
        );
        assert_eq!(remove_sidecar(&pj.job).unwrap(), original, "{id}");
        assert_hcl_round_trip(&original, &pj.job);
        assert_eq!(
            rules_files(&pj.job, &opts).unwrap().len(),
            pj.job.task_groups.len()
        );
    }
    assert_eq!(groups, 6);
    let rules: Vec<String> = p
        .iptables
        .iter()
        .map(|r| format!("{}.{}", r.job, r.group))
        .collect();
    assert_eq!(
        rules,
        [
            "productpage.productpage",
            "details.details",
            "reviews.reviews-v1",
            "reviews.reviews-v2",
            "reviews.reviews-v3",
            "ratings.ratings"
        ]
    );
    common::golden("sidecar/bookinfo/iptables.rules", &p.iptables[0].restore);
    common::golden(
        "sidecar/bookinfo/iptables.cleanup.rules",
        &p.iptables[0].cleanup,
    );
    assert!(p.vm_bundles.is_empty());
}

const VM_SPEC: &str = r#"
mesh "shop" {
  sidecar {
    zipkin_address = "zipkin.service.consul:9411"
    intercept {
      outbound_cidrs = ["10.0.0.0/8"]
    }
  }
  service "legacy-db" {
    image      = "mysql:5.7"
    vm         = true
    vm_address = "10.0.0.5"
    port "mysql" {
      port     = 3306
      protocol = "mysql"
    }
  }
}
"#;

#[test]
fn vm_bundle_golden_files_read_back_by_the_iptables_module() {
    let spec = MeshSpec::from_hcl(VM_SPEC).unwrap();
    let p = plan(&spec).unwrap();
    assert!(p.jobs.iter().all(|j| j.job.id() != "legacy-db"));
    assert_eq!(p.vm_bundles.len(), 1);
    let b = &p.vm_bundles[0];
    assert_eq!(b.service, "legacy-db");
    let names: Vec<&str> = b.files.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "cluster.env",
            "consul-service.json",
            "istio-iptables.cleanup.rules",
            "istio-iptables.rules",
            "istio.service",
            "sidecar.env"
        ]
    );
    for (name, text) in &b.files {
        common::golden(&format!("sidecar/vm/legacy-db/{name}"), text);
    }
    // The env files describe the same interception as the rules file.
    let mut vars = istio_nomad_core::iptables::parse_env_text(&b.files["sidecar.env"]).unwrap();
    vars.extend(istio_nomad_core::iptables::parse_env_text(&b.files["cluster.env"]).unwrap());
    let from_env = InterceptConfig::from_env_map(vars)
        .unwrap()
        .bypass_root(true);
    let opts = spec.sidecar.options(&spec);
    let vm_cfg = istio_nomad_core::plan::vm::vm_config(&opts, &spec.services[0]);
    assert_eq!(from_env, vm_cfg);
    assert_eq!(vm_cfg.inbound_ports, PortSelection::List(vec![3306]));
    assert_eq!(
        b.files["istio-iptables.rules"],
        IptablesPlan::new(&vm_cfg)
            .unwrap()
            .render_restore(Family::V4)
    );
}

#[test]
fn sidecar_block_in_spec_is_strict() {
    let err =
        MeshSpec::from_hcl("mesh \"m\" {\n  sidecar {\n    moed = \"host\"\n  }\n}\n").unwrap_err();
    assert_eq!(err.family(), "parse");
    assert!(err.to_string().contains("moed"), "{err}");
    let spec = MeshSpec::from_hcl(
        "mesh \"m\" {\n  sidecar {\n    mode = \"host\"\n    readiness_gate = false\n  }\n}\n",
    )
    .unwrap();
    assert_eq!(spec.sidecar.mode, NetworkMode::Host);
    assert!(!spec.sidecar.readiness_gate);
}
