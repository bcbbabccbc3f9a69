//! Golden and round-trip tests of the jobspec <-> API JSON conversion on the shared jobs
//! (`../shared/data/jobs/*`) and the shared API example job, plus the OpenAPI check of
//! every JSON body produced.
//!
//! `UPDATE_GOLDEN=1 cargo test -p istio-nomad-core --test hcl_jobs` rewrites the golden
//! files under `tests/golden/jobs/`. The shared data is looked up at
//! `<repo root>/../shared/data` (or `$ISTIO_NOMAD_SHARED_DATA`); when it is missing the tests
//! print why and pass, unless `CI=true`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use istio_nomad_core::nomad::hcl::{api_to_jobspec, jobspec_to_api, SERVER_ONLY_FIELDS};
use istio_nomad_core::nomad::openapi::OpenApiSchema;
use pretty_assertions::assert_eq;
use serde_json::Value;

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

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/jobs")
}

/// Compares `actual` with the golden file, or rewrites it when `UPDATE_GOLDEN=1`.
fn golden(name: &str, actual: &str) {
    let path = golden_dir().join(name);
    if std::env::var("UPDATE_GOLDEN").as_deref() == Ok("1") {
        std::fs::create_dir_all(golden_dir()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with UPDATE_GOLDEN=1 to create it)",
            path.display()
        )
    });
    assert_eq!(expected, actual, "golden file {} differs", path.display());
}

fn pretty(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap();
    s.push('\n');
    s
}

fn schema(data: &Path) -> OpenApiSchema {
    OpenApiSchema::load(data.join("nomad-openapi-v1.yaml")).unwrap()
}

fn assert_valid(schema: &OpenApiSchema, what: &str, job: &Value) {
    let violations = schema.validate("Job", job);
    assert!(
        violations.is_empty(),
        "{what} breaks the Job schema:\n{violations:#?}"
    );
}

/// The shared jobs: file name and golden base name.
fn shared_jobs(data: &Path) -> Vec<(PathBuf, String)> {
    let mut jobs: Vec<(PathBuf, String)> = std::fs::read_dir(data.join("jobs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "hcl" || e == "nomad"))
        .map(|p| {
            let file = p.file_name().unwrap().to_string_lossy().to_string();
            let base = file
                .trim_end_matches(".hcl")
                .trim_end_matches(".nomad")
                .to_string();
            (p, base)
        })
        .collect();
    jobs.sort();
    jobs
}

#[test]
fn shared_jobs_match_golden_files_and_round_trip() {
    let Some(data) = shared_data() else { return };
    let schema = schema(&data);
    let jobs = shared_jobs(&data);
    assert_eq!(
        jobs.iter().map(|(_, b)| b.as_str()).collect::<Vec<_>>(),
        ["countdash-tproxy", "jobspec-basic", "multi-service"]
    );
    for (path, base) in jobs {
        let text = std::fs::read_to_string(&path).unwrap();
        let api = jobspec_to_api(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        golden(&format!("{base}.api.json"), &pretty(&api));
        assert_valid(&schema, &base, &api);

        let hcl = api_to_jobspec(&api).unwrap();
        golden(&format!("{base}.nomad.hcl"), &hcl);

        // HCL -> api -> HCL -> api gives the same api value, and the HCL is a fixed point.
        let api2 =
            jobspec_to_api(&hcl).unwrap_or_else(|e| panic!("{base} rendered HCL: {e}\n{hcl}"));
        assert_eq!(api, api2, "{base}: api -> HCL -> api changed the job");
        assert_eq!(
            hcl,
            api_to_jobspec(&api2).unwrap(),
            "{base}: rendering is not deterministic"
        );
    }
}

/// `null` is the same as absent, and an empty list of blocks the same as none; server-only
/// fields are dropped. Returns the job as `api -> HCL -> api` must give it back.
fn expected_after_round_trip(v: &Value, top: bool) -> Option<Value> {
    match v {
        Value::Null => None,
        Value::Object(m) => {
            let mut out = serde_json::Map::new();
            for (k, item) in m {
                if top && SERVER_ONLY_FIELDS.contains(&k.as_str()) {
                    continue;
                }
                let keep_empty_list = !matches!(
                    k.as_str(),
                    "Constraints"
                        | "Affinities"
                        | "Spreads"
                        | "Services"
                        | "Checks"
                        | "Networks"
                        | "ReservedPorts"
                        | "DynamicPorts"
                        | "Templates"
                        | "Artifacts"
                        | "VolumeMounts"
                        | "Devices"
                        | "TaskGroups"
                        | "Tasks"
                        | "ScalingPolicies"
                );
                if let Some(x) = expected_after_round_trip(item, false) {
                    if x.as_array().is_some_and(Vec::is_empty) && !keep_empty_list {
                        continue;
                    }
                    out.insert(k.clone(), x);
                }
            }
            Some(Value::Object(out))
        }
        Value::Array(items) => Some(Value::Array(
            items
                .iter()
                .filter_map(|i| expected_after_round_trip(i, false))
                .collect(),
        )),
        other => Some(other.clone()),
    }
}

#[test]
fn api_example_job_renders_and_reads_back_without_loss() {
    let Some(data) = shared_data() else { return };
    let schema = schema(&data);
    let text = std::fs::read_to_string(data.join("nomad-api-example-job.json")).unwrap();
    let wrapped: Value = serde_json::from_str(&text).unwrap();
    let job = &wrapped["Job"];
    assert_valid(&schema, "the API example job", job);

    let hcl = api_to_jobspec(&wrapped).unwrap();
    assert_eq!(
        hcl,
        api_to_jobspec(job).unwrap(),
        "wrapped and bare input render the same"
    );
    golden("nomad-api-example-job.nomad.hcl", &hcl);
    for field in ["SubmitTime", "JobModifyIndex", "Dispatched", "status"] {
        assert!(!hcl.contains(field), "{field} must not be rendered");
    }

    let back = jobspec_to_api(&hcl).unwrap();
    golden("nomad-api-example-job.api.json", &pretty(&back));
    assert_valid(&schema, "the API example job after a round trip", &back);
    let expected = expected_after_round_trip(job, true).unwrap();
    assert_eq!(expected, back);

    // Spot checks of what the example holds.
    assert_eq!(
        back["TaskGroups"][0]["Networks"][0]["DynamicPorts"][0]["To"],
        6379
    );
    assert_eq!(
        back["TaskGroups"][0]["RestartPolicy"]["Interval"],
        1_800_000_000_000i64
    );
    assert_eq!(
        back["TaskGroups"][0]["Tasks"][0]["Identity"],
        serde_json::json!({"Env": true, "File": true})
    );
    assert!(hcl.contains("interval = \"30m\""));
    assert!(hcl.contains("healthy_deadline = \"3m\""));
}

#[test]
fn every_rendered_jobspec_reparses_to_a_schema_valid_body() {
    let Some(data) = shared_data() else { return };
    let schema = schema(&data);
    for entry in std::fs::read_dir(golden_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "hcl") {
            let text = std::fs::read_to_string(&path).unwrap();
            let api = jobspec_to_api(&text).unwrap();
            assert_valid(&schema, &path.display().to_string(), &api);
        }
    }
}
