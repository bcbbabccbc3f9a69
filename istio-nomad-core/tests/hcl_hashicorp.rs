//! HashiCorp's own HCL library reads every HCL text this project writes, and reads it the
//! way this project does.
//!
//! `tests/hcl-check/main.go` is built in GOPATH mode from Debian's packages
//! (`golang-github-hashicorp-hcl-v2-dev`, `golang-github-zclconf-go-cty-dev` and their
//! dependencies) and run on:
//!
//! - every golden `*.nomad.hcl` file under `tests/golden/`, and the C ABI's goldens
//!   (`istio-nomad-ffi/tests/golden`: `web.*.hcl` and the jobspecs in `bookinfo.plan.json`);
//! - `mesh plan examples/bookinfo.mesh.hcl` for the `ha` and `dev` profiles;
//! - `mesh fmt --to hcl`, `mesh inject` (bridge; host mode without readiness gate) and
//!   `mesh inject --remove` of every job in `../shared/data/jobs/` and of the project's own
//!   test jobs (`tests/data/broken/job-*`, `tests/data/hcl_roundtrip/*`);
//! - the JSON -> HCL renderings of the round-trip corpus, of generated strings in every
//!   place and of 300 generated jobs (driver config, meta and env with awkward keys, text
//!   and numbers).
//!
//! A file it rejects fails the test; so does a file that hclsyntax evaluates to other values
//! than this project's HCL reader does (the checker's `-dump` output against
//! `dump_body_for_tests`). The
//! known-bad samples in `tests/data/hcl_check/` (the productpage jobspec `mesh plan` used to
//! write, with `args = [<<EOT ... EOT]`; a heredoc inside a list; an `\f` escape)
//! must be rejected, so the checker cannot silently pass everything.
//!
//! Without a Go toolchain or the Debian Go packages the checker tests are skipped with a
//! message, except with `CI=true`, where that is a failure. A missing `../shared/data` is
//! skipped the same way.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use istio_nomad_core::error::ParseErrorKind;
use istio_nomad_core::nomad::hcl::{
    api_to_jobspec, dump_body_for_tests, is_hcl_name, jobspec_to_api, jobspec_to_api_with,
    HclOptions,
};
use istio_nomad_core::nomad::Job;
use istio_nomad_core::plan::plan;
use istio_nomad_core::plan::sidecar::{inject, remove_sidecar, NetworkMode, SidecarOptions};
use istio_nomad_core::spec::MeshSpec;
use proptest::prelude::*;
use serde_json::{json, Map, Value};

fn ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Builds the checker once per test run; `None` (skip, after saying why) when Go or the
/// Debian packages are missing outside CI.
fn checker() -> Option<&'static Path> {
    static BUILT: OnceLock<Option<PathBuf>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
            let out = tmp.join("hcl-check");
            let status = Command::new("go")
                .arg("build")
                .arg("-o")
                .arg(&out)
                .arg(manifest().join("tests/hcl-check/main.go"))
                .env("GO111MODULE", "off")
                .env("GOPATH", "/usr/share/gocode")
                .env("GOFLAGS", "-mod=mod")
                .env("GOCACHE", tmp.join("go-cache"))
                .current_dir(tmp)
                .status();
            let why = match status {
                Ok(s) if s.success() => return Some(out),
                Ok(s) => format!("building it failed ({s})"),
                Err(e) => format!("cannot run go ({e})"),
            };
            assert!(
                !ci(),
                "CI=true but the HashiCorp HCL checker cannot be built: {why}; scripts/test.sh installs golang-go and the Debian Go packages it needs"
            );
            eprintln!("HashiCorp HCL checker not run: {why}; scripts/test.sh installs golang-go, golang-github-hashicorp-hcl-v2-dev and golang-github-zclconf-go-cty-dev");
            None
        })
        .as_deref()
}

struct CheckRun {
    ok: bool,
    stdout: String,
    stderr: String,
}

fn run_checker(checker: &Path, args: &[&str], files: &[PathBuf]) -> CheckRun {
    let out = Command::new(checker)
        .args(args)
        .args(files)
        .output()
        .expect("run hcl-check");
    CheckRun {
        ok: out.status.success(),
        stdout: String::from_utf8(out.stdout).expect("utf-8"),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

// ---------------------------------------------------------------------------------------
// What the project renders

/// One rendered HCL text and where it came from.
struct Rendered {
    what: String,
    text: String,
}

fn rendered(what: impl Into<String>, text: String) -> Rendered {
    Rendered {
        what: what.into(),
        text,
    }
}

fn golden_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            golden_files(&path, out);
        } else if path.to_string_lossy().ends_with(".nomad.hcl") {
            out.push(path);
        }
    }
}

fn bookinfo_plan(profile: &str) -> Vec<Rendered> {
    let text = std::fs::read_to_string(manifest().join("../examples/bookinfo.mesh.hcl")).unwrap();
    let text = text.replace("profile = \"ha\"", &format!("profile = \"{profile}\""));
    let plan = plan(&MeshSpec::from_hcl(&text).unwrap()).unwrap();
    plan.files()
        .unwrap()
        .into_iter()
        .filter(|(rel, _)| rel.ends_with(".nomad.hcl"))
        .map(|(rel, text)| rendered(format!("mesh plan ({profile}): {rel}"), text))
        .collect()
}

/// The job files `mesh fmt` and `mesh inject` are run on: the shared jobs and the
/// project's own test jobs that parse.
fn job_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    if let Some(data) = common::shared_data() {
        for entry in std::fs::read_dir(data.join("jobs")).unwrap() {
            files.push(entry.unwrap().path());
        }
        files.push(data.join("nomad-api-example-job.json"));
    }
    for dir in ["tests/data/broken", "tests/data/hcl_roundtrip"] {
        for entry in std::fs::read_dir(manifest().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if dir.ends_with("hcl_roundtrip") || name.starts_with("job-") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// `mesh fmt --to hcl --no-validate`, `mesh inject` (bridge mode, and `--host-mode
/// --no-readiness-gate`) and `mesh inject --remove` of the injected job, as the CLI runs
/// them (`examples/mesh`: `Job::from_file`, `inject` / `remove_sidecar`, `Job::to_hcl`), of
/// each job that parses.
fn fmt_and_inject() -> Vec<Rendered> {
    let mut out = Vec::new();
    let mut injected = Vec::new();
    for path in job_files() {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let Ok(job) = Job::from_file(&path) else {
            continue; // a broken sample that does not parse: nothing is rendered
        };
        out.push(rendered(
            format!("mesh fmt --to hcl {name}"),
            job.to_hcl().unwrap_or_else(|e| panic!("fmt {name}: {e}")),
        ));
        let variants = [
            ("mesh inject", SidecarOptions::new("mesh")),
            (
                "mesh inject --host-mode --no-readiness-gate",
                SidecarOptions::new("mesh")
                    .mode(NetworkMode::Host)
                    .readiness_gate(false),
            ),
        ];
        for (cmd, opts) in variants {
            // A job that already has Consul Connect needs --replace-connect.
            let meshed = inject(&job, &opts.clone().build().unwrap())
                .or_else(|_| inject(&job, &opts.replace_connect(true).build().unwrap()));
            let meshed = match meshed {
                Ok(m) => m,
                Err(e) => {
                    // The CLI prints the error and writes nothing (an invalid job, or a
                    // bridge-mode group under --host-mode).
                    assert_eq!(e.family(), "validation", "{cmd} {name}: {e}");
                    continue;
                }
            };
            injected.push(format!("{cmd} {name}"));
            out.push(rendered(
                format!("{cmd} {name}"),
                meshed
                    .to_hcl()
                    .unwrap_or_else(|e| panic!("{cmd} {name}: {e}")),
            ));
            if cmd == "mesh inject" {
                let removed = remove_sidecar(&meshed).unwrap_or_else(|e| panic!("{name}: {e}"));
                out.push(rendered(
                    format!("mesh inject --remove (of mesh inject {name})"),
                    removed
                        .to_hcl()
                        .unwrap_or_else(|e| panic!("remove {name}: {e}")),
                ));
            }
        }
    }
    let mut want: Vec<String> = [
        "config-keys.json",
        "line-endings.json",
        "numbers.json",
        "periodic-crons.json",
        "periodic.json",
        "template-markers.json",
        "unknown-keys.json",
    ]
    .iter()
    .flat_map(|n| {
        [
            format!("mesh inject {n}"),
            format!("mesh inject --host-mode --no-readiness-gate {n}"),
        ]
    })
    .collect();
    if common::shared_data().is_some() {
        // jobspec-basic.hcl is a batch job with update and migrate blocks: invalid, refused.
        // nomad-api-example-job.json has a service with provider = "nomad", which the mesh
        // cannot see: refused. Under --host-mode the bridge-mode jobs are refused.
        want.extend(
            ["countdash-tproxy.nomad.hcl", "multi-service.nomad"]
                .map(|n| format!("mesh inject {n}")),
        );
    }
    want.sort();
    injected.sort();
    assert_eq!(injected, want);
    out
}

/// How the dumps carry a number: `"\0num:TEXT"` (see `tests/hcl-check/main.go`).
const NUM: &str = "\0num:";

/// Equal as JSON; numbers (strings starting with [`NUM`]) compared by value: exactly as
/// integers when both are, else as the f64 each text denotes (Rust's correctly rounded
/// parse, the f64 Go's `big.Float.Float64` gives Nomad).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) if x.starts_with(NUM) && y.starts_with(NUM) => {
            let (x, y) = (&x[NUM.len()..], &y[NUM.len()..]);
            match (x.parse::<i128>(), y.parse::<i128>()) {
                (Ok(p), Ok(q)) => p == q,
                _ => x.parse::<f64>().ok() == y.parse::<f64>().ok() && x.parse::<f64>().is_ok(),
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// Equal as JSON, numbers compared as the f64 they hold (a job that went through HCL).
fn same_job(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            x == y || (x.as_f64() == y.as_f64() && (x.is_f64() || y.is_f64()))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_job(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_job(v, w)))
        }
        _ => a == b,
    }
}

/// Writes the texts to files, runs the checker with `-dump` on all of them at once, and
/// asserts that every file parses and reads the same in hclsyntax and in hcl-rs.
fn check_all(checker: &Path, texts: &[Rendered]) {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for (i, r) in texts.iter().enumerate() {
        let path = dir.path().join(format!("{i:04}.nomad.hcl"));
        std::fs::write(&path, &r.text).unwrap();
        files.push(path);
    }
    let run = run_checker(checker, &["-dump"], &files);
    let name_of = |file: &str| -> String {
        let i: usize = Path::new(file).file_name().unwrap().to_string_lossy()[..4]
            .parse()
            .unwrap();
        texts[i].what.clone()
    };
    if !run.ok {
        let mut msg = String::new();
        for line in run.stderr.lines() {
            match line.split_once(".nomad.hcl:") {
                Some((file, rest)) => msg.push_str(&format!(
                    "{}: line {rest}\n",
                    name_of(&format!("{file}.nomad.hcl"))
                )),
                None => {
                    msg.push_str(line);
                    msg.push('\n');
                }
            }
        }
        panic!("HashiCorp's HCL parser rejects rendered HCL:\n{msg}");
    }
    let dumps: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(dumps.len(), texts.len(), "one dump per file");
    for (r, d) in texts.iter().zip(&dumps) {
        let ours = dump_body_for_tests(&r.text).unwrap_or_else(|e| panic!("{}: {e}", r.what));
        assert!(
            same(&d["body"], &ours),
            "{}: hclsyntax and this project's reader read different values\nhclsyntax: {}\nours:      {}\n{}",
            r.what,
            d["body"],
            ours,
            r.text
        );
    }
    eprintln!(
        "hcl-check: {} rendered files accepted by hclsyntax, same values as hcl-rs",
        texts.len()
    );
}

// ---------------------------------------------------------------------------------------
// Tests

#[test]
fn checker_rejects_the_known_bad_samples() {
    let Some(checker) = checker() else { return };
    let dir = manifest().join("tests/data/hcl_check");
    // What `mesh plan examples/bookinfo.mesh.hcl` used to write for productpage: the init
    // task's script as `args = [<<EOT ... EOT]`. HCL ends a heredoc only at a line holding
    // its marker alone, so `EOT]` does not end it and the next list item is misread.
    let old = dir.join("productpage-eot-in-list.nomad.hcl");
    let old_text = std::fs::read_to_string(&old).unwrap();
    assert_eq!(old_text.matches("\nEOT]\n").count(), 2);
    let run = run_checker(checker, &[], std::slice::from_ref(&old));
    assert!(!run.ok, "the old EOT] output must be rejected");
    assert_eq!(
        run.stderr,
        format!(
            "{}:161,7: Missing item separator; Expected a comma to mark the beginning of the next item.\n1 of 1 files rejected\n",
            old.display()
        )
    );
    // This project's reader refuses it too, at the same line, with a typed syntax error.
    let err = jobspec_to_api(&old_text).unwrap_err();
    assert_eq!(err.kind, ParseErrorKind::Invalid, "{err}");
    assert_eq!(err.line, Some(161), "{err}");
    // The same job as written today parses.
    let today = bookinfo_plan("ha")
        .into_iter()
        .find(|r| r.what.ends_with("jobs/productpage.nomad.hcl"))
        .unwrap();
    assert!(!today.text.contains("EOT]"));
    check_all(checker, &[today]);

    let heredoc = dir.join("heredoc-in-list.nomad.hcl");
    let run = run_checker(checker, &[], std::slice::from_ref(&heredoc));
    assert!(!run.ok, "the heredoc-in-a-list sample must be rejected");
    assert!(
        run.stderr
            .contains("heredoc-in-list.nomad.hcl:18,1: Unterminated template string"),
        "{}",
        run.stderr
    );
    let err = jobspec_to_api(&std::fs::read_to_string(&heredoc).unwrap()).unwrap_err();
    assert_eq!(err.kind, ParseErrorKind::Invalid, "{err}");
    assert_eq!(err.line, Some(18), "{err}");

    let escape = dir.join("escape-form-feed.nomad.hcl");
    let run = run_checker(checker, &[], std::slice::from_ref(&escape));
    assert!(!run.ok);
    assert!(
        run.stderr.contains(
            "escape-form-feed.nomad.hcl:3,17: Invalid escape sequence; The symbol \"f\" is not a valid escape sequence selector."
        ),
        "{}",
        run.stderr
    );
    let err = jobspec_to_api(&std::fs::read_to_string(&escape).unwrap()).unwrap_err();
    assert_eq!(err.kind, ParseErrorKind::Invalid, "{err}");
    assert_eq!(err.line, Some(3), "{err}");

    // One bad file among good ones still fails the run, naming only the bad one.
    let good = manifest().join("tests/golden/jobs/multi-service.nomad.hcl");
    let run = run_checker(checker, &[], &[good, escape]);
    assert!(!run.ok);
    assert!(
        run.stderr.ends_with("1 of 2 files rejected\n"),
        "{}",
        run.stderr
    );
}

#[test]
fn golden_files_parse_with_hashicorp_hcl() {
    let Some(checker) = checker() else { return };
    let mut files = Vec::new();
    golden_files(&manifest().join("tests/golden"), &mut files);
    files.sort();
    assert!(files.len() >= 26, "golden HCL files: {}", files.len());
    // The C ABI's goldens: its job conversions and the jobspecs in its plan document.
    let ffi = manifest().join("../istio-nomad-ffi/tests/golden");
    files.push(ffi.join("web.job.hcl"));
    files.push(ffi.join("web.injected.hcl"));
    let mut texts: Vec<Rendered> = files
        .iter()
        .map(|p| {
            rendered(
                p.strip_prefix(manifest()).unwrap().display().to_string(),
                std::fs::read_to_string(p).unwrap(),
            )
        })
        .collect();
    let plan: Value =
        serde_json::from_str(&std::fs::read_to_string(ffi.join("bookinfo.plan.json")).unwrap())
            .unwrap();
    for job in plan["jobs"].as_array().unwrap() {
        texts.push(rendered(
            format!(
                "istio-nomad-ffi/tests/golden/bookinfo.plan.json: {}",
                job["id"]
            ),
            job["hcl"].as_str().unwrap().to_string(),
        ));
    }
    assert_eq!(texts.len(), files.len() + 10);
    check_all(checker, &texts);
}

#[test]
fn mesh_plan_fmt_and_inject_output_parses_with_hashicorp_hcl() {
    let Some(checker) = checker() else { return };
    let mut texts = bookinfo_plan("ha");
    texts.extend(bookinfo_plan("dev"));
    assert_eq!(texts.len(), 18, "10 jobs in ha, 8 in dev");
    texts.extend(fmt_and_inject());
    check_all(checker, &texts);
}

/// `mesh inject` of the Bookinfo app jobs wrote its init script as `args = [<<EOT ...
/// EOT]`; it is now a quoted string in the list.
#[test]
fn init_task_script_is_a_quoted_list_item() {
    let plan = bookinfo_plan("ha");
    let reviews = plan
        .iter()
        .find(|r| r.what.ends_with("jobs/reviews.nomad.hcl"))
        .unwrap();
    assert!(!reviews.text.contains("[<<"), "{}", reviews.text);
    assert!(
        reviews.text.contains("args = [\"set -e\\niptables-restore --noflush < /local/istio-iptables.cleanup.rules 2>/dev/null || true\\niptables-restore --noflush < /local/istio-iptables.rules\\n\"]"),
        "{}",
        reviews.text
    );
}

// ---------------------------------------------------------------------------------------
// Round trip: JSON -> HCL -> JSON

/// The jobs of the round trip: every job that parses (shared and test data) as API JSON.
fn round_trip_jobs() -> Vec<(String, Value)> {
    let mut jobs = Vec::new();
    for path in job_files() {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        if Job::from_file(&path).is_err() {
            continue; // a broken sample that does not parse
        }
        let api = if name.ends_with(".json") {
            let v: Value = serde_json::from_str(&text).unwrap();
            match v.get("Job") {
                Some(j) if v.as_object().is_some_and(|m| m.len() == 1) => j.clone(),
                _ => v,
            }
        } else {
            jobspec_to_api(&text).unwrap()
        };
        jobs.push((name, api));
    }
    jobs
}

/// What `JSON -> HCL -> JSON` must give back: the same job, except what Nomad's own
/// reader treats as absent or sets itself (nulls, empty lists of blocks, server-only
/// fields, a `Name` equal to the ID: jobspec2's `normalizeJob`).
fn expected(name: &str, api: &Value) -> Value {
    let mut v = api.clone();
    if let Some(m) = v.as_object_mut() {
        if !m.contains_key("Name") {
            let id = m["ID"].clone();
            m.insert("Name".into(), id);
        }
    }
    if name == "nomad-api-example-job.json" {
        // The API's answer holds server-side fields and nulls; the reader drops them.
        v = common::normalize(&v);
        let m = v.as_object_mut().unwrap();
        for k in istio_nomad_core::nomad::hcl::SERVER_ONLY_FIELDS {
            m.remove(*k);
        }
    }
    v
}

#[test]
fn every_job_goes_json_hcl_json_unchanged_and_the_hcl_parses_with_hashicorp_hcl() {
    let jobs = round_trip_jobs();
    let names: Vec<&str> = jobs.iter().map(|(n, _)| n.as_str()).collect();
    for want in [
        "config-keys.json",
        "line-endings.json",
        "template-markers.json",
        "escapes-unicode.json",
        "numbers.json",
        "unknown-keys.json",
        "periodic.json",
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    let mut texts = Vec::new();
    for (name, api) in &jobs {
        let hcl = api_to_jobspec(api).unwrap_or_else(|e| panic!("{name}: {e}"));
        let back = if name == "unknown-keys.json" {
            // Keys outside Nomad's schema render as themselves; reading them back needs the
            // opt-out from strict reading, as `nomad job run` refuses them.
            let err = jobspec_to_api(&hcl).unwrap_err();
            assert_eq!(err.kind, ParseErrorKind::UnknownField, "{err}");
            jobspec_to_api_with(&hcl, &HclOptions::new().allow_unknown(true))
        } else {
            jobspec_to_api(&hcl)
        }
        .unwrap_or_else(|e| panic!("{name}: {e}\n{hcl}"));
        let want = expected(name, api);
        let (w, b) = if name == "nomad-api-example-job.json" {
            (common::normalize(&want), common::normalize(&back))
        } else {
            (want, back)
        };
        assert!(
            same_job(&w, &b),
            "{name}: JSON -> HCL -> JSON changed the job\nbefore: {w}\nafter:  {b}\n{hcl}"
        );
        assert_eq!(
            api_to_jobspec(&b).unwrap(),
            hcl,
            "{name}: the rendering is not a fixed point"
        );
        texts.push(rendered(format!("round trip {name}"), hcl));
    }
    if let Some(checker) = checker() {
        check_all(checker, &texts);
    }
}

#[test]
fn generated_strings_survive_json_hcl_json_in_every_place() {
    // Every string goes into a heredoc-capable attribute (meta), a template's data, a list
    // item, an object key and value, and a block label.
    let strings = [
        "",
        "a\r\nb\r\n",
        "\r\n",
        "x\r",
        "one\ntwo\n",
        "EOT\n",
        "EOT\nEOT1\n",
        "  EOT\n",
        "${",
        "$${",
        "$$${x}",
        "%{",
        "%%{",
        "${NOMAD_PORT_http}",
        "${a}${b}",
        "${ a }",
        "${var.x}",
        "${upper(\"x\")}",
        "%{ if true }y%{ endif }",
        "$",
        "%",
        "a$",
        "a%",
        "\\",
        "\"",
        "\\n",
        "\t",
        "\u{1}",
        "\u{8}",
        "\u{c}",
        "\u{7f}",
        "\u{85}",
        "\u{2028}",
        "\u{feff}",
        "日本語",
        "🎉",
        "null",
        "true",
        "1",
        "-1",
        "0x10",
        "1e3",
    ];
    let mut texts = Vec::new();
    for (i, s) in strings.iter().enumerate() {
        let label = format!("g{i}{s}");
        let api = json!({
            "ID": format!("s{i}"), "Name": format!("s{i}"),
            "Meta": {"v": s, "w": format!("{s}\n{s}\n")},
            "TaskGroups": [{"Name": label, "Tasks": [{
                "Name": "t", "Driver": "docker",
                "Config": {"image": "x", "list": [s, format!("{s}\n{s}\n")], "obj": {s.to_string(): s}, "top": format!("{s}\n{s}\n")},
                "Templates": [{"DestPath": "local/x", "EmbeddedTmpl": format!("{s}\n"),
                    "ChangeMode": "restart", "Perms": "0644", "Splay": 5_000_000_000i64, "ErrMissingKey": false}]
            }]}]
        });
        let hcl = api_to_jobspec(&api).unwrap_or_else(|e| panic!("{s:?}: {e}"));
        let back = jobspec_to_api(&hcl).unwrap_or_else(|e| panic!("{s:?}: {e}\n{hcl}"));
        assert_eq!(api, back, "{s:?}\n{hcl}");
        texts.push(rendered(format!("string {s:?}"), hcl));
    }
    if let Some(checker) = checker() {
        check_all(checker, &texts);
    }
}

#[test]
fn unknown_capitalized_keys_render_back_as_themselves() {
    let api = json!({"ID": "j", "Name": "j", "TaskGroups": [{"Name": "g",
        "ReschedulePolicy": {"Attempts": 1}, "Reschedule": {"Attempts": 2}, "A_B": 1}]});
    let hcl = api_to_jobspec(&api).unwrap();
    assert!(
        hcl.contains("    reschedule {\n      attempts = 1\n    }"),
        "{hcl}"
    );
    assert!(
        hcl.contains("    Reschedule {\n      attempts = 2\n    }"),
        "{hcl}"
    );
    assert!(hcl.contains("    A__B = 1\n"), "{hcl}");
    // Strict reading names the first key outside the schema; the opt-out keeps them all.
    let err = jobspec_to_api(&hcl).unwrap_err();
    assert_eq!(err.kind, ParseErrorKind::UnknownField, "{err}");
    assert_eq!(err.path.as_deref(), Some("job[j].group[g]"), "{err}");
    let lenient = HclOptions::new().allow_unknown(true);
    assert_eq!(jobspec_to_api_with(&hcl, &lenient).unwrap(), api);
}

#[test]
fn keys_with_no_hcl_spelling_are_typed_errors_naming_them() {
    // A driver reads `config` as a block: its own keys must be identifiers.
    let api = json!({"ID": "j", "TaskGroups": [{"Name": "g", "Tasks": [{"Name": "t",
        "Config": {"a.b": 1}}]}]});
    let err = api_to_jobspec(&api).unwrap_err();
    assert_eq!(err.family(), "validation");
    let fe = &err.field_errors()[0];
    assert_eq!(fe.path, "job[j].group[g].task[t].config.a.b");
    assert_eq!(fe.value.as_deref(), Some("a.b"));
    assert!(fe.message.contains("HCL identifier"), "{}", fe.message);

    // A lower-case key outside the tables reads back capitalized, whatever its spelling.
    let err = api_to_jobspec(&json!({"ID": "j", "foo": 1})).unwrap_err();
    assert_eq!(err.field_errors()[0].path, "job[j].foo");

    // A periodic block cannot carry a spec type that jobspec2 would not set itself.
    let err = api_to_jobspec(&json!({"ID": "j", "Periodic": {"SpecType": "cron"}})).unwrap_err();
    assert_eq!(err.field_errors()[0].path, "job[j].periodic.SpecType");
}

#[test]
fn periodic_jobs_render_the_way_jobspec2_reads_them() {
    let api = json!({"ID": "nightly", "Name": "nightly", "Type": "batch",
        "Periodic": {"Spec": "0 3 * * *", "SpecType": "cron", "ProhibitOverlap": true}});
    let hcl = api_to_jobspec(&api).unwrap();
    assert_eq!(
        hcl,
        "job \"nightly\" {\n  type = \"batch\"\n\n  periodic {\n    cron = \"0 3 * * *\"\n    prohibit_overlap = true\n  }\n}\n"
    );
    assert_eq!(jobspec_to_api(&hcl).unwrap(), api);
}

#[test]
fn attribute_names_agree_with_hclsyntax_on_every_code_point() {
    let Some(checker) = checker() else { return };
    let run = run_checker(checker, &["-idents"], &[]);
    assert!(run.ok, "{}", run.stderr);
    let mut start = vec![false; 0x11_0000];
    let mut cont = vec![false; 0x11_0000];
    for line in run.stdout.lines() {
        let mut p = line.split(' ');
        let (kind, lo, hi) = (p.next().unwrap(), p.next().unwrap(), p.next().unwrap());
        let (lo, hi): (usize, usize) = (lo.parse().unwrap(), hi.parse().unwrap());
        let table = if kind == "S" { &mut start } else { &mut cont };
        table[lo..=hi].iter_mut().for_each(|b| *b = true);
    }
    let mut wrong = Vec::new();
    let mut refused = 0;
    for cp in 0u32..0x11_0000 {
        let Some(c) = char::from_u32(cp) else {
            continue;
        };
        let hcl_start = if cp < 0x80 {
            c.is_ascii_alphabetic() || c == '_'
        } else {
            start[cp as usize]
        };
        let hcl_cont = if cp < 0x80 {
            c.is_ascii_alphanumeric() || c == '_' || c == '-'
        } else {
            cont[cp as usize]
        };
        let ours_start = is_hcl_name(&c.to_string());
        let ours_cont = is_hcl_name(&format!("a{c}"));
        // Never a name that hclsyntax refuses.
        if (ours_start && !hcl_start) || (ours_cont && !hcl_cont) {
            wrong.push(format!("U+{cp:04X}"));
        }
        if hcl_cont && !ours_cont {
            refused += 1;
        }
    }
    assert!(wrong.is_empty(), "names hclsyntax refuses: {wrong:?}");
    // The few code points hclsyntax takes that hcl-rs does not are refused (a typed error
    // rather than a file that hcl-rs cannot read back).
    assert!(refused < 100, "{refused} code points refused");
}

// ---------------------------------------------------------------------------------------
// Generated jobs: any driver config, meta and env value renders back

/// Strings that trip writers: markers, heredoc markers, line ends, escapes, keywords.
const AWKWARD: &[&str] = &[
    "",
    " ",
    "a.b",
    "a b",
    "1x",
    "-x",
    "x-",
    "_",
    "true",
    "false",
    "null",
    "for",
    "if",
    "in",
    "EOT",
    "EOT\n",
    "a\r\nb\r\n",
    "\r\n",
    "\r",
    "x\n",
    "one\ntwo\n",
    "${",
    "$${",
    "${x}",
    "${NOMAD_PORT_http}",
    "%{",
    "%{ if true }y%{ endif }",
    "$",
    "%",
    "\\",
    "\"",
    "\\n",
    "\t",
    "\u{1}",
    "\u{7f}",
    "\u{85}",
    "\u{2028}",
    "é",
    "日本語",
    "🎉",
    "0x10",
    "1e3",
    "=",
    "{",
    "}",
    "[",
    "]",
    "#",
    "//",
    "/*",
    "<<EOT",
];

/// Strings in Unicode NFC: HCL turns every string into NFC (go-cty's `cty.StringVal`, see
/// [`hcl_strings_reach_nomad_in_nfc`]), so other text cannot go through HCL unchanged.
fn awkward_string() -> impl Strategy<Value = String> {
    awkward_any().prop_filter("NFC", |s| unicode_normalization::is_nfc(s))
}

fn awkward_any() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(AWKWARD).prop_map(str::to_string),
        "\\PC{0,8}",
        (
            prop::sample::select(AWKWARD),
            "[ -~]{0,4}",
            prop::sample::select(AWKWARD)
        )
            .prop_map(|(a, b, c)| format!("{a}{b}\n{c}\n")),
    ]
}

/// An attribute or block name as HCL writes it (keywords included), or a config key from
/// JSON such as `1x` or `a.b`, which has none.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z_][a-z0-9_-]{0,6}",
        prop::sample::select(vec!["true", "null", "for", "é", "日本語", "A_B", "x--y"])
            .prop_map(str::to_string),
    ]
}

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        prop::num::f64::NORMAL.prop_map(Value::from),
        prop::sample::select(vec![0.1, 0.5, 1e300, 1e-300, 123.456, -2.5]).prop_map(Value::from),
    ]
}

fn any_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number(),
        awkward_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(awkward_string(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn generated_job() -> impl Strategy<Value = Value> {
    let config = prop::collection::btree_map(
        name(),
        prop_oneof![
            any_value(),
            // A list of objects with name keys, which the writer makes blocks.
            prop::collection::vec(
                prop::collection::btree_map(name(), any_value(), 0..3)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
                1..3
            )
            .prop_map(Value::Array),
        ],
        0..5,
    );
    let strings = || prop::collection::btree_map(awkward_string(), awkward_string(), 1..4);
    (config, strings(), strings(), strings(), awkward_string()).prop_map(
        |(config, meta, env, job_meta, group)| {
            let mut config: Map<String, Value> = config.into_iter().collect();
            config.insert("image".into(), json!("app:1"));
            json!({
                "ID": "gen", "Name": "gen",
                "Meta": job_meta,
                "TaskGroups": [{"Name": group, "Tasks": [{
                    "Name": "t", "Driver": "docker",
                    "Config": config,
                    "Meta": meta,
                    "Env": env,
                }]}]
            })
        },
    )
}

#[test]
fn generated_jobs_go_json_hcl_json_unchanged_and_parse_with_hashicorp_hcl() {
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    let mut runner = TestRunner::new_with_rng(
        Config {
            cases: 300,
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    );
    let texts = std::cell::RefCell::new(Vec::new());
    runner
        .run(&generated_job(), |api| {
            let hcl = api_to_jobspec(&api).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let back =
                jobspec_to_api(&hcl).map_err(|e| TestCaseError::fail(format!("{e}\n{hcl}")))?;
            prop_assert!(
                same_job(&api, &back),
                "before: {api}\nafter:  {back}\n{hcl}"
            );
            texts
                .borrow_mut()
                .push(rendered(format!("generated job {api}"), hcl));
            Ok(())
        })
        .unwrap();
    let texts = texts.into_inner();
    assert!(texts.len() >= 300, "{} cases", texts.len());
    if let Some(checker) = checker() {
        check_all(checker, &texts);
    }
}

/// HCL strings are NFC-normalized (HCL's spec.md, "NFC normalization"; go-cty
/// `cty.StringVal` normalizes every string, go-cty v1.x `cty/value_init.go`): a job whose
/// text is not in NFC reaches Nomad normalized when it goes through HCL. The writer writes
/// the text as given; HashiCorp's parser reads the NFC form.
#[test]
fn hcl_strings_reach_nomad_in_nfc() {
    use unicode_normalization::UnicodeNormalization;
    let Some(checker) = checker() else { return };
    // U+0A5E (GURMUKHI LETTER FA) is excluded from composition: NFC decomposes it.
    let text = "\u{0a5e}";
    let nfc: String = text.nfc().collect();
    assert_eq!(nfc, "\u{0a2b}\u{0a3c}");
    let api = json!({"ID": "j", "Name": "j", "Meta": {"k": text}});
    let hcl = api_to_jobspec(&api).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("nfc.nomad.hcl");
    std::fs::write(&file, &hcl).unwrap();
    let run = run_checker(checker, &["-dump"], &[file]);
    assert!(run.ok, "{}", run.stderr);
    let dump: Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(
        dump["body"]["blocks"][0]["body"]["blocks"][0]["body"]["attrs"]["k"],
        json!(nfc)
    );
}

/// A heredoc whose lines end in `\r\n` (a job file saved on Windows) reads as text holding
/// `\r\n`; the writer gives it back as a quoted string with `\r\n` escapes, which reads back
/// byte for byte (a heredoc would end its lines at `\r\n` and lose the `\r`).
#[test]
fn crlf_heredoc_comes_back_unchanged() {
    let text =
        "job \"j\" {\r\n  meta {\r\n    script = <<EOT\r\nset -e\r\necho hi\r\nEOT\r\n  }\r\n}\r\n";
    let api = jobspec_to_api(text).unwrap();
    assert_eq!(api["Meta"]["script"], json!("set -e\r\necho hi\r\n"));
    let hcl = api_to_jobspec(&api).unwrap();
    assert!(
        hcl.contains("    script = \"set -e\\r\\necho hi\\r\\n\"\n"),
        "{hcl}"
    );
    assert_eq!(jobspec_to_api(&hcl).unwrap(), api, "{hcl}");
    if let Some(checker) = checker() {
        check_all(checker, &[rendered("CRLF heredoc", hcl)]);
    }
}

/// The check itself fails when one file among many is rejected, and names that file by
/// what rendered it.
#[test]
fn a_rejected_file_fails_the_check() {
    let Some(checker) = checker() else { return };
    let good =
        std::fs::read_to_string(manifest().join("tests/golden/jobs/multi-service.nomad.hcl"))
            .unwrap();
    let bad = std::fs::read_to_string(
        manifest().join("tests/data/hcl_check/productpage-eot-in-list.nomad.hcl"),
    )
    .unwrap();
    let texts = [
        rendered("good job", good),
        rendered("old productpage output", bad),
    ];
    let err = std::panic::catch_unwind(|| check_all(checker, &texts)).unwrap_err();
    let msg = err.downcast_ref::<String>().unwrap();
    assert!(
        msg.contains("old productpage output: line 161,7: Missing item separator"),
        "{msg}"
    );
    assert!(!msg.contains("good job"), "{msg}");
}
