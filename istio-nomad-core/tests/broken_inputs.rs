//! Every broken spec and job of the corpus gives a typed error that names the field; none panics.
#![allow(clippy::unwrap_used)]

mod common;

use istio_nomad_core::nomad::Job;
use istio_nomad_core::spec::MeshSpec;
use istio_nomad_core::Error;

fn load(path: &std::path::Path) -> Result<(), Error> {
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    if name.starts_with("spec-") {
        MeshSpec::from_file(path).map(|_| ())
    } else {
        Job::from_file(path)?.validate()
    }
}

fn describe(e: &Error) -> String {
    match e {
        Error::Validation(v) => v
            .errors()
            .iter()
            .map(|f| f.to_string())
            .collect::<Vec<_>>()
            .join("\n"),
        other => other.to_string(),
    }
}

#[test]
fn corpus_gives_typed_errors_naming_the_field() {
    let dir = common::testdata().join("data/broken");
    let expected = std::fs::read_to_string(dir.join("EXPECTED")).unwrap();
    let mut checked = 0;
    for line in expected
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let parts: Vec<&str> = line.split(" | ").collect();
        let (file, family, needle) = (parts[0], parts[1], parts[2]);
        let err = load(&dir.join(file)).expect_err(file);
        assert_eq!(err.family(), family, "{file}: {err}");
        let text = describe(&err);
        assert!(
            text.contains(needle),
            "{file}: expected {needle:?} in:\n{text}"
        );
        checked += 1;
    }
    let files = std::fs::read_dir(&dir).unwrap().count() - 1;
    assert_eq!(checked, files, "every corpus file has a line in EXPECTED");
    assert!(checked >= 25);
}

#[test]
fn validation_reports_every_problem_at_once() {
    let text = r#"{"ID": "web", "Priority": 0, "TaskGroups": [{"Name": "api", "Count": -1, "Tasks": [
        {"Name": "a", "Driver": "docker", "Lifecycle": {"Hook": "sometime"}},
        {"Name": "a", "Driver": ""}]}]}"#;
    let err = Job::from_json(text).unwrap().validate().unwrap_err();
    let paths: Vec<&str> = err.field_errors().iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "job[web].priority",
            "job[web].group[api].count",
            "job[web].group[api].task[a].lifecycle.hook",
            "job[web].group[api].task[a].name",
            "job[web].group[api].task[a].driver",
        ]
    );
    assert_eq!(err.field_errors()[2].value.as_deref(), Some("sometime"));
}

#[test]
fn ten_megabyte_spec_is_refused_cleanly() {
    let mut text = String::from("mesh \"m\" {\n");
    while text.len() < 10 * 1024 * 1024 {
        text.push_str("  # padding padding padding padding padding padding padding padding\n");
    }
    text.push_str("}\n");
    let err = MeshSpec::from_hcl(&text).unwrap_err();
    assert_eq!(err.family(), "parse");
    assert!(err.to_string().contains("the limit is"), "{err}");
}

#[test]
fn ten_megabyte_job_parses_or_fails_without_panicking() {
    // A job whose meta holds 10 MB of entries: large but legitimate JSON.
    let mut meta = serde_json::Map::new();
    let mut n = 0;
    while meta.len() * 64 < 10 * 1024 * 1024 {
        meta.insert(
            format!("key-{n:08}"),
            serde_json::Value::String("v".repeat(48)),
        );
        n += 1;
    }
    let job = serde_json::json!({"ID": "big", "Meta": meta,
        "TaskGroups": [{"Name": "g", "Tasks": [{"Name": "t", "Driver": "exec"}]}]});
    let text = job.to_string();
    assert!(text.len() > 10 * 1024 * 1024);
    let parsed = Job::from_json(&text).unwrap();
    assert_eq!(parsed.meta.len(), meta.len());
    parsed.validate().unwrap();
}

#[test]
fn deeply_nested_spec_blocks_are_refused() {
    let depth = 200;
    let text = format!(
        "mesh \"m\" {{\n{}{}}}\n",
        "control_plane {\n".repeat(depth),
        "}\n".repeat(depth)
    );
    let err = MeshSpec::from_hcl(&text).unwrap_err();
    assert_eq!(err.family(), "parse");
    assert!(err.to_string().contains("nested deeper"), "{err}");
}

#[test]
fn deeply_nested_json_job_is_refused() {
    let depth = 10_000;
    let text = format!(
        "{{\"ID\": \"x\", \"Meta\": {}{}}}",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let err = Job::from_json(&text).unwrap_err();
    assert_eq!(err.family(), "parse");
    assert!(err.to_string().contains("recursion limit"), "{err}");
}

#[test]
fn deeply_nested_hcl_job_is_refused() {
    let depth = 5_000;
    let text = format!(
        "job \"x\" {{\n{}{}}}\n",
        "group \"g\" {\n".repeat(depth),
        "}\n".repeat(depth)
    );
    let err = Job::from_hcl(&text).unwrap_err();
    assert_eq!(err.family(), "parse");
}

#[test]
fn huge_values_are_shortened_in_errors() {
    let id = "x y".repeat(4 * 1024 * 1024);
    let job = serde_json::json!({"ID": id, "TaskGroups": [{"Name": "g", "Tasks": [{"Name": "t", "Driver": "exec"}]}]});
    let err = Job::from_json_value(job).unwrap().validate().unwrap_err();
    let fe = &err.field_errors()[0];
    assert_eq!(fe.path, "job.id");
    let value = fe.value.as_deref().unwrap();
    assert!(
        value.ends_with("... (12582912 bytes)"),
        "{}",
        &value[value.len() - 40..]
    );
    assert!(value.len() < 300);
}

#[test]
fn json_spec_errors_say_json() {
    let err = MeshSpec::from_json("  ").unwrap_err();
    assert_eq!(err.to_string(), "invalid JSON: the spec is empty");
    let big = format!(
        "{{\"mesh\": {{\"name\": \"{}\"}}}}",
        "a".repeat(5 * 1024 * 1024)
    );
    let err = MeshSpec::from_json(&big).unwrap_err();
    assert!(
        err.to_string().starts_with("invalid JSON: the spec is "),
        "{err}"
    );
}
