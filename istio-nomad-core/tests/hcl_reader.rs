//! The HCL reader as `nomad job run` reads a jobspec: strict names, variables from every
//! source, functions, `dynamic` blocks, Nomad's own special cases, and typed errors for bad
//! input. Every expectation is the exact API JSON (or the exact error) Nomad's jobspec2
//! (v1.6.9) gives for the same file.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use istio_nomad_core::error::{Limit, ParseError, ParseErrorKind};
use istio_nomad_core::nomad::hcl::{jobspec_to_api, jobspec_to_api_with, HclLimits, HclOptions};
use istio_nomad_core::nomad::Job;
use pretty_assertions::assert_eq;
use serde_json::{json, Value};

fn parse(text: &str) -> Value {
    jobspec_to_api(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn parse_with(text: &str, opts: &HclOptions) -> Value {
    jobspec_to_api_with(text, opts).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn err(text: &str) -> ParseError {
    match jobspec_to_api(text) {
        Ok(v) => panic!("parsed: {v}\n{text}"),
        Err(e) => e,
    }
}

fn err_with(text: &str, opts: &HclOptions) -> ParseError {
    match jobspec_to_api_with(text, opts) {
        Ok(v) => panic!("parsed: {v}\n{text}"),
        Err(e) => e,
    }
}

// ---------------------------------------------------------------------------------------
// strict reading

#[test]
fn unknown_arguments_and_blocks_are_errors_with_a_suggestion() {
    let e = err("job \"x\" {\n  group \"g\" {\n    task \"t\" {\n      driver = \"docker\"\n      kill_timout = \"5s\"\n    }\n  }\n}\n");
    assert_eq!(e.kind, ParseErrorKind::UnknownField);
    assert_eq!(e.path.as_deref(), Some("job[x].group[g].task[t]"));
    assert_eq!(e.line, Some(5));
    assert_eq!(
        e.message,
        "unknown argument \"kill_timout\" (did you mean \"kill_timeout\"?)"
    );
    assert_eq!(
        e.to_string(),
        "invalid HCL at line 5 in job[x].group[g].task[t]: unknown argument \"kill_timout\" (did you mean \"kill_timeout\"?)"
    );

    let e =
        err("job \"x\" {\n  group \"g\" {\n    restart {\n      nterval = \"1m\"\n    }\n  }\n}\n");
    assert_eq!(e.path.as_deref(), Some("job[x].group[g].restart"));
    assert_eq!(
        e.message,
        "unknown argument \"nterval\" (did you mean \"interval\"?)"
    );

    let e =
        err("job \"x\" {\n  group \"g\" {\n    task \"t\" {\n      resorces {}\n    }\n  }\n}\n");
    assert_eq!(e.kind, ParseErrorKind::UnknownField);
    assert_eq!(e.line, Some(4));
    assert_eq!(
        e.message,
        "unknown block \"resorces\" (did you mean \"resources\"?)"
    );

    // No suggestion when nothing is close.
    let e = err("job \"x\" {\n  frobnicate = 1\n}\n");
    assert_eq!(e.path.as_deref(), Some("job[x]"));
    assert_eq!(e.message, "unknown argument \"frobnicate\"");

    // Outside the job block.
    let e = err("jbo \"x\" {}\n");
    assert_eq!(e.kind, ParseErrorKind::UnknownField);
    assert_eq!(
        e.message,
        "unknown top-level block \"jbo\" (did you mean \"job\"?)"
    );

    // A dynamic block of a type the block does not take.
    let e = err("job \"x\" {\n  group \"g\" {\n    dynamic \"servce\" {\n      for_each = []\n      content {}\n    }\n  }\n}\n");
    assert_eq!(e.kind, ParseErrorKind::UnknownField);
    assert_eq!(
        e.message,
        "unknown block \"servce\" (did you mean \"service\"?)"
    );

    // The variable block's own schema.
    let e = err("variable \"a\" {\n  defualt = 1\n}\njob \"x\" {}\n");
    assert_eq!(e.path.as_deref(), Some("variable[a]"));
    assert_eq!(
        e.message,
        "unknown argument \"defualt\" (did you mean \"default\"?)"
    );
}

#[test]
fn driver_config_meta_env_and_other_open_maps_stay_open() {
    let api = parse(
        r#"job "x" {
          meta { anything_goes = "1" }
          group "g" {
            scaling {
              max = 3
              policy { any_policy_key = "v" }
            }
            task "t" {
              driver = "docker"
              config {
                image      = "nginx"
                new_option = true
                mount { whatever = "x" }
              }
              env { MY_VAR = "v" }
              meta = { "dotted.key" = "v" }
            }
          }
        }"#,
    );
    assert_eq!(api["Meta"], json!({"anything_goes": "1"}));
    let t = &api["TaskGroups"][0]["Tasks"][0];
    assert_eq!(
        t["Config"],
        json!({"image": "nginx", "new_option": true, "mount": [{"whatever": "x"}]})
    );
    assert_eq!(t["Env"], json!({"MY_VAR": "v"}));
    assert_eq!(t["Meta"], json!({"dotted.key": "v"}));
    assert_eq!(
        api["TaskGroups"][0]["Scaling"]["Policy"],
        json!({"any_policy_key": "v"})
    );
}

#[test]
fn allow_unknown_keeps_fields_newer_than_the_schema_and_json_keeps_unknown_keys() {
    let text = "job \"x\" {\n  group \"g\" {\n    future_knob = 3\n    new_block \"a\" { depth = 1 }\n  }\n}\n";
    assert_eq!(err(text).kind, ParseErrorKind::UnknownField);
    let api = parse_with(text, &HclOptions::new().allow_unknown(true));
    assert_eq!(api["TaskGroups"][0]["FutureKnob"], 3);
    assert_eq!(
        api["TaskGroups"][0]["NewBlock"],
        json!([{"Name": "a", "Depth": 1}])
    );
    // JSON input is not subject to the HCL schema: unknown keys are kept.
    let job = Job::from_json(
        r#"{"ID": "x", "FutureKnob": 3, "TaskGroups": [{"Name": "g", "NewThing": {"A": 1}}]}"#,
    )
    .unwrap();
    let v = job.to_json_value().unwrap();
    assert_eq!(v["FutureKnob"], 3);
    assert_eq!(v["TaskGroups"][0]["NewThing"], json!({"A": 1}));
}

#[test]
fn every_shared_job_reads_strictly() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/jobs");
    if !dir.is_dir() {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "../shared/data is missing"
        );
        eprintln!("skipped: ../shared/data not found");
        return;
    }
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        jobspec_to_api(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        n += 1;
    }
    assert_eq!(n, 3);
}

// ---------------------------------------------------------------------------------------
// variables

const VARS_JOB: &str = r#"
variable "image" {
  type = string
}
variable "count" {
  type    = number
  default = 1
}
variable "tags" {
  type    = list(string)
  default = []
}
variable "canary" {
  default = false
}
variable "region" {}
variable "ports" {
  type    = map(number)
  default = { http = 80 }
}
job "vars" {
  region = var.region
  group "g" {
    count = var.count
    update { canary = var.canary ? 1 : 0 }
    network {
      port "http" { to = var.ports.http }
    }
    service {
      name = "web"
      port = "http"
      tags = var.tags
    }
    task "t" {
      driver = "docker"
      config { image = var.image }
    }
  }
}
"#;

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn variables_from_every_source_with_nomads_precedence_and_conversion() {
    let dir = tempfile::tempdir().unwrap();
    let hcl_file = write(
        dir.path(),
        "a.vars.hcl",
        "count = 3\ntags = [\"from-file\"]\nregion = \"file-region\"\n",
    );
    let json_file = write(
        dir.path(),
        "b.vars.json",
        r#"{"image": "nginx:1.27", "count": "5"}"#,
    );
    let opts = HclOptions::new()
        .env([
            ("NOMAD_VAR_region", "env-region"),
            ("NOMAD_VAR_count", "2"),
            ("NOMAD_VAR_canary", "true"),
            ("NOMAD_VAR_undeclared", "ignored"),
            ("PATH", "/bin"),
        ])
        .var_file(&hcl_file)
        .var_file(&json_file)
        .var("tags", r#"["a", "b"]"#)
        .var("ports", "{http = 8080}")
        .var("count", "7")
        .var("count", "9");
    let api = parse_with(VARS_JOB, &opts);
    // region: env < file; count: env < files < -var (the last -var wins); canary: env only
    // (bool: the text is read as an HCL expression); tags: list(string) from -var text;
    // image: JSON var file.
    assert_eq!(api["Region"], "file-region");
    let g = &api["TaskGroups"][0];
    assert_eq!(g["Count"], 9);
    assert_eq!(g["Update"], json!({"Canary": 1}));
    assert_eq!(g["Services"][0]["Tags"], json!(["a", "b"]));
    assert_eq!(
        g["Networks"][0]["DynamicPorts"],
        json!([{"Label": "http", "To": 8080}])
    );
    assert_eq!(g["Tasks"][0]["Config"], json!({"image": "nginx:1.27"}));

    // Defaults and the environment alone.
    let api = parse_with(
        VARS_JOB,
        &HclOptions::new().env([("NOMAD_VAR_image", "i"), ("NOMAD_VAR_region", "r")]),
    );
    assert_eq!(api["Region"], "r");
    assert_eq!(api["TaskGroups"][0]["Count"], 1);
    assert_eq!(api["TaskGroups"][0]["Services"][0]["Tags"], json!([]));
    assert_eq!(api["TaskGroups"][0]["Update"], json!({"Canary": 0}));

    // A string-typed -var is literal text, not an expression.
    let api = parse_with(
        VARS_JOB,
        &HclOptions::new()
            .var("image", "upper(\"x\")")
            .var("region", "r"),
    );
    assert_eq!(
        api["TaskGroups"][0]["Tasks"][0]["Config"]["image"],
        "upper(\"x\")"
    );
}

#[test]
fn variable_errors_name_the_variable_and_how_to_set_it() {
    let e = err(VARS_JOB);
    assert_eq!(e.kind, ParseErrorKind::Variable);
    assert_eq!(e.path.as_deref(), Some("variable[image]"));
    assert_eq!(e.line, Some(2));
    assert_eq!(
        e.message,
        "unset variable \"image\": a variable must have a default or be given a value; pass one with -var 'image=...', a -var-file, or the NOMAD_VAR_image environment variable"
    );

    let base = HclOptions::new().var("image", "i").var("region", "r");
    let e = err_with(VARS_JOB, &base.clone().var("imgae", "x"));
    assert_eq!(e.kind, ParseErrorKind::Variable);
    assert_eq!(e.path.as_deref(), Some("variable[imgae]"));
    assert_eq!(
        e.message,
        "undefined -var variable: a value was given for \"imgae\", which the jobspec does not declare; declare it with a variable \"imgae\" block (did you mean \"image\"?)"
    );

    let e = err_with(VARS_JOB, &base.clone().var("count", "three"));
    assert_eq!(e.kind, ParseErrorKind::Variable);
    assert_eq!(e.path.as_deref(), Some("variable[count]"));
    assert!(
        e.message.starts_with(
            "invalid value for variable \"count\" from -var count: it is not compatible with the variable's type constraint (number)"
        ),
        "{e}"
    );

    let e = err_with(VARS_JOB, &base.clone().var("tags", "[1, {}]"));
    assert_eq!(e.kind, ParseErrorKind::Variable);

    let e = err_with(VARS_JOB, &base.clone().var("tags", "[upper(\"a\")]"));
    assert_eq!(e.kind, ParseErrorKind::Variable);
    assert!(
        e.message.contains("function calls are not allowed here"),
        "{e}"
    );

    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "x.hcl", "imagee = \"x\"\n");
    let e = err_with(VARS_JOB, &base.clone().var_file(&f));
    assert_eq!(e.kind, ParseErrorKind::Variable);
    assert_eq!(e.line, Some(1));
    assert!(
        e.message
            .starts_with("undefined variable: a value for \"imagee\" was set"),
        "{e}"
    );
    let f = write(dir.path(), "y.hcl", "variable \"image\" {}\n");
    let e = err_with(VARS_JOB, &base.clone().var_file(&f));
    assert!(
        e.message.starts_with("variable declaration in a var file"),
        "{e}"
    );
    let e = err_with(
        VARS_JOB,
        &base.clone().var_file(dir.path().join("nope.hcl")),
    );
    assert_eq!(e.kind, ParseErrorKind::Variable);
    assert!(e.message.starts_with("unable to read var file"), "{e}");

    let e = HclOptions::new().var_arg("no-equals").unwrap_err();
    assert_eq!(e.kind, ParseErrorKind::Variable);
    let ok = HclOptions::new().var_arg("a=b=c").unwrap();
    assert_eq!(ok.variables, vec![("a".to_string(), "b=c".to_string())]);
}

#[test]
fn variables_blocks_validation_rules_and_debug_hides_values() {
    let text = r#"
variables {
  dc = "dc1"
}
variable "port" {
  type = number
  default = 8080
  validation {
    condition     = var.port > 1024
    error_message = "The port must be above 1024."
  }
}
job "v" {
  datacenters = [var.dc]
  meta { port = var.port }
}
"#;
    let api = parse(text);
    assert_eq!(api["Datacenters"], json!(["dc1"]));
    assert_eq!(api["Meta"], json!({"port": "8080"}));
    let e = err_with(text, &HclOptions::new().var("port", "80"));
    assert_eq!(e.kind, ParseErrorKind::Variable);
    assert_eq!(e.path.as_deref(), Some("variable[port]"));
    assert_eq!(
        e.message,
        "invalid value for cmd variable \"port\": The port must be above 1024."
    );
    let opts = HclOptions::new()
        .var("password", "hunter2")
        .env([("NOMAD_VAR_token", "s3cr3t")]);
    let shown = format!("{opts:?}");
    assert!(
        !shown.contains("hunter2") && !shown.contains("s3cr3t"),
        "{shown}"
    );
    assert!(shown.contains("password"), "{shown}");
}

// ---------------------------------------------------------------------------------------
// functions

#[test]
fn a_job_using_every_function_family() {
    let api = parse(
        r#"
locals {
  name  = "web"
  ports = [8080, 8081]
  tags  = ["b", "a", "b"]
}
job "fn" {
  datacenters = [for dc in split(",", "dc1, dc2") : trimspace(dc)]
  meta {
    upper      = upper(local.name)
    format     = format("%s-%03d", local.name, 7)
    join       = join(",", sort(distinct(local.tags)))
    replace    = replace("a-b-c", "-", "_")
    regex      = regex_replace("v1.2.3", "[.]", "_")
    substr     = substr("hello", 1, 3)
    title      = title("hello world")
    trim       = trim("xxhixx", "x")
    max        = max(3, 9, 4)
    ceil       = ceil(1.2)
    pow        = pow(2, 10)
    parseint   = parseint("ff", 16)
    length     = length(local.ports)
    merge      = jsonencode(merge({ a = 1 }, { b = 2 }))
    lookup     = lookup({ x = "y" }, "x", "none")
    element    = element(local.ports, 1)
    range      = jsonencode(range(3))
    zipmap     = jsonencode(zipmap(["k1", "k2"], [1, 2]))
    expand     = max(local.ports...)
    b64        = base64encode("nomad")
    yaml       = yamlencode({ a = 1 })
    urlencode  = urlencode("a b&c")
    csv        = jsonencode(csvdecode("a,b\n1,2\n"))
    formatdate = formatdate("YYYY-MM-DD", "2024-03-01T10:00:00Z")
    timeadd    = timeadd("2024-03-01T10:00:00Z", "90m")
    sha256     = sha256("nomad")
    md5        = md5("nomad")
    uuidv5     = uuidv5("dns", "nomad.example")
    subnet     = cidrsubnet("10.0.0.0/16", 8, 2)
    host       = cidrhost("10.0.0.0/24", 5)
    netmask    = cidrnetmask("10.0.0.0/12")
    try        = try(local.missing, "fallback")
    can        = can(parseint("zz", 10))
    convert    = jsonencode(convert([1, 2], list(string)))
    runtime    = upper("${NOMAD_REGION}")
  }
}
"#,
    );
    assert_eq!(api["Datacenters"], json!(["dc1", "dc2"]));
    assert_eq!(
        api["Meta"],
        json!({
            "upper": "WEB",
            "format": "web-007",
            "join": "a,b",
            "replace": "a_b_c",
            "regex": "v1_2_3",
            "substr": "ell",
            "title": "Hello World",
            "trim": "hi",
            "max": "9",
            "ceil": "2",
            "pow": "1024",
            "parseint": "255",
            "length": "2",
            "merge": "{\"a\":1,\"b\":2}",
            "lookup": "y",
            "element": "8081",
            "range": "[0,1,2]",
            "zipmap": "{\"k1\":1,\"k2\":2}",
            "expand": "8081",
            "b64": "bm9tYWQ=",
            "yaml": "\"a\": 1\n",
            "urlencode": "a+b%26c",
            "csv": "[{\"a\":\"1\",\"b\":\"2\"}]",
            "formatdate": "2024-03-01",
            "timeadd": "2024-03-01T11:30:00Z",
            "sha256": "b684e5a7d5767cce17964ffa279952b91971d22dcafa7a9c17097d77a4135544",
            "md5": "4608674372223e82ba736b5b52871b3f",
            "uuidv5": "d355d0dd-0e05-5015-8a7b-d5a00caf4fa6",
            "subnet": "10.0.2.0/24",
            "host": "10.0.0.5",
            "netmask": "255.240.0.0",
            "try": "fallback",
            "can": "false",
            "convert": "[\"1\",\"2\"]",
            "runtime": "${NOMAD_REGION}"
        })
    );
}

#[test]
fn function_errors_are_typed_and_name_the_function() {
    let e = err("locals {\n  a = uper(\"x\")\n  b = local.a\n}\njob \"x\" {}\n");
    assert_eq!(e.kind, ParseErrorKind::UnknownFunction);
    assert_eq!(e.path.as_deref(), Some("locals.a"));
    assert_eq!(e.line, Some(2));
    assert_eq!(
        e.message,
        "there is no function named \"uper\" (did you mean \"upper\"?)"
    );

    let e = err("job \"x\" {\n  meta {\n    a = upper(\"x\", \"y\")\n  }\n}\n");
    assert_eq!(e.kind, ParseErrorKind::FunctionCall);
    assert_eq!(e.path.as_deref(), Some("job[x].meta.a"));
    assert_eq!(e.line, Some(3));
    assert_eq!(e.message, "upper: expects 1 argument(s), got 2");

    // Arguments count from 1. try() catches an unknown function as it catches any error
    // (hashicorp/hcl v2 ext/tryfunc: every argument with error diagnostics is skipped); when
    // no argument succeeds, the errors are reported.
    let e = err("job \"x\" {\n  meta {\n    a = substr(\"hello\", \"one\", 1)\n  }\n}\n");
    assert_eq!(e.kind, ParseErrorKind::FunctionCall);
    assert_eq!(e.path.as_deref(), Some("job[x].meta.a"));
    assert!(e.message.starts_with("substr: argument 2: "), "{e}");
    let api = parse("job \"x\" {\n  meta { a = try(nofunc(1), \"x\") }\n}\n");
    assert_eq!(api["Meta"], json!({"a": "x"}));
    let e = err("job \"x\" {\n  meta { a = try(nofunc(1)) }\n}\n");
    assert_eq!(e.path.as_deref(), Some("job[x].meta.a"));
    assert_eq!(e.kind, ParseErrorKind::FunctionCall);
    assert_eq!(
        e.message,
        "try: no expression succeeded; the last one failed with: there is no function named \"nofunc\""
    );

    let e = err("job \"x\" {\n  meta { a = file(\"/etc/hostname\") }\n}\n");
    assert_eq!(e.kind, ParseErrorKind::FilesystemNotAllowed);

    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "motd.txt", "hello\n");
    let job = write(
        dir.path(),
        "j.nomad.hcl",
        "job \"x\" {\n  meta {\n    motd = trimspace(file(\"motd.txt\"))\n    there = fileexists(\"motd.txt\")\n  }\n}\n",
    );
    let j = Job::from_file_with(&job, &HclOptions::new().allow_fs(true)).unwrap();
    assert_eq!(j.meta.get("motd").map(String::as_str), Some("hello"));
    assert_eq!(j.meta.get("there").map(String::as_str), Some("true"));
    let e = Job::from_file(&job).unwrap_err();
    assert!(e.to_string().contains("file: reads files"), "{e}");
}

// ---------------------------------------------------------------------------------------
// dynamic blocks

#[test]
fn dynamic_blocks_with_iterator_labels_and_nesting() {
    let api = parse(
        r#"
variable "services" {
  default = {
    web = { port = 8080, tags = ["a", "b"] }
    api = { port = 9090, tags = [] }
  }
}
job "dyn" {
  group "g" {
    network {
      mode = "bridge"
      dynamic "port" {
        for_each = var.services
        labels   = [port.key]
        content {
          to = port.value.port
        }
      }
    }
    dynamic "service" {
      for_each = var.services
      iterator = svc
      content {
        name = svc.key
        port = svc.key
        tags = svc.value.tags
        dynamic "check" {
          for_each = svc.value.tags
          content {
            name     = "${svc.key}-${check.key}-${check.value}"
            type     = "tcp"
            interval = "10s"
            timeout  = "2s"
          }
        }
      }
    }
    task "t" {
      driver = "docker"
      config {
        image = "nginx"
        ports = [for k, v in var.services : k]
      }
    }
  }
}
"#,
    );
    let g = &api["TaskGroups"][0];
    assert_eq!(
        g["Networks"],
        json!([{"Mode": "bridge", "DynamicPorts": [{"Label": "api", "To": 9090}, {"Label": "web", "To": 8080}]}])
    );
    assert_eq!(
        g["Services"],
        json!([
            {"Name": "api", "PortLabel": "api", "Tags": []},
            {"Name": "web", "PortLabel": "web", "Tags": ["a", "b"], "Checks": [
                {"Name": "web-0-a", "Type": "tcp", "Interval": 10_000_000_000i64, "Timeout": 2_000_000_000i64},
                {"Name": "web-1-b", "Type": "tcp", "Interval": 10_000_000_000i64, "Timeout": 2_000_000_000i64}
            ]}
        ])
    );
    assert_eq!(
        g["Tasks"][0]["Config"],
        json!({"image": "nginx", "ports": ["api", "web"]})
    );
}

#[test]
fn dynamic_block_errors() {
    let job = |inner: &str| format!("job \"x\" {{\n  group \"g\" {{\n{inner}\n  }}\n}}\n");
    let e = err(&job(
        "    dynamic \"task\" {\n      for_each = [\"a\"]\n      content {}\n    }",
    ));
    assert_eq!(e.path.as_deref(), Some("job[x].group[g].dynamic[task]"));
    assert_eq!(
        e.message,
        "blocks of type \"task\" require 1 label(s); the dynamic block gives 0"
    );
    let e = err(&job(
        "    dynamic \"constraint\" {\n      for_each = 3\n      content {}\n    }",
    ));
    assert_eq!(e.kind, ParseErrorKind::Type);
    assert_eq!(
        e.message,
        "invalid dynamic for_each value: cannot use a number value in for_each; an iterable collection is required"
    );
    let e = err(&job("    dynamic \"constraint\" {\n      for_each = [1]\n      labels = [\"a\"]\n      content {}\n    }"));
    assert_eq!(e.kind, ParseErrorKind::UnknownField);
    let e = err(&job(
        "    dynamic \"constraint\" {\n      for_each = [1]\n    }",
    ));
    assert!(
        e.message.starts_with("missing dynamic content block"),
        "{e}"
    );
    let e = err(&job(
        "    dynamic \"count\" {\n      for_each = [1]\n      content {}\n    }",
    ));
    assert_eq!(
        e.message,
        "count is an attribute, not a block; a dynamic block generates blocks"
    );
}

// ---------------------------------------------------------------------------------------
// Nomad's own special cases

#[test]
fn distinct_hosts_false_keeps_its_value() {
    let api = parse(
        "job \"x\" {\n  constraint { distinct_hosts = false }\n  constraint { distinct_hosts = true }\n  constraint {\n    attribute = \"${attr.kernel.name}\"\n    value = \"linux\"\n  }\n}\n",
    );
    assert_eq!(
        api["Constraints"],
        json!([
            {"Operand": "distinct_hosts", "RTarget": "false"},
            {"Operand": "distinct_hosts", "RTarget": "true"},
            {"LTarget": "${attr.kernel.name}", "RTarget": "linux", "Operand": "="}
        ])
    );
}

const GATEWAY_JOB: &str = r#"
job "ingress-demo" {
  datacenters = ["dc1"]
  group "ingress-group" {
    network {
      mode = "bridge"
      port "inbound" {
        static = 8080
        to     = 8080
      }
    }
    service {
      name = "my-ingress-service"
      port = "8080"
      connect {
        gateway {
          proxy {}
          ingress {
            listener {
              port     = 8080
              protocol = "tcp"
              service {
                name = "uuid-api"
              }
            }
          }
        }
      }
    }
  }
}
"#;

#[test]
fn a_gateway_group_needs_no_task_but_other_groups_do() {
    let api = parse(GATEWAY_JOB);
    assert_eq!(
        api["TaskGroups"][0]["Services"][0]["Connect"],
        json!({"Gateway": {"Proxy": {}, "Ingress": {"Listeners": [
            {"Port": 8080, "Protocol": "tcp", "Services": [{"Name": "uuid-api"}]}
        ]}}})
    );
    assert!(api["TaskGroups"][0].get("Tasks").is_none());
    Job::from_hcl(GATEWAY_JOB).unwrap().validate().unwrap();

    let mesh = GATEWAY_JOB.replace(
        "ingress {\n            listener {\n              port     = 8080\n              protocol = \"tcp\"\n              service {\n                name = \"uuid-api\"\n              }\n            }\n          }",
        "mesh {}",
    );
    let api = parse(&mesh);
    assert_eq!(
        api["TaskGroups"][0]["Services"][0]["Connect"],
        json!({"Gateway": {"Proxy": {}, "Mesh": {}}})
    );
    Job::from_hcl(&mesh).unwrap().validate().unwrap();

    let no_gateway = GATEWAY_JOB.replace("gateway {", "sidecar_service {}\n        xgateway {");
    let no_gateway = no_gateway.replace("xgateway {", "sidecar_task {").replace(
        "proxy {}\n          ingress {\n            listener {\n              port     = 8080\n              protocol = \"tcp\"\n              service {\n                name = \"uuid-api\"\n              }\n            }\n          }",
        "",
    );
    let e = Job::from_hcl(&no_gateway).unwrap().validate().unwrap_err();
    let fe = &e.field_errors()[0];
    assert_eq!(fe.path, "job[ingress-demo].group[ingress-group].task");
    assert!(
        fe.message.starts_with("a group needs at least one task"),
        "{e}"
    );

    let two = GATEWAY_JOB.replace("proxy {}", "proxy {}\n          mesh {}");
    let e = Job::from_hcl(&two).unwrap().validate().unwrap_err();
    assert_eq!(
        e.field_errors()[0].path,
        "job[ingress-demo].group[ingress-group].service[0].connect.gateway"
    );
    let host_less = GATEWAY_JOB.replace("mode = \"bridge\"", "mode = \"cni/x\"");
    let e = Job::from_hcl(&host_less).unwrap().validate().unwrap_err();
    assert_eq!(
        e.field_errors()[0].path,
        "job[ingress-demo].group[ingress-group].network[0].mode"
    );
}

#[test]
fn scaling_blocks_are_checked_as_nomad_does() {
    let group = |inner: &str| {
        format!("job \"x\" {{\n  group \"g\" {{\n{inner}\n    task \"t\" {{ driver = \"docker\" }}\n  }}\n}}\n")
    };
    let e = err(&group("    scaling { max = 3 }\n    scaling { max = 4 }"));
    assert_eq!(e.path.as_deref(), Some("job[x].group[g].scaling"));
    assert_eq!(e.line, Some(4));
    assert_eq!(e.message, "only one scaling block is allowed here");
    let e = err(&group("    scaling { min = 1 }"));
    assert_eq!(e.path.as_deref(), Some("job[x].group[g].scaling"));
    assert_eq!(
        e.message,
        "missing required argument: the argument \"max\" is required in a group scaling block"
    );
    let e = err(&group(
        "    scaling {\n      max = 2\n      type = \"vertical_cpu\"\n    }",
    ));
    assert!(e.message.starts_with("invalid group scaling type"), "{e}");
    let api = parse(&group("    scaling { max = 2 }"));
    assert_eq!(
        api["TaskGroups"][0]["Scaling"],
        json!({"Max": 2, "Type": "horizontal"})
    );
    let e = err("job \"x\" {\n  group \"g\" {\n    task \"t\" {\n      scaling \"cpu\" { max = 1 }\n      scaling \"CPU\" { max = 2 }\n    }\n  }\n}\n");
    assert_eq!(e.path.as_deref(), Some("job[x].group[g].task[t]"));
    assert_eq!(
        e.message,
        "duplicate scaling \"cpu\" block: only one scaling cpu block is allowed"
    );
}

// ---------------------------------------------------------------------------------------
// bad input

#[test]
fn bad_input_gives_typed_errors_naming_the_path() {
    let e = err("job \"x\" {\n  group \"g\" {\n    count = \"x\"\n  }\n}\n");
    assert_eq!(e.kind, ParseErrorKind::Type);
    assert_eq!(e.path.as_deref(), Some("job[x].group[g].count"));
    assert_eq!(e.line, Some(3));
    assert_eq!(e.message, "expected a whole number, got \"x\"");

    let e = err("locals {\n  a = local.b\n  b = local.c\n  c = local.a\n}\njob \"x\" {}\n");
    assert_eq!(e.kind, ParseErrorKind::Cycle);
    assert_eq!(e.path.as_deref(), Some("locals.a"));
    assert_eq!(
        e.message,
        "locals refer to each other in a cycle: local.a -> local.b -> local.c -> local.a"
    );
    let e = err("locals {\n  a = \"${local.a}x\"\n}\njob \"x\" {}\n");
    assert_eq!(e.kind, ParseErrorKind::Cycle);
    assert_eq!(e.message, "local.a refers to itself");

    let e = err("job \"x\" {\n  meta { a = local.nope }\n}\n");
    assert_eq!(e.kind, ParseErrorKind::Reference);
    assert_eq!(e.message, "local.nope is not defined in a locals block");

    let deep = format!(
        "job \"x\" {{\n  meta = {}1{}\n}}\n",
        "[".repeat(1_000_000),
        "]".repeat(1_000_000)
    );
    let e = err(&deep);
    assert_eq!(e.kind, ParseErrorKind::Limit(Limit::Nesting));
    assert_eq!(e.line, Some(2));
    let deep = format!(
        "job \"x\" {{\n{}{}}}\n",
        "a {\n".repeat(1_000_000),
        "}\n".repeat(1_000_000)
    );
    assert_eq!(err(&deep).kind, ParseErrorKind::Limit(Limit::Nesting));
    let deep = format!(
        "job \"x\" {{\n  meta = {{ a = {}1 }}\n}}\n",
        "-".repeat(1_000_000)
    );
    assert_eq!(err(&deep).kind, ParseErrorKind::Limit(Limit::Nesting));

    let e = err("job \"x\" {\n  meta { a = 1 +\n 2 }\n}\n");
    assert_eq!(e.kind, ParseErrorKind::Invalid);
    assert_eq!(e.line, Some(2));
}

#[test]
fn limits_are_configurable_and_typed() {
    let text = "locals {\n  xs = [for i in range(100) : [for j in range(100) : \"${i}-${j}\"]]\n}\njob \"x\" {}\n";
    parse(text);
    let small = HclOptions::new().limits(HclLimits {
        max_steps: 500,
        ..HclLimits::default()
    });
    let e = err_with(text, &small);
    assert_eq!(e.kind, ParseErrorKind::Limit(Limit::Steps));
    assert_eq!(e.path.as_deref(), Some("locals.xs"));
    let small = HclOptions::new().limits(HclLimits {
        max_value_bytes: 1000,
        ..HclLimits::default()
    });
    assert_eq!(
        err_with(text, &small).kind,
        ParseErrorKind::Limit(Limit::ValueSize)
    );
    let small = HclOptions::new().limits(HclLimits {
        max_total_bytes: 10_000,
        ..HclLimits::default()
    });
    assert_eq!(
        err_with(text, &small).kind,
        ParseErrorKind::Limit(Limit::TotalBytes)
    );
}
