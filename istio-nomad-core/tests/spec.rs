//! Mesh spec parsing and validation.
#![allow(clippy::unwrap_used)]

use istio_nomad_core::spec::MeshSpec;
use istio_nomad_core::Error;

fn bookinfo() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/bookinfo.mesh.hcl"
    ))
    .unwrap()
}

#[test]
fn bookinfo_parses_with_every_service_and_version() {
    let spec = MeshSpec::from_hcl(&bookinfo()).unwrap();
    assert_eq!(spec.name, "bookinfo");
    assert_eq!(spec.datacenters, vec!["dc1"]);
    let names: Vec<&str> = spec.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["productpage", "details", "reviews", "ratings"]);
    let reviews = &spec.services[2];
    let versions: Vec<(&str, &str)> = reviews
        .versions
        .iter()
        .map(|v| (v.name.as_str(), v.image.as_str()))
        .collect();
    assert_eq!(
        versions,
        [
            ("v1", "docker.io/istio/examples-bookinfo-reviews-v1:1.8.0"),
            ("v2", "docker.io/istio/examples-bookinfo-reviews-v2:1.8.0"),
            ("v3", "docker.io/istio/examples-bookinfo-reviews-v3:1.8.0")
        ]
    );
    assert_eq!(spec.services[0].count, 2);
    assert_eq!(spec.services[0].ports[0].port, 9080);
    // JSON form of the same spec reads back equal.
    let json = serde_json::json!({ "mesh": spec.to_value() }).to_string();
    assert_eq!(MeshSpec::from_json(&json).unwrap(), spec);
}

#[test]
fn problems_name_field_value_and_line() {
    let text = "mesh \"m\" {\n  service \"a\" {\n    image = \"img:1\"\n    port \"http\" {\n      port = 70000\n    }\n  }\n}\n";
    let err = MeshSpec::from_hcl(text).unwrap_err();
    let fe = err.field_errors();
    assert_eq!(fe.len(), 1, "{err}");
    assert_eq!(fe[0].path, "mesh.service[a].port[http].port");
    assert_eq!(fe[0].value.as_deref(), Some("70000"));
    assert!(fe[0].message.ends_with("(line 5)"), "{}", fe[0].message);
}

#[test]
fn unknown_key_is_a_parse_error_with_its_path() {
    let text = "mesh \"m\" {\n  datacentres = [\"dc1\"]\n}\n";
    match MeshSpec::from_hcl(text) {
        Err(Error::Parse(p)) => {
            assert!(
                p.message.contains("unknown field `datacentres`"),
                "{}",
                p.message
            );
        }
        other => panic!("{other:?}"),
    }
}
