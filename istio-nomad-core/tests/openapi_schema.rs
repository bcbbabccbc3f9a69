//! The OpenAPI checker: the shared example job and every shared jobspec (as API JSON)
//! conform to the `Job` schema of `../shared/data/nomad-openapi-v1.yaml`; misspelled keys,
//! wrong types and unknown nested keys are reported with their paths. The rules of the
//! checker itself are tested on small inline documents.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use istio_nomad_core::nomad::hcl::jobspec_to_api;
use istio_nomad_core::nomad::openapi::{OpenApiSchema, SchemaViolation, NEWER_FIELDS};
use pretty_assertions::assert_eq;
use serde_json::{json, Value};

fn shared_data() -> Option<PathBuf> {
    let dir = match std::env::var_os("ISTIO_NOMAD_SHARED_DATA") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"),
    };
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("../shared/data not found at {} (CI=true)", dir.display());
    }
    println!("skipped: ../shared/data not found");
    None
}

fn nomad_schema(data: &Path) -> OpenApiSchema {
    OpenApiSchema::load(data.join("nomad-openapi-v1.yaml")).unwrap()
}

fn paths(v: &[SchemaViolation]) -> Vec<&str> {
    v.iter().map(|v| v.path.as_str()).collect()
}

#[test]
fn shared_example_and_jobs_are_valid() {
    let Some(data) = shared_data() else { return };
    let schema = nomad_schema(&data);
    let example: Value = serde_json::from_str(
        &std::fs::read_to_string(data.join("nomad-api-example-job.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(schema.validate("Job", &example["Job"]), vec![]);
    let mut checked = 0;
    for entry in std::fs::read_dir(data.join("jobs")).unwrap() {
        let path = entry.unwrap().path();
        let api = jobspec_to_api(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(schema.validate("Job", &api), vec![], "{}", path.display());
        checked += 1;
    }
    assert_eq!(checked, 3);
}

#[test]
fn misspelled_keys_wrong_types_and_unknown_nested_keys_are_rejected() {
    let Some(data) = shared_data() else { return };
    let schema = nomad_schema(&data);
    let job = json!({
        "ID": "web",
        "Taskgroups": [],
        "Priority": 50.5,
        "TaskGroups": [{
            "Name": "api",
            "Count": "3",
            "Tasks": [{"Name": "app", "Resources": {"CPU": 100, "MemoryMb": 64}}],
            "Networks": [{"DynamicPorts": [{"Label": "http", "Valu": 80}]}]
        }],
        "Update": {"MaxParallel": true},
        "Meta": {"a": 1}
    });
    let v = schema.validate("Job", &job);
    assert_eq!(
        paths(&v),
        [
            "Job.Taskgroups",
            "Job.Priority",
            "Job.TaskGroups[0].Count",
            "Job.TaskGroups[0].Tasks[0].Resources.MemoryMb",
            "Job.TaskGroups[0].Networks[0].DynamicPorts[0].Valu",
            "Job.Update.MaxParallel",
            "Job.Meta[\"a\"]",
        ]
    );
    assert_eq!(
        v[0].message,
        "unknown key \"Taskgroups\" (not a field of Job)"
    );
    assert_eq!(v[2].message, "expected an integer, got a string (\"3\")");
    assert_eq!(
        v[3].message,
        "unknown key \"MemoryMb\" (not a field of Resources)"
    );

    // Integer ranges come from the file: Affinity.Weight is an int8.
    let v = schema.validate("Job", &json!({"Affinities": [{"Weight": 200}]}));
    assert_eq!(
        v,
        vec![SchemaViolation {
            path: "Job.Affinities[0].Weight".into(),
            message: "200 is above the maximum 127".into()
        }]
    );
}

#[test]
fn newer_fields_are_allowed_only_where_listed_and_are_really_missing_from_the_file() {
    let Some(data) = shared_data() else { return };
    let schema = nomad_schema(&data);
    let doc: Value = serde_norway::from_str(
        &std::fs::read_to_string(data.join("nomad-openapi-v1.yaml")).unwrap(),
    )
    .unwrap();
    for n in NEWER_FIELDS {
        let props = doc
            .pointer(&format!("/components/schemas/{}/properties", n.schema))
            .and_then(Value::as_object)
            .unwrap_or_else(|| panic!("schema {} has no properties", n.schema));
        assert!(
            !props.contains_key(n.field),
            "{}.{} is in the file: drop it from NEWER_FIELDS",
            n.schema,
            n.field
        );
        assert!(n.since.starts_with("1."), "{n:?}");
    }
    let job = json!({"NodePool": "prod", "TaskGroups": [{"Tasks": [{"Identity": {"Env": true}}],
        "Services": [{"Connect": {"SidecarService": {"Proxy": {"TransparentProxy": {}}}}}]}]});
    assert_eq!(schema.validate("Job", &job), vec![]);
    // Allowed in Task, not elsewhere.
    let v = schema.validate("Job", &json!({"Identity": {}}));
    assert_eq!(paths(&v), ["Job.Identity"]);
}

const SMALL: &str = r##"
openapi: 3.0.3
components:
  schemas:
    Pod:
      type: object
      properties:
        Name:
          type: string
        Size:
          type: integer
          format: int32
        Ratio:
          type: number
          minimum: 0
          maximum: 1
        Tags:
          type: array
          items:
            type: string
        Labels:
          type: object
          additionalProperties:
            type: string
        Blob:
          type: string
          format: byte
        Child:
          $ref: '#/components/schemas/Child'
        Broken:
          $ref: '#/components/schemas/Nope'
        Anything:
          type: object
          additionalProperties: {}
    Child:
      properties:
        On:
          type: boolean
"##;

#[test]
fn the_checker_follows_the_openapi_subset() {
    let schema = OpenApiSchema::from_yaml(SMALL).unwrap();
    assert!(schema.has_schema("Pod"));
    assert!(!schema.has_schema("Job"));
    let ok = json!({"Name": "a", "Size": 3, "Ratio": 0.5, "Tags": ["x"], "Labels": {"k": "v"},
        "Blob": "aGVsbG8=", "Child": {"On": true}, "Anything": {"x": [1, {"y": null}]}, "Tags2": null});
    let v = schema.validate("Pod", &ok);
    assert_eq!(
        paths(&v),
        ["Pod.Tags2"],
        "unknown keys are reported even when null"
    );
    let bad = json!({"Name": 1, "Size": 3_000_000_000u64, "Ratio": 2, "Tags": [1], "Labels": {"k": 1},
        "Blob": "not base64!", "Child": {"On": "yes", "Off": 1}, "Broken": {}});
    let v = schema.validate("Pod", &bad);
    assert_eq!(
        v.iter().map(ToString::to_string).collect::<Vec<_>>(),
        [
            "Pod.Name: expected a string, got a number (1)",
            "Pod.Size: 3000000000 is above the maximum 2147483647",
            "Pod.Ratio: 2 is above the maximum 1",
            "Pod.Tags[0]: expected a string, got a number (1)",
            "Pod.Labels[\"k\"]: expected a string, got a number (1)",
            "Pod.Blob: expected base64 (format byte), got \"not base64!\"",
            "Pod.Child.On: expected true or false, got a string (\"yes\")",
            "Pod.Child.Off: unknown key \"Off\" (not a field of Child)",
            "Pod.Broken: unresolvable $ref \"#/components/schemas/Nope\"",
        ]
    );
    assert_eq!(schema.validate("Pod", &json!(null)), vec![]);
    assert_eq!(
        schema.validate("Pod", &json!([])),
        vec![SchemaViolation {
            path: "Pod".into(),
            message: "expected an object, got an array ([])".into()
        }]
    );
    assert_eq!(
        schema.validate("Nope", &json!({}))[0].message,
        "the document has no schema named \"Nope\""
    );
}

#[test]
fn loading_errors_are_typed() {
    let err = OpenApiSchema::load("/nonexistent/openapi.yaml").unwrap_err();
    assert_eq!(err.family(), "io");
    let err = OpenApiSchema::from_yaml("a: [1, 2\n").unwrap_err();
    assert!(err.message.contains("YAML"), "{err}");
    let err = OpenApiSchema::from_yaml("openapi: 3.0.3\n").unwrap_err();
    assert_eq!(err.path.as_deref(), Some("components.schemas"));
}
