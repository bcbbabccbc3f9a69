//! The C ABI returns exactly what the core renders. Each test calls the exported functions
//! from Rust, compares the result with the core's own rendering, and keeps it as a golden file
//! under `tests/golden/` that the C test (`tests/c/test_ffi.c`) and the Go tests compare
//! against byte for byte. `UPDATE_GOLDEN=1` rewrites the golden files.
#![allow(clippy::unwrap_used)]

use istio_nomad_core::nomad::Job;
use istio_nomad_core::plan::plan;
use istio_nomad_core::spec::MeshSpec;
use istio_nomad_ffi::error::{istio_nomad_error_free, istio_nomad_error_json};
use istio_nomad_ffi::iptables::*;
use istio_nomad_ffi::job::{istio_nomad_job_convert, istio_nomad_job_validate};
use istio_nomad_ffi::plan::istio_nomad_plan;
use istio_nomad_ffi::sidecar::{istio_nomad_sidecar_inject, istio_nomad_sidecar_remove};
use istio_nomad_ffi::string::{
    istio_nomad_string_data, istio_nomad_string_free, istio_nomad_string_len,
};
use istio_nomad_ffi::verify::istio_nomad_verify;
use istio_nomad_ffi::{
    IstioNomadError, IstioNomadResult, IstioNomadString, ISTIO_NOMAD_FORMAT_AUTO,
    ISTIO_NOMAD_FORMAT_HCL, ISTIO_NOMAD_FORMAT_JSON,
};
use pretty_assertions::assert_eq;
use serde_json::Value;
use std::ffi::CStr;
use std::path::{Path, PathBuf};
use std::ptr;

fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn bookinfo_hcl() -> String {
    std::fs::read_to_string(crate_dir().join("../examples/bookinfo.mesh.hcl")).unwrap()
}

fn golden(name: &str, actual: &str) {
    let path: PathBuf = crate_dir().join("tests/golden").join(name);
    if std::env::var("UPDATE_GOLDEN").as_deref() == Ok("1") {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "golden file {} missing ({e}); run with UPDATE_GOLDEN=1",
            path.display()
        )
    });
    assert_eq!(
        expected,
        actual,
        "{} differs; UPDATE_GOLDEN=1 rewrites it",
        path.display()
    );
}

/// Calls an exported function that fills an `IstioNomadString`, returning the text or the
/// code and the error document.
fn call(
    f: impl FnOnce(*mut *mut IstioNomadString, *mut *mut IstioNomadError) -> IstioNomadResult,
) -> Result<String, (IstioNomadResult, Value)> {
    let mut out: *mut IstioNomadString = ptr::null_mut();
    let mut err: *mut IstioNomadError = ptr::null_mut();
    let rc = f(&mut out, &mut err);
    if rc != IstioNomadResult::ISTIO_NOMAD_OK {
        assert!(out.is_null());
        let doc = unsafe { CStr::from_ptr(istio_nomad_error_json(err)) };
        let doc: Value = serde_json::from_str(doc.to_str().unwrap()).unwrap();
        unsafe { istio_nomad_error_free(&mut err) };
        return Err((rc, doc));
    }
    assert!(err.is_null());
    let bytes = unsafe {
        std::slice::from_raw_parts(
            istio_nomad_string_data(out).cast::<u8>(),
            istio_nomad_string_len(out),
        )
    };
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    unsafe { istio_nomad_string_free(&mut out) };
    assert!(out.is_null());
    Ok(text)
}

fn plan_via_ffi(spec: &str, format: u32) -> Result<String, (IstioNomadResult, Value)> {
    call(|out, err| unsafe { istio_nomad_plan(spec.as_ptr(), spec.len(), format, out, err) })
}

fn verify_via_ffi(spec: &str, format: u32) -> Result<String, (IstioNomadResult, Value)> {
    call(|out, err| unsafe { istio_nomad_verify(spec.as_ptr(), spec.len(), format, out, err) })
}

#[test]
fn bookinfo_verify_document_matches_the_core_report() {
    let spec = bookinfo_hcl();
    let text = verify_via_ffi(&spec, ISTIO_NOMAD_FORMAT_HCL).unwrap();
    let plan =
        istio_nomad_core::plan::plan_unverified(&MeshSpec::from_hcl(&spec).unwrap()).unwrap();
    let report = istio_nomad_core::plan::verify::verify(&plan);
    assert_eq!(text, report.to_json().unwrap() + "\n");
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["mode"], "predicted");
    assert!(doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["severity"] == "warning"));
    golden("bookinfo.verify.json", &text);

    // Istio 1.3 dials ADS at the discovery address as given, and 15007 is Pilot's HTTP port:
    // the check runs and reports it; plan refuses.
    let wrong = spec.replace(
        "istio_version = \"1.0.0\"",
        "istio_version = \"1.3.8\"\n  sidecar {\n    pilot_address = \"bookinfo-pilot.service.consul:15007\"\n  }",
    );
    let doc: Value =
        serde_json::from_str(&verify_via_ffi(&wrong, ISTIO_NOMAD_FORMAT_AUTO).unwrap()).unwrap();
    assert_eq!(doc["findings"][0]["kind"], "ads-port");
    assert_eq!(doc["findings"][0]["severity"], "error");
    let (rc, err) = plan_via_ffi(&wrong, ISTIO_NOMAD_FORMAT_HCL).unwrap_err();
    assert_eq!(rc, IstioNomadResult::ISTIO_NOMAD_VALIDATION);
    assert_eq!(
        err["fields"][0]["path"],
        "job[details].group[details].task[istio-proxy].config.args"
    );
    // A release without the Consul registry is refused by both, naming the field.
    let old = spec.replace("istio_version = \"1.0.0\"", "istio_version = \"1.8.0\"");
    let (rc, err) = verify_via_ffi(&old, ISTIO_NOMAD_FORMAT_HCL).unwrap_err();
    assert_eq!(rc, IstioNomadResult::ISTIO_NOMAD_VALIDATION);
    assert_eq!(err["fields"][0]["path"], "mesh.istio_version");
    assert_eq!(err["fields"][0]["value"], "1.8.0");
    // Unreadable input fails like plan.
    let (rc, _) = verify_via_ffi("mesh {", ISTIO_NOMAD_FORMAT_HCL).unwrap_err();
    assert_eq!(rc, IstioNomadResult::ISTIO_NOMAD_PARSE);
}

fn convert_via_ffi(job: &str, from: u32, to: u32) -> Result<String, (IstioNomadResult, Value)> {
    call(|out, err| unsafe { istio_nomad_job_convert(job.as_ptr(), job.len(), from, to, out, err) })
}

#[test]
fn bookinfo_plan_document_matches_the_core_rendering() {
    let spec = bookinfo_hcl();
    let text = plan_via_ffi(&spec, ISTIO_NOMAD_FORMAT_HCL).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();

    let plan = plan(&MeshSpec::from_hcl(&spec).unwrap()).unwrap();
    assert_eq!(doc["mesh"], "bookinfo");
    assert_eq!(doc["spec_hash"], plan.spec_hash.as_str());
    assert_eq!(
        doc["order"],
        serde_json::to_value(plan.order().unwrap()).unwrap()
    );
    let jobs = doc["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), plan.jobs.len());
    for (d, pj) in jobs.iter().zip(&plan.jobs) {
        assert_eq!(d["id"], pj.job.id());
        assert_eq!(d["role"], serde_json::to_value(pj.role).unwrap());
        assert_eq!(
            d["depends_on"],
            serde_json::to_value(&pj.depends_on).unwrap()
        );
        assert_eq!(d["hcl"].as_str().unwrap(), pj.job.to_hcl().unwrap());
        assert_eq!(d["json"], pj.job.to_json_value().unwrap());
    }
    assert_eq!(
        doc["iptables"],
        serde_json::to_value(&plan.iptables).unwrap()
    );
    assert_eq!(
        doc["vm_bundles"],
        serde_json::to_value(&plan.vm_bundles).unwrap()
    );
    golden("bookinfo.plan.json", &text);

    // The same mesh as a JSON spec plans to the same document (AUTO detects JSON).
    let json_spec = serde_json::to_string_pretty(
        &serde_json::json!({ "mesh": MeshSpec::from_hcl(&spec).unwrap().to_value() }),
    )
    .unwrap()
        + "\n";
    golden("bookinfo.mesh.json", &json_spec);
    assert_eq!(
        plan_via_ffi(&json_spec, ISTIO_NOMAD_FORMAT_AUTO).unwrap(),
        text
    );
}

#[test]
fn job_conversions_match_the_core_rendering() {
    let json = std::fs::read_to_string(crate_dir().join("tests/data/web.job.json")).unwrap();
    let job = Job::from_json(&json).unwrap();

    let hcl = convert_via_ffi(&json, ISTIO_NOMAD_FORMAT_JSON, ISTIO_NOMAD_FORMAT_HCL).unwrap();
    assert_eq!(hcl, job.to_hcl().unwrap());
    golden("web.job.hcl", &hcl);

    let register =
        convert_via_ffi(&json, ISTIO_NOMAD_FORMAT_AUTO, ISTIO_NOMAD_FORMAT_JSON).unwrap();
    assert_eq!(register, job.to_register_json().unwrap() + "\n");
    golden("web.job.register.json", &register);

    // HCL back to JSON gives the same job.
    let back = convert_via_ffi(&hcl, ISTIO_NOMAD_FORMAT_AUTO, ISTIO_NOMAD_FORMAT_JSON).unwrap();
    assert_eq!(back, register);
}

#[test]
fn an_invalid_job_lists_every_problem_with_its_path() {
    let text =
        std::fs::read_to_string(crate_dir().join("tests/data/web-invalid.job.json")).unwrap();
    let mut err: *mut IstioNomadError = ptr::null_mut();
    let rc = unsafe {
        istio_nomad_job_validate(text.as_ptr(), text.len(), ISTIO_NOMAD_FORMAT_JSON, &mut err)
    };
    assert_eq!(rc, IstioNomadResult::ISTIO_NOMAD_VALIDATION);
    let doc = unsafe { CStr::from_ptr(istio_nomad_error_json(err)) }
        .to_str()
        .unwrap()
        .to_string();
    unsafe { istio_nomad_error_free(&mut err) };
    let core = Job::from_json(&text).unwrap().validate().unwrap_err();
    let paths: Vec<&str> = core
        .field_errors()
        .iter()
        .map(|f| f.path.as_str())
        .collect();
    assert!(paths.contains(&"job[web].priority"), "{paths:?}");
    assert!(paths.contains(&"job[web].group[api].count"), "{paths:?}");
    golden("web-invalid.error.json", &(doc + "\n"));
}

#[test]
fn a_bad_spec_names_the_field_and_the_line() {
    let spec = bookinfo_hcl().replacen("port = 9080", "port = 70000", 1);
    let (rc, doc) = plan_via_ffi(&spec, ISTIO_NOMAD_FORMAT_HCL).unwrap_err();
    assert_eq!(rc, IstioNomadResult::ISTIO_NOMAD_VALIDATION);
    let core = MeshSpec::from_hcl(&spec).unwrap_err();
    assert_eq!(doc["message"], core.to_string());
    assert_eq!(
        doc["fields"][0]["path"],
        core.field_errors()[0].path.as_str()
    );
    assert_eq!(doc["fields"][0]["value"], "70000");
    golden(
        "bookinfo-bad-port.error.json",
        &(serde_json::to_string(&doc).unwrap() + "\n"),
    );
}

fn iptables_via_ffi(config: &str, kind: u32) -> Result<String, (IstioNomadResult, Value)> {
    call(|out, err| unsafe {
        istio_nomad_iptables_render(config.as_ptr(), config.len(), kind, out, err)
    })
}

#[test]
fn iptables_renderings_match_the_core() {
    use istio_nomad_core::iptables::{Family, InterceptConfig, IptablesPlan};
    let text = std::fs::read_to_string(crate_dir().join("tests/data/intercept.json")).unwrap();
    let config: InterceptConfig = serde_json::from_str(&text).unwrap();
    let plan = IptablesPlan::new(&config).unwrap();
    let expect = [
        (
            ISTIO_NOMAD_IPTABLES_RESTORE,
            plan.render_restore(Family::V4),
        ),
        (
            ISTIO_NOMAD_IPTABLES_RESTORE_V6,
            plan.render_restore(Family::V6),
        ),
        (ISTIO_NOMAD_IPTABLES_SHELL, plan.render_shell()),
        (
            ISTIO_NOMAD_IPTABLES_CLEANUP,
            plan.render_cleanup_restore(Family::V4),
        ),
        (
            ISTIO_NOMAD_IPTABLES_CLEANUP_V6,
            plan.render_cleanup_restore(Family::V6),
        ),
        (
            ISTIO_NOMAD_IPTABLES_CLEANUP_SHELL,
            plan.render_cleanup_shell(),
        ),
    ];
    for (kind, want) in &expect {
        assert!(!want.is_empty(), "kind {kind}");
        assert_eq!(
            &iptables_via_ffi(&text, *kind).unwrap(),
            want,
            "kind {kind}"
        );
    }
    let all = iptables_via_ffi(&text, ISTIO_NOMAD_IPTABLES_ALL).unwrap();
    let doc: Value = serde_json::from_str(&all).unwrap();
    assert_eq!(doc["restore"]["ipv4"], expect[0].1.as_str());
    assert_eq!(doc["restore"]["ipv6"], expect[1].1.as_str());
    assert_eq!(doc["shell"], expect[2].1.as_str());
    assert_eq!(doc["cleanup"]["ipv4"], expect[3].1.as_str());
    assert_eq!(doc["cleanup"]["ipv6"], expect[4].1.as_str());
    assert_eq!(doc["cleanup_shell"], expect[5].1.as_str());
    assert_eq!(
        doc["ip_commands"],
        serde_json::to_value(plan.rules_file().ip_commands).unwrap()
    );
    assert!(
        !doc["ip_commands"].as_array().unwrap().is_empty(),
        "TPROXY routes expected"
    );
    golden("intercept.iptables.json", &all);
    golden("intercept.restore.rules", &expect[0].1);

    // Istio's defaults from `{}`; IPv6 off gives a null IPv6 restore in the document.
    let defaults = IptablesPlan::new(&InterceptConfig::default()).unwrap();
    assert_eq!(
        iptables_via_ffi("{}", ISTIO_NOMAD_IPTABLES_RESTORE).unwrap(),
        defaults.render_restore(Family::V4)
    );
    let doc: Value = serde_json::from_str(&iptables_via_ffi("{}", 0).unwrap()).unwrap();
    assert_eq!(doc["restore"]["ipv6"], Value::Null);
}

#[test]
fn bad_intercept_configs_name_the_setting() {
    let text =
        std::fs::read_to_string(crate_dir().join("tests/data/intercept-invalid.json")).unwrap();
    let (rc, doc) = iptables_via_ffi(&text, ISTIO_NOMAD_IPTABLES_SHELL).unwrap_err();
    assert_eq!(rc, IstioNomadResult::ISTIO_NOMAD_VALIDATION, "{doc}");
    let config: istio_nomad_core::iptables::InterceptConfig = serde_json::from_str(&text).unwrap();
    let core = istio_nomad_core::iptables::IptablesPlan::new(&config).unwrap_err();
    assert_eq!(doc["message"], core.to_string());
    golden(
        "intercept-invalid.error.json",
        &(serde_json::to_string(&doc).unwrap() + "\n"),
    );

    // A wrong type: a parse error with the JSON path and line.
    let (rc, doc) = iptables_via_ffi("{\n  \"proxy_port\": \"x\"\n}", 1).unwrap_err();
    assert_eq!(rc, IstioNomadResult::ISTIO_NOMAD_PARSE);
    assert_eq!(doc["fields"][0]["path"], "config.proxy_port");
    assert_eq!(doc["line"], 2);
    // An unknown key and an unknown kind.
    let (rc, _) = iptables_via_ffi("{\"proxy_prot\": 1}", 1).unwrap_err();
    assert_eq!(rc, IstioNomadResult::ISTIO_NOMAD_PARSE);
    let (rc, doc) = iptables_via_ffi("{}", 7).unwrap_err();
    assert_eq!(rc, IstioNomadResult::ISTIO_NOMAD_INVALID_ARGUMENT);
    assert_eq!(doc["fields"][0]["path"], "kind");
}

fn inject_via_ffi(job: &str, options: &str, to: u32) -> Result<String, (IstioNomadResult, Value)> {
    call(|out, err| unsafe {
        istio_nomad_sidecar_inject(
            job.as_ptr(),
            job.len(),
            ISTIO_NOMAD_FORMAT_AUTO,
            options.as_ptr(),
            options.len(),
            to,
            out,
            err,
        )
    })
}

fn remove_via_ffi(job: &str, to: u32) -> Result<String, (IstioNomadResult, Value)> {
    call(|out, err| unsafe {
        istio_nomad_sidecar_remove(
            job.as_ptr(),
            job.len(),
            ISTIO_NOMAD_FORMAT_AUTO,
            to,
            out,
            err,
        )
    })
}

#[test]
fn sidecar_injection_matches_the_core_and_is_reversible() {
    use istio_nomad_core::plan::sidecar::{inject, SidecarOptions, SidecarSpec};
    let json = std::fs::read_to_string(crate_dir().join("tests/data/web.job.json")).unwrap();
    let options =
        std::fs::read_to_string(crate_dir().join("tests/data/sidecar-options.json")).unwrap();
    let job = Job::from_json(&json).unwrap();
    // The same options built with the core's builder.
    let opts_value: Value = serde_json::from_str(&options).unwrap();
    let mut opts = SidecarOptions::new("bookinfo")
        .istio_version("1.0.3")
        .version("v1")
        .protocol("http");
    opts.spec = serde_json::from_value::<SidecarSpec>(opts_value["sidecar"].clone()).unwrap();
    let opts = opts.build().unwrap();
    let meshed = inject(&job, &opts).unwrap();

    let hcl = inject_via_ffi(&json, &options, ISTIO_NOMAD_FORMAT_HCL).unwrap();
    assert_eq!(hcl, meshed.to_hcl().unwrap());
    assert!(hcl.contains("task \"istio-proxy\""), "{hcl}");
    golden("web.injected.hcl", &hcl);
    let injected_json = inject_via_ffi(&json, &options, ISTIO_NOMAD_FORMAT_JSON).unwrap();
    assert_eq!(injected_json, meshed.to_register_json().unwrap() + "\n");

    // Injecting twice equals once; removal restores the original job exactly, from either form.
    assert_eq!(
        inject_via_ffi(&hcl, &options, ISTIO_NOMAD_FORMAT_HCL).unwrap(),
        hcl
    );
    let original = job.to_register_json().unwrap() + "\n";
    assert_eq!(
        remove_via_ffi(&injected_json, ISTIO_NOMAD_FORMAT_JSON).unwrap(),
        original
    );
    assert_eq!(
        remove_via_ffi(&hcl, ISTIO_NOMAD_FORMAT_JSON).unwrap(),
        original
    );
}

#[test]
fn bad_sidecar_options_name_every_setting() {
    let json = std::fs::read_to_string(crate_dir().join("tests/data/web.job.json")).unwrap();
    let bad = std::fs::read_to_string(crate_dir().join("tests/data/sidecar-options-invalid.json"))
        .unwrap();
    let (rc, doc) = inject_via_ffi(&json, &bad, ISTIO_NOMAD_FORMAT_HCL).unwrap_err();
    assert_eq!(rc, IstioNomadResult::ISTIO_NOMAD_VALIDATION, "{doc}");
    assert!(doc["fields"].as_array().unwrap().len() >= 2, "{doc}");
    golden(
        "sidecar-options-invalid.error.json",
        &(serde_json::to_string(&doc).unwrap() + "\n"),
    );

    let (rc, doc) = inject_via_ffi(&json, "{\"mesh\": \"m\", \"sidecra\": {}}", 1).unwrap_err();
    assert_eq!(rc, IstioNomadResult::ISTIO_NOMAD_PARSE);
    assert!(
        doc["message"].as_str().unwrap().contains("sidecra"),
        "{doc}"
    );
    let (rc, doc) = inject_via_ffi(&json, "{}", 1).unwrap_err();
    assert_eq!(rc, IstioNomadResult::ISTIO_NOMAD_PARSE);
    assert!(doc["message"].as_str().unwrap().contains("mesh"), "{doc}");
    let (rc, doc) = inject_via_ffi(&json, "{\"mesh\": \"m\"}", 0).unwrap_err();
    assert_eq!(rc, IstioNomadResult::ISTIO_NOMAD_INVALID_ARGUMENT);
    assert_eq!(doc["fields"][0]["path"], "out_format");
}
