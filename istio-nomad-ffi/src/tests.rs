//! Boundary tests run from Rust: panics, NULL arguments, bad UTF-8, ownership.
#![allow(clippy::unwrap_used)]

use crate::error::*;
use crate::format::*;
use crate::job::*;
use crate::plan::*;
use crate::string::*;
use crate::*;
use std::ffi::CStr;
use std::ptr;

use IstioNomadResult::*;

const JOB_JSON: &str = r#"{"ID": "web", "Datacenters": ["dc1"], "TaskGroups": [{"Name": "api", "Count": 2,
  "Tasks": [{"Name": "app", "Driver": "docker", "Config": {"image": "nginx:1.27"}}]}]}"#;

fn last_json() -> serde_json::Value {
    let p = istio_nomad_last_error_json();
    serde_json::from_str(unsafe { CStr::from_ptr(p) }.to_str().unwrap()).unwrap()
}

fn err_json(e: *const IstioNomadError) -> serde_json::Value {
    let p = unsafe { istio_nomad_error_json(e) };
    serde_json::from_str(unsafe { CStr::from_ptr(p) }.to_str().unwrap()).unwrap()
}

/// Every exported function, with valid arguments, under the forced panic: each must return
/// `ISTIO_NOMAD_PANIC` (or its documented fallback) and record the panic as the last error.
#[test]
fn a_panic_in_any_exported_function_is_returned_as_the_panic_code() {
    let job = JOB_JSON.as_bytes();
    let mut s: *mut IstioNomadString = ptr::null_mut();
    let mut e: *mut IstioNomadError = ptr::null_mut();
    // Real handles to pass to the accessors, made before the hook is switched on.
    let mut held: *mut IstioNomadString = ptr::null_mut();
    let rc = unsafe {
        istio_nomad_job_convert(job.as_ptr(), job.len(), 2, 2, &mut held, ptr::null_mut())
    };
    assert_eq!(rc, ISTIO_NOMAD_OK);
    let mut held_err: *mut IstioNomadError = ptr::null_mut();
    let rc = unsafe { istio_nomad_job_validate(ptr::null(), 3, 2, &mut held_err) };
    assert_eq!(rc, ISTIO_NOMAD_NULL_ARGUMENT);

    let sp: *mut *mut IstioNomadString = &mut s;
    let ep: *mut *mut IstioNomadError = &mut e;
    set_force_panic(true);
    type Op<'a> = (&'a str, Box<dyn Fn() -> IstioNomadResult + 'a>);
    let ops: Vec<Op> = vec![
        (
            "plan",
            Box::new(|| unsafe { istio_nomad_plan(job.as_ptr(), job.len(), 0, sp, ep) }),
        ),
        (
            "job_convert",
            Box::new(|| unsafe { istio_nomad_job_convert(job.as_ptr(), job.len(), 2, 1, sp, ep) }),
        ),
        (
            "iptables_render",
            Box::new(|| unsafe {
                crate::iptables::istio_nomad_iptables_render(b"{}".as_ptr(), 2, 0, sp, ep)
            }),
        ),
        (
            "sidecar_inject",
            Box::new(|| unsafe {
                crate::sidecar::istio_nomad_sidecar_inject(
                    job.as_ptr(),
                    job.len(),
                    0,
                    b"{}".as_ptr(),
                    2,
                    1,
                    sp,
                    ep,
                )
            }),
        ),
        (
            "sidecar_remove",
            Box::new(|| unsafe {
                crate::sidecar::istio_nomad_sidecar_remove(job.as_ptr(), job.len(), 0, 1, sp, ep)
            }),
        ),
        (
            "cluster_in_memory",
            Box::new(|| unsafe {
                crate::install::istio_nomad_cluster_in_memory(ptr::null_mut(), ep)
            }),
        ),
        (
            "diff",
            Box::new(|| unsafe {
                crate::install::istio_nomad_diff(
                    ptr::null(),
                    job.as_ptr(),
                    job.len(),
                    0,
                    None,
                    ptr::null_mut(),
                    sp,
                    ep,
                )
            }),
        ),
        (
            "job_validate",
            Box::new(|| unsafe { istio_nomad_job_validate(job.as_ptr(), job.len(), 2, ep) }),
        ),
    ];
    for (name, op) in &ops {
        let rc = op();
        assert_eq!(rc, ISTIO_NOMAD_PANIC, "{name}");
        assert_eq!(istio_nomad_last_error_code(), ISTIO_NOMAD_PANIC, "{name}");
        assert!(last_json()["message"]
            .as_str()
            .unwrap()
            .contains("istio_nomad_test_force_panic"));
        set_force_panic(false);
        assert_eq!(
            unsafe { istio_nomad_error_code(*ep) },
            ISTIO_NOMAD_PANIC,
            "{name}"
        );
        assert!(unsafe { *sp }.is_null(), "{name}");
        unsafe { istio_nomad_error_free(ep) };
        set_force_panic(true);
    }
    // Accessors and frees: documented fallbacks, the panic recorded as the last error.
    let checks: Vec<(&str, bool)> = vec![
        ("version", istio_nomad_version().is_null()),
        (
            "string_data",
            unsafe { istio_nomad_string_data(held) }.is_null(),
        ),
        ("string_len", unsafe { istio_nomad_string_len(held) } == 0),
        (
            "error_code",
            unsafe { istio_nomad_error_code(held_err) } == ISTIO_NOMAD_PANIC,
        ),
        (
            "error_message",
            unsafe { istio_nomad_error_message(held_err) }.is_null(),
        ),
        (
            "error_json",
            unsafe { istio_nomad_error_json(held_err) }.is_null(),
        ),
    ];
    for (name, ok) in checks {
        assert!(ok, "{name}");
        assert_eq!(istio_nomad_last_error_code(), ISTIO_NOMAD_PANIC, "{name}");
    }
    let mut h2 = held;
    unsafe { istio_nomad_string_free(&mut h2) };
    assert_eq!(istio_nomad_last_error_code(), ISTIO_NOMAD_PANIC);
    let mut e2 = held_err;
    unsafe { istio_nomad_error_free(&mut e2) };
    assert_eq!(istio_nomad_last_error_code(), ISTIO_NOMAD_PANIC);
    set_force_panic(false);

    drop(ops);
    assert!(s.is_null() && e.is_null());
    unsafe { istio_nomad_string_free(&mut held) };
    unsafe { istio_nomad_error_free(&mut held_err) };
    assert!(held.is_null() && held_err.is_null() && e.is_null());
}

#[test]
fn null_pointers_are_reported_by_parameter_name() {
    let mut s: *mut IstioNomadString = ptr::null_mut();
    let mut e: *mut IstioNomadError = ptr::null_mut();
    let rc = unsafe { istio_nomad_plan(ptr::null(), 10, 0, &mut s, &mut e) };
    assert_eq!(rc, ISTIO_NOMAD_NULL_ARGUMENT);
    assert_eq!(err_json(e)["fields"][0]["path"], "spec");
    assert_eq!(last_json()["name"], "NULL_ARGUMENT");
    unsafe { istio_nomad_error_free(&mut e) };
    let rc = unsafe { istio_nomad_plan(b"x".as_ptr(), 1, 0, ptr::null_mut(), &mut e) };
    assert_eq!(rc, ISTIO_NOMAD_NULL_ARGUMENT);
    assert_eq!(err_json(e)["fields"][0]["path"], "out");
    unsafe { istio_nomad_error_free(&mut e) };
    // NULL error slot: the code and the last error still tell.
    let rc = unsafe { istio_nomad_job_validate(ptr::null(), 1, 0, ptr::null_mut()) };
    assert_eq!(rc, ISTIO_NOMAD_NULL_ARGUMENT);
    assert_eq!(last_json()["fields"][0]["path"], "job");
    assert_eq!(
        unsafe { istio_nomad_error_code(ptr::null()) },
        ISTIO_NOMAD_NULL_ARGUMENT
    );
    assert!(unsafe { istio_nomad_error_message(ptr::null()) }.is_null());
    assert!(unsafe { istio_nomad_string_data(ptr::null()) }.is_null());
    assert_eq!(unsafe { istio_nomad_string_len(ptr::null()) }, 0);
    unsafe { istio_nomad_string_free(ptr::null_mut()) };
    unsafe { istio_nomad_error_free(ptr::null_mut()) };
}

#[test]
fn invalid_utf8_names_the_offset() {
    let mut s: *mut IstioNomadString = ptr::null_mut();
    let bytes = b"job \"a\xff\" {}";
    let rc = unsafe {
        istio_nomad_job_convert(bytes.as_ptr(), bytes.len(), 0, 2, &mut s, ptr::null_mut())
    };
    assert_eq!(rc, ISTIO_NOMAD_INVALID_UTF8);
    assert!(s.is_null());
    let msg = unsafe { CStr::from_ptr(istio_nomad_last_error_message()) };
    assert_eq!(
        msg.to_str().unwrap(),
        "job: is not valid UTF-8 (invalid byte at offset 6)"
    );
}

#[test]
fn a_success_clears_the_last_error_and_free_nulls_the_pointer() {
    let rc = unsafe { istio_nomad_job_validate(ptr::null(), 1, 0, ptr::null_mut()) };
    assert_eq!(rc, ISTIO_NOMAD_NULL_ARGUMENT);
    let job = JOB_JSON.as_bytes();
    let rc = unsafe { istio_nomad_job_validate(job.as_ptr(), job.len(), 0, ptr::null_mut()) };
    assert_eq!(rc, ISTIO_NOMAD_OK);
    assert_eq!(istio_nomad_last_error_code(), ISTIO_NOMAD_OK);
    assert_eq!(
        unsafe { CStr::from_ptr(istio_nomad_last_error_message()) }.to_bytes(),
        b""
    );

    let mut s: *mut IstioNomadString = ptr::null_mut();
    let rc = unsafe {
        istio_nomad_job_convert(
            job.as_ptr(),
            job.len(),
            0,
            ISTIO_NOMAD_FORMAT_JSON,
            &mut s,
            ptr::null_mut(),
        )
    };
    assert_eq!(rc, ISTIO_NOMAD_OK);
    let text = unsafe { CStr::from_ptr(istio_nomad_string_data(s)) }
        .to_str()
        .unwrap();
    assert_eq!(text.len(), unsafe { istio_nomad_string_len(s) });
    let expected = istio_nomad_core::nomad::Job::from_json(JOB_JSON)
        .unwrap()
        .to_register_json()
        .unwrap()
        + "\n";
    assert_eq!(text, expected);
    unsafe { istio_nomad_string_free(&mut s) };
    assert!(s.is_null());
    unsafe { istio_nomad_string_free(&mut s) }; // second free: no-op
}

#[test]
fn validation_errors_carry_every_field_path_and_value() {
    let bad = r#"{"ID": "web", "Datacenters": ["dc1"], "Priority": 500, "TaskGroups": [{"Name": "api", "Count": -1,
      "Tasks": [{"Name": "app", "Driver": "docker"}]}]}"#;
    let mut e: *mut IstioNomadError = ptr::null_mut();
    let rc = unsafe {
        istio_nomad_job_validate(bad.as_ptr(), bad.len(), ISTIO_NOMAD_FORMAT_JSON, &mut e)
    };
    assert_eq!(rc, ISTIO_NOMAD_VALIDATION);
    let doc = err_json(e);
    let core = istio_nomad_core::nomad::Job::from_json(bad)
        .unwrap()
        .validate()
        .unwrap_err();
    let expected: Vec<serde_json::Value> = core
        .field_errors()
        .iter()
        .map(|f| serde_json::json!({"path": f.path, "message": f.message, "value": f.value}))
        .collect();
    assert!(expected.len() >= 2, "{expected:?}");
    assert_eq!(doc["fields"], serde_json::Value::Array(expected));
    assert_eq!(doc["code"], 2);
    assert_eq!(doc["family"], "validation");
    assert_eq!(doc["message"], core.to_string());
    unsafe { istio_nomad_error_free(&mut e) };
}

#[test]
fn unknown_formats_are_invalid_arguments() {
    let job = JOB_JSON.as_bytes();
    let mut s: *mut IstioNomadString = ptr::null_mut();
    let rc = unsafe {
        istio_nomad_job_convert(
            job.as_ptr(),
            job.len(),
            0,
            ISTIO_NOMAD_FORMAT_AUTO,
            &mut s,
            ptr::null_mut(),
        )
    };
    assert_eq!(rc, ISTIO_NOMAD_INVALID_ARGUMENT);
    assert_eq!(last_json()["fields"][0]["path"], "to_format");
    let rc = unsafe { istio_nomad_plan(job.as_ptr(), job.len(), 7, &mut s, ptr::null_mut()) };
    assert_eq!(rc, ISTIO_NOMAD_INVALID_ARGUMENT);
    assert_eq!(last_json()["fields"][0]["path"], "format");
}

#[test]
fn interior_nul_in_messages_is_escaped() {
    let c = c_string_lossy("a\0b".to_string());
    assert_eq!(c.to_bytes(), b"a\\0b");
    let s = IstioNomadString::new("x\0y".into());
    assert_eq!(unsafe { istio_nomad_string_len(&s) }, 3);
}

#[test]
fn version_is_the_crate_version() {
    let v = unsafe { CStr::from_ptr(istio_nomad_version()) };
    assert_eq!(v.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
}

#[test]
fn format_detection() {
    assert_eq!(DocFormat::detect("  \n{\"mesh\": {}}"), DocFormat::Json);
    assert_eq!(DocFormat::detect("# c\nmesh \"a\" {}"), DocFormat::Hcl);
    let _ = plan_document; // the plan path is tested end to end in tests/plan.rs
}

#[test]
fn every_core_kind_has_its_own_code_and_document() {
    use istio_nomad_core::error::install::InstallError;
    use istio_nomad_core::{ConflictError, Error as Core, ErrorKind};
    let install = Core::Install(InstallError::DeploymentFailed {
        job: "reviews".into(),
        deployment_id: "d1".into(),
        status: "failed".into(),
        description: "Failed due to unhealthy allocations".into(),
    });
    let conflict = Core::Conflict(ConflictError::StateChanged {
        key: "istio-nomad/m/jobs/reviews".into(),
        expected: 3,
        found: 5,
    });
    let encode = Core::Encode {
        what: "state record",
        source: serde_json::from_str::<serde_json::Value>("{").unwrap_err(),
    };
    let cases = [
        (install, ISTIO_NOMAD_INSTALL, "INSTALL", ErrorKind::Install),
        (
            conflict,
            ISTIO_NOMAD_CONFLICT,
            "CONFLICT",
            ErrorKind::Conflict,
        ),
        (encode, ISTIO_NOMAD_ENCODE, "ENCODE", ErrorKind::Encode),
    ];
    for (core, code, name, kind) in cases {
        let message = core.to_string();
        let e = IstioNomadError::from(core);
        assert_eq!(e.code(), code);
        let doc: serde_json::Value = serde_json::from_str(e.json().to_str().unwrap()).unwrap();
        assert_eq!(doc["code"], code as u32);
        assert_eq!(doc["name"], name);
        assert_eq!(doc["family"], kind.as_str());
        assert_eq!(doc["message"], message.as_str());
    }
    let e = IstioNomadError::from(Core::Conflict(ConflictError::LockHeld {
        mesh: "m".into(),
        holder: Some("alice@ops".into()),
    }));
    let doc: serde_json::Value = serde_json::from_str(e.json().to_str().unwrap()).unwrap();
    assert_eq!(doc["kind"], "lock_held");
    assert_eq!(doc["message"], "conflict: mesh m is locked by alice@ops");
}
