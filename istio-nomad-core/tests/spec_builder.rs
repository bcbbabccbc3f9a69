//! Building a mesh spec in code gives exactly the spec the same mesh's document gives, and the
//! same errors; role names have one spelling.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use istio_nomad_core::plan::{plan, Role};
use istio_nomad_core::spec::control_plane::{job_id, ControlPlaneSpec, Profile};
use istio_nomad_core::spec::{MeshSpec, PortSpec, ServiceSpec, VersionSpec};

fn manifest() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn bookinfo_in_code() -> MeshSpec {
    let http = || PortSpec::new("http", 9080);
    let image = |name: &str| format!("docker.io/istio/examples-bookinfo-{name}:1.8.0");
    MeshSpec::builder("bookinfo")
        .region("global")
        .datacenters(["dc1"])
        .namespace("default")
        .istio_version("1.0.0")
        .hub("docker.io/istio")
        .control_plane(ControlPlaneSpec {
            profile: Profile::Ha,
            ..ControlPlaneSpec::default()
        })
        .service(
            ServiceSpec::new("productpage")
                .image(image("productpage-v1"))
                .version_label("v1")
                .count(2)
                .protocol("http")
                .port(http()),
        )
        .service(
            ServiceSpec::new("details")
                .image(image("details-v1"))
                .version_label("v1")
                .protocol("http")
                .port(http()),
        )
        .service(
            ServiceSpec::new("reviews")
                .protocol("http")
                .port(http())
                .version(VersionSpec::new("v1", image("reviews-v1")))
                .version(VersionSpec::new("v2", image("reviews-v2")))
                .version(VersionSpec::new("v3", image("reviews-v3"))),
        )
        .service(
            ServiceSpec::new("ratings")
                .image(image("ratings-v1"))
                .version_label("v1")
                .protocol("http")
                .port(http()),
        )
        .build()
        .unwrap()
}

#[test]
fn the_sample_built_in_code_equals_the_sample_document() {
    let from_file = MeshSpec::from_file(manifest().join("../examples/bookinfo.mesh.hcl")).unwrap();
    let in_code = bookinfo_in_code();
    assert_eq!(in_code, from_file);
    // The same spec plans the same jobs.
    let a = plan(&in_code).unwrap();
    let b = plan(&from_file).unwrap();
    assert_eq!(a.jobs, b.jobs);
}

#[test]
fn builder_defaults_are_the_document_defaults() {
    let in_code = MeshSpec::builder("m")
        .service(
            ServiceSpec::new("web")
                .image("nginx:1.27")
                .port(PortSpec::new("http", 80)),
        )
        .build()
        .unwrap();
    let text = r#"mesh "m" {
  service "web" {
    image = "nginx:1.27"
    port "http" { port = 80 }
  }
}"#;
    assert_eq!(in_code, MeshSpec::from_hcl(text).unwrap());
    assert_eq!(in_code.region, "global");
    assert_eq!(in_code.datacenters, ["dc1"]);
    assert_eq!(in_code.namespace, "default");
    assert_eq!(in_code.hub, "docker.io/istio");
    assert_eq!(in_code.services[0].count, 1);
    assert_eq!(in_code.services[0].protocol, "http");
    assert_eq!(
        (in_code.services[0].cpu, in_code.services[0].memory),
        (100, 128)
    );
}

#[test]
fn builder_reports_every_problem_with_its_path_and_value() {
    let err = MeshSpec::builder("bad name")
        .istio_version("1.8.0")
        .datacenters(Vec::<String>::new())
        .service(
            ServiceSpec::new("web")
                .image("nginx:1.27")
                .port(PortSpec::new("http", 70000)),
        )
        .service(
            ServiceSpec::new("web")
                .image("nginx:1.27")
                .port(PortSpec::new("http", 80)),
        )
        .build()
        .unwrap_err();
    assert_eq!(err.family(), "validation");
    let found: Vec<(String, Option<String>)> = err
        .field_errors()
        .iter()
        .map(|e| (e.path.clone(), e.value.clone()))
        .collect();
    for (path, value) in [
        ("mesh.istio_version", Some("1.8.0")),
        ("mesh.name", Some("bad name")),
        ("mesh.datacenters", Some("[]")),
        ("mesh.service[web].port[http].port", Some("70000")),
    ] {
        assert!(
            found
                .iter()
                .any(|(p, v)| p == path && v.as_deref() == value),
            "{path} = {value:?} not in {found:?}"
        );
    }
    let dup = err
        .field_errors()
        .iter()
        .find(|e| e.path == "mesh.service[web].name")
        .unwrap();
    assert_eq!(dup.message, "service names must be unique");
    assert_eq!(dup.value.as_deref(), Some("web"));
    // A later valid release replaces an earlier bad one.
    let ok = MeshSpec::builder("m")
        .istio_version("9.9")
        .istio_version("1.3.8")
        .service(
            ServiceSpec::new("web")
                .image("nginx:1.27")
                .port(PortSpec::new("http", 80)),
        )
        .build()
        .unwrap();
    assert_eq!(ok.istio_version.to_string(), "1.3.8");
}

#[test]
fn sidecar_options_come_from_the_spec() {
    let spec = bookinfo_in_code();
    let opts = spec.sidecar_options();
    assert_eq!(opts, spec.sidecar.options(&spec));
    assert_eq!(opts.mesh, "bookinfo");
    assert_eq!(opts.hub, "docker.io/istio");
    assert_eq!(opts.istio_version.to_string(), "1.0.0");
    opts.validate().unwrap();
}

#[test]
fn each_role_has_one_name_everywhere() {
    let names: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
    assert_eq!(
        names,
        [
            "etcd",
            "apiserver",
            "pilot",
            "mixer",
            "citadel",
            "zipkin",
            "app"
        ]
    );
    let spec = bookinfo_in_code();
    let p = plan(&spec).unwrap();
    for pj in &p.jobs {
        let r = pj.role;
        // serde form, Display, FromStr and the job meta agree.
        assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
        assert_eq!(r.to_string(), r.as_str());
        assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
        let meta = pj.job.meta.get("istio-nomad.role").map(String::as_str);
        if r == Role::App {
            assert_ne!(meta, Some("apiserver"));
        } else {
            assert_eq!(meta, Some(r.as_str()), "{}", pj.job.id());
            assert_eq!(pj.job.id(), job_id("bookinfo", r));
        }
    }
    // The earlier spelling still reads (state records), and nothing else does.
    assert_eq!("api-server".parse::<Role>().unwrap(), Role::ApiServer);
    assert_eq!(
        serde_json::from_str::<Role>("\"api-server\"").unwrap(),
        Role::ApiServer
    );
    let err = "api_server".parse::<Role>().unwrap_err();
    assert_eq!(err.field_errors()[0].path, "role");
    assert_eq!(err.field_errors()[0].value.as_deref(), Some("api_server"));
}

#[test]
fn inject_settings_read_into_the_same_options_as_the_builder() {
    use istio_nomad_core::error::json::from_json_text;
    use istio_nomad_core::plan::sidecar::{NetworkMode, Selection, SidecarOptions};
    use istio_nomad_core::spec::sidecar::InjectSettings;
    let text = r#"{"mesh": "shop", "istio_version": "1.3.8", "selection": "opt_in",
        "version": "v2", "sidecar": {"mode": "host", "readiness_gate": false}}"#;
    let settings: InjectSettings = from_json_text(text, "options").unwrap();
    let built = SidecarOptions::new("shop")
        .istio_version("1.3.8")
        .selection(Selection::OptIn)
        .version("v2")
        .mode(NetworkMode::Host)
        .readiness_gate(false)
        .build()
        .unwrap();
    assert_eq!(settings.to_options().unwrap(), built);
    // A misspelt key is refused with its path.
    let e =
        from_json_text::<InjectSettings>(r#"{"mesh": "m", "hubb": "x"}"#, "options").unwrap_err();
    assert_eq!(e.path.as_deref(), Some("options.hubb"));
    assert!(e.message.starts_with("unknown field `hubb`"), "{e}");
}
