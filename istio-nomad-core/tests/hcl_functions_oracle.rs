//! Differential test of the HCL function library against HashiCorp's real libraries.
//!
//! `tests/cty-oracle/main.go` is built in GOPATH mode from Debian's Go packages (go-cty,
//! hcl/v2, go-cty-yaml, go-cidr, google/uuid, doublestar, go-homedir, x/crypto) and
//! evaluates every case of `tests/data/hcl_functions/corpus.tsv` with hclsyntax and the
//! function table of Nomad's jobspec2. Each case must give the same value here, or an error
//! in both. Without a Go toolchain the test is skipped, except with `CI=true`, where that
//! is a failure.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use istio_nomad_core::nomad::hcl::functions_test_hook as functions;

const LIMIT: usize = 1 << 20;

fn ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// Builds the oracle; `None` (skip) when Go is missing outside CI.
fn build_oracle() -> Option<PathBuf> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cty-oracle/main.go");
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cty-oracle");
    let status = Command::new("go")
        .arg("build")
        .arg("-o")
        .arg(&out)
        .arg(&src)
        .env("GO111MODULE", "off")
        .env("GOPATH", "/usr/share/gocode")
        .env("GOFLAGS", "-mod=mod")
        .env(
            "GOCACHE",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("go-cache"),
        )
        .current_dir(env!("CARGO_TARGET_TMPDIR"))
        .status();
    match status {
        Ok(s) if s.success() => Some(out),
        Ok(s) if !ci() => {
            eprintln!("go-cty oracle not run: building it failed ({s}); scripts/test.sh installs the Debian Go packages it needs");
            None
        }
        Ok(s) => panic!("CI=true but building the go-cty oracle failed ({s}); the Debian Go packages listed in scripts/test.sh are needed"),
        Err(e) if !ci() => {
            eprintln!("go-cty oracle not run: cannot run go ({e})");
            None
        }
        Err(e) => panic!("CI=true but the go-cty oracle cannot be built: cannot run go ({e})"),
    }
}

fn json_to_hcl(v: &serde_json::Value) -> hcl::Value {
    match v {
        serde_json::Value::Null => hcl::Value::Null,
        serde_json::Value::Bool(b) => hcl::Value::Bool(*b),
        serde_json::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                hcl::Value::from(i)
            } else if let Some(u) = n.as_u64() {
                hcl::Value::from(u)
            } else {
                hcl::Value::from(n.as_f64().expect("finite"))
            }
        }
        serde_json::Value::String(s) => hcl::Value::String(s.clone()),
        serde_json::Value::Array(a) => hcl::Value::Array(a.iter().map(json_to_hcl).collect()),
        serde_json::Value::Object(m) => {
            hcl::Value::Object(m.iter().map(|(k, v)| (k.clone(), json_to_hcl(v))).collect())
        }
    }
}

fn hcl_to_json(v: &hcl::Value) -> serde_json::Value {
    serde_json::to_value(v).expect("hcl values serialize")
}

/// Equal as JSON, numbers compared with a relative tolerance (cty computes in 512-bit
/// floats, this library in f64).
fn same(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value as J;
    match (a, b) {
        (J::Number(x), J::Number(y)) => {
            let (x, y) = (
                x.as_f64().unwrap_or(f64::NAN),
                y.as_f64().unwrap_or(f64::NAN),
            );
            x == y || (x - y).abs() <= 1e-9 * x.abs().max(y.abs())
        }
        (J::Array(x), J::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        (J::Object(x), J::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

struct Case {
    line: usize,
    name: String,
    args: String,
}

fn make_fs_fixture(dir: &Path) {
    std::fs::create_dir_all(dir.join("sub")).expect("mkdir");
    std::fs::write(dir.join("hello.txt"), "hello\n").expect("write");
    std::fs::write(dir.join("other.txt"), "other").expect("write");
    std::fs::write(dir.join("binary.bin"), [0xff, 0xfe, 0x00, 0x41]).expect("write");
    std::fs::write(dir.join("sub/a.txt"), "a").expect("write");
    std::fs::write(dir.join("sub/b.txt"), "b").expect("write");
    std::fs::write(dir.join("sub/c.md"), "c").expect("write");
}

#[test]
fn functions_agree_with_go_cty() {
    let Some(oracle) = build_oracle() else { return };
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().canonicalize().expect("canonical tempdir");
    make_fs_fixture(&dir);
    let dir_text = dir.to_string_lossy().to_string();

    let corpus = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/hcl_functions/corpus.tsv"),
    )
    .expect("corpus");
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/hcl_functions");
    let rsa_ct = std::fs::read_to_string(data.join("rsa_ciphertext.b64")).expect("ciphertext");
    let rsa_key = std::fs::read_to_string(data.join("rsa_key.pem")).expect("key");
    let rsa_ct = serde_json::to_string(rsa_ct.trim()).expect("json");
    let rsa_key = serde_json::to_string(&rsa_key).expect("json");
    let mut cases = Vec::new();
    let mut input = String::new();
    for (i, raw) in corpus.lines().enumerate() {
        let line = raw
            .replace("$DIR", &dir_text)
            .replace("$RSA_CT", &rsa_ct)
            .replace("$RSA_KEY", &rsa_key);
        if line.trim().is_empty() || (line.starts_with('#') && !line.starts_with("#basedir\t")) {
            continue;
        }
        let (name, args) = line.split_once('\t').expect("NAME<TAB>ARGS");
        cases.push(Case {
            line: i + 1,
            name: name.to_string(),
            args: args.to_string(),
        });
        input.push_str(&line);
        input.push('\n');
    }

    let mut child = Command::new(&oracle)
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run oracle");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("feed oracle");
    let out = child.wait_with_output().expect("oracle output");
    assert!(out.status.success(), "oracle failed");
    let answers: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("oracle JSON"))
        .collect();
    assert_eq!(answers.len(), cases.len(), "one answer per case");

    let mut base: Option<PathBuf> = None;
    let mut disagreements = Vec::new();
    let (mut compared, mut both_ok, mut both_err) = (0, 0, 0);
    let mut seen = std::collections::BTreeSet::new();
    for (case, answer) in cases.iter().zip(&answers) {
        if case.name == "#basedir" {
            base = Some(PathBuf::from(&case.args));
            continue;
        }
        seen.insert(case.name.clone());
        let args: Vec<serde_json::Value> =
            serde_json::from_str(&case.args).unwrap_or_else(|e| panic!("line {}: {e}", case.line));
        let args: Vec<hcl::Value> = args.iter().map(json_to_hcl).collect();
        let ours = functions::call(&case.name, args, base.as_deref(), LIMIT);
        compared += 1;
        let go_ok = answer.get("ok");
        match (&ours, go_ok) {
            (Ok(v), Some(g)) if same(&hcl_to_json(v), g) => both_ok += 1,
            (Err(_), None) => both_err += 1,
            _ => disagreements.push(format!(
                "line {}: {}({}):\n    go-cty: {}\n    ours:   {}",
                case.line,
                case.name,
                case.args,
                answer,
                match &ours {
                    Ok(v) => format!("ok {}", hcl_to_json(v)),
                    Err(e) => format!("err {e}"),
                }
            )),
        }
    }
    eprintln!(
        "go-cty oracle: {compared} cases, {both_ok} equal values, {both_err} errors on both sides, {} disagreements",
        disagreements.len()
    );
    // Every function of the table is in the corpus, except the random uuidv4 and bcrypt
    // (bcrypt is checked against Go's bcrypt below, uuidv4 in the unit tests).
    let missing: Vec<&str> = functions::names()
        .into_iter()
        .filter(|n| !seen.contains(*n) && !matches!(*n, "uuidv4" | "bcrypt"))
        .collect();
    assert!(
        missing.is_empty(),
        "functions without oracle cases: {missing:?}"
    );
    assert!(
        disagreements.is_empty(),
        "{} disagreements with go-cty:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
}

/// Runs single cases through the oracle.
fn oracle_answers(oracle: &Path, lines: &[String]) -> Vec<serde_json::Value> {
    let mut child = Command::new(oracle)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run oracle");
    let mut input = lines.join("\n");
    input.push('\n');
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("feed oracle");
    let out = child.wait_with_output().expect("oracle output");
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("oracle JSON"))
        .collect()
}

#[test]
fn bcrypt_hashes_verify_with_go_bcrypt() {
    let Some(oracle) = build_oracle() else { return };
    let mut lines = Vec::new();
    for (password, cost) in [("secret", 4), ("héllo wörld", 5), ("", 4)] {
        let hash = functions::call(
            "bcrypt",
            vec![hcl::Value::from(password), hcl::Value::from(cost)],
            None,
            LIMIT,
        )
        .expect("bcrypt");
        let hash = hash.as_str().expect("string").to_string();
        assert!(hash.starts_with(&format!("$2a$0{cost}$")), "{hash}");
        lines.push(format!(
            "bcrypt_verify\t{}",
            serde_json::json!([hash, password])
        ));
        lines.push(format!(
            "bcrypt_verify\t{}",
            serde_json::json!([hash, format!("{password}x")])
        ));
    }
    let answers = oracle_answers(&oracle, &lines);
    let got: Vec<&serde_json::Value> = answers.iter().map(|a| &a["ok"]).collect();
    assert_eq!(
        got,
        [true, false, true, false, true, false]
            .iter()
            .map(|b| serde_json::Value::Bool(*b))
            .collect::<Vec<_>>()
            .iter()
            .collect::<Vec<_>>()
    );
}
