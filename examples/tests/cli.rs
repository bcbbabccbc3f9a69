//! The `mesh` command line as a user runs it: exit codes, files written, messages.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `mesh` binary of this package, as `cargo install --path examples` installs it.
fn mesh() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mesh"));
    c.current_dir(repo());
    for v in ["NOMAD_ADDR", "CONSUL_HTTP_ADDR", "ETCDCTL_ENDPOINTS"] {
        c.env_remove(v);
    }
    c
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn run(args: &[&str]) -> Output {
    mesh().args(args).output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn plan_writes_the_golden_files() {
    let out = tempfile::tempdir().unwrap();
    let o = run(&[
        "plan",
        "examples/bookinfo.mesh.hcl",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let stdout = text(&o.stdout);
    assert!(stdout.starts_with("mesh \"bookinfo\": 10 jobs"), "{stdout}");
    assert!(
        stdout.contains("stage 3: bookinfo-citadel, bookinfo-mixer, bookinfo-pilot"),
        "{stdout}"
    );
    let golden = repo().join("istio-nomad-core/tests/golden/plan/bookinfo-ha");
    let files = std::fs::read_to_string(golden.join("FILES")).unwrap();
    for rel in files.lines() {
        let want = std::fs::read_to_string(golden.join(rel)).unwrap();
        let got = std::fs::read_to_string(out.path().join(rel)).unwrap();
        assert_eq!(got, want, "{rel}");
    }
}

#[test]
fn fmt_refuses_an_invalid_job_and_converts_it_without_validation() {
    let basic = repo().join("../shared/data/jobs/jobspec-basic.hcl");
    if !basic.exists() {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "CI=true but ../shared/data is missing"
        );
        eprintln!("skipped: ../shared/data not found");
        return;
    }
    let o = run(&["fmt", basic.to_str().unwrap(), "--to", "json"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    let err = text(&o.stderr);
    assert!(
        err.starts_with("error (validation): 6 validation problems"),
        "{err}"
    );
    assert!(err.contains("job[binstore-storagelocker].update: an update block is only allowed in service and system jobs"));
    let o = run(&[
        "fmt",
        basic.to_str().unwrap(),
        "--to",
        "json",
        "--no-validate",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["Job"]["ID"], "binstore-storagelocker");
    assert_eq!(v["Job"]["Type"], "batch");
}

#[test]
fn fmt_converts_json_back_to_the_same_hcl() {
    let dir = tempfile::tempdir().unwrap();
    let golden = repo().join("istio-nomad-core/tests/golden/plan/bookinfo-ha/jobs");
    let o = run(&[
        "fmt",
        golden.join("reviews.json").to_str().unwrap(),
        "--to",
        "hcl",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(
        text(&o.stdout),
        std::fs::read_to_string(golden.join("reviews.nomad.hcl")).unwrap()
    );
    let hcl = dir.path().join("reviews.nomad.hcl");
    std::fs::write(&hcl, &o.stdout).unwrap();
    let o = run(&["fmt", hcl.to_str().unwrap(), "--to", "json"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(
        text(&o.stdout),
        std::fs::read_to_string(golden.join("reviews.json")).unwrap()
    );
}

#[test]
fn bad_spec_exits_non_zero_naming_field_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("bad.mesh.hcl");
    std::fs::write(&spec, "mesh \"m\" {\n  service \"web\" {\n    image = \"nginx:1.27\"\n    port \"http\" { port = 0 }\n  }\n}\n").unwrap();
    let o = run(&[
        "plan",
        spec.to_str().unwrap(),
        "--out",
        dir.path().join("out").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(err.contains("mesh.service[web].port[http].port: a port must be between 1 and 65535 (line 4) (got \"0\")"), "{err}");
    assert!(
        !dir.path().join("out").exists(),
        "nothing is written for a bad spec"
    );
}

#[test]
fn iptables_prints_the_golden_restore_text() {
    let o = run(&[
        "iptables", "-p", "15001", "-u", "1337", "-b", "*", "-i", "*", "--format", "restore",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(out.starts_with("*nat\n:ISTIO_REDIRECT - [0:0]\n"), "{out}");
    assert!(out.contains("-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001\n"));
    assert!(out.contains("-A OUTPUT -p tcp -j ISTIO_OUTPUT\nCOMMIT\n"));
    let o = run(&["iptables", "-i", "10.0.0.0/33"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("10.0.0.0/33"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn apply_without_servers_uses_the_in_memory_cluster_and_converges() {
    let o = run(&["apply", "examples/bookinfo.mesh.hcl"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let all = text(&o.stdout) + &text(&o.stderr);
    assert!(all.contains("using an in-memory cluster"), "{all}");
    assert!(all.contains("10 created, 0 updated, 0 unchanged"), "{all}");
    assert!(all.contains("a second apply made 0 writes"), "{all}");
}

#[test]
fn verify_prints_the_findings_and_plan_refuses_a_mesh_that_carries_no_traffic() {
    let o = run(&["verify", "examples/bookinfo.mesh.hcl"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let stdout = text(&o.stdout);
    assert!(
        stdout.starts_with("verify (predicted, Istio 1.0.0, predicted from the plan): 0 error(s)"),
        "{stdout}"
    );
    let o = run(&["verify", "examples/bookinfo.mesh.hcl", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["mode"], "predicted");
    assert!(v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["severity"] == "warning"));

    // Live needs servers.
    let o = run(&["verify", "examples/bookinfo.mesh.hcl", "--live"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("there is no live cluster to read"),
        "{}",
        text(&o.stderr)
    );

    // Istio 1.3 dials ADS at the discovery address as given, and 15007 is Pilot's HTTP port:
    // verify fails, plan refuses, --no-verify writes.
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("mesh.hcl");
    let bookinfo = std::fs::read_to_string(repo().join("examples/bookinfo.mesh.hcl")).unwrap();
    let text_spec = bookinfo.replace(
        "istio_version = \"1.0.0\"",
        "istio_version = \"1.3.8\"\n  sidecar {\n    pilot_address = \"bookinfo-pilot.service.consul:15007\"\n  }",
    );
    std::fs::write(&spec, text_spec).unwrap();
    let o = run(&["verify", spec.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stdout)
            .contains("error [ads-port] job[details].group[details].task[istio-proxy].config.args"),
        "{}",
        text(&o.stdout)
    );
    let out = dir.path().join("out");
    let o = run(&[
        "plan",
        spec.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr)
            .contains("job[details].group[details].task[istio-proxy].config.args: [ads-port]"),
        "{}",
        text(&o.stderr)
    );
    assert!(!out.exists());
    let o = run(&[
        "plan",
        spec.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--no-verify",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("writing a plan that does not carry traffic"));
    assert!(out.join("jobs/reviews.json").exists());

    // A release without the Consul registry is refused at the field, by verify too.
    let old = dir.path().join("old.hcl");
    std::fs::write(
        &old,
        bookinfo.replace("istio_version = \"1.0.0\"", "istio_version = \"1.8.0\""),
    )
    .unwrap();
    let o = run(&["verify", old.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("mesh.istio_version: supported Istio releases are 1.0.x to 1.7.x"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn inject_puts_groups_on_a_cni_network() {
    let dir = tempfile::tempdir().unwrap();
    let job = dir.path().join("web.nomad.hcl");
    std::fs::write(
        &job,
        r#"job "web" {
  datacenters = ["dc1"]
  group "web" {
    network {
      port "http" { to = 8080 }
    }
    service {
      name = "web"
      port = "http"
    }
    task "app" {
      driver = "docker"
      config { image = "nginx:1.27" }
    }
  }
}
"#,
    )
    .unwrap();
    let o = run(&[
        "inject",
        job.to_str().unwrap(),
        "--cni-network",
        "mesh",
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let g = &v["Job"]["TaskGroups"][0];
    assert_eq!(g["Networks"][0]["Mode"], "cni/mesh");
    assert_eq!(g["Services"][0]["AddressMode"], "alloc");
}

#[test]
fn inject_flags_mean_what_the_options_json_of_the_bindings_means() {
    use istio_nomad_core::error::json::from_json_text;
    use istio_nomad_core::nomad::Job;
    use istio_nomad_core::plan::sidecar::{inject, InjectSettings};
    let dir = tempfile::tempdir().unwrap();
    let job = dir.path().join("web.json");
    std::fs::write(
        &job,
        r#"{"Job": {"ID": "web", "Datacenters": ["dc1"], "TaskGroups": [
  {"Name": "web", "Meta": {"istio-nomad.inject": "true"},
   "Networks": [{"DynamicPorts": [{"Label": "http", "To": 8080}]}],
   "Services": [{"Name": "web", "PortLabel": "http"}],
   "Tasks": [{"Name": "app", "Driver": "docker", "Config": {"image": "nginx:1.27"}}]},
  {"Name": "batch", "Tasks": [{"Name": "t", "Driver": "exec", "Config": {"command": "true"}}]}
]}}"#,
    )
    .unwrap();
    let o = run(&[
        "inject",
        job.to_str().unwrap(),
        "--format",
        "json",
        "--mesh",
        "shop",
        "--hub",
        "registry.example/istio",
        "--istio-version",
        "1.3.8",
        "--opt-in",
        "--version-label",
        "v2",
        "--protocol",
        "http",
        "--no-readiness-gate",
        "--zipkin-address",
        "zipkin.service.consul:9411",
        "--cni-network",
        "meshnet",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    // The same options as the C ABI's options JSON (what Python's keywords fill in).
    let settings: InjectSettings = from_json_text(
        r#"{"mesh": "shop", "hub": "registry.example/istio", "istio_version": "1.3.8",
            "selection": "opt_in", "version": "v2", "protocol": "http",
            "sidecar": {"readiness_gate": false, "cni_network": "meshnet",
                        "zipkin_address": "zipkin.service.consul:9411"}}"#,
        "options",
    )
    .unwrap();
    let src = Job::from_json(&std::fs::read_to_string(&job).unwrap()).unwrap();
    let want = inject(&src, &settings.to_options().unwrap()).unwrap();
    assert_eq!(
        text(&o.stdout),
        format!("{}\n", want.to_register_json().unwrap())
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let g = &v["Job"]["TaskGroups"][0];
    assert_eq!(g["Networks"][0]["Mode"], "cni/meshnet");
    assert_eq!(g["Services"][0]["Tags"][0], "version|v2");
    assert_eq!(g["Services"][0]["Meta"]["protocol"], "http");
    let names: Vec<&str> = g["Tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["Name"].as_str().unwrap())
        .collect();
    assert!(!names.contains(&"istio-ready"), "{names:?}");
    let proxy = g["Tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["Name"] == "istio-proxy")
        .unwrap();
    assert_eq!(
        proxy["Config"]["image"],
        "registry.example/istio/proxy_debug:1.3.8"
    );
    // --opt-in leaves the group without the inject meta alone.
    assert_eq!(
        v["Job"]["TaskGroups"][1]["Tasks"].as_array().unwrap().len(),
        1
    );
}

#[test]
fn fmt_and_inject_take_variables_strictness_and_fs_flags() {
    let dir = tempfile::tempdir().unwrap();
    let job = dir.path().join("web.nomad.hcl");
    std::fs::write(
        &job,
        r#"variable "image" { type = string }
variable "count" { default = 1 }
variable "dc" { default = "dc1" }
job "web" {
  datacenters = [var.dc]
  group "g" {
    count = var.count
    network {
      mode = "bridge"
      port "http" { to = 8080 }
    }
    service {
      name = "web"
      port = "http"
    }
    task "t" {
      driver = "docker"
      config { image = var.image }
    }
  }
}
"#,
    )
    .unwrap();
    let vars = dir.path().join("prod.vars.json");
    std::fs::write(&vars, r#"{"count": 4, "dc": "file-dc"}"#).unwrap();
    let job_s = job.to_str().unwrap();

    // A variable without a value: the error names it and how to pass it.
    let o = mesh()
        .args(["fmt", job_s, "--to", "json"])
        .env_remove("NOMAD_VAR_image")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        text(&o.stderr),
        "error (parse): invalid HCL at line 1 in variable[image]: unset variable \"image\": a variable must have a default or be given a value; pass one with -var 'image=...', a -var-file, or the NOMAD_VAR_image environment variable\n"
    );

    // Environment < var file < --var.
    let o = mesh()
        .args(["fmt", job_s, "--to", "json", "--var-file"])
        .arg(&vars)
        .args(["--var", "count=2", "--var", "count=3"])
        .env("NOMAD_VAR_image", "nginx:1.27")
        .env("NOMAD_VAR_dc", "env-dc")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["Job"]["Datacenters"], serde_json::json!(["file-dc"]));
    assert_eq!(v["Job"]["TaskGroups"][0]["Count"], 3);
    assert_eq!(
        v["Job"]["TaskGroups"][0]["Tasks"][0]["Config"]["image"],
        "nginx:1.27"
    );

    // A -var for a variable the job does not declare.
    let o = run(&["fmt", job_s, "--var", "image=x", "--var", "imgae=y"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr)
            .contains("a value was given for \"imgae\", which the jobspec does not declare"),
        "{}",
        text(&o.stderr)
    );
    let o = run(&["fmt", job_s, "--var", "no-equals-sign"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("a -var argument must have the form name=value"),
        "{}",
        text(&o.stderr)
    );

    // inject takes the same flags.
    let o = run(&["inject", job_s, "--format", "json", "--var", "image=nginx"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let tasks: Vec<&str> = v["Job"]["TaskGroups"][0]["Tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["Name"].as_str().unwrap())
        .collect();
    assert_eq!(tasks, ["t", "istio-init", "istio-proxy", "istio-ready"]);

    // Strict by default; --allow-unknown keeps the field; --allow-fs allows file().
    let typo = dir.path().join("typo.nomad.hcl");
    std::fs::write(&typo, "job \"t\" {\n  group \"g\" {\n    task \"t\" {\n      driver = \"docker\"\n      kill_timout = \"5s\"\n      meta { motd = file(\"motd.txt\") }\n    }\n  }\n}\n").unwrap();
    std::fs::write(dir.path().join("motd.txt"), "hi").unwrap();
    let typo_s = typo.to_str().unwrap();
    let o = run(&["inject", typo_s, "--allow-fs"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        text(&o.stderr),
        "error (parse): invalid HCL at line 5 in job[t].group[g].task[t]: unknown argument \"kill_timout\" (did you mean \"kill_timeout\"?)\n"
    );
    let o = run(&[
        "fmt",
        typo_s,
        "--to",
        "json",
        "--no-validate",
        "--allow-unknown",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("file: reads files"),
        "{}",
        text(&o.stderr)
    );
    let o = run(&[
        "fmt",
        typo_s,
        "--to",
        "json",
        "--no-validate",
        "--allow-unknown",
        "--allow-fs",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let t = &v["Job"]["TaskGroups"][0]["Tasks"][0];
    assert_eq!(t["KillTimout"], "5s");
    assert_eq!(t["Meta"]["motd"], "hi");
}

#[test]
fn version_prints_the_package_version() {
    let out = mesh().arg("--version").output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("mesh {}\n", env!("CARGO_PKG_VERSION"))
    );
}
